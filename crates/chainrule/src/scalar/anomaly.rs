//! What anomaly detection ([`crate::anomaly`]) needs to know of the scalar engine: the name of a
//! node's operation and the values of its inputs, to describe the node at fault.

use crate::anomaly::{Anomaly, Operand, Phase};
use crate::scalar::graph::{Node, Op};

/// The name of a scalar operation: `ln`, `add`, `x^2`, ...
pub(crate) fn op_name(op: Op) -> String {
    match op {
        Op::Variable => "variable".into(),
        Op::Constant => "constant".into(),
        Op::Unary(u, _) => u.name(),
        Op::Binary(b, _, _) => b.name().into(),
    }
}

/// The anomaly of node `i`, which produced `produced` in `phase`, with its inputs' values (the
/// location is filled in by the detector).
pub(crate) fn anomaly_at(nodes: &[Node], i: usize, phase: Phase, produced: f64) -> Anomaly {
    let node = nodes[i];
    Anomaly {
        phase,
        op: op_name(node.op),
        node: i,
        inputs: node
            .op
            .inputs()
            .map(|x| Operand::Value(nodes[x.index()].value))
            .collect(),
        produced,
        location: None,
    }
}

/// A forward anomaly if node `i`'s value is not finite.
pub(crate) fn check_node(nodes: &[Node], i: usize) -> Option<Anomaly> {
    let value = nodes[i].value;
    (!value.is_finite()).then(|| anomaly_at(nodes, i, Phase::Forward, value))
}
