//! `chainrule check`: reverse mode against central finite differences.

use std::process::ExitCode;

use chainrule::scalar::check::check_against;
use chainrule::util::format::{fmt_num, Align, Table};
use chainrule::{GradCheckOptions, Graph};

use crate::cli::CheckArgs;
use crate::cmd::grad::warn_non_finite;
use crate::error::CliError;
use crate::input::read_point;

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
    let mut table = Table::new(&[Align::Left, Align::Right]);
    table.row([
        "variable",
        "reverse mode",
        "finite difference",
        "abs error",
        "rel error",
        "",
    ]);
    for e in &report.entries {
        table.row([
            e.name.clone(),
            format!("{:.10e}", e.analytic),
            format!("{:.10e}", e.numeric),
            format!("{:.2e}", e.abs_error),
            format!("{:.2e}", e.rel_error),
            if e.ok { "ok" } else { "MISMATCH" }.to_string(),
        ]);
    }
    print!("{table}");
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
