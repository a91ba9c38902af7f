//! Scaled dot-product attention, fused: for each batch and head, the scores `Q·Kᵀ·scale`, the
//! causal mask, the softmax and the product with `V` are computed for one head at a time in a
//! buffer that stays in cache; only the output and each query's log-sum-exp (for the backward
//! pass, which recomputes the probabilities from it) are written out.
//!
//! The operands are addressed through a [`HeadLayout`], so the same kernel reads the heads of
//! `[batch, heads, time, dim]` tensors or, without copying, of the packed `[batch, time,
//! 3·channels]` output of a transformer's query-key-value projection.
//!
//! In `f32` on a processor with AVX2, a head's products run through the register tiles of
//! `kernels/head_products.rs`, which skip what a causal mask hides; this made the
//! baby GPT's attention 0.69 of its time (forward and backward at its step's shapes, `cargo run
//! --release -p chainrule --example step_ops`, AVX2 build) and its training step 0.974 (8 of 8
//! alternating rounds).

use super::head_products;
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

    /// The elements of scratch one head needs: two score matrices and a transposed copy of its
    /// keys or values (for [`head_products::a_bt`]).
    fn per_head(&self) -> usize {
        2 * self.scores() + self.dim.max(self.value_dim) * self.keys
    }

    /// The elements of scratch [`attention`] and its backward pass need.
    pub fn scratch_len(&self) -> usize {
        self.blocks() * self.per_head()
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

    /// How many of query `i`'s scores the loops over a row touch: the visible ones rounded up to
    /// whole vectors of 8, so that the loops have no scalar tail (the products of
    /// [`head_products`] compute that many), and at most the row.
    #[inline]
    fn touched(&self, i: usize) -> usize {
        self.visible(i).div_ceil(8).saturating_mul(8).min(self.keys)
    }
}

/// The three kinds of product a head computes: through the register tiles of
/// [`head_products`] where they apply, and through `gemm` elsewhere.
#[derive(Clone, Copy)]
struct Products {
    tiles: bool,
    causal: bool,
}

impl Products {
    fn new<T: 'static>(d: &AttentionDims) -> Self {
        Products {
            tiles: head_products::usable::<T>(d.dim, d.value_dim, d.keys),
            causal: d.causal,
        }
    }

    /// `c = scale · a·bᵀ` (`m × n`, row stride `ldc`) for `a` `m × k` and `b` `n × k` with the
    /// row strides `lda` and `ldb`. When causal, row `i` may be written only up to column `i`
    /// rounded up to a whole vector. `bt` is scratch for `k · n` values.
    ///
    /// # Safety
    /// The matrices are readable (`c` writable) as their sizes and strides say.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn a_bt<T: Element>(
        self,
        (m, n, k): (usize, usize, usize),
        a: *const T,
        lda: usize,
        b: *const T,
        ldb: usize,
        c: *mut T,
        ldc: usize,
        scale: f64,
        bt: &mut [T],
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.tiles {
            // SAFETY: `tiles` holds only for `T = f32` on a processor with AVX2 and FMA.
            let bt = unsafe { std::slice::from_raw_parts_mut(bt.as_mut_ptr().cast(), bt.len()) };
            let (a, b, c) = (a.cast(), b.cast(), c.cast());
            return unsafe {
                head_products::a_bt(
                    (m, n, k),
                    a,
                    lda,
                    b,
                    ldb,
                    c,
                    ldc,
                    scale as f32,
                    self.causal,
                    bt,
                )
            };
        }
        let _ = bt;
        let scale = T::from_f64(scale);
        // SAFETY: the caller's matrices.
        unsafe {
            if k > 0 && m > 0 && n > 0 {
                gemm_serial(
                    m,
                    n,
                    k,
                    c,
                    ldc as isize,
                    1,
                    false,
                    a,
                    lda as isize,
                    1,
                    b,
                    1,
                    ldb as isize,
                );
            }
            for i in 0..m {
                let row = std::slice::from_raw_parts_mut(c.add(i * ldc), n);
                if k == 0 {
                    row.fill(T::ZERO);
                }
                for x in row.iter_mut() {
                    *x = *x * scale;
                }
            }
        }
    }

    /// `c = p·b` (`m × n`) for `p` `m × kk` and `b` `kk × n`, or (with `transposed`) `c = pᵀ·b`
    /// (`kk × n`) for `p` `m × kk` and `b` `m × n`; row strides `ldp`, `ldb`, `ldc`. When causal,
    /// row `i` of `p` is zero past column `i`.
    ///
    /// # Safety
    /// As for [`Products::a_bt`].
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn p_b<T: Element>(
        self,
        transposed: bool,
        (m, n, kk): (usize, usize, usize),
        p: *const T,
        ldp: usize,
        b: *const T,
        ldb: usize,
        c: *mut T,
        ldc: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.tiles {
            let (p, b, c) = (p.cast(), b.cast(), c.cast());
            // SAFETY: as in `a_bt`.
            return unsafe {
                if transposed {
                    head_products::pt_b((m, n, kk), p, ldp, b, ldb, c, ldc, self.causal)
                } else {
                    head_products::p_b((m, n, kk), p, ldp, b, ldb, c, ldc, self.causal)
                }
            };
        }
        let (rows, sum) = if transposed { (kk, m) } else { (m, kk) };
        let (p_rs, p_cs) = if transposed { (1, ldp) } else { (ldp, 1) };
        if rows == 0 || n == 0 {
            return;
        }
        // SAFETY: the caller's matrices.
        unsafe {
            if sum == 0 {
                for r in 0..rows {
                    std::slice::from_raw_parts_mut(c.add(r * ldc), n).fill(T::ZERO);
                }
            } else {
                gemm_serial(
                    rows,
                    n,
                    sum,
                    c,
                    ldc as isize,
                    1,
                    false,
                    p,
                    p_rs as isize,
                    p_cs as isize,
                    b,
                    ldb as isize,
                    1,
                );
            }
        }
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
    let (per, products) = (d.per_head(), Products::new::<T>(d));
    par_blocks(d.batch * d.heads, &|bh| {
        let (b, h) = (bh / d.heads, bh % d.heads);
        // SAFETY: each head has its own scratch, its own rows of `out` and of `lse`; the
        // layouts address the head's rows inside the slices.
        vectorized(
            #[inline(always)]
            || unsafe {
                let (s, bt) = std::slice::from_raw_parts_mut(sp.get().add(bh * per), per)
                    .split_at_mut(2 * d.scores());
                let s = &mut s[..d.scores()];
                products.a_bt(
                    (d.queries, d.keys, d.dim),
                    q.as_ptr().add(ql.at(b, h)),
                    ql.row,
                    k.as_ptr().add(kl.at(b, h)),
                    kl.row,
                    s.as_mut_ptr(),
                    d.keys,
                    d.scale,
                    bt,
                );
                let lse = std::slice::from_raw_parts_mut(lp.get().add(bh * d.queries), d.queries);
                for i in 0..d.queries {
                    let row = &mut s[i * d.keys..(i + 1) * d.keys];
                    let (n, w) = (d.visible(i), d.touched(i));
                    let m = lane_max(&row[..n]);
                    if n == 0 || m == T::neg_infinity() {
                        row.fill(T::ZERO);
                        lse[i] = T::neg_infinity();
                        continue;
                    }
                    // The visible keys rounded up to whole vectors, then the hidden keys
                    // zeroed: a loop of whole vectors instead of one of `n`, whose scalar tail
                    // had cost more than the masked exponentials do.
                    for x in row[..w].iter_mut() {
                        *x = (*x - m).exp();
                    }
                    row[n..].fill(T::ZERO);
                    let sum = lane_sum(&row[..w], |x| x);
                    let inv = T::ONE / sum;
                    for x in row[..w].iter_mut() {
                        *x = *x * inv;
                    }
                    lse[i] = m + sum.ln();
                }
                products.p_b(
                    false,
                    (d.queries, d.value_dim, d.keys),
                    s.as_ptr(),
                    d.keys,
                    v.as_ptr().add(vl.at(b, h)),
                    vl.row,
                    op.get().add(ol.at(b, h)),
                    ol.row,
                );
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
    let (per, products) = (d.per_head(), Products::new::<T>(d));
    let scale = T::from_f64(d.scale);
    par_blocks(d.batch * d.heads, &|bh| {
        let (b, h) = (bh / d.heads, bh % d.heads);
        let [(dq, dql), (dk, dkl), (dv, dvl)] = grads;
        // SAFETY: as in `attention`; each head's gradient rows are its own.
        vectorized(
            #[inline(always)]
            || unsafe {
                let (pd, bt) = std::slice::from_raw_parts_mut(sp.get().add(bh * per), per)
                    .split_at_mut(2 * d.scores());
                let (p, dp) = pd.split_at_mut(d.scores());
                let (qh, kh, vh) = (
                    q.as_ptr().add(ql.at(b, h)),
                    k.as_ptr().add(kl.at(b, h)),
                    v.as_ptr().add(vl.at(b, h)),
                );
                let doh = dout.as_ptr().add(ol.at(b, h));
                let (dqh, dkh, dvh) = (
                    dq.get().add(dql.at(b, h)),
                    dk.get().add(dkl.at(b, h)),
                    dv.get().add(dvl.at(b, h)),
                );
                let (tq, tk) = (d.queries, d.keys);
                products.a_bt(
                    (tq, tk, d.dim),
                    qh,
                    ql.row,
                    kh,
                    kl.row,
                    p.as_mut_ptr(),
                    tk,
                    d.scale,
                    bt,
                );
                let lse = &lse[bh * tq..(bh + 1) * tq];
                for i in 0..tq {
                    let row = &mut p[i * tk..(i + 1) * tk];
                    let (n, w) = if lse[i] == T::neg_infinity() {
                        (0, 0)
                    } else {
                        (d.visible(i), d.touched(i))
                    };
                    // As forward: whole vectors, then the hidden keys zeroed.
                    for x in row[..w].iter_mut() {
                        *x = (*x - lse[i]).exp();
                    }
                    row[n..].fill(T::ZERO);
                }
                // dV = Pᵀ · dO.
                products.p_b(
                    true,
                    (tq, d.value_dim, tk),
                    p.as_ptr(),
                    tk,
                    doh,
                    ol.row,
                    dvh,
                    dvl.row,
                );
                // dP = dO · Vᵀ.
                products.a_bt(
                    (tq, tk, d.value_dim),
                    doh,
                    ol.row,
                    vh,
                    vl.row,
                    dp.as_mut_ptr(),
                    tk,
                    1.0,
                    bt,
                );
                // dS = P ∘ (dP − Σⱼ P·dP), scaled once here for both products below, and zero
                // where P is (past what the product above wrote, dP is not defined).
                for i in 0..tq {
                    let w = if lse[i] == T::neg_infinity() {
                        0
                    } else {
                        d.touched(i)
                    };
                    let (pr, dr) = (&p[i * tk..i * tk + w], &mut dp[i * tk..(i + 1) * tk]);
                    let s = lane_sum2(pr, &dr[..w], |a, b| a * b);
                    for (g, &a) in dr[..w].iter_mut().zip(pr) {
                        *g = a * (*g - s) * scale;
                    }
                    dr[w..].fill(T::ZERO);
                }
                // dQ = dS · K, dK = dSᵀ · Q.
                products.p_b(
                    false,
                    (tq, d.dim, tk),
                    dp.as_ptr(),
                    tk,
                    kh,
                    kl.row,
                    dqh,
                    dql.row,
                );
                products.p_b(
                    true,
                    (tq, d.dim, tk),
                    dp.as_ptr(),
                    tk,
                    qh,
                    ql.row,
                    dkh,
                    dkl.row,
                );
            },
        )
    });
}
