//! The instruction set loops are compiled for: the widest this processor has, chosen at run
//! time (the crate is compiled for the baseline x86-64, which every x86-64 runs).
//!
//! [`vectorized`] runs a closure through a copy of itself compiled with AVX-512 (with the
//! `avx512` feature) or AVX2 with FMA enabled, so that the element-wise loops inside it, with
//! the rules of [`crate::ops`] inlined, become vector code as wide as the machine allows; `gemm`
//! chooses its own kernels the same way. Elsewhere (other architectures, or a processor without
//! AVX2) the closure runs as compiled.
//!
//! Sums and maxima are taken in eight lanes ([`lane_sum`], [`lane_max`]) so that they vectorise
//! too: one running sum adds one element at a time, in order, which the compiler must respect.

use crate::tensor::array::Element;

/// `Σ f(j)` for `j` in `0..n`, summed in eight lanes (then added up), so that the loop
/// vectorises: a single running sum would have to add one element at a time, in order.
#[inline(always)]
pub(crate) fn lane_sum<T: Element>(n: usize, f: impl Fn(usize) -> T) -> T {
    const LANES: usize = 8;
    let mut acc = [T::ZERO; LANES];
    let whole = n / LANES * LANES;
    for c in (0..whole).step_by(LANES) {
        for (l, a) in acc.iter_mut().enumerate() {
            *a = *a + f(c + l);
        }
    }
    let mut s = T::ZERO;
    for j in whole..n {
        s = s + f(j);
    }
    acc.iter().fold(s, |s, &a| s + a)
}

/// `max f(j)` for `j` in `0..n` (`-inf` for none), in eight lanes as [`lane_sum`]. NaN is not
/// looked for: callers that care test the result.
#[inline(always)]
pub(crate) fn lane_max<T: Element>(n: usize, f: impl Fn(usize) -> T) -> T {
    const LANES: usize = 8;
    let mut acc = [T::neg_infinity(); LANES];
    let whole = n / LANES * LANES;
    for c in (0..whole).step_by(LANES) {
        for (l, a) in acc.iter_mut().enumerate() {
            let v = f(c + l);
            if v > *a {
                *a = v;
            }
        }
    }
    let mut m = T::neg_infinity();
    for j in whole..n {
        let v = f(j);
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
        if n >= WIDE_MIN && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has the features the copy is compiled for.
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
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
        #[cfg(feature = "avx512")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "AVX2";
        }
    }
    "baseline"
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
