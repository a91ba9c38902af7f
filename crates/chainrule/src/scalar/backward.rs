//! The backward sweep: the chain rule, applied once per node, from the output back to the inputs.
//!
//! The adjoint of a node is `d output / d node`. The output's adjoint is 1. Visiting the nodes in
//! reverse creation order guarantees that when a node is reached, every node that uses it has
//! already added its share into the node's adjoint. The node then passes the adjoint on: for each
//! input, adjoint × local derivative is *added* into the input's adjoint. Adding is what makes
//! gradients sum over every path (`x * x` has derivative `x + x`).

use crate::scalar::graph::{Node, NodeId, Op};

/// The sweep. Nodes that no path connects to `output` are skipped, so an unrelated `ln(0)`
/// elsewhere in the graph cannot leak a NaN into the result.
pub(crate) fn sweep(nodes: &[Node], output: NodeId) -> Gradients {
    let mut adjoint = Vec::new();
    sweep_into(nodes, output, &mut adjoint, &mut Vec::new());
    Gradients { adjoint }
}

/// The sweep, writing `d output / d node` into `adjoint` (resized to cover the output), with
/// `reached` as scratch space. Reusing both buffers across calls saves allocating them anew.
pub(crate) fn sweep_into(
    nodes: &[Node],
    output: NodeId,
    adjoint: &mut Vec<f64>,
    reached: &mut Vec<bool>,
) {
    let n = output.index() + 1;
    adjoint.clear();
    adjoint.resize(n, 0.0);
    reached.clear();
    reached.resize(n, false);
    adjoint[output.index()] = 1.0;
    reached[output.index()] = true;

    for i in (0..n).rev() {
        if !reached[i] {
            continue;
        }
        let (g, y) = (adjoint[i], nodes[i].value);
        match nodes[i].op {
            Op::Variable => {}
            // A constant stops the gradient: report 0 for it, whatever flowed in.
            Op::Constant => adjoint[i] = 0.0,
            Op::Unary(op, x) => {
                let x = x.index();
                adjoint[x] += op.backward(nodes[x].value, y, g);
                reached[x] = true;
            }
            Op::Binary(op, a, b) => {
                let (a, b) = (a.index(), b.index());
                let (ga, gb) = op.backward(nodes[a].value, nodes[b].value, y, g);
                adjoint[a] += ga;
                adjoint[b] += gb;
                reached[a] = true;
                reached[b] = true;
            }
        }
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
