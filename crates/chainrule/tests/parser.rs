//! The expression language: precedence as in Python (with `^` for powers), errors that point at
//! the column, and no input that can panic or overflow the stack.

use chainrule::expr::MAX_DEPTH;
use chainrule::{Expr, Graph};
use proptest::prelude::*;

fn eval(src: &str, vars: &[(&str, f64)]) -> f64 {
    let e = Expr::parse(src).unwrap_or_else(|err| panic!("{src}: {err}"));
    let values: Vec<f64> = e
        .variables()
        .iter()
        .map(|v| vars.iter().find(|(n, _)| n == v).expect("value given").1)
        .collect();
    e.eval(&values)
}

#[test]
fn precedence_follows_python() {
    let x = [("x", 3.0), ("a", 2.0), ("b", 5.0), ("c", 7.0)];
    assert_eq!(
        eval("-x^2", &x),
        -9.0,
        "power binds tighter than unary minus"
    );
    assert_eq!(eval("2^3^2", &x), 512.0, "power is right-associative");
    assert_eq!(eval("2**3**2", &x), 512.0, "** is accepted for ^");
    assert_eq!(
        eval("a * -b", &x),
        -10.0,
        "unary minus after a binary operator"
    );
    assert_eq!(eval("a - b - c", &x), -10.0, "minus is left-associative");
    assert_eq!(eval("c / a / b", &x), 0.7, "division is left-associative");
    assert_eq!(eval("a + b * c", &x), 37.0);
    assert_eq!(eval("(a + b) * c", &x), 49.0);
    assert_eq!(eval("2^-1", &x), 0.5, "a signed exponent");
    assert_eq!(eval("-2^2", &x), -4.0);
    assert_eq!(eval("(-2)^2", &x), 4.0);
    assert_eq!(eval("--x", &x), 3.0);
    assert_eq!(eval("a*b^2", &x), 50.0);
    assert_eq!(eval("1e-3 * 2 + .5", &x), 0.502);
    assert_eq!(eval("max(a, b) - min(a, b)", &x), 3.0);
    assert_eq!(
        eval("log(x) - ln(x)", &x),
        0.0,
        "log is the natural logarithm"
    );
    assert_eq!(eval("sqrt(4) + abs(-2) + relu(-1)", &x), 4.0);
}

#[test]
fn negative_zero_keeps_its_sign_when_printed() {
    let e = Expr::parse("x / max(-0, -0)").unwrap();
    let printed = e.to_string();
    assert_eq!(printed, "x / max(-0, -0)");
    assert_eq!(Expr::parse(&printed).unwrap().eval(&[-1.0]), f64::INFINITY);
    // A negative zero as the base of a power keeps its parentheses: -(-0)^0 is -1, while
    // --0^0 would be +1.
    let e = Expr::parse("-(-0)^0").unwrap();
    assert_eq!(e.eval(&[]), -1.0);
    let printed = e.to_string();
    assert_eq!(
        Expr::parse(&printed).unwrap().eval(&[]),
        -1.0,
        "printed as {printed}"
    );
}

#[test]
fn variables_are_listed_in_order_of_first_appearance() {
    let e = Expr::parse("y_hat - y + w1*x + y").unwrap();
    assert_eq!(e.variables(), ["y_hat", "y", "w1", "x"]);
}

fn error(src: &str) -> (String, usize) {
    let err = Expr::parse(src).expect_err(src);
    (err.message().to_string(), err.column())
}

#[test]
fn errors_say_what_was_expected_and_where() {
    assert_eq!(
        error("x + * 2"),
        (
            "expected a number, a variable or '(', found '*'".to_string(),
            5
        )
    );
    assert_eq!(
        error("(x + 1"),
        (
            "expected ')' to close the '(' at column 1, found the end of the input".to_string(),
            7
        )
    );
    assert_eq!(
        error("2x"),
        (
            "expected an operator or the end of the input, found 'x' (write '*' for a product)"
                .to_string(),
            2
        )
    );
    assert_eq!(error("x)"), ("expected an operator or the end of the input, found ')' (this ')' has no matching '(')".to_string(), 2));
    assert_eq!(error("x $ y").1, 3);
    assert!(error("x $ y").0.contains("unexpected character '$'"));
    assert_eq!(error("").0, "expected an expression, found an empty input");
    assert_eq!(error("   ").1, 4);
    assert_eq!(
        error("1e+"),
        (
            "malformed number: expected digits after the exponent 'e'".to_string(),
            2
        )
    );
    assert!(error("foo(x)").0.starts_with("unknown function 'foo'"));
    assert_eq!(error("max(x)").0, "'max' takes 2 arguments, found 1");
    assert_eq!(error("sin(x, y)").0, "'sin' takes 1 argument, found 2");
    assert_eq!(error("exp + 1").0, "'exp' is a function: write exp(...)");
    assert_eq!(
        error("max(x,").0,
        "expected a number, a variable or '(', found the end of the input"
    );
    assert!(error("1e999").0.contains("too large"));
}

#[test]
fn the_caret_sits_under_the_column() {
    let err = Expr::parse("sin(x) + * y").unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "  sin(x) + * y");
    assert_eq!(lines[2], "           ^");
    assert_eq!(lines[2].find('^'), lines[1].find('*'));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for n in [MAX_DEPTH + 1, 100_000] {
        for (open, close) in [("(", ")"), ("-", ""), ("sin(", ")"), ("2^", "")] {
            let src = format!("{}x{}", open.repeat(n), close.repeat(n));
            let err = Expr::parse(&src).unwrap_err();
            assert!(
                err.message().contains("nested too deeply"),
                "{open}: {}",
                err.message()
            );
        }
    }
    // Just inside the limit is fine.
    let src = format!(
        "{}x{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert_eq!(eval(&src, &[("x", 1.5)]), 1.5);
}

#[test]
fn long_flat_chains_parse_build_and_drop_without_recursion() {
    let n = 200_000;
    let src = vec!["x"; n].join(" + ");
    let e = Expr::parse(&src).unwrap();
    assert_eq!(e.eval(&[1.0]), n as f64);
    let g = Graph::new();
    let built = e.build_with(&g, &[1.0]);
    assert_eq!(g.grad(built.output, &built.inputs), vec![n as f64]);
}

/// Random well-formed expressions over x and y.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("y".to_string()),
        (0u32..20).prop_map(|n| format!("{}", n as f64 / 4.0)),
    ];
    leaf.prop_recursive(5, 40, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/"])
            )
                .prop_map(|(a, b, op)| format!("{a} {op} {b}")),
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/"])
            )
                .prop_map(|(a, b, op)| format!("({a}) {op} ({b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (inner.clone(), 0u32..4).prop_map(|(a, n)| format!("({a})^{n}")),
            (
                inner.clone(),
                prop::sample::select(vec!["sin", "cos", "tanh", "sigmoid", "exp", "abs", "relu"])
            )
                .prop_map(|(a, f)| format!("{f}({a})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("max({a}, {b})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn printing_and_parsing_back_gives_the_same_function(src in expression(), x in -3.0f64..3.0, y in -3.0f64..3.0) {
        let e = Expr::parse(&src).unwrap();
        let printed = e.to_string();
        let back = Expr::parse(&printed).unwrap();
        let values = |e: &Expr| -> Vec<f64> {
            e.variables().iter().map(|v| if v == "x" { x } else { y }).collect()
        };
        let (a, b) = (e.eval(&values(&e)), back.eval(&values(&back)));
        prop_assert!(a == b || (a.is_nan() && b.is_nan()), "{src} printed as {printed}: {a} vs {b}");
        // Printing is stable: the printed form prints as itself.
        prop_assert_eq!(back.to_string(), printed.clone());
        // The length is known without printing.
        prop_assert_eq!(e.printed_len(), printed.len() as u64);
        let d = e.derivative("x");
        prop_assert_eq!(d.printed_len(), d.to_string().len() as u64);
    }

    #[test]
    fn no_input_makes_the_parser_panic(src in "[-+*/^()x0-9., a-z]{0,40}") {
        let _ = Expr::parse(&src);
    }

    #[test]
    fn building_agrees_with_evaluating(src in expression(), x in -3.0f64..3.0, y in -3.0f64..3.0) {
        let e = Expr::parse(&src).unwrap();
        let values: Vec<f64> = e.variables().iter().map(|v| if v == "x" { x } else { y }).collect();
        let g = Graph::new();
        let built = e.build_with(&g, &values);
        let (a, b) = (built.output.value(), e.eval(&values));
        prop_assert!(a == b || (a.is_nan() && b.is_nan()));
    }
}
