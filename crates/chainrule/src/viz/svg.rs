//! Temporary.
use crate::graph::{Graph, Var};
/// Temporary.
pub fn to_svg(graph: &Graph, output: Var<'_>) -> String {
    super::to_dot(graph, output)
}
