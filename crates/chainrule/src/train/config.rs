//! The settings of a training run: the loss, the optimizer and the loop's numbers.

use std::fmt;
use std::str::FromStr;

use super::TrainError;
use crate::data::Targets;
use crate::optim::{Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, Sgd, SgdConfig};

/// The loss a network is trained with, which also says how its outputs are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// Classes: one logit per class, [`cross_entropy`](crate::nn::cross_entropy); the prediction is the largest logit.
    CrossEntropy,
    /// Two classes with one logit, [`binary_cross_entropy_with_logits`](crate::nn::binary_cross_entropy_with_logits); class 1 when the
    /// logit is positive.
    BinaryCrossEntropy,
    /// Regression with one output, [`mse_loss`](crate::nn::mse_loss).
    Mse,
}

impl LossKind {
    /// The loss that fits a network with `outputs` outputs and these targets: cross-entropy when
    /// there is an output per class, binary cross-entropy for one output and two classes, the
    /// mean squared error for one output and numeric targets.
    ///
    /// ```
    /// use chainrule::train::LossKind;
    ///
    /// let moons = chainrule::data::moons(10, 0.1, 0);
    /// assert_eq!(LossKind::for_outputs(2, &moons.targets), Ok(LossKind::CrossEntropy));
    /// assert_eq!(LossKind::for_outputs(1, &moons.targets), Ok(LossKind::BinaryCrossEntropy));
    /// assert!(LossKind::for_outputs(3, &moons.targets).is_err());
    /// ```
    pub fn for_outputs(outputs: usize, targets: &Targets) -> Result<Self, TrainError> {
        match targets {
            Targets::Classes { n_classes, .. } if outputs == *n_classes => {
                Ok(LossKind::CrossEntropy)
            }
            Targets::Classes { n_classes: 2, .. } if outputs == 1 => {
                Ok(LossKind::BinaryCrossEntropy)
            }
            Targets::Classes { n_classes, .. } => Err(TrainError(format!(
                "the network has {outputs} outputs but the data has {n_classes} classes: the \
                 last width must be {n_classes}{}",
                if *n_classes == 2 { " (or 1)" } else { "" }
            ))),
            Targets::Values(_) if outputs == 1 => Ok(LossKind::Mse),
            Targets::Values(_) => Err(TrainError(format!(
                "the network has {outputs} outputs but the data has one numeric target: the last \
                 width must be 1"
            ))),
        }
    }

    /// The name stored in model files: `cross_entropy`, `binary_cross_entropy`, `mse`.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::CrossEntropy => "cross_entropy",
            LossKind::BinaryCrossEntropy => "binary_cross_entropy",
            LossKind::Mse => "mse",
        }
    }

    /// Whether the outputs are classes (so accuracy means something).
    pub fn is_classification(self) -> bool {
        !matches!(self, LossKind::Mse)
    }
}

impl FromStr for LossKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [
            LossKind::CrossEntropy,
            LossKind::BinaryCrossEntropy,
            LossKind::Mse,
        ]
        .into_iter()
        .find(|l| l.name() == s)
        .ok_or_else(|| format!("unknown loss '{s}'"))
    }
}

/// The optimizers the training loop can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// [`Sgd`], with optional momentum.
    Sgd,
    /// [`Adam`].
    Adam,
    /// [`AdamW`].
    AdamW,
}

impl OptimizerKind {
    /// The name, as [`Optimizer::name`]: `sgd`, `adam`, `adamw`.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            _ => Err(format!(
                "unknown optimizer '{s}' (choose sgd, adam or adamw)"
            )),
        }
    }
}

/// An optimizer and its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimizerSpec {
    /// Which optimizer.
    pub kind: OptimizerKind,
    /// The learning rate.
    pub lr: f64,
    /// SGD's momentum (ignored by Adam and AdamW).
    pub momentum: f64,
    /// The weight decay (L2 for SGD and Adam, decoupled for AdamW); `None` for the optimizer's
    /// default (0, or 0.01 for AdamW).
    pub weight_decay: Option<f64>,
}

impl OptimizerSpec {
    /// `kind` with learning rate `lr` and the other settings at their defaults.
    pub fn new(kind: OptimizerKind, lr: f64) -> Self {
        OptimizerSpec {
            kind,
            lr,
            momentum: 0.0,
            weight_decay: None,
        }
    }

    /// The optimizer, or an error naming the setting out of range.
    pub fn build(&self) -> Result<Box<dyn Optimizer<f32>>, TrainError> {
        Ok(match self.kind {
            OptimizerKind::Sgd => {
                let c = SgdConfig::new(self.lr)
                    .momentum(self.momentum)
                    .weight_decay(self.weight_decay.unwrap_or(0.0));
                Box::new(Sgd::try_new(c)?)
            }
            OptimizerKind::Adam => {
                let c = AdamConfig::new(self.lr).weight_decay(self.weight_decay.unwrap_or(0.0));
                Box::new(Adam::try_new(c)?)
            }
            OptimizerKind::AdamW => {
                let mut c = AdamWConfig::new(self.lr);
                if let Some(wd) = self.weight_decay {
                    c = c.weight_decay(wd);
                }
                Box::new(AdamW::try_new(c)?)
            }
        })
    }
}

/// The settings of a training run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// The number of passes over the training data.
    pub epochs: usize,
    /// The number of samples per step.
    pub batch_size: usize,
    /// The seed of the initial weights, the shuffling and dropout.
    pub seed: u64,
    /// The optimizer.
    pub optimizer: OptimizerSpec,
}
