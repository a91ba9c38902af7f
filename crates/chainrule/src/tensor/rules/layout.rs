//! The moves of data: `reshape` (with `squeeze`, `unsqueeze`, `flatten` and `unflatten`),
//! `permute` (with `transpose`), `flip`, `slice` (with `split` and `chunk`; a strided slice is
//! an index selection), `concat` (with `stack`).
//!
//! Each is linear and moves every element somewhere without changing it, so its adjoint is the
//! opposite move (a reshape's is the reshape back, a permutation's the inverse permutation, a
//! slice's is padding with zeros, a concatenation's is slicing it apart, a reversal's is the
//! same reversal) and its tangent is the same move applied to the tangent.

use std::borrow::Cow;

use super::{Explain, Numbers, Op, Recorded, Rule};
use crate::tensor::args::{resolve_slice, IntoShape, SliceIndex, SplitSizes};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels;
use crate::tensor::shape::{
    axes_mask, fmt_shape, norm_axis, norm_axis_n, numel, resolve_shape, Result, TensorError,
};
use crate::tensor::tape::Tensor;

/// `y` is `x` with another shape (the same elements in the same order).
#[derive(Clone, Debug)]
pub(crate) struct Reshape {
    pub x: usize,
}

impl<T: Element> Rule<T> for Reshape {
    fn name(&self) -> Cow<'static, str> {
        "reshape".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        format!("reshape({})", cx.name(self.x))
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let x = self.x;
        let line = format!(
            "{} = reshape({})   {} ← {}",
            cx.grad(x),
            cx.grad(y),
            cx.shape(x),
            cx.shape(y)
        );
        vec![(x, line)]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let mut dx = cx.buffer(g.len());
        dx.copy_from_slice(g);
        out.push((self.x, dx));
    }
    fn vjp_owned(
        &self,
        _cx: &Numbers<'_, T>,
        _y: &Array<T>,
        g: Vec<T>,
        out: &mut Vec<(usize, Vec<T>)>,
    ) -> Option<Vec<T>> {
        // The same elements in the same order: the adjoint is the input's as it is.
        out.push((self.x, g));
        None
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        out.push((self.x, g.reshape_to(cx.t(self.x).shape())?));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        cx.or_zeros(tangent(self.x), self.x).reshape_to(y.shape())
    }
}

/// `y` is `x` with its axes reordered: output axis `i` is input axis `perm[i]`.
#[derive(Clone, Debug)]
pub(crate) struct Permute {
    pub x: usize,
    pub perm: Vec<usize>,
}

impl Permute {
    /// The permutation that undoes this one.
    fn inverse(&self) -> Vec<usize> {
        let mut inverse = vec![0; self.perm.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            inverse[p] = i;
        }
        inverse
    }
}

impl<T: Element> Rule<T> for Permute {
    fn name(&self) -> Cow<'static, str> {
        "permute".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        format!("permute({}, {:?})", cx.name(self.x), self.perm)
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let x = self.x;
        let line = format!(
            "{} = permute({}, {:?})   {} ← {}",
            cx.grad(x),
            cx.grad(y),
            self.inverse(),
            cx.shape(x),
            cx.shape(y)
        );
        vec![(x, line)]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let mut dx = cx.buffer(g.len());
        kernels::permute(g, y.shape(), &self.inverse(), &mut dx);
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        _cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let inverse: Vec<isize> = self.inverse().iter().map(|&p| p as isize).collect();
        out.push((self.x, g.permute(&inverse)?));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let perm: Vec<isize> = self.perm.iter().map(|&p| p as isize).collect();
        cx.or_zeros(tangent(self.x), self.x).permute(&perm)
    }
}

/// `y` is `x` reversed along the axes in `mask`.
#[derive(Clone, Debug)]
pub(crate) struct Flip {
    pub x: usize,
    pub mask: u64,
}

impl Flip {
    fn axes(&self, ndim: usize) -> Vec<isize> {
        (0..ndim)
            .filter(|&d| self.mask & (1 << d) != 0)
            .map(|d| d as isize)
            .collect()
    }
}

impl<T: Element> Rule<T> for Flip {
    fn name(&self) -> Cow<'static, str> {
        "flip".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        // A reversal is its own inverse and its own adjoint.
        let mut dx = cx.buffer(g.len());
        kernels::flip(g, y.shape(), self.mask, &mut dx);
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        _cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        out.push((self.x, g.flip(&self.axes(y.ndim()))?));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        cx.or_zeros(tangent(self.x), self.x)
            .flip(&self.axes(y.ndim()))
    }
}

/// `y` is the elements `start..start + len` of `x` along `axis` (`len` is the output's size
/// there).
#[derive(Clone, Debug)]
pub(crate) struct Slice {
    pub x: usize,
    pub axis: usize,
    pub start: usize,
}

impl<T: Element> Rule<T> for Slice {
    fn name(&self) -> Cow<'static, str> {
        "slice".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let (axis, start) = (self.axis, self.start);
        let xs = cx.value(self.x).shape();
        let (outer, size, inner) = kernels::around(xs, axis);
        let len = y.shape()[axis];
        let mut dx = cx.zeroed(numel(xs));
        for o in 0..outer {
            dx[(o * size + start) * inner..(o * size + start + len) * inner]
                .copy_from_slice(&g[o * len * inner..(o + 1) * len * inner]);
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
        // Padding with zeros on both sides along the axis.
        let (axis, start) = (self.axis, self.start);
        let xs = cx.t(self.x).shape();
        let len = y.shape()[axis];
        let pad = |width: usize| {
            let mut s = xs.clone();
            s[axis] = width;
            cx.zeros(&s)
        };
        let mut parts = Vec::with_capacity(3);
        if start > 0 {
            parts.push(pad(start));
        }
        parts.push(g);
        if xs[axis] > start + len {
            parts.push(pad(xs[axis] - start - len));
        }
        let dx = if parts.len() == 1 {
            g
        } else {
            Tensor::concat(&parts, axis as isize)?
        };
        out.push((self.x, dx));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let end = self.start + y.shape()[self.axis];
        cx.or_zeros(tangent(self.x), self.x)
            .slice(self.axis as isize, self.start, end)
    }
}

/// `y` is the inputs joined along `axis`.
#[derive(Clone, Debug)]
pub(crate) struct Concat {
    pub xs: Vec<usize>,
    pub axis: usize,
}

impl<T: Element> Rule<T> for Concat {
    fn name(&self) -> Cow<'static, str> {
        "concat".into()
    }
    fn inputs(&self) -> Vec<usize> {
        self.xs.clone()
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let (outer, total, inner) = kernels::around(y.shape(), self.axis);
        let mut at = 0;
        for &x in &self.xs {
            let size = cx.value(x).shape()[self.axis];
            if cx.needs(x) {
                let mut dx = cx.buffer(outer * size * inner);
                for o in 0..outer {
                    let src = (o * total + at) * inner;
                    dx[o * size * inner..(o + 1) * size * inner]
                        .copy_from_slice(&g[src..src + size * inner]);
                }
                out.push((x, dx));
            }
            at += size;
        }
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let mut at = 0;
        for &x in &self.xs {
            let size = cx.t(x).shape()[self.axis];
            if cx.needs(x) {
                out.push((x, g.slice(self.axis as isize, at, at + size)?));
            }
            at += size;
        }
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let parts: Vec<_> = self
            .xs
            .iter()
            .map(|&j| cx.or_zeros(tangent(j), j))
            .collect();
        Tensor::concat(&parts, self.axis as isize)
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    #[track_caller]
    pub(crate) fn reshape_to(self, shape: Vec<usize>) -> Result<Tensor<'t, T>> {
        let x = self.value();
        if x.shape() == shape.as_slice() {
            return Ok(self);
        }
        let v = x.with_shape(shape);
        let node = Op::Reshape(Reshape { x: self.id });
        Ok(self.tape.record(v, node, &[self.id]))
    }

    /// The same elements with another shape (no copy), as `torch.reshape`; one size may be
    /// `-1`, inferred from the others. The sizes may be given in any [`IntoShape`] form:
    /// `&[2, 3]`, `&[-1, 3]`, `[6]`, `&v` for a `Vec<usize>`.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::zeros(&[2, 3, 4]));
    /// assert_eq!(x.reshape(&[-1, 4]).unwrap().shape(), vec![6, 4]);
    /// let sizes: Vec<usize> = vec![4, 6];
    /// assert_eq!(x.reshape(&sizes).unwrap().shape(), vec![4, 6]);
    /// ```
    #[track_caller]
    pub fn reshape(self, shape: impl IntoShape) -> Result<Tensor<'t, T>> {
        let s = resolve_shape("reshape", &self.shape(), &shape.into_dims())?;
        self.reshape_to(s)
    }
    /// Removes dimension `axis` if it has size 1, and leaves the tensor as it is otherwise (as
    /// `torch.squeeze(x, dim)`; axis 0 of a 0-d tensor is accepted too).
    #[track_caller]
    pub fn squeeze(self, axis: isize) -> Result<Tensor<'t, T>> {
        let mut s = self.shape();
        match crate::tensor::shape::norm_axis_or_scalar("squeeze", axis, &s)? {
            Some(a) if s[a] == 1 => {
                s.remove(a);
                self.reshape_to(s)
            }
            _ => Ok(self),
        }
    }
    /// Inserts a dimension of size 1 at `axis` (which may equal the number of dimensions).
    #[track_caller]
    pub fn unsqueeze(self, axis: isize) -> Result<Tensor<'t, T>> {
        let mut s = self.shape();
        let a = norm_axis_n("unsqueeze", axis, &s, s.len() + 1)?;
        s.insert(a, 1);
        self.reshape_to(s)
    }

    /// Dimensions `start_dim..=end_dim` merged into one (as `torch.flatten`; negative dimensions
    /// count from the end, `flatten(0, -1)` is PyTorch's default and gives one dimension). A
    /// 0-d tensor becomes one of shape `[1]`, as in PyTorch.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::zeros(&[2, 3, 4]));
    /// assert_eq!(x.flatten(1, -1).unwrap().shape(), vec![2, 12]);
    /// assert_eq!(x.flatten(0, -1).unwrap().shape(), vec![24]);
    /// ```
    #[track_caller]
    pub fn flatten(self, start_dim: isize, end_dim: isize) -> Result<Tensor<'t, T>> {
        let s = self.shape();
        if s.is_empty() {
            // PyTorch accepts 0 and -1 as the dimensions of a 0-d tensor here.
            norm_axis_n("flatten", start_dim, &s, 1)?;
            norm_axis_n("flatten", end_dim, &s, 1)?;
            return self.reshape_to(vec![1]);
        }
        let (a, b) = (
            norm_axis("flatten", start_dim, &s)?,
            norm_axis("flatten", end_dim, &s)?,
        );
        if a > b {
            return Err(TensorError::new(
                "flatten",
                format!(
                    "start_dim {start_dim} comes after end_dim {end_dim} for shape {}",
                    fmt_shape(&s)
                ),
            ));
        }
        let mut out = s[..a].to_vec();
        out.push(numel(&s[a..=b]));
        out.extend_from_slice(&s[b + 1..]);
        self.reshape_to(out)
    }

    /// Dimension `dim` split into several of the sizes `sizes` (as `torch.unflatten`; one size
    /// may be `-1`, inferred).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::zeros(&[2, 12]));
    /// assert_eq!(x.unflatten(1, &[3, -1]).unwrap().shape(), vec![2, 3, 4]);
    /// ```
    #[track_caller]
    pub fn unflatten(self, dim: isize, sizes: impl IntoShape) -> Result<Tensor<'t, T>> {
        let s = self.shape();
        let a = norm_axis("unflatten", dim, &s)?;
        let dims = sizes.into_dims();
        if dims.is_empty() {
            return Err(TensorError::new("unflatten", "sizes must not be empty"));
        }
        let inner = resolve_shape("unflatten", &s[a..=a], &dims)?;
        let mut out = s[..a].to_vec();
        out.extend(inner);
        out.extend_from_slice(&s[a + 1..]);
        self.reshape_to(out)
    }

    /// The tensor reversed along each of `dims` (as `torch.flip`).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::arange(0.0, 6.0, 1.0).reshape(&[2, 3]).unwrap());
    /// assert_eq!(x.flip(&[-1]).unwrap().to_vec(), vec![2.0, 1.0, 0.0, 5.0, 4.0, 3.0]);
    /// assert_eq!(x.flip(&[0, 1]).unwrap().to_vec(), vec![5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn flip(self, dims: &[isize]) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let mask = axes_mask("flip", dims, x.shape())?;
        if mask == 0 {
            return Ok(self);
        }
        let mut out = self.tape.buffer(x.numel());
        kernels::flip(x.data(), x.shape(), mask, &mut out);
        let v = Array::from_parts(out, x.shape());
        let node = Op::Flip(Flip { x: self.id, mask });
        Ok(self.tape.record(v, node, &[self.id]))
    }

    /// The axes reordered: output axis `i` is input axis `perm[i]`.
    #[track_caller]
    pub fn permute(self, perm: &[isize]) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let shape = x.shape();
        if perm.len() != shape.len() {
            return Err(TensorError::new(
                "permute",
                format!(
                    "permutation {perm:?} does not fit shape {}",
                    fmt_shape(shape)
                ),
            ));
        }
        let mut p = Vec::with_capacity(perm.len());
        let mut seen = vec![false; perm.len()];
        for &a in perm {
            let a = norm_axis("permute", a, shape)?;
            if std::mem::replace(&mut seen[a], true) {
                return Err(TensorError::new(
                    "permute",
                    format!("permutation {perm:?} repeats axis {a}"),
                ));
            }
            p.push(a);
        }
        let out_shape: Vec<usize> = p.iter().map(|&a| shape[a]).collect();
        let mut out = self.tape.buffer(x.numel());
        kernels::permute(x.data(), shape, &p, &mut out);
        let v = Array::from_parts(out, out_shape);
        let node = Op::Permute(Permute {
            x: self.id,
            perm: p,
        });
        Ok(self.tape.record(v, node, &[self.id]))
    }
    /// Swaps two axes.
    #[track_caller]
    pub fn transpose(self, a: isize, b: isize) -> Result<Tensor<'t, T>> {
        let s = self.shape();
        let (a, b) = (
            norm_axis("transpose", a, &s)?,
            norm_axis("transpose", b, &s)?,
        );
        let mut perm: Vec<isize> = (0..s.len() as isize).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Elements `start..end` along `axis`, as Python's `x[start:end]` on that axis: negative
    /// bounds count from the end, bounds past either end are clamped to it (so a range that is
    /// empty or out of range gives an empty dimension, not an error), and `None` for `end` means
    /// the end (`x[start:]`). Any integer type works for the bounds, so indices held as
    /// `usize` pass as they are. See [`Tensor::slice_step`] for a step.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::arange(0.0, 10.0, 1.0));
    /// assert_eq!(x.slice(0, 2, 5).unwrap().to_vec(), vec![2.0, 3.0, 4.0]);
    /// assert_eq!(x.slice(0, -3, None).unwrap().to_vec(), vec![7.0, 8.0, 9.0]); // x[-3:]
    /// assert_eq!(x.slice(0, -100, 2).unwrap().to_vec(), vec![0.0, 1.0]); // x[-100:2]
    /// assert_eq!(x.slice(0, 8, 2).unwrap().numel(), 0); // x[8:2]
    /// ```
    #[track_caller]
    pub fn slice(
        self,
        axis: isize,
        start: impl SliceIndex,
        end: impl SliceIndex,
    ) -> Result<Tensor<'t, T>> {
        self.slice_step(axis, start, end, 1)
    }

    /// Every `step`-th element of `start..end` along `axis`, as Python's `x[start:end:step]`
    /// (`step > 0`; bounds as in [`Tensor::slice`]). A step of 1 records a slice, whose adjoint
    /// pads with zeros; a larger one records an index selection, whose adjoint adds the
    /// gradient back at the picked positions.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::arange(0.0, 10.0, 1.0));
    /// assert_eq!(x.slice_step(0, 2, 100, 3).unwrap().to_vec(), vec![2.0, 5.0, 8.0]);
    /// assert_eq!(x.slice_step(0, None, None, 4).unwrap().to_vec(), vec![0.0, 4.0, 8.0]);
    /// ```
    #[track_caller]
    pub fn slice_step(
        self,
        axis: isize,
        start: impl SliceIndex,
        end: impl SliceIndex,
        step: usize,
    ) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let a = norm_axis("slice", axis, x.shape())?;
        if step == 0 {
            return Err(TensorError::new("slice", "step must be positive, not 0"));
        }
        let (start, len) = resolve_slice(start.to_bound(), end.to_bound(), step, x.shape()[a]);
        if step > 1 && len > 1 {
            let picks: Vec<usize> = (0..len).map(|i| start + i * step).collect();
            return self.index_select(a as isize, &picks);
        }
        let end = start + len;
        let (outer, size, inner) = kernels::around(x.shape(), a);
        let len = end - start;
        let mut out = self.tape.buffer(outer * len * inner);
        for o in 0..outer {
            let src = &x.data()[(o * size + start) * inner..(o * size + end) * inner];
            out[o * len * inner..(o + 1) * len * inner].copy_from_slice(src);
        }
        let mut shape = x.shape().to_vec();
        shape[a] = len;
        let v = Array::from_parts(out, shape);
        let node = Op::Slice(Slice {
            x: self.id,
            axis: a,
            start,
        });
        Ok(self.tape.record(v, node, &[self.id]))
    }

    /// The tensor cut along `dim` into pieces, as `torch.split`: `split_size_or_sizes` is one
    /// size (every piece has it but the last, which is smaller when it does not divide) or the
    /// list of the pieces' sizes, adding up to the dimension's size. Each piece is a slice, so
    /// gradients flow back from every piece used.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::arange(0.0, 5.0, 1.0));
    /// let sizes = |parts: Vec<chainrule::tensor::Tensor<'_, f32>>| {
    ///     parts.iter().map(|p| p.numel()).collect::<Vec<_>>()
    /// };
    /// assert_eq!(sizes(x.split(2, 0).unwrap()), vec![2, 2, 1]);
    /// assert_eq!(sizes(x.split(&[1, 4], 0).unwrap()), vec![1, 4]);
    /// assert!(x.split(&[1, 1], 0).is_err());
    /// ```
    #[track_caller]
    pub fn split(
        self,
        split_size_or_sizes: impl SplitSizes,
        dim: isize,
    ) -> Result<Vec<Tensor<'t, T>>> {
        let s = self.shape();
        let a = norm_axis("split", dim, &s)?;
        let sizes = split_size_or_sizes.sizes_for(s[a]).map_err(|why| {
            TensorError::new(
                "split",
                format!("cannot split dimension {a} of {}: {why}", fmt_shape(&s)),
            )
        })?;
        let mut at = 0;
        sizes
            .iter()
            .map(|&n| {
                at += n;
                self.slice(a as isize, at - n, at)
            })
            .collect()
    }

    /// The tensor cut along `dim` into `chunks` pieces of equal size (the last smaller), as
    /// `torch.chunk`: each has `ceil(size / chunks)` elements along `dim`, so there may be
    /// fewer than `chunks` pieces (5 in 3 gives 2, 2, 1; 6 in 4 gives 2, 2, 2); an empty
    /// dimension gives `chunks` empty pieces.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let qkv = tape.constant(Array::zeros(&[2, 12]));
    /// let parts = qkv.chunk(3, -1).unwrap();
    /// assert_eq!(parts.len(), 3);
    /// assert_eq!(parts[0].shape(), vec![2, 4]);
    /// ```
    #[track_caller]
    pub fn chunk(self, chunks: usize, dim: isize) -> Result<Vec<Tensor<'t, T>>> {
        let s = self.shape();
        let a = norm_axis("chunk", dim, &s)?;
        if chunks == 0 {
            return Err(TensorError::new(
                "chunk",
                "the number of chunks must be positive",
            ));
        }
        let size = s[a].div_ceil(chunks);
        if size == 0 {
            return self.split(&vec![0; chunks], a as isize);
        }
        self.split(size, a as isize)
    }

    /// Joins tensors along an existing axis; all other dimensions must agree.
    #[track_caller]
    pub fn concat(tensors: &[Tensor<'t, T>], axis: isize) -> Result<Tensor<'t, T>> {
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::new("concat", "no tensors to join"))?;
        let tape = first.tape;
        let values: Vec<Array<T>> = tensors.iter().map(|t| t.value()).collect();
        let s0 = values[0].shape().to_vec();
        let a = norm_axis("concat", axis, &s0)?;
        let mut total = 0;
        for v in &values {
            let s = v.shape();
            let agree = s.len() == s0.len()
                && s.iter()
                    .zip(&s0)
                    .enumerate()
                    .all(|(i, (x, y))| i == a || x == y);
            if !agree {
                return Err(TensorError::new(
                    "concat",
                    format!(
                        "cannot join {} and {} along axis {a}",
                        fmt_shape(&s0),
                        fmt_shape(s)
                    ),
                ));
            }
            total += s[a];
        }
        let (outer, _, inner) = kernels::around(&s0, a);
        let mut out = tape.buffer(outer * total * inner);
        let mut at = 0;
        for o in 0..outer {
            for v in &values {
                let chunk = v.shape()[a] * inner;
                out[at..at + chunk].copy_from_slice(&v.data()[o * chunk..(o + 1) * chunk]);
                at += chunk;
            }
        }
        let mut shape = s0;
        shape[a] = total;
        let ids: Vec<usize> = tensors.iter().map(|t| t.id).collect();
        let v = Array::from_parts(out, shape);
        let node = Op::Concat(Concat {
            xs: ids.clone(),
            axis: a,
        });
        Ok(tape.record(v, node, &ids))
    }

    /// Joins tensors of one shape along a new axis.
    #[track_caller]
    pub fn stack(tensors: &[Tensor<'t, T>], axis: isize) -> Result<Tensor<'t, T>> {
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::new("stack", "no tensors to join"))?;
        let s0 = first.shape();
        let a = norm_axis_n("stack", axis, &s0, s0.len() + 1)? as isize;
        let mut parts = Vec::with_capacity(tensors.len());
        for t in tensors {
            if t.shape() != s0 {
                return Err(TensorError::new(
                    "stack",
                    format!(
                        "cannot stack {} with {}",
                        fmt_shape(&s0),
                        fmt_shape(&t.shape())
                    ),
                ));
            }
            parts.push(t.unsqueeze(a)?);
        }
        Self::concat(&parts, a)
    }
}
