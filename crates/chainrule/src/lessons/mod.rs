//! Walkthroughs that teach with the engine: each computes its numbers with the library and
//! explains them as `explain` does.
//!
//! - [`demo`]: the chain rule for machine learning, from composition (dz/dx = 12) to
//!   backpropagation through layers;
//! - [`deep`]: how gradients reach (or fail to reach) the first layers of deep networks;
//! - [`efficiency`]: why backpropagation is efficient, measured against forward mode and finite
//!   differences;
//! - [`micrograd`]: micrograd's neuron, layer and perceptron on the scalar engine, and its
//!   two-moons demo;
//! - [`descend`]: gradient descent on an expression, recording the path taken.

pub mod deep;
pub mod demo;
pub mod descend;
pub mod efficiency;
pub mod micrograd;
