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
//! - [`higher`]: gradients recorded as graphs (to differentiate them again) and forward mode;
//! - [`functional`]: `grad`, `vjp`, `jvp`, Jacobians and Hessians of closures, as in JAX;
//! - [`check`]: central finite differences to check any gradient, and second derivatives;
//! - [`optim`]: optimizers (SGD, Adam, AdamW) with PyTorch's formulas, learning-rate schedules
//!   and gradient clipping, for `f64` and `f32` parameters;
//! - [`descend`]: gradient descent on an expression, recording the path taken;
//! - [`data`]: datasets (CSV, IDX, built-in digits, iris and moons), standardisation, splits and
//!   mini-batches; [`rand`]: the seeded random number generator behind them;
//! - [`micrograd`]: micrograd's neuron, layer and perceptron on the scalar engine, and its
//!   two-moons demo;
//! - [`explain`] and [`viz`]: the chain rule in words, and the graph as DOT or SVG;
//! - [`tensor`]: n-dimensional tensors with broadcasting, matrix products, `gradcheck`, and
//!   derivatives of any order ([`tensor::higher`], [`tensor::functional`]);
//! - [`model_file`]: models and checkpoints as safetensors files;
//! - [`nn`]: neural-network modules (`Linear`, activations, `Dropout`, `Sequential`, MLPs from
//!   a spec such as `64-128-10`) and losses, with PyTorch's parameter names and layouts;
//! - [`train`]: the training loop with progress callbacks and per-epoch metrics, evaluation,
//!   prediction, and model and checkpoint files that resume exactly;
//! - [`report`]: an interactive HTML page that steps through both passes and lists the paths;
//! - [`bench`](mod@bench): the standard workloads behind `chainrule bench`;
//! - [`efficiency`]: why backpropagation is efficient, measured against forward mode and finite
//!   differences.
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
pub mod backward;
pub mod bench;
pub mod check;
pub mod data;
pub mod deep;
pub mod demo;
pub mod descend;
pub mod efficiency;
pub mod explain;
pub mod expr;
pub mod files;
pub mod functional;
pub mod graph;
pub mod higher;
pub mod micrograd;
pub mod model_file;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod rand;
pub mod report;
pub mod tensor;
pub mod train;
pub mod train_report;
pub mod viz;

pub use backward::Gradients;
pub use check::{check_gradient, gradgradcheck, GradCheck, GradCheckOptions};
pub use expr::{Bindings, Expr};
pub use graph::{Graph, Node, NodeId, Op, Var};
pub use ops::{Binary, Real, Unary};
pub use tensor::{gradcheck, Array, Tape, Tensor, TensorError};

/// The README's Rust examples, run as doctests so they never go stale.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
