//! The training loop on the shipped datasets: accuracy, determinism and exact resumption.

use chainrule::data::{self, Dataset};
use chainrule::nn::{MlpSpec, Module};
use chainrule::train::{
    prepare, LossKind, OptimizerKind, OptimizerSpec, Prepared, TrainConfig, Trainer,
};

fn run(data: &Dataset, spec: &str, config: TrainConfig) -> (Trainer, Prepared) {
    let p = prepare(data, 0.2, config.seed, true).unwrap();
    let spec: MlpSpec = spec.parse().unwrap();
    let loss = LossKind::for_outputs(spec.outputs(), &data.targets).unwrap();
    let mut t = Trainer::new(spec, loss, config).unwrap();
    t.fit(&p.train, Some(&p.test), &mut |_| {}).unwrap();
    (t, p)
}

fn adam(lr: f64, epochs: usize, batch_size: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        seed: 0,
        optimizer: OptimizerSpec::new(OptimizerKind::Adam, lr),
    }
}

#[test]
fn digits_with_the_default_settings_reach_97_percent() {
    let (t, _) = run(&data::digits(), "64-128-10", adam(1e-3, 30, 64));
    let last = t.history().last().unwrap();
    eprintln!("digits: {last:?}");
    assert!(last.test_accuracy.unwrap() >= 0.97, "{last:?}");
}

#[test]
fn iris_reaches_95_percent() {
    let (t, _) = run(&data::iris(), "4-16-3", adam(0.01, 100, 16));
    let last = t.history().last().unwrap();
    eprintln!("iris: {last:?}");
    assert!(last.test_accuracy.unwrap() >= 0.95, "{last:?}");
}

#[test]
fn moons_are_learned_perfectly() {
    let (t, _) = run(&data::moons(200, 0.1, 0), "2-16-16-2", adam(0.01, 200, 32));
    let last = t.history().last().unwrap();
    eprintln!("moons: {last:?}");
    assert_eq!(last.train_accuracy, Some(1.0), "{last:?}");
    let (t, _) = run(&data::moons(200, 0.1, 0), "2-16-16-1", adam(0.01, 200, 32));
    assert_eq!(t.net.loss, LossKind::BinaryCrossEntropy);
    assert_eq!(t.history().last().unwrap().train_accuracy, Some(1.0));
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let mut spec: MlpSpec = "4-8-3".parse().unwrap();
    spec.dropout = 0.1;
    let go = || {
        let p = prepare(&data::iris(), 0.2, 5, true).unwrap();
        let mut t = Trainer::new(spec.clone(), LossKind::CrossEntropy, adam(0.01, 3, 16)).unwrap();
        t.fit(&p.train, Some(&p.test), &mut |_| {}).unwrap();
        t.net.model.state_dict()
    };
    assert_eq!(go(), go());
}

#[test]
fn a_resumed_run_ends_with_the_same_weights_bit_for_bit() {
    for kind in [
        OptimizerKind::Adam,
        OptimizerKind::Sgd,
        OptimizerKind::AdamW,
    ] {
        let mut spec: MlpSpec = "4-16-3".parse().unwrap();
        spec.dropout = 0.2;
        let mut opt = OptimizerSpec::new(kind, 0.01);
        if kind == OptimizerKind::Sgd {
            opt.momentum = 0.9;
        }
        let config = TrainConfig {
            epochs: 4,
            batch_size: 16,
            seed: 3,
            optimizer: opt,
        };
        let p = prepare(&data::iris(), 0.2, 3, true).unwrap();
        let mut straight = Trainer::new(spec.clone(), LossKind::CrossEntropy, config).unwrap();
        straight.fit(&p.train, Some(&p.test), &mut |_| {}).unwrap();

        let mut first = Trainer::new(
            spec.clone(),
            LossKind::CrossEntropy,
            TrainConfig {
                epochs: 2,
                ..config
            },
        )
        .unwrap();
        first.fit(&p.train, Some(&p.test), &mut |_| {}).unwrap();
        let bytes = first.checkpoint().to_bytes().unwrap();
        let path = std::path::Path::new("ckpt.safetensors");
        let file = chainrule::model_file::ModelFile::from_bytes(&bytes, path).unwrap();
        // The checkpoint tells what it was made with.
        let (read_spec, read_config) = Trainer::checkpoint_settings(&file, path).unwrap();
        assert_eq!(read_spec, chainrule::nn::ModelSpec::Mlp(spec.clone()));
        assert_eq!(
            read_config,
            TrainConfig {
                epochs: 2,
                ..config
            }
        );
        let mut resumed = Trainer::new(spec, LossKind::CrossEntropy, config).unwrap();
        resumed.resume(&file, path).unwrap();
        assert_eq!(resumed.epoch(), 2);
        resumed.fit(&p.train, Some(&p.test), &mut |_| {}).unwrap();
        assert_eq!(
            resumed.net.model.state_dict(),
            straight.net.model.state_dict(),
            "{kind:?}"
        );
        assert_eq!(resumed.optimizer().state(), straight.optimizer().state());
        assert_eq!(resumed.history().len(), 4);
    }
}
