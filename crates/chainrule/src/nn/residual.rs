//! Residual connections: a block whose output is added to its input.

use super::{Context, Module, Sequential};
use crate::model_file::NamedTensor;
use crate::tensor::{Array, Tensor, TensorError};

/// `y = x + f(x)` for a chain of layers `f` that keeps the shape of its input, as the blocks of
/// a residual network.
///
/// The sum's local derivative with respect to `x` is the identity, so on its way back the
/// gradient reaches the block's input unchanged, plus what flows through `f`: however deep the
/// stack, the first layers get a gradient as large as the last ones.
///
/// Its parameters and buffers keep the names they have in `f` (`0.weight`, ...), so in a
/// [`Sequential`] the first layer of block 3 is `3.0.weight`.
///
/// ```
/// use chainrule::nn::{Context, Linear, Module, ReLU, Residual, Sequential};
/// use chainrule::rand::Rng;
/// use chainrule::tensor::{Array, Tape};
///
/// let mut rng = Rng::new(0);
/// let block = Residual::new(Sequential::new().with(Linear::new(4, 4, &mut rng)).with(ReLU));
/// let tape = Tape::<f32>::new();
/// let x = tape.var(Array::ones(&[2, 4]));
/// let y = block.forward(x, &mut Context::new(&tape, 0)).unwrap();
/// assert_eq!(y.shape(), vec![2, 4]);
/// assert_eq!(block.named_parameters()[0].0, "0.weight");
/// ```
#[derive(Debug)]
pub struct Residual {
    /// The layers whose output is added to the input.
    pub inner: Sequential,
}

impl Residual {
    /// The block `x + inner(x)`.
    pub fn new(inner: Sequential) -> Self {
        Residual { inner }
    }
}

impl Module for Residual {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let fx = self.inner.forward(x, ctx)?;
        if fx.shape() != x.shape() {
            return Err(TensorError::new(
                "residual",
                format!(
                    "the block turns {:?} into {:?}; a residual block must keep the shape",
                    x.shape(),
                    fx.shape()
                ),
            ));
        }
        x.add(fx)
    }

    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        self.inner.named_parameters()
    }

    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        self.inner.parameters_mut()
    }

    fn named_buffers(&self) -> Vec<NamedTensor> {
        self.inner.named_buffers()
    }

    fn set_buffers(&mut self, buffers: &[NamedTensor]) {
        self.inner.set_buffers(buffers)
    }

    fn set_training(&mut self, training: bool) {
        self.inner.set_training(training)
    }

    fn describe(&self) -> String {
        let layers: Vec<String> = self.inner.layers().iter().map(|l| l.describe()).collect();
        format!("Residual({})", layers.join(", "))
    }
}
