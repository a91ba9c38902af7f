//! Training convolutional networks: the loop with batch normalisation, the learning-rate
//! schedule, the gradient flow through convolutions, and checkpoints that resume bit for bit.

use std::path::Path;

use chainrule::data::{self, ImageShape};
use chainrule::nn::{Activation, ConvSpec, Module};
use chainrule::optim::{Schedule, ScheduleKind};
use chainrule::train::{
    prepare_with, LossKind, Network, OptimizerKind, OptimizerSpec, Scaling, TrainConfig, Trainer,
};

fn small_cnn() -> ConvSpec {
    let layers = "c8bn-p2-c16-f32bn-d0.2-10".parse().unwrap();
    ConvSpec::new(ImageShape::new(1, 8, 8), layers, Activation::Relu).unwrap()
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 64,
        seed: 3,
        optimizer: OptimizerSpec::new(OptimizerKind::Adam, 3e-3),
    }
}

fn trainer(epochs: usize) -> Trainer {
    let mut t = Trainer::new(small_cnn(), LossKind::CrossEntropy, config(epochs)).unwrap();
    t.set_schedule(Schedule {
        kind: ScheduleKind::Cosine,
        warmup: 10,
    });
    t
}

fn digits() -> chainrule::train::Prepared {
    let image = ImageShape::new(1, 8, 8);
    prepare_with(&data::digits(), None, 0.2, 0, Scaling::PerChannel(image)).unwrap()
}

#[test]
fn a_small_cnn_learns_the_digits_and_its_gradient_reaches_the_convolutions() {
    let data = digits();
    let mut t = trainer(4);
    let history = t.fit(&data.train, Some(&data.test), &mut |_| {}).unwrap();
    let last = history.last().unwrap();
    assert!(last.test_accuracy.unwrap() > 0.93, "{last:?}");
    let flow = t.grad_flow();
    // Convolution kernels and linear weights, not the batch normalisations' scales.
    assert_eq!(
        flow.layers,
        ["0.weight", "4.weight", "7.weight", "11.weight"]
    );
    assert!(flow.per_epoch.iter().flatten().all(|&n| n > 0.0));
    // The running statistics moved from PyTorch's initial 0 and 1.
    let buffers = t.net.model.named_buffers();
    let mean = buffers.iter().find(|b| b.name == "1.running_mean").unwrap();
    assert!(mean.data.iter().any(|&m| m.abs() > 1e-3), "{mean:?}");
    let count = buffers
        .iter()
        .find(|b| b.name == "1.num_batches_tracked")
        .unwrap();
    assert_eq!(
        count.data,
        vec![(4 * data.train.n_samples.div_ceil(64)) as f32]
    );
}

#[test]
fn the_schedule_warms_up_then_anneals_step_by_step() {
    let data = digits();
    let mut t = trainer(2);
    let steps = data.train.n_samples.div_ceil(64) as u64;
    t.fit(&data.train, None, &mut |_| {}).unwrap();
    // After the last step, the rate is that of the last step of the cosine.
    let want = t.schedule().lr_at(3e-3, 2 * steps - 1, steps, 2);
    assert_eq!(t.optimizer().lr(), want);
    assert!(want < 1e-5, "{want}");
}

#[test]
fn a_resumed_cnn_run_ends_with_the_same_weights_and_statistics() {
    let data = digits();
    let mut whole = trainer(3);
    whole
        .fit(&data.train, Some(&data.test), &mut |_| {})
        .unwrap();

    let mut first = trainer(3);
    first
        .train_epoch(&data.train, Some(&data.test), &mut |_| {})
        .unwrap();
    let file = first.checkpoint();
    let mut resumed = trainer(3);
    resumed.resume(&file, Path::new("c")).unwrap();
    resumed
        .fit(&data.train, Some(&data.test), &mut |_| {})
        .unwrap();
    assert_eq!(resumed.net.model.state_dict(), whole.net.model.state_dict());
    let no_time = |t: &Trainer| -> Vec<_> {
        t.history()
            .iter()
            .map(|m| (m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy))
            .collect()
    };
    assert_eq!(no_time(&resumed), no_time(&whole));

    // Another schedule is refused.
    let mut other = Trainer::new(small_cnn(), LossKind::CrossEntropy, config(3)).unwrap();
    let err = other.resume(&file, Path::new("c")).unwrap_err().to_string();
    assert!(err.contains("--lr-schedule cosine, not none"), "{err}");
}

#[test]
fn a_cnn_model_file_reads_back_as_the_same_network() {
    let data = digits();
    let mut t = trainer(1);
    t.fit(&data.train, None, &mut |_| {}).unwrap();
    t.net.classes = data::digits().class_names().to_vec();
    t.net.standardizer = data.standardizer.clone();
    let file = t.net.to_file();
    assert_eq!(file.metadata["format"], "chainrule.convnet");
    assert_eq!(file.metadata["input_shape"], "1x8x8");
    assert_eq!(file.metadata["architecture"], "c8bn-p2-c16-f32bn-d0.2-10");
    let back = Network::from_file(&file, Path::new("m")).unwrap();
    assert_eq!(back.spec, t.net.spec);
    assert_eq!(
        back.predict_standardized(&data.test.features, 64).unwrap(),
        t.net.predict_standardized(&data.test.features, 64).unwrap()
    );
    // Layers that do not fit the recorded images are named.
    let mut bad = file.clone();
    bad.metadata.insert("input_shape".into(), "64x1x1".into());
    let err = Network::from_file(&bad, Path::new("m.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        err == "m.safetensors: metadata 'architecture' on 64x1x1 images: layer 2 of the network \
                (p2) does not fit: its window 2×2 is larger than its input 1×1 (8 channels of 1×1)",
        "{err}"
    );
}
