//! Gradient descent on an expression: the trajectory of an optimizer from a start point.
//!
//! At every point the expression is recorded on a [`Graph`] and differentiated by the backward
//! sweep (no finite differences); the optimizer then takes one step with that gradient. The
//! optimizer is any [`Optimizer`], or one of the registry by name ([`descend_with`] and
//! [`OptimizerSpec`], the same registry the training loop uses).
//!
//! ```
//! use chainrule::descend::{descend, DescendOptions, StopReason};
//! use chainrule::optim::{Sgd, SgdConfig};
//! use chainrule::Expr;
//!
//! let f = Expr::parse("(x - 3)^2 + 2*(y + 1)^2").unwrap();
//! let mut sgd = Sgd::new(SgdConfig::new(0.1));
//! let t = descend(&f, &[0.0, 0.0], &mut sgd, &DescendOptions::default());
//! assert!(matches!(t.stop, StopReason::Converged { .. }));
//! let end = t.last_point();
//! assert!((end[0] - 3.0).abs() < 1e-6 && (end[1] + 1.0).abs() < 1e-6);
//! ```

use std::fmt;

use crate::expr::Expr;
use crate::optim::{ConfigError, Optimizer, OptimizerSpec};
use crate::scalar::graph::Graph;

/// When to stop a descent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DescendOptions {
    /// The most optimizer steps to take.
    pub max_steps: usize,
    /// Stop once the gradient norm is below this (0 never stops early).
    pub tol: f64,
    /// Call the run diverged once `|value|` exceeds this.
    pub bound: f64,
}

impl Default for DescendOptions {
    /// 1000 steps, `tol = 1e-8`, `bound = 1e12`.
    fn default() -> Self {
        DescendOptions {
            max_steps: 1000,
            tol: 1e-8,
            bound: 1e12,
        }
    }
}

/// Why a descent stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// The gradient norm at the point reached after `step` steps was below the tolerance.
    Converged {
        /// The number of steps taken.
        step: usize,
    },
    /// The step budget ran out.
    MaxSteps,
    /// The value or the gradient at the point reached after `step` steps was not finite, or the
    /// value was beyond the bound.
    Diverged {
        /// The number of steps taken when it was seen.
        step: usize,
        /// What was seen, e.g. `the value is NaN`.
        why: String,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Converged { step } => write!(f, "converged at step {step}"),
            StopReason::MaxSteps => f.write_str("reached the step limit"),
            StopReason::Diverged { step, why } => write!(f, "diverged at step {step}: {why}"),
        }
    }
}

/// The path of a descent: every point visited, with its value and gradient norm.
///
/// `points[0]` is the start; `points[k]` is the point after `k` optimizer steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// The variables, in the order of the coordinates of each point.
    pub variables: Vec<String>,
    /// The points visited, the start first.
    pub points: Vec<Vec<f64>>,
    /// The value of the expression at each point.
    pub values: Vec<f64>,
    /// The L2 norm of the gradient at each point.
    pub grad_norms: Vec<f64>,
    /// Why it stopped.
    pub stop: StopReason,
}

impl Trajectory {
    /// The number of optimizer steps taken (one less than the number of points).
    pub fn steps(&self) -> usize {
        self.points.len().saturating_sub(1)
    }

    /// The last point reached.
    pub fn last_point(&self) -> &[f64] {
        self.points.last().map_or(&[], |p| p.as_slice())
    }

    /// The value at the last point.
    pub fn last_value(&self) -> f64 {
        self.values.last().copied().unwrap_or(f64::NAN)
    }
}

/// The value and the gradient (by the backward sweep) of `expr` at `point`.
///
/// # Panics
/// If `point` is shorter than [`Expr::variables`].
///
/// ```
/// use chainrule::descend::value_and_grad;
/// use chainrule::Expr;
///
/// let f = Expr::parse("x^2 * y").unwrap();
/// assert_eq!(value_and_grad(&f, &[3.0, 2.0]), (18.0, vec![12.0, 9.0]));
/// ```
pub fn value_and_grad(expr: &Expr, point: &[f64]) -> (f64, Vec<f64>) {
    let graph = Graph::with_capacity(expr.nodes().len() + point.len());
    let built = expr.build_with(&graph, point);
    let value = built.output.value();
    (value, graph.grad(built.output, &built.inputs))
}

/// Minimises `expr` over its variables from `start` with `optimizer`, until the gradient norm
/// falls below `options.tol`, the run diverges, or `options.max_steps` steps were taken.
///
/// The optimizer is used as given (a fresh one starts from zero buffers; one that was used
/// before carries on with its state).
///
/// # Panics
/// If `start` does not have one value per variable of `expr`.
pub fn descend(
    expr: &Expr,
    start: &[f64],
    optimizer: &mut dyn Optimizer<f64>,
    options: &DescendOptions,
) -> Trajectory {
    assert_eq!(
        start.len(),
        expr.variables().len(),
        "descend: {} start values for {} variables",
        start.len(),
        expr.variables().len()
    );
    let mut graph = Graph::with_capacity(expr.nodes().len() + start.len());
    let mut x = start.to_vec();
    let (mut points, mut values, mut grad_norms) = (Vec::new(), Vec::new(), Vec::new());
    let stop = loop {
        let (value, grad) = {
            let built = expr.build_with(&graph, &x);
            (
                built.output.value(),
                graph.grad(built.output, &built.inputs),
            )
        };
        graph.clear();
        let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        let step = points.len();
        points.push(x.clone());
        values.push(value);
        grad_norms.push(norm);

        if let Some(why) = divergence(&x, value, &grad, expr.variables(), options.bound) {
            break StopReason::Diverged { step, why };
        }
        if norm < options.tol {
            break StopReason::Converged { step };
        }
        if step >= options.max_steps {
            break StopReason::MaxSteps;
        }
        optimizer.step(&mut [&mut x], &[&grad]);
    };
    Trajectory {
        variables: expr.variables().to_vec(),
        points,
        values,
        grad_norms,
        stop,
    }
}

/// [`descend`] with a fresh optimizer of the registry, or the error of a setting out of range.
///
/// ```
/// use chainrule::descend::{descend_with, DescendOptions, StopReason};
/// use chainrule::optim::OptimizerSpec;
/// use chainrule::Expr;
///
/// let f = Expr::parse("x^2 + 10*y^2").unwrap();
/// let nesterov = OptimizerSpec::named("nesterov", 0.02).unwrap();
/// let t = descend_with(&f, &[-4.0, 1.5], &nesterov, &DescendOptions::default()).unwrap();
/// assert!(matches!(t.stop, StopReason::Converged { .. }));
/// ```
pub fn descend_with(
    expr: &Expr,
    start: &[f64],
    spec: &OptimizerSpec,
    options: &DescendOptions,
) -> Result<Trajectory, ConfigError> {
    let mut optimizer = spec.build::<f64>()?;
    Ok(descend(expr, start, optimizer.as_mut(), options))
}

/// What makes this point a divergence, if anything.
fn divergence(x: &[f64], value: f64, grad: &[f64], names: &[String], bound: f64) -> Option<String> {
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Some(format!("the variable {} is {}", names[i], x[i]));
    }
    if value.is_nan() {
        return Some("the value is NaN".to_string());
    }
    if value.is_infinite() || value.abs() > bound {
        return Some(format!(
            "the value {value:.3e} is beyond the bound {bound:e}"
        ));
    }
    if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
        return Some(format!("the gradient in {} is {}", names[i], grad[i]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, AdamConfig, AdamW, AdamWConfig, Sgd, SgdConfig};

    fn quadratic() -> Expr {
        Expr::parse("(x - 1)^2 + 3*(y + 2)^2 + 0.5*x*y").unwrap()
    }

    /// The minimum of the quadratic, from ∇ = 0: 2(x-1) + 0.5y = 0, 6(y+2) + 0.5x = 0.
    fn quadratic_minimum() -> [f64; 2] {
        // [2 0.5; 0.5 6] [x y]ᵀ = [2 -12]ᵀ
        let det = 2.0 * 6.0 - 0.25;
        [
            (2.0 * 6.0 - 0.5 * -12.0) / det,
            (2.0 * -12.0 - 0.5 * 2.0) / det,
        ]
    }

    #[test]
    fn every_optimizer_reaches_the_quadratic_minimum() {
        let want = quadratic_minimum();
        let opts: Vec<(&str, Box<dyn Optimizer<f64>>)> = vec![
            ("sgd", Box::new(Sgd::new(SgdConfig::new(0.1)))),
            (
                "momentum",
                Box::new(Sgd::new(SgdConfig::new(0.05).momentum(0.9))),
            ),
            (
                "nesterov",
                Box::new(Sgd::new(SgdConfig::new(0.05).momentum(0.9).nesterov(true))),
            ),
            ("adam", Box::new(Adam::new(AdamConfig::new(0.05)))),
            (
                "adamw",
                Box::new(AdamW::new(AdamWConfig::new(0.05).weight_decay(0.0))),
            ),
        ];
        for (name, mut opt) in opts {
            let options = DescendOptions {
                max_steps: 20_000,
                tol: 1e-9,
                bound: 1e12,
            };
            let t = descend(&quadratic(), &[-3.0, 4.0], opt.as_mut(), &options);
            assert!(
                matches!(t.stop, StopReason::Converged { .. }),
                "{name}: {}",
                t.stop
            );
            let end = t.last_point();
            assert!(
                (end[0] - want[0]).abs() < 1e-8 && (end[1] - want[1]).abs() < 1e-8,
                "{name} ended at {end:?}, not {want:?}"
            );
        }
    }

    #[test]
    fn the_registry_builds_the_same_runs_as_the_optimizers_themselves() {
        let options = DescendOptions {
            max_steps: 50,
            ..Default::default()
        };
        let by_hand: Vec<(&str, Box<dyn Optimizer<f64>>)> = vec![
            ("sgd", Box::new(Sgd::new(SgdConfig::new(0.05)))),
            (
                "momentum",
                Box::new(Sgd::new(SgdConfig::new(0.05).momentum(0.9))),
            ),
            (
                "nesterov",
                Box::new(Sgd::new(SgdConfig::new(0.05).momentum(0.9).nesterov(true))),
            ),
            ("adam", Box::new(Adam::new(AdamConfig::new(0.05)))),
            ("adamw", Box::new(AdamW::new(AdamWConfig::new(0.05)))),
        ];
        for (name, mut opt) in by_hand {
            let want = descend(&quadratic(), &[-3.0, 4.0], opt.as_mut(), &options);
            let spec = OptimizerSpec::named(name, 0.05).unwrap();
            let got = descend_with(&quadratic(), &[-3.0, 4.0], &spec, &options).unwrap();
            assert_eq!(got, want, "{name}");
        }
        let mut bad = OptimizerSpec::named("sgd", 0.05).unwrap();
        bad.nesterov = true;
        assert!(descend_with(&quadratic(), &[0.0, 0.0], &bad, &options).is_err());
    }

    #[test]
    fn adam_finds_the_bottom_of_rosenbrocks_valley() {
        let f = Expr::parse("(1 - x)^2 + 100*(y - x^2)^2").unwrap();
        let mut adam = Adam::new(AdamConfig::new(0.02));
        let options = DescendOptions {
            max_steps: 20_000,
            tol: 1e-8,
            bound: 1e12,
        };
        let t = descend(&f, &[-1.5, 2.0], &mut adam, &options);
        let end = t.last_point();
        assert!(
            (end[0] - 1.0).abs() < 1e-3 && (end[1] - 1.0).abs() < 1e-3,
            "ended at {end:?} after {} steps ({})",
            t.steps(),
            t.stop
        );
    }

    #[test]
    fn the_trajectory_is_the_optimizer_on_the_engines_gradient() {
        // f = x² + 10y², ∇f = (2x, 20y); plain SGD with lr 0.01, by hand.
        let f = Expr::parse("x^2 + 10*y^2").unwrap();
        let mut sgd = Sgd::new(SgdConfig::new(0.01));
        let opts = DescendOptions {
            max_steps: 3,
            ..Default::default()
        };
        let t = descend(&f, &[1.0, 1.0], &mut sgd, &opts);
        assert_eq!(t.stop, StopReason::MaxSteps);
        assert_eq!(t.points.len(), 4);
        let (mut x, mut y) = (1.0_f64, 1.0_f64);
        for k in 0..4 {
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-14 * b.abs();
            assert_eq!(t.points[k], vec![x, y]);
            assert!(close(t.values[k], x * x + 10.0 * y * y));
            assert!(close(
                t.grad_norms[k],
                ((2.0 * x).powi(2) + (20.0 * y).powi(2)).sqrt()
            ));
            (x, y) = (x - 0.01 * 2.0 * x, y - 0.01 * 20.0 * y);
        }
    }

    #[test]
    fn divergence_names_the_step() {
        // x ← x - 1.5·2x = -2x: |x| doubles each step, x² quadruples: 4^k > 1e6 first at k = 10.
        let f = Expr::parse("x^2").unwrap();
        let mut sgd = Sgd::new(SgdConfig::new(1.5));
        let opts = DescendOptions {
            max_steps: 100,
            tol: 1e-8,
            bound: 1e6,
        };
        let t = descend(&f, &[1.0], &mut sgd, &opts);
        match &t.stop {
            StopReason::Diverged { step, why } => {
                assert_eq!(*step, 10);
                assert!(why.contains("beyond the bound"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.points.len(), 11);

        // A NaN: ln of a negative number once x crosses zero.
        let f = Expr::parse("ln(x)").unwrap();
        let mut sgd = Sgd::new(SgdConfig::new(1.0));
        let t = descend(&f, &[0.5], &mut sgd, &opts);
        assert_eq!(
            t.stop,
            StopReason::Diverged {
                step: 1,
                why: "the value is NaN".into()
            }
        );
    }

    #[test]
    fn a_start_at_the_minimum_converges_at_step_zero() {
        let f = Expr::parse("x^2 + y^2").unwrap();
        let mut sgd = Sgd::new(SgdConfig::new(0.1));
        let t = descend(&f, &[0.0, 0.0], &mut sgd, &DescendOptions::default());
        assert_eq!(t.stop, StopReason::Converged { step: 0 });
        assert_eq!(t.steps(), 0);
    }
}
