//! Element-wise operations: those of [`crate::ops`] (`exp`, `relu`, `+`, `pow`, `maximum`,
//! ...), whose rules are written once there for every algebra, and `clamp` and `where`.
//!
//! On numbers, the rules run inside the loops of [`crate::tensor::kernels`], one loop
//! compiled per operation. Recorded, the very same rule functions run on `Each`, a tensor seen as
//! one number per element, so that `Unary::backward(x, y, g)` records `g · f'(x)` as tensor
//! operations. A rule is linear in its adjoint, so the same call with a tangent in place of `g`
//! is the forward-mode rule: no rule is written twice.

use std::borrow::Cow;
use std::ops::{Add, Div, Mul, Neg, Sub};

use super::{expand_to, fmt_dims, sum_to, Explain, Numbers, Recorded, Rule};
use crate::ops::{Binary, Kernel1, Kernel2, Kernel3, Kernel4, Real, Unary};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels;
use crate::tensor::shape::{broadcast_shapes, numel, Result, TensorError};
use crate::tensor::tape::Tensor;

use super::Op;

/// `y = op(x)` element by element.
#[derive(Clone, Debug)]
pub(crate) struct Map {
    pub op: Unary,
    pub x: usize,
}

impl<T: Element> Rule<T> for Map {
    fn name(&self) -> Cow<'static, str> {
        self.op.name().into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        self.op.describe(cx.name(self.x))
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let x = self.x;
        let d = (cx.derivative)(&self.op.describe(cx.name(x)), cx.name(x));
        vec![(x, scaled_line(cx, x, y, d, false))]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let x = cx.value(self.x);
        let mut dx = cx.buffer(x.numel());
        self.op.with_backward(Map3 {
            a: x.data(),
            b: y.data(),
            c: g,
            out: &mut dx,
        });
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let dx = self.op.backward(Each(cx.t(self.x)), Each(y), Each(g)).0;
        out.push((self.x, dx));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        // A rule is linear in its adjoint: fed the input's tangent, it returns the output's.
        let dx = cx.or_zeros(tangent(self.x), self.x);
        Ok(self.op.backward(Each(cx.t(self.x)), Each(y), Each(dx)).0)
    }
}

/// `y = op(a, b)` element by element, `a` and `b` broadcast together.
#[derive(Clone, Debug)]
pub(crate) struct Zip {
    pub op: Binary,
    pub a: usize,
    pub b: usize,
}

impl<T: Element> Rule<T> for Zip {
    fn name(&self) -> Cow<'static, str> {
        self.op.name().into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.a, self.b]
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        self.op.describe(cx.name(self.a), cx.name(self.b))
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let text = self.op.describe(cx.name(self.a), cx.name(self.b));
        [self.a, self.b]
            .into_iter()
            .map(|j| {
                let broadcast = cx.shapes[j] != cx.shapes[y];
                let d = if self.a == self.b {
                    None
                } else {
                    (cx.derivative)(&text, cx.name(j))
                };
                (j, scaled_line(cx, j, y, d, broadcast))
            })
            .collect()
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        self.contributions(cx, y, g, [true, true], out);
    }
    fn vjp_owned(
        &self,
        cx: &Numbers<'_, T>,
        y: &Array<T>,
        g: Vec<T>,
        out: &mut Vec<(usize, Vec<T>)>,
    ) -> Option<Vec<T>> {
        // In a sum, an input of the output's shape receives the adjoint itself (a residual
        // connection's stream, say); the other input's contribution is computed first, from it.
        if self.op == Binary::Add && self.a != self.b {
            for (input, other) in [(self.a, [false, true]), (self.b, [true, false])] {
                if cx.needs(input) && cx.value(input).numel() == y.numel() {
                    self.contributions(cx, y, &g, other, out);
                    out.push((input, g));
                    return None;
                }
            }
        }
        self.vjp(cx, y, &g, out);
        Some(g)
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let (a, b) = (cx.t(self.a), cx.t(self.b));
        let (da, db) = self.op.backward(Each(a), Each(b), Each(y), Each(g));
        for (input, d) in [(a, da), (b, db)] {
            if cx.needs(input.id) {
                out.push((input.id, sum_to(d.0, &input.shape())?));
            }
        }
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let (a, b) = (cx.t(self.a), cx.t(self.b));
        let ys = y.shape();
        let mut sum: Option<Tensor<'t, T>> = None;
        for (input, first) in [(self.a, true), (self.b, false)] {
            if let Some(dt) = tangent(input) {
                let (da, db) = self.op.backward(Each(a), Each(b), Each(y), Each(dt));
                let term = expand_to(if first { da.0 } else { db.0 }, &ys);
                sum = Some(sum.map_or(term, |s| s + term));
            }
        }
        Ok(sum.expect("some input has a tangent"))
    }
}

impl Zip {
    /// The contributions of [`Rule::vjp`] to the inputs marked in `which` (`a`, `b`) that need
    /// a gradient.
    fn contributions<T: Element>(
        &self,
        cx: &Numbers<'_, T>,
        y: &Array<T>,
        g: &[T],
        which: [bool; 2],
        out: &mut Vec<(usize, Vec<T>)>,
    ) {
        let (av, bv) = (cx.value(self.a), cx.value(self.b));
        let shape = y.shape();
        let n = y.numel();
        // Inputs read at the output's shape (copied only when broadcast, and not at all for a
        // sum or a difference, whose derivatives do not read them).
        let reads = !matches!(self.op, Binary::Add | Binary::Sub);
        let expanded = |v: &Array<T>| -> Option<Vec<T>> {
            (reads && v.numel() != n).then(|| {
                let mut e = cx.buffer(n);
                kernels::expand(v.data(), v.shape(), shape, &mut e);
                e
            })
        };
        let (ea, eb) = (expanded(av), expanded(bv));
        let ad = ea.as_deref().unwrap_or(if reads { av.data() } else { g });
        let bd = eb.as_deref().unwrap_or(if reads { bv.data() } else { g });
        for ((input, first), wanted) in [(self.a, true), (self.b, false)].into_iter().zip(which) {
            if !wanted || !cx.needs(input) {
                continue;
            }
            let mut full = cx.buffer(n);
            self.op.with_backward(Map4 {
                a: ad,
                b: bd,
                c: y.data(),
                d: g,
                first,
                out: &mut full,
            });
            let target = cx.value(input).shape();
            if numel(target) == n {
                out.push((input, full));
            } else {
                let mut d = cx.buffer(numel(target));
                kernels::sum_to_shape(&full, shape, target, &mut d);
                cx.recycle(full);
                out.push((input, d));
            }
        }
        ea.into_iter().chain(eb).for_each(|b| cx.recycle(b));
    }
}

/// `dL/dx = dL/dy ⊙ f'   [shape]`, simplified when the factor is 1 or a number, summed over
/// the broadcast axes when `broadcast`.
fn scaled_line(cx: &Explain<'_>, x: usize, y: usize, d: Option<String>, broadcast: bool) -> String {
    let gy = cx.grad(y);
    let term = match d.as_deref() {
        Some("1") => gy,
        Some("-1") => format!("-{gy}"),
        Some(c) if c.parse::<f64>().is_ok() => format!("{c} · {gy}"),
        Some(f) => format!("{gy} ⊙ {f}"),
        None => format!("{gy} ⊙ ∂{}/∂{}", cx.name(y), cx.name(x)),
    };
    if broadcast {
        format!(
            "{} = Σ_broadcast ({term})   {} = Σ {}",
            cx.grad(x),
            cx.shape(x),
            fmt_dims(&cx.shapes[y])
        )
    } else {
        format!("{} = {term}   {}", cx.grad(x), cx.shape(x))
    }
}

/// The name of the tensor method of a binary operation (`add`, `maximum`, ...), as PyTorch
/// calls it.
fn method_name(op: Binary) -> &'static str {
    match op {
        Binary::Max => "maximum",
        Binary::Min => "minimum",
        op => op.name(),
    }
}

/// `y = min(max(x, lo), hi)`; the gradient passes where `lo ≤ x ≤ hi`, as in PyTorch.
#[derive(Clone, Debug)]
pub(crate) struct Clamp {
    pub x: usize,
    pub lo: f64,
    pub hi: f64,
}

impl Clamp {
    /// Where `clamp(x, lo, hi)` passes its derivative.
    fn passes<T: Element>(&self, x: T) -> bool {
        x >= T::from_f64(self.lo) && x <= T::from_f64(self.hi)
    }

    /// Where the derivative passes, as a mask.
    fn mask<T: Element>(&self, x: &Array<T>) -> Array<bool> {
        let pass = x.data().iter().map(|&v| self.passes(v)).collect();
        Array::from_parts(pass, x.shape())
    }
}

impl<T: Element> Rule<T> for Clamp {
    fn name(&self) -> Cow<'static, str> {
        "clamp".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let x = cx.value(self.x);
        let mut dx = cx.buffer(g.len());
        for ((d, &gv), &v) in dx.iter_mut().zip(g).zip(x.data()) {
            *d = if self.passes(v) { gv } else { T::ZERO };
        }
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let pass = self.mask(&cx.t(self.x).value());
        out.push((self.x, Tensor::where_cond(&pass, g, cx.zero())?));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let pass = self.mask(&cx.t(self.x).value());
        Tensor::where_cond(&pass, cx.or_zeros(tangent(self.x), self.x), cx.zero())
    }
}

/// `y = a` where the condition holds and `b` elsewhere, the three broadcast together.
#[derive(Clone, Debug)]
pub(crate) struct Where {
    pub cond: Array<bool>,
    pub a: usize,
    pub b: usize,
}

impl<T: Element> Rule<T> for Where {
    fn name(&self) -> Cow<'static, str> {
        "where".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.a, self.b]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let shape = y.shape();
        let c = expand_bool(&self.cond, shape);
        for (input, take) in [(self.a, true), (self.b, false)] {
            if !cx.needs(input) {
                continue;
            }
            let mut full = cx.buffer(g.len());
            for ((d, &gv), &c) in full.iter_mut().zip(g).zip(&c) {
                *d = if c == take { gv } else { T::ZERO };
            }
            let target = cx.value(input).shape();
            let mut d = cx.buffer(numel(target));
            kernels::sum_to_shape(&full, shape, target, &mut d);
            cx.recycle(full);
            out.push((input, d));
        }
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let zero = cx.zero();
        for (input, take) in [(self.a, true), (self.b, false)] {
            if cx.needs(input) {
                let d = if take {
                    Tensor::where_cond(&self.cond, g, zero)?
                } else {
                    Tensor::where_cond(&self.cond, zero, g)?
                };
                out.push((input, sum_to(d, &cx.t(input).shape())?));
            }
        }
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let (da, db) = (
            cx.or_zeros(tangent(self.a), self.a),
            cx.or_zeros(tangent(self.b), self.b),
        );
        Tensor::where_cond(&self.cond, da, db)
    }
}

/// The loop `out[i] = f(x[i])`, handed the forward rule of a unary operation.
struct Map1<'a, T> {
    x: &'a [T],
    out: &'a mut [T],
}

impl<T: Element> Kernel1<T> for Map1<'_, T> {
    type Output = ();
    fn run(self, f: impl Fn(T) -> T + Copy + Send + Sync) {
        kernels::map1(self.x, self.out, f)
    }
}

/// The loop `out[i] = f(a[i], b[i], c[i])`, handed the backward rule of a unary operation.
struct Map3<'a, T> {
    a: &'a [T],
    b: &'a [T],
    c: &'a [T],
    out: &'a mut [T],
}

impl<T: Element> Kernel3<T> for Map3<'_, T> {
    type Output = ();
    fn run(self, f: impl Fn(T, T, T) -> T + Copy + Send + Sync) {
        kernels::map3(self.a, self.b, self.c, self.out, f)
    }
}

/// The broadcast loop `out = f(a, b)`, handed the forward rule of a binary operation.
struct Broadcast2<'a, T> {
    a: &'a Array<T>,
    b: &'a Array<T>,
    shape: &'a [usize],
    out: &'a mut [T],
}

impl<T: Element> Kernel2<T> for Broadcast2<'_, T> {
    type Output = ();
    fn run(self, f: impl Fn(T, T) -> T + Copy + Send + Sync) {
        let (a, b) = (self.a, self.b);
        kernels::binary(
            a.data(),
            a.shape(),
            b.data(),
            b.shape(),
            self.shape,
            self.out,
            f,
        )
    }
}

/// The loop `out[i] = f(a[i], b[i], c[i], d[i]).0` (or `.1`), handed the backward rule of a
/// binary operation: the adjoint of its first (or second) input.
struct Map4<'a, T> {
    a: &'a [T],
    b: &'a [T],
    c: &'a [T],
    d: &'a [T],
    first: bool,
    out: &'a mut [T],
}

impl<T: Element> Kernel4<T> for Map4<'_, T> {
    type Output = ();
    fn run(self, f: impl Fn(T, T, T, T) -> (T, T) + Copy + Send + Sync) {
        let (a, b, c, d) = (self.a, self.b, self.c, self.d);
        if self.first {
            kernels::map4(a, b, c, d, self.out, move |a, b, y, g| f(a, b, y, g).0)
        } else {
            kernels::map4(a, b, c, d, self.out, move |a, b, y, g| f(a, b, y, g).1)
        }
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// Applies an element-wise operation from [`crate::ops::Unary`].
    #[track_caller]
    pub fn unary(self, op: Unary) -> Tensor<'t, T> {
        let x = self.value();
        let mut out = self.tape.buffer(x.numel());
        op.with_apply(Map1 {
            x: x.data(),
            out: &mut out,
        });
        let v = Array::from_parts(out, x.shape());
        self.tape
            .record(v, Op::Unary(Map { op, x: self.id }), &[self.id])
    }

    /// `e^x`, element-wise.
    #[track_caller]
    pub fn exp(self) -> Tensor<'t, T> {
        self.unary(Unary::Exp)
    }
    /// The natural logarithm, element-wise.
    #[track_caller]
    pub fn ln(self) -> Tensor<'t, T> {
        self.unary(Unary::Ln)
    }
    /// The square root, element-wise.
    #[track_caller]
    pub fn sqrt(self) -> Tensor<'t, T> {
        self.unary(Unary::Sqrt)
    }
    /// The sine, element-wise.
    #[track_caller]
    pub fn sin(self) -> Tensor<'t, T> {
        self.unary(Unary::Sin)
    }
    /// The cosine, element-wise.
    #[track_caller]
    pub fn cos(self) -> Tensor<'t, T> {
        self.unary(Unary::Cos)
    }
    /// The tangent, element-wise.
    #[track_caller]
    pub fn tan(self) -> Tensor<'t, T> {
        self.unary(Unary::Tan)
    }
    /// The hyperbolic tangent, element-wise.
    #[track_caller]
    pub fn tanh(self) -> Tensor<'t, T> {
        self.unary(Unary::Tanh)
    }
    /// The logistic function, element-wise.
    #[track_caller]
    pub fn sigmoid(self) -> Tensor<'t, T> {
        self.unary(Unary::Sigmoid)
    }
    /// `max(x, 0)`, element-wise.
    #[track_caller]
    pub fn relu(self) -> Tensor<'t, T> {
        self.unary(Unary::Relu)
    }
    /// The exact (erf-based) GELU, element-wise, as PyTorch's default.
    #[track_caller]
    pub fn gelu(self) -> Tensor<'t, T> {
        self.unary(Unary::Gelu)
    }
    /// The error function, element-wise.
    #[track_caller]
    pub fn erf(self) -> Tensor<'t, T> {
        self.unary(Unary::Erf)
    }
    /// `|x|`, element-wise.
    #[track_caller]
    pub fn abs(self) -> Tensor<'t, T> {
        self.unary(Unary::Abs)
    }
    /// `x^p` for a constant `p`, element-wise.
    #[track_caller]
    pub fn powf(self, p: f64) -> Tensor<'t, T> {
        self.unary(Unary::Powf(p))
    }
    /// `x^n` for a constant integer `n`, element-wise (as `Var::powi`); its derivative is 0
    /// everywhere for `n = 0`.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_slice(&[2.0, -3.0]));
    /// let y = x.powi(3);
    /// assert_eq!(y.to_vec(), vec![8.0, -27.0]);
    /// y.sum_all().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![12.0, 27.0]);
    /// ```
    #[track_caller]
    pub fn powi(self, n: i32) -> Tensor<'t, T> {
        self.unary(Unary::Powi(n))
    }
    /// `x²`, element-wise (`torch.square`).
    #[track_caller]
    pub fn square(self) -> Tensor<'t, T> {
        self.unary(Unary::Square)
    }
    /// The sign, element-wise: 1, −1, or 0 at 0 (`torch.sign`); no gradient flows through it
    /// (its derivative is 0 everywhere, PyTorch's convention).
    #[track_caller]
    pub fn sign(self) -> Tensor<'t, T> {
        self.unary(Unary::Sign)
    }
    /// `ln(1 + x)`, element-wise, accurate for small `x` (`torch.log1p`).
    #[track_caller]
    pub fn log1p(self) -> Tensor<'t, T> {
        self.unary(Unary::Log1p)
    }
    /// `e^x − 1`, element-wise, accurate for small `x` (`torch.expm1`).
    #[track_caller]
    pub fn expm1(self) -> Tensor<'t, T> {
        self.unary(Unary::Expm1)
    }
    /// `ln(1 + e^x)`, element-wise, as `F.softplus` with its defaults (`beta = 1`,
    /// `threshold = 20`): `x` itself where `x > 20`. Smooth everywhere: its derivative is
    /// `sigmoid(x)` (exactly 1 where `x > 20`), ½ at 0.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_slice(&[0.0, -800.0, 800.0]));
    /// let y = x.softplus();
    /// assert_eq!(y.to_vec(), vec![2f64.ln(), 0.0, 800.0]); // no overflow either way
    /// y.sum_all().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.5, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn softplus(self) -> Tensor<'t, T> {
        self.unary(Unary::Softplus)
    }
    /// `ln sigmoid(x) = −softplus(−x)`, element-wise, as `F.logsigmoid`, stable for any `x`;
    /// its derivative is `sigmoid(−x)`, smooth everywhere.
    #[track_caller]
    pub fn log_sigmoid(self) -> Tensor<'t, T> {
        self.unary(Unary::LogSigmoid)
    }
    /// `x` where `x > 0`, `negative_slope · x` elsewhere, as `F.leaky_relu` (PyTorch's default
    /// slope is 0.01); its derivative at 0 is `negative_slope`, as PyTorch's.
    #[track_caller]
    pub fn leaky_relu(self, negative_slope: f64) -> Tensor<'t, T> {
        self.unary(Unary::LeakyRelu(negative_slope))
    }
    /// `x · sigmoid(x)`, element-wise, as `F.silu` (the swish); smooth everywhere.
    #[track_caller]
    pub fn silu(self) -> Tensor<'t, T> {
        self.unary(Unary::Silu)
    }
    /// `x` where `x > 0`, `alpha · (e^x − 1)` elsewhere, as `F.elu` (PyTorch's default `alpha`
    /// is 1); its derivative at 0 is `alpha`, as PyTorch's.
    #[track_caller]
    pub fn elu(self, alpha: f64) -> Tensor<'t, T> {
        self.unary(Unary::Elu(alpha))
    }
    /// The tanh approximation of GELU, `x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³)))`, as
    /// `F.gelu(x, approximate="tanh")` (the GELU of GPT-2); smooth everywhere.
    #[track_caller]
    pub fn gelu_tanh(self) -> Tensor<'t, T> {
        self.unary(Unary::GeluTanh)
    }
    /// `x + c`, element-wise.
    #[track_caller]
    pub fn add_scalar(self, c: f64) -> Tensor<'t, T> {
        self.unary(Unary::AddConst(c))
    }
    /// `c · x`, element-wise.
    #[track_caller]
    pub fn mul_scalar(self, c: f64) -> Tensor<'t, T> {
        self.unary(Unary::MulConst(c))
    }
    /// `x / c`, element-wise: a true division (what `t / c` does), rounded as PyTorch's
    /// `x / c`, not a product with `1/c`.
    #[track_caller]
    pub fn div_scalar(self, c: f64) -> Tensor<'t, T> {
        self.unary(Unary::DivConst(c))
    }

    /// Applies an element-wise operation of two inputs from [`crate::ops::Binary`], with NumPy
    /// broadcasting.
    #[track_caller]
    pub fn binary(self, op: Binary, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        let name = method_name(op);
        let (a, b) = (self.value(), other.value());
        let shape = broadcast_shapes(name, a.shape(), b.shape())?;
        let mut out = self.tape.buffer(numel(&shape));
        op.with_apply(Broadcast2 {
            a: &a,
            b: &b,
            shape: &shape,
            out: &mut out,
        });
        let v = Array::from_parts(out, shape);
        let node = Op::Binary(Zip {
            op,
            a: self.id,
            b: other.id,
        });
        Ok(self.tape.record(v, node, &[self.id, other.id]))
    }

    /// `self + other`, broadcast.
    #[allow(clippy::should_implement_trait)]
    #[track_caller]
    pub fn add(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Add, other)
    }
    /// `self - other`, broadcast.
    #[allow(clippy::should_implement_trait)]
    #[track_caller]
    pub fn sub(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Sub, other)
    }
    /// `self · other`, element-wise and broadcast.
    #[allow(clippy::should_implement_trait)]
    #[track_caller]
    pub fn mul(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Mul, other)
    }
    /// `self / other`, broadcast.
    #[allow(clippy::should_implement_trait)]
    #[track_caller]
    pub fn div(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Div, other)
    }
    /// `self ^ other`, broadcast, differentiable in both.
    #[track_caller]
    pub fn pow(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Pow, other)
    }
    /// The larger of `self` and `other` element by element, broadcast (`torch.maximum`); at a
    /// tie each input takes half of the gradient (PyTorch's convention).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Array::from_slice(&[1.0, 5.0, 3.0]));
    /// let b = tape.var(Array::from_slice(&[2.0, 4.0, 3.0]));
    /// let m = a.maximum(b).unwrap();
    /// assert_eq!(m.to_vec(), vec![2.0, 5.0, 3.0]);
    /// m.sum_all().backward().unwrap();
    /// assert_eq!(a.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.5]);
    /// ```
    #[track_caller]
    pub fn maximum(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Max, other)
    }
    /// The smaller of `self` and `other` element by element, broadcast (`torch.minimum`); at a
    /// tie each input takes half of the gradient.
    #[track_caller]
    pub fn minimum(self, other: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        self.binary(Binary::Min, other)
    }

    /// `a` where `cond` holds and `b` elsewhere (`torch.where(cond, a, b)`), all three broadcast
    /// together; the gradient goes to `a` where `cond` holds and to `b` elsewhere (a strong
    /// zero to the other: a NaN in the branch not taken does not reach its gradient).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape, Tensor};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_slice(&[-1.0, 2.0, -3.0]));
    /// let positive = x.gt_scalar(0.0);
    /// let y = Tensor::where_cond(&positive, x, x * 0.1).unwrap();
    /// assert_eq!(y.to_vec(), vec![-0.1, 2.0, -0.30000000000000004]);
    /// ```
    #[track_caller]
    pub fn where_cond(
        cond: &Array<bool>,
        a: Tensor<'t, T>,
        b: Tensor<'t, T>,
    ) -> Result<Tensor<'t, T>> {
        let (av, bv) = (a.value(), b.value());
        let ab = broadcast_shapes("where", av.shape(), bv.shape())?;
        let shape = broadcast_shapes("where", cond.shape(), &ab)?;
        let n = numel(&shape);
        let tape = a.tape;
        let (mut ea, mut eb) = (tape.buffer(n), tape.buffer(n));
        kernels::expand(av.data(), av.shape(), &shape, &mut ea);
        kernels::expand(bv.data(), bv.shape(), &shape, &mut eb);
        let c = expand_bool(cond, &shape);
        for ((x, &y), &c) in ea.iter_mut().zip(&eb).zip(&c) {
            if !c {
                *x = y;
            }
        }
        tape.recycle(eb);
        let v = Array::from_parts(ea, shape);
        let node = Op::Where(Where {
            cond: cond.clone(),
            a: a.id,
            b: b.id,
        });
        Ok(tape.record(v, node, &[a.id, b.id]))
    }

    /// The old name of [`Tensor::where_cond`]: PyTorch's trailing underscore means "in place",
    /// which this never was.
    #[deprecated(note = "renamed to `where_cond` (a trailing `_` means in place in PyTorch)")]
    #[track_caller]
    pub fn where_(cond: &Array<bool>, a: Tensor<'t, T>, b: Tensor<'t, T>) -> Result<Tensor<'t, T>> {
        Tensor::where_cond(cond, a, b)
    }

    /// `value` where `mask` holds and `self` elsewhere (`Tensor.masked_fill`), broadcast
    /// together; the gradient flows to `self` where `mask` does not hold.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let scores = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let causal = Array::from_vec(vec![false, true, false, false], &[2, 2]).unwrap();
    /// let masked = scores.masked_fill(&causal, f64::NEG_INFINITY).unwrap();
    /// assert_eq!(masked.to_vec(), vec![1.0, f32::NEG_INFINITY, 3.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn masked_fill(self, mask: &Array<bool>, value: f64) -> Result<Tensor<'t, T>> {
        let fill = self.tape.scalar(T::from_f64(value));
        Tensor::where_cond(mask, fill, self).map_err(|e| TensorError::new("masked_fill", e.message))
    }

    /// Compares `self` with `other` element by element, broadcast, into a mask.
    fn compare(
        self,
        op: &'static str,
        other: Tensor<'t, T>,
        test: impl Fn(T, T) -> bool,
    ) -> Result<Array<bool>> {
        let (a, b) = (self.value(), other.value());
        let shape = broadcast_shapes(op, a.shape(), b.shape())?;
        let (ea, eb) = (expanded_array(&a, &shape), expanded_array(&b, &shape));
        let mask = ea
            .iter()
            .zip(eb.iter())
            .map(|(&x, &y)| test(x, y))
            .collect();
        Ok(Array::from_parts(mask, shape))
    }

    /// Compares every element with the constant `c` (rounded to the element type first, as
    /// PyTorch does with a Python number) into a mask.
    fn compare_scalar(self, c: f64, test: impl Fn(T, T) -> bool) -> Array<bool> {
        let x = self.value();
        let c = T::from_f64(c);
        let mask = x.data().iter().map(|&v| test(v, c)).collect();
        Array::from_parts(mask, x.shape())
    }

    /// Where `self > other`, broadcast (`torch.gt`): a mask, for [`Tensor::where_cond`] and
    /// [`Tensor::masked_fill`]. Comparisons with NaN are false (except `ne`), as in PyTorch.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let a = tape.constant(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let b = tape.constant(Array::from_slice(&[2.0, 2.0]));
    /// assert_eq!(a.gt(b).unwrap().to_vec(), vec![false, false, true, true]);
    /// assert_eq!(a.le_scalar(2.0).to_vec(), vec![true, true, false, false]);
    /// ```
    pub fn gt(self, other: Tensor<'t, T>) -> Result<Array<bool>> {
        self.compare("gt", other, |a, b| a > b)
    }
    /// Where `self < other`, broadcast (`torch.lt`).
    pub fn lt(self, other: Tensor<'t, T>) -> Result<Array<bool>> {
        self.compare("lt", other, |a, b| a < b)
    }
    /// Where `self ≥ other`, broadcast (`torch.ge`).
    pub fn ge(self, other: Tensor<'t, T>) -> Result<Array<bool>> {
        self.compare("ge", other, |a, b| a >= b)
    }
    /// Where `self ≤ other`, broadcast (`torch.le`).
    pub fn le(self, other: Tensor<'t, T>) -> Result<Array<bool>> {
        self.compare("le", other, |a, b| a <= b)
    }
    /// Where `self == other`, broadcast (`torch.eq`).
    #[allow(clippy::should_implement_trait)]
    pub fn eq(self, other: Tensor<'t, T>) -> Result<Array<bool>> {
        self.compare("eq", other, |a, b| a == b)
    }
    /// Where `self != other`, broadcast (`torch.ne`; true where either is NaN).
    pub fn ne(self, other: Tensor<'t, T>) -> Result<Array<bool>> {
        self.compare("ne", other, |a, b| a != b)
    }
    /// Where `self > c`.
    pub fn gt_scalar(self, c: f64) -> Array<bool> {
        self.compare_scalar(c, |a, b| a > b)
    }
    /// Where `self < c`.
    pub fn lt_scalar(self, c: f64) -> Array<bool> {
        self.compare_scalar(c, |a, b| a < b)
    }
    /// Where `self ≥ c`.
    pub fn ge_scalar(self, c: f64) -> Array<bool> {
        self.compare_scalar(c, |a, b| a >= b)
    }
    /// Where `self ≤ c`.
    pub fn le_scalar(self, c: f64) -> Array<bool> {
        self.compare_scalar(c, |a, b| a <= b)
    }
    /// Where `self == c`.
    pub fn eq_scalar(self, c: f64) -> Array<bool> {
        self.compare_scalar(c, |a, b| a == b)
    }
    /// Where `self != c` (true where `self` is NaN).
    pub fn ne_scalar(self, c: f64) -> Array<bool> {
        self.compare_scalar(c, |a, b| a != b)
    }

    /// Limits every element to `[lo, hi]` (use `f64::NEG_INFINITY` / `f64::INFINITY` for one
    /// side); the gradient passes where `lo ≤ x ≤ hi`, as in PyTorch.
    #[track_caller]
    pub fn clamp(self, lo: f64, hi: f64) -> Tensor<'t, T> {
        let x = self.value();
        let mut out = self.tape.buffer(x.numel());
        let (l, h) = (T::from_f64(lo), T::from_f64(hi));
        kernels::map1(x.data(), &mut out, move |v| {
            if v < l {
                l
            } else if v > h {
                h
            } else {
                v
            }
        });
        let v = Array::from_parts(out, x.shape());
        let node = Op::Clamp(Clamp { x: self.id, lo, hi });
        self.tape.record(v, node, &[self.id])
    }
}

/// The condition of `where` at the broadcast shape.
pub(crate) fn expand_bool(cond: &Array<bool>, shape: &[usize]) -> Vec<bool> {
    let st = crate::tensor::shape::broadcast_strides(cond.shape(), shape);
    let n = numel(shape);
    (0..n)
        .map(|mut r| {
            let mut off = 0;
            for d in (0..shape.len()).rev() {
                off += (r % shape[d]) * st[d];
                r /= shape[d];
            }
            cond.data()[off]
        })
        .collect()
}

// Operators. Between two tensors they panic on a shape mismatch (the methods return the error).
macro_rules! tensor_operator {
    ($Trait:ident, $method:ident, $op:expr) => {
        impl<'t, T: Element> $Trait for Tensor<'t, T> {
            type Output = Tensor<'t, T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<'t, T>) -> Tensor<'t, T> {
                self.binary($op, rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }
    };
}
tensor_operator!(Add, add, Binary::Add);
tensor_operator!(Sub, sub, Binary::Sub);
tensor_operator!(Mul, mul, Binary::Mul);
tensor_operator!(Div, div, Binary::Div);

impl<'t, T: Element> Neg for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn neg(self) -> Tensor<'t, T> {
        self.unary(Unary::Neg)
    }
}

impl<'t, T: Element> Add<f64> for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn add(self, c: f64) -> Tensor<'t, T> {
        self.add_scalar(c)
    }
}
impl<'t, T: Element> Sub<f64> for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn sub(self, c: f64) -> Tensor<'t, T> {
        self.add_scalar(-c)
    }
}
impl<'t, T: Element> Mul<f64> for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn mul(self, c: f64) -> Tensor<'t, T> {
        self.mul_scalar(c)
    }
}
impl<'t, T: Element> Div<f64> for Tensor<'t, T> {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn div(self, c: f64) -> Tensor<'t, T> {
        self.div_scalar(c)
    }
}
impl<'t, T: Element> Add<Tensor<'t, T>> for f64 {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn add(self, t: Tensor<'t, T>) -> Tensor<'t, T> {
        t.add_scalar(self)
    }
}
impl<'t, T: Element> Sub<Tensor<'t, T>> for f64 {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn sub(self, t: Tensor<'t, T>) -> Tensor<'t, T> {
        (-t).add_scalar(self)
    }
}
impl<'t, T: Element> Mul<Tensor<'t, T>> for f64 {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn mul(self, t: Tensor<'t, T>) -> Tensor<'t, T> {
        t.mul_scalar(self)
    }
}
impl<'t, T: Element> Div<Tensor<'t, T>> for f64 {
    type Output = Tensor<'t, T>;
    #[track_caller]
    fn div(self, t: Tensor<'t, T>) -> Tensor<'t, T> {
        t.powf(-1.0).mul_scalar(self)
    }
}

/// A tensor seen as one number per element: the algebra the rules of [`crate::ops`] run on to
/// record themselves on the tape. Shapes broadcast as in NumPy; inside a rule they always fit
/// (they did in the forward pass), so the operators do not return errors.
#[derive(Clone, Copy)]
struct Each<'t, T: Element>(Tensor<'t, T>);

macro_rules! each_operator {
    ($Trait:ident, $method:ident) => {
        impl<'t, T: Element> $Trait for Each<'t, T> {
            type Output = Self;
            fn $method(self, rhs: Self) -> Self {
                Each($Trait::$method(self.0, rhs.0))
            }
        }
    };
}
each_operator!(Add, add);
each_operator!(Sub, sub);
each_operator!(Mul, mul);
each_operator!(Div, div);

impl<'t, T: Element> Neg for Each<'t, T> {
    type Output = Self;
    fn neg(self) -> Self {
        Each(-self.0)
    }
}

impl<'t, T: Element> Real for Each<'t, T> {
    /// A tensor has no single value: rules decide per element with [`Real::piecewise`] and
    /// [`Real::select_eq`], which this algebra implements element-wise. (Only the forward rules
    /// of `relu`, `maximum`, `minimum` and `sigmoid` ask for the value, and those are never run on
    /// this algebra: the forward pass has its own kernels.)
    fn value(self) -> f64 {
        f64::NAN
    }
    fn zero(self) -> Self {
        Each(self.0.tape.constant(Array::zeros(&self.0.shape())))
    }
    fn add_c(self, c: f64) -> Self {
        Each(self.0.add_scalar(c))
    }
    fn mul_c(self, c: f64) -> Self {
        Each(self.0.mul_scalar(c))
    }
    fn unary(self, op: Unary) -> Self {
        Each(self.0.unary(op))
    }
    crate::ops::real_by_unary!();
    fn pow(self, p: Self) -> Self {
        Each(
            self.0
                .binary(Binary::Pow, p.0)
                .expect("shapes of a rule broadcast"),
        )
    }
    fn piecewise(self, other: Self, below: f64, tie: f64, above: f64, g: Self) -> Self {
        let tape = g.0.tape;
        let shape = broadcast3(self.0, other.0, g.0);
        let (s, o) = (expanded(self.0, &shape), expanded(other.0, &shape));
        // The factor of each element, decided on the values as the number rule decides it.
        let factor: Vec<f64> = s
            .iter()
            .zip(&o)
            .map(|(&s, &o)| f64::piecewise(s.value(), o.value(), below, tie, above, 1.0))
            .collect();
        if factor.iter().all(|&f| f == 1.0) {
            return Each(expand_to(g.0, &shape));
        }
        let scaled = if factor.iter().all(|&f| f == 0.0 || f == 1.0) {
            g
        } else {
            let f = factor.iter().map(|&f| T::from_f64(f)).collect();
            g * Each(tape.constant(Array::from_parts(f, shape.clone())))
        };
        // A factor 0 is a strong zero (0 even where g is NaN), as for numbers.
        let keep = factor.iter().map(|&f| f != 0.0).collect();
        Each::choose(keep, &shape, scaled, Each(tape.scalar(T::ZERO)))
    }
    fn select_eq(
        self,
        c: f64,
        then: impl FnOnce() -> Self,
        otherwise: impl FnOnce() -> Self,
    ) -> Self {
        self.select(|v| v == c, then(), otherwise())
    }
    fn select_ge(
        self,
        c: f64,
        then: impl FnOnce() -> Self,
        otherwise: impl FnOnce() -> Self,
    ) -> Self {
        self.select(|v| v >= c, then(), otherwise())
    }
    fn select_gt(
        self,
        c: f64,
        then: impl FnOnce() -> Self,
        otherwise: impl FnOnce() -> Self,
    ) -> Self {
        self.select(|v| v > c, then(), otherwise())
    }
}

impl<'t, T: Element> Each<'t, T> {
    /// `then` where `test` holds for `self`'s element, `otherwise` elsewhere, at the broadcast
    /// shape of the three.
    fn select(self, test: impl Fn(f64) -> bool, then: Self, otherwise: Self) -> Self {
        let shape = broadcast3(self.0, then.0, otherwise.0);
        let hit = expanded(self.0, &shape)
            .iter()
            .map(|&v| test(v.value()))
            .collect();
        Each::choose(hit, &shape, then, otherwise)
    }

    /// `then` where the flag is set and `otherwise` elsewhere, at `shape` (the broadcast shape of
    /// the two), recording a `where` only when the flags differ.
    fn choose(flags: Vec<bool>, shape: &[usize], then: Self, otherwise: Self) -> Self {
        if !flags.iter().any(|&h| h) {
            return Each(expand_to(otherwise.0, shape));
        }
        if flags.iter().all(|&h| h) {
            return Each(expand_to(then.0, shape));
        }
        let flags = Array::from_vec(flags, shape).expect("one flag per element");
        Each(Tensor::where_cond(&flags, then.0, otherwise.0).expect("shapes of a rule broadcast"))
    }
}

/// The broadcast shape of three tensors.
fn broadcast3<T: Element>(a: Tensor<'_, T>, b: Tensor<'_, T>, c: Tensor<'_, T>) -> Vec<usize> {
    let ab = broadcast_shapes("rule", &a.shape(), &b.shape()).expect("shapes of a rule broadcast");
    broadcast_shapes("rule", &ab, &c.shape()).expect("shapes of a rule broadcast")
}

/// A tensor's values, broadcast to `shape`.
fn expanded<T: Element>(t: Tensor<'_, T>, shape: &[usize]) -> Vec<T> {
    expanded_array(&t.value(), shape).into_owned()
}

/// An array's values, broadcast to `shape` (borrowed when they already have it).
fn expanded_array<'a, T: Element>(v: &'a Array<T>, shape: &[usize]) -> Cow<'a, [T]> {
    if v.shape() == shape {
        return Cow::Borrowed(v.data());
    }
    let mut out = vec![T::ZERO; numel(shape)];
    kernels::expand(v.data(), v.shape(), shape, &mut out);
    Cow::Owned(out)
}
