//! The demonstration behind `chainrule demo deep`: four networks of the same depth trained on
//! the same data (plain sigmoid, plain ReLU, ReLU with batch normalisation, ReLU with residual
//! connections) and how big the gradient of each layer is.
//!
//! Backpropagation multiplies, layer after layer, the local derivatives of the activations. The
//! sigmoid's derivative `σ'(x) = σ(x)(1 − σ(x))` is at most 1/4 (at `x = 0`), so every sigmoid
//! layer between a weight and the loss can shrink that weight's gradient four times or more:
//! through nine of them, the first layer's gradient is a small fraction of the last one's.
//! ReLU's derivative is 1 wherever the unit is active, so only the weights change the size of
//! the gradient on its way back, and it shrinks far less, but it still shrinks (or grows)
//! by the scale of each weight matrix.
//!
//! The two fixes every deep network uses act on that remaining factor:
//!
//! - **Batch normalisation** ([`BatchNorm1d`]) rescales each layer's pre-activations to mean 0
//!   and variance 1 over the batch. A layer's output no longer depends on the scale of its
//!   weights, and neither does the gradient that flows back through it, so the gradient keeps
//!   its size from layer to layer.
//! - **Residual connections** ([`Residual`]) compute `y = x + f(x)`: the sum's local derivative
//!   with respect to `x` is the identity, so the gradient reaches the block's input unchanged,
//!   plus what flows through `f`.
//!
//! ```
//! use chainrule::deep::{run, DeepConfig, DeepNet};
//!
//! let config = DeepConfig { epochs: 1, ..DeepConfig::default() };
//! let sigmoid = run(&config, DeepNet::Sigmoid).unwrap();
//! let relu = run(&config, DeepNet::Relu).unwrap();
//! let residual = run(&config, DeepNet::Residual).unwrap();
//! assert_eq!(sigmoid.flow.layers.len(), 10);
//! assert_eq!(residual.flow.layers.len(), 10);
//! // The gradient vanishes on its way to the input with sigmoid, not with ReLU.
//! assert!(sigmoid.flow.first_to_last(0).unwrap() < 1e-3);
//! assert!(relu.flow.first_to_last(0).unwrap() > 1e-2);
//! // The identity path of the residual blocks carries it back whole.
//! assert!(residual.flow.first_to_last(0).unwrap() > 0.1);
//! ```

use std::fmt;

use crate::data::{self, Dataset};
use crate::nn::{Activation, BatchNorm1d, Linear, MlpSpec, Module, ReLU, Residual, Sequential};
use crate::train::{
    prepare, EpochMetrics, GradFlow, LossKind, OptimizerKind, OptimizerSpec, TrainConfig,
    TrainError, Trainer,
};
use crate::util::rand::Rng;

/// The largest value of the sigmoid's derivative, `σ'(0) = 1/4`.
pub const SIGMOID_SLOPE_BOUND: f64 = 0.25;

/// The network and training of the demonstration.
#[derive(Clone, Debug, PartialEq)]
pub struct DeepConfig {
    /// The number of `Linear` layers.
    pub depth: usize,
    /// The width of every hidden layer.
    pub width: usize,
    /// The number of epochs.
    pub epochs: usize,
    /// The samples per step.
    pub batch_size: usize,
    /// The optimizer.
    pub optimizer: OptimizerSpec,
    /// The seed of the split, the weights and the shuffling.
    pub seed: u64,
}

impl Default for DeepConfig {
    /// Ten layers of width 32 on the digits, ten epochs of Adam with learning rate 0.003 and
    /// batches of 32, seed 0.
    fn default() -> Self {
        DeepConfig {
            depth: 10,
            width: 32,
            epochs: 10,
            batch_size: 32,
            optimizer: OptimizerSpec::new(OptimizerKind::Adam, 0.003),
            seed: 0,
        }
    }
}

/// The four networks of the demonstration. All have [`DeepConfig::depth`] `Linear` layers of
/// the same sizes, drawn from the same seed in the same order, so they start from the same
/// weights and differ only by what lies between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeepNet {
    /// `Linear → Sigmoid` between layers.
    Sigmoid,
    /// `Linear → ReLU` between layers.
    Relu,
    /// `Linear → BatchNorm1d → ReLU` between layers.
    BatchNorm,
    /// A first `Linear → ReLU` to the hidden width, then `Residual(Linear → ReLU)` blocks,
    /// `y = x + relu(W·x + b)`, then the output layer.
    Residual,
}

impl DeepNet {
    /// The four, in the order the demonstration shows them.
    pub const ALL: [DeepNet; 4] = [
        DeepNet::Sigmoid,
        DeepNet::Relu,
        DeepNet::BatchNorm,
        DeepNet::Residual,
    ];

    /// A short name: `sigmoid`, `relu`, `batch_norm`, `residual` (the keys of the JSON output).
    pub fn key(self) -> &'static str {
        match self {
            DeepNet::Sigmoid => "sigmoid",
            DeepNet::Relu => "relu",
            DeepNet::BatchNorm => "batch_norm",
            DeepNet::Residual => "residual",
        }
    }

    /// A title for tables and pictures: `sigmoid`, `ReLU`, `ReLU + batch norm`, `ReLU +
    /// residual`.
    pub fn title(self) -> &'static str {
        match self {
            DeepNet::Sigmoid => "sigmoid",
            DeepNet::Relu => "ReLU",
            DeepNet::BatchNorm => "ReLU + batch norm",
            DeepNet::Residual => "ReLU + residual",
        }
    }

    /// What lies between two `Linear` layers, in PyTorch's terms.
    pub fn between(self) -> &'static str {
        match self {
            DeepNet::Sigmoid => "Sigmoid",
            DeepNet::Relu => "ReLU",
            DeepNet::BatchNorm => "BatchNorm1d, ReLU",
            DeepNet::Residual => "ReLU; blocks y = x + relu(W·x + b)",
        }
    }

    /// The network of the `Linear` layers `sizes` (from the inputs to the outputs), with
    /// weights drawn from `seed` (PyTorch's default initialisations).
    pub fn build(self, sizes: &MlpSpec, seed: u64) -> Sequential {
        let sizes = &sizes.sizes;
        match self {
            DeepNet::Sigmoid | DeepNet::Relu => {
                let spec = MlpSpec {
                    sizes: sizes.clone(),
                    activation: if self == DeepNet::Sigmoid {
                        Activation::Sigmoid
                    } else {
                        Activation::Relu
                    },
                    dropout: 0.0,
                };
                spec.build(seed)
            }
            DeepNet::BatchNorm => {
                let mut rng = Rng::new(seed);
                let mut net = Sequential::new();
                let n = sizes.len() - 1;
                for (i, w) in sizes.windows(2).enumerate() {
                    net.push(Box::new(Linear::new(w[0], w[1], &mut rng)));
                    if i + 1 < n {
                        net.push(Box::new(BatchNorm1d::new(w[1])));
                        net.push(Box::new(ReLU));
                    }
                }
                net
            }
            DeepNet::Residual => {
                let mut rng = Rng::new(seed);
                let mut net = Sequential::new();
                let n = sizes.len() - 1;
                for (i, w) in sizes.windows(2).enumerate() {
                    let linear = Linear::new(w[0], w[1], &mut rng);
                    if i == 0 || i + 1 == n || w[0] != w[1] {
                        net.push(Box::new(linear));
                        if i + 1 < n {
                            net.push(Box::new(ReLU));
                        }
                    } else {
                        let block = Sequential::new().with(linear).with(ReLU);
                        net.push(Box::new(Residual::new(block)));
                    }
                }
                net
            }
        }
    }
}

impl fmt::Display for DeepNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

impl DeepConfig {
    /// The sizes of the `Linear` layers for data of `inputs` features and `outputs` classes:
    /// `inputs`, [`DeepConfig::width`] `depth − 1` times, `outputs`.
    pub fn sizes(&self, inputs: usize, outputs: usize) -> Result<MlpSpec, TrainError> {
        if self.depth < 2 {
            return Err(TrainError::invalid(
                "a deep network needs at least 2 layers",
            ));
        }
        let mut sizes = vec![inputs];
        sizes.extend(std::iter::repeat_n(self.width, self.depth - 1));
        sizes.push(outputs);
        Ok(MlpSpec::new(sizes)?)
    }
}

/// One network of the demonstration after training.
#[derive(Clone, Debug)]
pub struct DeepRun {
    /// Which network.
    pub net: DeepNet,
    /// The sizes of its `Linear` layers, as `64-32-...-10`.
    pub sizes: MlpSpec,
    /// The network's layers, as PyTorch prints a `Sequential`.
    pub layers: String,
    /// The gradient norm of each `Linear` layer's weights per epoch, from the first layer to
    /// the last.
    pub flow: GradFlow,
    /// The metrics of each epoch.
    pub history: Vec<EpochMetrics>,
}

impl DeepRun {
    /// The test accuracy after the last epoch.
    pub fn test_accuracy(&self) -> Option<f64> {
        self.history.last().and_then(|m| m.test_accuracy)
    }

    /// The gradient norm of the first layer's weights divided by the last layer's, over the
    /// steps of the first epoch: far below 1 when the gradient vanishes on its way back.
    pub fn first_to_last(&self) -> Option<f64> {
        self.flow.first_to_last(0)
    }

    /// The mean factor by which going back one layer divides the gradient in the first epoch,
    /// `(last / first)^(1 / (layers − 1))`: 1 when the gradient keeps its size.
    pub fn shrink_per_layer(&self) -> Option<f64> {
        let n = self.flow.layers.len();
        self.first_to_last()
            .filter(|q| *q > 0.0 && q.is_finite() && n > 1)
            .map(|q| q.powf(-1.0 / (n - 1) as f64))
    }
}

/// The data of the demonstration: the digits (8×8 images, 10 classes).
pub fn dataset() -> Dataset {
    data::digits()
}

/// Trains the network `net` of `config` on the digits (80% for training, 20% for testing,
/// standardised) and returns its gradient flow and metrics.
pub fn run(config: &DeepConfig, net: DeepNet) -> Result<DeepRun, TrainError> {
    let data = dataset();
    let sizes = config.sizes(data.n_features, data.n_classes())?;
    let prepared = prepare(&data, 0.2, config.seed, true)?;
    let train = TrainConfig {
        epochs: config.epochs,
        batch_size: config.batch_size,
        seed: config.seed,
        optimizer: config.optimizer,
    };
    // The trainer takes its inputs and outputs from the spec, which all four networks share;
    // the layers between are the network's own.
    let mut trainer = Trainer::new(sizes.clone(), LossKind::CrossEntropy, train)?;
    let mut model = net.build(&sizes, config.seed);
    model.set_training(false);
    let layers = model.describe();
    trainer.net.model = model;
    let history = trainer.fit(&prepared.train, Some(&prepared.test), &mut |_| {})?;
    Ok(DeepRun {
        net,
        sizes,
        layers,
        flow: trainer.grad_flow().clone(),
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_networks_share_their_linear_layers() {
        let sizes = DeepConfig::default().sizes(64, 10).unwrap();
        let weights = |net: DeepNet| -> Vec<Vec<f32>> {
            net.build(&sizes, 7)
                .named_parameters()
                .into_iter()
                .filter(|(_, a)| a.shape().len() == 2)
                .map(|(_, a)| a.data().to_vec())
                .collect()
        };
        let plain = weights(DeepNet::Sigmoid);
        assert_eq!(plain.len(), 10);
        for net in DeepNet::ALL {
            assert_eq!(weights(net), plain, "{net}");
        }
        let names: Vec<String> = DeepNet::Residual
            .build(&sizes, 7)
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names[0], "0.weight");
        assert_eq!(names[2], "2.0.weight", "the first block");
        assert_eq!(names.last().unwrap(), "10.bias");
        let bn = DeepNet::BatchNorm.build(&sizes, 7);
        assert_eq!(bn.len(), 9 * 3 + 1);
        assert!(
            bn.describe().contains("BatchNorm1d(32"),
            "{}",
            bn.describe()
        );
    }
}
