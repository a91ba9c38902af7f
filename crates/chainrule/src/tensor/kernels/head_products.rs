//! The products one attention head computes, for `f32` on a processor with AVX2 and FMA: each
//! output tile of up to six rows and two vectors stays in registers while the sum runs, and a
//! causal head skips the tiles its mask hides.
//!
//! A tile of six rows by two vectors holds its 12 sums, the two vectors of the right operand's
//! row and one broadcast value in 15 of the 16 vector registers AVX2 has. Tiles of three rows by
//! four vectors (17 registers) had their sums spilled to the stack and reloaded at every step of
//! the sum: `P·B` and `Pᵀ·B` through them made the baby GPT's attention backward take 434 µs,
//! through six-by-two tiles 368 µs (`step_ops`, AVX2 build).
//!
//! A head of the baby GPT multiplies 64×32 and 64×64 matrices. Through `gemm` each such product
//! is a call that packs its operands, and a causal head still computes the half of its scores
//! that the mask then throws away (splitting the products to skip it made twice as many calls,
//! which cost more than they saved). Here every product reads its operands where they are, in
//! the `(+)= a · b` form whose right operand's rows are contiguous vectors:
//!
//! - [`a_bt`]: `C = scale · A·Bᵀ` (the scores `Q·Kᵀ`, and `dO·Vᵀ`), through a transposed copy
//!   of `B` so that its columns become rows;
//! - [`p_b`]: `C = P·B` (the output `P·V`, and `dS·K`);
//! - [`pt_b`]: `C = Pᵀ·B` (`Pᵀ·dO`, and `dSᵀ·Q`).
//!
//! Under a causal mask row `i` of `P` is zero past column `i`, so [`p_b`] sums row block `i₀..i₁`
//! only over its first `i₁` columns and [`pt_b`] sums output row block `j₀..j₁` only from row
//! `j₀` on, and [`a_bt`] computes only the column vectors a row block can see. The products are
//! then about half as long.
//!
//! [`usable`] says when they apply: `f32`, AVX2 with FMA, and every length the vectors cover a
//! multiple of 8. Elsewhere the attention runs its products through `gemm`.

// Off x86-64 only `usable` (which says no) is compiled into use.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code, unused_macros))]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The vector width, in `f32` lanes.
const LANES: usize = 8;

/// Whether the products here can serve a head of `dim`-wide queries and keys, `value_dim`-wide
/// values and `keys` keys, in `T`.
pub(super) fn usable<T: 'static>(dim: usize, value_dim: usize, keys: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && dim % LANES == 0
            && value_dim % LANES == 0
            && keys % LANES == 0
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (dim, value_dim, keys);
        false
    }
}

/// How many of `n` columns (a multiple of 8) rows `..end` of a causal product can see, rounded
/// up to whole vectors; all `n` when not causal.
#[inline(always)]
fn seen(causal: bool, end: usize, n: usize) -> usize {
    if causal {
        end.div_ceil(LANES).saturating_mul(LANES).min(n)
    } else {
        n
    }
}

/// Runs `$tile::<R, V>($args)` for the run-time `r` among the listed rows and `v` among the
/// listed vectors, so that each tile's loops have constant bounds and its accumulators live in
/// registers.
macro_rules! dispatch {
    ($tile:ident, $r:expr, [$($rr:literal)*], $v:expr, $vs:tt, $args:tt) => {
        match $r {
            $( $rr => dispatch!(@v $tile, $rr, $v, $vs, $args), )*
            _ => unreachable!("a tile of {} rows", $r),
        }
    };
    (@v $tile:ident, $rr:literal, $v:expr, [$($vv:literal)*], $args:tt) => {
        match $v {
            $( $vv => $tile::<$rr, $vv> $args, )*
            _ => unreachable!("a tile of {} vectors", $v),
        }
    };
}

/// `C = scale · A·Bᵀ` for the `m × k` matrix `A` (row stride `lda`) and the `n × k` matrix `B`
/// (row stride `ldb`) into the `m × n` matrix `C` (row stride `ldc`); `n` and `k` are multiples
/// of 8. When `causal`, row `i` of `C` is written only up to column `i` rounded up to a whole
/// vector; the rest of the row is left as it was. `bt` is scratch for `k · n` values.
///
/// # Safety
/// The processor has AVX2 and FMA, and the matrices are readable (`C` writable) as their sizes
/// and strides say.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn a_bt(
    (m, n, k): (usize, usize, usize),
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    scale: f32,
    causal: bool,
    bt: &mut [f32],
) {
    const R: usize = 6;
    assert!(bt.len() >= k * n && n % LANES == 0 && k % LANES == 0);
    let bt = bt.as_mut_ptr();
    // SAFETY: the blocks read lie in `B` and those written in `bt`, whose length was checked.
    unsafe {
        for j in (0..n).step_by(LANES) {
            for p in (0..k).step_by(LANES) {
                super::matmul::transpose8_f32(b.add(j * ldb + p), ldb, bt.add(p * n + j), n, None);
            }
        }
    }
    for i0 in (0..m).step_by(R) {
        let r = R.min(m - i0);
        let cols = seen(causal, i0 + r, n);
        for j0 in (0..cols).step_by(2 * LANES) {
            let v = ((cols - j0) / LANES).min(2);
            // SAFETY: rows `i0..i0 + r` of `A` and `C`, and columns `j0..j0 + 8v` of `bt` and
            // `C`, are inside the matrices.
            unsafe {
                let (a, bt, c) = (a.add(i0 * lda), bt.add(j0), c.add(i0 * ldc + j0));
                dispatch!(a_bt_tile, r, [1 2 3 4 5 6], v, [1 2], (k, a, lda, bt, n, c, ldc, scale));
            }
        }
    }
}

/// One `R × 8V` tile of [`a_bt`]: `c[r][..] = scale · Σₚ a[r][p] · bt[p][..]`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn a_bt_tile<const R: usize, const V: usize>(
    k: usize,
    a: *const f32,
    lda: usize,
    bt: *const f32,
    ldbt: usize,
    c: *mut f32,
    ldc: usize,
    scale: f32,
) {
    // SAFETY: the caller's tile lies inside the matrices.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        for p in 0..k {
            let row: [__m256; V] =
                std::array::from_fn(|v| _mm256_loadu_ps(bt.add(p * ldbt + 8 * v)));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*a.add(r * lda + p));
                for v in 0..V {
                    acc[v] = _mm256_fmadd_ps(x, row[v], acc[v]);
                }
            }
        }
        let s = _mm256_set1_ps(scale);
        for (r, acc) in acc.iter().enumerate() {
            for (v, &x) in acc.iter().enumerate() {
                _mm256_storeu_ps(c.add(r * ldc + 8 * v), _mm256_mul_ps(x, s));
            }
        }
    }
}

/// `C = P·B` for the `m × kk` matrix `P` (row stride `ldp`) and the `kk × n` matrix `B` (row
/// stride `ldb`) into the `m × n` matrix `C` (row stride `ldc`); `n` is a multiple of 8. When
/// `causal`, row `i` of `P` must be zero past column `i`, and the sums skip those columns.
///
/// # Safety
/// As for [`a_bt`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn p_b(
    (m, n, kk): (usize, usize, usize),
    p: *const f32,
    ldp: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    causal: bool,
) {
    const R: usize = 6;
    assert!(n % LANES == 0);
    for i0 in (0..m).step_by(R) {
        let r = R.min(m - i0);
        let len = if causal { (i0 + r).min(kk) } else { kk };
        for j0 in (0..n).step_by(2 * LANES) {
            let v = ((n - j0) / LANES).min(2);
            // SAFETY: rows `i0..i0 + r` of `P` and `C`, their first `len` columns of `P`, the
            // first `len` rows of `B` and columns `j0..j0 + 8v` are inside the matrices.
            unsafe {
                let (p, b, c) = (p.add(i0 * ldp), b.add(j0), c.add(i0 * ldc + j0));
                dispatch!(p_b_tile, r, [1 2 3 4 5 6], v, [1 2], (len, p, ldp, 1, b, ldb, c, ldc));
            }
        }
    }
}

/// `C = Pᵀ·B` for the `m × kk` matrix `P` (row stride `ldp`) and the `m × n` matrix `B` (row
/// stride `ldb`) into the `kk × n` matrix `C` (row stride `ldc`); `n` is a multiple of 8. When
/// `causal`, row `i` of `P` must be zero past column `i`, and output row `j` sums only rows
/// `i ≥ j`.
///
/// # Safety
/// As for [`a_bt`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn pt_b(
    (m, n, kk): (usize, usize, usize),
    p: *const f32,
    ldp: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    causal: bool,
) {
    const R: usize = 6;
    assert!(n % LANES == 0);
    for j0 in (0..kk).step_by(R) {
        let r = R.min(kk - j0);
        let start = if causal { j0.min(m) } else { 0 };
        for c0 in (0..n).step_by(2 * LANES) {
            let v = ((n - c0) / LANES).min(2);
            // SAFETY: rows `start..m` of `P` and `B`, columns `j0..j0 + r` of `P`, rows
            // `j0..j0 + r` of `C` and columns `c0..c0 + 8v` are inside the matrices.
            unsafe {
                let (p, b, c) = (
                    p.add(start * ldp + j0),
                    b.add(start * ldb + c0),
                    c.add(j0 * ldc + c0),
                );
                let len = m - start;
                dispatch!(p_b_tile, r, [1 2 3 4 5 6], v, [1 2], (len, p, 1, ldp, b, ldb, c, ldc));
            }
        }
    }
}

/// One `R × 8V` tile of [`p_b`] and [`pt_b`]: `c[r][..] = Σₗ p[r·rs + l·ls] · b[l][..]` over
/// `l < len`, where `(rs, ls)` are the strides of `P` along the tile's rows and along the sum
/// (`(ldp, 1)` for `P`, `(1, ldp)` for `Pᵀ`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn p_b_tile<const R: usize, const V: usize>(
    len: usize,
    p: *const f32,
    rs: usize,
    ls: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    // SAFETY: the caller's tile lies inside the matrices.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        for l in 0..len {
            let row: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(b.add(l * ldb + 8 * v)));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*p.add(r * rs + l * ls));
                for v in 0..V {
                    acc[v] = _mm256_fmadd_ps(x, row[v], acc[v]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (v, &x) in acc.iter().enumerate() {
                _mm256_storeu_ps(c.add(r * ldc + 8 * v), x);
            }
        }
    }
}
