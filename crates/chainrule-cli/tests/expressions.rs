//! The ways of giving an expression, in every subcommand that takes one: text beginning with a
//! minus sign, after `--`, from standard input (`-`) and from a file (`@FILE`), however long.

mod common;
use common::*;

use std::fs;

use serde_json::Value;

/// Each subcommand that takes an expression, with the arguments around it: `{}` is where the
/// expression goes, and `{out}` a file the subcommand writes.
const SUBCOMMANDS: [&[&str]; 9] = [
    &["grad", "{}", "--at", "x=3"],
    &["hessian", "{}", "--at", "x=3"],
    &["diff", "{}", "x"],
    &["explain", "{}", "--at", "x=3"],
    &["check", "{}", "--at", "x=3"],
    &["graph", "{}", "--at", "x=3", "-o", "{out}.svg"],
    &["report", "{}", "--at", "x=3", "-o", "{out}.html"],
    &["plot", "{}", "--from", "-3", "--to", "3", "-o", "{out}.png"],
    &["descend", "{}", "--from", "x=3", "--steps", "3"],
];

/// The arguments of `template` with `expr` in place and files in `dir`.
fn with(template: &[&str], expr: &str, dir: &std::path::Path) -> Vec<String> {
    let out = dir.join(template[0]);
    template
        .iter()
        .map(|a| {
            a.replace("{}", expr)
                .replace("{out}", out.to_str().unwrap())
        })
        .collect()
}

fn run(args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chainrule(&args)
}

#[test]
fn an_expression_may_begin_with_a_minus_sign_in_every_subcommand() {
    let dir = scratch("leading-minus");
    for template in SUBCOMMANDS {
        let args = with(template, "-x^2 + 1", &dir);
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(!stdout(&o).is_empty(), "{args:?}");
    }
    // The value is that of -(x²) + 1.
    let o = chainrule(&["grad", "-x^2 + 1", "--at", "x=3", "--json"]);
    assert_eq!(
        stdout(&o),
        "{\"value\": -8.0, \"gradient\": {\"x\": -6.0}}\n"
    );
    let o = chainrule(&["diff", "-x^3", "x"]);
    assert_eq!(stdout(&o), "-3 * x^2\n");
}

#[test]
fn after_a_double_dash_the_expression_is_taken_as_it_is_and_options_still_count() {
    let dir = scratch("double-dash");
    for template in SUBCOMMANDS {
        let mut args = with(template, "-x^2 + 1", &dir);
        args.insert(1, "--".into());
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = chainrule(&["grad", "--", "-x^2", "--at", "x=-3", "--json"]);
    assert_eq!(
        stdout(&o),
        "{\"value\": -9.0, \"gradient\": {\"x\": 6.0}}\n"
    );
    // Even an expression that reads as an option: -h is minus the variable h.
    let o = chainrule(&["grad", "--", "-h", "--at", "h=2", "--json"]);
    assert_eq!(
        stdout(&o),
        "{\"value\": -2.0, \"gradient\": {\"h\": -1.0}}\n"
    );
    // And the options may come first, as before.
    let o = chainrule(&["grad", "--at", "x=2", "--json", "--", "-x"]);
    assert_eq!(
        stdout(&o),
        "{\"value\": -2.0, \"gradient\": {\"x\": -1.0}}\n"
    );
}

#[test]
fn negative_values_still_read_as_values() {
    let o = chainrule(&["grad", "x*y", "--at", "x=-3,y=-0.5", "--json"]);
    assert_eq!(
        stdout(&o),
        "{\"value\": 1.5, \"gradient\": {\"x\": -0.5, \"y\": -3.0}}\n"
    );
}

/// `x + x + ... + x` (n terms), longer than 128 KiB for n = 40,000.
fn long_sum(n: usize) -> String {
    let mut s = String::from("x");
    for _ in 1..n {
        s.push_str(" + x");
    }
    s
}

fn grad_json(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap()
}

#[test]
fn an_expression_too_long_for_one_argument_comes_from_standard_input() {
    let expr = long_sum(40_000);
    assert!(expr.len() > 128 * 1024);
    let v = grad_json(&chainrule_with_stdin(
        &["grad", "-", "--at", "x=0.5", "--json"],
        &format!("{expr}\n"),
    ));
    assert_eq!(v["value"], 20_000.0);
    assert_eq!(v["gradient"]["x"], 40_000.0);
}

#[test]
fn an_expression_too_long_for_one_argument_comes_from_a_file() {
    let dir = scratch("at-file");
    let expr = long_sum(40_000);
    let file = dir.join("long.txt");
    fs::write(&file, &expr).unwrap();
    let arg = format!("@{}", file.display());
    let v = grad_json(&chainrule(&["grad", &arg, "--at", "x=2", "--json"]));
    assert_eq!(v["gradient"]["x"], 40_000.0);
    // Every subcommand reads @FILE, and - from standard input.
    let small = dir.join("small.txt");
    fs::write(&small, "-x^2 + 1\n").unwrap();
    let small_arg = format!("@{}", small.display());
    for template in SUBCOMMANDS {
        let args = with(template, &small_arg, &dir);
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let args = with(template, "-", &dir);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = chainrule_with_stdin(&args, "-x^2 + 1\n");
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    // The file's text is the expression, as if it had been typed.
    let o = chainrule(&[
        "descend", &small_arg, "--from", "x=1", "--json", "--steps", "1",
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["expression"], "-x^2 + 1");
}

#[test]
fn a_file_that_cannot_be_read_is_bad_input_naming_it() {
    let dir = scratch("at-missing");
    let missing = dir.join("missing.txt");
    let arg = format!("@{}", missing.display());
    for template in SUBCOMMANDS {
        let args = with(template, &arg, &dir);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad_input(
            &args,
            &format!(
                "error: {arg}: cannot read {}: No such file or directory",
                missing.display()
            ),
        );
    }
    assert_bad_input(
        &["grad", &format!("@{}", dir.display()), "--at", "x=1"],
        "it is a directory",
    );
    // A file that is not text.
    let binary = dir.join("binary.bin");
    fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    assert_bad_input(&["grad", &format!("@{}", binary.display())], "cannot read");
}
