//! The gradient norms the trainer records are the norms of the gradients the optimizer uses.

use chainrule::nn::{MlpSpec, Module};
use chainrule::train::{prepare, LossKind, OptimizerKind, OptimizerSpec, TrainConfig, Trainer};

/// With plain SGD and one step per epoch, a weight moves by exactly `lr` times its gradient, so
/// the norm of the change divided by `lr` is the gradient norm the trainer must have recorded.
#[test]
fn recorded_norms_match_the_sgd_update() {
    let data = prepare(&chainrule::data::iris(), 0.0, 0, true).unwrap();
    let spec: MlpSpec = "4-8-8-3".parse().unwrap();
    let lr = 0.05;
    let config = TrainConfig {
        epochs: 2,
        batch_size: data.train.n_samples,
        seed: 3,
        optimizer: OptimizerSpec::new(OptimizerKind::Sgd, lr),
    };
    let mut trainer = Trainer::new(spec, LossKind::CrossEntropy, config).unwrap();
    let weights = |t: &Trainer| -> Vec<Vec<f32>> {
        t.net
            .model
            .named_parameters()
            .into_iter()
            .filter(|(n, _)| n.ends_with(".weight"))
            .map(|(_, a)| a.data().to_vec())
            .collect()
    };
    for epoch in 0..2 {
        let before = weights(&trainer);
        trainer.train_epoch(&data.train, None, &mut |_| {}).unwrap();
        let after = weights(&trainer);
        let recorded = &trainer.grad_flow().per_epoch[epoch];
        assert_eq!(recorded.len(), 3);
        for ((b, a), &norm) in before.iter().zip(&after).zip(recorded) {
            let moved: f64 = b
                .iter()
                .zip(a)
                .map(|(x, y)| f64::from(x - y).powi(2))
                .sum::<f64>()
                .sqrt();
            let expected = moved / lr;
            assert!(
                (expected - norm).abs() <= 1e-3 * norm + 1e-6,
                "epoch {epoch}: recorded {norm}, the update says {expected}"
            );
        }
    }
    assert_eq!(trainer.grad_flow().epochs, [1, 2]);
    assert_eq!(
        trainer.grad_flow().layers,
        ["0.weight", "2.weight", "4.weight"]
    );
}
