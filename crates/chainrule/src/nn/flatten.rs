//! Flattening images into rows, between the convolutional and the fully connected layers.

use super::{Context, Module};
use crate::tensor::{Tensor, TensorError};

/// Joins dimensions `start_dim..=end_dim` into one, as PyTorch's `nn.Flatten` (by default all
/// but the batch dimension: `[batch, 64, 7, 7]` becomes `[batch, 3136]`).
///
/// ```
/// use chainrule::nn::{Context, Flatten, Module};
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f32>::new();
/// let x = tape.constant(Array::zeros(&[8, 64, 7, 7]));
/// let y = Flatten::default().forward(x, &mut Context::inference(&tape)).unwrap();
/// assert_eq!(y.shape(), vec![8, 3136]);
/// assert_eq!(Flatten::default().describe(), "Flatten(start_dim=1, end_dim=-1)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flatten {
    /// The first dimension joined.
    pub start_dim: isize,
    /// The last dimension joined (negative: from the end).
    pub end_dim: isize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten {
            start_dim: 1,
            end_dim: -1,
        }
    }
}

impl Module for Flatten {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        _ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        x.flatten(self.start_dim, self.end_dim)
    }

    fn describe(&self) -> String {
        format!(
            "Flatten(start_dim={}, end_dim={})",
            self.start_dim, self.end_dim
        )
    }
}
