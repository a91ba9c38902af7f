//! The backward sweep: the chain rule, applied once per node, from the output back to the inputs.
//!
//! The adjoint of a node is `d output / d node`. The output's adjoint is 1. Visiting the nodes in
//! reverse creation order guarantees that when a node is reached, every node that uses it has
//! already added its share into the node's adjoint. The node then passes the adjoint on: for each
//! input, adjoint × local derivative is *added* into the input's adjoint. Adding is what makes
//! gradients sum over every path (`x * x` has derivative `x + x`).
//!
//! `sweep` is that loop, written once. It is generic over
//! - the algebra of the values ([`Real`]): numbers for [`Graph::grad`](crate::Graph::grad),
//!   graph nodes for gradients that are graphs ([`Graph::grad_graph`](crate::Graph::grad_graph));
//! - where the adjoints are kept (`Slots`): one number and one "reached" flag per node
//!   (`Dense`), or a slot per node that stays empty unless a path arrives, for inputs whose
//!   gradient is wanted (`Sparse`, so that no node is recorded for a branch that leads nowhere);
//! - a check of every gradient added (`Check`): none in normal runs, the first NaN or infinity
//!   with anomaly detection on (see [`crate::anomaly`]).
//!
//! Each choice is made at compile time, so the sweep on numbers without a check is the plain
//! loop it reads as. The forward sweep ([`crate::scalar::forward`]) keeps its tangents in the
//! same kind of `Slots`.

use crate::anomaly::Check;
use crate::ops::Real;
use crate::scalar::graph::{Node, NodeId, Op, Recording};

/// The reverse sweep from `output`, whose adjoint is `seed`: every node from the output back to
/// the first, each passing its adjoint on to its inputs through its backward rule. `adjoint`
/// holds an empty slot for each node up to the output. Nodes that no path connects to the output
/// are skipped, so an unrelated `ln(0)` elsewhere in the graph cannot leak a NaN into the
/// result.
// A function of its own, not inlined into `Graph::grad`: inlined, the loop was compiled with
// fewer free registers and took 9 more instructions per node on `scalar-chain-1m`.
#[inline(never)]
pub(crate) fn sweep<T: Real, R: Recording<T> + ?Sized>(
    nodes: &R,
    output: usize,
    seed: T,
    adjoint: &mut impl Slots<T>,
    check: &mut impl Check<T>,
) {
    adjoint.add(output, seed);
    for i in (0..output + 1).rev() {
        let Some(g) = adjoint.get(i) else { continue };
        match nodes.op(i) {
            Op::Variable => {}
            // A constant stops the gradient: report 0 for it, whatever flowed in.
            Op::Constant => adjoint.clear(i),
            Op::Unary(op, x) => {
                let x = x.index();
                if adjoint.wants(x) {
                    let d = op.backward(nodes.value(x), nodes.value(i), g);
                    check.added(i, d, adjoint.add(x, d));
                }
            }
            Op::Binary(op, a, b) => {
                let (a, b) = (a.index(), b.index());
                if adjoint.wants(a) || adjoint.wants(b) {
                    let (y, va, vb) = (nodes.value(i), nodes.value(a), nodes.value(b));
                    let (da, db) = op.backward(va, vb, y, g);
                    if adjoint.wants(a) {
                        check.added(i, da, adjoint.add(a, da));
                    }
                    if adjoint.wants(b) {
                        check.added(i, db, adjoint.add(b, db));
                    }
                }
            }
        }
    }
}

/// Where a sweep keeps what it carries from node to node, one slot per node: the adjoints of the
/// reverse sweep, the tangents of the forward sweep.
pub(crate) trait Slots<T> {
    /// Node `i`'s adjoint or tangent, if one has arrived.
    fn get(&self, i: usize) -> Option<T>;
    /// Whether node `i` is wanted at all: a rule is applied only for nodes that are.
    fn wants(&self, i: usize) -> bool;
    /// Adds `d` into node `i`'s slot and returns the sum.
    fn add(&mut self, i: usize, d: T) -> T;
    /// Sets node `i`'s slot to zero.
    fn clear(&mut self, i: usize);
}

/// Adjoints as numbers, with a flag per node saying whether a path from the output arrived.
/// Every node's gradient is wanted.
pub(crate) struct Dense<'a> {
    // Slices rather than vectors: the sweep writes through them on every node, and the compiler
    // keeps a slice's start and length in registers across those writes.
    adjoint: &'a mut [f64],
    reached: &'a mut [bool],
}

impl<'a> Dense<'a> {
    /// `len` empty slots in the two buffers, which are borrowed so that
    /// [`Graph::grad`](crate::Graph::grad) can reuse them from one call to the next.
    #[inline(always)]
    pub fn new(adjoint: &'a mut Vec<f64>, reached: &'a mut Vec<bool>, len: usize) -> Self {
        adjoint.clear();
        adjoint.resize(len, 0.0);
        reached.clear();
        reached.resize(len, false);
        Dense { adjoint, reached }
    }
}

impl Slots<f64> for Dense<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> Option<f64> {
        self.reached[i].then(|| self.adjoint[i])
    }
    #[inline(always)]
    fn wants(&self, _i: usize) -> bool {
        true
    }
    #[inline(always)]
    fn add(&mut self, i: usize, d: f64) -> f64 {
        let sum = self.adjoint[i] + d;
        self.adjoint[i] = sum;
        self.reached[i] = true;
        sum
    }
    #[inline(always)]
    fn clear(&mut self, i: usize) {
        self.adjoint[i] = 0.0;
    }
}

/// Adjoints or tangents of any algebra, each slot empty until a path arrives (so that nothing is
/// ever added to a zero), for the nodes marked in `wanted` only.
pub(crate) struct Sparse<'a, T> {
    pub slot: Vec<Option<T>>,
    pub wanted: &'a [bool],
}

impl<'a, T: Copy> Sparse<'a, T> {
    /// An empty slot for each node marked or not in `wanted`.
    pub fn new(wanted: &'a [bool]) -> Self {
        Sparse {
            slot: vec![None; wanted.len()],
            wanted,
        }
    }
}

impl<T: Real> Slots<T> for Sparse<'_, T> {
    fn get(&self, i: usize) -> Option<T> {
        self.slot[i]
    }
    fn wants(&self, i: usize) -> bool {
        self.wanted[i]
    }
    fn add(&mut self, i: usize, d: T) -> T {
        let sum = match self.slot[i] {
            Some(acc) => acc + d,
            None => d,
        };
        self.slot[i] = Some(sum);
        sum
    }
    fn clear(&mut self, i: usize) {
        self.slot[i] = None;
    }
}

/// The local derivatives of a node with respect to each of its inputs (`∂node/∂input`), from the
/// same backward rules the sweep uses (with an incoming adjoint of 1).
///
/// A node that uses the same input twice (`x * x`) lists it twice, once per edge.
pub fn local_derivatives(nodes: &[Node], id: NodeId) -> Vec<(NodeId, f64)> {
    let node = nodes[id.index()];
    match node.op {
        Op::Variable | Op::Constant => vec![],
        Op::Unary(op, x) => vec![(x, op.backward(nodes[x.index()].value, node.value, 1.0))],
        Op::Binary(op, a, b) => {
            let (da, db) = op.backward(
                nodes[a.index()].value,
                nodes[b.index()].value,
                node.value,
                1.0,
            );
            vec![(a, da), (b, db)]
        }
    }
}

/// The gradients of one output with respect to every node created before it.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients {
    adjoint: Vec<f64>,
}

impl Gradients {
    pub(crate) fn from_adjoint(adjoint: Vec<f64>) -> Self {
        Gradients { adjoint }
    }

    /// `d output / d node`; 0 for nodes the output does not depend on, for constants, and for
    /// nodes created after the output.
    pub fn wrt(&self, id: NodeId) -> f64 {
        self.adjoint.get(id.index()).copied().unwrap_or(0.0)
    }

    /// The adjoint of every node, indexed by [`NodeId::index`].
    pub fn as_slice(&self) -> &[f64] {
        &self.adjoint
    }

    /// The number of nodes covered (the output's index + 1).
    pub fn len(&self) -> usize {
        self.adjoint.len()
    }

    /// Whether no node is covered (never the case for a real sweep).
    pub fn is_empty(&self) -> bool {
        self.adjoint.is_empty()
    }
}
