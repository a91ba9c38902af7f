//! Layer normalisation.

use super::{Context, Module};
use crate::tensor::{Array, Tensor, TensorError};

/// Normalises each vector of the last dimension to mean 0 and variance 1, then scales it by a
/// learned `weight` and shifts it by a learned `bias`, as PyTorch's `nn.LayerNorm` over one
/// dimension (ε = 1e-5). Either may be left out: nanoGPT's `LayerNorm(ndim, bias=False)` has a
/// weight and no bias.
///
/// ```
/// use chainrule::nn::{Context, LayerNorm, Module};
/// use chainrule::tensor::{Array, Tape};
///
/// let ln = LayerNorm::new(4, false);
/// let names: Vec<String> = ln.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight"]);
/// let tape = Tape::<f32>::new();
/// let x = tape.constant(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 4]).unwrap());
/// let y = ln.forward(x, &mut Context::inference(&tape)).unwrap().to_vec();
/// assert!(y.iter().sum::<f32>().abs() < 1e-6);
/// assert_eq!(ln.describe(), "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=False)");
/// ```
#[derive(Clone, Debug)]
pub struct LayerNorm {
    /// The scale, `[dim]` (ones at first), if learned.
    pub weight: Option<Array<f32>>,
    /// The shift, `[dim]` (zeros at first), if learned.
    pub bias: Option<Array<f32>>,
    /// The size of the last dimension.
    pub dim: usize,
    /// The term added to the variance.
    pub eps: f64,
}

impl LayerNorm {
    /// A layer over vectors of `dim` numbers with a weight, and a bias when `bias` is true.
    pub fn new(dim: usize, bias: bool) -> Self {
        LayerNorm {
            weight: Some(Array::ones(&[dim])),
            bias: bias.then(|| Array::zeros(&[dim])),
            dim,
            eps: 1e-5,
        }
    }

    /// A layer with neither weight nor bias (PyTorch's `elementwise_affine=False`).
    pub fn plain(dim: usize) -> Self {
        LayerNorm {
            weight: None,
            bias: None,
            dim,
            eps: 1e-5,
        }
    }
}

impl Module for LayerNorm {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let w = self.weight.as_ref().map(|w| ctx.param(w));
        let b = self.bias.as_ref().map(|b| ctx.param(b));
        x.layer_norm(&[self.dim], w, b, self.eps)
    }

    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        let w = self.weight.iter().map(|w| ("weight".to_string(), w));
        w.chain(self.bias.iter().map(|b| ("bias".to_string(), b)))
            .collect()
    }

    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        let w = self.weight.iter_mut().map(|w| ("weight".to_string(), w));
        w.chain(self.bias.iter_mut().map(|b| ("bias".to_string(), b)))
            .collect()
    }

    fn describe(&self) -> String {
        let affine = if self.weight.is_some() {
            "True"
        } else {
            "False"
        };
        let bias = if self.bias.is_some() { "True" } else { "False" };
        format!(
            "LayerNorm(({},), eps={}, elementwise_affine={affine}, bias={bias})",
            self.dim,
            python_float(self.eps)
        )
    }
}

/// A number as Python's `repr` writes it, for the small ones an epsilon is: `1e-05`.
fn python_float(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-4 {
        let s = format!("{x:e}");
        match s.split_once('e') {
            Some((m, e)) if e.len() == 2 && e.starts_with('-') => format!("{m}e-0{}", &e[1..]),
            Some((m, e)) => format!("{m}e{e}"),
            None => s,
        }
    } else {
        format!("{x:?}")
    }
}
