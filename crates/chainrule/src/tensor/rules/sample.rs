//! Sampling: `multinomial`, category indices drawn from rows of probabilities (as
//! `torch.multinomial`), for sampling a model's next token.
//!
//! A draw is not differentiable (its result is indices), so nothing is recorded: the
//! probabilities are read from the tensor's value. The generator is the crate's seeded
//! [`Rng`], so a sample is reproducible from its seed.

use crate::tensor::array::{Array, Element};
use crate::tensor::shape::{fmt_shape, Result, TensorError};
use crate::tensor::tape::Tensor;
use crate::util::rand::Rng;

/// A `multinomial` error.
fn refuse(why: impl Into<String>) -> TensorError {
    TensorError::new("multinomial", why)
}

/// Draws `num_samples` categories from one row of weights into `out`.
fn draw_row<T: Element>(
    row_index: usize,
    weights: &[T],
    replacement: bool,
    rng: &mut Rng,
    cumulative: &mut Vec<f64>,
    out: &mut [usize],
) -> Result<()> {
    let bad = weights
        .iter()
        .map(|w| w.value())
        .find(|w| !(w.is_finite() && *w >= 0.0));
    if let Some(w) = bad {
        return Err(refuse(format!(
            "row {row_index} has the weight {w}: weights must be finite and not negative"
        )));
    }
    // Running sums in f64: a draw `u` in [0, total) picks the first category whose sum passes
    // it, so a category of weight zero (whose sum equals the one before) is never picked.
    cumulative.clear();
    let mut total = 0.0;
    for w in weights {
        total += w.value();
        cumulative.push(total);
    }
    let positive = weights.iter().filter(|w| w.value() > 0.0).count();
    if positive == 0 {
        return Err(refuse(format!(
            "row {row_index} has no positive weight to draw from"
        )));
    }
    let last_positive = weights
        .iter()
        .rposition(|w| w.value() > 0.0)
        .expect("a positive weight");
    if replacement {
        for o in out.iter_mut() {
            let u = rng.next_f64() * total;
            // `u` can round up to `total`: then the last category that can be drawn.
            *o = cumulative.partition_point(|&c| c <= u).min(last_positive);
        }
        return Ok(());
    }
    if out.len() > positive {
        return Err(refuse(format!(
            "cannot draw {} without replacement from row {row_index}, which has {positive} \
             categories of positive weight",
            out.len()
        )));
    }
    // Without replacement: each draw from the weights left, the one drawn then removed.
    let mut left: Vec<f64> = weights.iter().map(|w| w.value()).collect();
    for o in out.iter_mut() {
        let total: f64 = left.iter().sum();
        let u = rng.next_f64() * total;
        let mut acc = 0.0;
        let mut pick = left.iter().rposition(|&w| w > 0.0).expect("weight left");
        for (j, &w) in left.iter().enumerate() {
            acc += w;
            if w > 0.0 && acc > u {
                pick = j;
                break;
            }
        }
        left[pick] = 0.0;
        *o = pick;
    }
    Ok(())
}

impl<'t, T: Element> Tensor<'t, T> {
    /// Category indices drawn from each row of `self`, as `torch.multinomial`: `self` holds
    /// non-negative weights (probabilities, or any positive multiple of them), one row
    /// (`[n]`) or a batch of rows (`[rows, n]`); the result is `[num_samples]` or
    /// `[rows, num_samples]` indices into a row. Without `replacement` a category is drawn at
    /// most once per row. Reproducible from `seed`; [`Tensor::multinomial_with`] draws from a
    /// generator that goes on from one call to the next, as sampling text token by token needs.
    ///
    /// Errors for a weight that is negative, infinite or NaN, for a row of zeros, and for more
    /// draws without replacement than a row has categories of positive weight (PyTorch then
    /// draws categories of weight zero).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let probs = tape.constant(Array::from_slice(&[0.0, 0.9, 0.1]));
    /// let picks = probs.multinomial(5, true, 7).unwrap();
    /// assert_eq!(picks.shape(), &[5]);
    /// assert!(picks.to_vec().iter().all(|&i| i == 1 || i == 2));
    /// let all = probs.multinomial(2, false, 7).unwrap().to_vec();
    /// assert!(all == [1, 2] || all == [2, 1]);
    /// assert!(probs.multinomial(3, false, 7).is_err()); // only two can be drawn
    /// ```
    pub fn multinomial(
        self,
        num_samples: usize,
        replacement: bool,
        seed: u64,
    ) -> Result<Array<usize>> {
        self.multinomial_with(num_samples, replacement, &mut Rng::new(seed))
    }

    /// [`Tensor::multinomial`] drawing from `rng`.
    ///
    /// ```
    /// use chainrule::rand::Rng;
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let mut rng = Rng::new(0);
    /// let logits = tape.constant(Array::from_slice(&[2.0, 1.0, 0.5]));
    /// let probs = logits.softmax(-1).unwrap();
    /// let tokens: Vec<usize> = (0..4)
    ///     .map(|_| probs.multinomial_with(1, false, &mut rng).unwrap().data()[0])
    ///     .collect();
    /// assert!(tokens.iter().all(|&t| t < 3));
    /// ```
    pub fn multinomial_with(
        self,
        num_samples: usize,
        replacement: bool,
        rng: &mut Rng,
    ) -> Result<Array<usize>> {
        let p = self.value();
        let (rows, n) = match *p.shape() {
            [n] => (1, n),
            [rows, n] => (rows, n),
            _ => {
                return Err(refuse(format!(
                    "needs one row of weights or a batch of rows, not shape {}",
                    fmt_shape(p.shape())
                )))
            }
        };
        if n == 0 {
            return Err(refuse("the rows have no categories"));
        }
        if num_samples == 0 {
            return Err(refuse("the number of samples must be positive"));
        }
        let mut out = vec![0usize; rows * num_samples];
        let mut cumulative = Vec::with_capacity(n);
        for (r, (row, o)) in p
            .data()
            .chunks(n)
            .zip(out.chunks_mut(num_samples))
            .enumerate()
        {
            draw_row(r, row, replacement, rng, &mut cumulative, o)?;
        }
        let mut shape = p.shape().to_vec();
        *shape.last_mut().expect("one or two dimensions") = num_samples;
        Ok(Array::from_parts(out, shape))
    }
}
