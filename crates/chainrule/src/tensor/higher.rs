//! Derivatives of derivatives and forward mode for tensors, from the same rules.
//!
//! Two sweeps over a [`Tape`], both *recording* what they compute as ordinary tensor
//! operations, so that what they return can be differentiated again, to any order:
//!
//! - [`Tape::grad_graph`] (PyTorch's `create_graph=True`): the reverse sweep of
//!   [`Tensor::backward`] with tensor adjoints instead of arrays. Each node's rule is
//!   `vjp_rule` below.
//! - [`Tape::jvp`]: a forward sweep carrying one tangent tensor per node, each node's rule
//!   being `jvp_rule` below.
//!
//! Where the rules come from:
//!
//! - **Element-wise operations** (`exp`, `relu`, `+`, `pow`, `maximum`, ...) use the rules of
//!   [`crate::ops`] themselves, the very functions the fast sweep applies to numbers: a tensor
//!   wrapped in `Each` is an algebra of numbers, one per element, so `Unary::backward(x, y, g)`
//!   run on it records `g · f'(x)` as tensor operations. A rule is linear in its adjoint, so the
//!   same call with the tangent of `x` in place of `g` is the forward-mode rule too.
//! - **Structural operations** (matrix products, reductions, softmax, the moves of data) are
//!   written here as tensor operations: the adjoint of a move is the opposite move (a slice's is
//!   padding, a gather's is a scatter-add), and a linear operation's tangent is the operation
//!   itself applied to the tangent. The fast sweep of [`super::backward`] computes the same
//!   numbers with fused kernels; tests hold the two equal on every operation.
//!
//! The first-order [`Tensor::backward`] is untouched: this module only runs when asked.
//!
//! ```
//! use chainrule::tensor::{Array, Tape};
//!
//! let tape = Tape::<f64>::new();
//! let x = tape.var(Array::from_vec(vec![1.0, 2.0], &[2]).unwrap());
//! let y = x.powf(3.0).sum_all(); // Σ x³
//! let dy = tape.grad_graph(y, &[x]).unwrap()[0]; // 3x², a tensor on the tape
//! assert_eq!(dy.to_vec(), vec![3.0, 12.0]);
//! let d2 = tape.grad_graph(dy.sum_all(), &[x]).unwrap()[0]; // 6x
//! assert_eq!(d2.to_vec(), vec![6.0, 12.0]);
//! // Forward mode: the derivative of 3x² along v = (1, 0).
//! let v = tape.constant(Array::from_vec(vec![1.0, 0.0], &[2]).unwrap());
//! assert_eq!(tape.jvp(&[dy], &[x], &[v]).unwrap()[0].to_vec(), vec![6.0, 0.0]);
//! ```

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::array::{Array, Element};
use super::backward::extreme_weights;
use super::kernels::{self, Reduce};
use super::shape::{broadcast_shapes, fmt_shape, numel, Result, TensorError};
use super::tape::{Op, Tape, Tensor};
use crate::ops::{Binary, Real, Unary};

/// A tensor seen as one number per element: the algebra the rules of [`crate::ops`] run on to
/// record themselves on the tape. Shapes broadcast as in NumPy; inside a rule they always fit
/// (they did in the forward pass), so the operators do not return errors.
#[derive(Clone, Copy)]
struct Each<'t, T: Element>(Tensor<'t, T>);

macro_rules! each_operator {
    ($Trait:ident, $method:ident) => {
        impl<'t, T: Element> $Trait for Each<'t, T> {
            type Output = Self;
            fn $method(self, rhs: Self) -> Self {
                Each($Trait::$method(self.0, rhs.0))
            }
        }
    };
}
each_operator!(Add, add);
each_operator!(Sub, sub);
each_operator!(Mul, mul);
each_operator!(Div, div);

impl<'t, T: Element> Neg for Each<'t, T> {
    type Output = Self;
    fn neg(self) -> Self {
        Each(-self.0)
    }
}

impl<'t, T: Element> Each<'t, T> {
    fn unary(self, op: Unary) -> Self {
        Each(self.0.unary(op))
    }
}

impl<'t, T: Element> Real for Each<'t, T> {
    /// A tensor has no single value: rules decide per element with [`Real::piecewise`] and
    /// [`Real::select_eq`], which this algebra implements element-wise. (Only the forward rules
    /// of `relu`, `maximum`, `minimum` and `sigmoid` ask for the value, and those are never run on
    /// this algebra: the forward pass has its own kernels.)
    fn value(self) -> f64 {
        f64::NAN
    }
    fn zero(self) -> Self {
        Each(zeros(self.0.tape, &self.0.shape()))
    }
    fn add_c(self, c: f64) -> Self {
        Each(self.0.add_scalar(c))
    }
    fn mul_c(self, c: f64) -> Self {
        Each(self.0.mul_scalar(c))
    }
    crate::ops::real_by_unary!();
    fn pow(self, p: Self) -> Self {
        Each(
            self.0
                .binary(Binary::Pow, p.0)
                .expect("shapes of a rule broadcast"),
        )
    }
    fn piecewise(self, other: Self, below: f64, tie: f64, above: f64, g: Self) -> Self {
        let tape = g.0.tape;
        let shape = broadcast3(self.0, other.0, g.0);
        let (s, o) = (expanded(self.0, &shape), expanded(other.0, &shape));
        // The factor of each element, decided on the values as the number rule decides it.
        let factor: Vec<f64> = s
            .iter()
            .zip(&o)
            .map(|(&s, &o)| f64::piecewise(s.value(), o.value(), below, tie, above, 1.0))
            .collect();
        if factor.iter().all(|&f| f == 1.0) {
            return Each(expand_to(g.0, &shape));
        }
        let scaled = if factor.iter().all(|&f| f == 0.0 || f == 1.0) {
            g
        } else {
            let f = factor.iter().map(|&f| T::from_f64(f)).collect();
            g * Each(tape.constant(Array::from_parts(f, shape.clone())))
        };
        // A factor 0 is a strong zero (0 even where g is NaN), as for numbers.
        let keep = factor.iter().map(|&f| f != 0.0).collect();
        Each::choose(keep, &shape, scaled, Each(tape.scalar(T::ZERO)))
    }
    fn select_eq(
        self,
        c: f64,
        then: impl FnOnce() -> Self,
        otherwise: impl FnOnce() -> Self,
    ) -> Self {
        self.select(|v| v == c, then(), otherwise())
    }
    fn select_ge(
        self,
        c: f64,
        then: impl FnOnce() -> Self,
        otherwise: impl FnOnce() -> Self,
    ) -> Self {
        self.select(|v| v >= c, then(), otherwise())
    }
}

impl<'t, T: Element> Each<'t, T> {
    /// `then` where `test` holds for `self`'s element, `otherwise` elsewhere, at the broadcast
    /// shape of the three.
    fn select(self, test: impl Fn(f64) -> bool, then: Self, otherwise: Self) -> Self {
        let shape = broadcast3(self.0, then.0, otherwise.0);
        let hit = expanded(self.0, &shape)
            .iter()
            .map(|&v| test(v.value()))
            .collect();
        Each::choose(hit, &shape, then, otherwise)
    }

    /// `then` where the flag is set and `otherwise` elsewhere, at `shape` (the broadcast shape of
    /// the two), recording a `where` only when the flags differ.
    fn choose(flags: Vec<bool>, shape: &[usize], then: Self, otherwise: Self) -> Self {
        if !flags.iter().any(|&h| h) {
            return Each(expand_to(otherwise.0, shape));
        }
        if flags.iter().all(|&h| h) {
            return Each(expand_to(then.0, shape));
        }
        let flags = Array::from_vec(flags, shape).expect("one flag per element");
        Each(Tensor::where_(&flags, then.0, otherwise.0).expect("shapes of a rule broadcast"))
    }
}

/// The broadcast shape of three tensors.
fn broadcast3<T: Element>(a: Tensor<'_, T>, b: Tensor<'_, T>, c: Tensor<'_, T>) -> Vec<usize> {
    let ab = broadcast_shapes("rule", &a.shape(), &b.shape()).expect("shapes of a rule broadcast");
    broadcast_shapes("rule", &ab, &c.shape()).expect("shapes of a rule broadcast")
}

/// A tensor's values, broadcast to `shape`.
fn expanded<T: Element>(t: Tensor<'_, T>, shape: &[usize]) -> Vec<T> {
    let v = t.value();
    let mut out = vec![T::ZERO; numel(shape)];
    kernels::expand(v.data(), v.shape(), shape, &mut out);
    out
}

/// A constant of zeros.
fn zeros<'t, T: Element>(tape: &'t Tape<T>, shape: &[usize]) -> Tensor<'t, T> {
    tape.constant(Array::zeros(shape))
}

/// `t` broadcast to `shape` (recorded as `t + 0`, whose adjoint sums back).
fn expand_to<'t, T: Element>(t: Tensor<'t, T>, shape: &[usize]) -> Tensor<'t, T> {
    if t.shape() == shape {
        t
    } else {
        t + zeros(t.tape, shape)
    }
}

/// `t` summed down to `target`, the adjoint of broadcasting `target` to `t`'s shape.
fn sum_to<'t, T: Element>(t: Tensor<'t, T>, target: &[usize]) -> Result<Tensor<'t, T>> {
    let shape = t.shape();
    if shape == target {
        return Ok(t);
    }
    let lead = shape.len() - target.len();
    let axes: Vec<isize> = (0..shape.len())
        .filter(|&d| d < lead || (target[d - lead] == 1 && shape[d] != 1))
        .map(|d| d as isize)
        .collect();
    let summed = if axes.is_empty() {
        t
    } else {
        t.sum(&axes, true)?
    };
    summed.reshape_to(target.to_vec())
}

/// The axes of a reduction mask.
fn mask_axes(mask: u64, ndim: usize) -> Vec<isize> {
    (0..ndim)
        .filter(|&d| mask & (1 << d) != 0)
        .map(|d| d as isize)
        .collect()
}

/// The reverse-mode rule of node `i`, recorded: for each input that needs a gradient, the
/// adjoint contribution given the adjoint `g` of the node's output.
fn vjp_rule<'t, T: Element>(
    tape: &'t Tape<T>,
    i: usize,
    g: Tensor<'t, T>,
) -> Result<Vec<(usize, Tensor<'t, T>)>> {
    let (op, needs) = {
        let nodes = tape.nodes.borrow();
        let op = nodes[i].op.clone();
        let needs: Vec<bool> = op
            .inputs()
            .iter()
            .map(|&j| nodes[j].requires_grad)
            .collect();
        (op, needs)
    };
    let t = |id: usize| Tensor { tape, id };
    let y = t(i);
    let mut out = Vec::new();
    match op {
        Op::Variable | Op::Constant => {}
        Op::Unary(op, x) => {
            out.push((x, op.backward(Each(t(x)), Each(y), Each(g)).0));
        }
        Op::Binary(op, a, b) => {
            let (da, db) = op.backward(Each(t(a)), Each(t(b)), Each(y), Each(g));
            for (input, d, need) in [(a, da, needs[0]), (b, db, needs[1])] {
                if need {
                    out.push((input, sum_to(d.0, &t(input).shape())?));
                }
            }
        }
        Op::Matmul(a, b) => {
            let (a, b) = (t(a), t(b));
            // Vectors become matrices ([k] as [1, k] on the left, [k, 1] on the right) and the
            // output gets those unit axes back, so that both products below are matrix products.
            let (a2, b2) = (as_matrix(a, true)?, as_matrix(b, false)?);
            let mut gshape = g.shape();
            if a.ndim() == 1 {
                gshape.insert(gshape.len() - usize::from(b.ndim() > 1), 1);
            }
            if b.ndim() == 1 {
                gshape.push(1);
            }
            let g2 = g.reshape_to(gshape)?;
            if needs[0] {
                let da = g2.matmul(b2.transpose(-1, -2)?)?;
                let da = sum_to(da, &a2.shape())?.reshape_to(a.shape())?;
                out.push((a.id, da));
            }
            if needs[1] {
                let db = a2.transpose(-1, -2)?.matmul(g2)?;
                let db = sum_to(db, &b2.shape())?.reshape_to(b.shape())?;
                out.push((b.id, db));
            }
        }
        Op::Linear(x, w, b) => {
            if needs[0] {
                out.push((x, g.matmul(t(w))?));
            }
            if needs[1] {
                out.push((w, g.transpose(0, 1)?.matmul(t(x))?));
            }
            if needs[2] {
                out.push((b, g.sum(&[0], false)?));
            }
        }
        Op::Reduce(kind, x, mask) => {
            let xs = t(x).shape();
            let mut dx = expand_to(g, &xs);
            if kind != Reduce::Sum {
                let w = extreme_weights(tape, &t(x).value(), &y.value(), mask);
                dx = dx * tape.constant(Array::from_parts(w, xs));
            }
            out.push((x, dx));
        }
        Op::Reshape(x) => out.push((x, g.reshape_to(t(x).shape())?)),
        Op::Permute(x, perm) => {
            let mut inverse = vec![0isize; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i as isize;
            }
            out.push((x, g.permute(&inverse)?));
        }
        Op::Slice { x, axis, start } => {
            // Padding with zeros on both sides along the axis.
            let xs = t(x).shape();
            let len = y.shape()[axis];
            let pad = |width: usize| {
                let mut s = xs.clone();
                s[axis] = width;
                zeros(tape, &s)
            };
            let mut parts = Vec::with_capacity(3);
            if start > 0 {
                parts.push(pad(start));
            }
            parts.push(g);
            if xs[axis] > start + len {
                parts.push(pad(xs[axis] - start - len));
            }
            out.push((x, concat_or_one(&parts, axis)?));
        }
        Op::Concat(ids, axis) => {
            let mut at = 0;
            for (&x, &need) in ids.iter().zip(&needs) {
                let size = t(x).shape()[axis];
                if need {
                    out.push((x, g.slice(axis as isize, at, at + size)?));
                }
                at += size;
            }
        }
        Op::Softmax { x, axis, log } => {
            let a = [axis as isize];
            let dx = if log {
                // g − softmax(x)·Σg, with softmax(x) = e^y.
                g - y.exp() * g.sum(&a, true)?
            } else {
                // y·(g − Σ g·y).
                y * (g - (g * y).sum(&a, true)?)
            };
            out.push((x, dx));
        }
        Op::Gather(x, axis, index) => {
            out.push((x, g.scatter_add(&t(x).shape(), axis, &index)));
        }
        Op::IndexSelect(x, axis, indices) => {
            out.push((x, g.index_add(t(x).shape()[axis], axis, &indices)));
        }
        Op::ScatterAdd(x, axis, index) => out.push((x, g.gather(axis as isize, &index)?)),
        Op::IndexAdd(x, axis, indices) => out.push((x, g.index_select(axis as isize, &indices)?)),
        Op::Where(cond, a, b) => {
            let zero = tape.scalar(T::ZERO);
            for (input, take, need) in [(a, true, needs[0]), (b, false, needs[1])] {
                if need {
                    let d = if take {
                        Tensor::where_(&cond, g, zero)?
                    } else {
                        Tensor::where_(&cond, zero, g)?
                    };
                    out.push((input, sum_to(d, &t(input).shape())?));
                }
            }
        }
        Op::Clamp(x, lo, hi) => {
            let pass = clamp_mask(&t(x).value(), lo, hi);
            out.push((x, Tensor::where_(&pass, g, tape.scalar(T::ZERO))?));
        }
    }
    Ok(out)
}

/// The forward-mode rule of node `i`, recorded: the tangent of its output given the tangents
/// of its inputs (`None` for a zero tangent). `None` when every input's tangent is zero.
fn jvp_rule<'t, T: Element>(
    tape: &'t Tape<T>,
    i: usize,
    tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
) -> Result<Option<Tensor<'t, T>>> {
    let op = tape.nodes.borrow()[i].op.clone();
    let inputs = op.inputs();
    if inputs.iter().all(|&j| tangent(j).is_none()) {
        return Ok(None);
    }
    let t = |id: usize| Tensor { tape, id };
    let y = t(i);
    let ys = y.shape();
    let zero_or = |j: usize| tangent(j).unwrap_or_else(|| zeros(tape, &t(j).shape()));
    let dy = match op {
        Op::Variable | Op::Constant => return Ok(None),
        // A rule is linear in its adjoint: fed the input's tangent, it returns the output's.
        Op::Unary(op, x) => op.backward(Each(t(x)), Each(y), Each(zero_or(x))).0,
        Op::Binary(op, a, b) => {
            let mut sum: Option<Tensor<'t, T>> = None;
            for (input, first) in [(a, true), (b, false)] {
                if let Some(dt) = tangent(input) {
                    let (da, db) = op.backward(Each(t(a)), Each(t(b)), Each(y), Each(dt));
                    let term = expand_to(if first { da.0 } else { db.0 }, &ys);
                    sum = Some(sum.map_or(term, |s| s + term));
                }
            }
            sum.expect("some input has a tangent")
        }
        // Linear operations apply themselves to the tangent; products follow the product rule.
        Op::Matmul(a, b) => sum_present([
            tangent(a).map(|da| da.matmul(t(b))).transpose()?,
            tangent(b).map(|db| t(a).matmul(db)).transpose()?,
        ]),
        Op::Linear(x, w, b) => {
            let out_features = t(w).shape()[0];
            let no_bias = || zeros(tape, &[out_features]);
            sum_present([
                tangent(x)
                    .map(|dx| dx.linear(t(w), tangent(b).unwrap_or_else(no_bias)))
                    .transpose()?,
                tangent(w)
                    .map(|dw| t(x).linear(dw, no_bias()))
                    .transpose()?,
                tangent(b)
                    .filter(|_| tangent(x).is_none())
                    .map(|db| expand_to(db, &ys)),
            ])
        }
        Op::Reduce(kind, x, mask) => {
            let axes = mask_axes(mask, t(x).ndim());
            let mut dx = zero_or(x);
            if kind != Reduce::Sum {
                let w = extreme_weights(tape, &t(x).value(), &y.value(), mask);
                dx = dx * tape.constant(Array::from_parts(w, t(x).shape()));
            }
            dx.sum(&axes, true)?
        }
        Op::Reshape(x) => zero_or(x).reshape_to(ys)?,
        Op::Permute(x, perm) => {
            let perm: Vec<isize> = perm.iter().map(|&p| p as isize).collect();
            zero_or(x).permute(&perm)?
        }
        Op::Slice { x, axis, start } => zero_or(x).slice(axis as isize, start, start + ys[axis])?,
        Op::Concat(ids, axis) => {
            let parts: Vec<_> = ids.iter().map(|&j| zero_or(j)).collect();
            Tensor::concat(&parts, axis as isize)?
        }
        Op::Softmax { x, axis, log } => {
            let (a, dx) = ([axis as isize], zero_or(x));
            if log {
                // dx − Σ softmax(x)·dx, with softmax(x) = e^y.
                dx - (y.exp() * dx).sum(&a, true)?
            } else {
                // y·(dx − Σ y·dx).
                y * (dx - (y * dx).sum(&a, true)?)
            }
        }
        Op::Gather(x, axis, index) => zero_or(x).gather(axis as isize, &index)?,
        Op::IndexSelect(x, axis, indices) => zero_or(x).index_select(axis as isize, &indices)?,
        Op::ScatterAdd(x, axis, index) => zero_or(x).scatter_add(&ys, axis, &index),
        Op::IndexAdd(x, axis, indices) => zero_or(x).index_add(ys[axis], axis, &indices),
        Op::Where(cond, a, b) => Tensor::where_(&cond, zero_or(a), zero_or(b))?,
        Op::Clamp(x, lo, hi) => {
            let pass = clamp_mask(&t(x).value(), lo, hi);
            Tensor::where_(&pass, zero_or(x), tape.scalar(T::ZERO))?
        }
    };
    Ok(Some(dy))
}

/// The sum of the terms present (at least one is).
fn sum_present<'t, T: Element, const N: usize>(terms: [Option<Tensor<'t, T>>; N]) -> Tensor<'t, T> {
    terms
        .into_iter()
        .flatten()
        .reduce(|a, b| a + b)
        .expect("some input has a tangent")
}

/// Where `clamp(x, lo, hi)` passes its derivative, as a mask.
fn clamp_mask<T: Element>(x: &Array<T>, lo: f64, hi: f64) -> Array<bool> {
    let pass = x
        .data()
        .iter()
        .map(|&v| super::backward::clamp_passes(v, lo, hi))
        .collect();
    Array::from_parts(pass, x.shape().to_vec())
}

/// A vector as a one-row (`left`) or one-column matrix; anything else unchanged.
fn as_matrix<'t, T: Element>(t: Tensor<'t, T>, left: bool) -> Result<Tensor<'t, T>> {
    match t.shape()[..] {
        [k] if left => t.reshape_to(vec![1, k]),
        [k] => t.reshape_to(vec![k, 1]),
        _ => Ok(t),
    }
}

/// The concatenation of `parts`, or the one part itself.
fn concat_or_one<'t, T: Element>(parts: &[Tensor<'t, T>], axis: usize) -> Result<Tensor<'t, T>> {
    if parts.len() == 1 {
        Ok(parts[0])
    } else {
        Tensor::concat(parts, axis as isize)
    }
}

impl<T: Element> Tape<T> {
    /// The gradients of a one-element `output` with respect to `inputs`, as tensors recorded on
    /// this tape (PyTorch's `torch.autograd.grad(..., create_graph=True)`), so that they can be
    /// differentiated again, by [`Tensor::backward`] or by this function, to any order.
    ///
    /// An input the output does not depend on gets zeros. The accumulated gradients of
    /// [`Tensor::grad`] are not touched.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// // f(x) = Σ sin(x): f' = cos x, f'' = −sin x, f''' = −cos x.
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_vec(vec![0.0, 1.0], &[2]).unwrap());
    /// let mut d = x.sin();
    /// for _ in 0..3 {
    ///     d = tape.grad_graph(d.sum_all(), &[x]).unwrap()[0];
    /// }
    /// assert_eq!(d.to_vec(), vec![-1.0, -(1.0f64.cos())]);
    /// ```
    pub fn grad_graph<'t>(
        &'t self,
        output: Tensor<'t, T>,
        inputs: &[Tensor<'t, T>],
    ) -> Result<Vec<Tensor<'t, T>>> {
        if output.numel() != 1 {
            return Err(TensorError::new(
                "grad_graph",
                format!(
                    "the output has shape {}, not one element: give the output's adjoint with \
                     grad_graph_with",
                    fmt_shape(&output.shape())
                ),
            ));
        }
        let seed = self.constant(Array::ones(&output.shape()));
        self.grad_graph_with(output, seed, inputs)
    }

    /// [`Tape::grad_graph`] for an output of any shape, given its adjoint `seed` (the `u` of
    /// the vector-Jacobian product `uᵀJ`), which may itself be a recorded tensor.
    pub fn grad_graph_with<'t>(
        &'t self,
        output: Tensor<'t, T>,
        seed: Tensor<'t, T>,
        inputs: &[Tensor<'t, T>],
    ) -> Result<Vec<Tensor<'t, T>>> {
        if seed.shape() != output.shape() {
            return Err(TensorError::new(
                "grad_graph",
                format!(
                    "the seed has shape {} but the output has shape {}",
                    fmt_shape(&seed.shape()),
                    fmt_shape(&output.shape())
                ),
            ));
        }
        // The loop of `Tape::sweep`, with recorded adjoints: reverse creation order, each node
        // adding its contributions into its inputs' adjoints (which is how paths sum).
        let n = output.id + 1;
        let mut adj: Vec<Option<Tensor<'t, T>>> = vec![None; n];
        adj[output.id] = Some(seed);
        for i in (0..n).rev() {
            let Some(g) = adj[i] else { continue };
            if !self.nodes.borrow()[i].requires_grad {
                continue;
            }
            for (input, d) in vjp_rule(self, i, g)? {
                adj[input] = Some(match adj[input] {
                    Some(sum) => sum.add(d)?,
                    None => d,
                });
            }
        }
        Ok(inputs
            .iter()
            .map(|x| {
                adj.get(x.id)
                    .copied()
                    .flatten()
                    .unwrap_or_else(|| zeros(self, &x.shape()))
            })
            .collect())
    }

    /// Forward mode: the directional derivatives `J·v` of `outputs` when `inputs` move along
    /// `tangents` (one tangent per input, of its shape), by one forward sweep that carries a
    /// tangent per node. The results are recorded tensors, so they can be differentiated again
    /// (a Hessian-vector product is the `jvp` of a [`Tape::grad_graph`]).
    ///
    /// Each input must be a variable, or computed from variables: a constant's operations are
    /// not recorded, so no tangent could flow from it.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap());
    /// let y = (x * x).sum_all(); // |x|²: J·v = 2 x·v
    /// let v = tape.constant(Array::from_vec(vec![1.0, 1.0, 0.0], &[3]).unwrap());
    /// assert_eq!(tape.jvp(&[y], &[x], &[v]).unwrap()[0].item(), 6.0);
    /// ```
    pub fn jvp<'t>(
        &'t self,
        outputs: &[Tensor<'t, T>],
        inputs: &[Tensor<'t, T>],
        tangents: &[Tensor<'t, T>],
    ) -> Result<Vec<Tensor<'t, T>>> {
        if inputs.len() != tangents.len() {
            return Err(TensorError::new(
                "jvp",
                format!(
                    "{} inputs but {} tangents: give one tangent per input",
                    inputs.len(),
                    tangents.len()
                ),
            ));
        }
        for (k, (x, v)) in inputs.iter().zip(tangents).enumerate() {
            if x.shape() != v.shape() {
                return Err(TensorError::new(
                    "jvp",
                    format!(
                        "tangent {k} has shape {} but input {k} has shape {}",
                        fmt_shape(&v.shape()),
                        fmt_shape(&x.shape())
                    ),
                ));
            }
            if !x.requires_grad() {
                return Err(TensorError::new(
                    "jvp",
                    format!(
                        "input {k} is a constant: tangents flow only from variables and what \
                         is computed from them"
                    ),
                ));
            }
        }
        let Some(end) = outputs.iter().map(|y| y.id + 1).max() else {
            return Ok(Vec::new());
        };
        let start = inputs.iter().map(|x| x.id).min().unwrap_or(end);
        // tangents[i - start] is node i's tangent; None is zero.
        let mut tan: Vec<Option<Tensor<'t, T>>> = vec![None; end.saturating_sub(start)];
        for i in start..end {
            tan[i - start] = match inputs.iter().position(|x| x.id == i) {
                Some(k) => Some(tangents[k]),
                None if !self.nodes.borrow()[i].requires_grad => None,
                None => {
                    let lookup = |j: usize| j.checked_sub(start).and_then(|j| tan[j]);
                    jvp_rule(self, i, &lookup)?
                }
            };
        }
        Ok(outputs
            .iter()
            .map(|y| {
                y.id.checked_sub(start)
                    .and_then(|j| tan[j])
                    .unwrap_or_else(|| zeros(self, &y.shape()))
            })
            .collect())
    }
}
