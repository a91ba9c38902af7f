//! The `hessian`, `diff` and `demo efficiency` subcommands, run as the built binary.

mod common;
use common::*;

use std::process::Output;

use chainrule::{Expr, Graph};

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn hessian_json_has_the_exact_shape() {
    let out = chainrule(&["hessian", "x^2*y + y^3", "--at", "x=1,y=2", "--json"]);
    assert_eq!(
        stdout(&out),
        "{\"value\": 10.0, \"variables\": [\"x\", \"y\"], \"gradient\": [4.0, 13.0], \
         \"hessian\": [[4.0, 2.0], [2.0, 12.0]]}\n"
    );
}

#[test]
fn hessian_json_lists_variables_in_order_of_appearance() {
    let out = chainrule(&["hessian", "b*a + a^2", "--at", "a=1,b=3", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["variables"], serde_json::json!(["b", "a"]));
    assert_eq!(v["gradient"], serde_json::json!([1.0, 5.0]));
    assert_eq!(v["hessian"], serde_json::json!([[0.0, 1.0], [1.0, 2.0]]));
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["value", "variables", "gradient", "hessian"]);
}

#[test]
fn hessian_text_is_aligned() {
    let out = chainrule(&["hessian", "(1-x)^2 + 100*(y-x^2)^2", "--at", "x=1,y=2"]);
    assert_eq!(
        stdout(&out),
        "value: 100\n\
         gradient:\n  ∂/∂x  -400\n  ∂/∂y   200\n\
         hessian:\n        x     y\n  x   402  -400\n  y  -400   200\n"
    );
}

#[test]
fn diff_prints_simplified_derivatives() {
    assert_eq!(stdout(&chainrule(&["diff", "3*x^2+1", "x"])), "6 * x\n");
    assert_eq!(
        stdout(&chainrule(&["diff", "3*x^2+1", "x", "--order", "2"])),
        "6\n"
    );
    assert_eq!(
        stdout(&chainrule(&["diff", "sin(x)", "x", "--order", "3"])),
        "-cos(x)\n"
    );
    assert_eq!(
        stdout(&chainrule(&["diff", "x*y^2", "y", "--at", "x=2,y=3"])),
        "2 * x * y\n= 12 at x=2,y=3\n"
    );
    // Only the variables the derivative uses need a value.
    assert_eq!(
        stdout(&chainrule(&["diff", "x^2 + y", "x", "--at", "x=5"])),
        "2 * x\n= 10 at x=5\n"
    );
}

#[test]
fn diff_output_parses_and_agrees_with_the_engine() {
    let exprs = [
        "sin(x*y) + exp(-x^2)",
        "sigmoid(2*x - y) * tanh(x)",
        "ln(x^2 + 1) / (y^2 + 1)",
        "max(x, y)^2 + relu(x - 0.3) + abs(y)",
        "(x^2 + 1)^y + sqrt(x^2 + y^2 + 1)",
    ];
    let mut seed = 12345u64;
    let mut rand = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
    };
    for src in exprs {
        for var in ["x", "y"] {
            let text = stdout(&chainrule(&["diff", src, var]));
            let d = Expr::parse(text.trim()).unwrap_or_else(|e| panic!("{text}: {e}"));
            let e = Expr::parse(src).unwrap();
            let k = e.variables().iter().position(|v| v == var).unwrap();
            for _ in 0..20 {
                let (x, y) = (rand(), rand());
                let value_of = |name: &String| if name == "x" { x } else { y };
                let at: Vec<f64> = e.variables().iter().map(value_of).collect();
                let g = Graph::new();
                let b = e.build_with(&g, &at);
                let want = g.grad(b.output, &b.inputs)[k];
                let dv: Vec<f64> = d.variables().iter().map(value_of).collect();
                let got = d.eval(&dv);
                assert!(
                    (got - want).abs() <= 1e-10 * (1.0 + want.abs()),
                    "d/d{var} {src} at ({x}, {y}): {text} = {got}, engine {want}"
                );
            }
        }
    }
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let cases: &[&[&str]] = &[
        &["hessian", "3*x^", "--at", "x=1"],
        &["hessian", "x*y", "--at", "x=1"],
        &["hessian", "x*y", "--at", "x=1,y=2,z=3"],
        &["hessian", "x*y"],
        &["hessian", "x", "--at", "x=abc"],
        &["hessian", "x", "--at", "x"],
        &["hessian", "foo(x)", "--at", "x=1"],
        &["diff", "x^2", "1x"],
        &["diff", "x^2 +", "x"],
        &["diff", "x*y", "x", "--at", "x=1"],
        &["diff", "x", "x", "--order", "1000"],
        &["demo", "efficiency", "--budget=-1"],
        &["demo", "efficiency", "--budget", "-1"],
        &["hessian"],
        &["diff", "x"],
        &["frobnicate"],
    ];
    for args in cases {
        let out = chainrule(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        // One line, or for an unparsable expression the line, the input and a caret under it.
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines.len() == 1 || (lines.len() == 3 && lines[2].trim() == "^"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn efficiency_demo_prints_a_table() {
    let out = stdout(&chainrule(&["demo", "efficiency", "--max-n", "100"]));
    assert!(out.contains("reverse mode"), "{out}");
    assert!(
        out.lines().any(|l| l.trim_start().starts_with("100 ")),
        "{out}"
    );
}

#[test]
fn diff_too_long_to_print_is_refused_or_gives_its_value_alone() {
    // d/dx of (1 + x/1)(1 + x/2)...(1 + x/1500): 1,500 products of 1,499 factors, tens of
    // millions of characters. At x = 0 every factor is 1, so the value is the harmonic number
    // H(1500) = 1/1 + 1/2 + ... + 1/1500.
    let factors: Vec<String> = (1..=1500).map(|k| format!("(1 + x/{k})")).collect();
    let e = factors.join("*");
    let out = chainrule(&["diff", &e, "x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("characters (more than 10000000)") && err.contains("--at"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = chainrule(&["diff", &e, "x", "--at", "x=0"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let value: f64 = text
        .strip_prefix("= ")
        .and_then(|t| t.strip_suffix(" at x=0\n"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    let harmonic: f64 = (1..=1500).map(|k| 1.0 / k as f64).sum();
    assert!(
        (value - harmonic).abs() < 1e-5 * harmonic,
        "{value} vs {harmonic}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only its value is printed"), "{err}");
}
