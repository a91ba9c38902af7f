//! The tensor operations, one file per family, each operation's rules side by side: its
//! forward computation (a method of [`Tensor`]), its vector-Jacobian product on numbers (what
//! [`Tensor::backward`] runs), the same product recorded as tensor operations (what
//! [`Tape::grad_graph`] runs, so that gradients can be differentiated again), and its
//! Jacobian-vector product (what [`Tape::jvp`] runs).
//!
//! - [`elementwise`]: `exp`, `relu`, `softplus`, `+`, `pow`, `maximum`... (the rules of
//!   [`crate::ops`], written once for scalars and tensors alike), `clamp`, `where_cond`,
//!   `masked_fill`, and the comparisons (`gt`, `eq`, ...) that make masks;
//! - [`matmul`]: matrix products, batched and broadcast, and the fused fully connected layer;
//! - [`reduce`]: sums, means, maxima and minima over axes, `logsumexp`, `var`, `std`, `norm`,
//!   `prod`, `cumsum`, `argmax` and `argmin`;
//! - [`layout`]: reshapes, permutations, slices, concatenation;
//! - [`index`]: gathers and index selections, and their adjoints the scatter-adds;
//! - [`softmax`]: softmax and log-softmax.
//!
//! Why two products for one rule: the one on numbers fuses its work into few passes over
//! buffers taken from the tape's pool, which is what a training step needs; the recorded one is
//! written with the public tensor operations, so that it is itself differentiable. The tests
//! hold the two equal on every operation (and both equal to finite differences).
//!
//! `Op` (in this file) is the list of operations a node can record, and `Rule` the trait of
//! their rules; the sweeps of [`super::sweep`] reach each one's rules through `Op::rule`.
//! Adding an operation is writing its `Rule` in its family's file and adding a line to that
//! list.

use std::borrow::Cow;
use std::fmt;

use super::array::{Array, Element};
use super::shape::Result;
use super::tape::{Node, Tape, Tensor};

pub mod elementwise;
pub mod index;
pub mod layout;
pub mod matmul;
pub mod reduce;
pub mod softmax;

/// The rules of one recorded operation; its forward computation is a method of [`Tensor`] in the
/// same file.
pub(crate) trait Rule<T: Element>: fmt::Debug {
    /// The operation's name in messages (`matmul`, `log_softmax`, `exp`).
    fn name(&self) -> Cow<'static, str>;

    /// The nodes it reads, in order.
    fn inputs(&self) -> Vec<usize>;

    /// The vector-Jacobian product on numbers: given the output `y` and its adjoint `g`, pushes
    /// `(input, g · ∂y/∂input)` onto `out` for each input that needs a gradient
    /// ([`Numbers::needs`]), in buffers of the tape's pool.
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>);

    /// The same product recorded as tensor operations on the tape, so that it can be
    /// differentiated again.
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()>;

    /// The Jacobian-vector product, recorded: the output's tangent given the inputs' tangents
    /// (`tangent(input)` is `None` for a zero tangent; at least one is not).
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>>;
}

/// Defines [`Op`] from the list of recorded operations, and [`Op::rule`].
macro_rules! tensor_ops {
    ($($(#[doc = $doc:literal])* $variant:ident($ty:ty),)*) => {
        /// Which operation made a node, with its inputs (indices into the arena) and what its
        /// rules need besides the input and output values.
        #[derive(Clone, Debug)]
        pub(crate) enum Op {
            /// An input whose gradient is wanted.
            Variable,
            /// A fixed value: made by [`Tape::constant`], under [`Tape::no_grad`], or by
            /// [`Tensor::detach`].
            Constant,
            $($(#[doc = $doc])* $variant($ty),)*
        }

        impl Op {
            /// The operation's rules; `None` for a leaf.
            pub(crate) fn rule<T: Element>(&self) -> Option<&dyn Rule<T>> {
                match self {
                    Op::Variable | Op::Constant => None,
                    $(Op::$variant(r) => Some(r),)*
                }
            }
        }
    };
}

tensor_ops! {
    /// An element-wise operation of one input.
    Unary(elementwise::Map),
    /// An element-wise operation of two inputs, broadcast.
    Binary(elementwise::Zip),
    /// Each element limited to an interval.
    Clamp(elementwise::Clamp),
    /// One of two inputs chosen per element by a condition.
    Where(elementwise::Where),
    /// A (batched) matrix product.
    Matmul(matmul::Matmul),
    /// `x · wᵀ + b`.
    Linear(matmul::Linear),
    /// A sum, maximum or minimum over axes.
    Reduce(reduce::Reduce),
    /// `ln Σ e^x` over axes.
    LogSumExp(reduce::LogSumExp),
    /// A running sum along an axis.
    Cumsum(reduce::Cumsum),
    /// The same data with another shape.
    Reshape(layout::Reshape),
    /// The axes reordered.
    Permute(layout::Permute),
    /// A range along an axis.
    Slice(layout::Slice),
    /// Inputs joined along an axis.
    Concat(layout::Concat),
    /// Softmax or log-softmax along an axis.
    Softmax(softmax::Softmax),
    /// Elements picked along an axis by an index tensor.
    Gather(index::Gather),
    /// Slices picked along an axis by a list of indices.
    IndexSelect(index::IndexSelect),
    /// The adjoint of a gather.
    ScatterAdd(index::ScatterAdd),
    /// The adjoint of an index selection.
    IndexAdd(index::IndexAdd),
}

impl Op {
    /// The nodes the operation reads, in order.
    pub(crate) fn inputs(&self) -> Vec<usize> {
        self.rule::<f32>().map(|r| r.inputs()).unwrap_or_default()
    }

    /// The operation's name in messages.
    pub(crate) fn name(&self) -> Cow<'static, str> {
        match self.rule::<f32>() {
            Some(r) => r.name(),
            None if matches!(self, Op::Variable) => "variable".into(),
            None => "constant".into(),
        }
    }
}

/// What a rule on numbers reads: the recorded values and which nodes need a gradient, and the
/// tape's pool of buffers to write its products into.
pub(crate) struct Numbers<'a, T: Element> {
    pub tape: &'a Tape<T>,
    pub nodes: &'a [Node<T>],
}

impl<T: Element> Numbers<'_, T> {
    /// The value of node `j`.
    pub fn value(&self, j: usize) -> &Array<T> {
        &self.nodes[j].value
    }

    /// Whether node `j` needs a gradient.
    pub fn needs(&self, j: usize) -> bool {
        self.nodes[j].requires_grad
    }

    /// A buffer of `n` elements with unspecified contents.
    pub fn buffer(&self, n: usize) -> Vec<T> {
        self.tape.buffer(n)
    }

    /// A buffer of `n` zeros.
    pub fn zeroed(&self, n: usize) -> Vec<T> {
        self.tape.zeroed(n)
    }

    /// Gives a buffer back to the pool.
    pub fn recycle(&self, b: Vec<T>) {
        self.tape.recycle(b)
    }
}

/// What a recorded rule works with: the tape it records on.
#[derive(Clone, Copy)]
pub(crate) struct Recorded<'t, T: Element> {
    pub tape: &'t Tape<T>,
}

impl<'t, T: Element> Recorded<'t, T> {
    /// The handle of node `id`.
    pub fn t(&self, id: usize) -> Tensor<'t, T> {
        Tensor {
            tape: self.tape,
            id,
        }
    }

    /// Whether node `j` needs a gradient.
    pub fn needs(&self, j: usize) -> bool {
        self.tape.nodes.borrow()[j].requires_grad
    }

    /// A constant of zeros.
    pub fn zeros(&self, shape: &[usize]) -> Tensor<'t, T> {
        self.tape.constant(Array::zeros(shape))
    }

    /// A constant scalar zero.
    pub fn zero(&self) -> Tensor<'t, T> {
        self.tape.scalar(T::ZERO)
    }

    /// A tangent, or zeros of node `j`'s shape where it is `None`.
    pub fn or_zeros(&self, tangent: Option<Tensor<'t, T>>, j: usize) -> Tensor<'t, T> {
        tangent.unwrap_or_else(|| self.zeros(&self.t(j).shape()))
    }
}

/// `t` broadcast to `shape` (recorded as `t + 0`, whose adjoint sums back).
pub(crate) fn expand_to<'t, T: Element>(t: Tensor<'t, T>, shape: &[usize]) -> Tensor<'t, T> {
    if t.shape() == shape {
        t
    } else {
        t + t.tape.constant(Array::zeros(shape))
    }
}

/// `t` summed down to `target`, the adjoint of broadcasting `target` to `t`'s shape.
pub(crate) fn sum_to<'t, T: Element>(t: Tensor<'t, T>, target: &[usize]) -> Result<Tensor<'t, T>> {
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

/// The sum of the terms present (at least one is).
pub(crate) fn sum_present<'t, T: Element, const N: usize>(
    terms: [Option<Tensor<'t, T>>; N],
) -> Tensor<'t, T> {
    terms
        .into_iter()
        .flatten()
        .reduce(|a, b| a + b)
        .expect("some input has a tangent")
}
