//! Symbolic derivatives: printed, parsed back, and evaluated against the engine.

use chainrule::{Expr, Graph};
use proptest::prelude::*;

fn d(src: &str, var: &str) -> String {
    Expr::parse(src).unwrap().derivative(var).to_string()
}

#[test]
fn simple_derivatives_read_as_written_by_hand() {
    assert_eq!(d("3*x^2+1", "x"), "6 * x");
    assert_eq!(d("x^3", "x"), "3 * x^2");
    assert_eq!(d("sin(x)", "x"), "cos(x)");
    assert_eq!(d("exp(2*x)", "x"), "2 * exp(2 * x)");
    assert_eq!(d("x*y + y", "y"), "x + 1");
    assert_eq!(d("x - x + y", "x"), "0");
    assert_eq!(d("relu(x)", "x"), "step(x)");
    assert_eq!(d("abs(x)", "x"), "sign(x)");
    assert_eq!(d("max(x, y)", "x"), "0.5 * sign(x - y) + 0.5");
    assert_eq!(d("1/x", "x"), "-(1 / x^2)");
    // Like terms collect, powers of one base divide, a number over a denominator is a fraction.
    assert_eq!(d("sin(x)^2 + cos(x)^2", "x"), "0");
    assert_eq!(d("2*x*y - 5*x*y", "x"), "-3 * y");
    assert_eq!(d("x^3/x", "x"), "2 * x");
    assert_eq!(d("x/x^4", "x"), "-3 / x^4");
    assert_eq!(d("ln(x^2)", "x"), "2 / x");
    assert_eq!(d("x*y/x", "x"), "0");
    assert_eq!(d("x^5*y/x^2", "x"), "3 * x^2 * y");
    assert_eq!(
        Expr::parse("3*x^2+1")
            .unwrap()
            .nth_derivative("x", 2)
            .to_string(),
        "6"
    );
    assert_eq!(
        Expr::parse("3*x^2+1")
            .unwrap()
            .nth_derivative("x", 3)
            .to_string(),
        "0"
    );
}

#[test]
fn like_terms_collect_across_nested_sums_and_products_of_sums() {
    let nth = |src: &str, n: usize| Expr::parse(src).unwrap().nth_derivative("x", n).to_string();
    assert_eq!(nth("(x+1)+(y+2)", 0), "x + y + 3");
    assert_eq!(nth("cos(x) + (sin(x) + cos(x)) - sin(x)", 0), "2 * cos(x)");
    // (eˣ sin x)'' = 2 eˣ cos x, and the fourth derivative is -4 eˣ sin x.
    assert_eq!(nth("exp(x)*sin(x)", 2), "2 * exp(x) * cos(x)");
    assert_eq!(nth("exp(x)*sin(x)", 4), "-4 * exp(x) * sin(x)");
    // A product with a sum is multiplied out only when that leaves fewer terms.
    assert_eq!(nth("(x+1)^3", 2), "6 * (x + 1)");
    // One order for the terms of a sum and the factors of a product, however they were built,
    // so that like terms meet: here the second derivative of sigmoid is a sum of two terms.
    assert_eq!(nth("x*y*2 + 2*(y*x)", 0), "4 * x * y");
    assert_eq!(nth("x*y*x - y*x^2", 0), "0");
    assert_eq!(
        nth("sigmoid(x)", 2),
        "sigmoid(x) * (1 - sigmoid(x))^2 - sigmoid(x)^2 * (1 - sigmoid(x))"
    );
    // Quotients: the numbers in front, denominators merged.
    assert_eq!(nth("(3*x/y)/(2*z)", 0), "1.5 * x / (y * z)");
    assert_eq!(nth("1 - x - y", 0), "1 - x - y");
}

#[test]
fn high_order_derivatives_stay_short_and_match_an_independent_value() {
    // d⁸/dx⁸ (eˣ sin(x) x³) at x = 0.3, from SymPy: -2804.48964966457.
    let d = Expr::parse("exp(x)*sin(x)*x^3")
        .unwrap()
        .nth_derivative("x", 8);
    let text = d.to_string();
    assert!(text.len() < 1000, "{} characters: {text}", text.len());
    let v = Expr::parse(&text).unwrap().eval(&[0.3]);
    assert!((v - -2804.48964966457).abs() < 1e-9 * 2804.5, "{v}");
}

#[test]
fn sin_cycles_symbolically() {
    let e = Expr::parse("sin(x)").unwrap();
    let orders: Vec<String> = (0..=4)
        .map(|n| e.nth_derivative("x", n).to_string())
        .collect();
    assert_eq!(orders, ["sin(x)", "cos(x)", "-sin(x)", "-cos(x)", "sin(x)"]);
}

#[test]
fn nested_input_stays_small() {
    // sin(sin(...sin(x))) 40 deep: the derivative is a product of 40 cosines over shared
    // subformulas, not an exponential blow-up.
    let mut src = "x".to_string();
    for _ in 0..40 {
        src = format!("sin({src})");
    }
    let e = Expr::parse(&src).unwrap();
    let d = e.derivative("x");
    assert!(d.nodes().len() < 200, "{} nodes", d.nodes().len());
    let g = Graph::new();
    let b = e.build_with(&g, &[0.3]);
    let want = g.grad(b.output, &b.inputs)[0];
    assert!((d.eval(&[0.3]) - want).abs() < 1e-14);
}

/// Random expressions in x and y, built from every function of the language.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("y".to_string()),
        Just("2".to_string()),
        Just("0.5".to_string()),
        Just("3".to_string()),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        let u = inner.clone();
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) + ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) - ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) * ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) / (({b})^2 + 1)")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(({a})^2 + 1)^sin({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("max({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("min({a}, {b})")),
            (
                prop::sample::select(vec![
                    "sin", "cos", "tanh", "sigmoid", "relu", "abs", "-", "exp", "tan"
                ]),
                u.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            u.clone().prop_map(|a| format!("sqrt(({a})^2 + 1)")),
            u.clone().prop_map(|a| format!("ln(({a})^2 + 0.5)")),
            (u, 1..4i32).prop_map(|(a, n)| format!("({a})^{n}")),
        ]
    })
}

/// The first three derivatives by the engine (gradients recorded as graphs, then a sweep).
fn engine_derivatives(e: &Expr, at: &[f64], k: usize) -> [f64; 3] {
    let g = Graph::new();
    let b = e.build_with(&g, at);
    let first = g.grad_graph(b.output, &b.inputs)[k];
    let second = g.grad_graph(first, &b.inputs)[k];
    [first.value(), second.value(), g.grad(second, &b.inputs)[k]]
}

fn agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-8 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn derivative_parses_back_and_agrees_with_the_engine(
        src in expr(),
        x in -2.0..2.0f64,
        y in -2.0..2.0f64,
        wrt_y in any::<bool>(),
    ) {
        let e = Expr::parse(&src).unwrap();
        let var = if wrt_y { "y" } else { "x" };
        let Some(k) = e.variables().iter().position(|v| v == var) else {
            prop_assert_eq!(e.derivative(var).to_string(), "0");
            return Ok(());
        };
        let at: Vec<f64> = e.variables().iter().map(|v| if v == "x" { x } else { y }).collect();
        let engine = engine_derivatives(&e, &at, k);
        for (order, want) in (1..).zip(engine) {
            let sym = e.nth_derivative(var, order);
            let text = sym.to_string();
            let reparsed = Expr::parse(&text).unwrap_or_else(|err| panic!("{text}: {err}"));
            let values: Vec<f64> =
                reparsed.variables().iter().map(|v| if v == "x" { x } else { y }).collect();
            let got = reparsed.eval(&values);
            // The printer drops the parentheses of `a + (b + c)`, so the text reads back as an
            // equal expression whose sums may associate differently: equal up to rounding.
            let direct = sym.eval(&at);
            prop_assert!(
                agree(got, direct) || (got.is_nan() && direct.is_nan()) || got == direct,
                "reparsed {text} differs: {got} vs {direct}"
            );
            if want.is_finite() && e.eval(&at).is_finite() {
                prop_assert!(agree(got, want), "d^{order}/d{var}^{order} {src} at ({x}, {y}): \
                    symbolic {text} = {got}, engine {want}");
            }
        }
    }
}

#[test]
fn sums_too_long_to_collect_term_by_term_still_cancel_as_a_whole() {
    // 40 distinct terms: past the limit of term-by-term collection, the sum minus itself is
    // still 0, and its derivative is still right.
    let long: Vec<String> = (1..=40).map(|k| format!("sin({k}*x)")).collect();
    let s = long.join(" + ");
    let e = Expr::parse(&format!("({s}) - ({s})")).unwrap();
    assert_eq!(e.nth_derivative("x", 0).to_string(), "0");
    let d = Expr::parse(&s).unwrap().derivative("x");
    let want: f64 = (1..=40).map(|k| k as f64 * (k as f64 * 0.3).cos()).sum();
    assert!((d.eval(&[0.3]) - want).abs() < 1e-9, "{}", d.eval(&[0.3]));
}

#[test]
fn progress_is_reported_once_per_order() {
    let e = Expr::parse("sin(x) * y").unwrap();
    let mut seen = Vec::new();
    let d = e.nth_derivative_with("x", 4, |k| seen.push(k));
    assert_eq!(d.to_string(), "sin(x) * y");
    assert_eq!(seen, [1, 2, 3, 4]);
    // A variable that does not occur: every order is 0, still reported.
    seen.clear();
    let d = e.nth_derivative_with("z", 2, |k| seen.push(k));
    assert_eq!(
        (d.to_string(), seen.as_slice()),
        ("0".to_string(), &[1, 2][..])
    );
    // Order 0 is the expression itself, and no order is built.
    seen.clear();
    let d = e.nth_derivative_with("x", 0, |k| seen.push(k));
    assert_eq!((d.to_string(), seen.len()), ("sin(x) * y".to_string(), 0));
}

#[test]
fn derivatives_of_the_activations_read_as_their_formulas() {
    assert_eq!(d("softplus(x)", "x"), "sigmoid(x)");
    assert_eq!(d("log_sigmoid(x)", "x"), "sigmoid(-x)");
    assert_eq!(d("log1p(x)", "x"), "1 / (x + 1)");
    assert_eq!(d("expm1(x)", "x"), "exp(x)");
    assert_eq!(d("square(x)", "x"), "2 * x");
    assert_eq!(d("leaky_relu(x)", "x"), "0.99 * step(x) + 0.01");
    for text in ["elu(x)", "silu(x)", "gelu_tanh(x)", "softplus(x)^2"] {
        // Printed derivatives parse back to the same function.
        let printed = d(text, "x");
        let back = Expr::parse(&printed).unwrap();
        let direct = Expr::parse(text).unwrap().derivative("x");
        for x in [-1.5, -0.25, 0.75, 2.0] {
            let (a, b) = (back.eval(&[x]), direct.eval(&[x]));
            assert!(
                (a - b).abs() < 1e-12,
                "{text}: {printed} at {x}: {a} vs {b}"
            );
        }
    }
}
