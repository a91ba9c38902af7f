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
//! - `leaky_relu'(0) = negative_slope` and `elu'(0) = alpha` (the left side's slope);
//! - `abs'(0) = 0` (the derivative is `sign(x)`);
//! - `softplus'(x) = 1` exactly where `x > 20`, where softplus is `x` itself;
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

/// Above this input softplus is `x` itself, as PyTorch's default `threshold = 20`.
const SOFTPLUS_THRESHOLD: f64 = 20.0;

/// `√(2/π)`, the scale inside the tanh approximation of GELU, computed as PyTorch computes it
/// (`M_SQRT2 · M_2_SQRTPI · 0.5`), so that the approximation rounds as PyTorch's.
const GELU_BETA: f64 = std::f64::consts::SQRT_2 * FRAC_2_SQRT_PI * 0.5;

/// The cubic coefficient of the tanh approximation of GELU.
const GELU_KAPPA: f64 = 0.044715;

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

    /// `op` applied to `self`. Numbers compute its forward rule; an algebra that records
    /// operations (the tensor and symbolic ones, the scalar graph) records it as one operation,
    /// which is how a rule can use another operation whole (softplus's derivative is
    /// `sigmoid(x)`).
    #[inline(always)]
    fn unary(self, op: Unary) -> Self {
        op.apply(self)
    }

    /// `ln(1 + self)`, accurate for small `self` where the algebra has such a function.
    #[inline(always)]
    fn ln_1p(self) -> Self {
        self.add_c(1.0).ln()
    }

    /// `e^self - 1`, accurate for small `self` where the algebra has such a function.
    #[inline(always)]
    fn exp_m1(self) -> Self {
        self.exp().add_c(-1.0)
    }

    /// `self / c` for a constant `c`. Numbers divide (one rounding, as PyTorch's `x / c`); the
    /// default multiplies by `1/c`, which can differ in the last bit.
    #[inline(always)]
    fn div_c(self, c: f64) -> Self {
        self.mul_c(1.0 / c)
    }
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
    /// The branches are closures, so that an algebra computes only the one it takes: `f64`, the
    /// graph's nodes and the formulas do. `f32` computes both and chooses, so that a loop over
    /// a tensor's elements has no branch and vectorises (see `real_for_float!`).
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

    /// `then` where `self > c` and `otherwise` elsewhere (also where `self` is NaN), as
    /// [`Real::select_eq`]: for a region where a rule switches to a form that agrees with the
    /// general one up to rounding (softplus is `x` itself above its threshold), so that the
    /// symbolic algebra may keep the general branch.
    #[inline(always)]
    fn select_gt(
        self,
        c: f64,
        then: impl FnOnce() -> Self,
        otherwise: impl FnOnce() -> Self,
    ) -> Self {
        if self.value() > c {
            then()
        } else {
            otherwise()
        }
    }
}

/// `f64` computes with the C library; `f32` with the straight-line `exp`, `erf`, `tanh`, `ln`,
/// `ln_1p` and `exp_m1` of [`crate::util::fastmath`], which vectorise (softmax, GELU and the
/// activations are most of a network's element-wise work).
macro_rules! real_for_float {
    (@f64 $f:ident, $libm:path, $x:expr) => {
        $libm($x)
    };
    (@f32 $f:ident, $libm:path, $x:expr) => {
        $crate::util::fastmath::$f($x)
    };
    // `f64` computes only the branch it takes (its functions are calls into the C library).
    (@select f64) => {};
    // `f32` computes both branches and then chooses: straight-line code, which a loop over
    // elements vectorises where the branches are arithmetic (ELU's forward pass, a branch
    // around `exp_m1`, took 9 times as long as `exp` while it branched).
    (@select f32) => {
        real_for_float!(@choose select_eq, ==);
        real_for_float!(@choose select_ge, >=);
        real_for_float!(@choose select_gt, >);
    };
    (@choose $name:ident, $cmp:tt) => {
        #[inline(always)]
        fn $name(
            self,
            c: f64,
            then: impl FnOnce() -> Self,
            otherwise: impl FnOnce() -> Self,
        ) -> Self {
            let (a, b) = (then(), otherwise());
            if self.value() $cmp c {
                a
            } else {
                b
            }
        }
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
                real_for_float!(@$t exp_f32, f64::exp, self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                real_for_float!(@$t ln_f32, f64::ln, self)
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
                real_for_float!(@$t tanh_f32, f64::tanh, self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                real_for_float!(@$t erf_f32, libm::erf, self)
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
            fn ln_1p(self) -> Self {
                real_for_float!(@$t ln_1p_f32, f64::ln_1p, self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                real_for_float!(@$t exp_m1_f32, f64::exp_m1, self)
            }
            #[inline(always)]
            fn div_c(self, c: f64) -> Self {
                self / c as $t
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
            real_for_float!(@select $t);
        }
    };
}
real_for_float!(f64);
real_for_float!(f32);

/// The functions of [`Real`] that are operations of [`Unary`] (`exp` to `powf_c`, `ln_1p`,
/// `exp_m1`, `div_c`), for an algebra that records an operation with a method
/// `unary(self, op: Unary) -> Self` (the symbolic algebra, tensors).
macro_rules! real_by_unary {
    () => {
        fn ln_1p(self) -> Self {
            self.unary($crate::ops::Unary::Log1p)
        }
        fn exp_m1(self) -> Self {
            self.unary($crate::ops::Unary::Expm1)
        }
        fn div_c(self, c: f64) -> Self {
            self.unary($crate::ops::Unary::DivConst(c))
        }
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

/// A loop body that receives an element-wise rule as a closure: [`Unary::with_apply`] and its
/// siblings call [`Kernel1::run`] with the rule of one operation, so that the loop is compiled
/// once per operation with the rule inlined (no `match` per element).
pub trait Kernel1<T> {
    /// What the loop returns.
    type Output;
    /// Runs the loop with `f` as the rule.
    fn run(self, f: impl Fn(T) -> T + Copy + Send + Sync) -> Self::Output;
}

/// [`Kernel1`] for a rule of three arguments, `(x, y, g)`: a unary operation's backward rule.
pub trait Kernel3<T> {
    /// What the loop returns.
    type Output;
    /// Runs the loop with `f` as the rule.
    fn run(self, f: impl Fn(T, T, T) -> T + Copy + Send + Sync) -> Self::Output;
}

/// [`Kernel1`] for a rule of two arguments, `(a, b)`: a binary operation's forward rule.
pub trait Kernel2<T> {
    /// What the loop returns.
    type Output;
    /// Runs the loop with `f` as the rule.
    fn run(self, f: impl Fn(T, T) -> T + Copy + Send + Sync) -> Self::Output;
}

/// [`Kernel1`] for a rule of four arguments returning two, `(a, b, y, g) -> (ga, gb)`: a binary
/// operation's backward rule.
pub trait Kernel4<T> {
    /// What the loop returns.
    type Output;
    /// Runs the loop with `f` as the rule.
    fn run(self, f: impl Fn(T, T, T, T) -> (T, T) + Copy + Send + Sync) -> Self::Output;
}

/// Defines [`Unary`] from the list below: for each operation, its documentation, its variant
/// (with its constant parameters), how the expression language calls it (`fn "exp"`, or `op`
/// for an operator or an operation it has no name for), its forward rule `|x| y` and its
/// backward rule `|x, y, g| g · dy/dx`. A function with parameters gives each a default
/// (`LeakyRelu(negative_slope: f64 = 0.01): fn "leaky_relu"`): the expression language calls
/// it with the defaults.
///
/// From that one list come the enum, [`Unary::apply`], [`Unary::backward`], the names
/// ([`Unary::function_name`], [`Unary::functions`], which the parser reads), the parameter
/// ([`Unary::parameter`]), and the dispatch that compiles a loop once per operation
/// ([`Unary::with_apply`], [`Unary::with_backward`]). Adding an operation is adding an entry.
macro_rules! unary_ops {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident $(($($p:ident: $pt:ty $(= $def:literal)?),*))? : $kind:ident $($fname:literal)?,
            |$x:ident| $apply:expr,
            |$bx:ident, $by:ident, $bg:ident| $backward:expr;
    )*) => {
        /// An operation of one input.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum Unary {
            $($(#[doc = $doc])* $name $(($($pt),*))?,)*
        }

        impl Unary {
            /// The forward rule: the operation's value at `x`.
            #[inline(always)]
            #[allow(unused_variables)]
            pub fn apply<T: Real>(self, x: T) -> T {
                match self {
                    $(Unary::$name $(($($p),*))? => {
                        let $x = x;
                        $apply
                    })*
                }
            }

            /// The backward rule: `g · dy/dx`, given the input `x`, the output `y = apply(x)`
            /// and the adjoint `g` of the output.
            #[inline(always)]
            #[allow(unused_variables, clippy::if_same_then_else)]
            pub fn backward<T: Real>(self, x: T, y: T, g: T) -> T {
                match self {
                    $(Unary::$name $(($($p),*))? => {
                        let ($bx, $by, $bg) = (x, y, g);
                        $backward
                    })*
                }
            }

            /// Runs `k` with this operation's forward rule as its closure.
            #[inline(always)]
            pub fn with_apply<T: Real, K: Kernel1<T>>(self, k: K) -> K::Output {
                match self {
                    $(Unary::$name $(($($p),*))? => {
                        k.run(#[inline(always)] move |x: T| Unary::$name $(($($p),*))?.apply(x))
                    })*
                }
            }

            /// Runs `k` with this operation's backward rule `(x, y, g) -> g · dy/dx` as its
            /// closure.
            #[inline(always)]
            pub fn with_backward<T: Real, K: Kernel3<T>>(self, k: K) -> K::Output {
                match self {
                    $(Unary::$name $(($($p),*))? => {
                        k.run(#[inline(always)] move |x: T, y: T, g: T| Unary::$name $(($($p),*))?.backward(x, y, g))
                    })*
                }
            }

            /// The function's name as the expression language spells it (`exp`, `relu`,
            /// `leaky_relu`, ...), whatever its parameters, or `None` for operators written with
            /// symbols and operations the language has no name for.
            pub fn function_name(self) -> Option<&'static str> {
                #[allow(unused_variables)]
                match self {
                    $(Unary::$name $(($($p),*))? => unary_ops!(@name $kind $($fname)?),)*
                }
            }

            /// Every function of the expression language with one argument, in the order of the
            /// list, with its name (those with parameters at their defaults).
            pub fn functions() -> impl Iterator<Item = (&'static str, Unary)> {
                const NAMED: &[Option<(&str, Unary)>] =
                    &[$(unary_ops!(@entry $name $(($($($def)?),*))? $kind $($fname)?),)*];
                NAMED.iter().flatten().copied()
            }

            /// The constant parameter of the operation (`c` of `x + c`, `n` of `x^n`, the slope
            /// of `leaky_relu`), or `None` for one without.
            #[allow(clippy::unnecessary_cast)]
            pub fn parameter(self) -> Option<f64> {
                match self {
                    $(Unary::$name $(($($p),*))? => {
                        None $($(.or(Some($p as f64)))*)?
                    })*
                }
            }

            /// Whether the operation's parameter is its default (or it has none), so that the
            /// expression language writes it by name alone.
            fn at_default(self) -> bool {
                #[allow(unused_variables)]
                match self {
                    $(Unary::$name $(($($p),*))? => true $($($(&& $p == $def)?)*)?,)*
                }
            }
        }
    };
    (@name fn $f:literal) => { Some($f) };
    (@name op) => { None };
    (@entry $name:ident fn $f:literal) => { Some(($f, Unary::$name)) };
    (@entry $name:ident ($($def:literal),+) fn $f:literal) => {
        Some(($f, Unary::$name($($def),+)))
    };
    (@entry $name:ident $(($($p:tt)*))? op) => { None };
}

unary_ops! {
    /// `-x`
    Neg: op,
        |x| -x,
        |x, y, g| -g;
    /// `e^x`
    Exp: fn "exp",
        |x| x.exp(),
        |x, y, g| g * y;
    /// The natural logarithm `ln x`.
    Ln: fn "ln",
        |x| x.ln(),
        |x, y, g| g / x;
    /// `√x`
    Sqrt: fn "sqrt",
        |x| x.sqrt(),
        |x, y, g| g.mul_c(0.5) / y;
    /// `sin x`
    Sin: fn "sin",
        |x| x.sin(),
        |x, y, g| g * x.cos();
    /// `cos x`
    Cos: fn "cos",
        |x| x.cos(),
        |x, y, g| -(g * x.sin());
    /// `tan x`
    Tan: fn "tan",
        |x| x.tan(),
        |x, y, g| g * (y * y).add_c(1.0);
    /// `tanh x`
    Tanh: fn "tanh",
        |x| x.tanh(),
        |x, y, g| g * (-(y * y)).add_c(1.0);
    /// The logistic function `1 / (1 + e^-x)`.
    Sigmoid: fn "sigmoid",
        |x| sigmoid_stable(x),
        |x, y, g| g * y * (-y).add_c(1.0);
    /// `max(x, 0)`; its derivative at 0 is 0 (the gradient flows only where `x > 0`).
    Relu: fn "relu",
        |x| if x.value() > 0.0 { x } else { x.zero() },
        |x, y, g| x.piecewise(x.zero(), 0.0, 0.0, 1.0, g);
    /// `|x|`; its derivative at 0 is 0 (it is `sign(x)`).
    Abs: fn "abs",
        |x| x.abs(),
        |x, y, g| x.piecewise(x.zero(), -1.0, 0.0, 1.0, g);
    /// The unit step: 1 where `x > 0`, else 0 (so `step(0) = 0`, matching `relu'(0) = 0`).
    /// Its derivative is taken as 0 everywhere. It appears in symbolic derivatives of `relu`,
    /// `max` and `min`.
    Step: fn "step",
        |x| x.piecewise(x.zero(), 0.0, 0.0, 1.0, x.zero().add_c(1.0)),
        |x, y, g| g.zero();
    /// The sign: 1 where `x > 0`, -1 where `x < 0`, 0 at 0 (matching `abs'(0) = 0`). Its
    /// derivative is taken as 0 everywhere. It appears in symbolic derivatives of `abs`, `max`
    /// and `min`.
    Sign: fn "sign",
        |x| x.piecewise(x.zero(), -1.0, 0.0, 1.0, x.zero().add_c(1.0)),
        |x, y, g| g.zero();
    /// The Gaussian error linear unit `x · Φ(x) = x/2 · (1 + erf(x/√2))`, exact (PyTorch's
    /// default, not the tanh approximation).
    Gelu: fn "gelu",
        |x| x * (x.mul_c(FRAC_1_SQRT_2).erf().add_c(1.0)).mul_c(0.5),
        // Φ(x) + x·φ(x), with φ the standard normal density.
        |x, y, g| {
            let cdf = x.mul_c(FRAC_1_SQRT_2).erf().add_c(1.0).mul_c(0.5);
            let pdf = (-(x * x).mul_c(0.5)).exp().mul_c(FRAC_1_SQRT_2PI);
            g * (cdf + x * pdf)
        };
    /// The error function `erf x`.
    Erf: fn "erf",
        |x| x.erf(),
        |x, y, g| g * (-(x * x)).exp().mul_c(FRAC_2_SQRT_PI);
    /// `ln(1 + e^x)`, as PyTorch's `softplus` with its defaults `beta = 1`, `threshold = 20`:
    /// `x` itself where `x > 20` (where the two differ by less than 3·10⁻⁹), and
    /// `ln(1 + e^x)` by `log1p` elsewhere, so it neither overflows nor loses small values. Its
    /// derivative is `sigmoid(x)`, exactly 1 where `x > 20` (PyTorch's), smooth everywhere.
    Softplus: fn "softplus",
        |x| x.select_gt(SOFTPLUS_THRESHOLD, || x, || x.exp().ln_1p()),
        |x, y, g| x.select_gt(SOFTPLUS_THRESHOLD, || g, || g * x.unary(Unary::Sigmoid));
    /// `ln sigmoid(x) = -softplus(-x)`, as PyTorch's `logsigmoid`, computed as
    /// `min(x, 0) - ln(1 + e^-|x|)` so that it neither overflows nor rounds to 0 for large `x`.
    /// Its derivative is `sigmoid(-x)`, smooth everywhere.
    LogSigmoid: fn "log_sigmoid",
        |x| x.select_ge(0.0, || x.zero(), || x) - (-x.abs()).exp().ln_1p(),
        |x, y, g| g * (-x).unary(Unary::Sigmoid);
    /// `ln(1 + x)`, accurate for small `x` (PyTorch's `log1p`).
    Log1p: fn "log1p",
        |x| x.ln_1p(),
        |x, y, g| g / x.add_c(1.0);
    /// `e^x - 1`, accurate for small `x` (PyTorch's `expm1`).
    Expm1: fn "expm1",
        |x| x.exp_m1(),
        |x, y, g| g * x.exp();
    /// `x²` (PyTorch's `square`).
    Square: fn "square",
        |x| x * x,
        |x, y, g| g * x.mul_c(2.0);
    /// `x` where `x > 0`, `negative_slope · x` elsewhere, as PyTorch's `leaky_relu` (default
    /// slope 0.01); its derivative at 0 is `negative_slope`, the left side's, as PyTorch's.
    LeakyRelu(negative_slope: f64 = 0.01): fn "leaky_relu",
        |x| if x.value() > 0.0 { x } else { x.mul_c(negative_slope) },
        |x, y, g| x.piecewise(x.zero(), negative_slope, negative_slope, 1.0, g);
    /// `x · sigmoid(x)`, as PyTorch's `silu` (the swish); smooth everywhere, its derivative
    /// `s·(1 + x·(1 − s))` with `s = sigmoid(x)`.
    Silu: fn "silu",
        |x| x * sigmoid_stable(x),
        |x, y, g| {
            let s = x.unary(Unary::Sigmoid);
            g * s * (x * (-s).add_c(1.0)).add_c(1.0)
        };
    /// `x` where `x > 0`, `alpha · (e^x − 1)` elsewhere, as PyTorch's `elu` (default
    /// `alpha = 1`); its derivative at 0 is `alpha`, the left side's, as PyTorch's (so for
    /// `alpha = 1` both sides agree and the function is smooth to first order there).
    Elu(alpha: f64 = 1.0): fn "elu",
        |x| x.select_gt(0.0, || x, || x.exp_m1().mul_c(alpha)),
        |x, y, g| {
            let right = x.piecewise(x.zero(), 0.0, 0.0, 1.0, g);
            right + x.piecewise(x.zero(), alpha, alpha, 0.0, g * x.exp())
        };
    /// The tanh approximation of GELU, `x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³)))`, as
    /// PyTorch's `gelu(approximate="tanh")` (GPT-2's), computed in PyTorch's order; smooth
    /// everywhere.
    GeluTanh: fn "gelu_tanh",
        |x| {
            let inner = (x + (x * x * x).mul_c(GELU_KAPPA)).mul_c(GELU_BETA);
            x.mul_c(0.5) * inner.tanh().add_c(1.0)
        },
        // d/dx of x/2 · (1 + t) with t = tanh(inner): (1 + t)/2 + x/2 · (1 − t²) · inner'.
        |x, y, g| {
            let x2 = x * x;
            let t = (x + (x2 * x).mul_c(GELU_KAPPA)).mul_c(GELU_BETA).tanh();
            let inner = x2.mul_c(3.0 * GELU_KAPPA).add_c(1.0).mul_c(GELU_BETA);
            g * (t.add_c(1.0).mul_c(0.5) + x.mul_c(0.5) * (-(t * t)).add_c(1.0) * inner)
        };
    /// `x + c` for a constant `c`.
    AddConst(c: f64): op,
        |x| x.add_c(c),
        |x, y, g| g;
    /// `c · x` for a constant `c`.
    MulConst(c: f64): op,
        |x| x.mul_c(c),
        |x, y, g| g.mul_c(c);
    /// `x / c` for a constant `c`: a true division, rounded once, as PyTorch's `x / c` (a
    /// product with `1/c` can differ in the last bit).
    DivConst(c: f64): op,
        |x| x.div_c(c),
        |x, y, g| g.div_c(c);
    /// `x^n` for a constant integer `n`; its derivative is 0 everywhere for `n = 0`.
    Powi(n: i32): op,
        |x| x.powi(n),
        |x, y, g| if n == 0 { g.zero() } else { g * x.powi(n - 1).mul_c(n as f64) };
    /// `x^p` for a constant real `p`; its derivative is 0 everywhere for `p = 0`.
    Powf(p: f64): op,
        |x| x.powf_c(p),
        |x, y, g| if p == 0.0 { g.zero() } else { g * x.powf_c(p - 1.0).mul_c(p) };
}

impl Unary {
    /// The operation's name in messages: its function name (`ln`, `sqrt`), or, for operators
    /// and operations with parameters, the operation written out (`-x`, `x + 2`, `x^2`).
    pub fn name(self) -> String {
        self.function_name()
            .map(str::to_string)
            .unwrap_or_else(|| self.describe("x"))
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
            Unary::DivConst(c) => format!("{x} / {}", fmt_num_paren(c)),
            f => match (f.function_name(), f.parameter()) {
                (Some(name), Some(p)) if !f.at_default() => format!("{name}({x}, {})", fmt_num(p)),
                (name, _) => format!("{}({x})", name.unwrap_or("?")),
            },
        }
    }
}

/// Defines [`Binary`] from the list below, as [`unary_ops!`] defines [`Unary`]: for each
/// operation its documentation, its variant, its symbol or function name (`op "+"`, `fn "max"`)
/// and its name in messages,
/// its forward rule `|a, b| y` and its backward rule `|a, b, y, g| (g · ∂y/∂a, g · ∂y/∂b)`.
macro_rules! binary_ops {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $kind:ident $sym:literal $word:literal,
            |$a:ident, $b:ident| $apply:expr,
            |$ba:ident, $bb:ident, $by:ident, $bg:ident| $backward:expr;
    )*) => {
        /// An operation of two inputs.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Binary {
            $($(#[doc = $doc])* $name,)*
        }

        impl Binary {
            /// Every operation of two inputs, in the order of the list.
            pub const ALL: &'static [Binary] = &[$(Binary::$name),*];

            /// The forward rule: the operation's value at `(a, b)`.
            #[inline(always)]
            pub fn apply<T: Real>(self, a: T, b: T) -> T {
                match self {
                    $(Binary::$name => {
                        let ($a, $b) = (a, b);
                        $apply
                    })*
                }
            }

            /// The backward rule: `(g · ∂y/∂a, g · ∂y/∂b)`, given the inputs, the output
            /// `y = apply(a, b)` and the adjoint `g` of the output.
            #[inline(always)]
            #[allow(unused_variables)]
            pub fn backward<T: Real>(self, a: T, b: T, y: T, g: T) -> (T, T) {
                match self {
                    $(Binary::$name => {
                        let ($ba, $bb, $by, $bg) = (a, b, y, g);
                        $backward
                    })*
                }
            }

            /// Runs `k` with this operation's forward rule as its closure.
            #[inline(always)]
            pub fn with_apply<T: Real, K: Kernel2<T>>(self, k: K) -> K::Output {
                match self {
                    $(Binary::$name => k.run(#[inline(always)] |a: T, b: T| Binary::$name.apply(a, b)),)*
                }
            }

            /// Runs `k` with this operation's backward rule `(a, b, y, g) -> (ga, gb)` as its
            /// closure.
            #[inline(always)]
            pub fn with_backward<T: Real, K: Kernel4<T>>(self, k: K) -> K::Output {
                match self {
                    $(Binary::$name => {
                        k.run(#[inline(always)] |a: T, b: T, y: T, g: T| Binary::$name.backward(a, b, y, g))
                    })*
                }
            }

            /// The operator symbol (`+`, `^`, ...) or function name (`max`, `min`).
            pub fn symbol(self) -> &'static str {
                match self {
                    $(Binary::$name => $sym,)*
                }
            }

            /// The operation's name in messages (`add`, `pow`, `max`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Binary::$name => $word,)*
                }
            }

            /// Whether the expression language writes the operation as a function call
            /// (`max(a, b)`) rather than with an operator between its inputs.
            pub fn is_function(self) -> bool {
                match self {
                    $(Binary::$name => binary_ops!(@is_fn $kind),)*
                }
            }
        }
    };
    (@is_fn fn) => { true };
    (@is_fn op) => { false };
}

binary_ops! {
    /// `a + b`
    Add: op "+" "add",
        |a, b| a + b,
        |a, b, y, g| (g, g);
    /// `a - b`
    Sub: op "-" "sub",
        |a, b| a - b,
        |a, b, y, g| (g, -g);
    /// `a · b`
    Mul: op "*" "mul",
        |a, b| a * b,
        |a, b, y, g| (g * b, g * a);
    /// `a / b`
    Div: op "/" "div",
        |a, b| a / b,
        |a, b, y, g| (g / b, -(g * y) / b);
    /// `a^b`, differentiable in both the base and the exponent.
    Pow: op "^" "pow",
        |a, b| a.pow(b),
        |a, b, y, g| {
            // b·a^(b-1), except 0 where b = 0 (a^0 is constant, even at a = 0).
            let da = b.select_eq(0.0, || g.zero(), || g * b * a.pow(b.add_c(-1.0)));
            // y·ln a, except 0 where a = 0 and b ≥ 0 (0^b is flat there, PyTorch's choice).
            let general = || g * y * a.ln();
            let at_zero = || b.select_ge(0.0, || g.zero(), general);
            (da, a.select_eq(0.0, at_zero, general))
        };
    /// The larger of `a` and `b`; at a tie each input takes half of the gradient, and when a
    /// comparison fails (NaN) `b` takes it all, as the forward rule returns `b` then.
    Max: fn "max" "max",
        |a, b| if a.value() >= b.value() { a } else { b },
        |a, b, y, g| (a.piecewise(b, 0.0, 0.5, 1.0, g), a.piecewise(b, 1.0, 0.5, 0.0, g));
    /// The smaller of `a` and `b`, with the gradient shared as for [`Binary::Max`].
    Min: fn "min" "min",
        |a, b| if a.value() <= b.value() { a } else { b },
        |a, b, y, g| (b.piecewise(a, 0.0, 0.5, 1.0, g), b.piecewise(a, 1.0, 0.5, 0.0, g));
}

impl Binary {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `f32`'s result against `f64`'s on the same input: the same NaN-ness, the same infinity,
    /// or within a few `f32` roundings (relative, or absolute near zero, where a rule's sum
    /// cancels: GELU's tanh form in its negative tail).
    fn agree(what: &str, x: f32, got: f32, want: f64) {
        let ok = if want.is_nan() {
            got.is_nan()
        } else if want.is_infinite() || (want as f32).is_infinite() {
            got == want as f32
        } else {
            (got as f64 - want).abs() <= 4e-6 * want.abs() + 2e-6
        };
        assert!(ok, "{what} at {x:e}: f32 gives {got:e}, f64 {want:e}");
    }

    #[test]
    fn each_function_in_f32_agrees_with_f64_on_both_sides_of_its_branches() {
        let mut points: Vec<f32> = (-120..=120).map(|i| i as f32 * 0.25).collect();
        points.extend([
            0.0,
            -0.0,
            1e-7,
            -1e-7,
            1e-30,
            -1e-30,
            19.99,
            20.0,
            20.01,
            88.0,
            89.0,
            -87.0,
            -104.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
        ]);
        let mut names = 0;
        for (name, op) in Unary::functions() {
            names += 1;
            for &x in &points {
                let (y32, y64) = (op.apply(x), op.apply(x as f64));
                agree(name, x, y32, y64);
                // Where x² overflows f32 (|x| > 1.8e19) the tanh form's derivative is
                // (1 − t²)·∞ = NaN in f32, as in PyTorch's float32.
                if name == "gelu_tanh" && x.abs() > 1.8e19 {
                    continue;
                }
                let (g32, g64) = (op.backward(x, y32, 1.0), op.backward(x as f64, y64, 1.0));
                agree(&format!("d/dx {name}"), x, g32, g64);
            }
        }
        assert!(names >= 23, "only {names} functions");
    }
}
