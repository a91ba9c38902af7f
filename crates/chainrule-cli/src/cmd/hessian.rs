//! `chainrule hessian EXPR --at x=1,y=2`: the value, gradient and Hessian matrix of an expression.

use clap::Args;
use serde_json::{json, Value};

use chainrule::ops::fmt_num;
use chainrule::scalar::functional::hessian_of;
use chainrule::{Bindings, Expr, Graph};

use crate::error::{parse_at, parse_expr, CliError};
use crate::json::{num, to_spaced_json};

/// Arguments of `chainrule hessian`.
#[derive(Args, Debug, Clone)]
pub struct HessianArgs {
    /// The expression, e.g. "x^2*y + sin(y)".
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
    if let Some(extra) = at.names().find(|n| !e.variables().iter().any(|v| v == n)) {
        return Err(CliError::usage(format!(
            "'{extra}' is not a variable of the expression (its variables: {})",
            list(e.variables())
        )));
    }
    e.values_from(at)
        .map_err(|err| CliError::usage(err.to_string()))
}

fn list(vars: &[String]) -> String {
    if vars.is_empty() {
        "none".into()
    } else {
        vars.join(", ")
    }
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
        "value": num(r.result.value),
        "variables": r.variables,
        "gradient": r.result.gradient.iter().map(|&v| num(v)).collect::<Vec<_>>(),
        "hessian": r.result.hessian.iter()
            .map(|row| row.iter().map(|&v| num(v)).collect::<Vec<_>>())
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
    let name_w = vars.iter().map(|v| v.chars().count()).max().unwrap_or(0);
    let grad: Vec<String> = r.result.gradient.iter().map(|&v| fmt_num(v)).collect();
    let grad_w = grad.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    out.push_str("gradient:\n");
    for (v, d) in vars.iter().zip(&grad) {
        out.push_str(&format!(
            "  ∂/∂{v:<name_w$}  {d:>grad_w$}\n",
            name_w = name_w,
            grad_w = grad_w
        ));
    }
    let cells: Vec<Vec<String>> = r
        .result
        .hessian
        .iter()
        .map(|row| row.iter().map(|&v| fmt_num(v)).collect())
        .collect();
    let col_w: Vec<usize> = (0..vars.len())
        .map(|j| {
            cells
                .iter()
                .map(|row| row[j].chars().count())
                .chain([vars[j].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    out.push_str("hessian:\n");
    let mut header = format!("  {:name_w$}", "", name_w = name_w);
    for (v, w) in vars.iter().zip(&col_w) {
        header.push_str(&format!("  {v:>w$}", w = w));
    }
    out.push_str(header.trim_end());
    out.push('\n');
    for (v, row) in vars.iter().zip(&cells) {
        let mut line = format!("  {v:<name_w$}", name_w = name_w);
        for (c, w) in row.iter().zip(&col_w) {
            line.push_str(&format!("  {c:>w$}", w = w));
        }
        out.push_str(&line);
        out.push('\n');
    }
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
