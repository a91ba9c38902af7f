//! Indexing: `gather` (elements picked by an index tensor, as `torch.gather`) and
//! `index_select` (slices picked by a list of indices), and their adjoints `scatter_add` and
//! `index_add`, which put each element back where it was picked from, adding where an index
//! repeats; `scatter` (elements written at the places an index names); and `topk`, a gather of
//! the places of the largest elements.
//!
//! Each of the four is linear, and each pair is adjoint: the vector-Jacobian product of a gather
//! is the scatter-add of the adjoint by the same index, and that of a scatter-add is the gather.
//! So the recorded products are the partner operation, and the tangent of each is the operation
//! applied to the tangent. A scatter is linear in both its inputs: its adjoint gathers the
//! output's adjoint for the elements written (zero for those overwritten by a later duplicate)
//! and zeroes it at the places written over for the input.

use std::borrow::Cow;

use super::{Explain, Numbers, Op, Recorded, Rule};
use crate::tensor::args::IntoIndices;
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels;
use crate::tensor::shape::{fmt_shape, norm_axis, numel, Result, TensorError};
use crate::tensor::tape::Tensor;

/// `y = gather(x, axis, index)`.
#[derive(Clone, Debug)]
pub(crate) struct Gather {
    pub x: usize,
    pub axis: usize,
    pub index: Array<usize>,
}

impl<T: Element> Rule<T> for Gather {
    fn name(&self) -> Cow<'static, str> {
        "gather".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let x = self.x;
        let line = format!(
            "{} = {} added back where each element was picked from   {} ← {}",
            cx.grad(x),
            cx.grad(y),
            cx.shape(x),
            cx.shape(y)
        );
        vec![(x, line)]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let xs = cx.value(self.x).shape();
        let mut dx = cx.zeroed(numel(xs));
        for_gather(
            xs,
            self.index.shape(),
            self.axis,
            self.index.data(),
            |o, src| {
                dx[src] = dx[src] + g[o];
            },
        );
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let xs = cx.t(self.x).shape();
        out.push((self.x, g.scatter_add_to(&xs, self.axis, &self.index)));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        cx.or_zeros(tangent(self.x), self.x)
            .gather(self.axis as isize, &self.index)
    }
}

/// `y = index_select(x, axis, indices)`.
#[derive(Clone, Debug)]
pub(crate) struct IndexSelect {
    pub x: usize,
    pub axis: usize,
    pub indices: Vec<usize>,
}

impl<T: Element> Rule<T> for IndexSelect {
    fn name(&self) -> Cow<'static, str> {
        "index_select".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let x = self.x;
        let line = format!(
            "{} = the slices of {} added at the indices they were selected from   {} ← {}",
            cx.grad(x),
            cx.grad(y),
            cx.shape(x),
            cx.shape(y)
        );
        vec![(x, line)]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let xs = cx.value(self.x).shape();
        let (outer, size, inner) = kernels::around(xs, self.axis);
        let n = self.indices.len();
        let mut dx = cx.zeroed(numel(xs));
        for o in 0..outer {
            for (j, &i) in self.indices.iter().enumerate() {
                let (dst, src) = ((o * size + i) * inner, (o * n + j) * inner);
                for (d, &v) in dx[dst..dst + inner].iter_mut().zip(&g[src..src + inner]) {
                    *d = *d + v;
                }
            }
        }
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let size = cx.t(self.x).shape()[self.axis];
        out.push((self.x, g.index_add(size, self.axis, &self.indices)));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        cx.or_zeros(tangent(self.x), self.x)
            .index_select(self.axis as isize, &self.indices)
    }
}

/// `y = zeros` with each element of `x` added at the place `index` names along `axis`.
#[derive(Clone, Debug)]
pub(crate) struct ScatterAdd {
    pub x: usize,
    pub axis: usize,
    pub index: Array<usize>,
}

impl<T: Element> Rule<T> for ScatterAdd {
    fn name(&self) -> Cow<'static, str> {
        "scatter_add".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        // Each source element went to one place: its gradient is read back from there.
        let mut dx = cx.buffer(self.index.numel());
        for_gather(
            y.shape(),
            self.index.shape(),
            self.axis,
            self.index.data(),
            |o, src| {
                dx[o] = g[src];
            },
        );
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        _cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        out.push((self.x, g.gather(self.axis as isize, &self.index)?));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let dx = cx.or_zeros(tangent(self.x), self.x);
        Ok(dx.scatter_add_to(&y.shape(), self.axis, &self.index))
    }
}

/// `y = zeros` with the slices of `x` added at `indices` along `axis`.
#[derive(Clone, Debug)]
pub(crate) struct IndexAdd {
    pub x: usize,
    pub axis: usize,
    pub indices: Vec<usize>,
}

impl<T: Element> Rule<T> for IndexAdd {
    fn name(&self) -> Cow<'static, str> {
        "index_add".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let (outer, size, inner) = kernels::around(y.shape(), self.axis);
        let n = self.indices.len();
        let mut dx = cx.buffer(outer * n * inner);
        for o in 0..outer {
            for (j, &i) in self.indices.iter().enumerate() {
                let (dst, src) = ((o * n + j) * inner, (o * size + i) * inner);
                dx[dst..dst + inner].copy_from_slice(&g[src..src + inner]);
            }
        }
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        _cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        out.push((self.x, g.index_select(self.axis as isize, &self.indices)?));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let dx = cx.or_zeros(tangent(self.x), self.x);
        Ok(dx.index_add(y.shape()[self.axis], self.axis, &self.indices))
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// Picks elements along `axis` by `index`, as `torch.gather`: the output has the index's
    /// shape, and `out[i][j][k] = self[index[i][j][k]][j][k]` for axis 0.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let scores = tape.constant(Array::from_vec(vec![0.1, 0.9, 0.7, 0.3], &[2, 2]).unwrap());
    /// let labels = Array::from_vec(vec![1, 0], &[2, 1]).unwrap();
    /// assert_eq!(scores.gather(1, &labels).unwrap().to_vec(), vec![0.9, 0.7]);
    /// ```
    #[track_caller]
    pub fn gather(self, axis: isize, index: impl IntoIndices) -> Result<Tensor<'t, T>> {
        let index = &index.into_indices();
        let x = self.value();
        let (xs, is) = (x.shape(), index.shape());
        let a = check_index("gather", xs, axis, index)?;
        let mut out = self.tape.buffer(index.numel());
        for_gather(xs, is, a, index.data(), |o, src| out[o] = x.data()[src]);
        let v = Array::from_parts(out, is);
        let node = Op::Gather(Gather {
            x: self.id,
            axis: a,
            index: index.clone(),
        });
        Ok(self.tape.record(v, node, &[self.id]))
    }

    /// The slices at `indices` along `axis`, in that order (as `torch.index_select`); the
    /// indices are a list (any [`IntoIndices`] of one dimension), and may repeat.
    #[track_caller]
    pub fn index_select(self, axis: isize, indices: impl IntoIndices) -> Result<Tensor<'t, T>> {
        let index = indices.into_indices();
        let x = self.value();
        let a = norm_axis("index_select", axis, x.shape())?;
        if index.ndim() > 1 {
            return Err(TensorError::new(
                "index_select",
                format!(
                    "the index must have one dimension, not shape {}",
                    fmt_shape(index.shape())
                ),
            ));
        }
        let indices = index.data();
        let (outer, size, inner) = kernels::around(x.shape(), a);
        if let Some(&bad) = indices.iter().find(|&&i| i >= size) {
            return Err(TensorError::new(
                "index_select",
                format!(
                    "index {bad} is out of bounds for dimension {a} of {}",
                    fmt_shape(x.shape())
                ),
            ));
        }
        let n = indices.len();
        let mut out = self.tape.buffer(outer * n * inner);
        for o in 0..outer {
            for (j, &i) in indices.iter().enumerate() {
                let src = (o * size + i) * inner;
                out[(o * n + j) * inner..(o * n + j + 1) * inner]
                    .copy_from_slice(&x.data()[src..src + inner]);
            }
        }
        let mut shape = x.shape().to_vec();
        shape[a] = n;
        let v = Array::from_parts(out, shape);
        let node = Op::IndexSelect(IndexSelect {
            x: self.id,
            axis: a,
            indices: indices.to_vec(),
        });
        Ok(self.tape.record(v, node, &[self.id]))
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// The adjoint of [`Tensor::gather`]: zeros of `shape` with each element of `self` added at
    /// the place `index` names along `axis` (`self` has the index's shape). Made by
    /// [`Tape::grad_graph`](crate::tensor::Tape::grad_graph), whose index was checked by `gather`.
    #[track_caller]
    pub(crate) fn scatter_add_to(self, shape: &[usize], axis: usize, index: &Array<usize>) -> Self {
        let x = self.value();
        let mut out = self.tape.zeroed(numel(shape));
        for_gather(shape, index.shape(), axis, index.data(), |o, dst| {
            out[dst] = out[dst] + x.data()[o];
        });
        let v = Array::from_parts(out, shape);
        let node = Op::ScatterAdd(ScatterAdd {
            x: self.id,
            axis,
            index: index.clone(),
        });
        self.tape.record(v, node, &[self.id])
    }

    /// The adjoint of [`Tensor::index_select`]: zeros with `size` slices along `axis`, and the
    /// slices of `self` added at `indices` (checked by `index_select`).
    #[track_caller]
    pub(crate) fn index_add(self, size: usize, axis: usize, indices: &[usize]) -> Self {
        let x = self.value();
        let mut shape = x.shape().to_vec();
        shape[axis] = size;
        let (outer, n, inner) = kernels::around(x.shape(), axis);
        let mut out = self.tape.zeroed(numel(&shape));
        for o in 0..outer {
            for (j, &i) in indices.iter().enumerate() {
                let (dst, src) = ((o * size + i) * inner, (o * n + j) * inner);
                let from = &x.data()[src..src + inner];
                for (d, &v) in out[dst..dst + inner].iter_mut().zip(from) {
                    *d = *d + v;
                }
            }
        }
        let v = Array::from_parts(out, shape);
        let node = Op::IndexAdd(IndexAdd {
            x: self.id,
            axis,
            indices: indices.to_vec(),
        });
        self.tape.record(v, node, &[self.id])
    }
}

/// Checks an index for `gather`, `scatter` and `scatter_add` on an input of shape `xs` along
/// `axis` (as PyTorch: as many dimensions, no larger than the input but along the axis, and
/// every index in bounds there); returns the axis.
fn check_index(op: &'static str, xs: &[usize], axis: isize, index: &Array<usize>) -> Result<usize> {
    let is = index.shape();
    let a = norm_axis(op, axis, xs)?;
    if xs.len() != is.len()
        || xs
            .iter()
            .zip(is)
            .enumerate()
            .any(|(d, (&n, &m))| d != a && m > n)
    {
        return Err(TensorError::new(
            op,
            format!(
                "index of shape {} does not fit input of shape {} along axis {a}",
                fmt_shape(is),
                fmt_shape(xs)
            ),
        ));
    }
    if let Some(&bad) = index.data().iter().find(|&&i| i >= xs[a]) {
        return Err(TensorError::new(
            op,
            format!(
                "index {bad} is out of bounds for dimension {a} of {}",
                fmt_shape(xs)
            ),
        ));
    }
    Ok(a)
}

/// Calls `f(out_index, source_index)` for each element of a gather with input shape `xs`, index
/// shape `is` along axis `a`.
pub(crate) fn for_gather(
    xs: &[usize],
    is: &[usize],
    a: usize,
    index: &[usize],
    mut f: impl FnMut(usize, usize),
) {
    let xst = crate::tensor::shape::strides(xs);
    for (o, &i) in index.iter().enumerate() {
        let mut rem = o;
        let mut src = 0;
        for d in (0..is.len()).rev() {
            let c = rem % is[d];
            rem /= is[d];
            src += if d == a { i } else { c } * xst[d];
        }
        f(o, src);
    }
}

/// `y` is `x` with the elements of `src` (of the index's shape) written at the places `index`
/// names along `axis`; where several write to one place, the last in row-major order of the
/// index wins (`won` marks the writes that stayed).
#[derive(Clone, Debug)]
pub(crate) struct Scatter {
    pub x: usize,
    pub src: usize,
    pub axis: usize,
    pub index: Array<usize>,
    pub won: Array<bool>,
}

impl<T: Element> Rule<T> for Scatter {
    fn name(&self) -> Cow<'static, str> {
        "scatter".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x, self.src]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let (ys, is, index) = (y.shape(), self.index.shape(), self.index.data());
        if cx.needs(self.x) {
            // The places written over do not depend on x.
            let mut dx = cx.buffer(g.len());
            dx.copy_from_slice(g);
            for_gather(ys, is, self.axis, index, |_, dst| dx[dst] = T::ZERO);
            out.push((self.x, dx));
        }
        if cx.needs(self.src) {
            let won = self.won.data();
            let mut ds = cx.buffer(self.index.numel());
            for_gather(ys, is, self.axis, index, |o, dst| {
                ds[o] = if won[o] { g[dst] } else { T::ZERO };
            });
            out.push((self.src, ds));
        }
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let a = self.axis as isize;
        if cx.needs(self.x) {
            let zeros = cx.zeros(self.index.shape());
            out.push((self.x, g.scatter(a, &self.index, zeros)?));
        }
        if cx.needs(self.src) {
            let picked = g.gather(a, &self.index)?;
            out.push((self.src, Tensor::where_cond(&self.won, picked, cx.zero())?));
        }
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let dx = cx.or_zeros(tangent(self.x), self.x);
        let ds = cx.or_zeros(tangent(self.src), self.src);
        dx.scatter(self.axis as isize, &self.index, ds)
    }
}

/// `a` before `b` in a descending order where NaN is the largest value (as PyTorch's `topk`
/// and `sort` place it).
fn nan_greatest<T: Element>(a: T, b: T) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.partial_cmp(&a).is_none(), b.partial_cmp(&b).is_none()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// `src` fitted to the index's shape (PyTorch reads only that corner of a larger `src`).
    #[track_caller]
    fn fit_src(op: &'static str, src: Self, index: &Array<usize>) -> Result<Self> {
        let (ss, is) = (src.shape(), index.shape());
        if ss.len() != is.len() || ss.iter().zip(is).any(|(&s, &i)| i > s) {
            return Err(TensorError::new(
                op,
                format!(
                    "index of shape {} does not fit src of shape {}",
                    fmt_shape(is),
                    fmt_shape(&ss)
                ),
            ));
        }
        let mut t = src;
        for (d, (&s, &i)) in ss.iter().zip(is).enumerate() {
            if i < s {
                t = t.slice(d as isize, 0, i)?;
            }
        }
        Ok(t)
    }

    /// A copy of `self` with the elements of `src` written at the places `index` names along
    /// `dim`, as (out-of-place) `torch.scatter`: for `dim = 0`,
    /// `out[index[i][j]][j] = src[i][j]`. The index has as many dimensions as `self`, no larger
    /// than `self` except along `dim`, and no larger than `src` (only its first elements are
    /// read).
    ///
    /// Where an index repeats, the last write in row-major order of the index wins, which is
    /// what PyTorch does on the CPU (it documents the choice as undefined). The gradient is
    /// exact: the elements of `src` that were overwritten get zero, and `self` gets none at the
    /// places written over. (PyTorch gives every duplicate the gradient of the place, as if
    /// each had won: for `index = [1, 1, 3, 1]` and an output gradient `[10, 20, 30, 40, 50]`,
    /// PyTorch's `src` gradient is `[20, 20, 40, 20]`, this one `[0, 0, 40, 20]`.)
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::zeros(&[5]));
    /// let src = tape.var(Array::from_slice(&[1.0, 2.0, 3.0, 4.0]));
    /// let y = x.scatter(0, &[1, 1, 3, 1], src).unwrap();
    /// assert_eq!(y.to_vec(), vec![0.0, 4.0, 0.0, 3.0, 0.0]);
    /// y.backward_with(&Array::from_slice(&[10.0, 20.0, 30.0, 40.0, 50.0])).unwrap();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![10.0, 0.0, 30.0, 0.0, 50.0]);
    /// assert_eq!(src.grad().unwrap().to_vec(), vec![0.0, 0.0, 40.0, 20.0]);
    /// ```
    #[track_caller]
    pub fn scatter(self, dim: isize, index: impl IntoIndices, src: Self) -> Result<Self> {
        let index = index.into_indices();
        let x = self.value();
        let a = check_index("scatter", x.shape(), dim, &index)?;
        let src = Self::fit_src("scatter", src, &index)?;
        let sv = src.value();
        let mut out = self.tape.buffer(x.numel());
        out.copy_from_slice(x.data());
        // Which write last reached each place; `usize::MAX` where none did.
        let mut last = vec![usize::MAX; x.numel()];
        for_gather(x.shape(), index.shape(), a, index.data(), |o, dst| {
            out[dst] = sv.data()[o];
            last[dst] = o;
        });
        let mut won = vec![false; index.numel()];
        for_gather(x.shape(), index.shape(), a, index.data(), |o, dst| {
            won[o] = last[dst] == o;
        });
        let v = Array::from_parts(out, x.shape());
        let node = Op::Scatter(Box::new(Scatter {
            x: self.id,
            src: src.id,
            axis: a,
            index: index.clone(),
            won: Array::from_parts(won, index.shape()),
        }));
        Ok(self.tape.record(v, node, &[self.id, src.id]))
    }

    /// A copy of `self` with the elements of `src` added at the places `index` names along
    /// `dim`, as (out-of-place) `torch.scatter_add`; where an index repeats, every element
    /// adds (and gets the place's gradient). Shapes as in [`Tensor::scatter`].
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let counts = tape.constant(Array::zeros(&[3]));
    /// let ones = tape.constant(Array::ones(&[4]));
    /// let y = counts.scatter_add(0, &[2, 0, 2, 2], ones).unwrap();
    /// assert_eq!(y.to_vec(), vec![1.0, 0.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn scatter_add(self, dim: isize, index: impl IntoIndices, src: Self) -> Result<Self> {
        let index = index.into_indices();
        let xs = self.shape();
        let a = check_index("scatter_add", &xs, dim, &index)?;
        let src = Self::fit_src("scatter_add", src, &index)?;
        self.add(src.scatter_add_to(&xs, a, &index))
    }

    /// The `k` largest elements along `dim` (the `k` smallest if not `largest`), as
    /// `torch.topk`: their values, differentiable (a gather, so the gradient goes to the
    /// elements picked), and their indices along `dim`; both have the input's shape with
    /// `k` along `dim`.
    ///
    /// The elements come largest first (smallest first if not `largest`) whether or not
    /// `sorted` is asked (PyTorch leaves the order unspecified then). Among equal values the
    /// lower index comes first; PyTorch's CPU kernel gives equal values in no documented
    /// order (for `[1, 3, 3, 2, 3, 1]` and `k = 3` it answers indices `[2, 4, 1]`, here
    /// `[1, 2, 4]`; the values agree). NaN counts as larger than every number, as in PyTorch.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let logits = tape.var(Array::from_slice(&[1.0, 3.0, 3.0, 2.0, 3.0, 1.0]));
    /// let (values, indices) = logits.topk(3, -1, true, true).unwrap();
    /// assert_eq!(values.to_vec(), vec![3.0, 3.0, 3.0]);
    /// assert_eq!(indices.to_vec(), vec![1, 2, 4]);
    /// let (_, low) = logits.topk(2, 0, false, true).unwrap();
    /// assert_eq!(low.to_vec(), vec![0, 5]);
    /// ```
    #[track_caller]
    pub fn topk(
        self,
        k: usize,
        dim: isize,
        largest: bool,
        sorted: bool,
    ) -> Result<(Self, Array<usize>)> {
        // Always sorted; the argument is PyTorch's, and sorting k elements is cheap.
        let _ = sorted;
        let x = self.value();
        let a = norm_axis("topk", dim, x.shape())?;
        let (outer, n, inner) = kernels::around(x.shape(), a);
        if k > n {
            return Err(TensorError::new(
                "topk",
                format!(
                    "k = {k} is more than the size {n} of dimension {a} of {}",
                    fmt_shape(x.shape())
                ),
            ));
        }
        let mut index = vec![0usize; outer * k * inner];
        let mut lane: Vec<(T, usize)> = Vec::with_capacity(n);
        for o in 0..outer {
            for i in 0..inner {
                lane.clear();
                lane.extend((0..n).map(|j| (x.data()[(o * n + j) * inner + i], j)));
                let before = |p: &(T, usize), q: &(T, usize)| {
                    let by_value = if largest {
                        nan_greatest(q.0, p.0)
                    } else {
                        nan_greatest(p.0, q.0)
                    };
                    by_value.then(p.1.cmp(&q.1))
                };
                if k > 0 && k < n {
                    lane.select_nth_unstable_by(k - 1, before);
                }
                lane[..k].sort_unstable_by(before);
                for (j, &(_, at)) in lane[..k].iter().enumerate() {
                    index[(o * k + j) * inner + i] = at;
                }
            }
        }
        let mut shape = x.shape().to_vec();
        shape[a] = k;
        let index = Array::from_parts(index, shape);
        Ok((self.gather(a as isize, &index)?, index))
    }
}
