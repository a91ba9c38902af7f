//! Element-wise activation layers.

use std::fmt;
use std::str::FromStr;

use super::{Context, Module};
use crate::tensor::{Tensor, TensorError};

/// `max(0, x)`, as `nn.ReLU`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReLU;

/// `tanh x`, as `nn.Tanh`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tanh;

/// `1 / (1 + e^-x)`, as `nn.Sigmoid`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sigmoid;

/// `x · Φ(x)` with the exact normal CDF, as `nn.GELU()` (not the tanh approximation).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GELU;

macro_rules! activation_module {
    ($ty:ty, $method:ident, $torch:expr) => {
        impl Module for $ty {
            fn forward<'t>(
                &self,
                x: Tensor<'t, f32>,
                _ctx: &mut Context<'t>,
            ) -> Result<Tensor<'t, f32>, TensorError> {
                Ok(x.$method())
            }

            fn describe(&self) -> String {
                $torch.to_string()
            }
        }
    };
}

activation_module!(ReLU, relu, "ReLU()");
activation_module!(Tanh, tanh, "Tanh()");
activation_module!(Sigmoid, sigmoid, "Sigmoid()");
activation_module!(GELU, gelu, "GELU(approximate='none')");

/// The choice of activation for an MLP, by name: `relu`, `tanh`, `sigmoid`, `gelu`.
///
/// ```
/// use chainrule::nn::Activation;
///
/// let a: Activation = "gelu".parse().unwrap();
/// assert_eq!(a, Activation::Gelu);
/// assert_eq!(a.to_string(), "gelu");
/// assert!("swish".parse::<Activation>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Activation {
    /// [`ReLU`].
    #[default]
    Relu,
    /// [`Tanh`].
    Tanh,
    /// [`Sigmoid`].
    Sigmoid,
    /// [`GELU`].
    Gelu,
}

impl Activation {
    /// All activations, in the order of their names in help texts.
    pub const ALL: [Activation; 4] = [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
    ];

    /// The layer.
    pub fn layer(self) -> Box<dyn Module + Send + Sync> {
        match self {
            Activation::Relu => Box::new(ReLU),
            Activation::Tanh => Box::new(Tanh),
            Activation::Sigmoid => Box::new(Sigmoid),
            Activation::Gelu => Box::new(GELU),
        }
    }

    /// The name (`relu`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Gelu => "gelu",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not an [`Activation`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownActivation {
    /// The name given.
    pub name: String,
}

impl fmt::Display for UnknownActivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown activation '{}' (choose relu, tanh, sigmoid or gelu)",
            self.name
        )
    }
}

impl std::error::Error for UnknownActivation {}

impl FromStr for Activation {
    type Err = UnknownActivation;

    fn from_str(s: &str) -> Result<Self, UnknownActivation> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownActivation {
                name: s.to_string(),
            })
    }
}
