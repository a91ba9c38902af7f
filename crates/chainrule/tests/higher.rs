//! Higher-order and forward-mode derivatives against independent truths: closed forms, finite
//! differences of the first derivative, and identities between the modes.

use chainrule::check::gradgradcheck;
use chainrule::functional::{
    grad, hessian, hvp, jacfwd, jacrev, jvp, jvp_vec, nth_derivative, value_grad_hessian, vjp,
};
use chainrule::{Binary, GradCheckOptions, Graph, Unary, Var};
use proptest::prelude::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn rosenbrock<'g>(_g: &'g Graph, v: &[Var<'g>]) -> Var<'g> {
    let (x, y) = (v[0], v[1]);
    (1.0 - x).powi(2) + 100.0 * (y - x.powi(2)).powi(2)
}

#[test]
fn rosenbrock_hessian_matches_closed_form() {
    for &(x, y) in &[(1.0, 1.0), (-1.2, 1.0), (0.3, -0.7), (2.0, 3.5)] {
        let h = value_grad_hessian(rosenbrock, &[x, y]);
        let expected = [
            [2.0 - 400.0 * (y - x * x) + 800.0 * x * x, -400.0 * x],
            [-400.0 * x, 200.0],
        ];
        for (row, want) in h.hessian.iter().zip(&expected) {
            for (got, want) in row.iter().zip(want) {
                assert!(close(*got, *want, 1e-12), "{h:?}");
            }
        }
        let gx = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
        let gy = 200.0 * (y - x * x);
        assert!(close(h.gradient[0], gx, 1e-12) && close(h.gradient[1], gy, 1e-12));
    }
}

#[test]
fn newton_converges_on_rosenbrock() {
    // Newton's method with the engine's gradient and Hessian: x ← x - H⁻¹∇f.
    let mut p = [-1.2, 1.0];
    for _ in 0..20 {
        let h = value_grad_hessian(rosenbrock, &p);
        let [[a, b], [c, d]] = [
            [h.hessian[0][0], h.hessian[0][1]],
            [h.hessian[1][0], h.hessian[1][1]],
        ];
        let det = a * d - b * c;
        let (g0, g1) = (h.gradient[0], h.gradient[1]);
        p[0] -= (d * g0 - b * g1) / det;
        p[1] -= (-c * g0 + a * g1) / det;
    }
    assert!(
        (p[0] - 1.0).abs() < 1e-10 && (p[1] - 1.0).abs() < 1e-10,
        "{p:?}"
    );
}

#[test]
fn newton_converges_quadratically_on_a_smooth_bowl() {
    // f = exp(x - 1) - x + (y + 2)² + 0.1·(x - 1)²·(y + 2)²: minimum at (1, -2).
    fn f<'g>(_g: &'g Graph, v: &[Var<'g>]) -> Var<'g> {
        let (x, y) = (v[0], v[1]);
        (x - 1.0).exp() - x + (y + 2.0).powi(2) + 0.1 * ((x - 1.0).powi(2) * (y + 2.0).powi(2))
    }
    let mut p = [2.0, 0.0];
    let mut steps = 0;
    while steps < 10 {
        let h = value_grad_hessian(f, &p);
        if h.gradient.iter().all(|d| d.abs() < 1e-14) {
            break;
        }
        let [[a, b], [c, d]] = [
            [h.hessian[0][0], h.hessian[0][1]],
            [h.hessian[1][0], h.hessian[1][1]],
        ];
        let det = a * d - b * c;
        let (g0, g1) = (h.gradient[0], h.gradient[1]);
        p[0] -= (d * g0 - b * g1) / det;
        p[1] -= (-c * g0 + a * g1) / det;
        steps += 1;
    }
    assert!(
        (p[0] - 1.0).abs() < 1e-12 && (p[1] + 2.0).abs() < 1e-12,
        "{p:?}"
    );
    assert!(steps <= 7, "Newton took {steps} steps");
}

#[test]
fn derivatives_of_sin_cycle() {
    for &x in &[0.0, 0.7, -2.3, 4.0] {
        let d = |n| nth_derivative(|_g, v| v.sin(), x, n);
        assert!(close(d(1), x.cos(), 1e-15));
        assert!(close(d(2), -x.sin(), 1e-15));
        assert!(close(d(3), -x.cos(), 1e-15));
        assert!(close(d(4), x.sin(), 1e-15));
        assert!(close(d(8), x.sin(), 1e-14));
    }
}

#[test]
fn fifth_derivative_of_a_power() {
    // d⁵/dx⁵ x⁷ = 7·6·5·4·3 x² = 2520 x²
    assert_eq!(nth_derivative(|_g, v| v.powi(7), 2.0, 5), 2520.0 * 4.0);
    assert_eq!(nth_derivative(|_g, v| v.powi(7), 2.0, 8), 0.0);
}

#[test]
fn grad_graph_of_an_unrelated_input_is_a_zero_constant() {
    let g = Graph::new();
    let (x, y) = (g.var(1.0), g.var(2.0));
    let f = x.exp();
    let d = g.grad_graph(f, &[x, y]);
    assert_eq!(d[0].value(), 1f64.exp());
    assert_eq!(d[1].value(), 0.0);
    assert_eq!(g.grad(d[1], &[x, y]), vec![0.0, 0.0]);
}

#[test]
fn grad_graph_with_respect_to_an_intermediate_node() {
    let g = Graph::new();
    let x = g.var(3.0);
    let u = x * x; // 9
    let f = u.sin() * x;
    let d = g.grad_graph(f, &[u, x]);
    assert_eq!(d[0].value(), 9f64.cos() * 3.0); // ∂f/∂u with x held
    assert_eq!(d[1].value(), g.grad(f, &[x])[0]);
    assert_eq!(g.grad(f, &[u]), vec![d[0].value()]);
}

#[test]
fn first_order_sweep_is_unchanged_by_grad_graph() {
    let g = Graph::new();
    let x = g.var(0.5);
    let y = (x * x).sin() * x.exp();
    let before = g.grad(y, &[x]);
    let d = g.grad_graph(y, &[x])[0];
    assert_eq!(d.value(), before[0]);
    assert_eq!(g.grad(y, &[x]), before);
}

#[test]
fn relu_abs_max_min_second_derivatives_vanish_away_from_kinks() {
    let h = hessian(
        |_g, v| v[0].relu() * v[1] + v[0].abs() + v[0].max(v[1]) * v[1] + v[0].min(v[1]),
        &[1.5, -0.5],
    );
    // relu(x)·y → [[0, 1], [1, 0]]; max(x, y)·y = x·y here → [[0, 1], [1, 0]].
    assert_eq!(h, vec![vec![0.0, 2.0], vec![2.0, 0.0]]);
}

// ---- every rule, twice differentiated ----

const UNARY: &[(Unary, f64, f64)] = &[
    (Unary::Neg, -3.0, 3.0),
    (Unary::Exp, -3.0, 3.0),
    (Unary::Ln, 0.1, 5.0),
    (Unary::Sqrt, 0.1, 5.0),
    (Unary::Sin, -4.0, 4.0),
    (Unary::Cos, -4.0, 4.0),
    (Unary::Tan, -1.2, 1.2),
    (Unary::Tanh, -3.0, 3.0),
    (Unary::Sigmoid, -5.0, 5.0),
    (Unary::Relu, -3.0, 3.0),
    (Unary::Abs, -3.0, 3.0),
    (Unary::AddConst(1.5), -3.0, 3.0),
    (Unary::MulConst(-2.5), -3.0, 3.0),
    (Unary::Powi(0), -3.0, 3.0),
    (Unary::Powi(1), -3.0, 3.0),
    (Unary::Powi(2), -3.0, 3.0),
    (Unary::Powi(3), -3.0, 3.0),
    (Unary::Powi(-2), 0.2, 3.0),
    (Unary::Powf(2.5), 0.1, 3.0),
    (Unary::Powf(-0.5), 0.1, 3.0),
    (Unary::Step, -3.0, 3.0),
    (Unary::Sign, -3.0, 3.0),
];

type Domain = (f64, f64);

const BINARY: &[(Binary, Domain, Domain)] = &[
    (Binary::Add, (-3.0, 3.0), (-3.0, 3.0)),
    (Binary::Sub, (-3.0, 3.0), (-3.0, 3.0)),
    (Binary::Mul, (-3.0, 3.0), (-3.0, 3.0)),
    (Binary::Div, (-3.0, 3.0), (0.3, 3.0)),
    (Binary::Pow, (0.2, 3.0), (-2.0, 2.0)),
    (Binary::Max, (-3.0, 3.0), (-3.0, 3.0)),
    (Binary::Min, (-3.0, 3.0), (-3.0, 3.0)),
];

fn lerp((lo, hi): (f64, f64), t: f64) -> f64 {
    lo + (hi - lo) * t
}

/// Points at least `0.05` from a kink (0 for unary ops; `a == b` for max and min).
fn away_from_kinks(v: f64) -> f64 {
    if v.abs() < 0.05 {
        v + 0.1
    } else {
        v
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn gradgradcheck_every_unary_rule(i in 0..UNARY.len(), t in 0.0..1.0f64, s in -2.0..2.0f64) {
        let (op, lo, hi) = UNARY[i];
        let x = away_from_kinks(lerp((lo, hi), t));
        // s multiplies the output, so the rule's dependence on its incoming adjoint is tested too.
        let report = gradgradcheck(
            |_g, v| v[0].apply_unary(op) * v[1],
            &["x", "s"],
            &[x, s],
            GradCheckOptions::default(),
        );
        prop_assert!(report.passed(), "{op:?} at {x}: {report:#?}");
    }

    #[test]
    fn gradgradcheck_every_binary_rule(
        i in 0..BINARY.len(), ta in 0.0..1.0f64, tb in 0.0..1.0f64, s in -2.0..2.0f64,
    ) {
        let (op, da, db) = BINARY[i];
        let (a, mut b) = (lerp(da, ta), lerp(db, tb));
        if matches!(op, Binary::Max | Binary::Min) && (a - b).abs() < 0.05 {
            b += 0.1;
        }
        let report = gradgradcheck(
            |_g, v| v[0].apply_binary(op, v[1]) * v[2],
            &["a", "b", "s"],
            &[a, b, s],
            GradCheckOptions::default(),
        );
        prop_assert!(report.passed(), "{op:?} at ({a}, {b}): {report:#?}");
    }

    #[test]
    fn quadratic_form_hessian_is_a_plus_a_transpose(
        a in prop::collection::vec(-3.0..3.0f64, 9), x in prop::collection::vec(-2.0..2.0f64, 3),
    ) {
        let h = hessian(
            |_g, v| {
                let mut total: Option<Var> = None;
                for i in 0..3 {
                    for j in 0..3 {
                        let term = a[3 * i + j] * (v[i] * v[j]);
                        total = Some(match total { Some(t) => t + term, None => term });
                    }
                }
                total.unwrap()
            },
            &x,
        );
        for i in 0..3 {
            for j in 0..3 {
                prop_assert!(close(h[i][j], a[3 * i + j] + a[3 * j + i], 1e-12));
            }
        }
    }

    #[test]
    fn jvp_and_vjp_agree(
        x in prop::collection::vec(-1.5..1.5f64, 3),
        u in prop::collection::vec(-2.0..2.0f64, 2),
        v in prop::collection::vec(-2.0..2.0f64, 3),
    ) {
        fn f<'g>(_g: &'g Graph, p: &[Var<'g>]) -> Vec<Var<'g>> {
            vec![
                (p[0] * p[1]).sin() + p[2].exp() * p[0],
                (p[1] - p[2]).tanh() / (p[0] * p[0] + 1.0) + p[2].max(p[0]),
            ]
        }
        let (_, jv) = jvp_vec(f, &x, &v);
        let (_, ut_j) = vjp(f, &x, &u);
        let lhs: f64 = u.iter().zip(&jv).map(|(a, b)| a * b).sum();
        let rhs: f64 = ut_j.iter().zip(&v).map(|(a, b)| a * b).sum();
        prop_assert!(close(lhs, rhs, 1e-12), "{lhs} vs {rhs}");
        let (jr, jf) = (jacrev(f, &x), jacfwd(f, &x));
        for (r, f) in jr.iter().flatten().zip(jf.iter().flatten()) {
            prop_assert!(close(*r, *f, 1e-12));
        }
    }

    #[test]
    fn forward_over_reverse_matches_reverse_over_reverse(
        x in prop::collection::vec(0.2..2.0f64, 3), v in prop::collection::vec(-1.0..1.0f64, 3),
    ) {
        fn f<'g>(_g: &'g Graph, p: &[Var<'g>]) -> Var<'g> {
            (p[0] * p[1] * p[2]).ln() + p[0].powf(p[1]) + (p[2] / p[0]).sigmoid() * p[1].sqrt()
        }
        let h = hessian(f, &x);
        let g = Graph::new();
        let vs: Vec<Var> = x.iter().map(|&a| g.var(a)).collect();
        let d = g.grad_graph(f(&g, &vs), &vs);
        let hv = hvp(f, &x, &v);
        for i in 0..3 {
            let row = g.grad(d[i], &vs);
            let mut hvi = 0.0;
            for j in 0..3 {
                prop_assert!(close(h[i][j], row[j], 1e-12));
                prop_assert!(close(h[i][j], h[j][i], 1e-12));
                hvi += h[i][j] * v[j];
            }
            prop_assert!(close(hv[i], hvi, 1e-12));
        }
        let (y, dy) = jvp(f, &x, &v);
        let gr = grad(f, &x);
        prop_assert!(y.is_finite());
        prop_assert!(close(dy, gr.iter().zip(&v).map(|(a, b)| a * b).sum(), 1e-12));
    }
}
