//! Windows on a tensor: `pad` (constant padding as `torch.nn.functional.pad`, negative widths
//! cropping), and `tril`/`triu` (zeros outside a triangle of the last two dimensions).
//!
//! A padding is linear in the input (the padding value is a constant), so its adjoint is the
//! opposite window: the output's adjoint cropped back to the input (a padding by the negated
//! widths, with zeros where a negative width had cropped the input), and its tangent is the
//! tangent padded with zeros. `tril` and `triu` are a `where` with a constant mask, which
//! brings their rules.

use std::borrow::Cow;

use super::{Numbers, Op, Recorded, Rule};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels;
use crate::tensor::shape::{fmt_shape, numel, Result, TensorError};
use crate::tensor::tape::Tensor;

/// `y` is `x` placed at `offset` (per dimension, negative where `x` starts before `y`) in a
/// tensor of `y`'s shape, the rest filled with a constant.
#[derive(Clone, Debug)]
pub(crate) struct Pad {
    pub x: usize,
    pub offset: Vec<isize>,
}

impl Pad {
    fn back(&self) -> Vec<isize> {
        self.offset.iter().map(|&o| -o).collect()
    }
}

impl<T: Element> Rule<T> for Pad {
    fn name(&self) -> Cow<'static, str> {
        "pad".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let xs = cx.value(self.x).shape();
        let mut dx = cx.buffer(numel(xs));
        kernels::window(g, y.shape(), &self.back(), &mut dx, xs, T::ZERO);
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        out.push((self.x, g.window(self.back(), cx.t(self.x).shape(), 0.0)));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let dx = cx.or_zeros(tangent(self.x), self.x);
        Ok(dx.window(self.offset.clone(), y.shape(), 0.0))
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// `self` placed at `offset` in a tensor of shape `shape` filled with `value` elsewhere
    /// (the shapes were checked by the caller).
    #[track_caller]
    pub(crate) fn window(self, offset: Vec<isize>, shape: Vec<usize>, value: f64) -> Self {
        let x = self.value();
        let mut out = self.tape.buffer(numel(&shape));
        let fill = T::from_f64(value);
        kernels::window(x.data(), x.shape(), &offset, &mut out, &shape, fill);
        let v = Array::from_parts(out, shape);
        let node = Op::Pad(Pad { x: self.id, offset });
        self.tape.record(v, node, &[self.id])
    }

    /// The tensor padded with `value`, as `torch.nn.functional.pad(x, pad, value=value)` in
    /// its constant mode: `pad` holds (before, after) widths for the last dimension first, then
    /// the one before it, and so on (`[left, right, top, bottom]` pads the last two dimensions).
    /// A negative width crops instead. The value gets no gradient (it is a number).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::arange(0.0, 6.0, 1.0).reshape(&[2, 3]).unwrap());
    /// let y = x.pad(&[1, -1], 9.0).unwrap(); // one 9 on the left, the last column cropped
    /// assert_eq!(y.to_vec(), vec![9.0, 0.0, 1.0, 9.0, 3.0, 4.0]);
    /// assert_eq!(x.pad(&[0, 0, 1, 1], 0.0).unwrap().shape(), vec![4, 3]);
    /// ```
    #[track_caller]
    pub fn pad(self, pad: &[isize], value: f64) -> Result<Tensor<'t, T>> {
        let xs = self.shape();
        if pad.len() % 2 != 0 || pad.len() > 2 * xs.len() {
            return Err(TensorError::new(
                "pad",
                format!(
                    "{} widths do not pad {}: give two per dimension, last dimension first",
                    pad.len(),
                    fmt_shape(&xs)
                ),
            ));
        }
        let mut offset = vec![0isize; xs.len()];
        let mut shape = xs.clone();
        for (k, w) in pad.chunks(2).enumerate() {
            let d = xs.len() - 1 - k;
            let size = (xs[d] as isize)
                .checked_add(w[0])
                .and_then(|s| s.checked_add(w[1]))
                .filter(|&s| s >= 0);
            let Some(size) = size else {
                return Err(TensorError::new(
                    "pad",
                    format!(
                        "widths ({}, {}) leave a negative size for dimension {d} of {}",
                        w[0],
                        w[1],
                        fmt_shape(&xs)
                    ),
                ));
            };
            offset[d] = w[0];
            shape[d] = size as usize;
        }
        if shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .is_none()
        {
            return Err(TensorError::new(
                "pad",
                format!("padding {} by {pad:?} is too large", fmt_shape(&xs)),
            ));
        }
        Ok(self.window(offset, shape, value))
    }

    /// The lower triangle of the last two dimensions (the matrices of a batch): elements with
    /// `column - row <= diagonal` kept, the others zero, as `torch.tril` (`diagonal = 0` keeps
    /// the main diagonal, `-1` drops it, `1` keeps one more above it).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::ones(&[3, 3]));
    /// assert_eq!(x.tril(0).unwrap().to_vec(), vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]);
    /// assert_eq!(x.triu(1).unwrap().to_vec(), vec![0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn tril(self, diagonal: isize) -> Result<Tensor<'t, T>> {
        self.triangle("tril", |i, j| j - i <= diagonal)
    }

    /// The upper triangle of the last two dimensions: elements with `column - row >= diagonal`
    /// kept, the others zero, as `torch.triu`.
    #[track_caller]
    pub fn triu(self, diagonal: isize) -> Result<Tensor<'t, T>> {
        self.triangle("triu", |i, j| j - i >= diagonal)
    }

    #[track_caller]
    fn triangle(self, op: &'static str, keep: impl Fn(isize, isize) -> bool) -> Result<Self> {
        let s = self.shape();
        if s.len() < 2 {
            return Err(TensorError::new(
                op,
                format!("needs at least two dimensions, not {}", fmt_shape(&s)),
            ));
        }
        let (m, n) = (s[s.len() - 2], s[s.len() - 1]);
        let mask: Vec<bool> = (0..m * n)
            .map(|k| keep((k / n) as isize, (k % n) as isize))
            .collect();
        // A `where`, not a product with a 0/1 mask, so that an infinity outside the triangle
        // gives 0 (as in PyTorch) and not NaN.
        let mask = Array::from_parts(mask, vec![m, n]);
        Tensor::where_cond(&mask, self, self.tape.scalar(T::ZERO))
    }
}
