//! The demonstration behind `chainrule demo deep`: the same deep network trained with sigmoid
//! and with ReLU activations, and how big the gradient of each layer is.
//!
//! Backpropagation multiplies, layer after layer, the local derivatives of the activations. The
//! sigmoid's derivative `σ'(x) = σ(x)(1 − σ(x))` is at most 1/4 (at `x = 0`), so every sigmoid
//! layer between a weight and the loss can shrink that weight's gradient four times or more:
//! through nine of them, the first layer's gradient is a small fraction of the last one's.
//! ReLU's derivative is 1 wherever the unit is active, so only the weights change the size of
//! the gradient on its way back, and it shrinks far less.
//!
//! ```
//! use chainrule::deep::{run, DeepConfig};
//! use chainrule::nn::Activation;
//!
//! let config = DeepConfig { epochs: 1, ..DeepConfig::default() };
//! let sigmoid = run(&config, Activation::Sigmoid).unwrap();
//! let relu = run(&config, Activation::Relu).unwrap();
//! assert_eq!(sigmoid.flow.layers.len(), 10);
//! // The gradient vanishes on its way to the input with sigmoid, not with ReLU.
//! assert!(sigmoid.flow.first_to_last(0).unwrap() < 1e-3);
//! assert!(relu.flow.first_to_last(0).unwrap() > 1e-2);
//! ```

use crate::data::{self, Dataset};
use crate::nn::{Activation, MlpSpec};
use crate::train::{
    prepare, EpochMetrics, GradFlow, LossKind, OptimizerKind, OptimizerSpec, TrainConfig,
    TrainError, Trainer,
};

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

/// One network of the demonstration after training.
#[derive(Clone, Debug)]
pub struct DeepRun {
    /// The activation between layers.
    pub activation: Activation,
    /// The architecture.
    pub spec: MlpSpec,
    /// The gradient norm of each layer per epoch.
    pub flow: GradFlow,
    /// The metrics of each epoch.
    pub history: Vec<EpochMetrics>,
}

impl DeepRun {
    /// The test accuracy after the last epoch.
    pub fn test_accuracy(&self) -> Option<f64> {
        self.history.last().and_then(|m| m.test_accuracy)
    }
}

/// The data of the demonstration: the digits (8×8 images, 10 classes).
pub fn dataset() -> Dataset {
    data::digits()
}

/// Trains the network of `config` with `activation` on the digits (80% for training, 20% for
/// testing, standardised) and returns its gradient flow and metrics.
pub fn run(config: &DeepConfig, activation: Activation) -> Result<DeepRun, TrainError> {
    if config.depth < 2 {
        return Err(TrainError::invalid(
            "a deep network needs at least 2 layers",
        ));
    }
    let data = dataset();
    let prepared = prepare(&data, 0.2, config.seed, true)?;
    let mut sizes = vec![data.n_features];
    sizes.extend(std::iter::repeat_n(config.width, config.depth - 1));
    sizes.push(data.n_classes());
    let mut spec = MlpSpec::new(sizes)?;
    spec.activation = activation;
    let train = TrainConfig {
        epochs: config.epochs,
        batch_size: config.batch_size,
        seed: config.seed,
        optimizer: config.optimizer,
    };
    let mut trainer = Trainer::new(spec.clone(), LossKind::CrossEntropy, train)?;
    let history = trainer.fit(&prepared.train, Some(&prepared.test), &mut |_| {})?;
    Ok(DeepRun {
        activation,
        spec,
        flow: trainer.grad_flow().clone(),
        history,
    })
}
