//! `chainrule descend` end to end: the built binary, its output, its files and its exit codes.

mod common;
use common::*;

use serde_json::Value;

/// Runs a command that must succeed and print JSON.
fn json(args: &[&str]) -> Value {
    let o = chainrule(args);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("valid JSON")
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn points(v: &Value) -> Vec<Vec<f64>> {
    v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(numbers)
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (a, b) in got.iter().zip(want) {
        assert!(
            (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
            "{what}: got {got:?}, expected {want:?}"
        );
    }
}

/// f(x, y) = x² + 3y² + xy and its gradient, written out by hand.
const F: &str = "x^2 + 3*y^2 + x*y";
fn grad_f(p: &[f64]) -> [f64; 2] {
    [2.0 * p[0] + p[1], 6.0 * p[1] + p[0]]
}

#[test]
fn json_trajectory_of_sgd_with_momentum_follows_the_formula() {
    let v = json(&[
        "descend",
        F,
        "--from",
        "x=1,y=-2",
        "--optimizer",
        "momentum",
        "--lr",
        "0.05",
        "--momentum",
        "0.8",
        "--steps",
        "4",
        "--json",
    ]);
    assert_eq!(v["variables"], serde_json::json!(["x", "y"]));
    let pts = points(&v);
    assert_eq!(pts.len(), 5);
    // PyTorch's SGD with momentum: b₁ = g₁, bₜ = μ bₜ₋₁ + gₜ, θ ← θ - γ b.
    let (lr, mu) = (0.05, 0.8);
    let mut theta = [1.0, -2.0];
    let mut b = [0.0, 0.0];
    for (t, point) in pts.iter().enumerate() {
        assert_close(point, &theta, &format!("point {t}"));
        let g = grad_f(&theta);
        for i in 0..2 {
            b[i] = if t == 0 { g[i] } else { mu * b[i] + g[i] };
            theta[i] -= lr * b[i];
        }
    }
    let values = numbers(&v["values"]);
    let norms = numbers(&v["grad_norms"]);
    for (k, p) in pts.iter().enumerate() {
        let f = p[0] * p[0] + 3.0 * p[1] * p[1] + p[0] * p[1];
        let g = grad_f(p);
        assert_close(&[values[k]], &[f], "value");
        assert_close(
            &[norms[k]],
            &[(g[0] * g[0] + g[1] * g[1]).sqrt()],
            "gradient norm",
        );
    }
    assert_eq!(v["stop"]["reason"], "max_steps");
    assert_eq!(v["optimizer"]["name"], "momentum");
}

#[test]
fn json_trajectory_of_adam_follows_the_formula() {
    let v = json(&[
        "descend",
        F,
        "--from",
        "x=1,y=-2",
        "--optimizer",
        "adam",
        "--lr",
        "0.1",
        "--beta1",
        "0.8",
        "--beta2",
        "0.99",
        "--steps",
        "5",
        "--json",
    ]);
    let pts = points(&v);
    assert_eq!(pts.len(), 6);
    // Adam: m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², θ ← θ - γ m̂ / (√v̂ + ε).
    let (lr, b1, b2, eps) = (0.1, 0.8, 0.99, 1e-8);
    let mut theta = [1.0, -2.0];
    let (mut m, mut s) = ([0.0; 2], [0.0; 2]);
    for (k, point) in pts.iter().enumerate() {
        assert_close(point, &theta, &format!("point {k}"));
        let t = (k + 1) as i32;
        let g = grad_f(&theta);
        for i in 0..2 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            s[i] = b2 * s[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let s_hat = s[i] / (1.0 - b2.powi(t));
            theta[i] -= lr * m_hat / (s_hat.sqrt() + eps);
        }
    }
}

#[test]
fn every_optimizer_reaches_the_minimum_of_a_convex_quadratic() {
    // ∇f = 0 at (0, 0).
    for (name, lr) in [
        ("sgd", "0.1"),
        ("momentum", "0.05"),
        ("nesterov", "0.05"),
        ("adam", "0.05"),
        ("adamw", "0.05"),
    ] {
        let mut args = vec![
            "descend",
            F,
            "--from",
            "x=3,y=-2",
            "--optimizer",
            name,
            "--lr",
            lr,
            "--steps",
            "20000",
            "--tol",
            "1e-10",
            "--json",
        ];
        if name == "adamw" {
            args.extend(["--weight-decay", "0"]);
        }
        let v = json(&args);
        assert_eq!(v["stop"]["reason"], "converged", "{name}: {}", v["stop"]);
        let end = pts_last(&v);
        assert!(
            end.iter().all(|x| x.abs() < 1e-9),
            "{name} ended at {end:?}"
        );
    }
}

fn pts_last(v: &Value) -> Vec<f64> {
    points(v).pop().unwrap()
}

#[test]
fn adam_reaches_the_bottom_of_rosenbrocks_valley() {
    let v = json(&[
        "descend",
        "(1 - x)^2 + 100*(y - x^2)^2",
        "--from",
        "x=-1.5,y=2",
        "--optimizer",
        "adam",
        "--lr",
        "0.02",
        "--steps",
        "10000",
        "--json",
    ]);
    let end = pts_last(&v);
    assert!(
        (end[0] - 1.0).abs() < 1e-3 && (end[1] - 1.0).abs() < 1e-3,
        "ended at {end:?}"
    );
}

#[test]
fn the_table_reports_convergence_and_the_final_point() {
    let o = chainrule(&[
        "descend",
        "(x - 2)^2",
        "--from",
        "x=0",
        "--lr",
        "0.25",
        "--every",
        "1",
    ]);
    assert!(o.status.success());
    let out = stdout(&o);
    // x ← x - 0.25·2(x - 2) = (x + 2)/2: 0, 1, 1.5, 1.75, … halves the distance each step; the
    // gradient 2|x - 2| = 2^(2-k) is first below 1e-6 at k = 22.
    assert!(
        out.starts_with("minimising (x - 2)^2 over x with sgd (lr 0.25)\n"),
        "{out}"
    );
    assert!(
        out.contains("      1              1             2  x=1\n"),
        "{out}"
    );
    assert!(
        out.contains("      2           0.25             1  x=1.5\n"),
        "{out}"
    );
    assert!(
        out.contains("converged at step 22: the gradient norm 9.53674e-7 is below --tol 1e-6"),
        "{out}"
    );
    assert!(
        out.ends_with("final point: x=2 (value 2.27374e-13)\n"),
        "{out}"
    );
}

#[test]
fn divergence_is_reported_with_its_step() {
    // x ← x - 1.5·2x = -2x: x² = 4^k passes 1e12 at k = 20.
    let o = chainrule(&[
        "descend", "x^2", "--from", "x=1", "--lr", "1.5", "--steps", "100",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.contains("DIVERGED at step 20: the value 1.100e12 is beyond the bound 1e12\n"),
        "{out}"
    );
    assert!(out.contains("last point: x=1.04858e6"), "{out}");

    let o = chainrule(&["descend", "ln(x)", "--from", "x=0.5", "--lr", "1", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["stop"],
        serde_json::json!({"reason": "diverged", "step": 1, "why": "the value is NaN"})
    );
    assert!(v["values"][1].is_null(), "NaN is written as null");
}

#[test]
fn compare_runs_every_optimizer_from_the_same_start() {
    let v = json(&[
        "descend",
        F,
        "--from",
        "x=1,y=-2",
        "--compare",
        "sgd@0.1, momentum,adam@0.2",
        "--steps",
        "30",
        "--json",
    ]);
    let runs = v["runs"].as_array().unwrap();
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["optimizer"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sgd", "momentum", "adam"]);
    let lrs: Vec<f64> = runs
        .iter()
        .map(|r| r["optimizer"]["lr"].as_f64().unwrap())
        .collect();
    assert_eq!(lrs, [0.1, 0.01, 0.2]);
    for r in runs {
        assert_eq!(points(r)[0], vec![1.0, -2.0]);
    }

    let o = chainrule(&["descend", F, "--from", "x=1,y=-2", "--compare", "sgd,adam"]);
    let out = stdout(&o);
    assert!(
        out.contains("optimizer")
            && out.contains("sgd (lr 0.01)")
            && out.contains("adam (lr 0.01)"),
        "{out}"
    );
}

#[test]
fn plots_are_written_whole_in_both_formats() {
    let dir = scratch("plots");
    let cases = [
        ("two.png", "(1 - x)^2 + 100*(y - x^2)^2", "x=-1.5,y=2"),
        ("two.svg", "(1 - x)^2 + 100*(y - x^2)^2", "x=-1.5,y=2"),
        ("one.png", "x^4 - 3*x^2 + x", "x=2"),
        ("three.svg", "x^2 + y^2 + z^2", "x=1,y=2,z=3"),
    ];
    for (file, expr, from) in cases {
        let path = dir.join(file);
        let p = path.to_str().unwrap();
        let o = chainrule(&[
            "descend",
            expr,
            "--from",
            from,
            "--compare",
            "sgd@0.001,adam@0.05",
            "--steps",
            "200",
            "--plot",
            p,
        ]);
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        assert!(stdout(&o).ends_with(&format!("plot written to {p}\n")));
        let bytes = std::fs::read(&path).unwrap();
        if file.ends_with(".png") {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{file}");
        } else {
            let text = String::from_utf8(bytes).unwrap();
            assert!(
                text.contains("<svg") && text.trim_end().ends_with("</svg>"),
                "{file}"
            );
            assert!(text.contains("start"), "the legend is in {file}");
        }
    }
    // Only the pictures: no temporary file left behind.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["one.png", "three.svg", "two.png", "two.svg"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Bad input: exit code 2 and one line `error: …` on stderr, nothing on stdout.
fn assert_usage_error(args: &[&str], expected: &str) {
    let o = chainrule(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err, format!("error: {expected}\n"), "{args:?}");
    assert!(o.stdout.is_empty(), "{args:?}");
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_code_2() {
    assert_usage_error(
        &["descend", "3 + 4", "--from", "x=1"],
        "'3 + 4' has no variables: there is nothing to descend over",
    );
    assert_usage_error(
        &["descend", "x^2", "--from", "x=1", "--optimizer", "rmsprop"],
        "unknown optimizer 'rmsprop' (expected one of sgd, momentum, nesterov, adam, adamw)",
    );
    assert_usage_error(
        &["descend", "x^2", "--from", "x=abc"],
        "--from: the value of 'x', 'abc', is not a number",
    );
    assert_usage_error(
        &["descend", "x^2 + y", "--from", "x=1"],
        "--from: no start value for y; give every variable one, e.g. --from x=0,y=0",
    );
    assert_usage_error(
        &["descend", "x^2 + y"],
        "no start point: give a value to every variable with --from, e.g. --from x=0,y=0",
    );
    assert_usage_error(
        &["descend", "x^2", "--from", "x=1,z=2"],
        "--from: 'z' is not a variable of the expression (its variables: x)",
    );
    assert_usage_error(
        &["descend", "x^2", "--from", "x=1", "--compare", "sgd,bfgs"],
        "unknown optimizer 'bfgs' (expected one of sgd, momentum, nesterov, adam, adamw)",
    );
    assert_usage_error(
        &["descend", "x^2", "--from", "x=1", "--compare", "sgd@fast"],
        "--compare: the learning rate in 'sgd@fast', 'fast', is not a number",
    );
    assert_usage_error(
        &["descend", "x^2", "--from", "x=1", "--lr", "-0.1"],
        "sgd optimizer: invalid learning rate -0.1: it must be a finite number >= 0",
    );
    assert_usage_error(
        &["descend", "x^2", "--from", "x=1", "--plot", "out.jpg"],
        "--plot: 'out.jpg' must end in .png or .svg",
    );
    assert_usage_error(
        &["descend", "x^^2", "--from", "x=1"],
        "cannot read the expression: expected a number, a variable or '(', found '^' (column 3)",
    );
}

#[test]
fn an_unwritable_plot_is_an_error_of_its_own() {
    let o = chainrule(&[
        "descend",
        "x^2",
        "--from",
        "x=1",
        "--plot",
        "/nonexistent-folder/p.png",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: cannot draw /nonexistent-folder/p.png: "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
