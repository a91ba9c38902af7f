//! `exp` and `erf` for `f32` written as straight-line arithmetic, so that the compiler turns the
//! loops that call them (softmax, GELU and their gradients) into vector code; the C library's
//! functions are calls the compiler cannot look into, one element at a time.
//!
//! `exp` stays within 2 units in the last place of the C library's, `erf` within 8 (4·10⁻⁷
//! absolute at most, near ±1); the tests below measure both over the whole useful range. Both
//! keep the
//! special values (`exp(-inf) = 0`, `exp(inf) = inf`, NaN in, NaN out; `erf(±inf) = ±1`), and
//! are used for `f32` only: `f64` keeps the C library's, so results checked to 1e-12 in double
//! precision are unchanged.
//!
//! The polynomials are evaluated with fused multiply-adds (`mul_add`): inside the loops that
//! [`vectorized`](crate::tensor::kernels::isa::vectorized) compiles for AVX2 with FMA, each step
//! is one instruction instead of two, which made the baby GPT's GELU 0.79 (forward) and 0.76
//! (backward) of its time and its training step 0.945 (7 of 8 alternating rounds, AVX2 build).
//! Compiled without FMA, `mul_add` is the C library's `fmaf`, exactly rounded as the
//! instruction is, so the results are the same everywhere; only slower there.

/// `e^x` in `f32`: `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2` (the constant split in two so that
/// `n·ln 2` is exact), `e^r` by a degree-6 polynomial, and `2^n` put into the exponent bits.
/// Results below the smallest normal number flush to 0.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Past these, e^x is inf or below the normal range.
    const HI: f32 = 88.722_83;
    const LO: f32 = -87.336_55;
    let c = x.clamp(LO, HI);
    // Rounded to the nearest integer by adding and removing 1.5·2²³, which needs no rounding
    // instruction (the baseline x86-64 has none); the sum holds the integer in its low bits too,
    // read from there rather than by a cast (Rust's saturating float-to-integer conversion
    // kept the loops around this function from vectorising).
    let shifted = c.mul_add(LOG2E, 12_582_912.0);
    let n = shifted - 12_582_912.0;
    let ni = shifted.to_bits() as i32 - 0x4B40_0000;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, c));
    // e^r = 1 + r + r²/2 + ... to r⁷/5040 (Taylor; the first term left out is below 1e-8 on
    // |r| ≤ 0.35).
    let p = horner(
        r,
        [
            1.0 / 5040.0,
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ],
    );
    // 2^n in two halves, each inside the normal range for every n of [-126, 128].
    let n = ni;
    let half = n >> 1;
    let y = p
        * f32::from_bits(((half + 127) as u32) << 23)
        * f32::from_bits(((n - half + 127) as u32) << 23);
    if x > HI {
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

/// The polynomial with coefficients `c` (the highest power's first) at `x`, by Horner's rule:
/// one fused multiply-add per coefficient after the first.
#[inline(always)]
fn horner<const N: usize>(x: f32, c: [f32; N]) -> f32 {
    c[1..].iter().fold(c[0], |p, &k| p.mul_add(x, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distance in units in the last place between two finite `f32`s of one sign.
    fn ulps(a: f32, b: f32) -> u32 {
        if a == b {
            return 0;
        }
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
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
}
