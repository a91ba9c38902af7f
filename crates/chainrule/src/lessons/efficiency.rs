//! Why is backpropagation efficient? A measurement.
//!
//! The gradient of a function of `n` parameters can be had three ways:
//! - **reverse mode**: one forward evaluation (recorded) and one backward sweep, whatever `n`;
//! - **forward mode**: one forward sweep per parameter, each giving one partial derivative: `n`
//!   sweeps;
//! - **finite differences**: `n + 1` evaluations (`(f(w + h·eᵢ) - f(w)) / h`), and only
//!   approximately.
//!
//! The function here is the squared loss of a linear model `w·x` on a few fixed data points, so
//! one evaluation costs `O(n)`: reverse mode stays within a small constant factor of it at every
//! `n`, while the other two grow as `n` evaluations, `O(n²)`.
//!
//! ```
//! use chainrule::efficiency::{measure, Budget};
//!
//! let row = measure(100, Budget::default());
//! assert!(row.reverse.seconds > 0.0);
//! let fwd = row.forward.time().expect("100 forward sweeps are affordable");
//! assert!(fwd > 0.0);
//! assert!(row.forward_max_diff.unwrap() < 1e-9); // forward and reverse mode agree
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::scalar::graph::{Graph, Var};
use crate::util::format::{Align, Table};

/// The number of data points of the linear model.
pub const DATA_POINTS: usize = 4;

/// The fixed data of the linear model for `n` parameters: inputs `x[k][i]` and targets `y[k]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// One input vector of length `n` per data point.
    pub x: Vec<Vec<f64>>,
    /// One target per data point.
    pub y: Vec<f64>,
}

impl Data {
    /// Deterministic data for `n` parameters (no randomness, so runs are comparable).
    pub fn new(n: usize) -> Data {
        let x = (0..DATA_POINTS)
            .map(|k| {
                (0..n)
                    .map(|i| ((i + 1) as f64 * (k + 1) as f64 * 0.37).sin())
                    .collect()
            })
            .collect();
        let y = (0..DATA_POINTS).map(|k| k as f64 - 1.5).collect();
        Data { x, y }
    }
}

/// The squared loss `Σₖ (w·xₖ - yₖ)²` of the linear model, recorded on `g`.
///
/// ```
/// use chainrule::efficiency::{loss, Data};
/// use chainrule::Graph;
///
/// let data = Data::new(3);
/// let g = Graph::new();
/// let w: Vec<_> = (0..3).map(|_| g.var(0.0)).collect();
/// // With w = 0 the loss is Σ yₖ² = 1.5² + 0.5² + 0.5² + 1.5².
/// assert_eq!(loss(&g, &w, &data).value(), 5.0);
/// ```
pub fn loss<'g>(g: &'g Graph, w: &[Var<'g>], data: &Data) -> Var<'g> {
    let mut total = g.constant(0.0);
    for (xk, &yk) in data.x.iter().zip(&data.y) {
        let mut dot = g.constant(0.0);
        for (&wi, &xi) in w.iter().zip(xk) {
            dot = dot + wi * xi;
        }
        total = total + (dot - yk).powi(2);
    }
    total
}

/// The number of nodes [`loss`] records for `n` parameters: the `n` variables, the constant the
/// total starts from, and per data point a constant, `n` products, `n` sums, the residual, its
/// square and its addition to the total.
///
/// Graphs are made with exactly this capacity, so that recording never grows (and copies) the
/// node arena in the middle of a timed evaluation.
///
/// ```
/// use chainrule::efficiency::{loss, nodes_for, Data};
/// use chainrule::Graph;
///
/// let g = Graph::new();
/// let w: Vec<_> = (0..7).map(|_| g.var(0.5)).collect();
/// loss(&g, &w, &Data::new(7));
/// assert_eq!(g.len(), nodes_for(7));
/// ```
pub fn nodes_for(n: usize) -> usize {
    n + 1 + DATA_POINTS * (2 * n + 4)
}

/// How long a method took, or why it was not run.
#[derive(Clone, Debug, PartialEq)]
pub enum Timing {
    /// Measured: seconds for the whole gradient.
    Ran(f64),
    /// Not run: it would have taken about this many seconds, over the budget.
    Skipped(f64),
}

impl Timing {
    /// The measured time, if the method was run.
    pub fn time(&self) -> Option<f64> {
        match self {
            Timing::Ran(s) => Some(*s),
            Timing::Skipped(_) => None,
        }
    }
}

/// A measured time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seconds {
    /// Seconds (the median of several runs when one run is short).
    pub seconds: f64,
}

/// The time limits of a measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// A method estimated to take longer than this is skipped.
    pub max_per_method: Duration,
    /// Short jobs are repeated until they have run this long, and the median is kept.
    pub min_sample: Duration,
}

impl Default for Budget {
    /// Three seconds per method, 50 ms of repetitions for short jobs.
    fn default() -> Self {
        Budget {
            max_per_method: Duration::from_secs(3),
            min_sample: Duration::from_millis(50),
        }
    }
}

/// One row of the comparison: the gradient of the loss of `n` parameters, three ways.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The number of parameters.
    pub n: usize,
    /// The number of nodes one evaluation records.
    pub nodes: usize,
    /// One forward evaluation (recorded on a graph), the unit of the ratios.
    pub eval: Seconds,
    /// Reverse mode: one recorded evaluation and one backward sweep.
    pub reverse: Seconds,
    /// Forward mode: one recorded evaluation and `n` forward sweeps.
    pub forward: Timing,
    /// Finite differences: `n + 1` recorded evaluations.
    pub finite_differences: Timing,
    /// The largest difference between the forward-mode and the reverse-mode gradient.
    pub forward_max_diff: Option<f64>,
    /// The largest difference between the finite-difference and the reverse-mode gradient.
    pub finite_differences_max_diff: Option<f64>,
}

fn median_time(min_sample: Duration, mut job: impl FnMut()) -> f64 {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < min_sample && times.len() < 1000) {
        let t = Instant::now();
        job();
        times.push(t.elapsed().as_secs_f64());
        if times.len() == 1 && times[0] > min_sample.as_secs_f64() {
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Measures the three ways of computing the gradient for `n` parameters at `w = 0.1`.
pub fn measure(n: usize, budget: Budget) -> Row {
    let data = Data::new(n);
    let point = vec![0.1; n];
    let evaluate = |p: &[f64]| {
        let g = Graph::with_capacity(nodes_for(n));
        let w: Vec<Var> = p.iter().map(|&v| g.var(v)).collect();
        loss(&g, &w, &data).value()
    };
    let eval = median_time(budget.min_sample, || {
        black_box(evaluate(black_box(&point)));
    });
    let mut reverse_grad = Vec::new();
    let reverse = median_time(budget.min_sample, || {
        let g = Graph::with_capacity(nodes_for(n));
        let w: Vec<Var> = point.iter().map(|&v| g.var(v)).collect();
        let out = loss(&g, &w, &data);
        reverse_grad = g.grad(out, &w);
    });

    // Forward mode: estimate from one sweep, then run all n if affordable.
    let g = Graph::with_capacity(nodes_for(n));
    let w: Vec<Var> = point.iter().map(|&v| g.var(v)).collect();
    let out = loss(&g, &w, &data);
    let nodes = g.len();
    let mut e = vec![0.0; n];
    let one_sweep = median_time(budget.min_sample, || {
        e[0] = 1.0;
        black_box(g.jvp(&[out], &w, &e));
    });
    let forward_estimate = eval + n as f64 * one_sweep;
    let (forward, forward_max_diff) = if forward_estimate > budget.max_per_method.as_secs_f64() {
        (Timing::Skipped(forward_estimate), None)
    } else {
        let t = Instant::now();
        let g = Graph::with_capacity(nodes);
        let w: Vec<Var> = point.iter().map(|&v| g.var(v)).collect();
        let out = loss(&g, &w, &data);
        let mut grad = vec![0.0; n];
        let mut e = vec![0.0; n];
        for i in 0..n {
            e[i] = 1.0;
            grad[i] = g.jvp(&[out], &w, &e)[0];
            e[i] = 0.0;
        }
        (
            Timing::Ran(t.elapsed().as_secs_f64()),
            Some(max_diff(&grad, &reverse_grad)),
        )
    };

    let fd_estimate = (n + 1) as f64 * eval;
    let (finite_differences, finite_differences_max_diff) =
        if fd_estimate > budget.max_per_method.as_secs_f64() {
            (Timing::Skipped(fd_estimate), None)
        } else {
            let t = Instant::now();
            let f0 = evaluate(&point);
            let h = 1e-6;
            let mut p = point.clone();
            let mut grad = vec![0.0; n];
            for i in 0..n {
                p[i] += h;
                grad[i] = (evaluate(&p) - f0) / h;
                p[i] = point[i];
            }
            (
                Timing::Ran(t.elapsed().as_secs_f64()),
                Some(max_diff(&grad, &reverse_grad)),
            )
        };

    Row {
        n,
        nodes,
        eval: Seconds { seconds: eval },
        reverse: Seconds { seconds: reverse },
        forward,
        finite_differences,
        forward_max_diff,
        finite_differences_max_diff,
    }
}

/// The parameter counts of the standard comparison: 10, 100, 1,000, 10,000 and 100,000.
pub const SIZES: [usize; 5] = [10, 100, 1_000, 10_000, 100_000];

fn fmt_time(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The rows as an aligned table: each method's time and its ratio to one evaluation.
pub fn render(rows: &[Row]) -> String {
    let cell = |t: &Timing, eval: f64| match t {
        Timing::Ran(s) => format!("{} ({:.1}×)", fmt_time(*s), s / eval),
        Timing::Skipped(s) => format!("skipped (~{})", fmt_time(*s)),
    };
    let mut table = Table::new(&[Align::Right, Align::Left]).gap("   ");
    table.row([
        "n",
        "one evaluation",
        "reverse mode (1 sweep)",
        "forward mode (n sweeps)",
        "finite differences (n+1 evals)",
    ]);
    for r in rows {
        let e = r.eval.seconds;
        table.row([
            group(r.n),
            fmt_time(e),
            format!(
                "{} ({:.1}×)",
                fmt_time(r.reverse.seconds),
                r.reverse.seconds / e
            ),
            cell(&r.forward, e),
            cell(&r.finite_differences, e),
        ]);
    }
    let mut out = table.to_string();
    out.push_str(
        "(×: time relative to one evaluation; skipped: estimated from one pass, over the time budget)\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graphs_are_made_with_exactly_the_nodes_the_loss_records() {
        for n in [1, 2, 10, 333] {
            let row = measure(n, Budget::default());
            assert_eq!(row.nodes, nodes_for(n), "n = {n}");
        }
    }

    #[test]
    fn all_three_methods_agree_with_the_closed_form_gradient() {
        // d/dw_i Σ_k (w·x_k - y_k)² = Σ_k 2 (w·x_k - y_k) x_ki.
        let n = 50;
        let data = Data::new(n);
        let w = [0.1; 50];
        let expected: Vec<f64> = (0..n)
            .map(|i| {
                data.x
                    .iter()
                    .zip(&data.y)
                    .map(|(xk, yk)| {
                        let r: f64 = xk.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() - yk;
                        2.0 * r * xk[i]
                    })
                    .sum()
            })
            .collect();
        let g = Graph::new();
        let vars: Vec<Var> = w.iter().map(|&v| g.var(v)).collect();
        let out = loss(&g, &vars, &data);
        let reverse = g.grad(out, &vars);
        assert!(max_diff(&reverse, &expected) < 1e-12);

        let row = measure(n, Budget::default());
        assert!(row.forward.time().is_some() && row.finite_differences.time().is_some());
        assert!(row.forward_max_diff.unwrap() < 1e-12);
        // Forward differences with h = 1e-6 are accurate to about h times the curvature.
        assert!(row.finite_differences_max_diff.unwrap() < 1e-4);
    }

    #[test]
    fn methods_over_the_budget_are_skipped_with_an_estimate() {
        let budget = Budget {
            max_per_method: Duration::ZERO,
            min_sample: Duration::from_millis(1),
        };
        let row = measure(20, budget);
        assert!(matches!(row.forward, Timing::Skipped(s) if s > 0.0));
        assert!(matches!(row.finite_differences, Timing::Skipped(s) if s > 0.0));
        assert_eq!(row.forward_max_diff, None);
        let table = render(&[row]);
        assert!(table.contains("skipped (~"), "{table}");
    }
}
