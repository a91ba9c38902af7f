//! Small helpers shared by the subcommands: reading an expression and its point, and writing
//! files without ever leaving a half-written one behind.

use std::path::Path;

use chainrule::{Bindings, Expr};

use crate::cli::ExprArgs;
use crate::error::CliError;

/// The parsed expression and the values of its variables, in the expression's order.
pub struct Point {
    pub expr: Expr,
    pub values: Vec<f64>,
}

/// Parses EXPR and --at; every variable of EXPR needs a value.
pub fn read_point(args: &ExprArgs) -> Result<Point, CliError> {
    let expr = Expr::parse(&args.expr)?;
    let at: Bindings = match &args.at {
        Some(s) => s
            .parse()
            .map_err(|e| CliError::input(format!("cannot read --at: {e}")))?,
        None => Bindings::new(),
    };
    let missing: Vec<&str> = expr
        .variables()
        .iter()
        .filter(|v| at.get(v).is_none())
        .map(|v| v.as_str())
        .collect();
    if !missing.is_empty() {
        let plural = if missing.len() == 1 { "" } else { "s" };
        let example: Vec<String> = missing.iter().map(|v| format!("{v}=...")).collect();
        return Err(CliError::input(format!(
            "no value for the variable{plural} {}: give {} with --at {}",
            quote_list(&missing),
            if missing.len() == 1 { "it" } else { "them" },
            example.join(",")
        )));
    }
    for name in at.names() {
        if !expr.variables().iter().any(|v| v == name) {
            eprintln!("warning: --at gives '{name}', which does not appear in the expression");
        }
    }
    let values = expr.values_from(&at).expect("every variable was checked");
    Ok(Point { expr, values })
}

fn quote_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes `contents` to `path` atomically (see [`chainrule::util::files::write_atomically`]), with an
/// error that names the file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), CliError> {
    chainrule::util::files::write_atomically(path, contents).map_err(|e| {
        CliError::input(format!(
            "cannot write {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })
}

/// An I/O error's reason without the "(os error N)" suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
