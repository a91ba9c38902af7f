//! The scalar engine: a graph of `f64` operations in an arena, its two sweeps, gradients
//! recorded as graphs and forward mode, the functional API, and finite-difference checks.
//!
//! - [`graph`]: the arena of recorded nodes ([`Graph`](graph::Graph)) and the
//!   [`Var`](graph::Var) handle with its operators;
//! - [`backward`]: the backward sweep, the chain rule as one short reverse loop, for every
//!   algebra and with or without the anomaly check;
//! - [`forward`]: the forward sweep, one short forward loop carrying tangents;
//! - [`real`]: [`Var`](graph::Var) as an algebra for the rules, which lets the sweeps record
//!   what they compute;
//! - [`higher`]: gradients recorded as graphs (to differentiate them again) and forward mode;
//! - [`functional`]: `grad`, `vjp`, `jvp`, Jacobians and Hessians of closures, as in JAX;
//! - [`check`]: central finite differences to check any gradient, and second derivatives.
//!
//! Every rule the engine applies comes from [`crate::ops`]; what anomaly detection says about a
//! scalar node is in `anomaly` (the shared part is [`crate::anomaly`]).

pub(crate) mod anomaly;
pub mod backward;
pub mod check;
pub mod forward;
pub mod functional;
pub mod graph;
pub mod higher;
pub mod real;
