//! Derivatives of derivatives, and forward mode, from the same rules as the backward sweep.
//!
//! Two things live here:
//!
//! - **Gradients that are graphs** ([`Graph::grad_graph`], PyTorch's `create_graph=True`):
//!   [`Var`] implements [`Real`], so the rules of [`crate::ops`] can run *on the graph itself*.
//!   The reverse loop below is the one of [`crate::scalar::backward`], with `Var` adjoints instead of
//!   numbers: every multiplication the chain rule performs is recorded as a node, and the
//!   gradients it returns are ordinary nodes that can be differentiated again, to any order.
//!   The first-order sweep on numbers is untouched and keeps its speed.
//! - **Forward mode** ([`Graph::jvp`]): a forward loop carrying one tangent per node. A rule's
//!   backward is linear in the incoming adjoint, so the tangent of `y = op(x)` is
//!   `op.backward(x, y, ẋ)`, and of `y = op(a, b)` the sum of the two halves of
//!   `op.backward(a, b, y, ȧ)` and `op.backward(a, b, y, ḃ)`: no rule is written twice.
//!
//! ```
//! use chainrule::Graph;
//!
//! let g = Graph::new();
//! let x = g.var(2.0);
//! let y = x.powi(3); // x³
//! let dy = g.grad_graph(y, &[x])[0]; // 3x², itself a node
//! let d2y = g.grad_graph(dy, &[x])[0]; // 6x
//! assert_eq!((dy.value(), d2y.value()), (12.0, 12.0));
//! assert_eq!(g.grad(d2y, &[x]), vec![6.0]); // and a third time, with the fast sweep
//! // Forward mode: the directional derivative of y along v = 1.
//! assert_eq!(g.jvp(&[y], &[x], &[1.0]), vec![12.0]);
//! ```

use crate::ops::{Binary, Real, Unary};
use crate::scalar::graph::{Graph, Node, NodeId, Op, Var};

impl<'g> Real for Var<'g> {
    fn value(self) -> f64 {
        Var::value(self)
    }
    fn zero(self) -> Self {
        self.graph().constant(0.0)
    }
    fn add_c(self, c: f64) -> Self {
        self + c
    }
    fn mul_c(self, c: f64) -> Self {
        self * c
    }
    fn exp(self) -> Self {
        Var::exp(self)
    }
    fn ln(self) -> Self {
        Var::ln(self)
    }
    fn sqrt(self) -> Self {
        Var::sqrt(self)
    }
    fn sin(self) -> Self {
        Var::sin(self)
    }
    fn cos(self) -> Self {
        Var::cos(self)
    }
    fn tan(self) -> Self {
        Var::tan(self)
    }
    fn tanh(self) -> Self {
        Var::tanh(self)
    }
    fn erf(self) -> Self {
        self.apply_unary(Unary::Erf)
    }
    fn abs(self) -> Self {
        Var::abs(self)
    }
    fn powi(self, n: i32) -> Self {
        Var::powi(self, n)
    }
    fn powf_c(self, p: f64) -> Self {
        self.powf(p)
    }
    fn pow(self, p: Self) -> Self {
        self.powf(p)
    }
    fn unary(self, op: Unary) -> Self {
        self.apply_unary(op)
    }
    /// The factor is chosen by the values now, and is constant nearby, so its derivative is 0:
    /// the result is `g` itself, a constant 0, or `c · g`.
    fn piecewise(self, other: Self, below: f64, tie: f64, above: f64, g: Self) -> Self {
        let c = f64::piecewise(Var::value(self), Var::value(other), below, tie, above, 1.0);
        if c == 0.0 {
            g.graph().constant(0.0)
        } else if c == 1.0 {
            g
        } else {
            g * c
        }
    }
}

/// One node of a graph-like arena, as the generic sweeps see it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step {
    /// A variable, a constant or a number: nothing to propagate.
    Leaf,
    /// An operation of one earlier node.
    Unary(Unary, usize),
    /// An operation of two earlier nodes.
    Binary(Binary, usize, usize),
}

impl From<Op> for Step {
    fn from(op: Op) -> Step {
        match op {
            Op::Variable | Op::Constant => Step::Leaf,
            Op::Unary(u, x) => Step::Unary(u, x.index()),
            Op::Binary(b, x, y) => Step::Binary(b, x.index(), y.index()),
        }
    }
}

/// Which of `steps` can reach one of the `targets`: the only nodes worth an adjoint when the
/// gradient is wanted with respect to the targets.
pub(crate) fn live_mask(steps: &[Step], targets: impl IntoIterator<Item = usize>) -> Vec<bool> {
    let mut live = vec![false; steps.len()];
    for t in targets {
        if t < live.len() {
            live[t] = true;
        }
    }
    for i in 0..steps.len() {
        live[i] |= match steps[i] {
            Step::Leaf => false,
            Step::Unary(_, x) => live[x],
            Step::Binary(_, a, b) => live[a] || live[b],
        };
    }
    live
}

/// The reverse sweep over any algebra: `values[i]` is node `i`'s value as a `T`, the output's
/// adjoint is `seed`, and only `live` nodes receive adjoints. Returns each node's adjoint, `None`
/// where no path from the output arrives. A plain reverse loop, no recursion.
pub(crate) fn reverse_sweep<T: Real>(
    steps: &[Step],
    values: &[T],
    live: &[bool],
    output: usize,
    seed: T,
) -> Vec<Option<T>> {
    let mut adjoint: Vec<Option<T>> = vec![None; output + 1];
    adjoint[output] = Some(seed);
    let add = |slot: &mut Option<T>, d: T| {
        *slot = Some(match *slot {
            Some(acc) => acc + d,
            None => d,
        });
    };
    for i in (0..=output).rev() {
        let Some(g) = adjoint[i] else { continue };
        match steps[i] {
            Step::Leaf => {}
            Step::Unary(op, x) => {
                if live[x] {
                    let d = op.backward(values[x], values[i], g);
                    add(&mut adjoint[x], d);
                }
            }
            Step::Binary(op, a, b) => {
                if live[a] || live[b] {
                    let (da, db) = op.backward(values[a], values[b], values[i], g);
                    if live[a] {
                        add(&mut adjoint[a], da);
                    }
                    if live[b] {
                        add(&mut adjoint[b], db);
                    }
                }
            }
        }
    }
    adjoint
}

/// The forward sweep over any algebra: the tangent (`d node / d seed`) of every node, from the
/// tangents of some leaves, `seeds`. Only `live` nodes (those that depend on a seed) get one;
/// `None` stands for an exact zero. Each rule is the backward rule with the input's tangent in
/// place of the adjoint (the rules are linear in it). A plain forward loop, no recursion.
pub(crate) fn forward_sweep<T: Real>(
    steps: &[Step],
    values: &[T],
    live: &[bool],
    seeds: &[(usize, T)],
) -> Vec<Option<T>> {
    let mut tangent: Vec<Option<T>> = vec![None; steps.len()];
    for &(i, t) in seeds {
        tangent[i] = Some(t);
    }
    for i in 0..steps.len() {
        if !live[i] {
            continue;
        }
        tangent[i] = match steps[i] {
            Step::Leaf => tangent[i],
            Step::Unary(op, x) => tangent[x].map(|tx| op.backward(values[x], values[i], tx)),
            Step::Binary(op, a, b) => {
                let (va, vb, y) = (values[a], values[b], values[i]);
                let da = tangent[a].map(|ta| op.backward(va, vb, y, ta).0);
                let db = tangent[b].map(|tb| op.backward(va, vb, y, tb).1);
                match (da, db) {
                    (Some(da), Some(db)) => Some(da + db),
                    (d, None) | (None, d) => d,
                }
            }
        };
    }
    tangent
}

/// The forward sweep on numbers: the tangent of every node up to `last`, given the tangents of
/// some leaves. A zero tangent stays an exact zero (so `0 · ∞` elsewhere cannot leak a NaN).
pub(crate) fn tangent_sweep(nodes: &[Node], seeds: &[(NodeId, f64)], last: usize) -> Vec<f64> {
    let mut t = vec![0.0; last + 1];
    for &(id, v) in seeds {
        if id.index() <= last && nodes[id.index()].op == Op::Variable {
            t[id.index()] += v;
        }
    }
    for i in 0..=last {
        let y = nodes[i].value;
        t[i] = match nodes[i].op {
            Op::Variable | Op::Constant => t[i],
            Op::Unary(op, x) => {
                let tx = t[x.index()];
                if tx == 0.0 {
                    0.0
                } else {
                    op.backward(nodes[x.index()].value, y, tx)
                }
            }
            Op::Binary(op, a, b) => {
                let (ta, tb) = (t[a.index()], t[b.index()]);
                let (av, bv) = (nodes[a.index()].value, nodes[b.index()].value);
                let mut sum = 0.0;
                if ta != 0.0 {
                    sum += op.backward(av, bv, y, ta).0;
                }
                if tb != 0.0 {
                    sum += op.backward(av, bv, y, tb).1;
                }
                sum
            }
        };
    }
    t
}

impl Graph {
    /// The gradient of `output` with respect to each of `inputs`, **recorded on this graph**:
    /// each result is a node, computed from the existing nodes by the backward rules, and can
    /// itself be differentiated (PyTorch's `create_graph=True`), to any order.
    ///
    /// An input may be any node, as in PyTorch's `autograd.grad`: an intermediate node gets
    /// `d output / d node`. An input the output does not depend on, or a constant, gets a
    /// constant 0. The nodes recorded are only
    /// those on paths from the output to the inputs. [`Graph::grad`] stays the fast way to get
    /// numbers when no further derivative is wanted.
    ///
    /// ```
    /// use chainrule::Graph;
    ///
    /// let g = Graph::new();
    /// let (x, y) = (g.var(1.0), g.var(2.0));
    /// let f = x * x * y; // x²y
    /// let grad = g.grad_graph(f, &[x, y]); // [2xy, x²]
    /// assert_eq!((grad[0].value(), grad[1].value()), (4.0, 1.0));
    /// // The Hessian's first row: d(2xy)/dx = 2y, d(2xy)/dy = 2x.
    /// assert_eq!(g.grad(grad[0], &[x, y]), vec![4.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If `output` or an input belongs to another graph.
    pub fn grad_graph<'g>(&'g self, output: Var<'g>, inputs: &[Var<'g>]) -> Vec<Var<'g>> {
        for v in inputs.iter().chain([&output]) {
            assert!(
                std::ptr::eq(self, v.graph()),
                "a Var was used with a graph it does not belong to"
            );
        }
        let out = output.id().index();
        // A snapshot of the structure: the sweep appends nodes to the arena as it goes.
        let steps: Vec<Step> = self.nodes()[..=out]
            .iter()
            .map(|n| Step::from(n.op))
            .collect();
        let live = live_mask(
            &steps,
            inputs
                .iter()
                .filter(|v| self.node(v.id()).op != Op::Constant)
                .map(|v| v.id().index()),
        );
        let values: Vec<Var<'g>> = (0..=out).map(|i| self.var_of(NodeId(i as u32))).collect();
        let adjoint = reverse_sweep(&steps, &values, &live, out, self.constant(1.0));
        inputs
            .iter()
            .map(|v| match adjoint.get(v.id().index()).copied().flatten() {
                Some(a) if live[v.id().index()] => a,
                _ => self.constant(0.0),
            })
            .collect()
    }

    /// Forward mode: the directional derivatives `J·v` of each of `outputs`, where the inputs
    /// move with velocity `v` (`v[i]` for `inputs[i]`). One forward sweep over the recorded
    /// nodes, whatever the number of outputs. The inputs are variables (a velocity given to
    /// any other node is ignored).
    ///
    /// ```
    /// use chainrule::Graph;
    ///
    /// let g = Graph::new();
    /// let (x, y) = (g.var(3.0), g.var(2.0));
    /// let (s, p) = (x + y, x * y);
    /// // Along v = (1, 0): ds = 1, dp = y = 2.
    /// assert_eq!(g.jvp(&[s, p], &[x, y], &[1.0, 0.0]), vec![1.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If `inputs` and `v` differ in length, or a `Var` belongs to another graph.
    pub fn jvp(&self, outputs: &[Var<'_>], inputs: &[Var<'_>], v: &[f64]) -> Vec<f64> {
        assert_eq!(inputs.len(), v.len(), "one velocity per input");
        for x in inputs.iter().chain(outputs) {
            assert!(
                std::ptr::eq(self, x.graph()),
                "a Var was used with a graph it does not belong to"
            );
        }
        let Some(last) = outputs.iter().map(|o| o.id().index()).max() else {
            return Vec::new();
        };
        let seeds: Vec<(NodeId, f64)> = inputs
            .iter()
            .map(|x| x.id())
            .zip(v.iter().copied())
            .collect();
        let t = tangent_sweep(&self.nodes(), &seeds, last);
        outputs.iter().map(|o| t[o.id().index()]).collect()
    }
}
