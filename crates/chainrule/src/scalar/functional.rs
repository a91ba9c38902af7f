//! Function transformations in the spirit of JAX: `grad`, `vjp`, `jvp`, Jacobians, Hessians.
//!
//! A function is a closure that receives a fresh [`Graph`] and one variable per coordinate of
//! the point, and returns its output ([`ScalarFn`]) or outputs ([`VectorFn`]); each transform
//! records it once (or once per pass) and differentiates the recording.
//!
//! | transform | how | cost in passes over the recording |
//! |---|---|---|
//! | [`grad`], [`vjp`] | reverse mode | 1 |
//! | [`jvp`] | forward mode | 1 |
//! | [`jacrev`] | reverse mode, one pass per output | m |
//! | [`jacfwd`] | forward mode, one pass per input | n |
//! | [`hvp`] | forward over reverse | 1 (over the gradient's recording) |
//! | [`hessian`] | forward over reverse, one pass per input | n |
//!
//! The Hessian is computed **forward-over-reverse**: the gradient is recorded once as a graph
//! ([`Graph::grad_graph`]), and each Hessian-vector product is then one forward sweep on
//! numbers through that recording, which records nothing more. Reverse-over-reverse would cost
//! the same number of sweeps but is what [`crate::scalar::check::gradgradcheck`] uses, so the two
//! stay independent witnesses of each other.
//!
//! ```
//! use chainrule::functional::{grad, hessian, jvp};
//!
//! use chainrule::{Graph, Var};
//!
//! // f(x, y) = x²y + sin y. (A closure passed directly works too; one kept in a `let` needs
//! // its lifetimes spelled out, which a `fn` does best.)
//! fn f<'g>(_g: &'g Graph, v: &[Var<'g>]) -> Var<'g> {
//!     v[0] * v[0] * v[1] + v[1].sin()
//! }
//! let x = [3.0, 0.0];
//! assert_eq!(grad(f, &x), vec![0.0, 10.0]);
//! assert_eq!(jvp(f, &x, &[1.0, 1.0]), (0.0, 10.0));
//! assert_eq!(hessian(f, &x), vec![vec![0.0, 6.0], vec![6.0, 0.0]]);
//! ```

use crate::scalar::graph::{Graph, Var};

/// A scalar function of several variables, written against the graph.
pub trait ScalarFn: for<'g> Fn(&'g Graph, &[Var<'g>]) -> Var<'g> {}
impl<F: for<'g> Fn(&'g Graph, &[Var<'g>]) -> Var<'g>> ScalarFn for F {}

/// A vector-valued function of several variables, written against the graph.
pub trait VectorFn: for<'g> Fn(&'g Graph, &[Var<'g>]) -> Vec<Var<'g>> {}
impl<F: for<'g> Fn(&'g Graph, &[Var<'g>]) -> Vec<Var<'g>>> VectorFn for F {}

fn vars<'g>(g: &'g Graph, x: &[f64]) -> Vec<Var<'g>> {
    x.iter().map(|&v| g.var(v)).collect()
}

fn unit(n: usize, j: usize) -> Vec<f64> {
    let mut e = vec![0.0; n];
    e[j] = 1.0;
    e
}

/// The value of `f` at `x` (a forward evaluation, recorded).
///
/// ```
/// assert_eq!(chainrule::functional::value(|_g, v| v[0] * v[1], &[2.0, 3.0]), 6.0);
/// ```
pub fn value(f: impl ScalarFn, x: &[f64]) -> f64 {
    let g = Graph::new();
    let v = vars(&g, x);
    f(&g, &v).value()
}

/// The value of `f` and its gradient at `x`, by one reverse sweep.
///
/// ```
/// let (v, d) = chainrule::functional::value_and_grad(|_g, v| v[0] * v[1], &[2.0, 3.0]);
/// assert_eq!((v, d), (6.0, vec![3.0, 2.0]));
/// ```
pub fn value_and_grad(f: impl ScalarFn, x: &[f64]) -> (f64, Vec<f64>) {
    let g = Graph::new();
    let v = vars(&g, x);
    let out = f(&g, &v);
    (out.value(), g.grad(out, &v))
}

/// The gradient of `f` at `x` (JAX's `grad`), by one reverse sweep.
///
/// ```
/// assert_eq!(chainrule::functional::grad(|_g, v| v[0].powi(3), &[2.0]), vec![12.0]);
/// ```
pub fn grad(f: impl ScalarFn, x: &[f64]) -> Vec<f64> {
    value_and_grad(f, x).1
}

/// The outputs of `f` at `x` and the vector-Jacobian product `uᵀJ`, by one reverse sweep
/// (from the output `Σᵢ uᵢ·fᵢ`).
///
/// ```
/// use chainrule::functional::vjp;
///
/// // f(x, y) = (x·y, x + y); uᵀJ for u = (1, 2) is (y + 2, x + 2).
/// let (out, ut_j) = vjp(|_g, v| vec![v[0] * v[1], v[0] + v[1]], &[3.0, 5.0], &[1.0, 2.0]);
/// assert_eq!(out, vec![15.0, 8.0]);
/// assert_eq!(ut_j, vec![7.0, 5.0]);
/// ```
///
/// # Panics
/// If `u` does not have one entry per output.
pub fn vjp(f: impl VectorFn, x: &[f64], u: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let g = Graph::new();
    let v = vars(&g, x);
    let outs = f(&g, &v);
    assert_eq!(outs.len(), u.len(), "one weight per output");
    let values = outs.iter().map(|o| o.value()).collect();
    let mut total: Option<Var> = None;
    for (&o, &w) in outs.iter().zip(u) {
        if w != 0.0 {
            let term = if w == 1.0 { o } else { o * w };
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
        }
    }
    let ut_j = match total {
        Some(t) => g.grad(t, &v),
        None => vec![0.0; x.len()],
    };
    (values, ut_j)
}

/// The value of `f` at `x` and its directional derivative `J·v` (JAX's `jvp`), by one forward
/// sweep.
///
/// ```
/// // d/dt sin(x + t·v) at t = 0 is cos(x)·v
/// let (y, dy) = chainrule::functional::jvp(|_g, v| v[0].sin(), &[0.0], &[2.0]);
/// assert_eq!((y, dy), (0.0, 2.0));
/// ```
pub fn jvp(f: impl ScalarFn, x: &[f64], v: &[f64]) -> (f64, f64) {
    let g = Graph::new();
    let vs = vars(&g, x);
    let out = f(&g, &vs);
    (out.value(), g.jvp(&[out], &vs, v)[0])
}

/// The outputs of a vector-valued `f` at `x` and the Jacobian-vector product `J·v`, by one
/// forward sweep.
///
/// ```
/// let (y, jv) = chainrule::functional::jvp_vec(
///     |_g, v| vec![v[0] * v[1], v[0] - v[1]],
///     &[3.0, 5.0],
///     &[1.0, 1.0],
/// );
/// assert_eq!((y, jv), (vec![15.0, -2.0], vec![8.0, 0.0]));
/// ```
pub fn jvp_vec(f: impl VectorFn, x: &[f64], v: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let g = Graph::new();
    let vs = vars(&g, x);
    let outs = f(&g, &vs);
    let values = outs.iter().map(|o| o.value()).collect();
    (values, g.jvp(&outs, &vs, v))
}

/// The Jacobian of `f` at `x` by reverse mode: one reverse sweep per output. Row `i` is the
/// gradient of output `i`.
///
/// ```
/// let j = chainrule::functional::jacrev(|_g, v| vec![v[0] * v[1], v[0] + v[1]], &[3.0, 5.0]);
/// assert_eq!(j, vec![vec![5.0, 3.0], vec![1.0, 1.0]]);
/// ```
pub fn jacrev(f: impl VectorFn, x: &[f64]) -> Vec<Vec<f64>> {
    let g = Graph::new();
    let vs = vars(&g, x);
    let outs = f(&g, &vs);
    outs.iter().map(|&o| g.grad(o, &vs)).collect()
}

/// The same as [`jacrev`].
pub fn jacobian_rev(f: impl VectorFn, x: &[f64]) -> Vec<Vec<f64>> {
    jacrev(f, x)
}

/// The Jacobian of `f` at `x` by forward mode: one forward sweep per input, each giving a
/// column. The result is laid out as [`jacrev`]'s (row `i` for output `i`).
///
/// ```
/// let j = chainrule::functional::jacfwd(|_g, v| vec![v[0] * v[1], v[0] + v[1]], &[3.0, 5.0]);
/// assert_eq!(j, vec![vec![5.0, 3.0], vec![1.0, 1.0]]);
/// ```
pub fn jacfwd(f: impl VectorFn, x: &[f64]) -> Vec<Vec<f64>> {
    let g = Graph::new();
    let vs = vars(&g, x);
    let outs = f(&g, &vs);
    let mut jac = vec![vec![0.0; x.len()]; outs.len()];
    for j in 0..x.len() {
        let col = g.jvp(&outs, &vs, &unit(x.len(), j));
        for (row, c) in jac.iter_mut().zip(col) {
            row[j] = c;
        }
    }
    jac
}

/// The same as [`jacfwd`].
pub fn jacobian_fwd(f: impl VectorFn, x: &[f64]) -> Vec<Vec<f64>> {
    jacfwd(f, x)
}

/// A function's value, gradient and Hessian at one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Hessian {
    /// `f(x)`.
    pub value: f64,
    /// `∇f(x)`.
    pub gradient: Vec<f64>,
    /// `∇²f(x)`, row `i` holding `∂²f/∂xᵢ∂xⱼ` for each `j`.
    pub hessian: Vec<Vec<f64>>,
}

/// The value, gradient and Hessian of `f` at `x`: the gradient recorded once as a graph, then
/// one forward sweep through it per input (forward-over-reverse).
///
/// ```
/// let h = chainrule::functional::value_grad_hessian(|_g, v| v[0] * v[0] * v[1], &[1.0, 2.0]);
/// assert_eq!(h.value, 2.0);
/// assert_eq!(h.gradient, vec![4.0, 1.0]);
/// assert_eq!(h.hessian, vec![vec![4.0, 2.0], vec![2.0, 0.0]]);
/// ```
pub fn value_grad_hessian(f: impl ScalarFn, x: &[f64]) -> Hessian {
    let g = Graph::new();
    let vs = vars(&g, x);
    let out = f(&g, &vs);
    hessian_of(&g, out, &vs)
}

/// The value, gradient and Hessian of an output already recorded on `g`, with respect to
/// `inputs` (forward-over-reverse, as [`value_grad_hessian`]).
///
/// ```
/// use chainrule::{functional::hessian_of, Expr, Graph};
///
/// let e = Expr::parse("x^2 * y").unwrap();
/// let g = Graph::new();
/// let b = e.build_with(&g, &[1.0, 2.0]);
/// let h = hessian_of(&g, b.output, &b.inputs);
/// assert_eq!(h.hessian, vec![vec![4.0, 2.0], vec![2.0, 0.0]]);
/// ```
pub fn hessian_of<'g>(g: &'g Graph, out: Var<'g>, vs: &[Var<'g>]) -> Hessian {
    let grads = g.grad_graph(out, vs);
    let n = vs.len();
    let mut hessian = vec![vec![0.0; n]; n];
    for j in 0..n {
        let col = g.jvp(&grads, vs, &unit(n, j));
        for (row, c) in hessian.iter_mut().zip(col) {
            row[j] = c;
        }
    }
    Hessian {
        value: out.value(),
        gradient: grads.iter().map(|d| d.value()).collect(),
        hessian,
    }
}

/// The Hessian of `f` at `x` (forward-over-reverse; see [`value_grad_hessian`]).
///
/// ```
/// // A quadratic form xᵀAx has Hessian A + Aᵀ.
/// let h = chainrule::functional::hessian(
///     |_g, v| v[0] * v[0] + 3.0 * (v[0] * v[1]) + 2.0 * (v[1] * v[1]),
///     &[0.5, -1.0],
/// );
/// assert_eq!(h, vec![vec![2.0, 3.0], vec![3.0, 4.0]]);
/// ```
pub fn hessian(f: impl ScalarFn, x: &[f64]) -> Vec<Vec<f64>> {
    value_grad_hessian(f, x).hessian
}

/// The Hessian-vector product `∇²f(x)·v` without forming the Hessian: one forward sweep
/// through the recorded gradient.
///
/// ```
/// let hv = chainrule::functional::hvp(|_g, v| v[0] * v[0] * v[1], &[1.0, 2.0], &[1.0, 0.0]);
/// assert_eq!(hv, vec![4.0, 2.0]);
/// ```
pub fn hvp(f: impl ScalarFn, x: &[f64], v: &[f64]) -> Vec<f64> {
    let g = Graph::new();
    let vs = vars(&g, x);
    let out = f(&g, &vs);
    let grads = g.grad_graph(out, &vs);
    g.jvp(&grads, &vs, v)
}

/// The `n`-th derivative of a function of one variable at `x`, by recording the derivative
/// `n - 1` times ([`Graph::grad_graph`]) and finishing with one fast reverse sweep. `n = 0`
/// gives the value.
///
/// ```
/// use chainrule::functional::nth_derivative;
///
/// // d³/dx³ sin = -cos, and d⁴/dx⁴ sin = sin.
/// assert_eq!(nth_derivative(|_g, x| x.sin(), 0.0, 3), -1.0);
/// assert_eq!(nth_derivative(|_g, x| x.sin(), 1.0, 4), 1f64.sin());
/// ```
pub fn nth_derivative(f: impl for<'g> Fn(&'g Graph, Var<'g>) -> Var<'g>, x: f64, n: usize) -> f64 {
    let g = Graph::new();
    let v = g.var(x);
    let mut d = f(&g, v);
    if n == 0 {
        return d.value();
    }
    for _ in 1..n {
        d = g.grad_graph(d, &[v])[0];
    }
    g.grad(d, &[v])[0]
}
