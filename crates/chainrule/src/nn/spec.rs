//! A network's architecture of either kind, and the network as `--model` names it before the
//! data is known.

use std::fmt;
use std::str::FromStr;

use super::{Activation, ConvLayers, ConvSpec, LayerSpec, MlpSpec, Sequential, SpecError};
use crate::data::ImageShape;

/// A network's architecture: a multi-layer perceptron on rows of features, or a convolutional
/// network on images.
///
/// ```
/// use chainrule::data::ImageShape;
/// use chainrule::nn::{ModelChoice, ModelSpec};
///
/// let mlp: ModelSpec = "64-128-10".parse::<chainrule::nn::MlpSpec>().unwrap().into();
/// assert_eq!((mlp.inputs(), mlp.outputs(), mlp.input_dims()), (64, 10, vec![64]));
/// let cnn = "cnn".parse::<ModelChoice>().unwrap()
///     .resolve(64, Some(ImageShape::new(1, 8, 8)), 10, None, None)
///     .unwrap();
/// assert_eq!(cnn.input_dims(), vec![1, 8, 8]);
/// assert_eq!(cnn.to_string(), "c32bn-c64bn-p2-f128-d0.3-10");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum ModelSpec {
    /// Fully connected layers ([`MlpSpec`]).
    Mlp(MlpSpec),
    /// Convolutions, pooling and fully connected layers ([`ConvSpec`]).
    Conv(ConvSpec),
}

impl ModelSpec {
    /// The number of input values per sample.
    pub fn inputs(&self) -> usize {
        match self {
            ModelSpec::Mlp(s) => s.inputs(),
            ModelSpec::Conv(s) => s.inputs(),
        }
    }

    /// The number of outputs.
    pub fn outputs(&self) -> usize {
        match self {
            ModelSpec::Mlp(s) => s.outputs(),
            ModelSpec::Conv(s) => s.outputs(),
        }
    }

    /// The shape of one sample as the network takes it: `[features]`, or `[channels, height,
    /// width]` (a batch adds a first dimension).
    pub fn input_dims(&self) -> Vec<usize> {
        match self {
            ModelSpec::Mlp(s) => vec![s.inputs()],
            ModelSpec::Conv(s) => s.input.dims().to_vec(),
        }
    }

    /// The images a convolutional network takes (`None` for a perceptron).
    pub fn image(&self) -> Option<ImageShape> {
        match self {
            ModelSpec::Mlp(_) => None,
            ModelSpec::Conv(s) => Some(s.input),
        }
    }

    /// The activation between layers.
    pub fn activation(&self) -> Activation {
        match self {
            ModelSpec::Mlp(s) => s.activation,
            ModelSpec::Conv(s) => s.activation,
        }
    }

    /// The network, with weights drawn from `seed` (PyTorch's default initialisations).
    pub fn build(&self, seed: u64) -> Sequential {
        match self {
            ModelSpec::Mlp(s) => s.build(seed),
            ModelSpec::Conv(s) => s.build(seed),
        }
    }

    /// The PyTorch code that builds the same `torch.nn.Sequential`.
    pub fn torch(&self) -> String {
        match self {
            ModelSpec::Mlp(s) => s.torch(),
            ModelSpec::Conv(s) => s.torch(),
        }
    }
}

impl fmt::Display for ModelSpec {
    /// As `--model` writes it: `64-128-10`, or `c32bn-p2-...-10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::Mlp(s) => s.fmt(f),
            ModelSpec::Conv(s) => s.fmt(f),
        }
    }
}

impl From<MlpSpec> for ModelSpec {
    fn from(s: MlpSpec) -> Self {
        ModelSpec::Mlp(s)
    }
}

impl From<ConvSpec> for ModelSpec {
    fn from(s: ConvSpec) -> Self {
        ModelSpec::Conv(s)
    }
}

/// A network as `--model` names it, before the data is known: layer widths (`64-128-10`), a
/// convolutional stack (`c32bn-p2-c64bn-p2-f128-10`, see [`LayerSpec`]), or `cnn`, the default
/// convolutional network for the data's images ([`ConvSpec::named_default`]).
///
/// ```
/// use chainrule::data::ImageShape;
/// use chainrule::nn::ModelChoice;
///
/// let m: ModelChoice = "c16-p2-10".parse().unwrap();
/// let fashion = Some(ImageShape::new(1, 28, 28));
/// let spec = m.resolve(784, fashion, 10, None, Some(0.5)).unwrap();
/// assert_eq!(spec.to_string(), "c16-p2-10");
/// let spec = "c16-p2-f64-10".parse::<ModelChoice>().unwrap().resolve(784, fashion, 10, None, Some(0.5));
/// assert_eq!(spec.unwrap().to_string(), "c16-p2-f64-d0.5-10");
/// let err = m.resolve(4, None, 3, None, None).unwrap_err();
/// assert!(err.to_string().starts_with("--model c16-p2-10 has convolutions"), "{err}");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum ModelChoice {
    /// Widths from inputs to outputs: a multi-layer perceptron.
    Widths(Vec<usize>),
    /// The layers of a convolutional network.
    Layers(ConvLayers),
    /// The default convolutional network for the data.
    Cnn,
}

impl fmt::Display for ModelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelChoice::Widths(w) => {
                let s: Vec<String> = w.iter().map(usize::to_string).collect();
                f.write_str(&s.join("-"))
            }
            ModelChoice::Layers(l) => l.fmt(f),
            ModelChoice::Cnn => f.write_str("cnn"),
        }
    }
}

impl FromStr for ModelChoice {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        if s.trim() == "cnn" {
            return Ok(ModelChoice::Cnn);
        }
        let widths: Option<Vec<usize>> =
            s.trim().split('-').map(|p| p.trim().parse().ok()).collect();
        match widths {
            Some(w) => MlpSpec::new(w).map(|m| ModelChoice::Widths(m.sizes)),
            None => Ok(ModelChoice::Layers(s.parse()?)),
        }
    }
}

impl ModelChoice {
    /// The architecture for data of `features` values per sample, shaped as `image` (if the
    /// data is images), with `outputs` outputs; `activation` and `dropout` when given (a
    /// dropout after each hidden fully connected layer, replacing the default network's).
    pub fn resolve(
        &self,
        features: usize,
        image: Option<ImageShape>,
        outputs: usize,
        activation: Option<Activation>,
        dropout: Option<f64>,
    ) -> Result<ModelSpec, SpecError> {
        let needs_images = || SpecError::NeedsImages {
            spec: self.to_string(),
            features,
        };
        match self {
            ModelChoice::Widths(w) => {
                let mut spec = MlpSpec::new(w.clone())?;
                spec.activation = activation.unwrap_or_default();
                spec.dropout = dropout.unwrap_or(0.0);
                Ok(spec.into())
            }
            ModelChoice::Layers(layers) => {
                let image = image.ok_or_else(needs_images)?;
                let layers = with_dropout(&layers.0, dropout);
                let spec = ConvSpec::new(image, layers, activation.unwrap_or_default())?;
                Ok(spec.into())
            }
            ModelChoice::Cnn => {
                let image = image.ok_or_else(needs_images)?;
                let mut spec = ConvSpec::named_default(image, outputs)?;
                if activation.is_some() || dropout.is_some() {
                    let layers: Vec<LayerSpec> = spec
                        .layers
                        .into_iter()
                        .filter(|l| !matches!(l, LayerSpec::Dropout(_)))
                        .collect();
                    let dropout = Some(dropout.unwrap_or(0.3));
                    spec = ConvSpec::new(
                        image,
                        with_dropout(&layers, dropout),
                        activation.unwrap_or_default(),
                    )?;
                }
                Ok(spec.into())
            }
        }
    }
}

/// `layers` with a dropout of `p` after each hidden fully connected layer (none for 0).
fn with_dropout(layers: &[LayerSpec], p: Option<f64>) -> ConvLayers {
    let mut out = Vec::with_capacity(layers.len() + 2);
    for (i, l) in layers.iter().enumerate() {
        out.push(l.clone());
        if let (LayerSpec::Dense { .. }, Some(p)) = (l, p) {
            if p > 0.0 && i + 1 < layers.len() {
                out.push(LayerSpec::Dropout(p));
            }
        }
    }
    ConvLayers(out)
}
