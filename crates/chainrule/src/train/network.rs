//! A trained network and its file: the architecture, the loss, the class names and the
//! standardisation stored with the weights, evaluation and prediction.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Evaluation, LossKind, TrainError, OPTIM_PREFIX};
use crate::data::ImageShape;
use crate::data::{Dataset, Standardizer, Targets};
use crate::model_file::{ModelFile, NamedTensor};
use crate::nn::{
    binary_cross_entropy_with_logits, cross_entropy, mse_loss, Activation, Context, ConvLayers,
    ConvSpec, MlpSpec, ModelSpec, Module, Sequential,
};
use crate::tensor::{Array, Tape, Tensor};

/// A prediction for one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prediction {
    /// A class index.
    Class(usize),
    /// A number.
    Value(f32),
}

/// A network with everything needed to use it on raw data: its architecture (a multi-layer
/// perceptron or a convolutional network), the loss it was trained with, the names of the
/// classes and the standardisation of the inputs.
///
/// [`Network::to_file`] gives a safetensors file that PyTorch loads into the equivalent
/// `torch.nn.Sequential` with `load_state_dict(safetensors.torch.load_file(path))`.
#[derive(Debug)]
pub struct Network {
    /// The architecture.
    pub spec: ModelSpec,
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
    /// The format of convolutional networks, whose architecture is their layers.
    pub const FORMAT_CONV: &str = "chainrule.convnet";
    /// The images a convolutional network takes, `CxHxW`.
    pub const INPUT_SHAPE: &str = "input_shape";
    pub const ARCHITECTURE: &str = "architecture";
    pub const ACTIVATION: &str = "activation";
    pub const DROPOUT: &str = "dropout";
    pub const LOSS: &str = "loss";
    pub const CLASSES: &str = "classes";
    pub const MEAN: &str = "standardize_mean";
    pub const STD: &str = "standardize_std";
    pub const TORCH: &str = "torch";
}

/// The network spec in a model file's metadata: the format, the architecture, the activation,
/// and the dropout of a perceptron or the input shape of a convolutional network.
pub(super) fn spec_of(file: &ModelFile, path: &Path) -> Result<ModelSpec, TrainError> {
    let at = |msg: String| TrainError::file(path, msg);
    let meta = |k: &str| {
        file.metadata.get(k).ok_or_else(|| {
            at(format!(
                "no '{k}' in the metadata: not a model file written by chainrule train"
            ))
        })
    };
    let activation = meta(key::ACTIVATION)?
        .parse::<Activation>()
        .map_err(|e| at(format!("metadata 'activation': {e}")))?;
    if file.metadata.get(key::FORMAT).map(String::as_str) == Some(key::FORMAT_CONV) {
        let layers: ConvLayers = meta(key::ARCHITECTURE)?
            .parse()
            .map_err(|e| at(format!("metadata 'architecture': {e}")))?;
        let input: ImageShape = meta(key::INPUT_SHAPE)?
            .parse()
            .map_err(|e| at(format!("metadata 'input_shape': {e}")))?;
        let spec = ConvSpec::new(input, layers, activation)
            .map_err(|e| at(format!("metadata 'architecture' on {input} images: {e}")))?;
        return Ok(spec.into());
    }
    let mut spec: MlpSpec = meta(key::ARCHITECTURE)?
        .parse()
        .map_err(|e| at(format!("metadata 'architecture': {e}")))?;
    spec.activation = activation;
    spec.dropout = match file.metadata.get(key::DROPOUT) {
        None => 0.0,
        Some(d) => d
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..1.0).contains(p))
            .ok_or_else(|| at(format!("metadata 'dropout': '{d}' is not in [0, 1)")))?,
    };
    Ok(spec.into())
}

fn json_floats(v: &[f32]) -> String {
    serde_json::to_string(v).expect("floats serialise")
}

impl Network {
    /// A new network for `spec` (an [`MlpSpec`] or a [`ConvSpec`]) with weights drawn from
    /// `seed`.
    ///
    /// The network is in evaluation mode (no dropout, batch normalisation by its running
    /// statistics), as a network to apply should be; the trainer switches it to training mode
    /// for its steps.
    pub fn new(spec: impl Into<ModelSpec>, loss: LossKind, seed: u64) -> Self {
        let spec = spec.into();
        let mut model = spec.build(seed);
        model.set_training(false);
        Network {
            model,
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
        metadata.insert(key::ARCHITECTURE.into(), self.spec.to_string());
        metadata.insert(key::ACTIVATION.into(), self.spec.activation().to_string());
        match &self.spec {
            ModelSpec::Mlp(s) => {
                metadata.insert(key::FORMAT.into(), key::FORMAT_VALUE.into());
                metadata.insert(key::DROPOUT.into(), s.dropout.to_string());
            }
            ModelSpec::Conv(s) => {
                metadata.insert(key::FORMAT.into(), key::FORMAT_CONV.into());
                metadata.insert(key::INPUT_SHAPE.into(), s.input.to_string());
            }
        }
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
        let at = |msg: String| TrainError::file(path, msg);
        if super::LmModel::is_lm_file(file) {
            return Err(at(
                "this is a language model (chainrule train --model gpt): give it to chainrule \
                 generate"
                    .into(),
            ));
        }
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
        model.set_training(false);
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
        Ok(self.to_file().save(path)?)
    }

    /// Loads a network saved by [`Network::save`].
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let file = ModelFile::load(path)?;
        Self::from_file(&file, path)
    }

    /// The raw outputs for already standardised rows, `[n, outputs]` row-major, computed in
    /// chunks under no-grad.
    pub fn outputs(&self, features: &[f32], n_features: usize) -> Result<Vec<f32>, TrainError> {
        if n_features != self.spec.inputs() {
            return Err(TrainError::invalid(format!(
                "the network takes {} features but the data has {n_features}",
                self.spec.inputs()
            )));
        }
        let n = features.len().checked_div(n_features).unwrap_or(0);
        let mut out = Vec::with_capacity(n * self.spec.outputs());
        let mut tape = Tape::<f32>::new();
        // 256 rows at a time: a convolutional network's first activations are 100 KB per
        // image, and a 1-epoch Fashion-MNIST run peaked at 2.2 GB with chunks of 1,024 (870 MB
        // with 256, no slower; the MLP's runs took the same time either way).
        const CHUNK: usize = 256;
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            tape.clear();
            let rows = &features[start * n_features..end * n_features];
            // The tape's pool gives the chunk's buffer back from one chunk to the next.
            let mut x = tape.buffer(rows.len());
            x.copy_from_slice(rows);
            let mut shape = vec![end - start];
            shape.extend(self.spec.input_dims());
            let x = tape.constant(Array::from_parts(x, shape));
            let y = tape.no_grad(|| self.model.forward(x, &mut Context::inference(&tape)))?;
            out.extend_from_slice(y.value().data());
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
            return Err(TrainError::invalid(format!(
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

pub(super) fn read_outputs(loss: LossKind, out: &[f32], k: usize) -> Vec<Prediction> {
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
pub(super) fn batch_loss<'t>(
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
            return Err(TrainError::invalid(format!(
                "the loss {} does not fit these targets",
                loss.name()
            )))
        }
    })
}
