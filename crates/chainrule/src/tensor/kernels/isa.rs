//! The instruction set loops are compiled for: the widest this processor has, chosen at run
//! time (the crate is compiled for the baseline x86-64, which every x86-64 runs).
//!
//! [`vectorized`] runs a closure through a copy of itself compiled with AVX-512 (with the
//! `avx512` feature) or AVX2 with FMA enabled, so that the element-wise loops inside it, with
//! the rules of [`crate::ops`] inlined, become vector code as wide as the machine allows; `gemm`
//! chooses its own kernels the same way. Elsewhere (other architectures, or a processor without
//! AVX2) the closure runs as compiled.
//!
//! Sums and maxima are taken in eight lanes (`lane_sum3`, `lane_max`) so that they vectorise
//! too: one running sum adds one element at a time, in order, which the compiler must respect.

use crate::tensor::array::Element;

/// `Σ f(a[j], b[j], c[j])` over slices of one length (the shortest's), summed in eight lanes
/// (then added up), so that the loop vectorises: a single running sum would have to add one
/// element at a time, in order. Written on chunks of the slices, which the compiler turns into
/// vector code (indices into the slices, with their bounds checks, it did not: a layer
/// normalisation ran three times slower).
#[inline(always)]
pub(crate) fn lane_sum3<T: Element>(a: &[T], b: &[T], c: &[T], f: impl Fn(T, T, T) -> T) -> T {
    const LANES: usize = 8;
    let n = a.len().min(b.len()).min(c.len());
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    let mut acc = [T::ZERO; LANES];
    let (ca, cb, cc) = (
        a.chunks_exact(LANES),
        b.chunks_exact(LANES),
        c.chunks_exact(LANES),
    );
    let (ra, rb, rc) = (ca.remainder(), cb.remainder(), cc.remainder());
    for ((xa, xb), xc) in ca.zip(cb).zip(cc) {
        for l in 0..LANES {
            acc[l] = acc[l] + f(xa[l], xb[l], xc[l]);
        }
    }
    let mut s = T::ZERO;
    for ((&x, &y), &z) in ra.iter().zip(rb).zip(rc) {
        s = s + f(x, y, z);
    }
    acc.iter().fold(s, |s, &a| s + a)
}

/// `Σ f(a[j], b[j])`, as [`lane_sum3`].
#[inline(always)]
pub(crate) fn lane_sum2<T: Element>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    lane_sum3(a, b, a, |x, y, _| f(x, y))
}

/// `Σ f(a[j])`, as [`lane_sum3`].
#[inline(always)]
pub(crate) fn lane_sum<T: Element>(a: &[T], f: impl Fn(T) -> T) -> T {
    lane_sum3(a, a, a, |x, _, _| f(x))
}

/// The largest element (`-inf` for none), in eight lanes as [`lane_sum3`]. NaN is not looked
/// for: callers that care test the result.
#[inline(always)]
pub(crate) fn lane_max<T: Element>(a: &[T]) -> T {
    const LANES: usize = 8;
    let mut acc = [T::neg_infinity(); LANES];
    let chunks = a.chunks_exact(LANES);
    let rest = chunks.remainder();
    for x in chunks {
        for l in 0..LANES {
            if x[l] > acc[l] {
                acc[l] = x[l];
            }
        }
    }
    let mut m = T::neg_infinity();
    for &v in rest {
        if v > m {
            m = v;
        }
    }
    acc.iter().fold(m, |m, &a| if a > m { a } else { m })
}

/// Runs `f` compiled for the widest instruction set this processor has.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    vectorized_over(usize::MAX, f)
}

/// Loops over fewer elements than this run the AVX2 copy even where AVX-512 is available: the
/// 512-bit registers pay for themselves only on long loops, and the small steps of a tiny
/// network (`mlp-small`: 64 samples through 64-128-10) took 3–5% longer with them.
pub const WIDE_MIN: usize = 4096;

/// As [`vectorized`], for a loop over `n` elements: the AVX-512 copy only from [`WIDE_MIN`]
/// elements on.
#[inline(always)]
pub fn vectorized_over<R>(n: usize, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[cfg(feature = "avx512")]
        if n >= WIDE_MIN && has_avx512() {
            // SAFETY: the processor has the features the copy is compiled for.
            return unsafe { avx512(f) };
        }
        if has_avx2_fma() {
            // SAFETY: as above.
            return unsafe { avx2(f) };
        }
    }
    let _ = n;
    f()
}

/// The name of the widest instruction set [`vectorized`] uses here, for benchmark reports.
pub fn name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            return "AVX-512";
        }
        if has_avx2_fma() {
            return "AVX2";
        }
    }
    "baseline"
}

/// Whether the AVX-512 copies run here: they are compiled in (the `avx512` feature) and the
/// processor has every extension they are compiled for (AVX-512 F, VL, DQ and BW, AVX2, FMA).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx512() -> bool {
    cfg!(feature = "avx512")
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && has_avx2_fma()
}

/// Whether the processor has AVX2 and FMA, what the AVX2 copies are compiled for.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
