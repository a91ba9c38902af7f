//! Dropout.

use super::{Context, Module};
use crate::tensor::{Array, Tensor, TensorError};

/// Zeroes each element with probability `p` in training mode and scales the others by
/// `1 / (1 - p)`, as `nn.Dropout`; the identity in evaluation mode. Masks are drawn from the
/// [`Context`]'s generator, so a seeded run is reproducible.
///
/// ```
/// use chainrule::nn::{Context, Dropout, Module};
/// use chainrule::tensor::{Array, Tape};
///
/// let mut drop = Dropout::new(0.5);
/// let tape = Tape::<f32>::new();
/// let x = tape.constant(Array::ones(&[1000]));
/// let y = drop.forward(x, &mut Context::new(&tape, 0)).unwrap().to_vec();
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// drop.set_training(false);
/// assert_eq!(drop.forward(x, &mut Context::new(&tape, 0)).unwrap().to_vec(), vec![1.0; 1000]);
/// ```
#[derive(Clone, Debug)]
pub struct Dropout {
    /// The probability of zeroing an element.
    pub p: f64,
    training: bool,
}

impl Dropout {
    /// Dropout with probability `p`, in training mode.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1)`.
    pub fn new(p: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&p),
            "the dropout probability must be in [0, 1), not {p}"
        );
        Dropout { p, training: true }
    }
}

impl Module for Dropout {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        if !self.training || self.p == 0.0 {
            return Ok(x);
        }
        let scale = (1.0 / (1.0 - self.p)) as f32;
        let shape = x.shape();
        let rng = ctx.rng();
        let mask: Vec<f32> = (0..x.numel())
            .map(|_| if rng.next_f64() < self.p { 0.0 } else { scale })
            .collect();
        let mask = ctx.tape().constant(Array::from_vec(mask, &shape)?);
        x.mul(mask)
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn describe(&self) -> String {
        format!("Dropout(p={}, inplace=False)", self.p)
    }
}
