//! Reductions over axes: `sum`, `mean`, `max`, `min` (and their `_all` forms).
//!
//! The adjoint of a sum is the output's adjoint copied back over the summed axes (a
//! broadcast); a maximum or minimum sends it to the elements equal to the extreme, shared among
//! ties (as `torch.amax` and `torch.amin`). A sum is linear, so its tangent is the sum of the
//! tangent.

use std::borrow::Cow;

use super::{expand_to, Explain, Numbers, Op, Recorded, Rule};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels::{self, Reduce as Kind};
use crate::tensor::shape::{axes_mask, fmt_shape, numel, reduced_shape, Result, TensorError};
use crate::tensor::tape::{Tape, Tensor};

/// `y = sum` (or `max`, `min`) of `x` over the axes in `mask`, with the reduced axes kept as
/// size 1.
#[derive(Clone, Debug)]
pub(crate) struct Reduce {
    pub kind: Kind,
    pub x: usize,
    pub mask: u64,
}

impl<T: Element> Rule<T> for Reduce {
    fn name(&self) -> Cow<'static, str> {
        match self.kind {
            Kind::Sum => "sum",
            Kind::Max => "max",
            Kind::Min => "min",
        }
        .into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        let axes = mask_axes(self.mask, cx.shapes[self.x].len());
        let name: Cow<'static, str> = <Self as Rule<f32>>::name(self);
        format!("{name}({}, axes {axes:?})", cx.name(self.x))
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let how = match self.kind {
            Kind::Sum => "copied along the summed axes",
            Kind::Max => "sent to each slice's maximum (shared among ties)",
            Kind::Min => "sent to each slice's minimum (shared among ties)",
        };
        let x = self.x;
        vec![(
            x,
            format!(
                "{} = {} {how}   {} ← {}",
                cx.grad(x),
                cx.grad(y),
                cx.shape(x),
                cx.shape(y)
            ),
        )]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let x = cx.value(self.x);
        let mut dx = cx.buffer(x.numel());
        kernels::expand(g, y.shape(), x.shape(), &mut dx);
        if self.kind != Kind::Sum {
            // The gradient goes to the elements equal to the extreme, shared among ties.
            let w = extreme_weights(cx.tape, x, y, self.mask);
            for (d, &w) in dx.iter_mut().zip(&w) {
                *d = *d * w;
            }
            cx.recycle(w);
        }
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let xs = cx.t(self.x).shape();
        let dx = self.spread(cx, y, expand_to(g, &xs));
        out.push((self.x, dx));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let x = cx.t(self.x);
        let dx = self.spread(cx, y, cx.or_zeros(tangent(self.x), self.x));
        dx.sum(&mask_axes(self.mask, x.ndim()), true)
    }
}

impl Reduce {
    /// `d` (at the input's shape) times the share of each element in the extreme, for `max`
    /// and `min`; `d` itself for a sum.
    fn spread<'t, T: Element>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        d: Tensor<'t, T>,
    ) -> Tensor<'t, T> {
        if self.kind == Kind::Sum {
            return d;
        }
        let x = cx.t(self.x);
        let w = extreme_weights(cx.tape, &x.value(), &y.value(), self.mask);
        d * cx.tape.constant(Array::from_parts(w, x.shape()))
    }
}

/// The axes of a reduction mask.
fn mask_axes(mask: u64, ndim: usize) -> Vec<isize> {
    (0..ndim)
        .filter(|&d| mask & (1 << d) != 0)
        .map(|d| d as isize)
        .collect()
}

/// `y = max` (or `min`) of `x` over the axes in `mask`: the share of the output's derivative
/// each input element takes, at `x`'s shape: `1/ties` where the element equals the extreme,
/// `0` elsewhere (in a buffer of `tape`'s pool). The recorded rule spreads by the same weights.
pub(crate) fn extreme_weights<T: Element>(
    tape: &Tape<T>,
    x: &Array<T>,
    y: &Array<T>,
    mask: u64,
) -> Vec<T> {
    let n = x.numel();
    let mut ye = tape.buffer(n);
    kernels::expand(y.data(), y.shape(), x.shape(), &mut ye);
    let mut hit = tape.buffer(n);
    for ((h, &v), &m) in hit.iter_mut().zip(x.data()).zip(&ye) {
        *h = if v == m { T::ONE } else { T::ZERO };
    }
    let mut count = tape.buffer(y.numel());
    kernels::reduce(Kind::Sum, &hit, x.shape(), mask, &mut count);
    kernels::expand(&count, y.shape(), x.shape(), &mut ye);
    for (h, &c) in hit.iter_mut().zip(&ye) {
        *h = *h / c;
    }
    tape.recycle(ye);
    tape.recycle(count);
    hit
}

impl<'t, T: Element> Tensor<'t, T> {
    #[track_caller]
    fn reduce(
        self,
        op: &'static str,
        kind: Kind,
        axes: &[isize],
        keepdim: bool,
    ) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let mask = axes_mask(op, axes, x.shape())?;
        if kind != Kind::Sum && x.numel() == 0 {
            return Err(TensorError::new(
                op,
                format!("cannot reduce the empty shape {}", fmt_shape(x.shape())),
            ));
        }
        let kept = reduced_shape(x.shape(), mask, true);
        let mut out = self.tape.buffer(numel(&kept));
        kernels::reduce(kind, x.data(), x.shape(), mask, &mut out);
        let v = Array::from_parts(out, kept);
        let node = Op::Reduce(Reduce {
            kind,
            x: self.id,
            mask,
        });
        let t = self.tape.record(v, node, &[self.id]);
        if keepdim {
            Ok(t)
        } else {
            t.reshape_to(reduced_shape(x.shape(), mask, false))
        }
    }

    /// The sum over `axes` (negative counts from the end), keeping them as size 1 if `keepdim`.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::arange(0.0, 6.0, 1.0).reshape(&[2, 3]).unwrap());
    /// assert_eq!(x.sum(&[0], false).unwrap().to_vec(), vec![3.0, 5.0, 7.0]);
    /// assert_eq!(x.sum(&[-1], true).unwrap().shape(), vec![2, 1]);
    /// ```
    #[track_caller]
    pub fn sum(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        self.reduce("sum", Kind::Sum, axes, keepdim)
    }
    /// The mean over `axes`.
    #[track_caller]
    pub fn mean(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        let x = self.shape();
        let count: usize = numel(&reduced_shape(&x, axes_mask("mean", axes, &x)?, true));
        let count = numel(&x) / count.max(1);
        Ok(self
            .reduce("mean", Kind::Sum, axes, keepdim)?
            .mul_scalar(1.0 / count as f64))
    }
    /// The maximum over `axes`; ties share the gradient equally (as `torch.amax`).
    #[track_caller]
    pub fn max(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        self.reduce("max", Kind::Max, axes, keepdim)
    }
    /// The minimum over `axes`; ties share the gradient equally (as `torch.amin`).
    #[track_caller]
    pub fn min(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        self.reduce("min", Kind::Min, axes, keepdim)
    }
    fn all_axes(&self) -> Vec<isize> {
        (0..self.ndim() as isize).collect()
    }
    /// The sum of every element, as a scalar (shape `[]`).
    #[track_caller]
    pub fn sum_all(self) -> Tensor<'t, T> {
        self.sum(&self.all_axes(), false)
            .expect("all axes are valid")
    }
    /// The mean of every element, as a scalar.
    #[track_caller]
    pub fn mean_all(self) -> Tensor<'t, T> {
        self.mean(&self.all_axes(), false)
            .expect("all axes are valid")
    }
    /// The largest element, as a scalar; an error for an empty tensor.
    #[track_caller]
    pub fn max_all(self) -> Result<Tensor<'t, T>> {
        self.max(&self.all_axes(), false)
    }
    /// The smallest element, as a scalar; an error for an empty tensor.
    #[track_caller]
    pub fn min_all(self) -> Result<Tensor<'t, T>> {
        self.min(&self.all_axes(), false)
    }
}
