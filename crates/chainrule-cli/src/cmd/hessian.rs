//! `chainrule hessian EXPR --at x=1,y=2`: the value, gradient and Hessian matrix of an expression.

use clap::Args;
use serde_json::{json, Value};

use chainrule::expr::PointError;
use chainrule::scalar::functional::hessian_of;
use chainrule::util::format::{fmt_num, json_number, to_spaced_json, Align, Table};
use chainrule::{Bindings, Expr, Graph};

use crate::error::CliError;
use crate::input::{parse_at, parse_expr};

/// Arguments of `chainrule hessian`.
#[derive(Args, Debug, Clone)]
pub struct HessianArgs {
    /// The expression, e.g. "x^2*y + sin(y)"; it may begin with a minus; - reads it from
    /// standard input, @FILE from a file.
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    pub expr: String,
    /// The point: a value for every variable, e.g. x=1,y=2.
    #[arg(long)]
    pub at: Option<String>,
    /// Print {"value", "variables", "gradient", "hessian"} as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The value, gradient and Hessian of an expression at a point, with its variables in order of
/// first appearance.
#[derive(Clone, Debug, PartialEq)]
pub struct HessianReport {
    /// The variables, in order of first appearance in the expression.
    pub variables: Vec<String>,
    /// The derivatives.
    pub result: chainrule::scalar::functional::Hessian,
}

/// Checks that `at` gives a value to each variable of `e` and to nothing else, and returns the
/// values in the order of the variables.
pub fn point_for(e: &Expr, at: &Bindings) -> Result<Vec<f64>, CliError> {
    let point = e.point(at);
    point
        .check_known()
        .map_err(|err| CliError::usage(err.to_string()))?;
    point.values().map_err(|err| match err {
        PointError::Missing { names } => {
            CliError::usage(format!("no value given for the variable '{}'", names[0]))
        }
        err => CliError::usage(err.to_string()),
    })
}

/// Computes the report for `args` (without printing).
pub fn compute(args: &HessianArgs) -> Result<HessianReport, CliError> {
    let e = parse_expr(&args.expr)?;
    let at = match &args.at {
        Some(s) => parse_at(s)?,
        None if e.variables().is_empty() => Bindings::new(),
        None => {
            return Err(CliError::usage(format!(
                "give a value to each variable with --at (e.g. --at {})",
                e.variables()
                    .iter()
                    .map(|v| format!("{v}=1"))
                    .collect::<Vec<_>>()
                    .join(",")
            )))
        }
    };
    let values = point_for(&e, &at)?;
    let g = Graph::new();
    let built = e.build_with(&g, &values);
    Ok(HessianReport {
        variables: e.variables().to_vec(),
        result: hessian_of(&g, built.output, &built.inputs),
    })
}

/// The report as `{"value": V, "variables": [...], "gradient": [...], "hessian": [[...]]}`.
pub fn to_json(r: &HessianReport) -> String {
    let value: Value = json!({
        "value": json_number(r.result.value),
        "variables": r.variables,
        "gradient": r.result.gradient.iter().map(|&v| json_number(v)).collect::<Vec<_>>(),
        "hessian": r.result.hessian.iter()
            .map(|row| row.iter().map(|&v| json_number(v)).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
    });
    to_spaced_json(&value)
}

/// The report as aligned text.
pub fn to_text(r: &HessianReport) -> String {
    let vars = &r.variables;
    let mut out = format!("value: {}\n", fmt_num(r.result.value));
    if vars.is_empty() {
        out.push_str("(no variables: the gradient and Hessian are empty)\n");
        return out;
    }
    let mut gradient = Table::new(&[Align::Left, Align::Right]).indent("  ");
    for (v, &d) in vars.iter().zip(&r.result.gradient) {
        gradient.row([format!("∂/∂{v}"), fmt_num(d)]);
    }
    out.push_str("gradient:\n");
    out.push_str(&gradient.to_string());
    let mut hessian = Table::new(&[Align::Left, Align::Right]).indent("  ");
    hessian.row(std::iter::once(String::new()).chain(vars.iter().cloned()));
    for (v, row) in vars.iter().zip(&r.result.hessian) {
        hessian.row(std::iter::once(v.clone()).chain(row.iter().map(|&h| fmt_num(h))));
    }
    out.push_str("hessian:\n");
    out.push_str(&hessian.to_string());
    out
}

/// Runs `chainrule hessian`.
pub fn run(args: &HessianArgs) -> Result<(), CliError> {
    let report = compute(args)?;
    if args.json {
        println!("{}", to_json(&report));
    } else {
        print!("{}", to_text(&report));
    }
    Ok(())
}
