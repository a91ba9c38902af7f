//! Indexing: `gather` (elements picked by an index tensor, as `torch.gather`) and
//! `index_select` (slices picked by a list of indices), and their adjoints `scatter_add` and
//! `index_add`, which put each element back where it was picked from, adding where an index
//! repeats.
//!
//! Each of the four is linear, and each pair is adjoint: the vector-Jacobian product of a gather
//! is the scatter-add of the adjoint by the same index, and that of a scatter-add is the gather.
//! So the recorded products are the partner operation, and the tangent of each is the operation
//! applied to the tangent.

use std::borrow::Cow;

use super::{Numbers, Op, Recorded, Rule};
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
        out.push((self.x, g.scatter_add(&xs, self.axis, &self.index)));
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
        Ok(dx.scatter_add(&y.shape(), self.axis, &self.index))
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
        let a = norm_axis("gather", axis, xs)?;
        if xs.len() != is.len()
            || xs
                .iter()
                .zip(is)
                .enumerate()
                .any(|(d, (&n, &m))| d != a && m > n)
        {
            return Err(TensorError::new(
                "gather",
                format!(
                    "index of shape {} does not fit input of shape {} along axis {a}",
                    fmt_shape(is),
                    fmt_shape(xs)
                ),
            ));
        }
        if let Some(&bad) = index.data().iter().find(|&&i| i >= xs[a]) {
            return Err(TensorError::new(
                "gather",
                format!(
                    "index {bad} is out of bounds for dimension {a} of {}",
                    fmt_shape(xs)
                ),
            ));
        }
        let mut out = self.tape.buffer(index.numel());
        for_gather(xs, is, a, index.data(), |o, src| out[o] = x.data()[src]);
        let v = Array::from_parts(out, is.to_vec());
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
    pub(crate) fn scatter_add(self, shape: &[usize], axis: usize, index: &Array<usize>) -> Self {
        let x = self.value();
        let mut out = self.tape.zeroed(numel(shape));
        for_gather(shape, index.shape(), axis, index.data(), |o, dst| {
            out[dst] = out[dst] + x.data()[o];
        });
        let v = Array::from_parts(out, shape.to_vec());
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
