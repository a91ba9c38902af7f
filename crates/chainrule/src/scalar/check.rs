//! Checking gradients against central finite differences.
//!
//! The numeric derivative of `f` in variable `i` is `(f(x + h·eᵢ) - f(x - h·eᵢ)) / 2h`, an
//! estimate independent of the chain rule: a gradient that agrees with it at a point was not
//! computed by a wrong rule there.

use crate::scalar::graph::{Graph, Var};

/// Step size and tolerances of a gradient check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheckOptions {
    /// The step `h` is `eps · max(1, |xᵢ|)`.
    pub eps: f64,
    /// A variable passes when `|analytic - numeric| <= atol + rtol · |numeric|`.
    pub atol: f64,
    /// See `atol`.
    pub rtol: f64,
}

impl Default for GradCheckOptions {
    /// `eps = 1e-6`, `atol = 1e-5`, `rtol = 1e-3`: PyTorch's `gradcheck` defaults.
    fn default() -> Self {
        GradCheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// The comparison for one variable.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckEntry {
    /// The variable's name.
    pub name: String,
    /// The gradient from the backward sweep.
    pub analytic: f64,
    /// The central finite difference.
    pub numeric: f64,
    /// `|analytic - numeric|`.
    pub abs_error: f64,
    /// `abs_error / max(|analytic|, |numeric|)` (0 when both are 0).
    pub rel_error: f64,
    /// Whether the two agree within the tolerances.
    pub ok: bool,
}

/// The result of [`check_gradient`]: the function's value and one entry per variable.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheck {
    /// The function's value at the point.
    pub value: f64,
    /// One comparison per variable, in the order given.
    pub entries: Vec<GradCheckEntry>,
}

impl GradCheck {
    /// Whether every variable passed.
    pub fn passed(&self) -> bool {
        self.entries.iter().all(|e| e.ok)
    }
}

/// Compares the reverse-mode gradient of `f` at `point` with central finite differences.
///
/// `f` receives a fresh graph and one variable per entry of `point`, and returns the output.
///
/// ```
/// use chainrule::{check_gradient, GradCheckOptions};
///
/// let report = check_gradient(
///     |_g, v| (v[0] * v[1]).sin() + v[0].exp(),
///     &["x", "y"],
///     &[0.3, -1.2],
///     GradCheckOptions::default(),
/// );
/// assert!(report.passed());
/// ```
pub fn check_gradient<F>(f: F, names: &[&str], point: &[f64], opts: GradCheckOptions) -> GradCheck
where
    F: for<'g> Fn(&'g Graph, &[Var<'g>]) -> Var<'g>,
{
    assert_eq!(names.len(), point.len(), "one name per coordinate");
    let eval = |p: &[f64]| {
        let g = Graph::new();
        let vars: Vec<Var> = p.iter().map(|&v| g.var(v)).collect();
        f(&g, &vars).value()
    };
    let g = Graph::new();
    let vars: Vec<Var> = names
        .iter()
        .zip(point)
        .map(|(n, &v)| g.var_named(n, v))
        .collect();
    let out = f(&g, &vars);
    let analytic = g.grad(out, &vars);
    check_against(out.value(), &analytic, names, point, opts, eval)
}

/// Compares given analytic derivatives with central finite differences of `eval`.
pub fn check_against(
    value: f64,
    analytic: &[f64],
    names: &[&str],
    point: &[f64],
    opts: GradCheckOptions,
    eval: impl Fn(&[f64]) -> f64,
) -> GradCheck {
    let mut p = point.to_vec();
    let entries = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let h = opts.eps * point[i].abs().max(1.0);
            p[i] = point[i] + h;
            let up = eval(&p);
            p[i] = point[i] - h;
            let down = eval(&p);
            p[i] = point[i];
            let numeric = (up - down) / (2.0 * h);
            let a = analytic[i];
            let abs_error = (a - numeric).abs();
            let scale = a.abs().max(numeric.abs());
            let rel_error = if scale == 0.0 { 0.0 } else { abs_error / scale };
            let ok = abs_error <= opts.atol + opts.rtol * numeric.abs() || (a == numeric);
            GradCheckEntry {
                name: name.to_string(),
                analytic: a,
                numeric,
                abs_error,
                rel_error,
                ok,
            }
        })
        .collect();
    GradCheck { value, entries }
}

/// Compares the engine's second derivatives of `f` at `point` with central finite differences
/// of the engine's first derivatives (PyTorch's `gradgradcheck`).
///
/// The analytic Hessian is computed reverse-over-reverse: the gradient is recorded as a graph
/// ([`Graph::grad_graph`]) and each of its entries is differentiated by the ordinary backward
/// sweep. The numeric one differences the gradient from [`Graph::grad`] at `point ± h·eⱼ`.
/// There is one entry per pair `(i, j)`, named `"xᵢ,xⱼ"` after the variables, row by row.
///
/// ```
/// use chainrule::{check::gradgradcheck, GradCheckOptions};
///
/// let report = gradgradcheck(
///     |_g, v| (v[0] * v[1]).sin() + v[0].exp() * v[1],
///     &["x", "y"],
///     &[0.3, -1.2],
///     GradCheckOptions::default(),
/// );
/// assert!(report.passed());
/// assert_eq!(report.entries.len(), 4);
/// assert_eq!(report.entries[1].name, "x,y");
/// ```
pub fn gradgradcheck<F>(f: F, names: &[&str], point: &[f64], opts: GradCheckOptions) -> GradCheck
where
    F: for<'g> Fn(&'g Graph, &[Var<'g>]) -> Var<'g>,
{
    assert_eq!(names.len(), point.len(), "one name per coordinate");
    let n = point.len();
    let g = Graph::new();
    let vars: Vec<Var> = names
        .iter()
        .zip(point)
        .map(|(name, &v)| g.var_named(name, v))
        .collect();
    let out = f(&g, &vars);
    let first = g.grad_graph(out, &vars);
    let analytic: Vec<Vec<f64>> = first.iter().map(|&d| g.grad(d, &vars)).collect();
    let gradient_at = |p: &[f64]| {
        let g = Graph::new();
        let vs: Vec<Var> = p.iter().map(|&v| g.var(v)).collect();
        let out = f(&g, &vs);
        g.grad(out, &vs)
    };
    let mut p = point.to_vec();
    let mut numeric = vec![vec![0.0; n]; n];
    for j in 0..n {
        let h = opts.eps * point[j].abs().max(1.0);
        p[j] = point[j] + h;
        let up = gradient_at(&p);
        p[j] = point[j] - h;
        let down = gradient_at(&p);
        p[j] = point[j];
        for i in 0..n {
            numeric[i][j] = (up[i] - down[i]) / (2.0 * h);
        }
    }
    let mut entries = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let (a, num) = (analytic[i][j], numeric[i][j]);
            let abs_error = (a - num).abs();
            let scale = a.abs().max(num.abs());
            entries.push(GradCheckEntry {
                name: format!("{},{}", names[i], names[j]),
                analytic: a,
                numeric: num,
                abs_error,
                rel_error: if scale == 0.0 { 0.0 } else { abs_error / scale },
                ok: abs_error <= opts.atol + opts.rtol * num.abs() || a == num,
            });
        }
    }
    GradCheck {
        value: out.value(),
        entries,
    }
}
