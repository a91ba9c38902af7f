//! `chainrule diff EXPR x`: the derivative of an expression as a simplified expression.

use std::io::IsTerminal;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use chainrule::expr::{is_variable_name, ExprNode};
use chainrule::ops::fmt_num;

use crate::error::CliError;
use crate::input::{parse_at, parse_expr};

/// Arguments of `chainrule diff`.
#[derive(Args, Debug, Clone)]
pub struct DiffArgs {
    /// The expression, e.g. "3*x^2 + 1"; it may begin with a minus; - reads it from standard
    /// input, @FILE from a file.
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    pub expr: String,
    /// The variable to differentiate with respect to.
    pub var: String,
    /// How many times to differentiate.
    #[arg(long, default_value_t = 1)]
    pub order: usize,
    /// Also evaluate the derivative at this point, e.g. x=2 (values for the variables the
    /// derivative still uses).
    #[arg(long)]
    pub at: Option<String>,
}

/// The largest `--order` accepted (formulas grow with each derivative).
pub const MAX_ORDER: usize = 20;

/// The longest derivative printed, in bytes. A part the formula shares is printed once per use,
/// so high orders can grow far longer than this while the formula itself stays small enough to
/// evaluate.
pub const MAX_PRINTED: u64 = 10_000_000;

/// The derivative's text (`None` when it would be longer than [`MAX_PRINTED`] and a value was
/// asked for), and its value at the point when one was given.
pub fn compute(args: &DiffArgs) -> Result<(Option<String>, Option<f64>), CliError> {
    let e = parse_expr(&args.expr)?;
    if !is_variable_name(&args.var) {
        return Err(CliError::usage(format!(
            "'{}' is not a variable name",
            args.var
        )));
    }
    if args.order > MAX_ORDER {
        return Err(CliError::usage(format!(
            "--order {} is too high (at most {MAX_ORDER})",
            args.order
        )));
    }
    let bar = progress_bar(args.order);
    let d = e.nth_derivative_with(&args.var, args.order, |k| bar.set_position(k as u64));
    bar.finish_and_clear();
    let length = d.printed_len();
    let text = (length <= MAX_PRINTED).then(|| d.to_string());
    let Some(at) = &args.at else {
        return match text {
            Some(text) => Ok((Some(text), None)),
            None => Err(CliError::usage(format!(
                "the derivative would print {length} characters (more than {MAX_PRINTED}): \
                 a lower --order prints it, or --at gives its value alone"
            ))),
        };
    };
    let at = parse_at(at)?;
    if let Some(extra) = e.point(&at).unknown().first() {
        return Err(CliError::usage(format!(
            "'{extra}' is not a variable of the expression"
        )));
    }
    // Only the variables the derivative still uses need a value.
    let mut used = vec![false; d.variables().len()];
    for node in d.nodes() {
        if let ExprNode::Var(i) = node {
            used[*i] = true;
        }
    }
    let point = d.point(&at);
    let mut values = Vec::with_capacity(used.len());
    for (i, (name, used)) in d.variables().iter().zip(used).enumerate() {
        match point.value(i) {
            Some(v) => values.push(v),
            None if !used => values.push(0.0),
            None => {
                return Err(CliError::usage(format!(
                    "no value given for the variable '{name}' (use --at {name}=...)"
                )))
            }
        }
    }
    Ok((text, Some(d.eval(&values))))
}

/// A bar of the orders built so far, on standard error when it is a terminal and there is more
/// than one order (a single derivative is immediate).
fn progress_bar(order: usize) -> ProgressBar {
    if order < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(order as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} order {pos}/{len}  [{elapsed}]")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

/// Runs `chainrule diff`.
pub fn run(args: &DiffArgs) -> Result<(), CliError> {
    let (text, value) = compute(args)?;
    match text {
        Some(text) => println!("{text}"),
        None => eprintln!(
            "note: the derivative is longer than {MAX_PRINTED} characters; only its value is \
             printed"
        ),
    }
    if let Some(v) = value {
        println!("= {} at {}", fmt_num(v), args.at.as_deref().unwrap_or(""));
    }
    Ok(())
}
