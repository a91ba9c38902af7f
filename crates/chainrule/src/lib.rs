//! # chainrule
//!
//! Exact gradients of composed functions by reverse-mode automatic differentiation, with the
//! chain rule shown at work: every computation is recorded as a graph, the backward sweep walks it
//! once from the output to the inputs, and the same graph is what gets explained and drawn.
//!
//! Where to find what:
//! - [`ops`]: each operation's forward rule and local derivative, written once;
//! - [`backward`]: the backward sweep, the chain rule as one short loop;
//! - [`graph`]: the arena of recorded nodes and the [`Var`] handle with its operators;
//! - [`expr`]: the expression language (`3*x^2 + 1`), parsed with errors that point at the column;
//! - [`check`]: central finite differences to check any gradient;
//! - [`optim`]: optimizers (SGD, Adam, AdamW) with PyTorch's formulas, learning-rate schedules
//!   and gradient clipping, for `f64` and `f32` parameters;
//! - [`descend`]: gradient descent on an expression, recording the path taken;
//! - [`explain`] and [`viz`]: the chain rule in words, and the graph as DOT or SVG;
//! - [`report`]: an interactive HTML page that steps through both passes and lists the paths;
//! - [`bench`]: the standard workloads behind `chainrule bench`.
//!
//! The seed example, `y = x²`, `z = 3y + 1`, at `x = 2`:
//!
//! ```
//! use chainrule::Graph;
//!
//! let g = Graph::new();
//! let x = g.var_named("x", 2.0);
//! let y = x.powi(2).named("y");
//! let z = (3.0 * y + 1.0).named("z");
//! assert_eq!(g.grad(z, &[x]), vec![12.0]);
//! ```

#![warn(missing_docs)]

pub mod backward;
pub mod bench;
pub mod check;
pub mod demo;
pub mod descend;
pub mod explain;
pub mod expr;
pub mod graph;
pub mod ops;
pub mod optim;
pub mod report;
pub mod viz;

pub use backward::Gradients;
pub use check::{check_gradient, GradCheck, GradCheckOptions};
pub use expr::{Bindings, Expr};
pub use graph::{Graph, Node, NodeId, Op, Var};
pub use ops::{Binary, Real, Unary};

/// The README's Rust examples, run as doctests so they never go stale.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
