//! The `f32` matrix product on processors with AVX2 and FMA but no AVX-512 (or in a build without
//! the AVX-512 kernels): a register tile of 6 rows by 16 columns (12 accumulators of 8 lanes)
//! updated by 12 fused multiply-adds per step of the sum, the shape of BLIS's Haswell kernel. The
//! right operand is packed into slivers of 16 columns; the left one is read where it lies when
//! its rows are adjacent, each of the tile's six values a broadcast from its row's pointer, and
//! packed into slivers of six rows when its columns are.
//!
//! `gemm` 0.19's AVX2 kernel (16 × 6) reads one operand in place too, but steps from one of the
//! six values it broadcasts to the next by a stride, an addition per broadcast; at the shapes of
//! the baby GPT's step it ran at 0.81–0.88 of the speed of PyTorch's (MKL's) AVX2 products on
//! one thread, where its AVX-512 kernel is level with MKL's.

use super::isa;
use std::arch::x86_64::*;

/// Rows of the register tile.
const MR: usize = 6;
/// Columns of the register tile: two vectors of 8.
const NR: usize = 16;
/// Steps of the sum per packed panel: a 16-column sliver (16 KiB) and the six rows of the left
/// operand it meets stay in the 48 KiB first-level cache.
const KC: usize = 256;
/// Rows of a packed block of the left operand (when it is packed): 120 × 256 values, 120 KiB,
/// in the second-level cache.
const MC: usize = 120;
/// Columns of the right operand per packed panel: 256 × 512 values, 512 KiB, in the
/// second-level cache.
const NC: usize = 512;

/// Whether [`sgemm`] is the product to use here, for a left operand with strides `lhs`: the
/// processor has AVX2 and FMA, AVX-512 is either missing or not compiled in (then `gemm`'s
/// AVX-512 kernel is used, which is as fast as MKL's), and the left operand has its rows or its
/// columns adjacent.
pub(super) fn applies((lhs_rs, lhs_cs): (isize, isize)) -> bool {
    (lhs_cs == 1 || lhs_rs == 1) && !isa::has_avx512() && isa::has_avx2_fma()
}

thread_local! {
    /// This thread's packed panel of the right operand, kept from call to call.
    static PACKED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How the left operand is read: element `(i, p)` (row `i`, step `p` of the sum) at `ptr + i ·
/// rs + p · cs`, with `cs == 1` (rows adjacent) or `rs == 1` (each step's values adjacent).
#[derive(Clone, Copy)]
struct Lhs {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

/// `dst (+)= lhs · rhs` for an `m × k` by `k × n` product of `f32`, on this thread; `dst` is
/// stored by rows (`dst_rs` apart, its columns adjacent), `lhs` with its rows or its columns
/// adjacent and `rhs` with any strides. Without `accumulate`, `dst` is written and never read.
///
/// # Safety
/// The processor must have AVX2 and FMA ([`isa::has_avx2_fma`]), `lhs` must have its rows or
/// its columns adjacent (`lhs_cs == 1` or `lhs_rs == 1`), the pointers must address matrices of
/// the given sizes and strides, and `dst` must not overlap `lhs` or `rhs`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sgemm(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): (*const f32, isize, isize),
    (rhs, rhs_rs, rhs_cs): (*const f32, isize, isize),
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: row `i` of `dst` has `n` elements.
                unsafe { std::slice::from_raw_parts_mut(dst.offset(i as isize * dst_rs), n) }
                    .fill(0.0);
            }
        }
        return;
    }
    let panel_len = KC * NC.min(n.next_multiple_of(NR));
    // A left operand stored by columns (each step's values adjacent, its steps a row of the
    // source apart) is packed too, MC rows at a time: read in place, each step would touch a new
    // cache line, and at strides of 1–2 KiB those lines fall in a few of the cache's sets and
    // evict each other before the next tile reads them again.
    let pack_a = lhs_cs != 1;
    let block_len = if pack_a { MC * KC } else { 0 };
    let run = |scratch: &mut [f32]| {
        let (pb, pa) = scratch.split_at_mut(panel_len);
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                // SAFETY: the panel's rows pc..pc + kc and columns jc..jc + nc lie inside `rhs`;
                // the processor has AVX2 and FMA (the caller's contract).
                unsafe {
                    pack_rhs(
                        pb,
                        rhs.offset(pc as isize * rhs_rs + jc as isize * rhs_cs),
                        (rhs_rs, rhs_cs),
                        kc,
                        nc,
                    )
                };
                let overwrite = !accumulate && pc == 0;
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    // SAFETY: rows ic.. and columns pc.. of `lhs` are inside it.
                    let block = unsafe { lhs.offset(ic as isize * lhs_rs + pc as isize * lhs_cs) };
                    if pack_a {
                        // SAFETY: the block's mc rows and kc steps lie inside `lhs`.
                        unsafe { pack_lhs(pa, block, lhs_cs, mc, kc) };
                    }
                    for jr in (0..nc).step_by(NR) {
                        let b = &pb[jr * kc..][..NR * kc];
                        let cols = NR.min(nc - jr);
                        for ir in (0..mc).step_by(MR) {
                            let a = if pack_a {
                                Lhs {
                                    ptr: pa[ir * kc..].as_ptr(),
                                    rs: 1,
                                    cs: MR as isize,
                                }
                            } else {
                                Lhs {
                                    // SAFETY: row ic + ir of `lhs` is inside it.
                                    ptr: unsafe { block.offset(ir as isize * lhs_rs) },
                                    rs: lhs_rs,
                                    cs: 1,
                                }
                            };
                            // SAFETY: the tile's rows and columns lie inside `dst`, its rows
                            // inside `lhs` (or the packed block); the processor has AVX2 and FMA.
                            unsafe {
                                let c =
                                    dst.offset((ic + ir) as isize * dst_rs + (jc + jr) as isize);
                                tile(kc, a, MR.min(mc - ir), b, c, dst_rs, cols, overwrite);
                            }
                        }
                    }
                }
            }
        }
    };
    let len = panel_len + block_len;
    PACKED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut kept) => {
            if kept.len() < len {
                kept.resize(len, 0.0);
            }
            run(&mut kept[..len]);
        }
        Err(_) => run(&mut vec![0.0; len]),
    });
}

/// Packs the `mc × kc` block of a left operand whose rows are adjacent (`rs == 1`, steps `cs`
/// apart) at `src` into slivers of [`MR`] rows: sliver `s` holds, for each step `p`, the values
/// of its rows at that step, six adjacent values (zeros below the last row).
///
/// # Safety
/// The block must lie inside the operand, `mc ≤ MC`, `kc ≤ KC`, and the processor must have AVX2
/// and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_lhs(out: &mut [f32], src: *const f32, cs: isize, mc: usize, kc: usize) {
    let slivers = mc.div_ceil(MR);
    let out = &mut out[..slivers * MR * kc];
    // Step by step: each step's mc values are one run of the source, dealt out to the slivers.
    for p in 0..kc {
        // SAFETY: the block's mc rows at step p are adjacent and inside the operand.
        let run = unsafe { std::slice::from_raw_parts(src.offset(p as isize * cs), mc) };
        let mut chunks = run.chunks_exact(MR);
        for (s, six) in chunks.by_ref().enumerate() {
            let six: &[f32; MR] = six.try_into().expect("chunks of MR");
            let to: &mut [f32; MR] = (&mut out[(s * MR * kc) + p * MR..][..MR])
                .try_into()
                .expect("MR values");
            *to = *six;
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let to = &mut out[((slivers - 1) * MR * kc) + p * MR..][..MR];
            to[..rest.len()].copy_from_slice(rest);
            to[rest.len()..].fill(0.0);
        }
    }
}

/// Packs the `kc × nc` panel of the right operand at `src` into slivers of [`NR`] columns:
/// sliver `s` holds, for each step `p` of the sum, the values of row `p` in its columns (zeros
/// right of the last column). Rows of 16 adjacent values are copied as they are; a transposed
/// operand (its rows `p` adjacent) is turned in blocks of 8 × 8 through registers.
///
/// # Safety
/// The panel must lie inside the operand, `kc ≤ KC`, `nc ≤ NC`, and the processor must have AVX2
/// and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_rhs(
    out: &mut [f32],
    src: *const f32,
    (rs, cs): (isize, isize),
    kc: usize,
    nc: usize,
) {
    for (s, sliver) in out[..nc.div_ceil(NR) * NR * kc]
        .chunks_exact_mut(NR * kc)
        .enumerate()
    {
        let cols = NR.min(nc - s * NR);
        // SAFETY: column s·NR of the panel is inside the operand.
        let first = unsafe { src.offset((s * NR) as isize * cs) };
        if cs == 1 && cols == NR {
            for (p, row) in sliver.chunks_exact_mut(NR).enumerate() {
                // SAFETY: row p, columns s·NR.. s·NR + NR, are inside the operand.
                row.copy_from_slice(unsafe {
                    std::slice::from_raw_parts(first.offset(p as isize * rs), NR)
                });
            }
            continue;
        }
        let mut p0 = 0;
        if rs == 1 && cols == NR && cs > 0 {
            // Eight steps of eight columns at a time: rows of the source are the sliver's
            // columns.
            while p0 + 8 <= kc {
                for j0 in [0, 8] {
                    // SAFETY: columns j0.. j0 + 8 of the sliver, steps p0.. p0 + 8, lie inside
                    // the operand (read) and the sliver (written); the processor has AVX.
                    unsafe {
                        super::matmul::transpose8_f32(
                            first.offset(j0 as isize * cs + p0 as isize),
                            cs as usize,
                            sliver.as_mut_ptr().add(p0 * NR + j0),
                            NR,
                            None,
                        )
                    };
                }
                p0 += 8;
            }
        }
        for j in 0..NR {
            for p in p0..kc {
                sliver[p * NR + j] = if j < cols {
                    // SAFETY: row p, column s·NR + j, is inside the operand.
                    unsafe { *first.offset(j as isize * cs + p as isize * rs) }
                } else {
                    0.0
                };
            }
        }
    }
}

/// One register tile: `c (+)= a · b` over `kc` steps, for the first `rows` rows of the left
/// operand at `a` and a packed sliver `b` ([`NR`] values a step), into the `rows × cols` corner
/// of the tile at `c` (rows `c_rs` apart); `overwrite` stores instead of adding to what `c`
/// holds.
///
/// # Safety
/// The processor must have AVX2 and FMA, `a` must address `rows` rows of `kc` steps with its rows
/// or its steps adjacent, `b` must hold `kc` steps, and the tile's `rows × cols` corner must lie
/// inside the matrix at `c`.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile(
    kc: usize,
    a: Lhs,
    rows: usize,
    b: &[f32],
    c: *mut f32,
    c_rs: isize,
    cols: usize,
    overwrite: bool,
) {
    let b = &b[..NR * kc];
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    // One step of the sum: the sliver's 16 values of step `p` times each row's value `x(i)`.
    #[inline(always)]
    fn step(acc: &mut [[__m256; 2]; MR], bp: &[f32], x: impl Fn(usize) -> f32) {
        // SAFETY: `bp` has NR = 16 values; the caller has AVX2 and FMA.
        unsafe {
            let (b0, b1) = (
                _mm256_loadu_ps(bp.as_ptr()),
                _mm256_loadu_ps(bp.as_ptr().add(8)),
            );
            for (i, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_set1_ps(x(i));
                acc[0] = _mm256_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm256_fmadd_ps(x, b1, acc[1]);
            }
        }
    }
    // Rows past `rows` repeat the last one; their results are not stored.
    let last = rows - 1;
    if a.cs == 1 {
        // Each row at its own pointer, read at offset p.
        // SAFETY: the rows are inside the operand.
        let row: [*const f32; MR] =
            std::array::from_fn(|i| unsafe { a.ptr.offset(i.min(last) as isize * a.rs) });
        for (p, bp) in b.chunks_exact(NR).enumerate() {
            // SAFETY: step p of each row is inside the operand.
            step(&mut acc, bp, |i| unsafe { *row[i].add(p) });
        }
    } else if rows == MR {
        // The six values of a step adjacent, steps `a.cs` apart.
        let mut at = a.ptr;
        for bp in b.chunks_exact(NR) {
            // SAFETY: the six values of this step are inside the operand.
            step(&mut acc, bp, |i| unsafe { *at.add(i) });
            at = at.wrapping_offset(a.cs);
        }
    } else {
        let mut at = a.ptr;
        for bp in b.chunks_exact(NR) {
            // SAFETY: the `rows` values of this step are inside the operand.
            step(&mut acc, bp, |i| unsafe { *at.add(i.min(last)) });
            at = at.wrapping_offset(a.cs);
        }
    }
    if rows == MR && cols == NR {
        for (i, [lo, hi]) in acc.into_iter().enumerate() {
            // SAFETY: row i of the tile, 16 values, is inside the matrix.
            unsafe {
                let row = c.offset(i as isize * c_rs);
                if overwrite {
                    _mm256_storeu_ps(row, lo);
                    _mm256_storeu_ps(row.add(8), hi);
                } else {
                    _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), lo));
                    _mm256_storeu_ps(row.add(8), _mm256_add_ps(_mm256_loadu_ps(row.add(8)), hi));
                }
            }
        }
        return;
    }
    // A tile at the matrix's edge: through a buffer, then its corner only.
    let mut buf = [0.0f32; MR * NR];
    for (i, [lo, hi]) in acc.into_iter().enumerate() {
        // SAFETY: row i of `buf` has NR values.
        unsafe {
            _mm256_storeu_ps(buf.as_mut_ptr().add(i * NR), lo);
            _mm256_storeu_ps(buf.as_mut_ptr().add(i * NR + 8), hi);
        }
    }
    for i in 0..rows {
        // SAFETY: row i of the corner, `cols` values, is inside the matrix.
        let row = unsafe { std::slice::from_raw_parts_mut(c.offset(i as isize * c_rs), cols) };
        for (o, &v) in row.iter_mut().zip(&buf[i * NR..]) {
            *o = if overwrite { v } else { *o + v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    /// A product checked against the definition in `f64`, in every layout of the operands,
    /// written and accumulated.
    fn check(m: usize, n: usize, k: usize, rng: &mut Rng) {
        let a: Vec<f32> = (0..m * k).map(|_| rng.normal() as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.normal() as f32).collect();
        let start: Vec<f32> = (0..m * n).map(|_| rng.normal() as f32).collect();
        // A row stride wider than the row, to catch a tile that writes past its columns.
        let pad = 3;
        let rs = n + pad;
        for (lhs_t, rhs_t, accumulate) in [
            (false, false, false),
            (false, true, false),
            (true, false, false),
            (true, true, true),
            (false, true, true),
        ] {
            // `a` is read as m × k either by rows or, transposed, from its k × m layout; the same
            // values either way, so one reference serves both.
            let (lrs, lcs) = if lhs_t {
                (1, m as isize)
            } else {
                (k as isize, 1)
            };
            let (rrs, rcs) = if rhs_t {
                (1, k as isize)
            } else {
                (n as isize, 1)
            };
            let at = |i: usize, p: usize| a[(i as isize * lrs + p as isize * lcs) as usize];
            let bt = |p: usize, j: usize| b[(p as isize * rrs + j as isize * rcs) as usize];
            let mut dst = vec![f32::NAN; m * rs];
            for i in 0..m {
                for j in 0..n {
                    if accumulate {
                        dst[i * rs + j] = start[i * n + j];
                    }
                }
            }
            unsafe {
                sgemm(
                    (m, n, k),
                    dst.as_mut_ptr(),
                    rs as isize,
                    accumulate,
                    (a.as_ptr(), lrs, lcs),
                    (b.as_ptr(), rrs, rcs),
                )
            };
            for i in 0..m {
                for j in 0..n {
                    let mut want = if accumulate {
                        f64::from(start[i * n + j])
                    } else {
                        0.0
                    };
                    for p in 0..k {
                        want += f64::from(at(i, p)) * f64::from(bt(p, j));
                    }
                    let got = f64::from(dst[i * rs + j]);
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + k as f64).sqrt() * (1.0 + want.abs()),
                        "{m}×{k}×{n} (lhs_t {lhs_t}, rhs_t {rhs_t}, accumulate {accumulate}) at ({i}, {j}): {got} against {want}"
                    );
                }
                for j in n..rs {
                    assert!(
                        dst[i * rs + j].is_nan(),
                        "{m}×{k}×{n}: wrote past column {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn products_match_the_definition_at_every_edge() {
        // The kernel runs on any processor with AVX2 and FMA, whether or not it is the one
        // chosen there (with AVX-512, `gemm`'s kernel is).
        if !isa::has_avx2_fma() {
            return;
        }
        let mut rng = Rng::new(11);
        // Below, at and above each tile and block size (MR 6, NR 16, KC 256, MC 120, NC 512),
        // an empty sum, and the step's own shapes.
        for &(m, n, k) in &[
            (1, 1, 1),
            (1, 1, 0),
            (5, 15, 3),
            (6, 16, 1),
            (7, 17, 2),
            (13, 33, 255),
            (12, 32, 256),
            (11, 31, 257),
            (119, 48, 20),
            (120, 16, 9),
            (121, 20, 513),
            (3, 511, 5),
            (2, 512, 7),
            (4, 513, 6),
            (30, 1040, 40),
            (384, 128, 128),
            (64, 65, 128),
        ] {
            check(m, n, k, &mut rng);
        }
    }

    #[test]
    fn an_empty_sum_writes_zeros_and_leaves_an_accumulated_result() {
        // The kernel runs on any processor with AVX2 and FMA, whether or not it is the one
        // chosen there (with AVX-512, `gemm`'s kernel is).
        if !isa::has_avx2_fma() {
            return;
        }
        let empty_sum = |dst: &mut [f32], accumulate: bool| unsafe {
            sgemm(
                (2, 3, 0),
                dst.as_mut_ptr(),
                3,
                accumulate,
                (std::ptr::null(), 0, 1),
                (std::ptr::null(), 3, 1),
            )
        };
        let mut dst = vec![f32::NAN; 6];
        empty_sum(&mut dst, false);
        assert_eq!(dst, vec![0.0; 6]);
        let mut kept = vec![1.5f32; 6];
        empty_sum(&mut kept, true);
        assert_eq!(kept, vec![1.5; 6]);
    }

    #[test]
    fn a_left_operand_without_an_adjacent_side_goes_to_gemm() {
        assert!(!applies((3, 2)));
        assert!(!applies((-1, 4)));
        if isa::has_avx2_fma() && !isa::has_avx512() {
            assert!(applies((128, 1)) && applies((1, 384)));
        }
    }
}
