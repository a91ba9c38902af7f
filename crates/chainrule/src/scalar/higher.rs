//! Derivatives of derivatives, and forward mode: the two [`Graph`] methods that run the sweeps
//! on something other than numbers up to the output.
//!
//! - **Gradients that are graphs** ([`Graph::grad_graph`], PyTorch's `create_graph=True`):
//!   [`Var`] is an algebra for the rules ([`crate::scalar::real`]), so the backward sweep of
//!   [`crate::scalar::backward`] runs *on the graph itself*, with `Var` adjoints instead of
//!   numbers: every multiplication the chain rule performs is recorded as a node, and the
//!   gradients it returns are ordinary nodes that can be differentiated again, to any order.
//!   The first-order sweep on numbers is the same loop on numbers and keeps its speed.
//! - **Forward mode** ([`Graph::jvp`]): the forward sweep of [`crate::scalar::forward`],
//!   carrying one tangent per node.
//!
//! No rule lives here: every derivative comes from [`crate::ops`].
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

use crate::anomaly::NoCheck;
use crate::scalar::backward::{self, Slots, Sparse};
use crate::scalar::forward::{self, Tangents};
use crate::scalar::graph::{depends_on, Graph, NodeId, Op, Recording, Var};

/// A graph read by the sweeps with its own nodes as the values, so that a sweep records what it
/// computes. Each read borrows the arena for an instant: the sweep appends to it as it goes.
struct OnGraph<'g>(&'g Graph);

impl<'g> Recording<Var<'g>> for OnGraph<'g> {
    fn op(&self, i: usize) -> Op {
        self.0.node(NodeId(i as u32)).op
    }
    fn value(&self, i: usize) -> Var<'g> {
        self.0.var_of(NodeId(i as u32))
    }
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
        let on_graph = OnGraph(self);
        let wanted = depends_on(
            &on_graph,
            out + 1,
            inputs
                .iter()
                .filter(|v| self.node(v.id()).op != Op::Constant)
                .map(|v| v.id().index()),
        );
        let mut adjoint = Sparse::new(&wanted);
        let seed = self.constant(1.0);
        backward::sweep(&on_graph, out, seed, &mut adjoint, &mut NoCheck);
        inputs
            .iter()
            .map(
                |v| match adjoint.slot.get(v.id().index()).copied().flatten() {
                    Some(a) if wanted[v.id().index()] => a,
                    _ => self.constant(0.0),
                },
            )
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
        let nodes = self.nodes();
        let mut tangent = Tangents(vec![0.0; last + 1]);
        for (x, &v) in inputs.iter().zip(v) {
            let i = x.id().index();
            if i <= last && nodes[i].op == Op::Variable {
                tangent.add(i, v);
            }
        }
        forward::sweep(&*nodes, last, &mut tangent);
        outputs.iter().map(|o| tangent.0[o.id().index()]).collect()
    }
}
