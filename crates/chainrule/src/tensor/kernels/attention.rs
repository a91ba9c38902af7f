//! Scaled dot-product attention, fused: for each batch and head, the scores `Q·Kᵀ·scale`, the
//! causal mask, the softmax and the product with `V` are computed for one head at a time in a
//! buffer that stays in cache; only the output and each query's log-sum-exp (for the backward
//! pass, which recomputes the probabilities from it) are written out.
//!
//! The operands are addressed through a [`HeadLayout`], so the same kernel reads the heads of
//! `[batch, heads, time, dim]` tensors or, without copying, of the packed `[batch, time,
//! 3·channels]` output of a transformer's query-key-value projection.

use super::isa::{lane_max, lane_sum, lane_sum2, vectorized};
use super::matmul::gemm_serial;
use super::parallel::{par_blocks, SendPtr};
use crate::tensor::array::Element;

/// Where the rows of one head of a tensor are: element `(b, h, t, d)` is at
/// `offset + b·batch + h·head + t·row + d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLayout {
    /// The first element.
    pub offset: usize,
    /// The stride between batches.
    pub batch: usize,
    /// The stride between heads.
    pub head: usize,
    /// The stride between time steps.
    pub row: usize,
}

impl HeadLayout {
    /// `[batch, heads, time, dim]`, contiguous.
    pub fn heads_first(heads: usize, time: usize, dim: usize) -> Self {
        HeadLayout {
            offset: 0,
            batch: heads * time * dim,
            head: time * dim,
            row: dim,
        }
    }

    /// Part `part` (0 for queries, 1 for keys, 2 for values) of a packed `[batch, time,
    /// 3·heads·dim]` tensor, or (with `parts` 1) a `[batch, time, heads·dim]` tensor.
    pub fn packed(part: usize, parts: usize, heads: usize, time: usize, dim: usize) -> Self {
        let channels = heads * dim;
        HeadLayout {
            offset: part * channels,
            batch: time * parts * channels,
            head: dim,
            row: parts * channels,
        }
    }

    #[inline]
    fn at(&self, b: usize, h: usize) -> usize {
        self.offset + b * self.batch + h * self.head
    }
}

/// The sizes of an attention: `batch × heads` heads, `queries` query rows and `keys` key rows
/// of `dim` values, and whether query `i` may only see keys `j ≤ i`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionDims {
    /// Batches.
    pub batch: usize,
    /// Heads per batch.
    pub heads: usize,
    /// Query rows.
    pub queries: usize,
    /// Key (and value) rows.
    pub keys: usize,
    /// Values per query and key row.
    pub dim: usize,
    /// Values per value row (and output row).
    pub value_dim: usize,
    /// The scale of the scores (`1/√dim` by default).
    pub scale: f64,
    /// Whether query `i` sees only keys `j ≤ i`.
    pub causal: bool,
}

impl AttentionDims {
    /// The scratch one head's computation needs: its score matrix and, backward, another one.
    fn scores(&self) -> usize {
        self.queries * self.keys
    }

    /// The elements of scratch [`attention`] and [`attention_backward`] need.
    pub fn scratch_len(&self) -> usize {
        self.blocks() * 2 * self.scores()
    }

    fn blocks(&self) -> usize {
        (self.batch * self.heads).max(1)
    }

    /// How many keys query `i` sees.
    #[inline]
    fn visible(&self, i: usize) -> usize {
        if self.causal {
            (i + 1).min(self.keys)
        } else {
            self.keys
        }
    }
}

/// One head's scores `s = scale · Q·Kᵀ` into `s` (`queries × keys`).
///
/// # Safety
/// `q` and `k` address the head's rows as their layouts say.
unsafe fn scores<T: Element>(
    d: &AttentionDims,
    q: *const T,
    qrow: usize,
    k: *const T,
    krow: usize,
    s: &mut [T],
) {
    if d.dim == 0 {
        s.fill(T::ZERO);
    } else {
        gemm_serial(
            d.queries,
            d.keys,
            d.dim,
            s.as_mut_ptr(),
            d.keys as isize,
            1,
            false,
            q,
            qrow as isize,
            1,
            k,
            1,
            krow as isize,
        );
    }
    let scale = T::from_f64(d.scale);
    for v in s.iter_mut() {
        *v = *v * scale;
    }
}

/// `out = softmax(Q·Kᵀ·scale (masked)) · V` for every head, and `lse` (`batch × heads ×
/// queries`) the log-sum-exp of each query's scores (`-inf` for a query that sees no key, whose
/// output is then 0). `scratch` holds [`AttentionDims::scratch_len`] elements.
#[allow(clippy::too_many_arguments)]
pub fn attention<T: Element>(
    d: &AttentionDims,
    q: &[T],
    ql: HeadLayout,
    k: &[T],
    kl: HeadLayout,
    v: &[T],
    vl: HeadLayout,
    out: &mut [T],
    ol: HeadLayout,
    lse: &mut [T],
    scratch: &mut [T],
) {
    assert!(scratch.len() >= d.scratch_len());
    let (op, lp, sp) = (
        SendPtr(out.as_mut_ptr()),
        SendPtr(lse.as_mut_ptr()),
        SendPtr(scratch.as_mut_ptr()),
    );
    let per = 2 * d.scores();
    par_blocks(d.batch * d.heads, &|bh| {
        let (b, h) = (bh / d.heads, bh % d.heads);
        // SAFETY: each head has its own scratch, its own rows of `out` and of `lse`; the
        // layouts address the head's rows inside the slices.
        vectorized(
            #[inline(always)]
            || unsafe {
                let s = std::slice::from_raw_parts_mut(sp.get().add(bh * per), d.scores());
                scores(
                    d,
                    q.as_ptr().add(ql.at(b, h)),
                    ql.row,
                    k.as_ptr().add(kl.at(b, h)),
                    kl.row,
                    s,
                );
                let lse = std::slice::from_raw_parts_mut(lp.get().add(bh * d.queries), d.queries);
                for i in 0..d.queries {
                    let row = &mut s[i * d.keys..(i + 1) * d.keys];
                    let n = d.visible(i);
                    let m = lane_max(&row[..n]);
                    if n == 0 || m == T::neg_infinity() {
                        row.fill(T::ZERO);
                        lse[i] = T::neg_infinity();
                        continue;
                    }
                    // The whole row, then the hidden keys zeroed: one loop of the row's length
                    // instead of one of `n`, whose scalar tail had cost more than the masked
                    // exponentials do.
                    for x in row.iter_mut() {
                        *x = (*x - m).exp();
                    }
                    row[n..].fill(T::ZERO);
                    let sum = lane_sum(row, |x| x);
                    let inv = T::ONE / sum;
                    for x in row.iter_mut() {
                        *x = *x * inv;
                    }
                    lse[i] = m + sum.ln();
                }
                let o = op.get().add(ol.at(b, h));
                if d.keys == 0 {
                    for i in 0..d.queries {
                        std::slice::from_raw_parts_mut(o.add(i * ol.row), d.value_dim)
                            .fill(T::ZERO);
                    }
                } else {
                    gemm_serial(
                        d.queries,
                        d.value_dim,
                        d.keys,
                        o,
                        ol.row as isize,
                        1,
                        false,
                        s.as_ptr(),
                        d.keys as isize,
                        1,
                        v.as_ptr().add(vl.at(b, h)),
                        vl.row as isize,
                        1,
                    );
                }
            },
        )
    });
}

/// The gradients of [`attention`] with respect to `q`, `k` and `v`, given the output's
/// gradient `dout` and the saved `lse`; each is written (overwritten) where its layout says, so
/// the three may be parts of one packed buffer. The probabilities are recomputed from the
/// scores and `lse`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention_backward<T: Element>(
    d: &AttentionDims,
    q: &[T],
    ql: HeadLayout,
    k: &[T],
    kl: HeadLayout,
    v: &[T],
    vl: HeadLayout,
    dout: &[T],
    ol: HeadLayout,
    lse: &[T],
    grads: [(SendPtr<T>, HeadLayout); 3],
    scratch: &mut [T],
) {
    assert!(scratch.len() >= d.scratch_len());
    let sp = SendPtr(scratch.as_mut_ptr());
    let per = 2 * d.scores();
    let scale = T::from_f64(d.scale);
    par_blocks(d.batch * d.heads, &|bh| {
        let (b, h) = (bh / d.heads, bh % d.heads);
        let [(dq, dql), (dk, dkl), (dv, dvl)] = grads;
        // SAFETY: as in `attention`; each head's gradient rows are its own.
        vectorized(
            #[inline(always)]
            || unsafe {
                let (p, dp) = std::slice::from_raw_parts_mut(sp.get().add(bh * per), per)
                    .split_at_mut(d.scores());
                let (qh, kh, vh) = (
                    q.as_ptr().add(ql.at(b, h)),
                    k.as_ptr().add(kl.at(b, h)),
                    v.as_ptr().add(vl.at(b, h)),
                );
                let doh = dout.as_ptr().add(ol.at(b, h));
                scores(d, qh, ql.row, kh, kl.row, p);
                let lse = &lse[bh * d.queries..(bh + 1) * d.queries];
                for i in 0..d.queries {
                    let row = &mut p[i * d.keys..(i + 1) * d.keys];
                    let n = if lse[i] == T::neg_infinity() {
                        0
                    } else {
                        d.visible(i)
                    };
                    // As forward: the whole row, then the hidden keys zeroed.
                    for x in row.iter_mut() {
                        *x = (*x - lse[i]).exp();
                    }
                    row[n..].fill(T::ZERO);
                }
                let zero_rows = |ptr: *mut T, rows: usize, stride: usize, len: usize| {
                    for r in 0..rows {
                        std::slice::from_raw_parts_mut(ptr.add(r * stride), len).fill(T::ZERO);
                    }
                };
                let (dqh, dkh, dvh) = (
                    dq.get().add(dql.at(b, h)),
                    dk.get().add(dkl.at(b, h)),
                    dv.get().add(dvl.at(b, h)),
                );
                if d.queries == 0 || d.keys == 0 {
                    zero_rows(dqh, d.queries, dql.row, d.dim);
                    zero_rows(dkh, d.keys, dkl.row, d.dim);
                    zero_rows(dvh, d.keys, dvl.row, d.value_dim);
                    return;
                }
                // dV = Pᵀ · dO.
                gemm_serial(
                    d.keys,
                    d.value_dim,
                    d.queries,
                    dvh,
                    dvl.row as isize,
                    1,
                    false,
                    p.as_ptr(),
                    1,
                    d.keys as isize,
                    doh,
                    ol.row as isize,
                    1,
                );
                // dP = dO · Vᵀ.
                if d.value_dim == 0 {
                    dp.fill(T::ZERO);
                } else {
                    gemm_serial(
                        d.queries,
                        d.keys,
                        d.value_dim,
                        dp.as_mut_ptr(),
                        d.keys as isize,
                        1,
                        false,
                        doh,
                        ol.row as isize,
                        1,
                        vh,
                        1,
                        vl.row as isize,
                    );
                }
                // dS = P ∘ (dP − Σⱼ P·dP), scaled once here for both products below.
                for i in 0..d.queries {
                    let (pr, dr) = (
                        &p[i * d.keys..(i + 1) * d.keys],
                        &mut dp[i * d.keys..(i + 1) * d.keys],
                    );
                    let s = lane_sum2(pr, dr, |a, b| a * b);
                    for (g, &a) in dr.iter_mut().zip(pr) {
                        *g = a * (*g - s) * scale;
                    }
                }
                if d.dim == 0 {
                    return;
                }
                // dQ = dS · K, dK = dSᵀ · Q.
                gemm_serial(
                    d.queries,
                    d.dim,
                    d.keys,
                    dqh,
                    dql.row as isize,
                    1,
                    false,
                    dp.as_ptr(),
                    d.keys as isize,
                    1,
                    kh,
                    kl.row as isize,
                    1,
                );
                gemm_serial(
                    d.keys,
                    d.dim,
                    d.queries,
                    dkh,
                    dkl.row as isize,
                    1,
                    false,
                    dp.as_ptr(),
                    1,
                    d.keys as isize,
                    qh,
                    ql.row as isize,
                    1,
                );
            },
        )
    });
}
