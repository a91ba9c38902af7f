//! The moves of data: `reshape` (with `squeeze` and `unsqueeze`), `permute` (with
//! `transpose`), `slice`, `concat` (with `stack`).
//!
//! Each is linear and moves every element somewhere without changing it, so its adjoint is the
//! opposite move (a reshape's is the reshape back, a permutation's the inverse permutation, a
//! slice's is padding with zeros, a concatenation's is slicing it apart) and its tangent is the
//! same move applied to the tangent.

use std::borrow::Cow;

use super::{Numbers, Op, Recorded, Rule};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels;
use crate::tensor::shape::{fmt_shape, norm_axis, norm_axis_n, numel, Result, TensorError};
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
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let mut dx = cx.buffer(g.len());
        dx.copy_from_slice(g);
        out.push((self.x, dx));
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

/// Builds a shape from a list of dimension sizes, resolving a single `-1` from the element count
/// (as `torch.reshape`).
fn resolve_shape(from: &[usize], shape: &[isize]) -> Result<Vec<usize>> {
    let known: usize = shape
        .iter()
        .filter(|&&d| d >= 0)
        .map(|&d| d as usize)
        .product();
    let unknown = shape.iter().filter(|&&d| d < 0).count();
    let total = numel(from);
    let bad = || {
        TensorError::new(
            "reshape",
            format!(
                "cannot reshape {} into {:?}: {} elements",
                fmt_shape(from),
                shape,
                total
            ),
        )
    };
    if unknown > 1 || shape.iter().any(|&d| d < -1) {
        return Err(bad());
    }
    let out: Vec<usize> = shape
        .iter()
        .map(|&d| {
            if d < 0 {
                total.checked_div(known).unwrap_or(0)
            } else {
                d as usize
            }
        })
        .collect();
    if numel(&out) != total {
        return Err(bad());
    }
    Ok(out)
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

    /// The same elements with another shape (no copy); one dimension may be `-1`, inferred.
    #[track_caller]
    pub fn reshape(self, shape: &[isize]) -> Result<Tensor<'t, T>> {
        let s = resolve_shape(&self.shape(), shape)?;
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

    /// Elements `start..end` along `axis`.
    #[track_caller]
    pub fn slice(self, axis: isize, start: usize, end: usize) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let a = norm_axis("slice", axis, x.shape())?;
        if start > end || end > x.shape()[a] {
            return Err(TensorError::new(
                "slice",
                format!(
                    "range {start}..{end} is out of bounds for dimension {a} of {}",
                    fmt_shape(x.shape())
                ),
            ));
        }
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
