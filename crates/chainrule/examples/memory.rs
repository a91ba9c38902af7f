//! Resident memory over a long training run: 10,000 SGD steps of the `mlp-small` network
//! (64-128-10, batch 128, cross-entropy), printing the current and peak resident set size
//! every 1,000 steps. Flat figures after warm-up mean the graph's arena and buffers are reused.
//!
//!     cargo run --release -p chainrule --example memory [STEPS]

use chainrule::data::{Dataset, Targets};
use chainrule::nn::MlpSpec;
use chainrule::rand::Rng;
use chainrule::train::{LossKind, OptimizerKind, OptimizerSpec, TrainConfig, Trainer};

/// (current, peak) resident set size in KiB, from /proc/self/status (Linux).
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let (batch, inputs, classes) = (128, 64, 10);
    let mut rng = Rng::new(0);
    let features = (0..batch * inputs).map(|_| rng.normal() as f32).collect();
    let labels = (0..batch).map(|_| rng.below(classes)).collect();
    let names = (0..classes).map(|c| c.to_string()).collect();
    let targets = Targets::Classes {
        labels,
        n_classes: classes,
        names,
    };
    let data = Dataset::new(features, inputs, targets).expect("consistent sizes");
    let config = TrainConfig {
        epochs: 1,
        batch_size: batch,
        seed: 0,
        optimizer: OptimizerSpec::new(OptimizerKind::Sgd, 0.01),
    };
    let spec = MlpSpec::new(vec![inputs, 128, classes]).expect("a valid MLP");
    let mut trainer = Trainer::new(spec, LossKind::CrossEntropy, config).expect("a trainer");
    let indices: Vec<usize> = (0..batch).collect();
    println!(
        "{:>6}  {:>10}  {:>10}  {:>8}",
        "step", "RSS KiB", "peak KiB", "loss"
    );
    for step in 1..=steps {
        let loss = trainer.train_step(&data, &indices).expect("a step");
        if step == 1 || step % 1000 == 0 {
            let (rss, peak) = rss_kib();
            println!("{step:>6}  {rss:>10}  {peak:>10}  {loss:>8.4}");
        }
    }
}
