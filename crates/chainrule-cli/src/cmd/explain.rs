//! `chainrule explain`: the chain rule in words, read off the graph.

use std::process::ExitCode;

use chainrule::show::explain::Trace;
use chainrule::Graph;

use crate::cli::ExprArgs;
use crate::error::CliError;
use crate::input::read_point;

pub fn run(args: &ExprArgs) -> Result<ExitCode, CliError> {
    let p = read_point(args)?;
    let g = Graph::new();
    let built = p.expr.build_with(&g, &p.values);
    let trace = Trace::new(&g, built.output);
    println!("f = {}", p.expr);
    println!();
    print!("{trace}");
    if let Some(origin) = trace.non_finite_origin(&g) {
        eprintln!("warning: {origin}");
    }
    Ok(ExitCode::SUCCESS)
}
