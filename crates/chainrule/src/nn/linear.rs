//! The fully connected layer.

use super::{Context, Module};
use crate::tensor::{Array, Tensor, TensorError};
use crate::util::rand::Rng;

/// `y = x · Wᵀ + b`, as PyTorch's `nn.Linear`: the weight is `[out_features, in_features]` and
/// the bias `[out_features]`.
///
/// The initialisation is PyTorch's default (Kaiming-uniform with `a = √5`): weight and bias
/// uniform in `±1/√in_features`, drawn from the seeded generator given.
///
/// ```
/// use chainrule::nn::{Linear, Module};
/// use chainrule::rand::Rng;
///
/// let layer = Linear::new(64, 10, &mut Rng::new(0));
/// assert_eq!(layer.weight.shape(), &[10, 64]);
/// assert!(layer.weight.data().iter().all(|w| w.abs() <= 0.125));
/// assert_eq!(layer.describe(), "Linear(in_features=64, out_features=10, bias=True)");
/// ```
#[derive(Clone, Debug)]
pub struct Linear {
    /// The weight, `[out_features, in_features]`.
    pub weight: Array<f32>,
    /// The bias, `[out_features]`.
    pub bias: Array<f32>,
}

impl Linear {
    /// A layer from `in_features` to `out_features`, initialised as PyTorch does.
    pub fn new(in_features: usize, out_features: usize, rng: &mut Rng) -> Self {
        let bound = if in_features == 0 {
            0.0
        } else {
            1.0 / (in_features as f64).sqrt()
        };
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform(-bound, bound) as f32).collect() };
        let w = draw(out_features * in_features);
        let b = draw(out_features);
        Linear {
            weight: Array::from_vec(w, &[out_features, in_features]).expect("sizes agree"),
            bias: Array::from_vec(b, &[out_features]).expect("sizes agree"),
        }
    }

    /// The number of inputs.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The number of outputs.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl Module for Linear {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let w = ctx.param(&self.weight);
        let b = ctx.param(&self.bias);
        x.linear(w, b)
    }

    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        vec![("weight".into(), &self.weight), ("bias".into(), &self.bias)]
    }

    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        vec![
            ("weight".into(), &mut self.weight),
            ("bias".into(), &mut self.bias),
        ]
    }

    fn for_each_parameter_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Array<f32>)) {
        f(&mut self.weight);
        f(&mut self.bias);
    }

    fn describe(&self) -> String {
        format!(
            "Linear(in_features={}, out_features={}, bias=True)",
            self.in_features(),
            self.out_features()
        )
    }
}
