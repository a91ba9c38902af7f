//! Every operation's derivative against central finite differences of an independent forward
//! function (the standard library's), at many random points of its domain, and against closed
//! forms where they are simple.

use chainrule::{Binary, Graph, Unary};
use proptest::prelude::*;

/// Central difference of `f` at `x`, with a step scaled to `x`.
fn numeric(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    let h = 1e-6 * x.abs().max(1.0);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

fn assert_close(analytic: f64, numeric: f64, what: &str) {
    let tol = 1e-6 + 1e-5 * numeric.abs();
    assert!(
        (analytic - numeric).abs() <= tol,
        "{what}: reverse mode {analytic} vs finite difference {numeric} (difference {})",
        (analytic - numeric).abs()
    );
}

fn unary_grad(op: Unary, x: f64) -> (f64, f64) {
    let g = Graph::new();
    let v = g.var(x);
    let y = v.apply_unary(op);
    (y.value(), g.grad(y, &[v])[0])
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// An operation, an independent forward function, and the interval of its smooth domain.
type UnaryCase = (Unary, fn(f64) -> f64, f64, f64);

/// Each unary operation with the standard library's version of its forward rule and a domain
/// where it is smooth.
fn unary_cases() -> Vec<UnaryCase> {
    vec![
        (Unary::Neg, |x| -x, -5.0, 5.0),
        (Unary::Exp, f64::exp, -5.0, 5.0),
        (Unary::Ln, f64::ln, 0.05, 20.0),
        (Unary::Sqrt, f64::sqrt, 0.05, 20.0),
        (Unary::Sin, f64::sin, -6.0, 6.0),
        (Unary::Cos, f64::cos, -6.0, 6.0),
        (Unary::Tan, f64::tan, -1.4, 1.4),
        (Unary::Tanh, f64::tanh, -5.0, 5.0),
        (Unary::Sigmoid, sigmoid, -8.0, 8.0),
        (Unary::Relu, |x| x.max(0.0), -5.0, 5.0),
        (Unary::Abs, f64::abs, -5.0, 5.0),
        (Unary::AddConst(2.5), |x| x + 2.5, -5.0, 5.0),
        (Unary::MulConst(-1.5), |x| -1.5 * x, -5.0, 5.0),
        (Unary::Powi(3), |x| x * x * x, -3.0, 3.0),
        (Unary::Powi(-2), |x| 1.0 / (x * x), 0.2, 4.0),
        (Unary::Powi(0), |_| 1.0, -3.0, 3.0),
        (Unary::Powf(2.5), |x| x.powf(2.5), 0.05, 5.0),
        (Unary::Powf(-0.5), |x| x.powf(-0.5), 0.05, 5.0),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_unary_derivative_matches_finite_differences(t in 0.0f64..1.0, which in 0usize..18) {
        let (op, f, lo, hi) = unary_cases()[which];
        let x = lo + t * (hi - lo);
        // Stay clear of the kinks of relu and abs, where no derivative exists.
        prop_assume!(!matches!(op, Unary::Relu | Unary::Abs) || x.abs() > 1e-3);
        let (value, grad) = unary_grad(op, x);
        prop_assert!((value - f(x)).abs() <= 1e-12 * f(x).abs().max(1.0), "{op:?}({x}) = {value}, expected {}", f(x));
        assert_close(grad, numeric(f, x), &format!("d/dx {op:?} at {x}"));
    }

    #[test]
    fn every_binary_derivative_matches_finite_differences(
        a in -4.0f64..4.0, b in -4.0f64..4.0, which in 0usize..7
    ) {
        let (op, f): (Binary, fn(f64, f64) -> f64) = [
            (Binary::Add, (|a, b| a + b) as fn(f64, f64) -> f64),
            (Binary::Sub, |a, b| a - b),
            (Binary::Mul, |a, b| a * b),
            (Binary::Div, |a, b| a / b),
            (Binary::Pow, f64::powf),
            (Binary::Max, f64::max),
            (Binary::Min, f64::min),
        ][which];
        let (a, b) = match op {
            // A positive base keeps a^b real; exponents in a moderate range keep it finite.
            Binary::Pow => (a.abs() + 0.1, b / 2.0),
            Binary::Div => (a, if b.abs() < 0.2 { b + 0.5 } else { b }),
            _ => (a, b),
        };
        prop_assume!(!matches!(op, Binary::Max | Binary::Min) || (a - b).abs() > 1e-3);
        let g = Graph::new();
        let (va, vb) = (g.var(a), g.var(b));
        let y = va.apply_binary(op, vb);
        let d = g.grad(y, &[va, vb]);
        prop_assert!((y.value() - f(a, b)).abs() <= 1e-12 * f(a, b).abs().max(1.0));
        assert_close(d[0], numeric(|a| f(a, b), a), &format!("∂/∂a {op:?} at ({a}, {b})"));
        assert_close(d[1], numeric(|b| f(a, b), b), &format!("∂/∂b {op:?} at ({a}, {b})"));
    }
}

#[test]
fn closed_forms_of_common_derivatives() {
    let x = 0.7f64;
    let cases: [(Unary, f64); 8] = [
        (Unary::Exp, x.exp()),
        (Unary::Ln, 1.0 / x),
        (Unary::Sqrt, 0.5 / x.sqrt()),
        (Unary::Sin, x.cos()),
        (Unary::Cos, -x.sin()),
        (Unary::Tan, 1.0 / (x.cos() * x.cos())),
        (Unary::Tanh, 1.0 - x.tanh() * x.tanh()),
        (Unary::Sigmoid, sigmoid(x) * (1.0 - sigmoid(x))),
    ];
    for (op, expected) in cases {
        let (_, d) = unary_grad(op, x);
        assert!(
            (d - expected).abs() < 1e-14,
            "{op:?}: {d} vs closed form {expected}"
        );
    }
}

#[test]
fn kinks_follow_pytorch_conventions() {
    assert_eq!(unary_grad(Unary::Relu, 0.0), (0.0, 0.0), "relu'(0) = 0");
    assert_eq!(unary_grad(Unary::Abs, 0.0), (0.0, 0.0), "abs'(0) = 0");
    assert_eq!(unary_grad(Unary::Relu, 2.0).1, 1.0);
    assert_eq!(unary_grad(Unary::Abs, -2.0).1, -1.0);
    let g = Graph::new();
    let (a, b) = (g.var(3.0), g.var(3.0));
    assert_eq!(
        g.grad(a.max(b), &[a, b]),
        vec![0.5, 0.5],
        "max splits a tie"
    );
    assert_eq!(
        g.grad(a.min(b), &[a, b]),
        vec![0.5, 0.5],
        "min splits a tie"
    );
    let c = g.var(1.0);
    assert_eq!(g.grad(a.max(c), &[a, c]), vec![1.0, 0.0]);
    assert_eq!(g.grad(a.min(c), &[a, c]), vec![0.0, 1.0]);
    // pow: no gradient into the exponent at a zero base, none into the base at a zero exponent.
    let (zero, two) = (g.var(0.0), g.var(2.0));
    assert_eq!(g.grad(zero.powf(two), &[zero, two]), vec![0.0, 0.0]);
    let (base, z) = (g.var(0.0), g.var(0.0));
    assert_eq!(g.grad(base.powf(z), &[base, z]), vec![0.0, 0.0]);
}

#[test]
fn sigmoid_is_finite_for_huge_inputs() {
    for x in [-1e4, -800.0, 800.0, 1e4] {
        let (y, d) = unary_grad(Unary::Sigmoid, x);
        assert!(
            y.is_finite() && d.is_finite(),
            "sigmoid({x}) = {y}, derivative {d}"
        );
    }
    assert_eq!(unary_grad(Unary::Sigmoid, 1e4).0, 1.0);
    assert_eq!(unary_grad(Unary::Sigmoid, -1e4).0, 0.0);
}
