//! `chainrule grad`: the value and every partial derivative.

use std::process::ExitCode;

use chainrule::show::explain::Trace;
use chainrule::util::format::{fmt_num, json_number, json_string};
use chainrule::Graph;

use crate::cli::GradArgs;
use crate::error::CliError;
use crate::input::read_point;

pub fn run(args: &GradArgs) -> Result<ExitCode, CliError> {
    let p = read_point(&args.expr)?;
    let g = Graph::new();
    let built = p.expr.build_with(&g, &p.values);
    let grads = g.grad(built.output, &built.inputs);
    warn_non_finite(&g, built.output);
    let names = p.expr.variables();
    if args.json {
        let pairs: Vec<String> = names
            .iter()
            .zip(&grads)
            .map(|(n, d)| format!("{}: {}", json_string(n), json_number(*d)))
            .collect();
        println!(
            "{{\"value\": {}, \"gradient\": {{{}}}}}",
            json_number(built.output.value()),
            pairs.join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let labels: Vec<String> = names.iter().map(|n| format!("∂f/∂{n}")).collect();
    let width = labels
        .iter()
        .map(|l| l.chars().count())
        .chain([5])
        .max()
        .unwrap_or(5);
    println!("{:<width$}  {}", "f", fmt_num(built.output.value()));
    for (label, d) in labels.iter().zip(&grads) {
        println!("{label:<width$}  {}", fmt_num(*d));
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a warning naming the node where a NaN or infinity first appeared, if one did.
pub fn warn_non_finite(g: &Graph, output: chainrule::Var<'_>) {
    let trace = Trace::new(g, output);
    if let Some(origin) = trace.non_finite_origin(g) {
        eprintln!("warning: {origin}");
    }
}
