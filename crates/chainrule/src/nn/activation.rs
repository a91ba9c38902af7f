//! Element-wise activation layers, and the choice of one for an MLP by name.

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

/// `x · sigmoid(x)`, as `nn.SiLU`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SiLU;

/// `ln(1 + e^x)`, as `nn.Softplus()` with its defaults (`beta = 1`, `threshold = 20`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Softplus;

/// `x` where `x > 0`, `negative_slope · x` elsewhere, as `nn.LeakyReLU` (default slope 0.01).
///
/// ```
/// use chainrule::nn::{LeakyReLU, Module};
///
/// assert_eq!(LeakyReLU::default().describe(), "LeakyReLU(negative_slope=0.01)");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LeakyReLU {
    /// The slope for negative inputs.
    pub negative_slope: f64,
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU {
            negative_slope: 0.01,
        }
    }
}

/// `x` where `x > 0`, `alpha · (e^x − 1)` elsewhere, as `nn.ELU` (default `alpha = 1`).
#[derive(Clone, Copy, Debug)]
pub struct ELU {
    /// The scale of the negative side.
    pub alpha: f64,
}

impl Default for ELU {
    fn default() -> Self {
        ELU { alpha: 1.0 }
    }
}

impl Module for LeakyReLU {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        _ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        Ok(x.leaky_relu(self.negative_slope))
    }

    fn describe(&self) -> String {
        format!("LeakyReLU(negative_slope={:?})", self.negative_slope)
    }
}

impl Module for ELU {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        _ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        Ok(x.elu(self.alpha))
    }

    fn describe(&self) -> String {
        format!("ELU(alpha={:?})", self.alpha)
    }
}

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
activation_module!(SiLU, silu, "SiLU()");
activation_module!(Softplus, softplus, "Softplus(beta=1.0, threshold=20.0)");

/// The choice of activation for an MLP or a convolutional network, by name: `relu`, `tanh`,
/// `sigmoid`, `gelu`, `silu`, `elu`, `leaky_relu`, `softplus` (the last four with PyTorch's
/// default parameters).
///
/// ```
/// use chainrule::nn::Activation;
///
/// let a: Activation = "gelu".parse().unwrap();
/// assert_eq!(a, Activation::Gelu);
/// assert_eq!(a.to_string(), "gelu");
/// assert_eq!(Activation::LeakyRelu.torch_class(), "LeakyReLU");
/// let err = "swish".parse::<Activation>().unwrap_err();
/// assert!(err.to_string().contains("silu, elu, leaky_relu or softplus"));
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
    /// [`SiLU`].
    Silu,
    /// [`ELU`] with `alpha = 1`.
    Elu,
    /// [`LeakyReLU`] with `negative_slope = 0.01`.
    LeakyRelu,
    /// [`Softplus`] with `beta = 1`, `threshold = 20`.
    Softplus,
}

impl Activation {
    /// All activations, in the order of their names in help texts.
    pub const ALL: [Activation; 8] = [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::Silu,
        Activation::Elu,
        Activation::LeakyRelu,
        Activation::Softplus,
    ];

    /// The layer.
    pub fn layer(self) -> Box<dyn Module + Send + Sync> {
        match self {
            Activation::Relu => Box::new(ReLU),
            Activation::Tanh => Box::new(Tanh),
            Activation::Sigmoid => Box::new(Sigmoid),
            Activation::Gelu => Box::new(GELU),
            Activation::Silu => Box::new(SiLU),
            Activation::Elu => Box::new(ELU::default()),
            Activation::LeakyRelu => Box::new(LeakyReLU::default()),
            Activation::Softplus => Box::new(Softplus),
        }
    }

    /// The name (`relu`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
            Activation::Elu => "elu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Softplus => "softplus",
        }
    }

    /// The name of PyTorch's module for it (`ReLU`, `LeakyReLU`, ...), whose defaults are this
    /// activation's parameters: `nn.{class}()` builds it.
    pub fn torch_class(self) -> &'static str {
        match self {
            Activation::Relu => "ReLU",
            Activation::Tanh => "Tanh",
            Activation::Sigmoid => "Sigmoid",
            Activation::Gelu => "GELU",
            Activation::Silu => "SiLU",
            Activation::Elu => "ELU",
            Activation::LeakyRelu => "LeakyReLU",
            Activation::Softplus => "Softplus",
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
        let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
        let (last, rest) = names.split_last().expect("activations exist");
        write!(
            f,
            "unknown activation '{}' (choose {} or {last})",
            self.name,
            rest.join(", ")
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
