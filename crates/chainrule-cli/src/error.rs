//! The error of a subcommand: a one-line message and the process exit code.

use std::fmt;

/// A failed command: printed as `error: {message}`, exiting with `code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError {
    /// What went wrong, on one line.
    pub message: String,
    /// The exit code (2 for bad input).
    pub code: i32,
}

impl CliError {
    /// Bad input from the user: exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        // Keep it on one line whatever the source of the message.
        let message = message.into().replace('\n', " ");
        CliError { message, code: 2 }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)
    }
}

impl std::error::Error for CliError {}

/// Parses an expression, with a parse error reduced to one line (message and column).
pub fn parse_expr(src: &str) -> Result<chainrule::Expr, CliError> {
    chainrule::Expr::parse(src).map_err(|e| {
        CliError::usage(format!(
            "cannot parse '{src}': {} (column {})",
            e.message(),
            e.column()
        ))
    })
}

/// Parses `x=1,y=2`.
pub fn parse_at(src: &str) -> Result<chainrule::Bindings, CliError> {
    src.parse()
        .map_err(|e| CliError::usage(format!("bad --at '{src}': {e}")))
}
