//! Matrix products: `matmul` (as `torch.matmul`: vectors, matrices, batches with broadcast
//! batch dimensions) and the fully connected layer `linear` (`x · wᵀ + b` in one operation).
//!
//! Their vector-Jacobian products are products too: for `Y = A·B`, `dA = dY·Bᵀ` and
//! `dB = Aᵀ·dY`. On numbers they run through `gemm` with the transposes read in place (by
//! strides, no copy); recorded, they are `matmul`s of transposes. The Jacobian-vector product
//! follows the product rule: `dY = dA·B + A·dB`.

use std::borrow::Cow;

use super::{expand_to, sum_present, sum_to, Explain, Numbers, Op, Recorded, Rule};
use crate::tensor::array::{Array, Dims, Element};
use crate::tensor::kernels;
use crate::tensor::shape::{broadcast_shapes, fmt_shape, numel, Result, TensorError};
use crate::tensor::tape::Tensor;

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
            crate::tensor::shape::broadcast_strides(own, &batch)
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

/// `y = a · b`, as `torch.matmul`.
#[derive(Clone, Debug)]
pub(crate) struct Matmul {
    pub a: usize,
    pub b: usize,
}

impl<T: Element> Rule<T> for Matmul {
    fn name(&self) -> Cow<'static, str> {
        "matmul".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.a, self.b]
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        format!("{}·{}", cx.name(self.a), cx.name(self.b))
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let (a, b, gy) = (self.a, self.b, cx.grad(y));
        vec![
            cx.line(
                a,
                &format!("{gy} · {}ᵀ", cx.name(b)),
                &format!("{} = {}·{}", cx.shape(a), cx.shape(y), cx.shape_t(b)),
            ),
            cx.line(
                b,
                &format!("{}ᵀ · {gy}", cx.name(a)),
                &format!("{} = {}·{}", cx.shape(b), cx.shape_t(a), cx.shape(y)),
            ),
        ]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let (a, b) = (self.a, self.b);
        let (av, bv) = (cx.value(a), cx.value(b));
        let p = MatmulPlan::new(av.shape(), bv.shape()).expect("checked in forward");
        let (m, k, n) = (p.m, p.k, p.n);
        if cx.needs(a) {
            // dA += g · Bᵀ, summed over broadcast batches by accumulating.
            let mut da = cx.zeroed(av.numel());
            for r in 0..p.batches() {
                let (oa, ob) = p.offsets(r);
                // SAFETY: offsets and sizes from the plan stay inside each buffer.
                unsafe {
                    kernels::gemm(
                        m,
                        k,
                        n,
                        da.as_mut_ptr().add(oa),
                        k as isize,
                        1,
                        true,
                        g.as_ptr().add(r * m * n),
                        n as isize,
                        1,
                        bv.data().as_ptr().add(ob),
                        1,
                        n as isize,
                    );
                }
            }
            out.push((a, da));
        }
        if cx.needs(b) {
            // dB += Aᵀ · g.
            let mut db = cx.zeroed(bv.numel());
            for r in 0..p.batches() {
                let (oa, ob) = p.offsets(r);
                // SAFETY: as above.
                unsafe {
                    kernels::gemm(
                        k,
                        n,
                        m,
                        db.as_mut_ptr().add(ob),
                        n as isize,
                        1,
                        true,
                        av.data().as_ptr().add(oa),
                        1,
                        k as isize,
                        g.as_ptr().add(r * m * n),
                        n as isize,
                        1,
                    );
                }
            }
            out.push((b, db));
        }
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let (a, b) = (cx.t(self.a), cx.t(self.b));
        // Vectors become matrices ([k] as [1, k] on the left, [k, 1] on the right) and the
        // output gets those unit axes back, so that both products below are matrix products.
        let (a2, b2) = (as_matrix(a, true)?, as_matrix(b, false)?);
        let mut gshape = g.shape();
        if a.ndim() == 1 {
            gshape.insert(gshape.len() - usize::from(b.ndim() > 1), 1);
        }
        if b.ndim() == 1 {
            gshape.push(1);
        }
        let g2 = g.reshape_to(gshape)?;
        if cx.needs(a.id) {
            let da = g2.matmul(b2.transpose(-1, -2)?)?;
            let da = sum_to(da, &a2.shape())?.reshape_to(a.shape())?;
            out.push((a.id, da));
        }
        if cx.needs(b.id) {
            let db = a2.transpose(-1, -2)?.matmul(g2)?;
            let db = sum_to(db, &b2.shape())?.reshape_to(b.shape())?;
            out.push((b.id, db));
        }
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let (a, b) = (cx.t(self.a), cx.t(self.b));
        Ok(sum_present([
            tangent(self.a).map(|da| da.matmul(b)).transpose()?,
            tangent(self.b).map(|db| a.matmul(db)).transpose()?,
        ]))
    }
}

/// A vector as a one-row (`left`) or one-column matrix; anything else unchanged.
fn as_matrix<'t, T: Element>(t: Tensor<'t, T>, left: bool) -> Result<Tensor<'t, T>> {
    match t.shape()[..] {
        [k] if left => t.reshape_to(vec![1, k]),
        [k] => t.reshape_to(vec![k, 1]),
        _ => Ok(t),
    }
}

/// `y = x · wᵀ + b` for a batch `x` of rows `[n, in]`, `w` `[out, in]` and `b` `[out]` (or no
/// bias).
#[derive(Clone, Debug)]
pub(crate) struct Linear {
    pub x: usize,
    pub w: usize,
    pub b: Option<usize>,
}

impl<T: Element> Rule<T> for Linear {
    fn name(&self) -> Cow<'static, str> {
        "linear".into()
    }
    fn inputs(&self) -> Vec<usize> {
        [self.x, self.w].into_iter().chain(self.b).collect()
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        let product = format!("{}·{}ᵀ", cx.name(self.x), cx.name(self.w));
        match self.b {
            Some(b) => format!("{product} + {}", cx.name(b)),
            None => product,
        }
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let (x, w, b, gy) = (self.x, self.w, self.b, cx.grad(y));
        let (sx, sy, sw) = (cx.shape(x), cx.shape(y), cx.shape(w));
        let mut lines = vec![
            cx.line(
                x,
                &format!("{gy} · {}", cx.name(w)),
                &format!("{sx} = {sy}·{sw}"),
            ),
            cx.line(
                w,
                &format!("{gy}ᵀ · {}", cx.name(x)),
                &format!("{sw} = {}·{sx}", cx.shape_t(y)),
            ),
        ];
        if let Some(b) = b {
            lines.push(cx.line(
                b,
                &format!("Σ_rows {gy}"),
                &format!("{} = Σ_rows {sy}", cx.shape(b)),
            ));
        }
        lines
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let (x, w) = (self.x, self.w);
        let (xv, wv) = (cx.value(x), cx.value(w));
        // Leading dimensions are rows of one batch: the data lies the same way.
        let (k, m) = (wv.shape()[1], wv.shape()[0]);
        let n = xv.numel() / k.max(1);
        // Each product overwrites its whole output (no accumulation), so the buffers need no
        // zeroing first, except when the sum is empty.
        if cx.needs(x) {
            // dx = g · w: [n, out] by [out, in].
            let mut dx = if m == 0 {
                cx.zeroed(n * k)
            } else {
                cx.buffer(n * k)
            };
            // SAFETY: g is n×m, w is m×k, dx is n×k, all contiguous.
            unsafe {
                kernels::gemm(
                    n,
                    k,
                    m,
                    dx.as_mut_ptr(),
                    k as isize,
                    1,
                    false,
                    g.as_ptr(),
                    m as isize,
                    1,
                    wv.data().as_ptr(),
                    k as isize,
                    1,
                );
            }
            out.push((x, dx));
        }
        if cx.needs(w) {
            // dw = gᵀ · x: [out, n] by [n, in], gᵀ read in place.
            let mut dw = if n == 0 {
                cx.zeroed(m * k)
            } else {
                cx.buffer(m * k)
            };
            // SAFETY: gᵀ is m×n with strides (1, m), x is n×k, dw is m×k.
            unsafe {
                kernels::gemm(
                    m,
                    k,
                    n,
                    dw.as_mut_ptr(),
                    k as isize,
                    1,
                    false,
                    g.as_ptr(),
                    1,
                    m as isize,
                    xv.data().as_ptr(),
                    k as isize,
                    1,
                );
            }
            out.push((w, dw));
        }
        if let Some(b) = self.b.filter(|&b| cx.needs(b)) {
            // db = the column sums of g.
            let mut db = cx.zeroed(m);
            for row in g.chunks_exact(m.max(1)) {
                for (d, &v) in db.iter_mut().zip(row) {
                    *d = *d + v;
                }
            }
            out.push((b, db));
        }
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        // As matrices of rows: the leading dimensions of x and g are one batch.
        let (x, w) = (cx.t(self.x), cx.t(self.w));
        let (k, m) = (w.shape()[1] as isize, w.shape()[0] as isize);
        let g2 = g.reshape(&[-1, m])?;
        if cx.needs(self.x) {
            out.push((self.x, g.matmul(w)?));
        }
        if cx.needs(self.w) {
            let x2 = x.reshape(&[-1, k])?;
            out.push((self.w, g2.transpose(0, 1)?.matmul(x2)?));
        }
        if let Some(b) = self.b.filter(|&b| cx.needs(b)) {
            out.push((b, g2.sum(&[0], false)?));
        }
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let (x, w) = (cx.t(self.x), cx.t(self.w));
        let (dx, dw) = (tangent(self.x), tangent(self.w));
        let db = self.b.and_then(tangent);
        Ok(sum_present([
            dx.map(|dx| dx.linear(w, db)).transpose()?,
            dw.map(|dw| x.linear(dw, None)).transpose()?,
            db.filter(|_| dx.is_none())
                .map(|db| expand_to(db, &y.shape())),
        ]))
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// The matrix product, as `torch.matmul`: 2-D by 2-D, vector by matrix (and the reverse),
    /// vector by vector (a dot product, shape `[]`), and batches of matrices whose leading
    /// dimensions broadcast.
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
        let node = Op::Matmul(Matmul {
            a: self.id,
            b: other.id,
        });
        Ok(self.tape.record(v, node, &[self.id, other.id]))
    }

    /// A fully connected layer, `self · wᵀ + b`, as `torch.nn.functional.linear`: `self` is
    /// `[..., in]` (a vector, a batch of rows, or any leading dimensions), `w` is `[out, in]`
    /// (PyTorch's layout) and `b` is `[out]` or `None`; the result is `[..., out]`. One
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
    ///
    /// // Any leading dimensions, and no bias.
    /// let seq = tape.constant(Array::ones(&[4, 5, 2]));
    /// assert_eq!(seq.linear(w, None).unwrap().shape(), vec![4, 5, 3]);
    /// ```
    #[track_caller]
    pub fn linear(
        self,
        w: Tensor<'t, T>,
        b: impl Into<Option<Tensor<'t, T>>>,
    ) -> Result<Tensor<'t, T>> {
        let b = b.into();
        let (xv, wv) = (self.value(), w.value());
        let bv = b.map(|b| b.value());
        let (xs, ws, bs) = (xv.shape(), wv.shape(), bv.as_ref().map(|b| b.shape()));
        let fits = !xs.is_empty()
            && ws.len() == 2
            && xs[xs.len() - 1] == ws[1]
            && bs.is_none_or(|bs| bs.len() == 1 && bs[0] == ws[0]);
        if !fits {
            let bias = match bs {
                Some(bs) => format!("bias {}", fmt_shape(bs)),
                None => "no bias".to_string(),
            };
            return Err(TensorError::new(
                "linear",
                format!(
                    "cannot apply weight {} and {bias} to input {}: expected [..., in], [out, in] and [out]",
                    fmt_shape(ws),
                    fmt_shape(xs)
                ),
            ));
        }
        let bias = b.zip(bv);
        // Leading dimensions (or none, for a vector) are rows of one batch, laid out as rows.
        let lead = &xs[..xs.len() - 1];
        let out_shape = Dims::with_last(xs, ws[0]);
        Ok(self.linear_rows(&xv, (w, &wv), bias, numel(lead), out_shape))
    }

    /// [`Tensor::linear`] for `n` rows (this tensor, whose value is `xv`), the weight and the
    /// bias with their values, shapes checked; the result has `out_shape`.
    #[track_caller]
    fn linear_rows(
        self,
        xv: &Array<T>,
        (w, wv): (Tensor<'t, T>, &Array<T>),
        bias: Option<(Tensor<'t, T>, Array<T>)>,
        n: usize,
        out_shape: Dims,
    ) -> Tensor<'t, T> {
        let (k, m) = (wv.shape()[1], wv.shape()[0]);
        let mut out = self.tape.buffer(n * m);
        let mut scratch = self.tape.buffer(kernels::linear_scratch::<T>(n, k, m));
        let bd = bias.as_ref().map(|(_, bv)| bv.data());
        kernels::linear(xv.data(), wv.data(), bd, (n, k, m), &mut out, &mut scratch);
        self.tape.recycle(scratch);
        let v = Array::from_parts(out, out_shape);
        let b = bias.map(|(b, _)| b.id);
        let node = Op::Linear(Linear {
            x: self.id,
            w: w.id,
            b,
        });
        let inputs = [self.id, w.id, b.unwrap_or(self.id)];
        self.tape
            .record(v, node, &inputs[..2 + usize::from(b.is_some())])
    }
}
