//! The scalar engine: a graph of `f64` operations in an arena, its backward sweep, gradients
//! recorded as graphs and forward mode, the functional API, and finite-difference checks.
//!
//! - [`graph`]: the arena of recorded nodes ([`Graph`](graph::Graph)) and the
//!   [`Var`](graph::Var) handle with its operators;
//! - [`backward`]: the backward sweep, the chain rule as one short loop;
//! - [`higher`]: gradients recorded as graphs (to differentiate them again) and forward mode;
//! - [`functional`]: `grad`, `vjp`, `jvp`, Jacobians and Hessians of closures, as in JAX;
//! - [`check`]: central finite differences to check any gradient, and second derivatives.
//!
//! Every rule the engine applies comes from [`crate::ops`].

pub mod backward;
pub mod check;
pub mod functional;
pub mod graph;
pub mod higher;
