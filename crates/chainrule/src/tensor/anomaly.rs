//! What anomaly detection ([`crate::anomaly`]) needs to know of the tensor engine: the name of a
//! node's operation, the shapes of its inputs, and where a value or a gradient holds a NaN or an
//! infinity.

use super::array::Element;
use super::kernels::Reduce;
use super::tape::{Node, Op};
use crate::anomaly::{binary_name, unary_name, Anomaly, Operand, Phase};
use crate::ops::Real;

/// The name of a tensor operation: `ln`, `add`, `matmul`, `sum`, ...
pub(crate) fn tensor_op_name(op: &Op) -> String {
    match op {
        Op::Variable => "variable".into(),
        Op::Constant => "constant".into(),
        &Op::Unary(u, _) => unary_name(u),
        &Op::Binary(b, _, _) => binary_name(b).into(),
        Op::Matmul(..) => "matmul".into(),
        Op::Linear(..) => "linear".into(),
        Op::Reduce(r, _, _) => match r {
            Reduce::Sum => "sum",
            Reduce::Max => "max",
            Reduce::Min => "min",
        }
        .into(),
        Op::Reshape(_) => "reshape".into(),
        Op::Permute(..) => "permute".into(),
        Op::Slice { .. } => "slice".into(),
        Op::Concat(..) => "concat".into(),
        Op::Softmax { log: false, .. } => "softmax".into(),
        Op::Softmax { log: true, .. } => "log_softmax".into(),
        Op::Gather(..) => "gather".into(),
        Op::IndexSelect(..) => "index_select".into(),
        Op::ScatterAdd(..) => "scatter_add".into(),
        Op::IndexAdd(..) => "index_add".into(),
        Op::Where(..) => "where".into(),
        Op::Clamp(..) => "clamp".into(),
    }
}

/// The anomaly of node `i`, which produced `produced` in `phase`, with its inputs' shapes (the
/// location is filled in by the detector).
pub(crate) fn tensor_anomaly<T: Element>(
    nodes: &[Node<T>],
    i: usize,
    phase: Phase,
    produced: f64,
) -> Anomaly {
    let op = &nodes[i].op;
    Anomaly {
        phase,
        op: tensor_op_name(op),
        node: i,
        inputs: op
            .inputs()
            .into_iter()
            .map(|x| Operand::Shape(nodes[x].value.shape().to_vec()))
            .collect(),
        produced,
        location: None,
    }
}

fn first_non_finite<T: Real>(values: &[T]) -> Option<f64> {
    values.iter().map(|v| v.value()).find(|v| !v.is_finite())
}

/// A forward anomaly if tensor node `i` holds a non-finite element.
pub(crate) fn check_tensor<T: Element>(nodes: &[Node<T>], i: usize) -> Option<Anomaly> {
    let produced = first_non_finite(nodes[i].value.data())?;
    Some(tensor_anomaly(nodes, i, Phase::Forward, produced))
}

/// A backward anomaly if node `i`'s rule made a non-finite `grad` for an input from a finite
/// adjoint `g`.
pub(crate) fn check_gradient<T: Element>(
    nodes: &[Node<T>],
    i: usize,
    g: &[T],
    grad: &[T],
) -> Option<Anomaly> {
    let produced = first_non_finite(grad)?;
    if first_non_finite(g).is_some() {
        return None;
    }
    Some(tensor_anomaly(nodes, i, Phase::Backward, produced))
}
