//! `chainrule report`: one self-contained HTML page that steps through the forward and backward
//! passes and lists every path from a node to the output.

use std::process::ExitCode;

use chainrule::ops::fmt_num;
use chainrule::show::report::{to_html, ReportOptions};
use chainrule::Graph;

use crate::cli::ReportArgs;
use crate::cmd::grad::warn_non_finite;
use crate::error::CliError;
use crate::input::read_point;
use crate::output::{extension, write_atomically};

/// Builds the graph at the point and writes its report.
pub fn run(args: &ReportArgs) -> Result<ExitCode, CliError> {
    let extension = extension(&args.output);
    if !matches!(extension.as_deref(), Some("html" | "htm")) {
        return Err(CliError::input(format!(
            "a report is an HTML page: name it .html, not {}",
            args.output.display()
        )));
    }
    let p = read_point(&args.expr)?;
    let g = Graph::new();
    let built = p.expr.build_with(&g, &p.values);
    warn_non_finite(&g, built.output);
    let point: Vec<String> = p
        .expr
        .variables()
        .iter()
        .zip(&p.values)
        .map(|(n, v)| format!("{n} = {}", fmt_num(*v)))
        .collect();
    let options = ReportOptions::new(args.expr.expr.trim(), point.join(", "));
    let html = to_html(&g, built.output, &options);
    write_atomically(&args.output, html.as_bytes())?;
    println!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
