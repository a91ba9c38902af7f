//! The settings of a training run: the loss, the loop's numbers ([`TrainConfig`]), and the
//! settings as a person gives them ([`RunSettings`]), each one optional, merged with a
//! checkpoint's on resuming and completed with the defaults that suit the data ([`RunPlan`]).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::TrainError;
use crate::data::{Dataset, Targets, TrainingDefaults};
use crate::nn::{Activation, ModelChoice, ModelSpec, SpecError};
use crate::optim::{OptimizerKind, OptimizerSpec, Schedule, ScheduleKind};

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
    /// The network: layer widths from inputs to outputs, a convolutional network's layers, or
    /// `cnn` (default: the data's features, the data's hidden layers, its classes).
    pub model: Option<ModelChoice>,
    /// The activation (default ReLU).
    pub activation: Option<Activation>,
    /// The dropout after each hidden fully connected layer (default 0; 0.3 in `cnn`).
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
    /// How the learning rate changes over the run (default the data's and network's).
    pub lr_schedule: Option<ScheduleKind>,
    /// The steps of linear warm-up of the learning rate (default the data's and network's).
    pub warmup: Option<u64>,
    /// The file of a fixed test set instead of a random split (default none).
    pub test_data: Option<String>,
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
            model: agree("--model", &self.model, &recorded.model, shown, at)?,
            lr_schedule: agree(
                "--lr-schedule",
                &self.lr_schedule,
                &recorded.lr_schedule,
                shown,
                at,
            )?,
            warmup: agree("--warmup", &self.warmup, &recorded.warmup, shown, at)?,
            test_data: agree(
                "--test-data",
                &self.test_data,
                &recorded.test_data,
                String::clone,
                at,
            )?,
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
    /// the default for that data and kind of network ([`TrainingDefaults::for_data`],
    /// [`TrainingDefaults::for_cnn`]). Fails on a network that does not fit the data, a batch
    /// of 0 or an optimizer setting out of range.
    pub fn plan(&self, data: &Dataset) -> Result<RunPlan, TrainError> {
        self.check()?;
        let name = self.data_name();
        let outputs = match data.n_classes() {
            0 => 1,
            k => k,
        };
        let model = self.model.clone().unwrap_or_else(|| {
            let mut sizes = vec![data.n_features];
            sizes.extend(&TrainingDefaults::for_data(name).hidden);
            sizes.push(outputs);
            ModelChoice::Widths(sizes)
        });
        let conv = !matches!(model, ModelChoice::Widths(_));
        let d = if conv {
            TrainingDefaults::for_cnn(name)
        } else {
            TrainingDefaults::for_data(name)
        };
        let spec = model
            .resolve(
                data.n_features,
                data.image,
                outputs,
                self.activation,
                self.dropout,
            )
            .map_err(|e| match e {
                SpecError::NeedsImages { .. } => TrainError::invalid(e.to_string()),
                e => TrainError::invalid(format!("--model {model}: {e}")),
            })?;
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
            model,
            spec,
            loss,
            config,
            schedule: Schedule {
                kind: self.lr_schedule.unwrap_or(d.schedule),
                warmup: self.warmup.unwrap_or(d.warmup),
            },
            test_fraction: self.test_fraction(),
            standardize: self.standardize.unwrap_or(true),
            test_data: self.test_data.clone(),
            dropout: self.dropout.filter(|_| conv),
        })
    }
}

/// A run with every setting decided: what [`RunSettings::plan`] gives.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    /// The data's name or path.
    pub data: String,
    /// The network as given (or the default widths).
    pub model: ModelChoice,
    /// The network.
    pub spec: ModelSpec,
    /// The loss, chosen by the output width and the targets.
    pub loss: LossKind,
    /// The training loop's settings.
    pub config: TrainConfig,
    /// The learning rate of each step.
    pub schedule: Schedule,
    /// The share held out for testing (without a fixed test set).
    pub test_fraction: f64,
    /// Whether the features are standardised (each one for a perceptron, each channel of the
    /// images for a convolutional network: see [`RunPlan::scaling`]).
    pub standardize: bool,
    /// The file of the fixed test set, if one was given.
    pub test_data: Option<String>,
    /// The dropout given for a convolutional network (its spec holds the one used; a
    /// perceptron's spec is all there is to record).
    pub dropout: Option<f64>,
}

impl RunPlan {
    /// How the inputs are standardised: not at all, each feature on its own (perceptrons), or
    /// each channel of the images (convolutional networks).
    pub fn scaling(&self) -> super::Scaling {
        match (self.standardize, self.spec.image()) {
            (false, _) => super::Scaling::None,
            (true, None) => super::Scaling::PerFeature,
            (true, Some(image)) => super::Scaling::PerChannel(image),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::train::Trainer;

    fn recorded() -> RunSettings {
        RunSettings {
            data: Some("iris".into()),
            model: Some(ModelChoice::Widths(vec![4, 16, 3])),
            activation: Some(Activation::Relu),
            dropout: Some(0.1),
            optimizer: Some(OptimizerKind::Adam),
            lr: Some(0.01),
            momentum: Some(0.0),
            nesterov: Some(false),
            weight_decay: None,
            epochs: Some(2),
            batch: Some(16),
            seed: Some(0),
            test_fraction: Some(0.2),
            standardize: Some(true),
            lr_schedule: None,
            warmup: None,
            test_data: None,
        }
    }

    fn refusal(given: RunSettings) -> String {
        given
            .resume_from(&recorded(), Path::new("c.safetensors"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_setting_given_on_resume_must_agree_with_the_checkpoint() {
        let tail = ": leave --model out to continue with the checkpoint's, or start a new run \
                    without --resume";
        assert_eq!(
            refusal(RunSettings {
                model: Some(ModelChoice::Widths(vec![4, 8, 3])),
                ..Default::default()
            }),
            format!("--model 4-8-3, but the checkpoint c.safetensors was made with --model 4-16-3{tail}")
        );
        let cases = [
            (
                RunSettings {
                    weight_decay: Some(0.5),
                    ..Default::default()
                },
                "--weight-decay 0.5, but the checkpoint c.safetensors was made with --weight-decay default",
            ),
            (
                RunSettings {
                    optimizer: Some(OptimizerKind::Sgd),
                    ..Default::default()
                },
                "--optimizer sgd, but the checkpoint c.safetensors was made with --optimizer adam",
            ),
            (
                RunSettings {
                    dropout: Some(0.2),
                    ..Default::default()
                },
                "--dropout 0.2, but the checkpoint c.safetensors was made with --dropout 0.1",
            ),
            (
                RunSettings {
                    standardize: Some(false),
                    ..Default::default()
                },
                "--no-standardize, but the checkpoint c.safetensors was made with standardised \
                 features",
            ),
        ];
        for (given, want) in cases {
            let got = refusal(given);
            assert!(got.starts_with(want), "{got}");
        }
        // The same values, and more epochs, are fine; what is not given is the checkpoint's.
        let merged = RunSettings {
            lr: Some(0.01),
            epochs: Some(10),
            ..Default::default()
        }
        .resume_from(&recorded(), Path::new("c.safetensors"))
        .unwrap();
        assert_eq!(
            merged,
            RunSettings {
                epochs: Some(10),
                ..recorded()
            }
        );
    }

    #[test]
    fn what_is_not_given_follows_the_data() {
        let plan = |s: RunSettings, data: &Dataset| s.plan(data).unwrap();
        let digits = plan(RunSettings::default(), &crate::data::digits());
        assert_eq!(digits.spec.to_string(), "64-128-10");
        assert_eq!(digits.data, "digits");
        assert_eq!(
            (
                digits.config.epochs,
                digits.config.batch_size,
                digits.config.optimizer.lr
            ),
            (30, 64, 1e-3)
        );
        assert_eq!(digits.config.optimizer.kind, OptimizerKind::Adam);
        assert!(digits.standardize && digits.test_fraction == 0.2);
        let moons = RunSettings {
            data: Some("moons".into()),
            optimizer: Some(OptimizerKind::Nesterov),
            ..Default::default()
        };
        let m = plan(moons, &crate::data::moons(20, 0.1, 0));
        assert_eq!(m.spec.to_string(), "2-16-16-2");
        assert_eq!(
            (m.config.optimizer.lr, m.config.optimizer.momentum),
            (0.1, 0.9)
        );
        assert!(m.config.optimizer.nesterov);
        let file = RunSettings {
            data: Some("my.csv".into()),
            ..Default::default()
        };
        assert_eq!(plan(file, &crate::data::iris()).spec.to_string(), "4-64-3");
    }

    #[test]
    fn settings_that_cannot_work_are_refused_before_training() {
        let iris = crate::data::iris();
        let err = |s: RunSettings| s.plan(&iris).unwrap_err().to_string();
        assert_eq!(
            err(RunSettings {
                model: Some(ModelChoice::Widths(vec![5, 16, 3])),
                ..Default::default()
            }),
            "--model 5-16-3 takes 5 inputs but the data has 4 features"
        );
        assert_eq!(
            err(RunSettings {
                batch: Some(0),
                ..Default::default()
            }),
            "--batch must be at least 1"
        );
        assert_eq!(
            err(RunSettings {
                dropout: Some(1.0),
                ..Default::default()
            }),
            "--dropout must be in [0, 1), not 1"
        );
        assert!(err(RunSettings {
            model: Some(ModelChoice::Widths(vec![4, 16, 2])),
            ..Default::default()
        })
        .contains("3 classes"));
        let nesterov = RunSettings {
            nesterov: Some(true),
            optimizer: Some(OptimizerKind::Sgd),
            ..Default::default()
        };
        assert!(matches!(nesterov.plan(&iris), Err(TrainError::Config(_))));
    }

    #[test]
    fn a_checkpoint_gives_back_the_settings_it_was_made_with() {
        let iris = crate::data::iris();
        let given = RunSettings {
            data: Some("iris".into()),
            optimizer: Some(OptimizerKind::Nesterov),
            momentum: Some(0.5),
            seed: Some(4),
            test_fraction: Some(0.3),
            standardize: Some(false),
            ..Default::default()
        };
        let plan = given.plan(&iris).unwrap();
        let trainer = Trainer::new(plan.spec.clone(), plan.loss, plan.config).unwrap();
        let mut file = trainer.checkpoint();
        plan.record(&mut file);
        let back = RunSettings::from_checkpoint(&file, Path::new("c")).unwrap();
        assert_eq!(
            back,
            RunSettings {
                data: Some("iris".into()),
                model: Some(ModelChoice::Widths(vec![4, 16, 3])),
                activation: Some(Activation::Relu),
                dropout: Some(0.0),
                optimizer: Some(OptimizerKind::Nesterov),
                lr: Some(0.1),
                momentum: Some(0.5),
                nesterov: Some(true),
                weight_decay: None,
                epochs: Some(100),
                batch: Some(16),
                seed: Some(4),
                test_fraction: Some(0.3),
                standardize: Some(false),
                lr_schedule: Some(ScheduleKind::Constant),
                warmup: Some(0),
                test_data: None,
            }
        );
        assert_eq!(back.plan(&iris).unwrap(), plan);
        file.metadata.insert("checkpoint_seed".into(), "x".into());
        assert_eq!(
            RunSettings::from_checkpoint(&file, Path::new("c"))
                .unwrap_err()
                .to_string(),
            "c: metadata 'checkpoint_seed': 'x' is not valid"
        );
    }
}
