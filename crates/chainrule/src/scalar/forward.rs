//! The forward sweep: the chain rule applied from the inputs forward, carrying one tangent per
//! node (`d node / d t` as the inputs move with some velocity along `t`).
//!
//! A node's tangent gathers, from each input, the input's tangent times the local derivative.
//! The backward rules of [`crate::ops`] compute "incoming × local derivative" and are linear in
//! the incoming value, so the same rule serves both directions: the tangent of `y = op(x)` is
//! `op.backward(x, y, ẋ)`, no rule is written twice. Creation order is a topological order,
//! so this is one forward loop, as the backward sweep ([`crate::scalar::backward`]) is one
//! reverse loop; like it, the loop is generic over the algebra and over where the tangents
//! are kept (`Slots`).

use crate::ops::Real;
use crate::scalar::backward::Slots;
use crate::scalar::graph::{Op, Recording};

/// The forward sweep over the nodes `0..=last`, from the tangents already in `tangent` (those of
/// some leaves; a slot for each node up to `last`). A node without a tangent does not move, and contributes nothing, not even
/// `0 · ∞`.
pub(crate) fn sweep<T: Real, R: Recording<T> + ?Sized>(
    nodes: &R,
    last: usize,
    tangent: &mut impl Slots<T>,
) {
    for i in 0..last + 1 {
        if !tangent.wants(i) {
            continue;
        }
        match nodes.op(i) {
            // A leaf keeps the tangent it was given.
            Op::Variable | Op::Constant => {}
            Op::Unary(op, x) => {
                let x = x.index();
                if let Some(tx) = tangent.get(x) {
                    tangent.add(i, op.backward(nodes.value(x), nodes.value(i), tx));
                }
            }
            Op::Binary(op, a, b) => {
                let (a, b) = (a.index(), b.index());
                let (y, va, vb) = (nodes.value(i), nodes.value(a), nodes.value(b));
                if let Some(ta) = tangent.get(a) {
                    tangent.add(i, op.backward(va, vb, y, ta).0);
                }
                if let Some(tb) = tangent.get(b) {
                    tangent.add(i, op.backward(va, vb, y, tb).1);
                }
            }
        }
    }
}

/// Tangents as numbers, every node wanted; a zero tangent counts as none, so that it stays an
/// exact zero (`0 · ∞` at a node that does not move cannot leak a NaN).
pub(crate) struct Tangents(pub Vec<f64>);

impl Slots<f64> for Tangents {
    fn get(&self, i: usize) -> Option<f64> {
        Some(self.0[i]).filter(|&t| t != 0.0)
    }
    fn wants(&self, _i: usize) -> bool {
        true
    }
    fn add(&mut self, i: usize, d: f64) -> f64 {
        self.0[i] += d;
        self.0[i]
    }
    fn clear(&mut self, i: usize) {
        self.0[i] = 0.0;
    }
}
