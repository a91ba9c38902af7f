//! Reductions over axes: `sum`, `mean`, `max`, `min` (and their `_all` forms), `logsumexp`,
//! `var`, `std`, `norm` and `prod`; the running sum `cumsum`; and `argmax` and `argmin`, which
//! return indices (no gradient).
//!
//! The adjoint of a sum is the output's adjoint copied back over the summed axes (a
//! broadcast); a maximum or minimum sends it to the elements equal to the extreme, shared among
//! ties (as `torch.amax` and `torch.amin`). A sum is linear, so its tangent is the sum of the
//! tangent. `logsumexp` has a rule of its own (its derivative is the softmax over the reduced
//! axes, `e^(x − y)`), and so has `cumsum` (linear: its adjoint is the running sum from the
//! other end).
//!
//! `var`, `std`, `norm` and `prod` are composites of the operations above and the element-wise
//! ones, so their gradients, recorded gradients and tangents follow from those rules; the
//! points where a composite would divide by zero are handled where they are built: `std` and
//! `norm` have gradient 0 where they are 0 (PyTorch's convention), and `prod` multiplies pairs
//! of halves, never dividing by an element, so its gradient is exact where elements are 0.

use std::borrow::Cow;

use super::{expand_to, Explain, Numbers, Op, Recorded, Rule};
use crate::ops::Unary;
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels::{self, Reduce as Kind};
use crate::tensor::shape::{
    axes_mask, fmt_shape, norm_axis_or_scalar, numel, reduced_shape, Result, TensorError,
};
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

/// Refuses a reduction over an axis of size 0 when the reduction has no identity (a maximum,
/// an index), with PyTorch's message.
fn refuse_empty_axis(op: &'static str, shape: &[usize], mask: u64) -> Result<()> {
    match (0..shape.len()).find(|&d| mask & (1 << d) != 0 && shape[d] == 0) {
        Some(d) => Err(TensorError::new(
            op,
            format!(
                "expected reduction dim {d} to have non-zero size, but it has size 0 in shape {}",
                fmt_shape(shape)
            ),
        )),
        None => Ok(()),
    }
}

/// The number of elements a reduction over the axes in `mask` combines into each output.
fn reduced_count(shape: &[usize], mask: u64) -> usize {
    (0..shape.len())
        .filter(|&d| mask & (1 << d) != 0)
        .map(|d| shape[d])
        .product()
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
        if kind != Kind::Sum {
            // A maximum of nothing has no value; an empty axis that is not reduced is fine.
            refuse_empty_axis(op, x.shape(), mask)?;
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
        self.record_reduction(v, node, mask, keepdim)
    }

    /// Records the output `v` of a reduction of this tensor over the axes in `mask` (kept as
    /// size 1 in `v`), and drops those axes unless `keepdim`.
    #[track_caller]
    fn record_reduction(
        self,
        v: Array<T>,
        node: Op,
        mask: u64,
        keepdim: bool,
    ) -> Result<Tensor<'t, T>> {
        let dropped = reduced_shape(v.shape(), mask, false);
        let t = self.tape.record(v, node, &[self.id]);
        if keepdim {
            Ok(t)
        } else {
            t.reshape_to(dropped)
        }
    }

    /// The sum over `axes` (negative counts from the end), keeping them as size 1 if `keepdim`.
    ///
    /// An empty list of axes reduces nothing (NumPy's `axis=()`), unlike PyTorch's `dim=[]`,
    /// which reduces every axis: use [`Tensor::sum_all`] for that.
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
    /// The mean over `axes`: the sum divided by the number of elements reduced (a division, as
    /// PyTorch's, so that `mean` of integers that sum to a multiple of the count is exact). The
    /// mean over an empty axis is NaN, as in PyTorch.
    #[track_caller]
    pub fn mean(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        let x = self.shape();
        let count = reduced_count(&x, axes_mask("mean", axes, &x)?);
        Ok(self
            .reduce("mean", Kind::Sum, axes, keepdim)?
            .div_scalar(count as f64))
    }
    /// The maximum over `axes`; ties share the gradient equally (as `torch.amax`).
    ///
    /// An axis of size 0 can be kept but not reduced: on shape `[2, 0, 3]`, `max(&[2], false)`
    /// has shape `[2, 0]` and `max(&[1], false)` is an error, as in PyTorch.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(Array::from_vec(vec![1.0, 3.0, 3.0, 2.0], &[2, 2]).unwrap());
    /// let m = x.max(&[1], false).unwrap();
    /// assert_eq!(m.to_vec(), vec![3.0, 3.0]);
    /// m.sum_all().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 1.0, 0.0]);
    ///
    /// let empty = tape.constant(Array::zeros(&[2, 0, 3]));
    /// assert_eq!(empty.max(&[2], false).unwrap().shape(), vec![2, 0]);
    /// assert!(empty.max(&[1], false).is_err());
    /// ```
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

/// `y = ln Σ e^x` over the axes in `mask`, with the reduced axes kept as size 1.
#[derive(Clone, Debug)]
pub(crate) struct LogSumExp {
    pub x: usize,
    pub mask: u64,
}

impl<T: Element> Rule<T> for LogSumExp {
    fn name(&self) -> Cow<'static, str> {
        "logsumexp".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let x = cx.value(self.x);
        let n = x.numel();
        let mut dx = cx.buffer(n);
        kernels::expand(g, y.shape(), x.shape(), &mut dx);
        let mut ye = cx.buffer(n);
        kernels::expand(y.data(), y.shape(), x.shape(), &mut ye);
        for ((d, &v), &m) in dx.iter_mut().zip(x.data()).zip(&ye) {
            // The softmax weight e^(x − y); none where y = −inf (every element −inf), where
            // e^(−inf + inf) would be NaN.
            *d = if m == T::neg_infinity() {
                T::ZERO
            } else {
                *d * (v - m).exp()
            };
        }
        cx.recycle(ye);
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
        out.push((self.x, expand_to(g, &xs) * self.weights(cx, y)?));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let x = cx.t(self.x);
        let dx = cx.or_zeros(tangent(self.x), self.x);
        (self.weights(cx, y)? * dx).sum(&mask_axes(self.mask, x.ndim()), true)
    }
}

impl LogSumExp {
    /// `e^(x − y)`, recorded (so that it is differentiated again through `y`): the softmax over
    /// the reduced axes, the derivative of `y`; 0 where `y = −inf`, which is taken as 0 there.
    fn weights<'t, T: Element>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
    ) -> Result<Tensor<'t, T>> {
        let lost = y.eq_scalar(f64::NEG_INFINITY);
        let y = if lost.data().contains(&true) {
            y.masked_fill(&lost, 0.0)?
        } else {
            y
        };
        Ok((cx.t(self.x) - y).exp())
    }
}

/// `y` = the running sum of `x` along `axis`, from the start (or from the end if `reverse`,
/// which is the adjoint).
#[derive(Clone, Debug)]
pub(crate) struct Cumsum {
    pub x: usize,
    pub axis: usize,
    pub reverse: bool,
}

impl<T: Element> Rule<T> for Cumsum {
    fn name(&self) -> Cow<'static, str> {
        "cumsum".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        // Element i of the output sums elements 0..=i, so the adjoint of element j sums the
        // output's adjoints j.. to the end: the running sum the other way.
        let mut dx = cx.buffer(g.len());
        let dims = kernels::around(y.shape(), self.axis);
        kernels::cumsum(g, dims, !self.reverse, &mut dx);
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        _cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        out.push((self.x, g.cumsum_along(self.axis, !self.reverse)));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let dx = cx.or_zeros(tangent(self.x), self.x);
        Ok(dx.cumsum_along(self.axis, self.reverse))
    }
}

/// `√v` (or another root) with gradient 0 where `v` is 0, where the root's slope is infinite:
/// PyTorch's convention for `std` and `norm` where they vanish (the composite function is not
/// differentiable there, and 0 is its subgradient of least size). Where `v = 0` the root is
/// taken of 1 instead and then replaced by 0, so that no infinity meets a zero on the way back.
fn root_flat_at_zero<'t, T: Element>(v: Tensor<'t, T>, root: Unary) -> Result<Tensor<'t, T>> {
    let zero = v.eq_scalar(0.0);
    if !zero.data().contains(&true) {
        return Ok(v.unary(root));
    }
    v.masked_fill(&zero, 1.0)?
        .unary(root)
        .masked_fill(&zero, 0.0)
}

/// `r` with its error, if any, named as operation `op`'s (a composite reports itself, not the
/// operation inside it that refused).
fn as_op<R>(op: &'static str, r: Result<R>) -> Result<R> {
    r.map_err(|e| TensorError::new(op, e.message))
}

impl<'t, T: Element> Tensor<'t, T> {
    /// `ln Σ e^x` over `axes` (`torch.logsumexp`), computed after subtracting the maximum so
    /// that it is finite for any finite input. Its gradient is the softmax over the reduced
    /// axes. A group whose elements are all `−inf` (or that is empty) gives `−inf`, as in
    /// PyTorch, and gradient 0 where PyTorch's is NaN.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let inf = f64::INFINITY;
    /// let x = tape.var(Array::from_vec(vec![1000.0, 1000.0, -inf, -inf], &[2, 2]).unwrap());
    /// let y = x.logsumexp(&[1], false).unwrap();
    /// assert_eq!(y.to_vec(), vec![1000.0 + 2f64.ln(), -inf]);
    /// y.sum_all().backward().unwrap();
    /// let g = x.grad().unwrap().to_vec();
    /// assert!((g[0] - 0.5).abs() < 1e-12 && (g[1] - 0.5).abs() < 1e-12);
    /// assert_eq!(&g[2..], &[0.0, 0.0]); // no NaN from the row of −inf
    /// ```
    #[track_caller]
    pub fn logsumexp(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let mask = axes_mask("logsumexp", axes, x.shape())?;
        let kept = reduced_shape(x.shape(), mask, true);
        let m = numel(&kept);
        // The shift: the maximum, or 0 where it is infinite (all −inf, a +inf, or empty).
        let mut shift = self.tape.buffer(m);
        kernels::reduce(Kind::Max, x.data(), x.shape(), mask, &mut shift);
        for s in &mut shift {
            if !s.value().is_finite() {
                *s = T::ZERO;
            }
        }
        let mut e = self.tape.buffer(x.numel());
        kernels::expand(&shift, &kept, x.shape(), &mut e);
        for (e, &v) in e.iter_mut().zip(x.data()) {
            *e = (v - *e).exp();
        }
        let mut out = self.tape.buffer(m);
        kernels::reduce(Kind::Sum, &e, x.shape(), mask, &mut out);
        for (o, &s) in out.iter_mut().zip(&shift) {
            *o = o.ln() + s;
        }
        self.tape.recycle(e);
        self.tape.recycle(shift);
        let v = Array::from_parts(out, kept);
        let node = Op::LogSumExp(LogSumExp { x: self.id, mask });
        self.record_reduction(v, node, mask, keepdim)
    }

    /// The variance over `axes` with `correction` (`torch.var(x, dim, correction=...)`):
    /// `Σ (x − mean)² / (N − correction)` for `N` elements reduced. PyTorch's default correction
    /// is 1 (Bessel's, the unbiased estimate); 0 gives the population variance. Where
    /// `N ≤ correction` the divisor is 0, so the result is NaN or infinite, as in PyTorch.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_slice(&[1.0, 2.0, 3.0, 4.0]));
    /// assert_eq!(x.var(&[0], 1, false).unwrap().item(), 5.0 / 3.0);
    /// assert_eq!(x.var(&[0], 0, false).unwrap().item(), 1.25);
    /// ```
    #[track_caller]
    pub fn var(self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Tensor<'t, T>> {
        let shape = self.shape();
        let n = reduced_count(&shape, axes_mask("var", axes, &shape)?);
        let d = self - self.mean(axes, true)?;
        let dof = n.saturating_sub(correction) as f64;
        Ok(d.square().sum(axes, keepdim)?.div_scalar(dof))
    }

    /// The standard deviation over `axes` with `correction`, `√var` (`torch.std`; PyTorch's
    /// default correction is 1). Its gradient is 0 where it is 0 (all elements equal), as
    /// PyTorch's, where `√` alone would give NaN.
    #[track_caller]
    pub fn std(self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Tensor<'t, T>> {
        as_op(
            "std",
            root_flat_at_zero(self.var(axes, correction, keepdim)?, Unary::Sqrt),
        )
    }

    /// The vector norm over `axes` (`torch.linalg.vector_norm(x, ord=p, dim=axes)`; PyTorch's
    /// default `p` is 2): `√Σ x²` for `p = 2`, `Σ |x|` for 1, `max |x|` for `f64::INFINITY`,
    /// `min |x|` for `f64::NEG_INFINITY`, `(Σ |x|^p)^(1/p)` for any other `p > 0`.
    ///
    /// At the zero vector the gradient is 0, as PyTorch's; at ties of the infinity norm the
    /// elements share it, as PyTorch's. `p ≤ 0` and NaN are refused.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_vec(vec![3.0, 4.0, 0.0, 0.0], &[2, 2]).unwrap());
    /// let n = x.norm(2.0, &[1], false).unwrap();
    /// assert_eq!(n.to_vec(), vec![5.0, 0.0]);
    /// n.sum_all().backward().unwrap();
    /// let g = x.grad().unwrap().to_vec();
    /// assert!((g[0] - 0.6).abs() < 1e-12 && (g[1] - 0.8).abs() < 1e-12);
    /// assert_eq!(&g[2..], &[0.0, 0.0]); // 0 at the zero row, not NaN
    /// ```
    #[track_caller]
    pub fn norm(self, p: f64, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        let r = if p == 2.0 {
            self.square()
                .sum(axes, keepdim)
                .and_then(|s| root_flat_at_zero(s, Unary::Sqrt))
        } else if p == 1.0 {
            self.abs().sum(axes, keepdim)
        } else if p == f64::INFINITY {
            self.abs().max(axes, keepdim)
        } else if p == f64::NEG_INFINITY {
            self.abs().min(axes, keepdim)
        } else if p > 0.0 {
            self.abs()
                .powf(p)
                .sum(axes, keepdim)
                .and_then(|s| root_flat_at_zero(s, Unary::Powf(1.0 / p)))
        } else {
            Err(TensorError::new(
                "norm",
                format!("the order p must be positive or infinite, not {p}"),
            ))
        };
        as_op("norm", r)
    }

    /// The product over `axes` (`torch.prod`; the product over an empty axis is 1). The gradient
    /// is exact where elements are 0 (an element's derivative is the product of the others),
    /// and so are higher derivatives: the product is taken by multiplying halves pairwise,
    /// `log₂ n` products of tensors, never dividing by an element.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_slice(&[2.0, 0.0, 3.0]));
    /// let p = x.prod(&[0], false).unwrap();
    /// assert_eq!(p.item(), 0.0);
    /// p.backward().unwrap();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 6.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn prod(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        let shape = self.shape();
        let mask = axes_mask("prod", axes, &shape)?;
        // The reduced axes moved last and merged into one: lines of `n` elements to multiply.
        let (kept, reduced): (Vec<usize>, Vec<usize>) =
            (0..shape.len()).partition(|&d| mask & (1 << d) == 0);
        let kept_shape: Vec<usize> = kept.iter().map(|&d| shape[d]).collect();
        let lines = |n: usize| [kept_shape.as_slice(), &[n]].concat();
        let perm: Vec<isize> = kept.iter().chain(&reduced).map(|&d| d as isize).collect();
        let moved = if perm.iter().enumerate().all(|(i, &d)| i as isize == d) {
            self
        } else {
            self.permute(&perm)?
        };
        let mut n = reduced_count(&shape, mask);
        let mut t = moved.reshape_to(lines(n))?;
        let product = if n == 0 {
            // The empty product, still computed from the input so that it records as one.
            t.sum(&[-1], false)? + 1.0
        } else {
            while n > 1 {
                if n % 2 == 1 {
                    let one = self.tape.constant(Array::ones(&lines(1)));
                    t = Tensor::concat(&[t, one], -1)?;
                    n += 1;
                }
                let pairs = t.reshape_to([kept_shape.as_slice(), &[n / 2, 2]].concat())?;
                t = (pairs.slice(-1, 0, 1)? * pairs.slice(-1, 1, 2)?).reshape_to(lines(n / 2))?;
                n /= 2;
            }
            t.reshape_to(kept_shape.clone())?
        };
        if keepdim {
            product.reshape_to(reduced_shape(&shape, mask, true))
        } else {
            Ok(product)
        }
    }

    /// The running sum along `axis` (`torch.cumsum`): element `i` is the sum of elements
    /// `0..=i`. Its adjoint is the running sum from the other end.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_slice(&[1.0, 2.0, 3.0]));
    /// let c = x.cumsum(0).unwrap();
    /// assert_eq!(c.to_vec(), vec![1.0, 3.0, 6.0]);
    /// c.sum_all().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![3.0, 2.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn cumsum(self, axis: isize) -> Result<Tensor<'t, T>> {
        match norm_axis_or_scalar("cumsum", axis, &self.shape())? {
            Some(a) => Ok(self.cumsum_along(a, false)),
            None => Ok(self),
        }
    }

    /// The running sum along axis `axis` (a valid axis), from the end if `reverse`.
    #[track_caller]
    pub(crate) fn cumsum_along(self, axis: usize, reverse: bool) -> Tensor<'t, T> {
        let x = self.value();
        let mut out = self.tape.buffer(x.numel());
        kernels::cumsum(
            x.data(),
            kernels::around(x.shape(), axis),
            reverse,
            &mut out,
        );
        let v = Array::from_parts(out, x.shape());
        let node = Op::Cumsum(Cumsum {
            x: self.id,
            axis,
            reverse,
        });
        self.tape.record(v, node, &[self.id])
    }

    /// The index of the largest element along `axis` (`torch.argmax(x, dim, keepdim)`): the
    /// first one on ties, and the first NaN if there is one, as PyTorch's. Indices have no
    /// gradient. An axis of size 0 is refused.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::from_vec(vec![1.0, 5.0, 5.0, 7.0, 0.0, 7.0], &[2, 3]).unwrap());
    /// assert_eq!(x.argmax(1, false).unwrap().to_vec(), vec![1, 0]);
    /// assert_eq!(x.argmin(0, true).unwrap().shape(), &[1, 3]);
    /// ```
    pub fn argmax(self, axis: isize, keepdim: bool) -> Result<Array<usize>> {
        self.arg_extreme("argmax", axis, keepdim, true)
    }

    /// The index of the smallest element along `axis` (`torch.argmin`), as [`Tensor::argmax`].
    pub fn argmin(self, axis: isize, keepdim: bool) -> Result<Array<usize>> {
        self.arg_extreme("argmin", axis, keepdim, false)
    }

    fn arg_extreme(
        self,
        op: &'static str,
        axis: isize,
        keepdim: bool,
        largest: bool,
    ) -> Result<Array<usize>> {
        let x = self.value();
        let Some(a) = norm_axis_or_scalar(op, axis, x.shape())? else {
            return Array::from_vec(vec![0], &[]);
        };
        refuse_empty_axis(op, x.shape(), 1 << a)?;
        let dims = kernels::around(x.shape(), a);
        let mut out = vec![0; dims.0 * dims.2];
        kernels::arg_extreme(x.data(), dims, largest, &mut out);
        let mut shape = x.shape().to_vec();
        if keepdim {
            shape[a] = 1;
        } else {
            shape.remove(a);
        }
        Array::from_vec(out, &shape)
    }

    /// [`Tensor::logsumexp`] over every axis, as a scalar.
    #[track_caller]
    pub fn logsumexp_all(self) -> Tensor<'t, T> {
        self.logsumexp(&self.all_axes(), false)
            .expect("all axes are valid")
    }
    /// [`Tensor::var`] of every element, as a scalar.
    #[track_caller]
    pub fn var_all(self, correction: usize) -> Tensor<'t, T> {
        self.var(&self.all_axes(), correction, false)
            .expect("all axes are valid")
    }
    /// [`Tensor::std`] of every element, as a scalar.
    #[track_caller]
    pub fn std_all(self, correction: usize) -> Tensor<'t, T> {
        self.std(&self.all_axes(), correction, false)
            .expect("all axes are valid")
    }
    /// [`Tensor::norm`] of every element, as a scalar (an error for `p ≤ 0`, and for the
    /// infinity norms of an empty tensor).
    #[track_caller]
    pub fn norm_all(self, p: f64) -> Result<Tensor<'t, T>> {
        self.norm(p, &self.all_axes(), false)
    }
    /// [`Tensor::prod`] of every element, as a scalar.
    #[track_caller]
    pub fn prod_all(self) -> Tensor<'t, T> {
        self.prod(&self.all_axes(), false)
            .expect("all axes are valid")
    }
}
