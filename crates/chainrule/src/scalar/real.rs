//! The graph's own nodes as an algebra for the rules: [`Var`] implements [`Real`], so every rule
//! of [`crate::ops`] can run on a [`Graph`](crate::Graph) and record what it computes. This is
//! what makes gradients that are graphs ([`Graph::grad_graph`](crate::Graph::grad_graph)) and
//! derivatives of any order work without a second copy of any rule.
//!
//! Each method records the operation of the same name; the one choice made here is in
//! [`Real::piecewise`], whose factor is read off the values now.

use crate::ops::{Real, Unary};
use crate::scalar::graph::Var;

impl<'g> Real for Var<'g> {
    fn value(self) -> f64 {
        Var::value(self)
    }
    fn zero(self) -> Self {
        self.graph().constant(0.0)
    }
    fn add_c(self, c: f64) -> Self {
        self + c
    }
    fn mul_c(self, c: f64) -> Self {
        self * c
    }
    fn exp(self) -> Self {
        Var::exp(self)
    }
    fn ln(self) -> Self {
        Var::ln(self)
    }
    fn sqrt(self) -> Self {
        Var::sqrt(self)
    }
    fn sin(self) -> Self {
        Var::sin(self)
    }
    fn cos(self) -> Self {
        Var::cos(self)
    }
    fn tan(self) -> Self {
        Var::tan(self)
    }
    fn tanh(self) -> Self {
        Var::tanh(self)
    }
    fn erf(self) -> Self {
        self.apply_unary(Unary::Erf)
    }
    fn unary(self, op: Unary) -> Self {
        self.apply_unary(op)
    }
    fn abs(self) -> Self {
        Var::abs(self)
    }
    fn powi(self, n: i32) -> Self {
        Var::powi(self, n)
    }
    fn powf_c(self, p: f64) -> Self {
        self.powf(p)
    }
    fn pow(self, p: Self) -> Self {
        self.powf(p)
    }
    /// The factor is chosen by the values now, and is constant nearby, so its derivative is 0:
    /// the result is `g` itself, a constant 0, or `c · g`.
    fn piecewise(self, other: Self, below: f64, tie: f64, above: f64, g: Self) -> Self {
        let c = f64::piecewise(Var::value(self), Var::value(other), below, tie, above, 1.0);
        if c == 0.0 {
            g.graph().constant(0.0)
        } else if c == 1.0 {
            g
        } else {
            g * c
        }
    }
}
