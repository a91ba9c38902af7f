//! The settings of a training run: the loss, the loop's numbers ([`TrainConfig`]), and the
//! settings as a person gives them ([`RunSettings`]), each one optional, merged with a
//! checkpoint's on resuming and completed with the defaults that suit the data ([`RunPlan`]).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::TrainError;
use crate::data::{Dataset, Targets, TrainingDefaults};
use crate::nn::{Activation, MlpSpec};
use crate::optim::{OptimizerKind, OptimizerSpec};

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
            Targets::Classes { n_classes, .. } => Err(TrainError::invalid(format!(
                "the network has {outputs} outputs but the data has {n_classes} classes: the \
                 last width must be {n_classes}{}",
                if *n_classes == 2 { " (or 1)" } else { "" }
            ))),
            Targets::Values(_) if outputs == 1 => Ok(LossKind::Mse),
            Targets::Values(_) => Err(TrainError::invalid(format!(
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

/// A name that is not a [`LossKind`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownLoss {
    /// The name given.
    pub name: String,
}

impl fmt::Display for UnknownLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown loss '{}'", self.name)
    }
}

impl std::error::Error for UnknownLoss {}

impl FromStr for LossKind {
    type Err = UnknownLoss;

    fn from_str(s: &str) -> Result<Self, UnknownLoss> {
        [
            LossKind::CrossEntropy,
            LossKind::BinaryCrossEntropy,
            LossKind::Mse,
        ]
        .into_iter()
        .find(|l| l.name() == s)
        .ok_or_else(|| UnknownLoss {
            name: s.to_string(),
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

/// The settings of a run as a person gives them on the command line, each one optional: a
/// setting left out takes the checkpoint's value when resuming ([`RunSettings::resume_from`]),
/// else the default for the data ([`RunSettings::plan`]).
///
/// [`RunSettings::from_checkpoint`] reads back the settings a checkpoint was made with (there
/// `weight_decay: None` is the optimizer's default, since checkpoints always record it), and
/// [`RunPlan::record`] writes those the trainer's own checkpoint does not hold.
///
/// ```
/// use std::path::Path;
/// use chainrule::train::RunSettings;
///
/// let recorded = RunSettings { data: Some("iris".into()), seed: Some(0), ..Default::default() };
/// let given = RunSettings { seed: Some(3), ..Default::default() };
/// let err = given.resume_from(&recorded, Path::new("ckpt.safetensors")).unwrap_err();
/// assert!(err.to_string().starts_with(
///     "--seed 3, but the checkpoint ckpt.safetensors was made with --seed 0: leave --seed out"
/// ));
/// let plan = RunSettings::default()
///     .resume_from(&recorded, Path::new("ckpt.safetensors"))
///     .unwrap()
///     .plan(&chainrule::data::iris())
///     .unwrap();
/// assert_eq!((plan.data.as_str(), plan.spec.to_string()), ("iris", "4-16-3".to_string()));
/// assert_eq!(plan.config.epochs, 100);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSettings {
    /// The data: a shipped dataset's name or a file (default `digits`).
    pub data: Option<String>,
    /// The layer widths from inputs to outputs (default: the data's features, the data's hidden
    /// layers, its classes).
    pub model: Option<Vec<usize>>,
    /// The activation (default ReLU).
    pub activation: Option<Activation>,
    /// The dropout after each activation (default 0).
    pub dropout: Option<f64>,
    /// The optimizer (default Adam).
    pub optimizer: Option<OptimizerKind>,
    /// The learning rate (default the data's, or 0.1 for SGD).
    pub lr: Option<f64>,
    /// SGD's momentum (default the optimizer's: 0, or 0.9 for `momentum` and `nesterov`).
    pub momentum: Option<f64>,
    /// SGD's Nesterov momentum (default off, on for `nesterov`).
    pub nesterov: Option<bool>,
    /// The weight decay (default the optimizer's).
    pub weight_decay: Option<f64>,
    /// The epochs planned (default the data's).
    pub epochs: Option<usize>,
    /// The batch size (default the data's).
    pub batch: Option<usize>,
    /// The seed of the split, the weights, the shuffling, dropout and `moons` (default 0).
    pub seed: Option<u64>,
    /// The share held out for testing (default 0.2).
    pub test_fraction: Option<f64>,
    /// Whether the features are standardised (default yes).
    pub standardize: Option<bool>,
}

/// Layer widths as `--model` spells them: `4-16-3`.
fn widths(sizes: &[usize]) -> String {
    sizes
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

/// `given` if any, else `recorded`; a value given that differs from the checkpoint's is refused,
/// since the run would not continue the one that was saved. Values are compared as printed, the
/// way the message shows them.
fn agree<V: Clone + PartialEq>(
    flag: &str,
    given: &Option<V>,
    recorded: &Option<V>,
    show: impl Fn(&V) -> String,
    checkpoint: &Path,
) -> Result<Option<V>, TrainError> {
    match (given, recorded) {
        (Some(g), Some(r)) if g != r => Err(TrainError::Conflict {
            flag: flag.to_string(),
            given: show(g),
            recorded: show(r),
            checkpoint: checkpoint.to_path_buf(),
        }),
        (g, r) => Ok(g.clone().or_else(|| r.clone())),
    }
}

/// [`agree`] for the weight decay, where the checkpoint's `None` is the optimizer's default.
fn agree_decay(
    given: Option<f64>,
    recorded: Option<f64>,
    checkpoint: &Path,
) -> Result<Option<f64>, TrainError> {
    match given {
        Some(g) if Some(g) != recorded => Err(TrainError::Conflict {
            flag: "--weight-decay".into(),
            given: g.to_string(),
            recorded: recorded.map_or("default".to_string(), |w| w.to_string()),
            checkpoint: checkpoint.to_path_buf(),
        }),
        _ => Ok(given.or(recorded)),
    }
}

fn shown<V: fmt::Display>(v: &V) -> String {
    v.to_string()
}

impl RunSettings {
    /// These settings completed with those of the checkpoint at `checkpoint`, read by
    /// [`RunSettings::from_checkpoint`]: each one given must agree with the checkpoint's, except
    /// `epochs`, which may extend the run; standardised features cannot be turned off.
    pub fn resume_from(
        &self,
        recorded: &RunSettings,
        checkpoint: &Path,
    ) -> Result<RunSettings, TrainError> {
        let at = checkpoint;
        if let (Some(false), Some(true)) = (self.standardize, recorded.standardize) {
            return Err(TrainError::invalid(format!(
                "--no-standardize, but the checkpoint {} was made with standardised features: \
                 leave --no-standardize out to continue with the checkpoint's, or start a new run \
                 without --resume",
                checkpoint.display()
            )));
        }
        Ok(RunSettings {
            data: agree("--data", &self.data, &recorded.data, String::clone, at)?,
            activation: agree(
                "--activation",
                &self.activation,
                &recorded.activation,
                shown,
                at,
            )?,
            optimizer: agree(
                "--optimizer",
                &self.optimizer,
                &recorded.optimizer,
                shown,
                at,
            )?,
            dropout: agree("--dropout", &self.dropout, &recorded.dropout, shown, at)?,
            momentum: agree("--momentum", &self.momentum, &recorded.momentum, shown, at)?,
            nesterov: agree("--nesterov", &self.nesterov, &recorded.nesterov, shown, at)?,
            seed: agree("--seed", &self.seed, &recorded.seed, shown, at)?,
            test_fraction: agree(
                "--test-fraction",
                &self.test_fraction,
                &recorded.test_fraction,
                shown,
                at,
            )?,
            standardize: self.standardize.or(recorded.standardize),
            model: agree("--model", &self.model, &recorded.model, |m| widths(m), at)?,
            lr: agree("--lr", &self.lr, &recorded.lr, shown, at)?,
            weight_decay: agree_decay(self.weight_decay, recorded.weight_decay, at)?,
            // More epochs than planned extend a resumed run.
            epochs: self.epochs.or(recorded.epochs),
            batch: agree("--batch", &self.batch, &recorded.batch, shown, at)?,
        })
    }

    /// The data's name: the one given, else `digits`.
    pub fn data_name(&self) -> &str {
        self.data.as_deref().unwrap_or("digits")
    }

    /// The seed: the one given, else 0.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }

    /// The dropout probability: the one given, else 0.
    pub fn dropout(&self) -> f64 {
        self.dropout.unwrap_or(0.0)
    }

    /// The share held out for testing: the one given, else 0.2.
    pub fn test_fraction(&self) -> f64 {
        self.test_fraction.unwrap_or(0.2)
    }

    /// Checks the settings that need no data: the dropout and the test fraction in `[0, 1)`.
    pub fn check(&self) -> Result<(), TrainError> {
        let dropout = self.dropout();
        if !(0.0..1.0).contains(&dropout) {
            return Err(TrainError::invalid(format!(
                "--dropout must be in [0, 1), not {dropout}"
            )));
        }
        let fraction = self.test_fraction();
        if !(0.0..1.0).contains(&fraction) {
            return Err(TrainError::invalid(format!(
                "--test-fraction must be in [0, 1), not {fraction}"
            )));
        }
        Ok(())
    }

    /// The run on `data`, the dataset [`RunSettings::data`] names: every setting given, else
    /// the default for that data ([`TrainingDefaults::for_data`]). Fails on a network that does
    /// not fit the data, a batch of 0 or an optimizer setting out of range.
    pub fn plan(&self, data: &Dataset) -> Result<RunPlan, TrainError> {
        self.check()?;
        let name = self.data_name();
        let d = TrainingDefaults::for_data(name);
        let sizes = self.model.clone().unwrap_or_else(|| {
            let outputs = match data.n_classes() {
                0 => 1,
                k => k,
            };
            let mut sizes = vec![data.n_features];
            sizes.extend(&d.hidden);
            sizes.push(outputs);
            sizes
        });
        let mut spec =
            MlpSpec::new(sizes).map_err(|e| TrainError::invalid(format!("--model: {e}")))?;
        spec.activation = self.activation.unwrap_or(Activation::Relu);
        spec.dropout = self.dropout();
        if spec.inputs() != data.n_features {
            return Err(TrainError::invalid(format!(
                "--model {spec} takes {} inputs but the data has {} features",
                spec.inputs(),
                data.n_features
            )));
        }
        let loss = LossKind::for_outputs(spec.outputs(), &data.targets)
            .map_err(|e| TrainError::invalid(format!("--model {spec}: {e}")))?;
        let kind = self.optimizer.unwrap_or(OptimizerKind::Adam);
        let lr = self.lr.unwrap_or(if kind.is_sgd() { 0.1 } else { d.lr });
        let mut optimizer = OptimizerSpec::new(kind, lr);
        if let Some(m) = self.momentum {
            optimizer.momentum = m;
        }
        if let Some(n) = self.nesterov {
            optimizer.nesterov = n;
        }
        optimizer.weight_decay = self.weight_decay;
        let config = TrainConfig {
            epochs: self.epochs.unwrap_or(d.epochs),
            batch_size: self.batch.unwrap_or(d.batch),
            seed: self.seed(),
            optimizer,
        };
        if config.batch_size == 0 {
            return Err(TrainError::invalid("--batch must be at least 1"));
        }
        optimizer.validate()?;
        Ok(RunPlan {
            data: name.to_string(),
            spec,
            loss,
            config,
            test_fraction: self.test_fraction(),
            standardize: self.standardize.unwrap_or(true),
        })
    }
}

/// A run with every setting decided: what [`RunSettings::plan`] gives.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    /// The data's name or path.
    pub data: String,
    /// The network.
    pub spec: MlpSpec,
    /// The loss, chosen by the output width and the targets.
    pub loss: LossKind,
    /// The training loop's settings.
    pub config: TrainConfig,
    /// The share held out for testing.
    pub test_fraction: f64,
    /// Whether the features are standardised.
    pub standardize: bool,
}
