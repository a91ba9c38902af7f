//! The operations and their derivative rules: the one place where calculus is written down.
//!
//! Every operation appears here exactly once, with its forward rule (`apply`) beside its local
//! derivative (`backward`). The backward rule receives the operation's inputs, its output and the
//! incoming adjoint `g = d out / d node`, and returns `g` times the local derivative for each
//! input: one factor of the chain rule.
//!
//! The rules are generic over [`Real`], the algebra of values they compute with. The engine
//! instantiates them with `f64`; anything else that can add, multiply and take an exponential can
//! reuse them unchanged, which is how the explanation, the drawing and the gradient all come from
//! the same rule.
//!
//! Conventions at kinks follow PyTorch:
//! - `relu'(0) = 0` (the gradient flows only where the input is strictly positive);
//! - `abs'(0) = 0` (the derivative is `sign(x)`);
//! - `max(a, b)` and `min(a, b)` at a tie `a == b` send half of the gradient to each input;
//! - `pow(a, b)` sends zero gradient to the base where `b == 0`, and zero gradient to the
//!   exponent where `a == 0` and `b >= 0`;
//! - `powi(x, 0)` and `powf(x, 0)` have derivative 0 everywhere;
//! - `step` and `sign` (which symbolic derivatives use to write the rules above as formulas:
//!   `relu'(x) = step(x)`, `abs'(x) = sign(x)`, `∂max(a, b)/∂a = 0.5 + 0.5·sign(a - b)`) have
//!   derivative 0 everywhere.
//!
//! The branch of a piecewise rule is stated through [`Real::piecewise`] rather than by comparing
//! numbers inside the rule, so that an algebra without numbers (the symbolic one) can keep it.

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};
use std::ops::{Add, Div, Mul, Neg, Sub};

pub use crate::util::format::{fmt_exact, fmt_num};

/// `1/√(2π)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// The algebra the derivative rules compute in.
///
/// `f64` and `f32` implement it; the rules in this module are written once against it.
pub trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The plain number, for decisions such as "is the input positive?".
    fn value(self) -> f64;
    /// A zero of the same kind as `self` (an exact zero, not `self * 0`).
    fn zero(self) -> Self;
    /// `self + c` for a constant `c`.
    fn add_c(self, c: f64) -> Self;
    /// `self * c` for a constant `c`.
    fn mul_c(self, c: f64) -> Self;
    /// `e^self`.
    fn exp(self) -> Self;
    /// The natural logarithm.
    fn ln(self) -> Self;
    /// The square root.
    fn sqrt(self) -> Self;
    /// The sine.
    fn sin(self) -> Self;
    /// The cosine.
    fn cos(self) -> Self;
    /// The tangent.
    fn tan(self) -> Self;
    /// The hyperbolic tangent.
    fn tanh(self) -> Self;
    /// The error function `erf x = 2/√π ∫₀ˣ e^(-t²) dt`.
    fn erf(self) -> Self;
    /// The absolute value.
    fn abs(self) -> Self;
    /// `self` raised to an integer power.
    fn powi(self, n: i32) -> Self;
    /// `self` raised to a constant real power.
    fn powf_c(self, p: f64) -> Self;
    /// `self` raised to the power `p`.
    fn pow(self, p: Self) -> Self;
    /// `g` times a factor that is constant on each side of a kink: `above` where
    /// `self > other`, `tie` where `self == other`, `below` otherwise (also when either is NaN).
    ///
    /// This is how the rules of piecewise operations (`relu`, `abs`, `max`, `min`, `step`,
    /// `sign`) state their branch, so that an algebra can keep the branch as a formula: numbers
    /// pick the factor (a factor 0 is a strong zero, `0` even when `g` is NaN, as PyTorch's
    /// `threshold_backward`); the symbolic algebra of [`crate::expr::symbolic`] writes it with
    /// `step` and `sign`.
    fn piecewise(self, other: Self, below: f64, tie: f64, above: f64, g: Self) -> Self;

    /// `then` where `self == c` and `otherwise` elsewhere (also where `self` is NaN): how a rule
    /// states a special case at some input values, such as `0^b`. The branch not taken contributes
    /// nothing, not even a NaN. Numbers decide by [`Real::value`]; tensors decide element by
    /// element; the symbolic algebra, whose value is unknown, keeps the general branch.
    ///
    /// The branches are closures, so that numbers compute only the one they take.
    #[inline(always)]
    fn select_eq(
        self,
        c: f64,
        then: impl FnOnce() -> Self,
        otherwise: impl FnOnce() -> Self,
    ) -> Self {
        if self.value() == c {
            then()
        } else {
            otherwise()
        }
    }

    /// `then` where `self ≥ c` and `otherwise` elsewhere (also where `self` is NaN), as
    /// [`Real::select_eq`].
    #[inline(always)]
    fn select_ge(
        self,
        c: f64,
        then: impl FnOnce() -> Self,
        otherwise: impl FnOnce() -> Self,
    ) -> Self {
        if self.value() >= c {
            then()
        } else {
            otherwise()
        }
    }
}

macro_rules! real_for_float {
    (@erf f64, $x:expr) => {
        libm::erf($x)
    };
    (@erf f32, $x:expr) => {
        libm::erff($x)
    };
    ($t:tt) => {
        impl Real for $t {
            #[inline(always)]
            fn value(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn zero(self) -> Self {
                0.0
            }
            #[inline(always)]
            fn add_c(self, c: f64) -> Self {
                self + c as $t
            }
            #[inline(always)]
            fn mul_c(self, c: f64) -> Self {
                self * c as $t
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            #[inline(always)]
            fn tan(self) -> Self {
                <$t>::tan(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                real_for_float!(@erf $t, self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                <$t>::powi(self, n)
            }
            #[inline(always)]
            fn powf_c(self, p: f64) -> Self {
                <$t>::powf(self, p as $t)
            }
            #[inline(always)]
            fn pow(self, p: Self) -> Self {
                <$t>::powf(self, p)
            }
            #[inline(always)]
            fn piecewise(self, other: Self, below: f64, tie: f64, above: f64, g: Self) -> Self {
                let c = if self > other {
                    above
                } else if self == other {
                    tie
                } else {
                    below
                };
                if c == 0.0 {
                    0.0
                } else if c == 1.0 {
                    g
                } else {
                    g * c as $t
                }
            }
        }
    };
}
real_for_float!(f64);
real_for_float!(f32);

/// The functions of [`Real`] from `exp` to `powf_c`, for an algebra that records an operation
/// with a method `unary(self, op: Unary) -> Self` (the symbolic algebra, tensors).
macro_rules! real_by_unary {
    () => {
        fn exp(self) -> Self {
            self.unary($crate::ops::Unary::Exp)
        }
        fn ln(self) -> Self {
            self.unary($crate::ops::Unary::Ln)
        }
        fn sqrt(self) -> Self {
            self.unary($crate::ops::Unary::Sqrt)
        }
        fn sin(self) -> Self {
            self.unary($crate::ops::Unary::Sin)
        }
        fn cos(self) -> Self {
            self.unary($crate::ops::Unary::Cos)
        }
        fn tan(self) -> Self {
            self.unary($crate::ops::Unary::Tan)
        }
        fn tanh(self) -> Self {
            self.unary($crate::ops::Unary::Tanh)
        }
        fn erf(self) -> Self {
            self.unary($crate::ops::Unary::Erf)
        }
        fn abs(self) -> Self {
            self.unary($crate::ops::Unary::Abs)
        }
        fn powi(self, n: i32) -> Self {
            self.unary($crate::ops::Unary::Powi(n))
        }
        fn powf_c(self, p: f64) -> Self {
            self.unary($crate::ops::Unary::Powf(p))
        }
    };
}
pub(crate) use real_by_unary;

/// The logistic function `1 / (1 + e^-x)`, computed without overflow for any `x`.
#[inline(always)]
fn sigmoid_stable<T: Real>(x: T) -> T {
    if x.value() >= 0.0 {
        let e = (-x).exp();
        e.zero().add_c(1.0) / e.add_c(1.0)
    } else {
        let e = x.exp();
        e / e.add_c(1.0)
    }
}

/// An operation of one input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    /// `-x`
    Neg,
    /// `e^x`
    Exp,
    /// The natural logarithm `ln x`.
    Ln,
    /// `√x`
    Sqrt,
    /// `sin x`
    Sin,
    /// `cos x`
    Cos,
    /// `tan x`
    Tan,
    /// `tanh x`
    Tanh,
    /// The logistic function `1 / (1 + e^-x)`.
    Sigmoid,
    /// `max(x, 0)`
    Relu,
    /// The Gaussian error linear unit `x · Φ(x) = x/2 · (1 + erf(x/√2))`, exact (PyTorch's
    /// default, not the tanh approximation).
    Gelu,
    /// The error function `erf x`.
    Erf,
    /// `|x|`
    Abs,
    /// `x + c` for a constant `c`.
    AddConst(f64),
    /// `c · x` for a constant `c`.
    MulConst(f64),
    /// `x^n` for a constant integer `n`.
    Powi(i32),
    /// `x^p` for a constant real `p`.
    Powf(f64),
    /// The unit step: 1 where `x > 0`, else 0 (so `step(0) = 0`, matching `relu'(0) = 0`).
    /// Its derivative is taken as 0 everywhere. It appears in symbolic derivatives of `relu`,
    /// `max` and `min`.
    Step,
    /// The sign: 1 where `x > 0`, -1 where `x < 0`, 0 at 0 (matching `abs'(0) = 0`). Its
    /// derivative is taken as 0 everywhere. It appears in symbolic derivatives of `abs`, `max`
    /// and `min`.
    Sign,
}

impl Unary {
    /// The forward rule: the operation's value at `x`.
    #[inline(always)]
    pub fn apply<T: Real>(self, x: T) -> T {
        match self {
            Unary::Neg => -x,
            Unary::Exp => x.exp(),
            Unary::Ln => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
            Unary::Tan => x.tan(),
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => sigmoid_stable(x),
            Unary::Relu => {
                if x.value() > 0.0 {
                    x
                } else {
                    x.zero()
                }
            }
            Unary::Gelu => x * (x.mul_c(FRAC_1_SQRT_2).erf().add_c(1.0)).mul_c(0.5),
            Unary::Erf => x.erf(),
            Unary::Abs => x.abs(),
            Unary::AddConst(c) => x.add_c(c),
            Unary::MulConst(c) => x.mul_c(c),
            Unary::Powi(n) => x.powi(n),
            Unary::Powf(p) => x.powf_c(p),
            Unary::Step => x.piecewise(x.zero(), 0.0, 0.0, 1.0, x.zero().add_c(1.0)),
            Unary::Sign => x.piecewise(x.zero(), -1.0, 0.0, 1.0, x.zero().add_c(1.0)),
        }
    }

    /// The backward rule: `g · dy/dx`, given the input `x`, the output `y = apply(x)` and the
    /// adjoint `g` of the output.
    #[inline(always)]
    pub fn backward<T: Real>(self, x: T, y: T, g: T) -> T {
        match self {
            Unary::Neg => -g,
            Unary::Exp => g * y,
            Unary::Ln => g / x,
            Unary::Sqrt => g.mul_c(0.5) / y,
            Unary::Sin => g * x.cos(),
            Unary::Cos => -(g * x.sin()),
            Unary::Tan => g * (y * y).add_c(1.0),
            Unary::Tanh => g * (-(y * y)).add_c(1.0),
            Unary::Sigmoid => g * y * (-y).add_c(1.0),
            Unary::Relu => x.piecewise(x.zero(), 0.0, 0.0, 1.0, g),
            Unary::Abs => x.piecewise(x.zero(), -1.0, 0.0, 1.0, g),
            Unary::Step | Unary::Sign => g.zero(),
            Unary::Gelu => {
                // Φ(x) + x·φ(x), with φ the standard normal density.
                let cdf = x.mul_c(FRAC_1_SQRT_2).erf().add_c(1.0).mul_c(0.5);
                let pdf = (-(x * x).mul_c(0.5)).exp().mul_c(FRAC_1_SQRT_2PI);
                g * (cdf + x * pdf)
            }
            Unary::Erf => g * (-(x * x)).exp().mul_c(FRAC_2_SQRT_PI),
            Unary::AddConst(_) => g,
            Unary::MulConst(c) => g.mul_c(c),
            Unary::Powi(0) => g.zero(),
            Unary::Powi(n) => g * x.powi(n - 1).mul_c(n as f64),
            Unary::Powf(0.0) => g.zero(),
            Unary::Powf(p) => g * x.powf_c(p - 1.0).mul_c(p),
        }
    }

    /// The function's name as the expression language spells it (`exp`, `relu`, ...), or `None`
    /// for operators written with symbols.
    pub fn function_name(self) -> Option<&'static str> {
        Some(match self {
            Unary::Exp => "exp",
            Unary::Ln => "ln",
            Unary::Sqrt => "sqrt",
            Unary::Sin => "sin",
            Unary::Cos => "cos",
            Unary::Tan => "tan",
            Unary::Tanh => "tanh",
            Unary::Sigmoid => "sigmoid",
            Unary::Relu => "relu",
            Unary::Abs => "abs",
            Unary::Gelu => "gelu",
            Unary::Erf => "erf",
            Unary::Step => "step",
            Unary::Sign => "sign",
            _ => return None,
        })
    }

    /// Writes the operation applied to an input called `x`, as the expression language would.
    pub fn describe(self, x: &str) -> String {
        match self {
            Unary::Neg => format!("-{x}"),
            Unary::AddConst(c) if c < 0.0 => format!("{x} - {}", fmt_num(-c)),
            Unary::AddConst(c) => format!("{x} + {}", fmt_num(c)),
            Unary::MulConst(c) => format!("{} * {x}", fmt_num_paren(c)),
            Unary::Powi(n) if n < 0 => format!("{x}^({n})"),
            Unary::Powi(n) => format!("{x}^{n}"),
            Unary::Powf(p) => format!("{x}^{}", fmt_num_paren(p)),
            f => format!("{}({x})", f.function_name().unwrap_or("?")),
        }
    }
}

/// An operation of two inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binary {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a · b`
    Mul,
    /// `a / b`
    Div,
    /// `a^b`, differentiable in both the base and the exponent.
    Pow,
    /// The larger of `a` and `b`.
    Max,
    /// The smaller of `a` and `b`.
    Min,
}

impl Binary {
    /// The forward rule: the operation's value at `(a, b)`.
    #[inline(always)]
    pub fn apply<T: Real>(self, a: T, b: T) -> T {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            Binary::Pow => a.pow(b),
            Binary::Max => {
                if a.value() >= b.value() {
                    a
                } else {
                    b
                }
            }
            Binary::Min => {
                if a.value() <= b.value() {
                    a
                } else {
                    b
                }
            }
        }
    }

    /// The backward rule: `(g · ∂y/∂a, g · ∂y/∂b)`, given the inputs, the output
    /// `y = apply(a, b)` and the adjoint `g` of the output.
    #[inline(always)]
    pub fn backward<T: Real>(self, a: T, b: T, y: T, g: T) -> (T, T) {
        match self {
            Binary::Add => (g, g),
            Binary::Sub => (g, -g),
            Binary::Mul => (g * b, g * a),
            Binary::Div => (g / b, -(g * y) / b),
            Binary::Pow => {
                // b·a^(b-1), except 0 where b = 0 (a^0 is constant, even at a = 0).
                let da = b.select_eq(0.0, || g.zero(), || g * b * a.pow(b.add_c(-1.0)));
                // y·ln a, except 0 where a = 0 and b ≥ 0 (0^b is flat there, PyTorch's choice).
                let general = || g * y * a.ln();
                let at_zero = || b.select_ge(0.0, || g.zero(), general);
                (da, a.select_eq(0.0, at_zero, general))
            }
            // The input that wins takes the gradient, a tie halves it; when a comparison fails
            // (NaN), `b` takes it, as the forward rule returns `b` then.
            Binary::Max => (
                a.piecewise(b, 0.0, 0.5, 1.0, g),
                a.piecewise(b, 1.0, 0.5, 0.0, g),
            ),
            Binary::Min => (
                b.piecewise(a, 0.0, 0.5, 1.0, g),
                b.piecewise(a, 1.0, 0.5, 0.0, g),
            ),
        }
    }

    /// The operator symbol (`+`, `^`, ...) or function name (`max`, `min`).
    pub fn symbol(self) -> &'static str {
        match self {
            Binary::Add => "+",
            Binary::Sub => "-",
            Binary::Mul => "*",
            Binary::Div => "/",
            Binary::Pow => "^",
            Binary::Max => "max",
            Binary::Min => "min",
        }
    }

    /// Writes the operation applied to inputs called `a` and `b`, as the expression language would.
    pub fn describe(self, a: &str, b: &str) -> String {
        match self {
            Binary::Max | Binary::Min => format!("{}({a}, {b})", self.symbol()),
            Binary::Pow => format!("{a}^{b}"),
            op => format!("{a} {} {b}", op.symbol()),
        }
    }
}

/// Like [`fmt_num`], with parentheses around negative numbers.
fn fmt_num_paren(v: f64) -> String {
    let s = fmt_num(v);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s
    }
}
