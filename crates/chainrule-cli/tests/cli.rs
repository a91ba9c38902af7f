//! The `chainrule` binary as a user runs it: outputs, files and exit codes.

mod common;
use common::*;

use std::fs;
use std::path::Path;

#[test]
fn grad_prints_value_and_partials() {
    let o = chainrule(&["grad", "x*y + sin(x)", "--at", "x=2,y=3"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("f      6.9093"), "{out}");
    assert!(out.contains("∂f/∂x  2.58385"), "{out}");
    assert!(out.contains("∂f/∂y  2"), "{out}");
}

#[test]
fn grad_json_is_exact_and_full_precision() {
    let o = chainrule(&["grad", "(w*x - y)^2", "--at", "w=1,x=2,y=5", "--json"]);
    assert_eq!(
        stdout(&o),
        "{\"value\": 9.0, \"gradient\": {\"w\": -12.0, \"x\": -6.0, \"y\": 6.0}}\n"
    );
    let o = chainrule(&["grad", "x*y + sin(x)", "--at", "x=2,y=3", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["value"].as_f64().unwrap(), 6.0 + 2f64.sin());
    assert_eq!(v["gradient"]["x"].as_f64().unwrap(), 3.0 + 2f64.cos());
    // Variables in order of first appearance.
    let keys: Vec<&String> = v["gradient"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["x", "y"]);
}

#[test]
fn an_expression_without_variables_needs_no_at() {
    let o = chainrule(&["grad", "2^3^2", "--json"]);
    assert_eq!(stdout(&o), "{\"value\": 512.0, \"gradient\": {}}\n");
}

#[test]
fn non_finite_results_name_the_first_bad_node() {
    let o = chainrule(&["grad", "2 * ln(x) + 1", "--at", "x=-1", "--json"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o),
        "{\"value\": null, \"gradient\": {\"x\": -2.0}}\n"
    );
    assert!(
        stderr(&o).contains("warning: v1 = ln(x) is NaN (its input: x = -1)"),
        "{}",
        stderr(&o)
    );
    let o = chainrule(&["grad", "1/x", "--at", "x=0"]);
    assert!(stderr(&o).contains("f = 1 / x is inf"), "{}", stderr(&o));
    let o = chainrule(&["grad", "sqrt(x)", "--at", "x=0"]);
    assert!(
        stderr(&o).contains("the local derivative ∂f/∂x is inf (f = sqrt(x) at x = 0)"),
        "{}",
        stderr(&o)
    );
    // A value given as infinite (1e400 overflows) is named as the input it is.
    let o = chainrule(&["grad", "x^2 + y", "--at", "x=1e400,y=1"]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("warning: the input x is inf\n"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn explain_reads_like_the_chain_rule() {
    let o = chainrule(&["explain", "3*x^2 + 1", "--at", "x=2"]);
    let out = stdout(&o);
    assert!(out.contains("v1 = x^2"), "{out}");
    assert!(out.contains("∂v1/∂x = 4"), "{out}");
    assert!(
        out.contains("df/dx  = df/dv1 · ∂v1/∂x = 3 · 4 = 12"),
        "{out}"
    );
    // Fan-out: both paths of x are shown and summed.
    let out = stdout(&chainrule(&["explain", "x*x", "--at", "x=3"]));
    assert!(
        out.contains("df/dx = df/df · ∂f/∂x + df/df · ∂f/∂x = 1 · 3 + 1 · 3 = 6"),
        "{out}"
    );
}

#[test]
fn explain_stays_aligned_for_a_thirty_node_expression() {
    let expr = "sigmoid(w1*x1 + w2*x2 + b)^2 + tanh(w1*w2 - b)*exp(-x1^2) + max(x1, x2)/sqrt(1 + w1^2) - relu(b - x2)*abs(w2)";
    let o = chainrule(&["explain", expr, "--at", "w1=0.5,x1=1.5,w2=-0.3,x2=2,b=0.1"]);
    assert!(o.status.success());
    let out = stdout(&o);
    let forward: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Forward"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(forward.len() >= 25, "{out}");
    // The '=' before the values lines up in one column.
    let columns: Vec<usize> = forward
        .iter()
        .map(|l| {
            l.chars()
                .collect::<Vec<_>>()
                .windows(3)
                .position(|w| w == [' ', '=', ' '])
                .unwrap()
        })
        .collect();
    let col = columns.iter().filter(|c| **c > 6).max().unwrap();
    assert!(
        forward.iter().all(|l| l.chars().nth(*col + 1) == Some('=')),
        "{out}"
    );
}

#[test]
fn graph_writes_dot_and_svg() {
    let dir = scratch("graph");
    let dot = dir.join("g.dot");
    let o = chainrule(&[
        "graph",
        "(w*x - y)^2",
        "--at",
        "w=1,x=2,y=5",
        "-o",
        dot.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = fs::read_to_string(&dot).unwrap();
    assert!(text.starts_with("digraph"));
    assert!(text.contains("grad -12"), "{text}");
    let svg = dir.join("g.svg");
    let o = chainrule(&[
        "graph",
        "(w*x - y)^2",
        "--at",
        "w=1,x=2,y=5",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg"), "{text}");
    assert!(text.contains("-12"), "{text}");
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
}

#[test]
fn graph_refuses_bad_outputs_without_touching_existing_files() {
    let dir = scratch("graph-bad");
    assert_bad_input(
        &[
            "graph",
            "x",
            "--at",
            "x=1",
            "-o",
            dir.join("g.png").to_str().unwrap(),
        ],
        "name it .svg or .dot",
    );
    assert_bad_input(
        &[
            "graph",
            "x",
            "--at",
            "x=1",
            "-o",
            dir.join("missing/g.svg").to_str().unwrap(),
        ],
        "cannot write",
    );
    let as_dir = dir.join("d.svg");
    fs::create_dir(&as_dir).unwrap();
    assert_bad_input(
        &["graph", "x", "--at", "x=1", "-o", as_dir.to_str().unwrap()],
        "is a directory",
    );
    // A failed run leaves the previous drawing as it was.
    let keep = dir.join("keep.svg");
    fs::write(&keep, "old drawing").unwrap();
    assert_bad_input(
        &["graph", "x +", "--at", "x=1", "-o", keep.to_str().unwrap()],
        "cannot parse",
    );
    assert_eq!(fs::read_to_string(&keep).unwrap(), "old drawing");
}

#[test]
fn read_only_and_missing_output_locations_are_refused() {
    // /proc cannot take new files, even for root: a read-only location on any Linux machine.
    if Path::new("/proc/self").exists() {
        assert_bad_input(
            &[
                "graph",
                "x",
                "--at",
                "x=1",
                "-o",
                "/proc/chainrule-graph.svg",
            ],
            "cannot write",
        );
        assert_bad_input(
            &[
                "report",
                "x",
                "--at",
                "x=1",
                "-o",
                "/proc/chainrule-report.html",
            ],
            "cannot write",
        );
    }
    assert_bad_input(
        &[
            "graph",
            "x",
            "--at",
            "x=1",
            "-o",
            "/nonexistent-folder/g.svg",
        ],
        "cannot write",
    );
}

#[test]
fn check_agrees_on_smooth_functions_and_fails_at_a_kink() {
    let o = chainrule(&["check", "sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("agree"));
    let o = chainrule(&["check", "relu(x)", "--at", "x=0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("MISMATCH") && out.contains("DISAGREE for x"),
        "{out}"
    );
    assert_bad_input(
        &["check", "x", "--at", "x=1", "--eps", "0"],
        "--eps must be a positive number",
    );
}

#[test]
fn demo_walks_through_the_seed_notebook() {
    let o = chainrule(&["demo"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("dz/dx  = dz/dy · ∂y/∂x = 3 · 4 = 12"), "{out}");
    assert!(out.contains("dL/dw = -12"), "{out}");
    assert!(out.contains("w converges to 2.5"), "{out}");
    assert!(
        out.contains("one product of local derivatives per layer"),
        "{out}"
    );
    assert_bad_input(&["demo", "nonsense"], "unrecognized subcommand 'nonsense'");
}

#[test]
fn bench_json_has_the_documented_shape() {
    let o = chainrule(&[
        "bench",
        "scalar-chain-1m",
        "--json",
        "--min-time",
        "0",
        "--min-iterations",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 1);
    let m = items[0].as_object().unwrap();
    assert_eq!(
        m.keys().collect::<Vec<_>>(),
        ["name", "median_us", "iterations"]
    );
    assert_eq!(m["name"], "scalar-chain-1m");
    assert!(m["median_us"].as_f64().unwrap() > 0.0);
    assert!(m["iterations"].as_u64().unwrap() >= 1);
    if cfg!(debug_assertions) {
        assert!(stderr(&o).contains("debug build"));
    }
    assert_bad_input(
        &["bench", "no-such-workload"],
        "unknown workload 'no-such-workload'",
    );
}

#[test]
fn bad_input_gives_a_clear_error_and_exit_code_two() {
    assert_bad_input(
        &["grad", "x + * 2", "--at", "x=1"],
        "expected a number, a variable or '('",
    );
    assert_bad_input(
        &["grad", "x + y", "--at", "x=1"],
        "no value for the variable 'y'",
    );
    assert_bad_input(&["grad", "x + y"], "no value for the variables 'x', 'y'");
    assert_bad_input(&["grad", "x", "--at", "x=abc"], "'abc', is not a number");
    assert_bad_input(&["grad", "x", "--at", "x"], "not of the form name=value");
    assert_bad_input(&["grad", "x", "--at", ""], "found nothing");
    assert_bad_input(
        &["grad", "x", "--at", "x=1,x=2"],
        "'x' is given more than once",
    );
    assert_bad_input(&["grad", "foo(x)", "--at", "x=1"], "unknown function 'foo'");
    assert_bad_input(
        &["grad", "max(x)", "--at", "x=1"],
        "'max' takes 2 arguments, found 1",
    );
    assert_bad_input(&["explain", "((x)", "--at", "x=1"], "expected ')'");
    let deep = format!("{}x{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_bad_input(&["grad", &deep, "--at", "x=1"], "nested too deeply");
    // clap's own usage errors also exit 2.
    let o = chainrule(&["grad"]);
    assert_eq!(o.status.code(), Some(2));
    let o = chainrule(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn parse_errors_point_at_the_column() {
    let o = chainrule(&["grad", "sin(x) + * y", "--at", "x=1,y=2"]);
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert_eq!(lines[1].find('*'), lines[2].find('^'), "{err}");
}

#[test]
fn negative_values_in_at_are_accepted() {
    let o = chainrule(&["grad", "x^2", "--at", "x=-3", "--json"]);
    assert_eq!(
        stdout(&o),
        "{\"value\": 9.0, \"gradient\": {\"x\": -6.0}}\n"
    );
}

#[test]
fn every_subcommand_help_ends_with_an_example() {
    for sub in [
        "grad", "explain", "graph", "report", "check", "demo", "bench", "descend", "plot",
        "hessian", "diff", "train", "predict",
    ] {
        let o = chainrule(&[sub, "--help"]);
        let out = stdout(&o);
        let last = out.trim_end().lines().last().unwrap();
        assert!(
            out.contains("Example:") || out.contains("Examples:"),
            "{sub}: {out}"
        );
        assert!(last.trim_start().starts_with("chainrule "), "{sub}: {last}");
    }
}

#[test]
fn report_writes_one_self_contained_page() {
    let dir = scratch("report");
    let page = dir.join("seed.html");
    let o = chainrule(&[
        "report",
        "3*x^2 + 1",
        "--at",
        "x=2",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("wrote {}\n", page.display()));
    let html = fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        (10_000..200_000).contains(&html.len()),
        "{} bytes",
        html.len()
    );
    assert!(html.contains("<title>chainrule report: f = 3*x^2 + 1 at x = 2</title>"));
    assert!(html.contains("id=\"step-panel\""));
    assert!(html
        .contains("data-name=\"x\" data-kind=\"variable\" data-value=\"2.0\" data-grad=\"12.0\""));
    // The same chain-rule line as `explain`.
    assert!(html.contains("df/dx = df/dv1 · ∂v1/∂x = 3 · 4 = 12"));
    assert!(!html.contains("<script src") && !html.contains("https://"));
    // No temporary file is left beside it.
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn report_refuses_bad_input() {
    let dir = scratch("report-bad");
    let page = dir.join("r.html");
    let page = page.to_str().unwrap();
    assert_bad_input(
        &["report", "x", "--at", "x=1", "-o", "r.svg"],
        "name it .html",
    );
    assert_bad_input(
        &["report", "x*y", "--at", "x=1", "-o", page],
        "no value for the variable 'y'",
    );
    assert_bad_input(
        &["report", "x +", "--at", "x=1", "-o", page],
        "cannot parse",
    );
    let missing = dir.join("no-such-dir").join("r.html");
    assert_bad_input(
        &[
            "report",
            "x",
            "--at",
            "x=1",
            "-o",
            missing.to_str().unwrap(),
        ],
        "cannot write",
    );
    assert!(!dir.join("r.html").exists());
}

#[test]
fn plot_draws_png_and_svg() {
    let dir = scratch("plot");
    let png = dir.join("f.png");
    let o = chainrule(&[
        "plot",
        "sin(x)*x",
        "--var",
        "x",
        "--from",
        "-3",
        "--to",
        "3",
        "--tangent",
        "1.5",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("wrote {}\n", png.display()));
    let bytes = fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        (10_000..2_000_000).contains(&bytes.len()),
        "{} bytes",
        bytes.len()
    );

    // Other variables are fixed by --at; the title says so; gaps where ln(x) is undefined.
    let svg = dir.join("f.svg");
    let o = chainrule(&[
        "plot",
        "x*y + ln(x)",
        "--var",
        "x",
        "--at",
        "y=2",
        "--from",
        "-1",
        "--to",
        "4",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("NaN or infinite at 80 of 400 samples"),
        "{}",
        stderr(&o)
    );
    let text = fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    assert!(text.contains("f(x) = x*y + ln(x)   with y = 2"), "title");
    assert!(text.contains("by the backward pass"));
    // Nothing else is left in the folder.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
}

#[test]
fn plot_refuses_bad_input() {
    let dir = scratch("plot-bad");
    let out = dir.join("p.png");
    let out = out.to_str().unwrap();
    let base = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = ["plot", "x*y", "--at", "y=1", "--var", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: Vec<String>, needle: &str| {
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        assert_bad_input(&refs, needle);
    };
    let mut a = base(&["--from", "1", "--to", "1", "-o"]);
    a.push(out.into());
    run(a, "--from (1) must be less than --to (1)");
    let mut a = base(&["--from", "0", "--to", "1", "-o"]);
    a.push(dir.join("p.jpg").to_str().unwrap().into());
    run(a, "must end in .png or .svg");
    let mut a = base(&["--from", "0", "--to", "1", "--tangent", "2", "-o"]);
    a.push(out.into());
    run(a, "--tangent 2 is outside the range 0..1");
    assert_bad_input(
        &[
            "plot", "x*y", "--var", "z", "--at", "y=1", "--from", "0", "--to", "1", "-o", out,
        ],
        "unknown --var 'z': the expression's variables are x, y",
    );
    assert_bad_input(
        &["plot", "x*y", "--from", "0", "--to", "1", "-o", out],
        "which variable? give --var, one of x, y",
    );
    assert_bad_input(
        &[
            "plot", "x*y", "--var", "x", "--from", "0", "--to", "1", "-o", out,
        ],
        "give --at y=...",
    );
    let missing = dir.join("no-such-dir").join("p.png");
    assert_bad_input(
        &[
            "plot",
            "x^2",
            "--from",
            "0",
            "--to",
            "1",
            "-o",
            missing.to_str().unwrap(),
        ],
        "cannot write",
    );
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        0,
        "no file is left behind"
    );
}

#[test]
#[cfg(unix)]
fn a_reader_that_stops_early_ends_the_process_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    // Far more than a pipe holds (about 1.4 MB), so the write fails once the reader is gone.
    let expr: Vec<String> = (1..3000).map(|i| format!("sin(x*{i})")).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chainrule"))
        .args(["explain", &expr.join("+"), "--at", "x=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap(); // then the pipe closes
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        status.signal(),
        Some(13),
        "ended by SIGPIPE, as `head` expects: {status:?}"
    );
}
