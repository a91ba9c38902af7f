//! Multi-layer perceptrons from a spec such as `64-128-10`.

use std::fmt;
use std::str::FromStr;

use super::{Activation, Dropout, Linear, Sequential};
use crate::util::rand::Rng;

/// The shape of a multi-layer perceptron: layer widths from the input to the output, the
/// activation between layers, and an optional dropout after each activation.
///
/// The network it builds is the `torch.nn.Sequential` of `Linear`, activation (and `Dropout`
/// when `dropout > 0`), ..., ending with a `Linear`, so its parameter names are PyTorch's.
///
/// ```
/// use chainrule::nn::{Activation, MlpSpec, Module};
///
/// let mut spec: MlpSpec = "64-128-10".parse().unwrap();
/// assert_eq!(spec.sizes, vec![64, 128, 10]);
/// spec.activation = Activation::Tanh;
/// let net = spec.build(0);
/// assert_eq!(net.len(), 3); // Linear, Tanh, Linear
/// assert_eq!(net.num_parameters(), 64 * 128 + 128 + 128 * 10 + 10);
/// assert_eq!(spec.to_string(), "64-128-10");
/// assert!("64".parse::<MlpSpec>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MlpSpec {
    /// The widths: inputs, hidden layers, outputs (at least two numbers).
    pub sizes: Vec<usize>,
    /// The activation after each hidden layer.
    pub activation: Activation,
    /// The dropout probability after each activation (0: no dropout layers).
    pub dropout: f64,
}

/// A spec that cannot describe a network.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// Fewer than two widths: a network needs an input and an output.
    TooFewWidths {
        /// The number of widths given.
        count: usize,
    },
    /// A layer of width 0.
    ZeroWidth {
        /// The layer, from 0 (the inputs).
        layer: usize,
    },
    /// A part of the text between dashes that is not a width.
    NotAWidth {
        /// The whole spec as given.
        spec: String,
        /// The part that is not a number.
        part: String,
    },
    /// A part of a convolutional spec that is not a layer.
    NotALayer {
        /// The whole spec as given.
        spec: String,
        /// The part.
        part: String,
        /// Why it is not one.
        reason: String,
    },
    /// A convolutional spec that does not end with the output width.
    NoOutputs {
        /// The whole spec as given.
        spec: String,
    },
    /// A convolutional network for data without images.
    NeedsImages {
        /// The network as given.
        spec: String,
        /// The number of features per sample of the data.
        features: usize,
    },
    /// A layer that does not fit the output of the layers before it (or the images).
    DoesNotFit {
        /// The layer, from 1.
        layer: usize,
        /// Its part of the spec.
        part: String,
        /// Why, with the sizes.
        reason: String,
    },
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::TooFewWidths { count } => write!(
                f,
                "a network needs at least an input and an output width, e.g. 64-10 (got {count})"
            ),
            SpecError::ZeroWidth { layer } => write!(f, "layer {layer} has width 0"),
            SpecError::NotAWidth { spec, part } => write!(
                f,
                "cannot read the network '{spec}': '{part}' is not a layer width (write widths \
                 from input to output, e.g. 64-128-10)"
            ),
            SpecError::NotALayer { spec, part, reason } => write!(
                f,
                "cannot read the network '{spec}': '{part}' is not a layer: {reason} (see \
                 `chainrule train --help` for the layers, e.g. c32bn-p2-c64bn-p2-f128-10)"
            ),
            SpecError::NeedsImages { spec, features } => write!(
                f,
                "--model {spec} has convolutions, which take images, but the data is rows of \
                 {features} features (a CSV file of images can say its shape with --image \
                 CxHxW)"
            ),
            SpecError::NoOutputs { spec } => write!(
                f,
                "the network '{spec}' must end with its number of outputs, e.g. ...-f128-10"
            ),
            SpecError::DoesNotFit {
                layer,
                part,
                reason,
            } => write!(
                f,
                "layer {layer} of the network ({part}) does not fit: {reason}"
            ),
        }
    }
}

impl std::error::Error for SpecError {}

impl MlpSpec {
    /// A spec with these widths, ReLU and no dropout.
    pub fn new(sizes: Vec<usize>) -> Result<Self, SpecError> {
        if sizes.len() < 2 {
            return Err(SpecError::TooFewWidths { count: sizes.len() });
        }
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return Err(SpecError::ZeroWidth { layer: i });
        }
        Ok(MlpSpec {
            sizes,
            activation: Activation::Relu,
            dropout: 0.0,
        })
    }

    /// The number of inputs.
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    /// The number of outputs.
    pub fn outputs(&self) -> usize {
        *self.sizes.last().expect("at least two sizes")
    }

    /// The network, with weights drawn from `seed` (PyTorch's default initialisation).
    pub fn build(&self, seed: u64) -> Sequential {
        let mut rng = Rng::new(seed);
        let mut net = Sequential::new();
        let n = self.sizes.len() - 1;
        for (i, w) in self.sizes.windows(2).enumerate() {
            net.push(Box::new(Linear::new(w[0], w[1], &mut rng)));
            if i + 1 < n {
                net.push(self.activation.layer());
                if self.dropout > 0.0 {
                    net.push(Box::new(Dropout::new(self.dropout)));
                }
            }
        }
        net
    }

    /// The PyTorch code that builds the same network, e.g.
    /// `nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))`.
    pub fn torch(&self) -> String {
        let act = torch_activation(self.activation);
        let n = self.sizes.len() - 1;
        let mut parts = Vec::new();
        for (i, w) in self.sizes.windows(2).enumerate() {
            parts.push(format!("nn.Linear({}, {})", w[0], w[1]));
            if i + 1 < n {
                parts.push(act.to_string());
                if self.dropout > 0.0 {
                    parts.push(format!("nn.Dropout({})", self.dropout));
                }
            }
        }
        format!("nn.Sequential({})", parts.join(", "))
    }
}

/// The PyTorch code of an activation layer (`nn.ReLU()`).
pub(crate) fn torch_activation(a: Activation) -> String {
    format!("nn.{}()", a.torch_class())
}

impl fmt::Display for MlpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.sizes.iter().map(|s| s.to_string()).collect();
        f.write_str(&s.join("-"))
    }
}

impl FromStr for MlpSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let sizes = s
            .trim()
            .split('-')
            .map(|p| {
                p.trim().parse::<usize>().map_err(|_| SpecError::NotAWidth {
                    spec: s.to_string(),
                    part: p.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        MlpSpec::new(sizes)
    }
}
