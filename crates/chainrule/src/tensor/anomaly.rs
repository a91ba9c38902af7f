//! What anomaly detection ([`crate::anomaly`]) needs to know of the tensor engine: the node's
//! operation (named by its rule), the shapes of its inputs, and where a value or a gradient holds a NaN or an
//! infinity.

use super::array::Element;
use super::tape::Node;
use crate::anomaly::{Anomaly, Operand, Phase};
use crate::ops::Real;

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
        op: op.name().into_owned(),
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
