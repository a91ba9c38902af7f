//! The sweeps: the chain rule over a tape, backward and forward.
//!
//! This is the scalar engine's design ([`crate::scalar::backward`]) with tensors in the nodes:
//! creation order is a topological order, so the reverse sweep is one loop over the arena from
//! the output back, in which each node's adjoint goes through the node's vector-Jacobian product
//! (its rule, in [`super::rules`]) and is *added* into its inputs' adjoints, which is how
//! gradients sum over paths. The same loop serves two modes:
//!
//! - on numbers ([`Tensor::backward`]): adjoints are buffers from the tape's pool, the products
//!   are fused kernels, and the variables' adjoints are accumulated into their gradients; an
//!   adjoint the sweep has no further use for goes to the rule to keep, so that a reshape or a
//!   sum hands the buffer on to an input instead of copying it;
//! - recorded ([`Tape::grad_graph`], PyTorch's `create_graph=True`): adjoints are tensors on the
//!   tape and the products are recorded tensor operations, so that the gradients can be
//!   differentiated again, to any order.
//!
//! The forward sweep ([`Tape::jvp`]) carries one tangent per node from the inputs onward,
//! through each node's Jacobian-vector product.
//!
//! ```
//! use chainrule::tensor::{Array, Tape};
//!
//! let tape = Tape::<f64>::new();
//! let x = tape.var(Array::from_vec(vec![1.0, 2.0], &[2]).unwrap());
//! let y = x.powf(3.0).sum_all(); // Σ x³
//! y.backward().unwrap(); // on numbers: 3x²
//! assert_eq!(x.grad().unwrap().to_vec(), vec![3.0, 12.0]);
//! let dy = tape.grad_graph(y, &[x]).unwrap()[0]; // recorded: 3x², a tensor on the tape
//! let d2 = tape.grad_graph(dy.sum_all(), &[x]).unwrap()[0]; // 6x
//! assert_eq!(d2.to_vec(), vec![6.0, 12.0]);
//! // Forward mode: the derivative of 3x² along v = (1, 0).
//! let v = tape.constant(Array::from_vec(vec![1.0, 0.0], &[2]).unwrap());
//! assert_eq!(tape.jvp(&[dy], &[x], &[v]).unwrap()[0].to_vec(), vec![6.0, 0.0]);
//! ```

use super::array::{Array, Element};
use super::rules::{Numbers, Op, Recorded};
use super::shape::{fmt_shape, Result, TensorError};
use super::tape::{Node, Tape, Tensor};
use crate::anomaly::Anomaly;

/// What the reverse sweep carries and how it applies the chain rule at a node.
trait Mode {
    /// An adjoint: `d output / d node`.
    type Adjoint;
    /// Pushes `(input, contribution)` for each input of node `i` that needs a gradient, given
    /// the node's adjoint `g`.
    fn vjp(
        &mut self,
        i: usize,
        g: &Self::Adjoint,
        out: &mut Vec<(usize, Self::Adjoint)>,
    ) -> Result<()>;
    /// [`Mode::vjp`] for a node whose adjoint is not kept: the rule may hand `g` on to an input
    /// instead of copying it. Returns `g` when it was not handed on.
    fn vjp_owned(
        &mut self,
        i: usize,
        g: Self::Adjoint,
        out: &mut Vec<(usize, Self::Adjoint)>,
    ) -> Result<Option<Self::Adjoint>> {
        self.vjp(i, &g, out)?;
        Ok(Some(g))
    }
    /// `sum += d`.
    fn add(&mut self, sum: &mut Self::Adjoint, d: Self::Adjoint) -> Result<()>;
    /// Whether node `i`'s adjoint is still wanted after the sweep has passed it.
    fn keep(&self, i: usize) -> bool;
    /// Takes back an adjoint that is no longer wanted.
    fn release(&mut self, _g: Self::Adjoint) {}
}

/// The reverse sweep from `output`, whose adjoint is `seed`, through the nodes from `output`
/// down to `stop` (nodes before `stop` only receive adjoints): the adjoints of the nodes up to
/// the output that [`Mode::keep`] keeps (`None` for a node no path reaches).
fn reverse<M: Mode>(
    mode: &mut M,
    output: usize,
    seed: M::Adjoint,
    stop: usize,
) -> Result<Vec<Option<M::Adjoint>>> {
    let mut adjoint: Vec<Option<M::Adjoint>> = (0..=output).map(|_| None).collect();
    adjoint[output] = Some(seed);
    let mut parts = Vec::new();
    for i in (stop..=output).rev() {
        let (earlier, here) = adjoint.split_at_mut(i);
        // The chain rule at node i: its adjoint times each local derivative, added into the
        // adjoint of that input (every input was created before the node). An adjoint that is
        // not kept goes to the rule, which may pass it on.
        if mode.keep(i) {
            let Some(g) = &here[0] else { continue };
            mode.vjp(i, g, &mut parts)?;
        } else {
            let Some(g) = here[0].take() else { continue };
            if let Some(g) = mode.vjp_owned(i, g, &mut parts)? {
                mode.release(g);
            }
        }
        for (input, d) in parts.drain(..) {
            match &mut earlier[input] {
                Some(sum) => mode.add(sum, d)?,
                slot => *slot = Some(d),
            }
        }
    }
    Ok(adjoint)
}

/// The sweep on numbers: adjoints are buffers from the tape's pool, and each node applies its
/// fused vector-Jacobian product.
struct OnNumbers<'a, T: Element> {
    tape: &'a Tape<T>,
    /// Whether to check every contribution for a NaN or an infinity made from finite numbers.
    detect: bool,
    found: Option<Anomaly>,
}

impl<T: Element> OnNumbers<'_, T> {
    /// Takes back the contributions from `out[start..]` to inputs that need no gradient.
    fn keep_needed(&self, nodes: &[Node<T>], start: usize, out: &mut Vec<(usize, Vec<T>)>) {
        let mut k = start;
        while k < out.len() {
            if nodes[out[k].0].requires_grad {
                k += 1;
            } else {
                self.tape.recycle(out.swap_remove(k).1);
            }
        }
    }
}

impl<T: Element> Mode for OnNumbers<'_, T> {
    type Adjoint = Vec<T>;

    fn vjp(&mut self, i: usize, g: &Vec<T>, out: &mut Vec<(usize, Vec<T>)>) -> Result<()> {
        let nodes = self.tape.nodes.borrow();
        let node = &nodes[i];
        let Some(rule) = node.op.rule::<T>() else {
            return Ok(());
        };
        let cx = Numbers {
            tape: self.tape,
            nodes: &nodes,
        };
        let start = out.len();
        rule.vjp(&cx, &node.value, g, out);
        if self.detect {
            for (_, d) in &out[start..] {
                if self.found.is_some() {
                    break;
                }
                self.found = super::anomaly::check_gradient(&nodes, i, g, d);
            }
        }
        self.keep_needed(&nodes, start, out);
        Ok(())
    }

    fn vjp_owned(
        &mut self,
        i: usize,
        g: Vec<T>,
        out: &mut Vec<(usize, Vec<T>)>,
    ) -> Result<Option<Vec<T>>> {
        if self.detect {
            // The checks compare each contribution with the adjoint, so it stays apart.
            self.vjp(i, &g, out)?;
            return Ok(Some(g));
        }
        let nodes = self.tape.nodes.borrow();
        let node = &nodes[i];
        let Some(rule) = node.op.rule::<T>() else {
            return Ok(Some(g));
        };
        let cx = Numbers {
            tape: self.tape,
            nodes: &nodes,
        };
        let start = out.len();
        let back = rule.vjp_owned(&cx, &node.value, g, out);
        self.keep_needed(&nodes, start, out);
        Ok(back)
    }

    fn add(&mut self, sum: &mut Vec<T>, d: Vec<T>) -> Result<()> {
        for (a, &v) in sum.iter_mut().zip(&d) {
            *a = *a + v;
        }
        self.tape.recycle(d);
        Ok(())
    }

    fn keep(&self, i: usize) -> bool {
        matches!(self.tape.nodes.borrow()[i].op, Op::Variable)
    }

    fn release(&mut self, g: Vec<T>) {
        self.tape.recycle(g);
    }
}

/// The recorded sweep: adjoints are tensors on the tape, and each node records its
/// vector-Jacobian product as tensor operations.
struct RecordedMode<'t, T: Element> {
    cx: Recorded<'t, T>,
}

impl<'t, T: Element> Mode for RecordedMode<'t, T> {
    type Adjoint = Tensor<'t, T>;

    fn vjp(
        &mut self,
        i: usize,
        g: &Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        // Cloned, so that no borrow of the arena is held while the rule records on it.
        let op = {
            let node = &self.cx.tape.nodes.borrow()[i];
            if !node.requires_grad {
                return Ok(());
            }
            node.op.clone()
        };
        let Some(rule) = op.rule::<T>() else {
            return Ok(());
        };
        rule.vjp_recorded(&self.cx, self.cx.t(i), *g, out)?;
        out.retain(|&(input, _)| self.cx.needs(input));
        Ok(())
    }

    fn add(&mut self, sum: &mut Tensor<'t, T>, d: Tensor<'t, T>) -> Result<()> {
        *sum = sum.add(d)?;
        Ok(())
    }

    fn keep(&self, _i: usize) -> bool {
        // Any node may be asked for, not only variables; handles cost nothing to keep.
        true
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// Back-propagates from this one-element tensor (a loss), adding `d self / d v` into the
    /// gradient of every variable `v` it depends on.
    pub fn backward(self) -> Result<()> {
        if self.numel() != 1 {
            return Err(TensorError::new(
                "backward",
                format!(
                    "a gradient can only be created implicitly for one-element outputs, not {}",
                    fmt_shape(&self.shape())
                ),
            ));
        }
        let mut seed = self.tape.buffer(1);
        seed[0] = T::ONE;
        self.backward_from(seed)
    }

    /// Back-propagates with `seed` as the adjoint of this tensor (a vector-Jacobian product);
    /// `seed` must have this tensor's shape.
    ///
    /// With anomaly detection on ([`Tape::set_detect_anomaly`]), every gradient is checked, and
    /// if an operation's backward rule turns a finite adjoint into a NaN or an infinity the call
    /// fails naming it and where it was created (the gradients are accumulated all the same).
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// tape.set_detect_anomaly(true);
    /// let x = tape.var(Array::from_vec(vec![4.0, 0.0], &[2]).unwrap());
    /// let err = x.sqrt().sum_all().backward().unwrap_err();
    /// assert!(err.to_string().contains("sqrt"), "{err}");
    /// assert_eq!(tape.anomaly().unwrap().inputs[0].to_string(), "[2]");
    /// ```
    pub fn backward_with(self, seed: &Array<T>) -> Result<()> {
        let shape = self.shape();
        if seed.shape() != shape.as_slice() {
            return Err(TensorError::new(
                "backward",
                format!(
                    "the seed has shape {} but the output has shape {}",
                    fmt_shape(seed.shape()),
                    fmt_shape(&shape)
                ),
            ));
        }
        let mut buf = self.tape.buffer(seed.numel());
        buf.copy_from_slice(seed.data());
        self.backward_from(buf)
    }

    /// [`Tensor::backward_with`] from a seed of the right length, taken from the pool.
    fn backward_from(self, buf: Vec<T>) -> Result<()> {
        if !self.requires_grad() {
            self.tape.recycle(buf);
            return Err(TensorError::new(
                "backward",
                "the output does not depend on any variable (or was made under no_grad)",
            ));
        }
        let tape = self.tape;
        let mut mode = OnNumbers {
            tape,
            detect: tape.is_anomaly_enabled(),
            found: None,
        };
        let adjoint = reverse(&mut mode, self.id, buf, 0)?;
        tape.accumulate(adjoint);
        match tape.report_backward_anomaly(mode.found) {
            Some(a) => Err(TensorError::new("backward", a.to_string())),
            None => Ok(()),
        }
    }
}

impl<T: Element> Tape<T> {
    /// The gradients of a one-element `output` with respect to `inputs`, as tensors recorded on
    /// this tape (PyTorch's `torch.autograd.grad(..., create_graph=True)`), so that they can be
    /// differentiated again, by [`Tensor::backward`] or by this function, to any order.
    ///
    /// An input the output does not depend on gets zeros (as JAX's `grad`), where
    /// [`Tensor::grad`] after [`Tensor::backward`] is `None` (as PyTorch's `.grad`): zeros can be
    /// differentiated again, which is what this function is for. The accumulated gradients of
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
        let cx = Recorded { tape: self };
        let adjoint = reverse(&mut RecordedMode { cx }, output.id, seed, 0)?;
        Ok(inputs
            .iter()
            .map(|x| {
                adjoint
                    .get(x.id)
                    .copied()
                    .flatten()
                    .unwrap_or_else(|| cx.zeros(&x.shape()))
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
        let cx = Recorded { tape: self };
        let seed = |i: usize| inputs.iter().position(|x| x.id == i).map(|k| tangents[k]);
        let tangent = forward(&cx, start..end, &seed, &|_| None)?;
        Ok(outputs
            .iter()
            .map(|y| {
                y.id.checked_sub(start)
                    .and_then(|j| tangent[j])
                    .unwrap_or_else(|| cx.zeros(&y.shape()))
            })
            .collect())
    }
}

/// The forward sweep over the nodes `range`: each node's tangent from its inputs' through its
/// Jacobian-vector product, or `seed(node)` where that is given; `before(node)` is the tangent
/// of a node before the range. `tangent[i - range.start]` is node `i`'s tangent (`None` for
/// zero).
fn forward<'t, T: Element>(
    cx: &Recorded<'t, T>,
    range: std::ops::Range<usize>,
    seed: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    before: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
) -> Result<Vec<Option<Tensor<'t, T>>>> {
    let start = range.start;
    let mut tangent: Vec<Option<Tensor<'t, T>>> = vec![None; range.len()];
    for i in range {
        tangent[i - start] = match seed(i) {
            Some(t) => Some(t),
            None => {
                let op = {
                    let node = &cx.tape.nodes.borrow()[i];
                    if !node.requires_grad {
                        continue;
                    }
                    node.op.clone()
                };
                let of = |j: usize| match j.checked_sub(start) {
                    Some(k) => tangent[k],
                    None => before(j),
                };
                match op.rule::<T>() {
                    // The chain rule forward: the inputs' tangents through the node's
                    // Jacobian, when any of them moves.
                    Some(rule) if rule.inputs().into_iter().any(|j| of(j).is_some()) => {
                        Some(rule.jvp(cx, cx.t(i), &of)?)
                    }
                    _ => None,
                }
            }
        };
    }
    Ok(tangent)
}

/// The definition of a fused operation: its value recorded from its inputs with public tensor
/// operations.
pub(crate) type Definition<'a, 't, T> = dyn Fn(&[Tensor<'t, T>]) -> Result<Tensor<'t, T>> + 'a;

/// The recorded vector-Jacobian product of a fused operation, from its definition: `define`
/// records the operation's value from its `inputs` with public (differentiable) tensor
/// operations, and the recorded sweep runs back through those nodes only. A fused operation
/// thus computes fast on numbers and still has derivatives of every order, with nothing written
/// twice but its definition.
pub(crate) fn vjp_by_definition<'t, T: Element>(
    cx: &Recorded<'t, T>,
    inputs: &[usize],
    define: &Definition<'_, 't, T>,
    g: Tensor<'t, T>,
    out: &mut Vec<(usize, Tensor<'t, T>)>,
) -> Result<()> {
    let stop = cx.tape.len();
    let xs: Vec<Tensor<'t, T>> = inputs.iter().map(|&i| cx.t(i)).collect();
    let y = define(&xs)?;
    let adjoint = reverse(&mut RecordedMode { cx: *cx }, y.id, g, stop)?;
    for &i in inputs {
        if let Some(d) = adjoint[i].filter(|_| cx.needs(i)) {
            if !out.iter().any(|&(j, _)| j == i) {
                out.push((i, d));
            }
        }
    }
    Ok(())
}

/// The recorded Jacobian-vector product of a fused operation, from its definition (as
/// [`vjp_by_definition`]): the forward sweep runs through the definition's nodes only, the
/// inputs' tangents entering from before them.
pub(crate) fn jvp_by_definition<'t, T: Element>(
    cx: &Recorded<'t, T>,
    inputs: &[usize],
    define: &Definition<'_, 't, T>,
    tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
) -> Result<Tensor<'t, T>> {
    let start = cx.tape.len();
    let xs: Vec<Tensor<'t, T>> = inputs.iter().map(|&i| cx.t(i)).collect();
    let y = define(&xs)?;
    let tangents = forward(cx, start..y.id + 1, &|_| None, tangent)?;
    Ok(tangents
        .get(y.id.wrapping_sub(start))
        .copied()
        .flatten()
        .unwrap_or_else(|| cx.zeros(&y.shape())))
}
