//! Training on the real Fashion-MNIST, as Debian's `dataset-fashion-mnist` installs it.
//!
//! The test runs when the four files are in `/usr/share/datasets/fashion-mnist` (or in the
//! folder `CHAINRULE_FASHION_DIR` names) and is skipped, saying so, when they are not, unless
//! `CHAINRULE_REQUIRE_FASHION=1` (as CI sets it): then a missing file fails it.

use std::path::PathBuf;
use std::time::Instant;

use chainrule::data::{open_parts, OpenOptions, Targets, FASHION_MNIST_DIR};
use chainrule::nn::MlpSpec;
use chainrule::train::{
    prepare_with, LossKind, OptimizerKind, OptimizerSpec, Scaling, TrainConfig, Trainer,
};

/// The folder of the files, or `None` (after saying why) when the test is to be skipped.
fn folder() -> Option<PathBuf> {
    let dir = std::env::var_os("CHAINRULE_FASHION_DIR")
        .map_or_else(|| PathBuf::from(FASHION_MNIST_DIR), PathBuf::from);
    let required = std::env::var("CHAINRULE_REQUIRE_FASHION").is_ok_and(|v| v == "1");
    let files = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    match files.iter().find(|f| !dir.join(f).is_file()) {
        None => Some(dir),
        Some(missing) => {
            let why = format!(
                "{} is missing (apt-get install dataset-fashion-mnist)",
                dir.join(missing).display()
            );
            assert!(!required, "CHAINRULE_REQUIRE_FASHION=1 but {why}");
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[test]
fn an_mlp_learns_the_real_fashion_mnist() {
    let Some(dir) = folder() else { return };
    let start = Instant::now();
    let options = OpenOptions {
        data_dir: Some(dir),
        ..Default::default()
    };
    let opened = open_parts("fashion-mnist", &options).unwrap();
    let (train, test) = (&opened.data, opened.test.as_ref().unwrap());
    // What the files are known to hold: 60,000 and 10,000 images of 28×28, 6,000 and 1,000 of
    // each of the 10 classes, the first labels of each part as the dataset's own readers print
    // them.
    assert_eq!((train.n_samples, test.n_samples), (60_000, 10_000));
    assert_eq!((train.n_features, test.n_features), (784, 784));
    assert_eq!(train.class_counts(), vec![6_000; 10]);
    assert_eq!(test.class_counts(), vec![1_000; 10]);
    let labels = |d: &chainrule::data::Dataset| match &d.targets {
        Targets::Classes { labels, .. } => labels[..10].to_vec(),
        Targets::Values(_) => panic!("classes expected"),
    };
    assert_eq!(labels(train), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(labels(test), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    assert_eq!(train.class_names()[9], "Ankle boot");
    // The first image's bytes add up to 76,247; the loader scales them by 1/255.
    let sum: f64 = train.row(0).iter().map(|&v| f64::from(v) * 255.0).sum();
    assert!((sum - 76_247.0).abs() < 0.05, "{sum}");

    // One epoch of a small perceptron on the 60,000 training images, tested on the official
    // 10,000: far above chance (0.1), near what longer runs of perceptrons get (0.88-0.89).
    let prepared = prepare_with(train, Some(test), 0.0, 0, Scaling::PerFeature).unwrap();
    let spec: MlpSpec = "784-64-10".parse().unwrap();
    let config = TrainConfig {
        epochs: 1,
        batch_size: 64,
        seed: 0,
        optimizer: OptimizerSpec::new(OptimizerKind::Adam, 1e-3),
    };
    let mut trainer = Trainer::new(spec, LossKind::CrossEntropy, config).unwrap();
    let history = trainer
        .fit(&prepared.train, Some(&prepared.test), &mut |_| {})
        .unwrap();
    let accuracy = history[0].test_accuracy.unwrap();
    assert!(accuracy > 0.8, "test accuracy {accuracy}");
    assert!(history[0].train_loss < 0.7, "{history:?}");
    eprintln!(
        "fashion-mnist: test accuracy {accuracy:.4} after one epoch, {:.1} s in all",
        start.elapsed().as_secs_f64()
    );
}
