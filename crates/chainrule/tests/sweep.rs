//! The scalar engine has one reverse sweep and one forward sweep, each run in several modes:
//! on numbers with and without the anomaly check, on graph nodes (gradients that are graphs),
//! and on formulas (symbolic derivatives). These tests hold each mode to what the separate
//! loops it replaced computed, and the modes to each other and to finite differences.

use chainrule::anomaly::Phase;
use chainrule::{Binary, Expr, Graph, NodeId, Op, Unary};
use proptest::prelude::*;

/// The checked backward sweep as it was written before the modes were merged: a reference
/// kept in the test, built only on the public rules and nodes. Returns every node's adjoint and
/// the first (node, produced) whose rule turned a finite adjoint into a non-finite gradient.
fn reference_checked_sweep(g: &Graph, output: NodeId) -> (Vec<f64>, Option<(usize, f64)>) {
    let nodes = g.nodes();
    let n = output.index() + 1;
    let mut adjoint = vec![0.0f64; n];
    let mut reached = vec![false; n];
    adjoint[output.index()] = 1.0;
    reached[output.index()] = true;
    let mut found = None;
    for i in (0..n).rev() {
        if !reached[i] {
            continue;
        }
        let (gi, y) = (adjoint[i], nodes[i].value);
        let check = gi.is_finite() && found.is_none();
        let mut add = |x: usize, d: f64, found: &mut Option<(usize, f64)>| {
            let before = adjoint[x];
            adjoint[x] += d;
            reached[x] = true;
            if check && before.is_finite() && !adjoint[x].is_finite() && found.is_none() {
                *found = Some((i, if d.is_finite() { adjoint[x] } else { d }));
            }
        };
        match nodes[i].op {
            Op::Variable => {}
            Op::Constant => adjoint[i] = 0.0,
            Op::Unary(op, x) => {
                let x = x.index();
                add(x, op.backward(nodes[x].value, y, gi), &mut found);
            }
            Op::Binary(op, a, b) => {
                let (a, b) = (a.index(), b.index());
                let (ga, gb) = op.backward(nodes[a].value, nodes[b].value, y, gi);
                add(a, ga, &mut found);
                add(b, gb, &mut found);
            }
        }
    }
    (adjoint, found)
}

/// The same number, NaN included.
fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Random expressions of `x`, `y`, `z` and small constants, with the operations given.
fn expression(
    unary: &'static [&'static str],
    binary: &'static [&'static str],
) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        prop::sample::select(vec!["x", "y", "z"]).prop_map(str::to_string),
        prop::sample::select(vec!["0.5", "2", "3"]).prop_map(str::to_string),
    ];
    leaf.prop_recursive(5, 24, 2, move |inner| {
        prop_oneof![
            (prop::sample::select(unary), inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), prop::sample::select(binary), inner)
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        ]
    })
    .boxed()
}

const SMOOTH_UNARY: &[&str] = &["sin", "cos", "tanh", "sigmoid", "erf", "-"];
const SMOOTH_BINARY: &[&str] = &["+", "-", "*"];
const RISKY_UNARY: &[&str] = &["sqrt", "ln", "exp", "relu", "abs", "tan"];
const RISKY_BINARY: &[&str] = &["+", "-", "*", "/", "^"];

/// The expression, and the values of its variables (in its order) taken from `at` = (x, y, z).
fn parse_at(text: &str, at: [f64; 3]) -> (Expr, Vec<f64>) {
    let expr = Expr::parse(text).unwrap();
    let point = expr
        .variables()
        .iter()
        .map(|v| at[["x", "y", "z"].iter().position(|n| n == v).unwrap()])
        .collect();
    (expr, point)
}

/// The gradient of `expr` at `point` (one value per variable, in the expression's order) by
/// central finite differences.
fn finite_differences(expr: &Expr, point: &[f64]) -> Vec<f64> {
    let h = 1e-6;
    (0..point.len())
        .map(|k| {
            let mut p = point.to_vec();
            p[k] += h;
            let up = expr.eval(&p);
            p[k] -= 2.0 * h;
            (up - expr.eval(&p)) / (2.0 * h)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Forward mode (one sweep per input), reverse mode on numbers, reverse mode recorded on
    /// the graph, and the symbolic derivative (the forward sweep on formulas) agree with each
    /// other, and with central finite differences.
    #[test]
    fn every_mode_agrees_with_finite_differences(
        text in expression(SMOOTH_UNARY, SMOOTH_BINARY),
        at in prop::array::uniform3(-1.5..1.5f64),
    ) {
        let (expr, point) = parse_at(&text, at);
        prop_assume!(!point.is_empty() && expr.eval(&point).abs() < 1e3);
        let g = Graph::new();
        let b = expr.build_with(&g, &point);
        let reverse = g.grad(b.output, &b.inputs);
        let recorded: Vec<f64> = g.grad_graph(b.output, &b.inputs).iter().map(|v| v.value()).collect();
        let fd = finite_differences(&expr, &point);
        for k in 0..point.len() {
            let mut e = vec![0.0; point.len()];
            e[k] = 1.0;
            let forward = g.jvp(&[b.output], &b.inputs, &e)[0];
            let symbolic = expr.derivative(&expr.variables()[k]).eval(&point);
            prop_assert!(close(forward, reverse[k], 1e-12), "{text}: forward {forward}, reverse {}", reverse[k]);
            prop_assert!(close(recorded[k], reverse[k], 1e-12), "{text}: recorded {}, reverse {}", recorded[k], reverse[k]);
            prop_assert!(close(symbolic, reverse[k], 1e-9), "{text}: symbolic {symbolic}, reverse {}", reverse[k]);
            prop_assert!(close(fd[k], reverse[k], 1e-5), "{text}: differences {}, reverse {}", fd[k], reverse[k]);
        }
    }

    /// The checked mode of the sweep gives the gradients and the anomaly of the checked copy of
    /// the sweep it replaced, on expressions full of square roots, logarithms and divisions at
    /// points where they break.
    #[test]
    fn checked_mode_finds_what_the_checked_copy_found(
        text in expression(RISKY_UNARY, RISKY_BINARY),
        at in prop::array::uniform3(prop::sample::select(vec![0.0, -1.0, 1.0, 0.5, 2.0])),
        detect in any::<bool>(),
    ) {
        let (expr, point) = parse_at(&text, at);
        let g = Graph::new();
        g.set_detect_anomaly(detect);
        let b = expr.build_with(&g, &point);
        let (adjoint, found) = reference_checked_sweep(&g, b.output.id());
        g.take_anomaly(); // a forward one, if any
        match g.try_grad(b.output, &b.inputs) {
            Ok(grads) => {
                prop_assert!(found.is_none(), "{text}: the copy found {found:?}");
                for (v, d) in b.inputs.iter().zip(&grads) {
                    prop_assert!(same(*d, adjoint[v.id().index()]), "{text}");
                }
            }
            Err(a) => {
                prop_assert_eq!(a.phase, Phase::Backward);
                let (node, produced) = found.expect("the copy found it too");
                prop_assert_eq!(a.node, node, "{}", text);
                prop_assert!(same(a.produced, produced), "{text}: {} against {produced}", a.produced);
                prop_assert_eq!(g.anomaly().is_some(), detect);
            }
        }
        // Unchecked, the same sweep gives the same numbers.
        let grads = g.grad(b.output, &b.inputs);
        for (v, d) in b.inputs.iter().zip(&grads) {
            prop_assert!(same(*d, adjoint[v.id().index()]), "{text}");
        }
    }
}

#[test]
fn checked_mode_names_the_rule_at_fault_not_the_ones_after_it() {
    let g = Graph::new();
    let x = g.var(0.0);
    let y = x.sqrt(); // sqrt'(0) is infinite: the rule at fault
    let z = (y * 2.0).sin() * x; // a finite gradient flows back into y
    let err = g.try_grad(z, &[x]).unwrap_err();
    assert_eq!(
        (err.op.as_str(), err.node, err.phase),
        ("sqrt", y.id().index(), Phase::Backward)
    );
    let (_, found) = reference_checked_sweep(&g, z.id());
    assert_eq!(found.map(|f| f.0), Some(y.id().index()));
    assert!(g.anomaly().is_none(), "detection is off: nothing is kept");
    // With detection on, the same anomaly is kept, and `grad` (checked then) still answers.
    g.set_detect_anomaly(true);
    assert!(g.grad(z, &[x])[0].is_nan());
    assert_eq!(g.anomaly().unwrap().node, err.node);
}

#[test]
fn recorded_mode_records_nothing_for_branches_that_lead_nowhere() {
    // f = x² + heavy(y): the gradient with respect to x needs nothing of the y branch, so its
    // recorded graph is the same size as for f = x² + y.
    let count = |heavy: bool| {
        let g = Graph::new();
        let (x, y) = (g.var(1.5), g.var(0.7));
        let branch = if heavy {
            let mut b = y;
            for _ in 0..20 {
                b = (b.sin() * b).exp().tanh();
            }
            b
        } else {
            y
        };
        let f = x * x + branch;
        let branch_nodes = (y.id().index()..=branch.id().index()).collect::<Vec<_>>();
        let before = g.len();
        let d = g.grad_graph(f, &[x])[0];
        assert_eq!(d.value(), 3.0);
        for i in before..g.len() {
            let node = g.nodes()[i];
            assert!(
                node.op.inputs().all(|k| !branch_nodes.contains(&k.index())),
                "node #{i} reads the y branch"
            );
        }
        g.len() - before
    };
    assert_eq!(count(true), count(false));
}

#[test]
fn recorded_mode_gives_constant_zero_for_inputs_the_output_ignores() {
    let g = Graph::new();
    let (x, y, c) = (g.var(2.0), g.var(3.0), g.constant(4.0));
    let f = x * c;
    let d = g.grad_graph(f, &[x, y, c, f]);
    let values: Vec<f64> = d.iter().map(|v| v.value()).collect();
    assert_eq!(values, vec![4.0, 0.0, 0.0, 1.0]);
    for v in &d[1..3] {
        assert_eq!(g.node(v.id()).op, Op::Constant);
    }
}

#[test]
fn forward_mode_skips_what_does_not_move() {
    // ln(0) elsewhere, and 0 · ∞ at a node that does not move, leak no NaN into forward mode.
    let g = Graph::new();
    let (x, y) = (g.var(2.0), g.var(0.0));
    let f = x * x + y.sqrt() * 0.0 + y.ln();
    let _ = f;
    assert_eq!(g.jvp(&[x * 3.0], &[x, y], &[1.0, 0.0]), vec![3.0]);
    let u = x
        .apply_unary(Unary::Powi(3))
        .apply_binary(Binary::Mul, y.sqrt());
    assert_eq!(g.jvp(&[u], &[x, y], &[1.0, 0.0]), vec![0.0]);
}
