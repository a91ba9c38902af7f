//! `chainrule check`: reverse mode against central finite differences.

use std::process::ExitCode;

use chainrule::ops::fmt_num;
use chainrule::scalar::check::check_against;
use chainrule::{GradCheckOptions, Graph};

use crate::cli::CheckArgs;
use crate::cmd::grad::warn_non_finite;
use crate::error::CliError;
use crate::output::read_point;

pub fn run(args: &CheckArgs) -> Result<ExitCode, CliError> {
    for (name, v) in [
        ("--eps", args.eps),
        ("--atol", args.atol),
        ("--rtol", args.rtol),
    ] {
        if !(v.is_finite() && v >= 0.0) || (name == "--eps" && v == 0.0) {
            return Err(CliError::input(format!(
                "{name} must be a positive number, got {v}"
            )));
        }
    }
    let p = read_point(&args.expr)?;
    let g = Graph::new();
    let built = p.expr.build_with(&g, &p.values);
    warn_non_finite(&g, built.output);
    let analytic = g.grad(built.output, &built.inputs);
    let names: Vec<&str> = p.expr.variables().iter().map(|s| s.as_str()).collect();
    let opts = GradCheckOptions {
        eps: args.eps,
        atol: args.atol,
        rtol: args.rtol,
    };
    let report = check_against(
        built.output.value(),
        &analytic,
        &names,
        &p.values,
        opts,
        |v| p.expr.eval(v),
    );

    println!("f = {} = {}", p.expr, fmt_num(report.value));
    let rows: Vec<[String; 6]> = report
        .entries
        .iter()
        .map(|e| {
            [
                e.name.clone(),
                format!("{:.10e}", e.analytic),
                format!("{:.10e}", e.numeric),
                format!("{:.2e}", e.abs_error),
                format!("{:.2e}", e.rel_error),
                if e.ok { "ok" } else { "MISMATCH" }.to_string(),
            ]
        })
        .collect();
    let header = [
        "variable",
        "reverse mode",
        "finite difference",
        "abs error",
        "rel error",
        "",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                s.push_str(&format!("{cell:<w$}"));
            } else {
                s.push_str(&format!("  {cell:>w$}"));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
    if report.entries.is_empty() {
        println!("(no variables: nothing to check)");
    }
    if report.passed() {
        println!(
            "agree: every partial derivative within atol {} + rtol {} × |numeric|",
            fmt_num(opts.atol),
            fmt_num(opts.rtol)
        );
        Ok(ExitCode::SUCCESS)
    } else {
        let bad: Vec<&str> = report
            .entries
            .iter()
            .filter(|e| !e.ok)
            .map(|e| e.name.as_str())
            .collect();
        println!(
            "DISAGREE for {} (a kink, a discontinuity, or a wrong rule)",
            bad.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}
