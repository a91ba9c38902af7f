//! `chainrule graph`: the computational graph as SVG (drawn by chainrule) or DOT.

use std::process::ExitCode;

use chainrule::show::viz;
use chainrule::Graph;

use crate::cli::GraphArgs;
use crate::cmd::grad::warn_non_finite;
use crate::error::CliError;
use crate::input::read_point;
use crate::output::{extension, write_atomically};

pub fn run(args: &GraphArgs) -> Result<ExitCode, CliError> {
    let extension = extension(&args.output);
    let svg = match extension.as_deref() {
        Some("svg") => true,
        Some("dot" | "gv") => false,
        _ => {
            return Err(CliError::input(format!(
                "cannot tell the format of {}: name it .svg or .dot",
                args.output.display()
            )))
        }
    };
    let p = read_point(&args.expr)?;
    let g = Graph::new();
    let built = p.expr.build_with(&g, &p.values);
    warn_non_finite(&g, built.output);
    let text = if svg {
        viz::svg::to_svg(&g, built.output)
    } else {
        viz::to_dot(&g, built.output)
    };
    write_atomically(&args.output, text.as_bytes())?;
    println!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
