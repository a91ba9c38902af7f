//! The differentiable operations on [`Tensor`]: each computes its value with a kernel and
//! records a node whose backward rule lives in [`super::backward`].

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::array::{Array, Element};
use super::kernels::{self, with_binary, with_unary, Reduce};
use super::shape::{
    axes_mask, broadcast_shapes, fmt_shape, norm_axis, norm_axis_n, numel, reduced_shape, Result,
    TensorError,
};
use super::tape::{Op, Tensor};
use crate::ops::{Binary, Unary};

/// How a (batched) matrix product lines up its operands, as `torch.matmul` does: 1-D operands
/// are promoted to a row (left) or a column (right) and the extra dimension removed afterwards;
/// leading dimensions are batch dimensions, broadcast against each other.
pub(crate) struct MatmulPlan {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// The broadcast batch shape.
    pub batch: Vec<usize>,
    /// For each operand, the stride (in elements) of each batch dimension; 0 where broadcast.
    pub a_batch_strides: Vec<usize>,
    pub b_batch_strides: Vec<usize>,
    pub out_shape: Vec<usize>,
}

impl MatmulPlan {
    pub fn new(a: &[usize], b: &[usize]) -> Result<Self> {
        if a.is_empty() || b.is_empty() {
            return Err(TensorError::new(
                "matmul",
                format!(
                    "both arguments need at least one dimension, got {} and {}",
                    fmt_shape(a),
                    fmt_shape(b)
                ),
            ));
        }
        let a2: Vec<usize> = if a.len() == 1 {
            vec![1, a[0]]
        } else {
            a.to_vec()
        };
        let b2: Vec<usize> = if b.len() == 1 {
            vec![b[0], 1]
        } else {
            b.to_vec()
        };
        let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
        let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
        if k != k2 {
            return Err(TensorError::new(
                "matmul",
                format!(
                    "cannot multiply {} by {}: inner dimensions {k} and {k2} differ",
                    fmt_shape(a),
                    fmt_shape(b)
                ),
            ));
        }
        let (ab, bb) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
        let batch = broadcast_shapes("matmul", ab, bb).map_err(|_| {
            TensorError::new(
                "matmul",
                format!(
                    "cannot multiply {} by {}: batch dimensions {} and {} do not broadcast",
                    fmt_shape(a),
                    fmt_shape(b),
                    fmt_shape(ab),
                    fmt_shape(bb)
                ),
            )
        })?;
        let strides_of = |own: &[usize], mat: usize| {
            super::shape::broadcast_strides(own, &batch)
                .into_iter()
                .map(|s| s * mat)
                .collect::<Vec<_>>()
        };
        let mut out_shape = batch.clone();
        if a.len() > 1 {
            out_shape.push(m);
        }
        if b.len() > 1 {
            out_shape.push(n);
        }
        Ok(MatmulPlan {
            m,
            k,
            n,
            a_batch_strides: strides_of(ab, m * k),
            b_batch_strides: strides_of(bb, k * n),
            batch,
            out_shape,
        })
    }

    /// The number of matrix products.
    pub fn batches(&self) -> usize {
        numel(&self.batch)
    }

    /// The offsets of the operands of product `r`.
    pub fn offsets(&self, mut r: usize) -> (usize, usize) {
        let (mut oa, mut ob) = (0, 0);
        for d in (0..self.batch.len()).rev() {
            let i = r % self.batch[d];
            r /= self.batch[d];
            oa += i * self.a_batch_strides[d];
            ob += i * self.b_batch_strides[d];
        }
        (oa, ob)
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
    /// Applies an element-wise operation from [`crate::ops::Unary`].
    #[track_caller]
    pub fn unary(self, op: Unary) -> Tensor<'t, T> {
        let x = self.value();
        let mut out = self.tape.buffer(x.numel());
        with_unary!(op, T, |f| kernels::map1(x.data(), &mut out, f));
        let v = Array::from_parts(out, x.shape().to_vec());
        self.tape.record(v, Op::Unary(op, self.id), &[self.id])
    }

    /// `e^x`, element-wise.
    #[track_caller]
    pub fn exp(self) -> Tensor<'t, T> {
        self.unary(Unary::Exp)
    }
    /// The natural logarithm, element-wise.
    #[track_caller]
    pub fn ln(self) -> Tensor<'t, T> {
        self.unary(Unary::Ln)
    }
    /// The square root, element-wise.
    #[track_caller]
    pub fn sqrt(self) -> Tensor<'t, T> {
        self.unary(Unary::Sqrt)
    }
    /// The sine, element-wise.
    #[track_caller]
    pub fn sin(self) -> Tensor<'t, T> {
        self.unary(Unary::Sin)
    }
    /// The cosine, element-wise.
    #[track_caller]
    pub fn cos(self) -> Tensor<'t, T> {
        self.unary(Unary::Cos)
    }
    /// The tangent, element-wise.
    #[track_caller]
    pub fn tan(self) -> Tensor<'t, T> {
        self.unary(Unary::Tan)
    }
    /// The hyperbolic tangent, element-wise.
    #[track_caller]
    pub fn tanh(self) -> Tensor<'t, T> {
        self.unary(Unary::Tanh)
    }
    /// The logistic function, element-wise.
    #[track_caller]
    pub fn sigmoid(self) -> Tensor<'t, T> {
        self.unary(Unary::Sigmoid)
    }
    /// `max(x, 0)`, element-wise.
    #[track_caller]
    pub fn relu(self) -> Tensor<'t, T> {
        self.unary(Unary::Relu)
    }
    /// The exact (erf-based) GELU, element-wise, as PyTorch's default.
    #[track_caller]
    pub fn gelu(self) -> Tensor<'t, T> {
        self.unary(Unary::Gelu)
    }
    /// The error function, element-wise.
    #[track_caller]
    pub fn erf(self) -> Tensor<'t, T> {
        self.unary(Unary::Erf)
    }
    /// `|x|`, element-wise.
    #[track_caller]
    pub fn abs(self) -> Tensor<'t, T> {
        self.unary(Unary::Abs)
    }
    /// `x^p` for a constant `p`, element-wise.
    #[track_caller]
    pub fn powf(self, p: f64) -> Tensor<'t, T> {
        self.unary(Unary::Powf(p))
    }
    /// `x + c`, element-wise.
    #[track_caller]
    pub fn add_scalar(self, c: f64) -> Tensor<'t, T> {
        self.unary(Unary::AddConst(c))
    }
    /// `c · x`, element-wise.
    #[track_caller]
    pub fn mul_scalar(self, c: f64) -> Tensor<'t, T> {
        self.unary(Unary::MulConst(c))
    }

    /// Applies an element-wise operation of two inputs from [`crate::ops::Binary`], with NumPy
    /// broadcasting.
    #[track_caller]
    pub fn binary(self, op: Binary, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        let name = match op {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Pow => "pow",
            Binary::Max => "maximum",
            Binary::Min => "minimum",
        };
        let (a, b) = (self.value(), other.value());
        let shape = broadcast_shapes(name, a.shape(), b.shape())?;
        let mut out = self.tape.buffer(numel(&shape));
        with_binary!(op, T, |f| kernels::binary(
            a.data(),
            a.shape(),
            b.data(),
            b.shape(),
            &shape,
            &mut out,
            f
        ));
        let v = Array::from_parts(out, shape);
        Ok(self
            .tape
            .record(v, Op::Binary(op, self.id, other.id), &[self.id, other.id]))
    }

    /// `self + other`, broadcast.
    #[allow(clippy::should_implement_trait)]
    #[track_caller]
    pub fn add(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Add, other)
    }
    /// `self - other`, broadcast.
    #[allow(clippy::should_implement_trait)]
    #[track_caller]
    pub fn sub(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Sub, other)
    }
    /// `self · other`, element-wise and broadcast.
    #[allow(clippy::should_implement_trait)]
    #[track_caller]
    pub fn mul(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Mul, other)
    }
    /// `self / other`, broadcast.
    #[allow(clippy::should_implement_trait)]
    #[track_caller]
    pub fn div(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Div, other)
    }
    /// `self ^ other`, broadcast, differentiable in both.
    #[track_caller]
    pub fn pow(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Pow, other)
    }

    /// The matrix product, as `torch.matmul`: 2-D by 2-D, vector by matrix (and the reverse),
    /// vector by vector (a dot product), and batched with broadcast batch dimensions.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let a = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let b = tape.constant(Array::eye(2));
    /// let c = a.matmul(b).unwrap();
    /// assert_eq!(c.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    ///
    /// let wrong = tape.constant(Array::zeros(&[3, 2]));
    /// assert_eq!(
    ///     a.matmul(wrong).unwrap_err().to_string(),
    ///     "matmul: cannot multiply [2, 2] by [3, 2]: inner dimensions 2 and 3 differ"
    /// );
    /// ```
    #[track_caller]
    pub fn matmul(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        let (a, b) = (self.value(), other.value());
        let p = MatmulPlan::new(a.shape(), b.shape())?;
        let (m, k, n) = (p.m, p.k, p.n);
        let mut out = self.tape.buffer(p.batches() * m * n);
        if k == 0 {
            out.fill(T::ZERO);
        } else {
            for r in 0..p.batches() {
                let (oa, ob) = p.offsets(r);
                // SAFETY: the plan's offsets and sizes address whole matrices inside each buffer.
                unsafe {
                    kernels::gemm(
                        m,
                        n,
                        k,
                        out.as_mut_ptr().add(r * m * n),
                        n as isize,
                        1,
                        false,
                        a.data().as_ptr().add(oa),
                        k as isize,
                        1,
                        b.data().as_ptr().add(ob),
                        n as isize,
                        1,
                    );
                }
            }
        }
        let v = Array::from_parts(out, p.out_shape);
        Ok(self
            .tape
            .record(v, Op::Matmul(self.id, other.id), &[self.id, other.id]))
    }

    /// A fully connected layer, `self · wᵀ + b`, as `torch.nn.functional.linear`: `self` is a
    /// batch of rows `[n, in]`, `w` is `[out, in]` (PyTorch's layout) and `b` is `[out]`. One
    /// operation instead of a transpose, a product and a broadcast sum: `wᵀ` is read in place.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.constant(Array::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap());
    /// let w = tape.var(Array::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]).unwrap());
    /// let b = tape.var(Array::from_vec(vec![0.5, 0.5, 0.5], &[3]).unwrap());
    /// let y = x.linear(w, b).unwrap();
    /// assert_eq!(y.to_vec(), vec![1.5, 2.5, 3.5]);
    /// y.sum_all().backward().unwrap();
    /// assert_eq!(w.grad().unwrap().to_vec(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn linear(self, w: Tensor<'t, T>, b: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        let (xv, wv, bv) = (self.value(), w.value(), b.value());
        let (xs, ws, bs) = (xv.shape(), wv.shape(), bv.shape());
        let fits =
            xs.len() == 2 && ws.len() == 2 && bs.len() == 1 && xs[1] == ws[1] && bs[0] == ws[0];
        if !fits {
            return Err(TensorError::new(
                "linear",
                format!(
                    "cannot apply weight {} and bias {} to input {}: expected [n, in], [out, in] and [out]",
                    fmt_shape(ws),
                    fmt_shape(bs),
                    fmt_shape(xs)
                ),
            ));
        }
        let (n, k, m) = (xs[0], xs[1], ws[0]);
        let mut out = self.tape.buffer(n * m);
        let mut scratch = self.tape.buffer(kernels::linear_scratch::<T>(n, k, m));
        kernels::linear(
            xv.data(),
            wv.data(),
            bv.data(),
            (n, k, m),
            &mut out,
            &mut scratch,
        );
        self.tape.recycle(scratch);
        let v = Array::from_parts(out, vec![n, m]);
        Ok(self
            .tape
            .record(v, Op::Linear(self.id, w.id, b.id), &[self.id, w.id, b.id]))
    }

    #[track_caller]
    fn reduce(
        self,
        op: &'static str,
        kind: Reduce,
        axes: &[isize],
        keepdim: bool,
    ) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let mask = axes_mask(op, axes, x.shape())?;
        if kind != Reduce::Sum && x.numel() == 0 {
            return Err(TensorError::new(
                op,
                format!("cannot reduce the empty shape {}", fmt_shape(x.shape())),
            ));
        }
        let kept = reduced_shape(x.shape(), mask, true);
        let mut out = self.tape.buffer(numel(&kept));
        kernels::reduce(kind, x.data(), x.shape(), mask, &mut out);
        let v = Array::from_parts(out, kept);
        let t = self
            .tape
            .record(v, Op::Reduce(kind, self.id, mask), &[self.id]);
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
        self.reduce("sum", Reduce::Sum, axes, keepdim)
    }
    /// The mean over `axes`.
    #[track_caller]
    pub fn mean(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        let x = self.shape();
        let count: usize = numel(&reduced_shape(&x, axes_mask("mean", axes, &x)?, true));
        let count = numel(&x) / count.max(1);
        Ok(self
            .reduce("mean", Reduce::Sum, axes, keepdim)?
            .mul_scalar(1.0 / count as f64))
    }
    /// The maximum over `axes`; ties share the gradient equally (as `torch.amax`).
    #[track_caller]
    pub fn max(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        self.reduce("max", Reduce::Max, axes, keepdim)
    }
    /// The minimum over `axes`; ties share the gradient equally (as `torch.amin`).
    #[track_caller]
    pub fn min(self, axes: &[isize], keepdim: bool) -> Result<Tensor<'t, T>> {
        self.reduce("min", Reduce::Min, axes, keepdim)
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

    #[track_caller]
    pub(crate) fn reshape_to(self, shape: Vec<usize>) -> Result<Tensor<'t, T>> {
        let x = self.value();
        if x.shape() == shape.as_slice() {
            return Ok(self);
        }
        let v = x.with_shape(shape);
        Ok(self.tape.record(v, Op::Reshape(self.id), &[self.id]))
    }

    /// The same elements with another shape (no copy); one dimension may be `-1`, inferred.
    #[track_caller]
    pub fn reshape(self, shape: &[isize]) -> Result<Tensor<'t, T>> {
        let s = resolve_shape(&self.shape(), shape)?;
        self.reshape_to(s)
    }
    /// Removes dimension `axis`, which must have size 1.
    #[track_caller]
    pub fn squeeze(self, axis: isize) -> Result<Tensor<'t, T>> {
        let mut s = self.shape();
        let a = norm_axis("squeeze", axis, &s)?;
        if s[a] != 1 {
            return Err(TensorError::new(
                "squeeze",
                format!(
                    "dimension {a} of {} has size {}, not 1",
                    fmt_shape(&s),
                    s[a]
                ),
            ));
        }
        s.remove(a);
        self.reshape_to(s)
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
        Ok(self.tape.record(v, Op::Permute(self.id, p), &[self.id]))
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
        Ok(self.tape.record(
            v,
            Op::Slice {
                x: self.id,
                axis: a,
                start,
            },
            &[self.id],
        ))
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
        Ok(tape.record(v, Op::Concat(ids.clone(), a), &ids))
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

    #[track_caller]
    fn softmax_impl(self, op: &'static str, axis: isize, log: bool) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let a = norm_axis(op, axis, x.shape())?;
        let mut out = self.tape.buffer(x.numel());
        kernels::softmax(x.data(), kernels::around(x.shape(), a), log, &mut out);
        let v = Array::from_parts(out, x.shape().to_vec());
        Ok(self.tape.record(
            v,
            Op::Softmax {
                x: self.id,
                axis: a,
                log,
            },
            &[self.id],
        ))
    }
    /// `e^x / Σ e^x` along `axis`, computed after subtracting the maximum (finite for any
    /// finite logits).
    #[track_caller]
    pub fn softmax(self, axis: isize) -> Result<Tensor<'t, T>> {
        self.softmax_impl("softmax", axis, false)
    }
    /// `x − log Σ e^x` along `axis`, numerically stable.
    #[track_caller]
    pub fn log_softmax(self, axis: isize) -> Result<Tensor<'t, T>> {
        self.softmax_impl("log_softmax", axis, true)
    }

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
    pub fn gather(self, axis: isize, index: &Array<usize>) -> Result<Tensor<'t, T>> {
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
        Ok(self
            .tape
            .record(v, Op::Gather(self.id, a, index.clone()), &[self.id]))
    }

    /// The slices at `indices` along `axis`, in that order (as `torch.index_select`).
    #[track_caller]
    pub fn index_select(self, axis: isize, indices: &[usize]) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let a = norm_axis("index_select", axis, x.shape())?;
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
        Ok(self
            .tape
            .record(v, Op::IndexSelect(self.id, a, indices.to_vec()), &[self.id]))
    }

    /// `a` where `cond` holds and `b` elsewhere (as `torch.where`), all three broadcast together.
    #[track_caller]
    pub fn where_(cond: &Array<bool>, a: Tensor<'t, T>, b: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        let (av, bv) = (a.value(), b.value());
        let ab = broadcast_shapes("where", av.shape(), bv.shape())?;
        let shape = broadcast_shapes("where", cond.shape(), &ab)?;
        let n = numel(&shape);
        let tape = a.tape;
        let (mut ea, mut eb) = (tape.buffer(n), tape.buffer(n));
        kernels::expand(av.data(), av.shape(), &shape, &mut ea);
        kernels::expand(bv.data(), bv.shape(), &shape, &mut eb);
        let c = expand_bool(cond, &shape);
        for ((x, &y), &c) in ea.iter_mut().zip(&eb).zip(&c) {
            if !c {
                *x = y;
            }
        }
        tape.recycle(eb);
        let v = Array::from_parts(ea, shape);
        Ok(tape.record(v, Op::Where(cond.clone(), a.id, b.id), &[a.id, b.id]))
    }

    /// Limits every element to `[lo, hi]` (use `f64::NEG_INFINITY` / `f64::INFINITY` for one
    /// side); the gradient passes where `lo ≤ x ≤ hi`, as in PyTorch.
    #[track_caller]
    pub fn clamp(self, lo: f64, hi: f64) -> Tensor<'t, T> {
        let x = self.value();
        let mut out = self.tape.buffer(x.numel());
        let (l, h) = (T::from_f64(lo), T::from_f64(hi));
        kernels::map1(x.data(), &mut out, move |v| {
            if v < l {
                l
            } else if v > h {
                h
            } else {
                v
            }
        });
        let v = Array::from_parts(out, x.shape().to_vec());
        self.tape.record(v, Op::Clamp(self.id, lo, hi), &[self.id])
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// The adjoint of [`Tensor::gather`]: zeros of `shape` with each element of `self` added at
    /// the place `index` names along `axis` (`self` has the index's shape). Made by
    /// [`Tape::grad_graph`](super::Tape::grad_graph), whose index was checked by `gather`.
    #[track_caller]
    pub(crate) fn scatter_add(self, shape: &[usize], axis: usize, index: &Array<usize>) -> Self {
        let x = self.value();
        let mut out = self.tape.zeroed(numel(shape));
        for_gather(shape, index.shape(), axis, index.data(), |o, dst| {
            out[dst] = out[dst] + x.data()[o];
        });
        let v = Array::from_parts(out, shape.to_vec());
        self.tape
            .record(v, Op::ScatterAdd(self.id, axis, index.clone()), &[self.id])
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
        self.tape
            .record(v, Op::IndexAdd(self.id, axis, indices.to_vec()), &[self.id])
    }
}

/// The condition of `where` at the broadcast shape.
pub(crate) fn expand_bool(cond: &Array<bool>, shape: &[usize]) -> Vec<bool> {
    let st = super::shape::broadcast_strides(cond.shape(), shape);
    let n = numel(shape);
    (0..n)
        .map(|mut r| {
            let mut off = 0;
            for d in (0..shape.len()).rev() {
                off += (r % shape[d]) * st[d];
                r /= shape[d];
            }
            cond.data()[off]
        })
        .collect()
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
    let xst = super::shape::strides(xs);
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

// Operators. Between two tensors they panic on a shape mismatch (the methods return the error).
macro_rules! tensor_operator {
    ($Trait:ident, $method:ident, $op:expr) => {
        impl<'t, T: Element> $Trait for Tensor<'t, T> {
            type Output = Tensor<'t, T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<'t, T>) -> Tensor<'t, T> {
                self.binary($op, rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }
    };
}
tensor_operator!(Add, add, Binary::Add);
tensor_operator!(Sub, sub, Binary::Sub);
tensor_operator!(Mul, mul, Binary::Mul);
tensor_operator!(Div, div, Binary::Div);

impl<'t, T: Element> Neg for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn neg(self) -> Tensor<'t, T> {
        self.unary(Unary::Neg)
    }
}

impl<'t, T: Element> Add<f64> for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn add(self, c: f64) -> Tensor<'t, T> {
        self.add_scalar(c)
    }
}
impl<'t, T: Element> Sub<f64> for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn sub(self, c: f64) -> Tensor<'t, T> {
        self.add_scalar(-c)
    }
}
impl<'t, T: Element> Mul<f64> for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn mul(self, c: f64) -> Tensor<'t, T> {
        self.mul_scalar(c)
    }
}
impl<'t, T: Element> Div<f64> for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn div(self, c: f64) -> Tensor<'t, T> {
        self.mul_scalar(1.0 / c)
    }
}
impl<'t, T: Element> Add<Tensor<'t, T>> for f64 {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn add(self, t: Tensor<'t, T>) -> Tensor<'t, T> {
        t.add_scalar(self)
    }
}
impl<'t, T: Element> Sub<Tensor<'t, T>> for f64 {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn sub(self, t: Tensor<'t, T>) -> Tensor<'t, T> {
        (-t).add_scalar(self)
    }
}
impl<'t, T: Element> Mul<Tensor<'t, T>> for f64 {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn mul(self, t: Tensor<'t, T>) -> Tensor<'t, T> {
        t.mul_scalar(self)
    }
}
impl<'t, T: Element> Div<Tensor<'t, T>> for f64 {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn div(self, t: Tensor<'t, T>) -> Tensor<'t, T> {
        t.powf(-1.0).mul_scalar(self)
    }
}
