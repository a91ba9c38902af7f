//! Reading what a person gives on the command line: the expression (as text, `-` for standard
//! input, `@FILE` for a file, or escaped after `--`) and the point to evaluate it at.
//!
//! Every subcommand that takes an expression gets it through here, so that each way of giving
//! one works the same everywhere.

use std::ffi::OsString;
use std::io::Read;

use chainrule::expr::Point;
use chainrule::{Bindings, Expr};

use crate::cli::{Command, ExprArgs};
use crate::error::CliError;
use crate::output::io_reason;

/// The subcommands whose first positional argument is an expression.
const WITH_EXPRESSION: [&str; 9] = [
    "grad", "explain", "graph", "report", "plot", "check", "hessian", "diff", "descend",
];

/// Stands in for an expression taken out of the arguments by [`take_escaped`]: a plain word, so
/// that the parser reads it as the positional argument it replaces.
const PLACEHOLDER: &str = "x";

/// `chainrule grad -- "-x^2" --at x=3`: an expression right after `--`, followed by options.
///
/// For the argument parser, `--` makes everything after it positional, `--at` too; here `--`
/// escapes only the expression after it. The expression is taken out of the arguments (a
/// placeholder stands in its place) to be set back by [`settle_expression`] once the options
/// are parsed.
pub fn take_escaped(mut args: Vec<OsString>) -> (Vec<OsString>, Option<String>) {
    let word = |i: usize| args.get(i).and_then(|a| a.to_str());
    let takes_expression = word(1).is_some_and(|a| WITH_EXPRESSION.contains(&a));
    if !takes_expression || word(2) != Some("--") {
        return (args, None);
    }
    let Some(expr) = word(3).map(str::to_string) else {
        return (args, None);
    };
    args.remove(2);
    args[2] = OsString::from(PLACEHOLDER);
    (args, Some(expr))
}

/// Puts back the expression [`take_escaped`] took out, and reads an expression given as `-` or
/// `@FILE`.
pub fn settle_expression(command: &mut Command, escaped: Option<String>) -> Result<(), CliError> {
    let Some(expr) = command.expression_mut() else {
        return Ok(());
    };
    if let Some(e) = escaped {
        *expr = e;
    }
    if let Some(text) = read_expression(expr)? {
        *expr = text;
    }
    Ok(())
}

/// The text an expression argument stands for, if it is not the expression itself: `-` reads
/// standard input, `@FILE` reads the file. Expressions longer than the operating system allows
/// in one argument (128 KiB on Linux) can be given this way.
pub fn read_expression(arg: &str) -> Result<Option<String>, CliError> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            CliError::input(format!("-: cannot read standard input: {}", io_reason(&e)))
        })?;
        return Ok(Some(text));
    }
    let Some(path) = arg.strip_prefix('@') else {
        return Ok(None);
    };
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| CliError::input(format!("{arg}: cannot read {path}: {}", io_reason(&e))))
}

/// Parses an expression; a parse error shows the input with a caret under the problem.
pub fn parse_expr(src: &str) -> Result<Expr, CliError> {
    Ok(Expr::parse(src)?)
}

/// Reads `x=1,y=2` given to `--at`.
pub fn parse_at(src: &str) -> Result<Bindings, CliError> {
    src.parse()
        .map_err(|e| CliError::input(format!("cannot read --at: {e}")))
}

/// The point `--at` gives `expr` (none given is an empty point).
pub fn point_at(expr: &Expr, at: Option<&str>) -> Result<Point, CliError> {
    Ok(expr.point(&at.map(parse_at).transpose()?.unwrap_or_default()))
}

/// Warns about each name `--at` gives that is not a variable of the expression.
pub fn warn_unknown(point: &Point) {
    for name in point.unknown() {
        eprintln!("warning: --at gives '{name}', which does not appear in the expression");
    }
}

/// The parsed expression and the values of its variables, in the expression's order.
pub struct ReadPoint {
    pub expr: Expr,
    pub values: Vec<f64>,
}

/// Parses EXPR and --at; every variable of EXPR needs a value, and a name that is not a
/// variable is warned about.
pub fn read_point(args: &ExprArgs) -> Result<ReadPoint, CliError> {
    let expr = parse_expr(&args.expr)?;
    let point = point_at(&expr, args.at.as_deref())?;
    let missing = point.missing();
    if !missing.is_empty() {
        let plural = if missing.len() == 1 { "" } else { "s" };
        let quoted: Vec<String> = missing.iter().map(|v| format!("'{v}'")).collect();
        let example: Vec<String> = missing.iter().map(|v| format!("{v}=...")).collect();
        return Err(CliError::input(format!(
            "no value for the variable{plural} {}: give {} with --at {}",
            quoted.join(", "),
            if missing.len() == 1 { "it" } else { "them" },
            example.join(",")
        )));
    }
    warn_unknown(&point);
    let values = point.values().expect("every variable was checked");
    Ok(ReadPoint { expr, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_an_expression_right_after_the_subcommand_is_escaped() {
        let (args, escaped) = take_escaped(os(&["chainrule", "grad", "--", "-x^2", "--at", "x=3"]));
        assert_eq!(escaped.as_deref(), Some("-x^2"));
        assert_eq!(args, os(&["chainrule", "grad", PLACEHOLDER, "--at", "x=3"]));
        for kept in [
            &["chainrule", "bench", "--", "-x"][..],
            &["chainrule", "grad", "x", "--", "y"],
            &["chainrule", "grad", "--"],
        ] {
            assert_eq!(take_escaped(os(kept)), (os(kept), None));
        }
    }

    #[test]
    fn an_expression_argument_is_itself_unless_it_names_a_source() {
        assert_eq!(read_expression("-x^2").unwrap(), None);
        let e = read_expression("@/no/such/file.txt").unwrap_err();
        assert_eq!(e.code, crate::error::BAD_INPUT);
        assert_eq!(
            e.message,
            "@/no/such/file.txt: cannot read /no/such/file.txt: No such file or directory"
        );
    }
}
