//! `chainrule descend`: gradient descent on an expression, printed, as JSON, or drawn.
//!
//! The subcommand minimises an expression over its variables from a start point with one of the
//! library's optimizers (`chainrule::optim`), on gradients from the engine, and reports the
//! trajectory. `--compare` runs several optimizers from the same start; `--plot` draws the runs.

mod plot;

use std::io::Write;
use std::path::PathBuf;

use chainrule::lessons::descend::{descend, DescendOptions, StopReason, Trajectory};
use chainrule::optim::{Optimizer, OptimizerSpec};
use chainrule::util::format::fmt_sig;
use chainrule::{Bindings, Expr};
use clap::Args;
use serde_json::{json, Value};

use crate::error::CliError;

/// The arguments of `chainrule descend`.
#[derive(Args, Clone, Debug)]
#[command(
    after_help = "Optimizers: sgd (momentum 0 unless --momentum), momentum (SGD with momentum 0.9),
nesterov (Nesterov momentum 0.9), adam, adamw (decoupled weight decay 0.01).
The exit code is 0 when the run was carried out, even if it diverged; 2 for bad input.

Examples:
  chainrule descend '(1 - x)^2 + 100*(y - x^2)^2' --from x=-1.5,y=2 --optimizer adam --lr 0.02 --steps 5000
  chainrule descend 'x^2 + 10*y^2' --from x=-4,y=1.5 --compare sgd@0.09,momentum@0.02,adam@0.3 --plot quad.png
  chainrule descend 'x^2 - y^2' --from x=1,y=0.001 --optimizer momentum --json"
)]
pub struct DescendArgs {
    /// The expression to minimise, e.g. '(1 - x)^2 + 100*(y - x^2)^2'; - reads it from
    /// standard input, @FILE from a file.
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    pub expr: String,

    /// The start point: a value for every variable, e.g. x=-1.5,y=2.
    #[arg(long, value_name = "POINT", allow_hyphen_values = true)]
    pub from: Option<String>,

    /// The optimizer: sgd, momentum, nesterov, adam or adamw [default: sgd].
    #[arg(long, value_name = "NAME")]
    pub optimizer: Option<String>,

    /// Several optimizers from the same start, comma-separated; NAME@LR sets one's learning
    /// rate, e.g. sgd@0.001,momentum@0.001,adam@0.05.
    #[arg(long, value_name = "LIST", conflicts_with = "optimizer")]
    pub compare: Option<String>,

    /// The learning rate.
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    pub lr: f64,

    /// The momentum factor [default: 0.9 for momentum and nesterov, 0 for sgd].
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f64>,

    /// The dampening of the momentum buffer (SGD).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub dampening: f64,

    /// The weight decay [default: 0.01 for adamw (decoupled), 0 for the others (L2 penalty)].
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,

    /// The decay rate of Adam's first moment.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    pub beta1: f64,

    /// The decay rate of Adam's second moment.
    #[arg(long, default_value_t = 0.999, allow_negative_numbers = true)]
    pub beta2: f64,

    /// The term added to Adam's denominator.
    #[arg(long, default_value = "1e-8", allow_negative_numbers = true)]
    pub eps: f64,

    /// Use AMSGrad (the maximum of Adam's second moments).
    #[arg(long)]
    pub amsgrad: bool,

    /// The most optimizer steps to take.
    #[arg(long, default_value_t = 500)]
    pub steps: usize,

    /// Stop once the gradient norm is below this.
    #[arg(long, default_value = "1e-6", allow_negative_numbers = true)]
    pub tol: f64,

    /// Call the run diverged once |value| exceeds this.
    #[arg(long, default_value = "1e12", allow_negative_numbers = true)]
    pub bound: f64,

    /// Print a line every N steps [default: about ten lines per run].
    #[arg(long, value_name = "N")]
    pub every: Option<usize>,

    /// Print the whole trajectory as JSON instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Draw the run(s) to this file (.png or .svg): contours for two variables, the curve for
    /// one, value and gradient norm against step for more.
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
}

/// One optimizer of the registry with the settings given on the command line; those not given
/// are the optimizer's defaults (momentum 0.9 for momentum and nesterov, weight decay 0.01 for
/// adamw).
fn spec(name: &str, lr: f64, args: &DescendArgs) -> Result<OptimizerSpec, CliError> {
    let mut spec = OptimizerSpec::named(name, lr).map_err(|e| CliError::usage(e.to_string()))?;
    if let Some(m) = args.momentum {
        spec.momentum = m;
    }
    spec.dampening = args.dampening;
    spec.weight_decay = args.weight_decay;
    spec.betas = (args.beta1, args.beta2);
    spec.eps = args.eps;
    spec.amsgrad = args.amsgrad;
    Ok(spec)
}

/// The optimizer of `spec`, on `f64`.
fn build(spec: &OptimizerSpec) -> Result<Box<dyn Optimizer<f64>>, CliError> {
    spec.build()
        .map_err(|e| CliError::usage(format!("{} optimizer: {e}", spec.kind)))
}

/// The settings of `spec` as JSON: the name and those the optimizer uses.
fn spec_json(spec: &OptimizerSpec) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("name".into(), json!(spec.kind.name()));
    o.insert("lr".into(), json!(spec.lr));
    if spec.kind.is_sgd() {
        o.insert("momentum".into(), json!(spec.momentum));
        o.insert("dampening".into(), json!(spec.dampening));
        o.insert("nesterov".into(), json!(spec.nesterov));
    } else {
        o.insert("betas".into(), json!([spec.betas.0, spec.betas.1]));
        o.insert("eps".into(), json!(spec.eps));
        o.insert("amsgrad".into(), json!(spec.amsgrad));
    }
    o.insert("weight_decay".into(), json!(spec.effective_weight_decay()));
    Value::Object(o)
}

/// One finished run.
struct Run {
    spec: OptimizerSpec,
    trajectory: Trajectory,
}

impl Run {
    /// `adam (lr 0.02)`, the run's name in tables and legends.
    fn label(&self) -> String {
        format!("{} (lr {})", self.spec.kind, num(self.spec.lr))
    }
}

/// Runs `chainrule descend`.
pub fn run(args: &DescendArgs) -> Result<(), CliError> {
    let expr = Expr::parse(&args.expr).map_err(|e| {
        CliError::usage(format!(
            "cannot read the expression: {} (column {})",
            e.message(),
            e.column()
        ))
    })?;
    if expr.variables().is_empty() {
        return Err(CliError::usage(format!(
            "'{}' has no variables: there is nothing to descend over",
            args.expr.trim()
        )));
    }
    let start = start_point(&expr, args.from.as_deref())?;
    let specs = specs(args)?;
    let optimizers = specs.iter().map(build).collect::<Result<Vec<_>, _>>()?;
    check_options(args)?;
    let plot_format = match &args.plot {
        Some(path) => Some(plot::Format::from_path(path, "--plot").map_err(CliError::usage)?),
        None => None,
    };

    let options = DescendOptions {
        max_steps: args.steps,
        tol: args.tol,
        bound: args.bound,
    };
    let runs: Vec<Run> = specs
        .into_iter()
        .zip(optimizers)
        .map(|(spec, mut opt)| Run {
            trajectory: descend(&expr, &start, opt.as_mut(), &options),
            spec,
        })
        .collect();

    let text = if args.json {
        let v = to_json(&expr, &runs, args.compare.is_some());
        format!(
            "{}\n",
            serde_json::to_string(&v).expect("JSON of numbers and strings")
        )
    } else if args.compare.is_some() {
        comparison_table(&expr, &runs, &options)
    } else {
        run_table(&expr, &runs[0], &options, args.every)
    };

    let mut plot_note = String::new();
    if let (Some(path), Some(format)) = (&args.plot, plot_format) {
        let plot_runs: Vec<plot::Run> = runs
            .iter()
            .map(|r| plot::Run {
                label: format!("{}: {}", r.label(), short_stop(&r.trajectory.stop)),
                trajectory: &r.trajectory,
            })
            .collect();
        plot::draw(path, format, &expr, &plot_runs)
            .map_err(|e| CliError::failure(format!("cannot draw {}: {e}", path.display())))?;
        if !args.json {
            plot_note = format!("plot written to {}\n", path.display());
        }
    }

    // A closed pipe (`| head`) is not an error of the command.
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(text.as_bytes())
        .and_then(|_| out.write_all(plot_note.as_bytes()))
        .and_then(|_| out.flush());
    Ok(())
}

/// The start point from `--from`, in the order of the expression's variables.
fn start_point(expr: &Expr, from: Option<&str>) -> Result<Vec<f64>, CliError> {
    let vars = expr.variables();
    let example = vars
        .iter()
        .map(|v| format!("{v}=0"))
        .collect::<Vec<_>>()
        .join(",");
    let Some(from) = from else {
        return Err(CliError::usage(format!(
            "no start point: give a value to every variable with --from, e.g. --from {example}"
        )));
    };
    let at: Bindings = from
        .parse()
        .map_err(|e| CliError::usage(format!("--from: {e}")))?;
    let given = expr.point(&at);
    given
        .check_known()
        .map_err(|e| CliError::usage(format!("--from: {e}")))?;
    let mut point = Vec::with_capacity(vars.len());
    for (i, v) in vars.iter().enumerate() {
        match given.value(i) {
            Some(x) if x.is_finite() => point.push(x),
            Some(x) => {
                return Err(CliError::usage(format!(
                    "--from: the start value of {v} must be a finite number, not {x}"
                )))
            }
            None => {
                return Err(CliError::usage(format!(
                    "--from: no start value for {v}; give every variable one, e.g. --from {example}"
                )))
            }
        }
    }
    Ok(point)
}

/// The optimizers to run, from `--optimizer` or `--compare`.
fn specs(args: &DescendArgs) -> Result<Vec<OptimizerSpec>, CliError> {
    let Some(list) = &args.compare else {
        let name = args.optimizer.as_deref().unwrap_or("sgd");
        return Ok(vec![spec(name, args.lr, args)?]);
    };
    let mut specs = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(CliError::usage(format!(
                "--compare: an empty name in '{list}' (expected names such as sgd,momentum,adam)"
            )));
        }
        let (name, lr) = match item.split_once('@') {
            Some((name, lr)) => {
                let lr: f64 = lr.trim().parse().map_err(|_| {
                    CliError::usage(format!(
                        "--compare: the learning rate in '{item}', '{lr}', is not a number"
                    ))
                })?;
                (name, lr)
            }
            None => (item, args.lr),
        };
        specs.push(spec(name, lr, args)?);
    }
    if specs.len() > plot::MAX_RUNS {
        return Err(CliError::usage(format!(
            "--compare: at most {} optimizers at once, got {}",
            plot::MAX_RUNS,
            specs.len()
        )));
    }
    Ok(specs)
}

fn check_options(args: &DescendArgs) -> Result<(), CliError> {
    if !(args.tol >= 0.0 && args.tol.is_finite()) {
        return Err(CliError::usage(format!(
            "--tol must be a finite number >= 0, not {}",
            args.tol
        )));
    }
    if args.bound.is_nan() || args.bound <= 0.0 {
        return Err(CliError::usage(format!(
            "--bound must be a number > 0, not {}",
            args.bound
        )));
    }
    if args.every == Some(0) {
        return Err(CliError::usage("--every must be at least 1"));
    }
    Ok(())
}

/// A number in at most 6 significant digits, in plain notation where that stays short.
fn num(x: f64) -> String {
    fmt_sig(x, 6, 1e-4..1e6)
}

fn point_text(vars: &[String], p: &[f64]) -> String {
    vars.iter()
        .zip(p)
        .map(|(v, x)| format!("{v}={}", num(*x)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn stop_text(t: &Trajectory, options: &DescendOptions) -> String {
    match &t.stop {
        StopReason::Converged { step } => format!(
            "converged at step {step}: the gradient norm {} is below --tol {}",
            num(t.grad_norms[*step]),
            num(options.tol)
        ),
        StopReason::MaxSteps => format!(
            "stopped after {} steps (--steps) with the gradient norm at {}, above --tol {}",
            t.steps(),
            num(*t.grad_norms.last().unwrap_or(&f64::NAN)),
            num(options.tol)
        ),
        StopReason::Diverged { step, why } => format!("DIVERGED at step {step}: {why}"),
    }
}

/// Why a run stopped, in a few words for a legend.
fn short_stop(stop: &StopReason) -> String {
    match stop {
        StopReason::Converged { step } => format!("converged at step {step}"),
        StopReason::MaxSteps => "reached the step limit".to_string(),
        StopReason::Diverged { step, .. } => format!("diverged at step {step}"),
    }
}

fn run_table(expr: &Expr, run: &Run, options: &DescendOptions, every: Option<usize>) -> String {
    let t = &run.trajectory;
    let vars = expr.variables();
    let mut s = format!(
        "minimising {} over {} with {}\n",
        expr,
        vars.join(", "),
        run.spec
    );
    s += &format!("{:>7}  {:>13}  {:>12}  point\n", "step", "value", "|grad|");
    let last = t.steps();
    let every = every.unwrap_or_else(|| (options.max_steps / 10).max(1));
    for k in 0..=last {
        if k % every == 0 || k == last {
            s += &format!(
                "{k:>7}  {:>13}  {:>12}  {}\n",
                num(t.values[k]),
                num(t.grad_norms[k]),
                point_text(vars, &t.points[k])
            );
        }
    }
    s += &stop_text(t, options);
    s.push('\n');
    let what = if matches!(t.stop, StopReason::Diverged { .. }) {
        "last point"
    } else {
        "final point"
    };
    s += &format!(
        "{what}: {} (value {})\n",
        point_text(vars, t.last_point()),
        num(t.last_value())
    );
    s
}

fn comparison_table(expr: &Expr, runs: &[Run], options: &DescendOptions) -> String {
    let t0 = &runs[0].trajectory;
    let vars = expr.variables();
    let mut s = format!(
        "minimising {} over {} from {} (value {})\n",
        expr,
        vars.join(", "),
        point_text(vars, &t0.points[0]),
        num(t0.values[0])
    );
    let width = runs
        .iter()
        .map(|r| r.label().len())
        .max()
        .unwrap_or(0)
        .max(9);
    s += &format!(
        "{:<width$}  {:>6}  {:>13}  {:>12}  final point\n",
        "optimizer", "steps", "final value", "|grad|"
    );
    for r in runs {
        let t = &r.trajectory;
        s += &format!(
            "{:<width$}  {:>6}  {:>13}  {:>12}  {}\n",
            r.label(),
            t.steps(),
            num(t.last_value()),
            num(*t.grad_norms.last().unwrap_or(&f64::NAN)),
            point_text(vars, t.last_point())
        );
    }
    for r in runs {
        s += &format!("{}: {}\n", r.label(), stop_text(&r.trajectory, options));
    }
    s
}

fn stop_json(stop: &StopReason) -> Value {
    match stop {
        StopReason::Converged { step } => json!({"reason": "converged", "step": step}),
        StopReason::MaxSteps => json!({"reason": "max_steps"}),
        StopReason::Diverged { step, why } => {
            json!({"reason": "diverged", "step": step, "why": why})
        }
    }
}

fn run_json(run: &Run) -> serde_json::Map<String, Value> {
    let t = &run.trajectory;
    let mut o = serde_json::Map::new();
    o.insert("optimizer".into(), spec_json(&run.spec));
    o.insert("points".into(), json!(t.points));
    o.insert("values".into(), json!(t.values));
    o.insert("grad_norms".into(), json!(t.grad_norms));
    o.insert("stop".into(), stop_json(&t.stop));
    o
}

fn to_json(expr: &Expr, runs: &[Run], compare: bool) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("expression".into(), json!(expr.to_string()));
    o.insert("variables".into(), json!(expr.variables()));
    if compare {
        let list: Vec<Value> = runs.iter().map(|r| Value::Object(run_json(r))).collect();
        o.insert("runs".into(), Value::Array(list));
    } else {
        o.extend(run_json(&runs[0]));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_are_short_and_exact_enough() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-1.5), "-1.5");
        assert_eq!(num(0.01), "0.01");
        assert_eq!(num(170.125), "170.125");
        assert_eq!(num(2.0 / 3.0), "0.666667");
        assert_eq!(num(1e-8), "1e-8");
        assert_eq!(num(1.5e-7), "1.5e-7");
        assert_eq!(num(1e12), "1e12");
        assert_eq!(num(123456.7), "123457");
        assert_eq!(num(f64::NAN), "NaN");
    }
}
