//! `exp`, `erf`, `tanh`, `ln`, `ln_1p` and `exp_m1` for `f32` written as straight-line
//! arithmetic, so that the compiler turns the loops that call them (softmax, GELU, the
//! activations and their gradients) into vector code; the C library's functions are calls the
//! compiler cannot look into, one element at a time. Through the C library, `tanh` of the baby
//! GPT's 768×512 hidden activations took 4.5 ms on two cores, `exp` 0.12 ms (AVX2 build).
//!
//! `exp` stays within 2 units in the last place of the C library's, `erf` within 8 (4·10⁻⁷
//! absolute at most, near ±1); `tanh`, `ln` and `exp_m1` within 1 of the correctly rounded
//! value and `ln_1p` within 2 (on every third bit pattern of `f32`, checked once outside the
//! tests). The tests below measure each over its whole useful range. All keep the special
//! values (`exp(-inf) = 0`, `ln(0) = -inf`, `tanh(±inf) = ±1`, `ln` of a negative number NaN,
//! NaN in, NaN out, the sign of a zero), and are used for `f32` only: `f64` keeps the C
//! library's, so results checked to 1e-12 in double precision are unchanged.
//!
//! The polynomials are evaluated with fused multiply-adds (`mul_add`): inside the loops that
//! [`vectorized`](crate::tensor::kernels::isa::vectorized) compiles for AVX2 with FMA, each step
//! is one instruction instead of two, which made the baby GPT's GELU 0.79 (forward) and 0.76
//! (backward) of its time and its training step 0.945 (7 of 8 alternating rounds, AVX2 build).
//! Compiled without FMA, `mul_add` is the C library's `fmaf`, exactly rounded as the
//! instruction is, so the results are the same everywhere; only slower there.

/// `1/k!` for `k` from 8 down to 0: the Taylor coefficients of `e^x`, the highest power's first.
const INV_FACTORIALS: [f32; 9] = [
    1.0 / 40320.0,
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// Past this, `e^x` overflows `f32`.
const EXP_HI: f32 = 88.722_83;

/// `x = n·ln 2 + r`: the integer `n` nearest to `x / ln 2`, and `r`, with `|r| ≤ ln 2 / 2` (the
/// constant split in two so that `n·ln 2` is exact), for `x` clamped to where `e^x` is finite.
#[inline(always)]
fn ln2_multiple(x: f32) -> (i32, f32) {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Rounded to the nearest integer by adding and removing 1.5·2²³, which needs no rounding
    // instruction (the baseline x86-64 has none); the sum holds the integer in its low bits too,
    // read from there rather than by a cast (Rust's saturating float-to-integer conversion
    // kept the loops around this function from vectorising).
    let shifted = x.mul_add(LOG2E, 12_582_912.0);
    let n = shifted - 12_582_912.0;
    let ni = shifted.to_bits() as i32 - 0x4B40_0000;
    (ni, (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x)))
}

/// `e^x` in `f32`: `x = n·ln 2 + r` (`ln2_multiple`), `e^r` by a degree-7 polynomial, and
/// `2^n` put into the exponent bits. Results below the smallest normal number flush to 0.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // Below this, e^x is below the normal range.
    const LO: f32 = -87.336_55;
    let (n, r) = ln2_multiple(x.clamp(LO, EXP_HI));
    // e^r = 1 + r + r²/2 + ... to r⁷/5040 (Taylor; the first term left out is below 1e-8 on
    // |r| ≤ 0.35).
    let p = horner(r, std::array::from_fn::<_, 8, _>(|k| INV_FACTORIALS[k + 1]));
    // 2^n in two halves, each inside the normal range for every n of [-126, 128].
    let half = n >> 1;
    let y = p
        * f32::from_bits(((half + 127) as u32) << 23)
        * f32::from_bits(((n - half + 127) as u32) << 23);
    if x > EXP_HI {
        f32::INFINITY
    } else if x < LO {
        0.0
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

/// The error function in `f32`: a rational function of `x` (the approximation of Eigen and
/// XLA), and ±1 where `|x| ≥ 3.85`, past which `erf` is within three units of ±1.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let c = x.clamp(-4.0, 4.0);
    let x2 = c * c;
    let p = c * horner(
        x2,
        [
            -2.726_142_3e-10,
            2.770_681_4e-8,
            -2.101_024e-6,
            -5.692_506_4e-5,
            -7.349_906e-4,
            -2.954_600_2e-3,
            -1.609_603_3e-2,
        ],
    );
    let q = horner(
        x2,
        [
            -1.456_607_2e-5,
            -2.133_740_5e-4,
            -1.682_827e-3,
            -7.373_329e-3,
            -1.426_473_9e-2,
        ],
    );
    if x.is_nan() {
        x
    } else if c.abs() >= 3.85 {
        c.signum()
    } else {
        p / q
    }
}

/// `tanh x` in `f32`: an odd polynomial `x + x³·P(x²)` (fitted for the relative error on
/// `|x| < 0.625`, where the form below would lose digits to cancellation), and `1 − 2/(e^{2|x|}
/// + 1)` with the sign of `x` beyond, which is exactly ±1 past `|x| ≈ 9`.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let e = exp_f32(2.0 * a.min(10.0));
    let far = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    let x2 = x * x;
    let p = horner(
        x2,
        [
            -5.705_003e-3,
            2.063_910_3e-2,
            -5.373_972e-2,
            1.333_144_2e-1,
            -3.333_328e-1,
        ],
    );
    // `copysign` keeps the sign of -0, which the sum would lose.
    let near = (x * x2).mul_add(p, x).copysign(x);
    if x.is_nan() {
        x
    } else if a < 0.625 {
        near
    } else {
        far
    }
}

/// `ln x` in `f32`: `x = 2^e · m` with `m` in `[√½, √2)` (read from the bits; subnormal `x`
/// scaled by 2²³ first), and `ln m = f − f²/2 + f³·P(f)` for `f = m − 1`, the polynomial and
/// the split of `ln 2` of Cephes' `logf`.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    const SQRT_HALF_BITS: i32 = 0x3F35_04F3;
    let subnormal = x < f32::MIN_POSITIVE;
    let scaled = if subnormal { x * 8_388_608.0 } else { x };
    let bits = scaled.to_bits() as i32;
    // The exponent that brings the number into [√½, √2), by an arithmetic shift (a floor);
    // wrapping, since for the arguments whose result is chosen below (negative numbers,
    // infinities, NaN) the bits are anything.
    let k = bits.wrapping_sub(SQRT_HALF_BITS) >> 23;
    let m = f32::from_bits(bits.wrapping_sub(k << 23) as u32);
    let e = k as f32 - if subnormal { 23.0 } else { 0.0 };
    let f = m - 1.0;
    let z = f * f;
    let p = horner(
        f,
        [
            7.037_683_6e-2,
            -1.151_461e-1,
            1.167_699_9e-1,
            -1.242_014_1e-1,
            1.424_932_3e-1,
            -1.666_805_8e-1,
            2.000_071_4e-1,
            -2.499_999_4e-1,
            3.333_333e-1,
        ],
    );
    let y = e.mul_add(-2.121_944_4e-4, f * z * p);
    let y = z.mul_add(-0.5, y);
    // 0.693_359_4 rounds to 355/512, the high part of ln 2 (exact in a few bits).
    let r = e.mul_add(0.693_359_4, f + y);
    if x.is_nan() || x < 0.0 {
        f32::NAN
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        r
    }
}

/// `ln(1 + x)` in `f32`, accurate for small `x`: `ln(u) · x/(u − 1)` with `u = 1 + x` rounded,
/// which cancels the rounding of `u` (Goldberg's form); `x` itself where `u` rounds to 1.
#[inline(always)]
pub fn ln_1p_f32(x: f32) -> f32 {
    let u = 1.0 + x;
    let d = u - 1.0;
    let r = ln_f32(u) * (x / d);
    if d == 0.0 || x == f32::INFINITY {
        x
    } else {
        r
    }
}

/// `e^x − 1` in `f32`, accurate for small `x`: `x = n·ln 2 + r` (`ln2_multiple`), `e^r − 1`
/// by its Taylor polynomial, and `2^n·(e^r − 1) + 2^n − 1` as `2 · (h·(e^r − 1) + h − ½)` with
/// `h = 2^(n−1)`, one rounding and a normal `h` for every `n` of `[-26, 128]`.
#[inline(always)]
pub fn exp_m1_f32(x: f32) -> f32 {
    // Below this, e^x − 1 rounds to −1.
    const LO: f32 = -18.0;
    let (n, r) = ln2_multiple(x.clamp(LO, EXP_HI));
    // e^r − 1 = r + r²·(1/2 + r/6 + ... + r⁶/40320); the first term left out is below 1e-9
    // of the result on |r| ≤ 0.35.
    let q = horner(r, std::array::from_fn::<_, 7, _>(|k| INV_FACTORIALS[k]));
    let p = (r * r).mul_add(q, r);
    let h = f32::from_bits(((n - 1 + 127) as u32) << 23);
    let y = 2.0 * h.mul_add(p, h - 0.5);
    if x > EXP_HI {
        f32::INFINITY
    } else if x.is_nan() || x == 0.0 {
        x
    } else {
        y
    }
}

/// The polynomial with coefficients `c` (the highest power's first) at `x`, by Horner's rule:
/// one fused multiply-add per coefficient after the first.
#[inline(always)]
fn horner<const N: usize>(x: f32, c: [f32; N]) -> f32 {
    c[1..].iter().fold(c[0], |p, &k| p.mul_add(x, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distance in units in the last place between any two `f32`s: 0 for two NaNs or for
    /// two equal numbers (the zeros' signs are checked apart), `u32::MAX` for a NaN and a number.
    fn ulps(a: f32, b: f32) -> u32 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        if a.is_nan() || b.is_nan() {
            return u32::MAX;
        }
        // The bits read as one ordered scale, negative numbers below the positive ones.
        let key = |v: f32| {
            let i = v.to_bits() as i32;
            if i < 0 {
                (i32::MIN - i) as i64
            } else {
                i as i64
            }
        };
        (key(a) - key(b)).unsigned_abs().min(u32::MAX as u64) as u32
    }

    #[test]
    fn exp_is_within_two_ulps_of_the_c_library() {
        let mut worst = (0, 0.0);
        let mut x = -87.0f32;
        while x < 88.7 {
            let (got, want) = (exp_f32(x), x.exp());
            let u = ulps(got, want);
            if u > worst.0 {
                worst = (u, x);
            }
            x += 0.000_37;
        }
        assert!(worst.0 <= 2, "{} ulps at {}", worst.0, worst.1);
    }

    #[test]
    fn exp_keeps_the_special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn erf_is_within_eight_ulps_of_the_c_library() {
        let mut worst = (0, 0.0);
        let mut x = -5.0f32;
        while x < 5.0 {
            let (got, want) = (erf_f32(x), libm::erff(x));
            // Near 0 erf is tiny and ulps are small: compare there with an absolute bound.
            let u = if want.abs() < 1e-3 {
                u32::from((got - want).abs() > 2e-10)
            } else {
                ulps(got, want)
            };
            assert!((got - want).abs() <= 4e-7, "{got} vs {want} at {x}");
            if u > worst.0 {
                worst = (u, x);
            }
            x += 0.000_13;
        }
        assert!(worst.0 <= 8, "{} ulps at {}", worst.0, worst.1);
    }

    #[test]
    fn erf_keeps_the_special_values() {
        assert_eq!(erf_f32(0.0), 0.0);
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
        assert!(erf_f32(f32::NAN).is_nan());
    }

    /// The largest distance of `fast` from the correctly rounded `exact` (the `f64` function,
    /// rounded once) over every `step`-th bit pattern of `f32` (so over every magnitude and both
    /// signs, subnormals, infinities and NaNs included) and over `extra`, with the argument it
    /// happens at; and that zeros come out with the sign `exact` gives them.
    fn worst(
        fast: fn(f32) -> f32,
        exact: fn(f64) -> f64,
        step: usize,
        extra: impl Iterator<Item = f32>,
    ) -> (u32, f32) {
        let mut worst = (0, 0.0);
        let patterns = (0..=u32::MAX).step_by(step).map(f32::from_bits);
        for x in patterns.chain(extra) {
            let (got, want) = (fast(x), exact(x as f64) as f32);
            let u = ulps(got, want);
            if u > worst.0 {
                worst = (u, x);
            }
            if want == 0.0 {
                assert_eq!(
                    got.is_sign_negative(),
                    want.is_sign_negative(),
                    "{got} at {x}"
                );
            }
        }
        worst
    }

    /// `n` evenly spaced points from `a` to `b`.
    fn grid(a: f32, b: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..n).map(move |i| a + (b - a) * i as f32 / (n - 1) as f32)
    }

    #[test]
    fn tanh_is_within_one_ulp_of_the_rounded_value() {
        // Dense where the two forms meet (0.625), near 0 and where the result reaches ±1.
        let extra = grid(-1.0, 1.0, 200_001).chain(grid(7.0, 10.0, 30_001));
        let (u, x) = worst(tanh_f32, f64::tanh, 4099, extra);
        assert!(u <= 1, "{u} ulps at {x}");
    }

    #[test]
    fn tanh_keeps_the_special_values() {
        assert_eq!(tanh_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(20.0), 1.0);
        assert_eq!(tanh_f32(-1e30), -1.0);
        assert_eq!(tanh_f32(1e-40), 1e-40);
        assert!(tanh_f32(f32::NAN).is_nan());
    }

    #[test]
    fn ln_is_within_one_ulp_of_the_rounded_value() {
        let extra = grid(0.5, 2.0, 200_001).chain(grid(0.999, 1.001, 20_001));
        let (u, x) = worst(ln_f32, f64::ln, 4099, extra);
        assert!(u <= 1, "{u} ulps at {x}");
    }

    #[test]
    fn ln_keeps_the_special_values() {
        assert_eq!(ln_f32(1.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(-0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
        assert!(ln_f32(-1.0).is_nan());
        assert!(ln_f32(f32::NEG_INFINITY).is_nan());
        assert!(ln_f32(f32::NAN).is_nan());
        // The smallest subnormal, 2^-149.
        let tiny = f32::from_bits(1);
        assert_eq!(ln_f32(tiny), (-149.0 * std::f64::consts::LN_2) as f32);
    }

    #[test]
    fn ln_1p_is_within_two_ulps_of_the_rounded_value() {
        let extra = grid(-0.999, 1.0, 200_001).chain(grid(-1e-6, 1e-6, 20_001));
        let (u, x) = worst(ln_1p_f32, f64::ln_1p, 4099, extra);
        assert!(u <= 2, "{u} ulps at {x}");
    }

    #[test]
    fn ln_1p_keeps_the_special_values() {
        assert_eq!(ln_1p_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(ln_1p_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(ln_1p_f32(-1.0), f32::NEG_INFINITY);
        assert_eq!(ln_1p_f32(f32::INFINITY), f32::INFINITY);
        assert!(ln_1p_f32(-2.0).is_nan());
        assert!(ln_1p_f32(f32::NAN).is_nan());
        assert_eq!(ln_1p_f32(1e-30), 1e-30);
    }

    #[test]
    fn exp_m1_is_within_one_ulp_of_the_rounded_value() {
        let extra = grid(-1.0, 1.0, 200_001)
            .chain(grid(-19.0, -17.0, 2_001))
            .chain(grid(88.0, 88.8, 2_001));
        let (u, x) = worst(exp_m1_f32, f64::exp_m1, 4099, extra);
        assert!(u <= 1, "{u} ulps at {x}");
    }

    #[test]
    fn exp_m1_keeps_the_special_values() {
        assert_eq!(exp_m1_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(exp_m1_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(exp_m1_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(exp_m1_f32(-30.0), -1.0);
        assert_eq!(exp_m1_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_m1_f32(100.0), f32::INFINITY);
        assert!(exp_m1_f32(f32::NAN).is_nan());
        assert_eq!(exp_m1_f32(1e-30), 1e-30);
    }
}
