//! The standard workloads behind `chainrule bench` and `cargo bench`.
//!
//! Each workload is one iteration of a fixed job (for example forward and backward through a
//! chain of a million scalar operations). [`measure`] runs it repeatedly and reports the median
//! time of one iteration, which is what `BENCHMARKS.md` records.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::scalar::graph::Graph;
use crate::tensor::{Array, Tape};

/// A named job that can be timed.
pub struct Workload {
    /// The name used on the command line (`scalar-chain-1m`).
    pub name: &'static str,
    /// What one iteration does.
    pub description: &'static str,
    /// Prepares the job and returns the closure that runs one iteration.
    pub setup: fn() -> Box<dyn FnMut()>,
}

/// The result of timing a workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// The workload's name.
    pub name: String,
    /// The median time of one iteration, in microseconds.
    pub median_us: f64,
    /// How many iterations were timed.
    pub iterations: usize,
}

/// Number of nodes in the `scalar-chain-1m` workload.
pub const CHAIN_NODES: usize = 1_000_000;

/// Forward and backward through a chain of `n` scalar nodes (`y = y·1.0001 + 0.0001`, repeated,
/// as PyTorch's scalar benchmark does); returns `dy/dx`.
pub fn scalar_chain(n: usize) -> f64 {
    scalar_chain_in(&mut Graph::with_capacity(n), n)
}

/// [`scalar_chain`] recorded in `g`, which is cleared first: a training loop reuses its graph's
/// memory this way from one step to the next.
pub fn scalar_chain_in(g: &mut Graph, n: usize) -> f64 {
    g.clear();
    let x = g.var(black_box(0.5));
    let mut y = x;
    for i in 1..n {
        y = if i % 2 == 1 { y * 1.0001 } else { y + 0.0001 };
    }
    g.grad(y, &[x])[0]
}

/// Number of elements in the `add-10m`, `mul-10m` and `tanh-10m` workloads.
pub const ELEMENTWISE_LEN: usize = 10_000_000;

/// A job that records one f32 tensor operation per iteration on a reused tape: `op` receives
/// the two inputs (already on the tape) and returns the result. Clearing the tape first returns
/// the previous result's buffer for reuse, as a training loop would.
fn tensor_job(
    a: Array<f32>,
    b: Array<f32>,
    op: fn(crate::tensor::Tensor<'_, f32>, crate::tensor::Tensor<'_, f32>) -> usize,
) -> Box<dyn FnMut()> {
    let mut tape = Tape::<f32>::new();
    Box::new(move || {
        tape.clear();
        let (x, y) = (tape.constant(a.clone()), tape.constant(b.clone()));
        black_box(op(x, y));
    })
}

/// One f32 `n × n` matrix product per iteration.
fn matmul_job(n: usize) -> Box<dyn FnMut()> {
    tensor_job(
        Array::randn(&[n, n], 1),
        Array::randn(&[n, n], 2),
        |a, b| a.matmul(b).expect("square matrices").id(),
    )
}

/// One training step of a ReLU MLP with plain SGD (lr 0.01) on fixed random data: the
/// `mlp-*` workloads, the same jobs as the peers' `jax_steps.py` and `torch_mlp.py`.
fn mlp_job(sizes: &[usize], batch: usize, classes: bool) -> Box<dyn FnMut()> {
    use crate::data::{Dataset, Targets};
    use crate::nn::MlpSpec;
    use crate::train::{LossKind, OptimizerKind, OptimizerSpec, TrainConfig, Trainer};
    use crate::util::rand::Rng;

    let (inputs, outputs) = (sizes[0], sizes[sizes.len() - 1]);
    let mut rng = Rng::new(0);
    let features: Vec<f32> = (0..batch * inputs).map(|_| rng.normal() as f32).collect();
    let (targets, loss) = if classes {
        let labels = (0..batch).map(|_| rng.below(outputs)).collect();
        let names = (0..outputs).map(|c| c.to_string()).collect();
        (
            Targets::Classes {
                labels,
                n_classes: outputs,
                names,
            },
            LossKind::CrossEntropy,
        )
    } else {
        let values = (0..batch * outputs).map(|_| rng.normal() as f32).collect();
        (Targets::Values(values), LossKind::Mse)
    };
    let data = Dataset::new(features, inputs, targets).expect("consistent sizes");
    let spec = MlpSpec::new(sizes.to_vec()).expect("a valid MLP");
    let config = TrainConfig {
        epochs: 1,
        batch_size: batch,
        seed: 0,
        optimizer: OptimizerSpec::new(OptimizerKind::Sgd, 0.01),
    };
    let mut trainer = Trainer::new(spec, loss, config).expect("a valid trainer");
    let indices: Vec<usize> = (0..batch).collect();
    Box::new(move || {
        black_box(
            trainer
                .train_step(&data, &indices)
                .expect("a training step"),
        );
    })
}

/// The convolutional network of the `cnn-fashion` workload, as `../shared/peers/torch_deep.py
/// cnn-fashion` builds it: conv 3×3 1→32 (padding 1), ReLU, max-pool 2, conv 3×3 32→64
/// (padding 1), ReLU, max-pool 2, flatten (3136), linear 128, ReLU, linear 10.
pub const CNN_FASHION: &str = "c32-p2-c64-p2-f128-10";

/// One SGD step (lr 0.01, cross-entropy) of [`CNN_FASHION`] on a fixed random batch of 128
/// images of 1×28×28, through the trainer's own step (the nn layers, the reused tape).
fn cnn_job() -> Box<dyn FnMut()> {
    use crate::data::{Dataset, ImageShape, Targets};
    use crate::nn::{Activation, ConvSpec};
    use crate::train::{LossKind, OptimizerKind, OptimizerSpec, TrainConfig, Trainer};
    use crate::util::rand::Rng;

    let (batch, image) = (128, ImageShape::new(1, 28, 28));
    let mut rng = Rng::new(0);
    let features: Vec<f32> = (0..batch * image.len())
        .map(|_| rng.normal() as f32)
        .collect();
    let targets = Targets::Classes {
        labels: (0..batch).map(|_| rng.below(10)).collect(),
        n_classes: 10,
        names: (0..10).map(|c| c.to_string()).collect(),
    };
    let data = Dataset::new(features, image.len(), targets)
        .and_then(|d| d.with_image(image))
        .expect("consistent sizes");
    let layers = CNN_FASHION.parse().expect("a valid spec");
    let spec = ConvSpec::new(image, layers, Activation::Relu).expect("a network for 28x28");
    let config = TrainConfig {
        epochs: 1,
        batch_size: batch,
        seed: 0,
        optimizer: OptimizerSpec::new(OptimizerKind::Sgd, 0.01),
    };
    let mut trainer = Trainer::new(spec, LossKind::CrossEntropy, config).expect("a trainer");
    let indices: Vec<usize> = (0..batch).collect();
    Box::new(move || {
        black_box(
            trainer
                .train_step(&data, &indices)
                .expect("a training step"),
        );
    })
}

/// One training step of nanoGPT's baby GPT (vocabulary 65, context 64, batch 12, 4 layers, 4
/// heads, 128 channels, no biases, tied embeddings) on a fixed random batch: forward, the loss
/// over every position, backward, clipping at norm 1 and AdamW with weight decay on the
/// matrices, through [`LmTrainer::train_step`](crate::train::LmTrainer::train_step), the step
/// the training loop takes; the same job as the peers' `torch_deep.py gpt-baby`.
fn gpt_job() -> Box<dyn FnMut()> {
    use crate::data::CharVocab;
    use crate::nn::GPT;
    use crate::train::{LmModel, LmSettings, LmTrainer};
    use crate::util::rand::Rng;

    let settings = LmSettings::baby();
    let chars: String = (0..65u8).map(|i| char::from(b'0' + i)).collect();
    let model = LmModel {
        gpt: GPT::new(settings.gpt_config(65), 0).expect("a valid configuration"),
        vocab: CharVocab::from_text(&chars),
    };
    let mut trainer = LmTrainer::with_model(model, settings).expect("valid settings");
    let mut rng = Rng::new(0);
    let n = 12 * 64;
    let x: Vec<usize> = (0..n).map(|_| rng.below(65)).collect();
    let y: Vec<usize> = (0..n).map(|_| rng.below(65)).collect();
    Box::new(move || {
        black_box(trainer.train_step(&x, &y).expect("a training step"));
    })
}

/// Every standard workload, in the order `chainrule bench` lists them.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "scalar-chain-1m",
            description: "forward and backward through a chain of 1,000,000 scalar operations",
            setup: || {
                let mut g = Graph::with_capacity(CHAIN_NODES);
                Box::new(move || {
                    black_box(scalar_chain_in(&mut g, CHAIN_NODES));
                })
            },
        },
        Workload {
            name: "matmul-256",
            description: "one f32 256x256 matrix product",
            setup: || matmul_job(256),
        },
        Workload {
            name: "matmul-512",
            description: "one f32 512x512 matrix product",
            setup: || matmul_job(512),
        },
        Workload {
            name: "matmul-1024",
            description: "one f32 1024x1024 matrix product",
            setup: || matmul_job(1024),
        },
        Workload {
            name: "matmul-2048",
            description: "one f32 2048x2048 matrix product",
            setup: || matmul_job(2048),
        },
        Workload {
            name: "add-10m",
            description: "element-wise sum of two f32 tensors of 10,000,000 elements",
            setup: || {
                tensor_job(
                    Array::rand(&[ELEMENTWISE_LEN], 1),
                    Array::rand(&[ELEMENTWISE_LEN], 2),
                    |a, b| (a + b).id(),
                )
            },
        },
        Workload {
            name: "mul-10m",
            description: "element-wise product of two f32 tensors of 10,000,000 elements",
            setup: || {
                tensor_job(
                    Array::rand(&[ELEMENTWISE_LEN], 1),
                    Array::rand(&[ELEMENTWISE_LEN], 2),
                    |a, b| (a * b).id(),
                )
            },
        },
        Workload {
            name: "tanh-10m",
            description: "element-wise tanh of an f32 tensor of 10,000,000 elements",
            setup: || {
                let a = Array::<f32>::randn(&[ELEMENTWISE_LEN], 1);
                tensor_job(a.clone(), a, |a, _| a.tanh().id())
            },
        },
        Workload {
            name: "mlp-tiny",
            description: "one SGD training step of a ReLU MLP 2-16-16-1, batch 100, MSE",
            setup: || mlp_job(&[2, 16, 16, 1], 100, false),
        },
        Workload {
            name: "mlp-small",
            description: "one SGD training step of a ReLU MLP 64-128-10, batch 128, cross-entropy",
            setup: || mlp_job(&[64, 128, 10], 128, true),
        },
        Workload {
            name: "mlp-mnist",
            description:
                "one SGD training step of a ReLU MLP 784-256-256-10, batch 128, cross-entropy",
            setup: || mlp_job(&[784, 256, 256, 10], 128, true),
        },
        Workload {
            name: "mlp-wide",
            description:
                "one SGD training step of a ReLU MLP 784-1024-1024-10, batch 256, cross-entropy",
            setup: || mlp_job(&[784, 1024, 1024, 10], 256, true),
        },
        Workload {
            name: "cnn-fashion",
            description: "one SGD training step of a CNN (conv 3x3 1-32, ReLU, max-pool 2, conv \
                          3x3 32-64, ReLU, max-pool 2, linear 3136-128, ReLU, linear 10), batch \
                          128 of 1x28x28, cross-entropy",
            setup: cnn_job,
        },
        Workload {
            name: "gpt-baby",
            description: "one AdamW training step of nanoGPT's baby GPT (4 layers, 4 heads, \
                          128 channels) on 12x64 random characters of 65, with clipping",
            setup: gpt_job,
        },
        Workload {
            name: "micrograd-moons",
            description: "one step of micrograd's moons demo: MLP 2-16-16-1 over 100 points, \
                          forward, backward and SGD update, on the scalar engine (~65,000 nodes)",
            setup: || {
                let mut demo = crate::lessons::micrograd::MoonsDemo::new(1337);
                Box::new(move || {
                    black_box(demo.step());
                })
            },
        },
    ]
}

/// Times `workload`: one warm-up iteration, then iterations until both `min_iterations` and
/// `min_time` are reached (at most 1,000), and the median of them.
pub fn measure(workload: &Workload, min_iterations: usize, min_time: Duration) -> Measurement {
    let mut run = (workload.setup)();
    run();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min_iterations.max(1) || (start.elapsed() < min_time && times.len() < 1000)
    {
        let t = Instant::now();
        run();
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    let mid = times.len() / 2;
    let median_us = if times.len() % 2 == 1 {
        times[mid]
    } else {
        (times[mid - 1] + times[mid]) / 2.0
    };
    Measurement {
        name: workload.name.to_string(),
        median_us,
        iterations: times.len(),
    }
}
