//! Copies of one tensor over a larger shape: `expand` (with `broadcast_to` and `expand_as`),
//! which repeats an input along its dimensions of size 1 and new leading ones, and `repeat`,
//! which tiles it (built from `expand` between two reshapes).
//!
//! An expansion is linear and sends each input element to several places, so its adjoint sums
//! the output's adjoint back over those places (the same sum that gives a broadcast operand its
//! gradient, `kernels::sum_to_shape`), and its tangent is the expansion of the tangent.

use std::borrow::Cow;

use super::{sum_to, Numbers, Op, Recorded, Rule};
use crate::tensor::args::IntoShape;
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels;
use crate::tensor::shape::{fmt_shape, numel, Result, TensorError};
use crate::tensor::tape::Tensor;

/// `y` is `x` broadcast to `y`'s shape.
#[derive(Clone, Debug)]
pub(crate) struct Expand {
    pub x: usize,
}

impl<T: Element> Rule<T> for Expand {
    fn name(&self) -> Cow<'static, str> {
        "expand".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let xs = cx.value(self.x).shape();
        let mut dx = cx.buffer(numel(xs));
        kernels::sum_to_shape(g, y.shape(), xs, &mut dx);
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        out.push((self.x, sum_to(g, &cx.t(self.x).shape())?));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        cx.or_zeros(tangent(self.x), self.x).expand(&y.shape())
    }
}

/// The shape `torch.expand` makes of `from` with `sizes`: as many dimensions as `sizes` (at
/// least as many as `from`), new leading ones of the size given, and for each existing one
/// `-1` or its own size, or any size where it is 1.
fn expanded_shape(op: &'static str, from: &[usize], sizes: &[isize]) -> Result<Vec<usize>> {
    let bad = |why: String| {
        TensorError::new(
            op,
            format!("cannot expand {} to {sizes:?}: {why}", fmt_shape(from)),
        )
    };
    if sizes.len() < from.len() {
        return Err(bad(format!(
            "{} sizes for {} dimensions",
            sizes.len(),
            from.len()
        )));
    }
    let lead = sizes.len() - from.len();
    let mut out = Vec::with_capacity(sizes.len());
    for (i, &s) in sizes.iter().enumerate() {
        let own = i.checked_sub(lead).map(|j| from[j]);
        let size = match (own, s) {
            (Some(own), -1) => own,
            (None, -1) => return Err(bad(format!("the new dimension {i} cannot be -1"))),
            (_, s) if s < 0 => return Err(bad(format!("size {s} is negative"))),
            (Some(own), s) if own != 1 && own != s as usize => {
                return Err(bad(format!("dimension {i} has size {own}, which is not 1")))
            }
            (_, s) => s as usize,
        };
        out.push(size);
    }
    if out
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none()
    {
        return Err(bad("too many elements".into()));
    }
    Ok(out)
}

impl<'t, T: Element> Tensor<'t, T> {
    /// The tensor repeated along its dimensions of size 1, and along new leading dimensions, to
    /// the shape `sizes` (as `torch.Tensor.expand`; `-1` keeps a dimension's size). The result
    /// is a copy here (PyTorch's is a view); its gradient sums back over the copies.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]).unwrap());
    /// let y = x.expand(&[2, -1, 4]).unwrap();
    /// assert_eq!(y.shape(), vec![2, 3, 4]);
    /// y.sum_all().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![8.0, 8.0, 8.0]);
    /// assert!(x.expand(&[2, 2]).is_err()); // size 3 is not 1
    /// ```
    #[track_caller]
    pub fn expand(self, sizes: impl IntoShape) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let shape = expanded_shape("expand", x.shape(), &sizes.into_dims())?;
        if shape == x.shape() {
            return Ok(self);
        }
        let mut out = self.tape.buffer(numel(&shape));
        kernels::expand(x.data(), x.shape(), &shape, &mut out);
        let v = Array::from_parts(out, shape);
        let node = Op::Expand(Expand { x: self.id });
        Ok(self.tape.record(v, node, &[self.id]))
    }

    /// [`Tensor::expand`] under the name of `torch.broadcast_to`.
    #[track_caller]
    pub fn broadcast_to(self, shape: impl IntoShape) -> Result<Tensor<'t, T>> {
        self.expand(shape)
    }

    /// [`Tensor::expand`] to the shape of `other` (as `torch.Tensor.expand_as`).
    #[track_caller]
    pub fn expand_as(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.expand(&other.shape())
    }

    /// The tensor tiled `repeats[i]` times along dimension `i`, as `torch.Tensor.repeat` (not
    /// NumPy's `repeat`, which is `repeat_interleave`): with more repeats than dimensions,
    /// the tensor gets new leading dimensions of size 1 first.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::arange(0.0, 3.0, 1.0));
    /// let y = x.repeat(&[2, 2]).unwrap();
    /// assert_eq!(y.shape(), vec![2, 6]);
    /// assert_eq!(y.to_vec(), vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn repeat(self, repeats: impl IntoShape) -> Result<Tensor<'t, T>> {
        let repeats = repeats.into_dims();
        let from = self.shape();
        if repeats.len() < from.len() || repeats.iter().any(|&r| r < 0) {
            return Err(TensorError::new(
                "repeat",
                format!(
                    "cannot repeat {} by {repeats:?}: need one non-negative count per dimension",
                    fmt_shape(&from)
                ),
            ));
        }
        // [d0, d1] → [1, d0, 1, d1] → expanded to [r0, d0, r1, d1] → [r0·d0, r1·d1].
        let lead = repeats.len() - from.len();
        let own = |i: usize| if i < lead { 1 } else { from[i - lead] };
        let mut interleaved = Vec::with_capacity(2 * repeats.len());
        let mut sizes = Vec::with_capacity(2 * repeats.len());
        let mut tiled = Vec::with_capacity(repeats.len());
        for (i, &r) in repeats.iter().enumerate() {
            interleaved.extend([1, own(i)]);
            sizes.extend([r, own(i) as isize]);
            tiled.push((r as usize).checked_mul(own(i)));
        }
        let tiled: Option<Vec<usize>> = tiled.into_iter().collect();
        let Some(tiled) = tiled.filter(|t| {
            t.iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .is_some()
        }) else {
            return Err(TensorError::new(
                "repeat",
                format!("repeating {} by {repeats:?} is too large", fmt_shape(&from)),
            ));
        };
        self.reshape_to(interleaved)?
            .expand(&sizes)?
            .reshape_to(tiled)
    }
}
