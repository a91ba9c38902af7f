//! # chainrule
//!
//! Exact gradients of composed functions by reverse-mode automatic differentiation, with the
//! chain rule shown at work: every computation is recorded as a graph, the backward sweep walks it
//! once from the output to the inputs, and the same graph is what gets explained and drawn.
//!
//! The folders are the layers, each using only those above it in this list:
//!
//! - [`ops`]: the rules: each operation's forward value and local derivative, written once and
//!   generic over the algebra of values ([`Real`]);
//! - [`scalar`]: the scalar engine: the arena of recorded nodes ([`Graph`], [`Var`]), the
//!   backward sweep (the chain rule as one short loop), gradients recorded as graphs and forward
//!   mode, `grad`/`vjp`/`jvp`/Jacobians/Hessians of closures, finite-difference checks;
//! - [`tensor`]: the tensor engine on the same design: storage and shapes, the tape and its
//!   sweep, each tensor operation's rules, the kernels, `gradcheck` and derivatives of any order;
//! - [`anomaly`]: finding the operation that first produced a NaN or an infinity, on either
//!   engine;
//! - [`expr`]: the expression language (`3*x^2 + 1`), parsed with errors that point at the
//!   column, and its symbolic derivatives;
//! - [`show`]: what a learner sees: the chain rule in words ([`show::explain`]), the graph as
//!   SVG or DOT ([`show::viz`]), an interactive HTML page ([`show::report`]);
//! - [`lessons`]: the walkthroughs: the seed notebook's examples, deep networks, the efficiency
//!   of backpropagation, micrograd, gradient descent;
//! - machine learning: [`nn`] (modules, layers and losses with PyTorch's names and layouts),
//!   [`optim`] (optimizers, schedules, clipping), [`data`] (datasets, splits, batches),
//!   [`model_file`] (models as safetensors files), [`train`] (the training loop, evaluation,
//!   prediction, checkpoints, the report page);
//! - [`bench`](mod@bench): the standard workloads behind `chainrule bench`;
//! - [`util`]: helpers for every layer: the seeded random number generator, atomic files.
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

pub mod anomaly;
pub mod bench;
pub mod data;
pub mod expr;
pub mod lessons;
pub mod model_file;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod scalar;
pub mod show;
pub mod tensor;
pub mod train;
pub mod util;

// The paths of the modules before they were grouped into layers, kept so that code written
// against them still compiles.
#[doc(no_inline)]
pub use lessons::{deep, demo, descend, efficiency, micrograd};
#[doc(no_inline)]
pub use scalar::{backward, check, functional, graph, higher};
#[doc(no_inline)]
pub use show::{explain, report, viz};
#[doc(no_inline)]
pub use train::page as train_report;
#[doc(no_inline)]
pub use util::{files, rand};

pub use anomaly::{Anomaly, DetectAnomaly};
pub use expr::{Bindings, Expr};
pub use ops::{Binary, Real, Unary};
pub use scalar::backward::Gradients;
pub use scalar::check::{check_gradient, gradgradcheck, GradCheck, GradCheckOptions};
pub use scalar::graph::{Graph, Node, NodeId, Op, Var};
pub use tensor::{gradcheck, Array, Tape, Tensor, TensorError};

/// The README's Rust examples, run as doctests so they never go stale.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
