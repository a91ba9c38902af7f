//! Scaled dot-product attention, fused: `softmax(Q·Kᵀ/√d, masked) · V`, as
//! `torch.nn.functional.scaled_dot_product_attention`, and `causal_self_attention`, the same on
//! the packed query-key-value projection of a transformer block, heads split and merged without
//! a copy.
//!
//! On numbers the kernels of [`kernels::attention`](mod@crate::tensor::kernels::attention)
//! compute one head at a time in cache and keep only each query's log-sum-exp for the backward
//! pass. The recorded products come from the definition with ordinary operations (matrix
//! products, the mask, softmax), so that the fused path is checked against the composed one and
//! second derivatives work.

use std::borrow::Cow;

use super::{recorded_by_definition, Explain, Numbers, Op, Rule};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels::{self, AttentionDims, HeadLayout, SendPtr};
use crate::tensor::shape::{fmt_shape, Result, TensorError};
use crate::tensor::tape::Tensor;

/// Where the queries, keys and values come from.
#[derive(Clone, Debug)]
pub(crate) enum Operands {
    /// Three `[batch, heads, time, dim]` tensors.
    Separate { q: usize, k: usize, v: usize },
    /// One packed `[batch, time, 3·channels]` tensor.
    Packed(usize),
}

/// A fused attention, with the node holding each query's log-sum-exp.
#[derive(Clone, Debug)]
pub(crate) struct Attention {
    pub operands: Operands,
    pub dims: AttentionDims,
    pub lse: usize,
}

impl Attention {
    fn ids(&self) -> Vec<usize> {
        match self.operands {
            Operands::Separate { q, k, v } => vec![q, k, v],
            Operands::Packed(qkv) => vec![qkv],
        }
    }

    /// The layouts of the queries, keys, values and output.
    fn layouts(&self) -> [HeadLayout; 4] {
        let d = &self.dims;
        match self.operands {
            Operands::Separate { .. } => [
                HeadLayout::heads_first(d.heads, d.queries, d.dim),
                HeadLayout::heads_first(d.heads, d.keys, d.dim),
                HeadLayout::heads_first(d.heads, d.keys, d.value_dim),
                HeadLayout::heads_first(d.heads, d.queries, d.value_dim),
            ],
            Operands::Packed(_) => [
                HeadLayout::packed(0, 3, d.heads, d.queries, d.dim),
                HeadLayout::packed(1, 3, d.heads, d.queries, d.dim),
                HeadLayout::packed(2, 3, d.heads, d.queries, d.dim),
                HeadLayout::packed(0, 1, d.heads, d.queries, d.dim),
            ],
        }
    }

    /// The definition with ordinary operations, `xs` being the operands.
    fn definition<'t, T: Element>(&self, xs: &[Tensor<'t, T>]) -> Result<Tensor<'t, T>> {
        let d = &self.dims;
        let (q, k, v) = match self.operands {
            Operands::Separate { .. } => (xs[0], xs[1], xs[2]),
            Operands::Packed(_) => {
                let c = (d.heads * d.dim) as isize;
                let split = |t: Tensor<'t, T>| {
                    t.reshape(&[d.batch as isize, d.queries as isize, d.heads as isize, -1])?
                        .transpose(1, 2)
                };
                (
                    split(xs[0].slice(2, 0, c as usize)?)?,
                    split(xs[0].slice(2, c as usize, 2 * c as usize)?)?,
                    split(xs[0].slice(2, 2 * c as usize, 3 * c as usize)?)?,
                )
            }
        };
        let scores = q.matmul(k.transpose(-1, -2)?)? * d.scale;
        let scores = if d.causal {
            let mask: Vec<bool> = (0..d.queries * d.keys)
                .map(|ij| ij % d.keys <= ij / d.keys)
                .collect();
            let mask = Array::from_vec(mask, &[d.queries, d.keys])?;
            let masked = scores.tape.scalar(T::neg_infinity());
            Tensor::where_cond(&mask, scores, masked)?
        } else {
            scores
        };
        let y = scores.softmax(-1)?.matmul(v)?;
        match self.operands {
            Operands::Separate { .. } => Ok(y),
            Operands::Packed(_) => y.transpose(1, 2)?.reshape(&[
                d.batch as isize,
                d.queries as isize,
                (d.heads * d.value_dim) as isize,
            ]),
        }
    }
}

impl<T: Element> Rule<T> for Attention {
    fn name(&self) -> Cow<'static, str> {
        match self.operands {
            Operands::Separate { .. } => "scaled_dot_product_attention",
            Operands::Packed(_) => "causal_self_attention",
        }
        .into()
    }
    fn inputs(&self) -> Vec<usize> {
        self.ids()
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let gy = cx.grad(y);
        let how = format!(
            "with P = softmax(Q·Kᵀ/√{}), dP = {gy} · Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)): dQ = dS·K/√d, \
             dK = dSᵀ·Q/√d, dV = Pᵀ·{gy}",
            self.dims.dim
        );
        self.ids()
            .into_iter()
            .map(|j| {
                (
                    j,
                    format!("{} from {gy}   {}: {how}", cx.grad(j), cx.shape(j)),
                )
            })
            .collect()
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let [ql, kl, vl, ol] = self.layouts();
        let mut scratch = cx.buffer(self.dims.scratch_len());
        let lse = cx.value(self.lse).data();
        match self.operands {
            Operands::Separate { q, k, v } => {
                let (qv, kv, vv) = (cx.value(q), cx.value(k), cx.value(v));
                let mut grads: Vec<Vec<T>> =
                    [qv, kv, vv].iter().map(|a| cx.buffer(a.numel())).collect();
                let ptrs = [
                    (SendPtr(grads[0].as_mut_ptr()), ql),
                    (SendPtr(grads[1].as_mut_ptr()), kl),
                    (SendPtr(grads[2].as_mut_ptr()), vl),
                ];
                kernels::attention_backward(
                    &self.dims,
                    qv.data(),
                    ql,
                    kv.data(),
                    kl,
                    vv.data(),
                    vl,
                    g,
                    ol,
                    lse,
                    ptrs,
                    &mut scratch,
                );
                for (id, grad) in [q, k, v].into_iter().zip(grads) {
                    out.push((id, grad));
                }
            }
            Operands::Packed(qkv) => {
                let x = cx.value(qkv);
                let mut dx = cx.buffer(x.numel());
                let p = SendPtr(dx.as_mut_ptr());
                kernels::attention_backward(
                    &self.dims,
                    x.data(),
                    ql,
                    x.data(),
                    kl,
                    x.data(),
                    vl,
                    g,
                    ol,
                    lse,
                    [(p, ql), (p, kl), (p, vl)],
                    &mut scratch,
                );
                out.push((qkv, dx));
            }
        }
        cx.recycle(scratch);
    }
    recorded_by_definition!();
}

/// Records a fused attention of `operands` (already checked) and returns its output.
#[track_caller]
fn record<'t, T: Element>(
    first: Tensor<'t, T>,
    operands: Operands,
    dims: AttentionDims,
    out_shape: Vec<usize>,
) -> Tensor<'t, T> {
    let tape = first.tape;
    let mut node = Attention {
        operands,
        dims,
        lse: 0,
    };
    let [ql, kl, vl, ol] = node.layouts();
    let values: Vec<Array<T>> = node.ids().iter().map(|&i| tape.value(i)).collect();
    let (q, k, v) = match values.len() {
        3 => (&values[0], &values[1], &values[2]),
        _ => (&values[0], &values[0], &values[0]),
    };
    let mut out = tape.buffer(out_shape.iter().product());
    let mut lse = tape.buffer(dims.batch * dims.heads * dims.queries);
    let mut scratch = tape.buffer(dims.scratch_len());
    kernels::attention(
        &dims,
        q.data(),
        ql,
        k.data(),
        kl,
        v.data(),
        vl,
        &mut out,
        ol,
        &mut lse,
        &mut scratch,
    );
    tape.recycle(scratch);
    let lse = tape.constant(Array::from_parts(
        lse,
        vec![dims.batch, dims.heads, dims.queries],
    ));
    node.lse = lse.id;
    let ids = node.ids();
    tape.record(
        Array::from_parts(out, out_shape),
        Op::Attention(Box::new(node)),
        &ids,
    )
}

impl<'t, T: Element> Tensor<'t, T> {
    /// Attention, as `torch.nn.functional.scaled_dot_product_attention` without a mask or
    /// dropout: `softmax(q·kᵀ/√dim) · v`, with `q` `[batch, heads, queries, dim]`, `k`
    /// `[batch, heads, keys, dim]` and `v` `[batch, heads, keys, value_dim]`. With `is_causal`,
    /// query `i` sees only keys `j ≤ i`; a query that sees no key gets zeros (not NaN).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape, Tensor};
    ///
    /// let tape = Tape::<f64>::new();
    /// let q = tape.var(Array::zeros(&[1, 1, 2, 4]));
    /// let k = tape.var(Array::randn(&[1, 1, 2, 4], 1));
    /// let v = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap());
    /// // Zero queries score every key alike: the first query sees one key, the second both.
    /// let y = Tensor::scaled_dot_product_attention(q, k, v, true).unwrap();
    /// assert_eq!(y.to_vec(), vec![1.0, 2.0, 2.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn scaled_dot_product_attention(
        q: Tensor<'t, T>,
        k: Tensor<'t, T>,
        v: Tensor<'t, T>,
        is_causal: bool,
    ) -> Result<Tensor<'t, T>> {
        let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
        let fits = qs.len() == 4
            && ks.len() == 4
            && vs.len() == 4
            && qs[..2] == ks[..2]
            && ks[..2] == vs[..2]
            && qs[3] == ks[3]
            && ks[2] == vs[2];
        if !fits {
            return Err(TensorError::new(
                "scaled_dot_product_attention",
                format!(
                    "expected q [batch, heads, queries, dim], k [batch, heads, keys, dim] and v \
                     [batch, heads, keys, value_dim], got {}, {} and {}",
                    fmt_shape(&qs),
                    fmt_shape(&ks),
                    fmt_shape(&vs)
                ),
            ));
        }
        let dims = AttentionDims {
            batch: qs[0],
            heads: qs[1],
            queries: qs[2],
            keys: ks[2],
            dim: qs[3],
            value_dim: vs[3],
            scale: 1.0 / (qs[3].max(1) as f64).sqrt(),
            causal: is_causal,
        };
        let out_shape = vec![qs[0], qs[1], qs[2], vs[3]];
        let operands = Operands::Separate {
            q: q.id,
            k: k.id,
            v: v.id,
        };
        Ok(record(q, operands, dims, out_shape))
    }

    /// Causal self-attention on a transformer's packed query-key-value projection: `self` is
    /// `[batch, time, 3·channels]` (queries, keys and values side by side, as nanoGPT's
    /// `c_attn` produces them), split into `heads` heads of `channels / heads`; the output is
    /// `[batch, time, channels]`, the heads side by side again. The same as splitting, moving
    /// the heads forward, [`Tensor::scaled_dot_product_attention`] with `is_causal` and moving
    /// them back, without copying any of it.
    #[track_caller]
    pub fn causal_self_attention(self, heads: usize) -> Result<Tensor<'t, T>> {
        let s = self.shape();
        let &[batch, time, c3] = &s[..] else {
            return Err(TensorError::new(
                "causal_self_attention",
                format!("expected [batch, time, 3·channels], got {}", fmt_shape(&s)),
            ));
        };
        if heads == 0 || c3 % (3 * heads) != 0 {
            return Err(TensorError::new(
                "causal_self_attention",
                format!(
                    "the last dimension of {} is not 3 × heads × head size for {heads} heads",
                    fmt_shape(&s)
                ),
            ));
        }
        let dim = c3 / 3 / heads;
        let dims = AttentionDims {
            batch,
            heads,
            queries: time,
            keys: time,
            dim,
            value_dim: dim,
            scale: 1.0 / (dim.max(1) as f64).sqrt(),
            causal: true,
        };
        Ok(record(
            self,
            Operands::Packed(self.id),
            dims,
            vec![batch, time, c3 / 3],
        ))
    }
}
