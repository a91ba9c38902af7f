//! Neural networks on the tensor engine: layers as [`Module`]s, a [`Sequential`] container, an MLP
//! builder from a spec such as `64-128-10`, the usual losses, and the pieces of a transformer
//! ([`Embedding`], [`LayerNorm`], [`CausalSelfAttention`], [`MLP`], [`Block`]) with nanoGPT's
//! [`GPT`].
//!
//! Parameters live in the modules as [`Array`](crate::tensor::Array)s. A forward pass records
//! them on a [`Tape`](crate::tensor::Tape) through a [`Context`] (as variables when training, as
//! constants when evaluating), so that after `backward` the gradients can be read back in the
//! order of [`Module::named_parameters`]. The names and layouts are those of PyTorch's
//! `state_dict` for the equivalent `torch.nn.Sequential` (`0.weight` is `[out, in]`).
//!
//! ```
//! use chainrule::nn::{cross_entropy, Context, MlpSpec, Module};
//! use chainrule::tensor::{Array, Tape};
//!
//! let spec: MlpSpec = "4-8-3".parse().unwrap();
//! let net = spec.build(0);
//! let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
//!
//! let tape = Tape::<f32>::new();
//! let mut ctx = Context::new(&tape, 0);
//! let x = tape.constant(Array::randn(&[5, 4], 1));
//! let logits = net.forward(x, &mut ctx).unwrap();
//! let loss = cross_entropy(logits, &[0, 1, 2, 0, 1]).unwrap();
//! loss.backward().unwrap();
//! assert_eq!(ctx.parameters().len(), 4);
//! assert_eq!(ctx.parameters()[0].grad().unwrap().shape(), &[8, 4]);
//! ```

mod activation;
mod batchnorm;
mod conv;
mod convnet;
mod dropout;
mod embedding;
mod flatten;
mod gpt;
mod layer_norm;
mod linear;
mod loss;
mod mlp;
mod module;
mod pool;
mod residual;
mod sequential;
mod spec;
mod transformer;

pub use activation::{
    Activation, LeakyReLU, ReLU, SiLU, Sigmoid, Softplus, Tanh, UnknownActivation, ELU, GELU,
};
pub use batchnorm::{BatchNorm1d, BatchNorm2d, RunningStats};
pub use conv::Conv2d;
pub use convnet::{ConvLayers, ConvSpec, LayerSpec, MAX_PARAMETERS};
pub use dropout::Dropout;
pub use embedding::{embedding, Embedding};
pub use flatten::Flatten;
pub use gpt::{GptConfig, GptConfigError, Sampling, GPT};
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use loss::{
    binary_cross_entropy_with_logits, cross_entropy, cross_entropy_with, hinge_loss, mse_loss,
    CrossEntropyOptions, Reduction, Target,
};
pub use mlp::{MlpSpec, SpecError};
pub use module::{Context, Module, StateDictError};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use residual::Residual;
pub use sequential::Sequential;
pub use spec::{ModelChoice, ModelSpec};
pub use transformer::{Block, CausalSelfAttention, Projection, MLP};

#[cfg(test)]
mod tests;
