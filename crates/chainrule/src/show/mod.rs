//! What a learner sees, derived from the same recorded graph that computes the numbers:
//!
//! - [`explain`]: the chain rule in words, node by node, forward and backward;
//! - [`viz`]: the graph laid out and drawn as SVG, or written as DOT for Graphviz;
//! - [`report`]: an interactive HTML page that steps through both passes and lists the paths;
//! - [`tape`]: the chain rule on a tensor tape, in matrix form with the shapes;
//! - [`network`]: one training step of a network's layers on that tape, each tensor named
//!   after its layer.

pub mod explain;
pub mod network;
pub mod report;
pub mod tape;
pub mod viz;
