//! Training a network on a dataset: data preparation, the training loop with a progress
//! callback and per-epoch metrics, evaluation, prediction, and model and checkpoint files.
//!
//! Each step records one mini-batch on a single reused [`Tape`] (cleared after every step, so
//! memory stays flat), runs forward, the loss and backward, copies the gradients into flat
//! buffers and steps the optimizer on the parameters in place.
//!
//! Everything random (initial weights, split, shuffling, dropout) comes from the seed, and the
//! shuffling and dropout of an epoch depend only on the seed and the epoch's number; so a run
//! resumed from a checkpoint gives the same weights, bit for bit, as an uninterrupted one.
//!
//! ```
//! use chainrule::nn::MlpSpec;
//! use chainrule::train::{prepare, LossKind, OptimizerKind, OptimizerSpec, TrainConfig, Trainer};
//!
//! let data = prepare(&chainrule::data::iris(), 0.2, 0, true).unwrap();
//! let spec: MlpSpec = "4-16-3".parse().unwrap();
//! let config = TrainConfig {
//!     epochs: 20,
//!     batch_size: 16,
//!     seed: 0,
//!     optimizer: OptimizerSpec::new(OptimizerKind::Adam, 0.01),
//! };
//! let mut trainer = Trainer::new(spec, LossKind::CrossEntropy, config).unwrap();
//! let history = trainer.fit(&data.train, Some(&data.test), &mut |_| {}).unwrap();
//! assert_eq!(history.len(), 20);
//! assert!(history[19].test_accuracy.unwrap() > 0.8);
//! ```

pub mod page;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use crate::data::{Batches, DataError, Dataset, Standardizer, Targets};
use crate::model_file::{ModelFile, NamedTensor};
use crate::nn::{
    binary_cross_entropy_with_logits, cross_entropy, mse_loss, Activation, Context, MlpSpec,
    Module, Sequential,
};
use crate::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, ConfigError, Optimizer, OptimizerState, Sgd, SgdConfig,
};
use crate::tensor::{Array, Tape, Tensor, TensorError};
use crate::util::rand::Rng;

/// Why training, evaluation or loading a model failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainError(pub String);

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TrainError {}

impl From<TensorError> for TrainError {
    fn from(e: TensorError) -> Self {
        TrainError(e.to_string())
    }
}

impl From<ConfigError> for TrainError {
    fn from(e: ConfigError) -> Self {
        TrainError(e.to_string())
    }
}

impl From<DataError> for TrainError {
    fn from(e: DataError) -> Self {
        TrainError(e.to_string())
    }
}

/// The loss a network is trained with, which also says how its outputs are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// Classes: one logit per class, [`cross_entropy`]; the prediction is the largest logit.
    CrossEntropy,
    /// Two classes with one logit, [`binary_cross_entropy_with_logits`]; class 1 when the
    /// logit is positive.
    BinaryCrossEntropy,
    /// Regression with one output, [`mse_loss`].
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

/// A training and a test part of a dataset, standardised with the training part's statistics.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The training samples.
    pub train: Dataset,
    /// The test samples (empty with a test fraction of 0).
    pub test: Dataset,
    /// The standardisation applied to both, fitted on the training part.
    pub standardizer: Option<Standardizer>,
}

/// Splits `data` into training and test parts (stratified by class for classification) with
/// `seed`, and standardises both with the training part's means and deviations if asked.
pub fn prepare(
    data: &Dataset,
    test_fraction: f64,
    seed: u64,
    standardize: bool,
) -> Result<Prepared, TrainError> {
    if data.is_empty() {
        return Err(TrainError("the dataset has no samples".into()));
    }
    let (mut train, mut test) = match data.targets {
        Targets::Classes { .. } => data.stratified_split(test_fraction, seed)?,
        Targets::Values(_) => data.split(test_fraction, seed)?,
    };
    if train.is_empty() {
        return Err(TrainError(format!(
            "a test fraction of {test_fraction} leaves no samples to train on"
        )));
    }
    let standardizer = standardize.then(|| {
        let s = Standardizer::fit(&train);
        s.transform(&mut train);
        s.transform(&mut test);
        s
    });
    Ok(Prepared {
        train,
        test,
        standardizer,
    })
}

/// The loss and accuracy of a network on some data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean loss.
    pub loss: f64,
    /// The fraction of samples classified right (`None` for regression).
    pub accuracy: Option<f64>,
    /// The number of samples.
    pub samples: usize,
}

/// The metrics of one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochMetrics {
    /// The epoch's number, from 1.
    pub epoch: usize,
    /// The mean loss over the training data at the end of the epoch (in evaluation mode).
    pub train_loss: f64,
    /// The training accuracy at the end of the epoch (`None` for regression).
    pub train_accuracy: Option<f64>,
    /// The mean loss on the test data (`None` without test data).
    pub test_loss: Option<f64>,
    /// The test accuracy (`None` without test data, or for regression).
    pub test_accuracy: Option<f64>,
    /// The time the epoch took, evaluation included.
    pub seconds: f64,
}

/// How big the gradient of each layer's weights was through training: the L2 norm of the
/// gradient of every `Linear` layer's weight matrix, averaged over the steps of each epoch.
///
/// Norms that shrink from the last layer to the first show vanishing gradients; norms that grow
/// show exploding ones.
///
/// ```
/// use chainrule::nn::MlpSpec;
/// use chainrule::train::{prepare, LossKind, OptimizerKind, OptimizerSpec, TrainConfig, Trainer};
///
/// let data = prepare(&chainrule::data::iris(), 0.2, 0, true).unwrap();
/// let spec: MlpSpec = "4-16-16-3".parse().unwrap();
/// let config = TrainConfig {
///     epochs: 3,
///     batch_size: 16,
///     seed: 0,
///     optimizer: OptimizerSpec::new(OptimizerKind::Adam, 0.01),
/// };
/// let mut trainer = Trainer::new(spec, LossKind::CrossEntropy, config).unwrap();
/// trainer.fit(&data.train, None, &mut |_| {}).unwrap();
/// let flow = trainer.grad_flow();
/// assert_eq!(flow.layers, ["0.weight", "2.weight", "4.weight"]);
/// assert_eq!(flow.epochs, [1, 2, 3]);
/// assert!(flow.per_epoch.iter().flatten().all(|&n| n > 0.0));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GradFlow {
    /// The weight parameters followed, by their PyTorch names (`0.weight`, `2.weight`, ...),
    /// from the input layer to the output layer.
    pub layers: Vec<String>,
    /// The number of each recorded epoch, from 1 (epochs done before a resume are not recorded).
    pub epochs: Vec<usize>,
    /// For each recorded epoch, the mean over its steps of the gradient norm of each layer, in
    /// the order of [`GradFlow::layers`].
    pub per_epoch: Vec<Vec<f64>>,
}

impl GradFlow {
    /// The norms of the first recorded epoch, or `None` before any epoch.
    pub fn first(&self) -> Option<&[f64]> {
        self.per_epoch.first().map(Vec::as_slice)
    }

    /// The norm of the first layer divided by the norm of the last one in recorded epoch
    /// `index` (from 0): far below 1 when the gradient vanishes on its way to the input.
    pub fn first_to_last(&self, index: usize) -> Option<f64> {
        let norms = self.per_epoch.get(index)?;
        Some(norms.first()? / norms.last()?)
    }
}

/// Sums of gradient norms over the steps of the current epoch.
#[derive(Clone, Debug, Default)]
struct FlowAccumulator {
    /// Indices (in parameter order) of the weights followed.
    params: Vec<usize>,
    sums: Vec<f64>,
    steps: usize,
}

/// What the training loop reports as it goes.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// A step was taken.
    Batch {
        /// The epoch's number, from 1.
        epoch: usize,
        /// The step's number within the epoch, from 1.
        batch: usize,
        /// The number of steps per epoch.
        batches: usize,
        /// The batch's loss (in training mode, before the step).
        loss: f64,
    },
    /// An epoch ended.
    Epoch(&'a EpochMetrics),
}

/// A prediction for one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prediction {
    /// A class index.
    Class(usize),
    /// A number.
    Value(f32),
}

/// A network with everything needed to use it on raw data: its architecture, the loss it was
/// trained with, the names of the classes and the standardisation of the inputs.
///
/// [`Network::to_file`] gives a safetensors file that PyTorch loads into the equivalent
/// `torch.nn.Sequential` with `load_state_dict(safetensors.torch.load_file(path))`.
#[derive(Debug)]
pub struct Network {
    /// The architecture.
    pub spec: MlpSpec,
    /// The layers and their parameters.
    pub model: Sequential,
    /// The loss, which says how outputs are read.
    pub loss: LossKind,
    /// The names of the classes (empty for regression).
    pub classes: Vec<String>,
    /// The standardisation the inputs need (fitted on the training data).
    pub standardizer: Option<Standardizer>,
}

/// Metadata keys of model files.
mod key {
    pub const FORMAT: &str = "format";
    pub const FORMAT_VALUE: &str = "chainrule.mlp";
    pub const ARCHITECTURE: &str = "architecture";
    pub const ACTIVATION: &str = "activation";
    pub const DROPOUT: &str = "dropout";
    pub const LOSS: &str = "loss";
    pub const CLASSES: &str = "classes";
    pub const MEAN: &str = "standardize_mean";
    pub const STD: &str = "standardize_std";
    pub const TORCH: &str = "torch";
    pub const EPOCH: &str = "checkpoint_epoch";
    pub const EPOCHS: &str = "checkpoint_epochs";
    pub const SEED: &str = "checkpoint_seed";
    pub const BATCH: &str = "checkpoint_batch_size";
    pub const OPTIMIZER: &str = "checkpoint_optimizer";
    pub const LR: &str = "checkpoint_lr";
    pub const MOMENTUM: &str = "checkpoint_momentum";
    pub const WEIGHT_DECAY: &str = "checkpoint_weight_decay";
    pub const STEP: &str = "checkpoint_optimizer_step";
    pub const OPTIM_LR: &str = "checkpoint_optimizer_lr";
    pub const HISTORY: &str = "checkpoint_history";
    pub const BUFFERS: &str = "checkpoint_optimizer_buffers";
}

/// The network spec in a model file's metadata: architecture, activation and dropout.
fn spec_of(file: &ModelFile, path: &Path) -> Result<MlpSpec, TrainError> {
    let at = |msg: String| TrainError(format!("{}: {msg}", path.display()));
    let meta = |k: &str| {
        file.metadata.get(k).ok_or_else(|| {
            at(format!(
                "no '{k}' in the metadata: not a model file written by chainrule train"
            ))
        })
    };
    let mut spec: MlpSpec = meta(key::ARCHITECTURE)?
        .parse()
        .map_err(|e| at(format!("metadata 'architecture': {e}")))?;
    spec.activation = meta(key::ACTIVATION)?
        .parse::<Activation>()
        .map_err(|e| at(format!("metadata 'activation': {e}")))?;
    spec.dropout = match file.metadata.get(key::DROPOUT) {
        None => 0.0,
        Some(d) => d
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..1.0).contains(p))
            .ok_or_else(|| at(format!("metadata 'dropout': '{d}' is not in [0, 1)")))?,
    };
    Ok(spec)
}

/// The prefix of optimizer buffers in checkpoints.
pub const OPTIM_PREFIX: &str = "optim.";

fn json_floats(v: &[f32]) -> String {
    serde_json::to_string(v).expect("floats serialise")
}

impl Network {
    /// A new network for `spec` with weights drawn from `seed`.
    pub fn new(spec: MlpSpec, loss: LossKind, seed: u64) -> Self {
        Network {
            model: spec.build(seed),
            spec,
            loss,
            classes: Vec::new(),
            standardizer: None,
        }
    }

    /// The model file: the parameters under PyTorch's names, and the architecture, loss, class
    /// names and standardisation in the metadata.
    pub fn to_file(&self) -> ModelFile {
        let mut metadata = BTreeMap::new();
        metadata.insert(key::FORMAT.into(), key::FORMAT_VALUE.into());
        metadata.insert(key::ARCHITECTURE.into(), self.spec.to_string());
        metadata.insert(key::ACTIVATION.into(), self.spec.activation.to_string());
        metadata.insert(key::DROPOUT.into(), self.spec.dropout.to_string());
        metadata.insert(key::LOSS.into(), self.loss.name().into());
        metadata.insert(key::TORCH.into(), self.spec.torch());
        metadata.insert(
            key::CLASSES.into(),
            serde_json::to_string(&self.classes).expect("strings serialise"),
        );
        if let Some(s) = &self.standardizer {
            metadata.insert(key::MEAN.into(), json_floats(&s.mean));
            metadata.insert(key::STD.into(), json_floats(&s.std));
        }
        ModelFile {
            tensors: self.model.state_dict(),
            metadata,
        }
    }

    /// Reads a network from a model file (or a checkpoint), checking every tensor against the
    /// architecture in its metadata; `path` names the file in errors.
    pub fn from_file(file: &ModelFile, path: &Path) -> Result<Self, TrainError> {
        let at = |msg: String| TrainError(format!("{}: {msg}", path.display()));
        let meta = |k: &str| {
            file.metadata.get(k).ok_or_else(|| {
                at(format!(
                    "no '{k}' in the metadata: not a model file written by chainrule train"
                ))
            })
        };
        let spec = spec_of(file, path)?;
        let loss: LossKind = meta(key::LOSS)?
            .parse()
            .map_err(|e| at(format!("metadata 'loss': {e}")))?;
        let classes: Vec<String> = match file.metadata.get(key::CLASSES) {
            None => Vec::new(),
            Some(c) => serde_json::from_str(c).map_err(|e| {
                at(format!(
                    "metadata 'classes' is not a JSON list of names: {e}"
                ))
            })?,
        };
        let floats = |k: &str| -> Result<Option<Vec<f32>>, TrainError> {
            file.metadata
                .get(k)
                .map(|v| {
                    serde_json::from_str::<Vec<f32>>(v)
                        .map_err(|e| at(format!("metadata '{k}' is not a list of numbers: {e}")))
                })
                .transpose()
        };
        let standardizer = match (floats(key::MEAN)?, floats(key::STD)?) {
            (Some(mean), Some(std)) => {
                if mean.len() != spec.inputs() || std.len() != spec.inputs() {
                    return Err(at(format!(
                        "the standardisation has {} means and {} deviations but the network \
                         takes {} inputs",
                        mean.len(),
                        std.len(),
                        spec.inputs()
                    )));
                }
                Some(Standardizer { mean, std })
            }
            (None, None) => None,
            _ => {
                return Err(at(
                    "the standardisation is missing its means or deviations".into()
                ))
            }
        };
        let mut model = spec.build(0);
        let params: Vec<NamedTensor> = file
            .tensors
            .iter()
            .filter(|t| !t.name.starts_with(OPTIM_PREFIX))
            .cloned()
            .collect();
        model
            .load_state_dict(&params)
            .map_err(|e| at(format!("{e} (architecture {spec})")))?;
        if loss.is_classification() {
            let want = if loss == LossKind::CrossEntropy {
                spec.outputs()
            } else {
                2
            };
            if classes.len() != want {
                return Err(at(format!(
                    "metadata 'classes' names {} classes but the network predicts {want}",
                    classes.len()
                )));
            }
        }
        Ok(Network {
            spec,
            model,
            loss,
            classes,
            standardizer,
        })
    }

    /// Saves [`Network::to_file`] atomically.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        self.to_file()
            .save(path)
            .map_err(|e| TrainError(e.to_string()))
    }

    /// Loads a network saved by [`Network::save`].
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let file = ModelFile::load(path).map_err(|e| TrainError(e.to_string()))?;
        Self::from_file(&file, path)
    }

    /// The raw outputs for already standardised rows, `[n, outputs]` row-major, computed in
    /// chunks under no-grad.
    pub fn outputs(&self, features: &[f32], n_features: usize) -> Result<Vec<f32>, TrainError> {
        if n_features != self.spec.inputs() {
            return Err(TrainError(format!(
                "the network takes {} features but the data has {n_features}",
                self.spec.inputs()
            )));
        }
        let n = features.len().checked_div(n_features).unwrap_or(0);
        let mut out = Vec::with_capacity(n * self.spec.outputs());
        let mut tape = Tape::<f32>::new();
        const CHUNK: usize = 1024;
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            tape.clear();
            let rows = &features[start * n_features..end * n_features];
            let x = tape.constant(Array::from_vec(rows.to_vec(), &[end - start, n_features])?);
            let y = tape.no_grad(|| self.model.forward(x, &mut Context::inference(&tape)))?;
            out.extend_from_slice(&y.to_vec());
            start = end;
        }
        Ok(out)
    }

    /// The predictions for already standardised rows.
    pub fn predict_standardized(
        &self,
        features: &[f32],
        n_features: usize,
    ) -> Result<Vec<Prediction>, TrainError> {
        let out = self.outputs(features, n_features)?;
        Ok(read_outputs(self.loss, &out, self.spec.outputs()))
    }

    /// The predictions for the samples of `data` as they come (standardised here if the network
    /// needs it).
    pub fn predict(&self, data: &Dataset) -> Result<Vec<Prediction>, TrainError> {
        if data.n_features != self.spec.inputs() {
            return Err(TrainError(format!(
                "the network takes {} features but the data has {}",
                self.spec.inputs(),
                data.n_features
            )));
        }
        match &self.standardizer {
            Some(s) => {
                let mut x = data.features.clone();
                s.transform_features(&mut x);
                self.predict_standardized(&x, data.n_features)
            }
            None => self.predict_standardized(&data.features, data.n_features),
        }
    }

    /// The mean loss and accuracy on already standardised data.
    pub fn evaluate(&self, data: &Dataset) -> Result<Evaluation, TrainError> {
        let n = data.n_samples;
        let outs = self.outputs(&data.features, data.n_features)?;
        let k = self.spec.outputs();
        let tape = Tape::<f32>::new();
        let logits = tape.constant(Array::from_vec(outs.clone(), &[n, k])?);
        let loss = batch_loss(
            self.loss,
            logits,
            &data.targets,
            &(0..n).collect::<Vec<_>>(),
        )?;
        let accuracy = match &data.targets {
            Targets::Classes { labels, .. } if self.loss.is_classification() => {
                let preds = read_outputs(self.loss, &outs, k);
                let right = preds
                    .iter()
                    .zip(labels)
                    .filter(|(p, &l)| **p == Prediction::Class(l))
                    .count();
                Some(if n == 0 { 0.0 } else { right as f64 / n as f64 })
            }
            _ => None,
        };
        Ok(Evaluation {
            loss: loss.item() as f64,
            accuracy,
            samples: n,
        })
    }
}

fn read_outputs(loss: LossKind, out: &[f32], k: usize) -> Vec<Prediction> {
    out.chunks_exact(k.max(1))
        .map(|row| match loss {
            LossKind::CrossEntropy => {
                let mut best = 0;
                for (i, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = i;
                    }
                }
                Prediction::Class(best)
            }
            LossKind::BinaryCrossEntropy => Prediction::Class(usize::from(row[0] > 0.0)),
            LossKind::Mse => Prediction::Value(row[0]),
        })
        .collect()
}

/// The loss of `out` against the targets of the samples `indices`.
fn batch_loss<'t>(
    loss: LossKind,
    out: Tensor<'t, f32>,
    targets: &Targets,
    indices: &[usize],
) -> Result<Tensor<'t, f32>, TrainError> {
    let tape = out.tape();
    let column = |v: Vec<f32>| Array::from_vec(v, &[indices.len(), 1]);
    Ok(match (loss, targets) {
        (LossKind::CrossEntropy, Targets::Classes { labels, .. }) => {
            let batch: Vec<usize> = indices.iter().map(|&i| labels[i]).collect();
            cross_entropy(out, &batch)?
        }
        (LossKind::BinaryCrossEntropy, Targets::Classes { labels, .. }) => {
            let y = column(indices.iter().map(|&i| labels[i] as f32).collect())?;
            binary_cross_entropy_with_logits(out, tape.constant(y))?
        }
        (LossKind::Mse, Targets::Values(v)) => {
            let y = column(indices.iter().map(|&i| v[i]).collect())?;
            mse_loss(out, tape.constant(y))?
        }
        (loss, _) => {
            return Err(TrainError(format!(
                "the loss {} does not fit these targets",
                loss.name()
            )))
        }
    })
}

/// A seed for one purpose in one epoch, from the run's seed.
fn stream_seed(seed: u64, epoch: usize, stream: u64) -> u64 {
    seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// The training loop's state: the network, the optimizer, the epochs done and their metrics.
pub struct Trainer {
    /// The network being trained.
    pub net: Network,
    /// The settings.
    pub config: TrainConfig,
    optimizer: Box<dyn Optimizer<f32>>,
    epoch: usize,
    history: Vec<EpochMetrics>,
    tape: Tape<f32>,
    grads: Vec<Vec<f32>>,
    flow: GradFlow,
    acc: FlowAccumulator,
}

impl fmt::Debug for Trainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trainer")
            .field("spec", &self.net.spec)
            .field("config", &self.config)
            .field("epoch", &self.epoch)
            .finish()
    }
}

impl Trainer {
    /// A trainer for a new network of shape `spec` (weights drawn from the config's seed).
    pub fn new(spec: MlpSpec, loss: LossKind, config: TrainConfig) -> Result<Self, TrainError> {
        if config.batch_size == 0 {
            return Err(TrainError("the batch size must be at least 1".into()));
        }
        let optimizer = config.optimizer.build()?;
        Ok(Trainer {
            net: Network::new(spec, loss, config.seed),
            config,
            optimizer,
            epoch: 0,
            history: Vec::new(),
            tape: Tape::new(),
            grads: Vec::new(),
            flow: GradFlow::default(),
            acc: FlowAccumulator::default(),
        })
    }

    /// The number of epochs done.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The metrics of the epochs done (including those before a resume).
    pub fn history(&self) -> &[EpochMetrics] {
        &self.history
    }

    /// The gradient norm of each layer's weights per epoch, for the epochs trained by this
    /// trainer.
    pub fn grad_flow(&self) -> &GradFlow {
        &self.flow
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer<f32> {
        self.optimizer.as_ref()
    }

    /// Trains until [`TrainConfig::epochs`] epochs are done, reporting to `on_progress`, and
    /// returns the metrics of every epoch.
    pub fn fit(
        &mut self,
        train: &Dataset,
        test: Option<&Dataset>,
        on_progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<EpochMetrics>, TrainError> {
        while self.epoch < self.config.epochs {
            self.train_epoch(train, test, on_progress)?;
        }
        Ok(self.history.clone())
    }

    /// Runs one epoch over `train` (already standardised), then evaluates on `train` and `test`.
    pub fn train_epoch(
        &mut self,
        train: &Dataset,
        test: Option<&Dataset>,
        on_progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<EpochMetrics, TrainError> {
        if train.n_features != self.net.spec.inputs() {
            return Err(TrainError(format!(
                "the network takes {} features but the data has {}",
                self.net.spec.inputs(),
                train.n_features
            )));
        }
        let start = Instant::now();
        let seed = self.config.seed;
        let mut shuffle = Rng::new(stream_seed(seed, self.epoch, 1));
        let batches = Batches::with_rng(train.n_samples, self.config.batch_size, &mut shuffle);
        let n_batches = batches.len();
        let mut dropout_rng = Rng::new(stream_seed(seed, self.epoch, 2));
        self.net.model.set_training(true);
        if self.flow.layers.is_empty() {
            let names = self.net.model.named_parameters();
            let followed: Vec<(usize, String)> = names
                .into_iter()
                .enumerate()
                .filter(|(_, (n, a))| n.ends_with(".weight") && a.shape().len() == 2)
                .map(|(i, (n, _))| (i, n))
                .collect();
            self.acc.params = followed.iter().map(|(i, _)| *i).collect();
            self.flow.layers = followed.into_iter().map(|(_, n)| n).collect();
        }
        self.acc.sums = vec![0.0; self.acc.params.len()];
        self.acc.steps = 0;
        for (b, indices) in batches.enumerate() {
            let (loss, rng) = self.step(train, &indices, dropout_rng)?;
            dropout_rng = rng;
            on_progress(Progress::Batch {
                epoch: self.epoch + 1,
                batch: b + 1,
                batches: n_batches,
                loss,
            });
        }
        self.net.model.set_training(false);
        let on_train = self.net.evaluate(train)?;
        let on_test = match test {
            Some(t) if !t.is_empty() => Some(self.net.evaluate(t)?),
            _ => None,
        };
        self.net.model.set_training(true);
        self.epoch += 1;
        let steps = self.acc.steps.max(1) as f64;
        self.flow.epochs.push(self.epoch);
        self.flow
            .per_epoch
            .push(self.acc.sums.iter().map(|s| s / steps).collect());
        let m = EpochMetrics {
            epoch: self.epoch,
            train_loss: on_train.loss,
            train_accuracy: on_train.accuracy,
            test_loss: on_test.map(|e| e.loss),
            test_accuracy: on_test.and_then(|e| e.accuracy),
            seconds: start.elapsed().as_secs_f64(),
        };
        self.history.push(m);
        on_progress(Progress::Epoch(&m));
        Ok(m)
    }

    /// Turns anomaly detection on or off for the training steps (see
    /// [`Tape::set_detect_anomaly`](crate::tensor::Tape::set_detect_anomaly)): while on, the first
    /// NaN or infinity in a step, forward or backward, stops training with an error that names
    /// the operation, its inputs' shapes and where it was created.
    pub fn set_detect_anomaly(&mut self, on: bool) {
        self.tape.set_detect_anomaly(on);
    }

    /// One optimizer step (forward, loss, backward, update) on the samples `indices` of `data`,
    /// as training does it; returns the batch loss. The benchmarks time exactly this.
    pub fn train_step(&mut self, data: &Dataset, indices: &[usize]) -> Result<f64, TrainError> {
        let rng = Rng::new(stream_seed(self.config.seed, self.epoch, 2));
        self.step(data, indices, rng).map(|(loss, _)| loss)
    }

    /// One optimizer step on the samples `indices`; returns the batch loss and the advanced
    /// dropout generator.
    fn step(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        rng: Rng,
    ) -> Result<(f64, Rng), TrainError> {
        let Trainer {
            net,
            optimizer,
            tape,
            grads,
            acc,
            ..
        } = self;
        tape.clear();
        let mut grad_arrays: Vec<Option<Array<f32>>> = Vec::new();
        let (loss, rng) = {
            let tape = &*tape;
            let nf = data.n_features;
            let mut x = tape.buffer(indices.len() * nf);
            for (row, &i) in x.chunks_exact_mut(nf.max(1)).zip(indices) {
                row.copy_from_slice(data.row(i));
            }
            let x = tape.constant(Array::from_parts(x, vec![indices.len(), nf]));
            let mut ctx = Context::with_rng(tape, rng);
            let out = net.model.forward(x, &mut ctx)?;
            let loss = batch_loss(net.loss, out, &data.targets, indices)?;
            loss.backward()?;
            if let Some(a) = tape.anomaly() {
                return Err(TrainError(format!("anomaly detected: {a}")));
            }
            // Keep the gradient arrays themselves (shared, not copied); a parameter the loss
            // does not reach gets zeros.
            let params = ctx.parameters();
            grads.resize_with(params.len(), Vec::new);
            for (i, p) in params.iter().enumerate() {
                match p.grad() {
                    Some(a) => grad_arrays.push(Some(a)),
                    None => {
                        grads[i].clear();
                        grads[i].resize(p.numel(), 0.0);
                        grad_arrays.push(None);
                    }
                }
            }
            (loss.item() as f64, ctx.into_rng())
        };
        let grad_of = |i: usize| -> &[f32] {
            match grad_arrays.get(i) {
                Some(Some(a)) => a.data(),
                _ => grads.get(i).map_or(&[][..], Vec::as_slice),
            }
        };
        if acc.sums.len() == acc.params.len() {
            for (sum, &i) in acc.sums.iter_mut().zip(&acc.params) {
                let g = grad_of(i);
                *sum += g
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>()
                    .sqrt();
            }
            acc.steps += 1;
        }
        // Drop the tape's references to the parameters, so they are updated in place.
        tape.clear();
        let mut params: Vec<&mut [f32]> = net
            .model
            .parameters_mut()
            .into_iter()
            .map(|(_, a)| a.data_mut())
            .collect();
        let g: Vec<&[f32]> = (0..params.len()).map(grad_of).collect();
        optimizer.step(&mut params, &g);
        // The gradients' buffers go back to the tape for the next step.
        for a in grad_arrays.drain(..).flatten() {
            tape.recycle_array(a);
        }
        Ok((loss, rng))
    }

    /// A checkpoint: the model file of the network, the optimizer's buffers (named
    /// `optim.exp_avg.0`, ...) and, in the metadata, the epochs done, the settings and the
    /// metrics so far.
    pub fn checkpoint(&self) -> ModelFile {
        let mut file = self.net.to_file();
        let state = self.optimizer.state();
        let order: Vec<&str> = state.buffers.iter().map(|(n, _)| n.as_str()).collect();
        file.metadata.insert(
            key::BUFFERS.into(),
            serde_json::to_string(&order).expect("strings serialise"),
        );
        for (name, values) in state.buffers {
            file.tensors.push(NamedTensor {
                name: format!("{OPTIM_PREFIX}{name}"),
                shape: vec![values.len()],
                data: values,
            });
        }
        let c = &self.config;
        let m = &mut file.metadata;
        m.insert(key::EPOCH.into(), self.epoch.to_string());
        m.insert(key::EPOCHS.into(), c.epochs.to_string());
        m.insert(key::SEED.into(), c.seed.to_string());
        m.insert(key::BATCH.into(), c.batch_size.to_string());
        m.insert(key::OPTIMIZER.into(), c.optimizer.kind.name().into());
        m.insert(key::LR.into(), c.optimizer.lr.to_string());
        m.insert(key::MOMENTUM.into(), c.optimizer.momentum.to_string());
        m.insert(
            key::WEIGHT_DECAY.into(),
            c.optimizer
                .weight_decay
                .map_or("default".into(), |w| w.to_string()),
        );
        m.insert(key::STEP.into(), state.step.to_string());
        m.insert(key::OPTIM_LR.into(), state.lr.to_string());
        m.insert(key::HISTORY.into(), history_json(&self.history));
        file
    }

    /// The settings a checkpoint was made with, read back so that a run can resume without
    /// repeating them: the network's spec and the training configuration (`epochs` is the
    /// number of epochs the run was planned for), as [`Trainer::checkpoint`] records them.
    pub fn checkpoint_settings(
        file: &ModelFile,
        path: &Path,
    ) -> Result<(MlpSpec, TrainConfig), TrainError> {
        let at = |msg: String| TrainError(format!("{}: {msg}", path.display()));
        let get = |k: &str| {
            file.metadata.get(k).map(String::as_str).ok_or_else(|| {
                at(format!(
                    "no '{k}' in the metadata: not a checkpoint written by chainrule train"
                ))
            })
        };
        fn parsed<V: FromStr>(
            v: &str,
            k: &str,
            at: &dyn Fn(String) -> TrainError,
        ) -> Result<V, TrainError> {
            v.parse()
                .map_err(|_| at(format!("metadata '{k}': '{v}' is not valid")))
        }
        let spec = spec_of(file, path)?;
        let done: usize = parsed(get(key::EPOCH)?, key::EPOCH, &at)?;
        // Checkpoints from before the planned epochs were recorded: as many as were done.
        let epochs = match file.metadata.get(key::EPOCHS) {
            Some(v) => parsed(v, key::EPOCHS, &at)?,
            None => done,
        };
        let weight_decay = match get(key::WEIGHT_DECAY)? {
            "default" => None,
            v => Some(parsed(v, key::WEIGHT_DECAY, &at)?),
        };
        let config = TrainConfig {
            epochs,
            batch_size: parsed(get(key::BATCH)?, key::BATCH, &at)?,
            seed: parsed(get(key::SEED)?, key::SEED, &at)?,
            optimizer: OptimizerSpec {
                kind: get(key::OPTIMIZER)?.parse().map_err(at)?,
                lr: parsed(get(key::LR)?, key::LR, &at)?,
                momentum: parsed(get(key::MOMENTUM)?, key::MOMENTUM, &at)?,
                weight_decay,
            },
        };
        Ok((spec, config))
    }

    /// Continues from a checkpoint made by [`Trainer::checkpoint`] with the same architecture and
    /// settings: restores the weights, the optimizer's state, the epochs done and their metrics.
    /// Settings that would make the run differ from an uninterrupted one (seed, batch size,
    /// optimizer, learning rate, momentum, weight decay) must match; on error nothing changes.
    pub fn resume(&mut self, file: &ModelFile, path: &Path) -> Result<(), TrainError> {
        let at = |msg: String| TrainError(format!("{}: {msg}", path.display()));
        let get = |k: &str| {
            file.metadata.get(k).map(String::as_str).ok_or_else(|| {
                at(format!(
                    "no '{k}' in the metadata: not a checkpoint written by chainrule train"
                ))
            })
        };
        let (spec, saved) = Self::checkpoint_settings(file, path)?;
        let (c, o, so) = (&self.config, &self.config.optimizer, &saved.optimizer);
        let decay = |w: Option<f64>| w.map_or("default".into(), |w| w.to_string());
        let checks = [
            ("--seed", saved.seed.to_string(), c.seed.to_string()),
            (
                "--batch",
                saved.batch_size.to_string(),
                c.batch_size.to_string(),
            ),
            ("--optimizer", so.kind.to_string(), o.kind.to_string()),
            ("--lr", so.lr.to_string(), o.lr.to_string()),
            (
                "--momentum",
                so.momentum.to_string(),
                o.momentum.to_string(),
            ),
            (
                "--weight-decay",
                decay(so.weight_decay),
                decay(o.weight_decay),
            ),
        ];
        for (flag, got, want) in checks {
            if got != want {
                return Err(at(format!(
                    "the checkpoint was made with {flag} {got}, not {want}: resume with the \
                     same settings"
                )));
            }
        }
        if spec.activation != self.net.spec.activation {
            return Err(at(format!(
                "the checkpoint's network uses {}, not {}",
                spec.activation, self.net.spec.activation
            )));
        }
        let epoch: usize = get(key::EPOCH)?
            .parse()
            .map_err(|_| at("metadata 'checkpoint_epoch' is not a number".into()))?;
        let step: u64 = get(key::STEP)?
            .parse()
            .map_err(|_| at("metadata 'checkpoint_optimizer_step' is not a number".into()))?;
        let lr: f64 = get(key::OPTIM_LR)?
            .parse()
            .map_err(|_| at("metadata 'checkpoint_optimizer_lr' is not a number".into()))?;
        let history = parse_history(get(key::HISTORY)?)
            .ok_or_else(|| at("metadata 'checkpoint_history' is not valid".into()))?;
        let params: Vec<NamedTensor> = file
            .tensors
            .iter()
            .filter(|t| !t.name.starts_with(OPTIM_PREFIX))
            .cloned()
            .collect();
        // Files keep tensors sorted by name; the metadata keeps the optimizer's order.
        let order: Vec<String> = serde_json::from_str(get(key::BUFFERS)?).map_err(|_| {
            at("metadata 'checkpoint_optimizer_buffers' is not a list of names".into())
        })?;
        let mut buffers = Vec::with_capacity(order.len());
        for name in &order {
            let full = format!("{OPTIM_PREFIX}{name}");
            let t = file
                .get(&full)
                .ok_or_else(|| at(format!("tensor '{full}' is missing (optimizer state)")))?;
            buffers.push((name.clone(), t.data.clone()));
        }
        if let Some(extra) = file.tensors.iter().find(|t| {
            t.name.starts_with(OPTIM_PREFIX)
                && !order.iter().any(|n| t.name[OPTIM_PREFIX.len()..] == **n)
        }) {
            return Err(at(format!(
                "tensor '{}' is not part of the optimizer state",
                extra.name
            )));
        }
        let state = OptimizerState {
            optimizer: self.optimizer.name().to_string(),
            step,
            lr,
            buffers,
        };
        // Check everything before changing anything.
        let mut model = self.net.spec.build(0);
        model.load_state_dict(&params).map_err(|e| {
            at(format!(
                "{e} (the checkpoint is for {spec}, this run is {})",
                self.net.spec
            ))
        })?;
        let mut optimizer = self.config.optimizer.build()?;
        optimizer
            .load_state(&state)
            .map_err(|e| at(format!("optimizer state: {e}")))?;
        if history.len() != epoch {
            return Err(at(format!(
                "the checkpoint is at epoch {epoch} but has metrics for {}",
                history.len()
            )));
        }
        self.net.model = model;
        self.optimizer = optimizer;
        self.epoch = epoch;
        self.history = history;
        Ok(())
    }
}

fn opt_json(v: Option<f64>) -> serde_json::Value {
    v.and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn history_json(history: &[EpochMetrics]) -> String {
    let rows: Vec<serde_json::Value> = history
        .iter()
        .map(|m| {
            serde_json::json!({
                "epoch": m.epoch,
                "train_loss": opt_json(Some(m.train_loss)),
                "train_accuracy": opt_json(m.train_accuracy),
                "test_loss": opt_json(m.test_loss),
                "test_accuracy": opt_json(m.test_accuracy),
                "seconds": opt_json(Some(m.seconds)),
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

fn parse_history(s: &str) -> Option<Vec<EpochMetrics>> {
    let v: serde_json::Value = serde_json::from_str(s).ok()?;
    v.as_array()?
        .iter()
        .map(|r| {
            Some(EpochMetrics {
                epoch: r.get("epoch")?.as_u64()? as usize,
                train_loss: r.get("train_loss")?.as_f64().unwrap_or(f64::NAN),
                train_accuracy: r.get("train_accuracy")?.as_f64(),
                test_loss: r.get("test_loss")?.as_f64(),
                test_accuracy: r.get("test_accuracy")?.as_f64(),
                seconds: r.get("seconds")?.as_f64().unwrap_or(0.0),
            })
        })
        .collect()
}
