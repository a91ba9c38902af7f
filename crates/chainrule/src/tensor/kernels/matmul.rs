//! Matrix products through the `gemm` crate (and, for `f32` on processors with AVX2 but no
//! AVX-512, through the packed kernel of `sgemm_avx2`), and the fully connected layer `x · wᵀ +
//! b` with the transposition that keeps `gemm`'s packing clear of cache-set conflicts (register
//! transposes on AVX).

use super::isa::vectorized;
use super::parallel::{par_blocks, SendPtr, PAR_MIN};
use crate::tensor::array::Element;

/// Products smaller than this many multiply-adds (`m·n·k`) run on one thread: below about a
/// million (some 20 µs of work on one core) waking a helper thread costs about what it saves.
const GEMM_PAR_MIN: usize = 1 << 20;

/// Up to this size, a product is split into blocks of rows (or columns), one per thread, each a
/// single-threaded `gemm`; measured on two cores (AVX-512 kernels), this beats `gemm`'s own
/// threading by 3–10% at every size up to 1024³, and the caller takes the helper's block too
/// when a helper thread is slow to start (see [`par_blocks`]). One block per thread rather than
/// two packs the shared operand half as often: in five alternating rounds `matmul-512` took
/// 0.89 of the time, `matmul-1024` 0.93, `gpt-baby` 0.98, `cnn-fashion` 1.005. Larger products
/// use `gemm`'s threading, which packs each panel once for all threads.
const GEMM_SPLIT_MAX: usize = 1024 * 1024 * 1024;

/// [`gemm`](fn@gemm) on the calling thread only: for loops that are already split across threads
/// (one image of a convolution per block, say).
///
/// # Safety
/// As for [`gemm`](fn@gemm).
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_serial<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    dst_cs: isize,
    accumulate: bool,
    lhs: *const T,
    lhs_rs: isize,
    lhs_cs: isize,
    rhs: *const T,
    rhs_rs: isize,
    rhs_cs: isize,
) {
    let d = Strided::new(dst, dst_rs, dst_cs);
    let (l, r) = (
        Strided::new(lhs, lhs_rs, lhs_cs),
        Strided::new(rhs, rhs_rs, rhs_cs),
    );
    gemm_with(m, n, k, d, accumulate, l, r, gemm::Parallelism::None)
}

/// A matrix given by a pointer to its first element and its row and column strides.
#[derive(Clone, Copy)]
struct Strided<T> {
    ptr: *const T,
    rs: isize,
    cs: isize,
}

impl<T> Strided<T> {
    fn new(ptr: *const T, rs: isize, cs: isize) -> Self {
        Strided { ptr, rs, cs }
    }
}

/// The one call into `gemm` (which takes column strides first): `dst (+)= lhs · rhs`. A
/// single-threaded `f32` product with a row-major result goes to `sgemm_avx2` instead where that
/// kernel applies (AVX2 without AVX-512, the left operand's rows or columns adjacent): at the
/// baby GPT's shapes it took 0.89 of `gemm`'s time on one thread, and the whole step 0.92.
///
/// # Safety
/// As for [`gemm`].
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_with<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: Strided<T>,
    accumulate: bool,
    lhs: Strided<T>,
    rhs: Strided<T>,
    par: gemm::Parallelism,
) {
    #[cfg(target_arch = "x86_64")]
    if matches!(par, gemm::Parallelism::None)
        && dst.cs == 1
        && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && super::sgemm_avx2::applies((lhs.rs, lhs.cs))
    {
        // SAFETY: T is f32 (checked above), the processor has what the kernel needs, and the
        // caller guarantees the matrices.
        return unsafe {
            super::sgemm_avx2::sgemm(
                (m, n, k),
                dst.ptr as *mut f32,
                dst.rs,
                accumulate,
                (lhs.ptr as *const f32, lhs.rs, lhs.cs),
                (rhs.ptr as *const f32, rhs.rs, rhs.cs),
            )
        };
    }
    gemm::gemm(
        m,
        n,
        k,
        dst.ptr as *mut T,
        dst.cs,
        dst.rs,
        accumulate,
        lhs.ptr,
        lhs.cs,
        lhs.rs,
        rhs.ptr,
        rhs.cs,
        rhs.rs,
        T::ONE,
        T::ONE,
        false,
        false,
        false,
        par,
    )
}

/// One matrix product through `gemm`: `dst (+)= lhs · rhs`, each matrix given by a pointer and
/// its row and column strides (in elements), `m × k` by `k × n`.
///
/// # Safety
/// The pointers must address matrices of the given sizes and strides, and `dst` must not
/// overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    dst_cs: isize,
    accumulate: bool,
    lhs: *const T,
    lhs_rs: isize,
    lhs_cs: isize,
    rhs: *const T,
    rhs_rs: isize,
    rhs_cs: isize,
) {
    let work = m * n * k;
    let threads = rayon::current_num_threads();
    // The three matrices with their strides, from pointers to their first elements (or to a
    // block's).
    let strided = |dst: *mut T, lhs: *const T, rhs: *const T| {
        (
            Strided::new(dst, dst_rs, dst_cs),
            Strided::new(lhs, lhs_rs, lhs_cs),
            Strided::new(rhs, rhs_rs, rhs_cs),
        )
    };
    let one = |m: usize, n: usize, dst: *mut T, lhs: *const T, rhs: *const T, par| {
        let (d, l, r) = strided(dst, lhs, rhs);
        gemm_with(m, n, k, d, accumulate, l, r, par)
    };
    if work < GEMM_PAR_MIN || threads < 2 {
        return one(m, n, dst, lhs, rhs, gemm::Parallelism::None);
    }
    if work > GEMM_SPLIT_MAX {
        return one(m, n, dst, lhs, rhs, gemm::Parallelism::Rayon(0));
    }
    if splits_sum(m, n, k) {
        let (d, l, r) = strided(dst, lhs, rhs);
        return gemm_split_sum(m, n, k, threads, d, accumulate, l, r);
    }
    // Split the longer of the output's two sides into one block per thread; but a result
    // stored by columns is split by rows when it has enough of them: then each block packs only
    // its own rows of `lhs` (the operand `gemm` packs in that layout) and reads `rhs` in place,
    // instead of every block packing all of `lhs` again.
    let column_major = dst_rs.unsigned_abs() == 1 && dst_cs.unsigned_abs() != 1;
    let by_rows = m >= n || (column_major && m >= 32 * threads);
    let side = if by_rows { m } else { n };
    let block = side.div_ceil(threads).max(16);
    let (dst, lhs, rhs) = (SendPtr(dst), SendPtr(lhs as *mut T), SendPtr(rhs as *mut T));
    par_blocks(side.div_ceil(block), &|p| {
        let (dst, lhs, rhs) = (dst.get(), lhs.get(), rhs.get());
        let start = p * block;
        let len = block.min(side - start);
        // SAFETY: the blocks of `dst` are disjoint and inside the matrix.
        unsafe {
            if by_rows {
                let (d, l) = (start as isize * dst_rs, start as isize * lhs_rs);
                one(
                    len,
                    n,
                    dst.offset(d),
                    lhs.offset(l),
                    rhs,
                    gemm::Parallelism::None,
                );
            } else {
                let (d, r) = (start as isize * dst_cs, start as isize * rhs_cs);
                one(
                    m,
                    len,
                    dst.offset(d),
                    lhs,
                    rhs.offset(r),
                    gemm::Parallelism::None,
                );
            }
        }
    });
}

/// Whether a threaded product is split along its summed dimension rather than its result's
/// rows or columns: when that dimension is at least 1.5 times the longer side of the result, as
/// in a layer's weight gradient `dL/dYᵀ · X` (the batch's 768 rows summed into a 128×384
/// matrix, say).
///
/// Split by rows of the result, every block reads (and packs) the whole of one operand and its
/// share of the other, and all of both come from wherever the last loop left them. Split along
/// the sum, each thread multiplies its own rows of the batch (the rows [`par_blocks`] gave it
/// in the loops before) and nothing is packed twice; the partial results are added after.
fn splits_sum(m: usize, n: usize, k: usize) -> bool {
    2 * k >= 3 * m.max(n)
}

/// `dst (+)= lhs · rhs` as `parts` products over consecutive ranges of the summed dimension,
/// side by side: the first writes into `dst`, the others into scratch, whose sum is then added
/// to `dst`. The ranges do not depend on which thread runs them, so the result is the same
/// numbers from run to run.
///
/// # Safety
/// As for [`gemm`].
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_split_sum<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    parts: usize,
    dst: Strided<T>,
    accumulate: bool,
    lhs: Strided<T>,
    rhs: Strided<T>,
) {
    let chunk = k.div_ceil(parts);
    let parts = k.div_ceil(chunk);
    let len = m * n;
    with_partials::<T, ()>((parts - 1) * len, |partials| {
        let pp = SendPtr(partials.as_mut_ptr());
        let (dp, lp, rp) = (
            SendPtr(dst.ptr as *mut T),
            SendPtr(lhs.ptr as *mut T),
            SendPtr(rhs.ptr as *mut T),
        );
        par_blocks(parts, &|p| {
            let start = p * chunk;
            let l = Strided::new(lp.get().offset(start as isize * lhs.cs), lhs.rs, lhs.cs);
            let r = Strided::new(rp.get().offset(start as isize * rhs.rs), rhs.rs, rhs.cs);
            let (d, acc) = if p == 0 {
                (Strided::new(dp.get(), dst.rs, dst.cs), accumulate)
            } else {
                // SAFETY: part `p` has its own `len` elements of scratch.
                (
                    Strided::new(pp.get().add((p - 1) * len), n as isize, 1),
                    false,
                )
            };
            // SAFETY: the ranges of the sum lie inside both operands; each part writes its own
            // matrix.
            unsafe {
                gemm_with(
                    m,
                    n,
                    chunk.min(k - start),
                    d,
                    acc,
                    l,
                    r,
                    gemm::Parallelism::None,
                )
            };
        });
        let rows = m.div_ceil(parts).max(1);
        par_blocks(m.div_ceil(rows), &|b| {
            vectorized(
                #[inline(always)]
                || {
                    for i in b * rows..m.min((b + 1) * rows) {
                        // SAFETY: row `i` of `dst` and of each partial lie inside them; the
                        // blocks' rows are disjoint.
                        unsafe {
                            let out = dp.get().offset(i as isize * dst.rs);
                            for p in 1..parts {
                                let part = std::slice::from_raw_parts(
                                    pp.get().add((p - 1) * len + i * n),
                                    n,
                                );
                                if dst.cs == 1 {
                                    let out = std::slice::from_raw_parts_mut(out, n);
                                    for (o, &x) in out.iter_mut().zip(part) {
                                        *o = *o + x;
                                    }
                                } else {
                                    for (j, &x) in part.iter().enumerate() {
                                        let o = out.offset(j as isize * dst.cs);
                                        *o = *o + x;
                                    }
                                }
                            }
                        }
                    }
                },
            )
        });
    });
}

thread_local! {
    /// The scratch of [`gemm_split_sum`] on this thread, kept from call to call (a `Vec<T>` of
    /// the last element type used).
    static PARTIALS: std::cell::RefCell<Option<Box<dyn std::any::Any>>> =
        const { std::cell::RefCell::new(None) };
}

/// Calls `f` with `len` elements of this thread's kept scratch (a fresh buffer if the scratch
/// is in use further up the stack).
fn with_partials<T: Element, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    PARTIALS.with(|cell| {
        let Ok(mut kept) = cell.try_borrow_mut() else {
            return f(&mut vec![T::ZERO; len]);
        };
        if !kept.as_ref().is_some_and(|b| b.is::<Vec<T>>()) {
            *kept = Some(Box::new(Vec::<T>::new()));
        }
        let buf = kept
            .as_mut()
            .and_then(|b| b.downcast_mut::<Vec<T>>())
            .expect("the scratch was just made a Vec<T>");
        if buf.len() < len {
            buf.resize(len, T::ZERO);
        }
        f(&mut buf[..len])
    })
}

/// `x · wᵀ` is computed transposed (into a scratch buffer, then copied out with the bias) when
/// both the batch and the output have at least this many rows and the product is large enough
/// to be threaded ([`GEMM_PAR_MIN`]); smaller products keep the direct layout, where the copy
/// would be a larger share of the work.
///
/// Both operands of `x · wᵀ` are contiguous along the summed dimension. Asked for a row-major
/// result, `gemm` packs `w` by gathering one element from each of its rows; with rows a multiple
/// of 1 KiB apart (784 inputs is fine, 1024 is not) those rows compete for the same few cache
/// sets, and on a 1024×1024 weight the product ran at 60% of its normal speed. Asked for the
/// transposed result, `gemm` reads `w` as it lies and gathers from `x` instead, which is smaller
/// and read once; the copy back costs one pass over the output, which also adds the bias. When
/// the rows of `x` are a multiple of 1 KiB apart too, `x` is first transposed into scratch (see
/// [`GATHER_CONFLICT_BYTES`]).
const LINEAR_TRANSPOSED_MIN: usize = 32;

/// `x · wᵀ` is computed transposed only when the rows of `w` are at least this many bytes (a
/// page) apart: below it the gathers of `gemm`'s packing stay in cache and the copy back is pure
/// cost. Measured on two cores (AVX-512), the direct layout took 151 instead of 189 µs for the
/// baby GPT's 768×128 by 128×128 product, 662 instead of 781 µs for 768×512 by 512×128, and 169
/// instead of 226 µs for a batch of 64 through 784×256; the transposed one 765 instead of
/// 1,597 µs for 128×3136 by 3136×128 and 4.3 instead of 4.8 ms for 256×1024 by 1024×1024.
const LINEAR_TRANSPOSED_ROW_BYTES: usize = 4096;

/// Rows this many bytes apart (or a multiple of it) map to at most four sets of a 4 KiB-aliased
/// L1 cache, so gathering one element from each of 64 rows, as `gemm`'s packing does, evicts its
/// own lines. [`linear`] then transposes `x` first (one tiled pass) and lets `gemm` pack it by
/// contiguous runs: on two cores the 256×1024 by 1024×1024 forward product took 2.7 ms instead
/// of 3.1–3.3 ms, the transposition 0.04 ms.
const GATHER_CONFLICT_BYTES: usize = 1024;

/// Elements per side of the square tiles of [`transpose_add_rows`]: a tile is read and written
/// by whole rows (one 64-byte line of `f32`), whatever the distance between rows.
const TILE: usize = 16;

/// The length of the scratch buffer [`linear`] needs for `x [n, k] · w [m, k]ᵀ` (0 if none).
pub fn linear_scratch<T>(n: usize, k: usize, m: usize) -> usize {
    match (transposed_linear::<T>(n, k, m), gathers_conflict::<T>(k)) {
        (false, _) => 0,
        (true, false) => n * m,
        (true, true) => n * m + n * k,
    }
}

fn transposed_linear<T>(n: usize, k: usize, m: usize) -> bool {
    n >= LINEAR_TRANSPOSED_MIN
        && m >= LINEAR_TRANSPOSED_MIN
        && k * size_of::<T>() >= LINEAR_TRANSPOSED_ROW_BYTES
        && n * m * k >= GEMM_PAR_MIN
}

/// Whether rows of `k` elements lie a multiple of [`GATHER_CONFLICT_BYTES`] apart.
fn gathers_conflict<T>(k: usize) -> bool {
    (k * size_of::<T>()) % GATHER_CONFLICT_BYTES == 0
}

/// A fully connected layer: `out = x · wᵀ + b` for `x` `[n, k]`, `w` `[m, k]` and `b` `[m]`
/// (or no bias), all contiguous; `scratch` must hold [`linear_scratch`]`(n, k, m)` elements (its
/// contents are overwritten). Without a bias, `out` is written by the product alone, neither
/// filled first nor read.
///
/// # Panics
/// If a slice is shorter than its shape, or `scratch` shorter than [`linear_scratch`] says.
pub fn linear<T: Element>(
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    (n, k, m): (usize, usize, usize),
    out: &mut [T],
    scratch: &mut [T],
) {
    assert!(x.len() >= n * k && w.len() >= m * k && out.len() >= n * m);
    let b = b.map(|b| &b[..m]);
    if transposed_linear::<T>(n, k, m) {
        let (t, rest) = scratch.split_at_mut(n * m);
        // x is n×k, read in place with strides (k, 1), or from its transpose with strides (1, n).
        let (x, x_strides) = if gathers_conflict::<T>(k) {
            let xt = &mut rest[..n * k];
            transpose_add_rows(&x[..n * k], n, k, None, xt);
            (&*xt, (1, n as isize))
        } else {
            (x, (k as isize, 1))
        };
        // SAFETY: x is n×k with the strides chosen above, wᵀ is read as k×m with strides
        // (1, k), and `t` is the n×m result stored by columns (strides (1, n)); the slices were
        // checked above.
        unsafe {
            gemm(
                n,
                m,
                k,
                t.as_mut_ptr(),
                1,
                n as isize,
                false,
                x.as_ptr(),
                x_strides.0,
                x_strides.1,
                w.as_ptr(),
                1,
                k as isize,
            );
        }
        transpose_add_rows(t, m, n, b, &mut out[..n * m]);
        return;
    }
    let out = &mut out[..n * m];
    match b {
        Some(b) => {
            for row in out.chunks_exact_mut(m.max(1)) {
                row.copy_from_slice(b);
            }
        }
        None if k == 0 => out.fill(T::ZERO),
        None => {}
    }
    if k > 0 && n > 0 && m > 0 {
        // SAFETY: x is n×k with rows of k, wᵀ is read as k×m with strides (1, k), out is n×m;
        // the slices were checked above.
        unsafe {
            gemm(
                n,
                m,
                k,
                out.as_mut_ptr(),
                m as isize,
                1,
                b.is_some(),
                x.as_ptr(),
                k as isize,
                1,
                w.as_ptr(),
                1,
                k as isize,
            );
        }
    }
}

/// `out = srcᵀ + row`: `src` is `rows × cols` (row-major), `out` is `cols × rows` and `row`
/// (`rows` long), when given, is added to each of its rows.
pub fn transpose_add_rows<T: Element>(
    src: &[T],
    rows: usize,
    cols: usize,
    row: Option<&[T]>,
    out: &mut [T],
) {
    assert!(src.len() == rows * cols && out.len() == rows * cols);
    assert!(row.is_none_or(|row| row.len() == rows));
    if rows == 0 || cols == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    let simd = simd_transpose::<T>();
    // Bands of TILE output rows (source columns), each written by one thread, a TILE × TILE
    // tile at a time: the tile is read by rows and written by rows (through registers, or a
    // small buffer), so both sides move whole cache lines.
    let band = |c0: usize, o: &mut [T]| {
        let w = TILE.min(cols - c0);
        let mut tile = [[T::ZERO; TILE]; TILE];
        for r0 in (0..rows).step_by(TILE) {
            let h = TILE.min(rows - r0);
            #[cfg(target_arch = "x86_64")]
            if simd && w == TILE && h == TILE {
                assert!(o.len() >= (TILE - 1) * rows + r0 + TILE);
                let add = row.map(|row| row[r0..r0 + TILE].as_ptr().cast::<f32>());
                // Both halves of each output line (band rows bj..bj + 8) are written before the
                // next eight rows: lines a multiple of 4 KiB apart share cache sets.
                for (bj, bi) in [(0, 0), (0, 8), (8, 0), (8, 8)] {
                    // SAFETY: T is f32 (checked by simd_transpose, as is AVX); the 8×8 block
                    // at source rows r0 + bi.., columns c0 + bj.. lies inside `src` (a whole
                    // tile), its transpose at band rows bj.., columns r0 + bi.. inside `o`
                    // (asserted above), and `add` has TILE values from r0.
                    unsafe {
                        transpose8_f32(
                            src.as_ptr().add((r0 + bi) * cols + c0 + bj).cast(),
                            cols,
                            o.as_mut_ptr().add(bj * rows + r0 + bi).cast(),
                            rows,
                            add.map(|a| a.add(bi)),
                        );
                    }
                }
                continue;
            }
            if w == TILE && h == TILE {
                // Fixed lengths, so that the copies compile to vector moves.
                for (i, t) in tile.iter_mut().enumerate() {
                    let s: &[T; TILE] = src[(r0 + i) * cols + c0..][..TILE]
                        .try_into()
                        .expect("a whole tile");
                    *t = *s;
                }
                let add: Option<&[T; TILE]> =
                    row.map(|row| row[r0..r0 + TILE].try_into().expect("a whole tile"));
                for j in 0..TILE {
                    let o: &mut [T; TILE] = (&mut o[j * rows + r0..][..TILE])
                        .try_into()
                        .expect("a whole tile");
                    match add {
                        Some(add) => {
                            for i in 0..TILE {
                                o[i] = tile[i][j] + add[i];
                            }
                        }
                        None => {
                            for i in 0..TILE {
                                o[i] = tile[i][j];
                            }
                        }
                    }
                }
                continue;
            }
            for (i, t) in tile.iter_mut().enumerate().take(h) {
                t[..w].copy_from_slice(&src[(r0 + i) * cols + c0..][..w]);
            }
            for j in 0..w {
                let o = &mut o[j * rows + r0..][..h];
                for (i, (o, t)) in o.iter_mut().zip(&tile[..h]).enumerate() {
                    *o = match row {
                        Some(row) => t[j] + row[r0 + i],
                        None => t[j],
                    };
                }
            }
        }
    };
    let bands = cols.div_ceil(TILE);
    if rows * cols < PAR_MIN {
        for (i, o) in out.chunks_mut(TILE * rows).enumerate() {
            band(i * TILE, o);
        }
        return;
    }
    let o = SendPtr(out.as_mut_ptr());
    par_blocks(bands, &|i| {
        let c0 = i * TILE;
        let len = (TILE.min(cols - c0)) * rows;
        // SAFETY: band `i` is output rows c0..c0 + TILE, disjoint from every other band's, and
        // inside `out`.
        let o = unsafe { std::slice::from_raw_parts_mut(o.get().add(c0 * rows), len) };
        band(c0, o);
    });
}

/// Whether [`transpose_add_rows`] can move `T` through [`transpose8_f32`]: `T` is `f32` and the
/// processor has AVX. Register shuffles transpose the 1 MiB matrices of `mlp-wide` 1.3–2× as fast
/// as the scalar path through a tile buffer.
#[cfg(target_arch = "x86_64")]
fn simd_transpose<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && std::is_x86_feature_detected!("avx")
}

/// Transposes the 8×8 block whose row `i` starts at `src + i * src_stride` into the rows
/// `dst + j * dst_stride`, adding the 8 values at `add` (when given) to each written row.
///
/// # Safety
/// The processor must have AVX, and the 8 rows of 8 values at `src`, at `dst` and at `add` must
/// be readable (writable for `dst`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
pub(super) unsafe fn transpose8_f32(
    src: *const f32,
    src_stride: usize,
    dst: *mut f32,
    dst_stride: usize,
    add: Option<*const f32>,
) {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees every address read or written below.
    unsafe {
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * src_stride)));
        // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
        let t = [
            _mm256_unpacklo_ps(r[0], r[1]),
            _mm256_unpackhi_ps(r[0], r[1]),
            _mm256_unpacklo_ps(r[2], r[3]),
            _mm256_unpackhi_ps(r[2], r[3]),
            _mm256_unpacklo_ps(r[4], r[5]),
            _mm256_unpackhi_ps(r[4], r[5]),
            _mm256_unpacklo_ps(r[6], r[7]),
            _mm256_unpackhi_ps(r[6], r[7]),
        ];
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        let mut c = [
            _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
            _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
        ];
        if let Some(add) = add {
            let a = _mm256_loadu_ps(add);
            for v in &mut c {
                *v = _mm256_add_ps(*v, a);
            }
        }
        for (j, v) in c.into_iter().enumerate() {
            _mm256_storeu_ps(dst.add(j * dst_stride), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.normal() as f32).collect()
    }

    /// `x · wᵀ + b` by the definition, in f64.
    fn naive_linear(x: &[f32], w: &[f32], b: &[f32], (n, k, m): (usize, usize, usize)) -> Vec<f64> {
        let mut out = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                let mut s = f64::from(b[j]);
                for p in 0..k {
                    s += f64::from(x[i * k + p]) * f64::from(w[j * k + p]);
                }
                out[i * m + j] = s;
            }
        }
        out
    }

    #[test]
    fn products_split_along_the_sum_match_the_definition() {
        // A weight gradient's shape (the sum 1.5 times or more the longer side, large enough to
        // be threaded), a sum that does not split evenly, both layouts of the result, and
        // accumulating into what is there.
        let mut rng = Rng::new(7);
        for &(m, n, k) in &[(96, 128, 769), (128, 64, 1000), (40, 200, 2001)] {
            assert!(splits_sum(m, n, k) && m * n * k >= GEMM_PAR_MIN);
            let (a, b) = (random(m * k, &mut rng), random(k * n, &mut rng));
            let start = random(m * n, &mut rng);
            for (column_major, accumulate) in [(false, false), (true, false), (false, true)] {
                let (rs, cs) = if column_major {
                    (1, m as isize)
                } else {
                    (n as isize, 1)
                };
                let mut dst = start.clone();
                // `a` is stored by columns (as `dL/dYᵀ` is), `b` by rows.
                unsafe {
                    gemm(
                        m,
                        n,
                        k,
                        dst.as_mut_ptr(),
                        rs,
                        cs,
                        accumulate,
                        a.as_ptr(),
                        1,
                        m as isize,
                        b.as_ptr(),
                        n as isize,
                        1,
                    )
                };
                for i in 0..m {
                    for j in 0..n {
                        let at = (i as isize * rs + j as isize * cs) as usize;
                        let mut want = if accumulate {
                            f64::from(start[at])
                        } else {
                            0.0
                        };
                        for p in 0..k {
                            want += f64::from(a[p * m + i]) * f64::from(b[p * n + j]);
                        }
                        let got = f64::from(dst[at]);
                        assert!(
                            (got - want).abs() <= 1e-4 * (k as f64).sqrt() * (1.0 + want.abs()),
                            "{m}×{n}×{k} at ({i}, {j}): {got} against {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn linear_matches_the_definition_on_both_paths() {
        let mut rng = Rng::new(7);
        // Odd sizes, empty sides, both sides of the transposed-path thresholds (rows, bytes per row), a stride of a
        // power of two, and outputs big enough for the threaded copy.
        let shapes = [
            (0, 3, 4),
            (3, 0, 4),
            (3, 4, 0),
            (1, 1, 1),
            (5, 7, 3),
            (31, 64, 200),
            (32, 64, 32),
            (33, 70, 65),
            (100, 1024, 40),
            (128, 256, 256),
            (40, 256, 128),
            (64, 1024, 128),
            (40, 1100, 33),
            (257, 9, 1025),
            (600, 33, 300),
        ];
        for &(n, k, m) in &shapes {
            let (x, w, b) = (
                random(n * k, &mut rng),
                random(m * k, &mut rng),
                random(m, &mut rng),
            );
            // With the bias, and without (the output, NaN before, is then not read).
            for bias in [Some(&b[..]), None] {
                let mut out = vec![f32::NAN; n * m];
                let mut scratch = vec![f32::NAN; linear_scratch::<f32>(n, k, m)];
                linear(&x, &w, bias, (n, k, m), &mut out, &mut scratch);
                let zeros = vec![0.0; m];
                let want = naive_linear(&x, &w, bias.unwrap_or(&zeros), (n, k, m));
                for (i, (&got, &want)) in out.iter().zip(&want).enumerate() {
                    let tol = 1e-4 * (1.0 + k as f64).sqrt() * (1.0 + want.abs());
                    assert!(
                        (f64::from(got) - want).abs() <= tol,
                        "[{n}, {k}] x [{m}, {k}]ᵀ (bias {}): element {i} is {got}, expected {want}",
                        bias.is_some()
                    );
                }
            }
        }
    }

    #[test]
    fn transpose_add_rows_matches_the_definition_in_f64() {
        // f64 takes the tile-buffer path (f32 on x86-64 takes the register shuffles).
        let (rows, cols) = (40, 35);
        let src: Vec<f64> = (0..rows * cols).map(|i| i as f64 * 0.5 - 300.0).collect();
        let row: Vec<f64> = (0..rows).map(|r| r as f64 * 1e-3).collect();
        let (mut out, mut bare) = (vec![f64::NAN; rows * cols], vec![f64::NAN; rows * cols]);
        transpose_add_rows(&src, rows, cols, Some(&row), &mut out);
        transpose_add_rows(&src, rows, cols, None, &mut bare);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(out[c * rows + r], src[r * cols + c] + row[r]);
                assert_eq!(bare[c * rows + r], src[r * cols + c]);
            }
        }
    }

    #[test]
    fn transpose_add_rows_matches_the_definition() {
        let mut rng = Rng::new(8);
        for &(rows, cols) in &[
            (0, 5),
            (5, 0),
            (1, 1),
            (3, 17),
            (17, 3),
            (16, 16),
            (700, 301),
        ] {
            let mut src = random(rows * cols, &mut rng);
            if let Some(v) = src.first_mut() {
                // Transposing alone keeps the sign of a zero; adding +0 would not.
                *v = -0.0;
            }
            let row = random(rows, &mut rng);
            let mut out = vec![f32::NAN; rows * cols];
            let mut bare = vec![f32::NAN; rows * cols];
            transpose_add_rows(&src, rows, cols, Some(&row), &mut out);
            transpose_add_rows(&src, rows, cols, None, &mut bare);
            for r in 0..rows {
                for c in 0..cols {
                    let (i, s) = (c * rows + r, src[r * cols + c]);
                    assert_eq!(out[i], s + row[r], "{rows}x{cols}");
                    assert_eq!(bare[i].to_bits(), s.to_bits(), "{rows}x{cols}");
                }
            }
        }
    }
}
