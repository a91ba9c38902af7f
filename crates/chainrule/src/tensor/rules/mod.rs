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
//! - [`einsum`]: Einstein summation, planned into sums, permutations and one matrix product
//!   (no rule of its own);
//! - [`reduce`]: sums, means, maxima and minima over axes, `logsumexp`, `var`, `std`, `norm`,
//!   `prod`, `cumsum`, `argmax` and `argmin`;
//! - [`layout`]: reshapes, permutations, slices, concatenation;
//! - [`expand`]: broadcasting an input to a larger shape, and tiling (`repeat`);
//! - [`pad`]: padding with a constant (and cropping), and the triangles `tril`/`triu`;
//! - [`index`]: gathers and index selections, and their adjoints the scatter-adds; scatters,
//!   and `topk`;
//! - [`softmax`]: softmax and log-softmax;
//! - [`sample`]: drawing categories from probabilities (`multinomial`; no gradient);
//! - [`conv`]: two-dimensional convolution and its two adjoints;
//! - [`pool`]: maximum and average pooling;
//! - [`norm`]: batch and layer normalisation, fused, with recorded products from their
//!   definitions;
//! - [`attention`]: scaled dot-product attention, fused, likewise.
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

pub mod attention;
pub mod conv;
pub mod einsum;
pub mod elementwise;
pub mod expand;
pub mod index;
pub mod layout;
pub mod matmul;
pub mod norm;
pub mod pad;
pub mod pool;
pub mod reduce;
pub mod sample;
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

    /// [`Rule::vjp`] when the sweep has no further use for the adjoint `g`: an operation whose
    /// contribution to an input is `g` itself (a reshape, a sum) hands the buffer on instead of
    /// copying it. Returns `g` when it was not handed on.
    fn vjp_owned(
        &self,
        cx: &Numbers<'_, T>,
        y: &Array<T>,
        g: Vec<T>,
        out: &mut Vec<(usize, Vec<T>)>,
    ) -> Option<Vec<T>> {
        self.vjp(cx, y, &g, out);
        Some(g)
    }

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

    /// The operation written with its inputs' names, for explanations (`x·W1ᵀ + b1`).
    fn formula(&self, cx: &Explain<'_>) -> String {
        let args: Vec<&str> = self.inputs().iter().map(|&j| cx.name(j)).collect();
        format!("{}({})", self.name(), args.join(", "))
    }

    /// For each input, its vector-Jacobian product written in matrix form with the shapes, for
    /// explanations (`dL/dW1 = dL/dh1ᵀ · x   [128×784] = [128×64]·[64×784]`); `y` is this node.
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        self.inputs()
            .into_iter()
            .map(|j| {
                let line = format!(
                    "{} = J{}ᵀ · {}   {} = {}",
                    cx.grad(j),
                    cx.name(j),
                    cx.grad(y),
                    cx.shape(j),
                    cx.shape(y)
                );
                (j, line)
            })
            .collect()
    }
}

/// What an explanation of a rule reads: each node's display name and shape, and how to
/// differentiate an element-wise formula (which the layer that explains provides, from the
/// symbolic derivatives of the expression language).
pub struct Explain<'a> {
    /// A name for every node.
    pub names: &'a [String],
    /// Every node's shape.
    pub shapes: &'a [Vec<usize>],
    /// The derivative of a formula of the expression language (`relu(h1)`) with respect to a
    /// name in it (`h1`), written in that language (`step(h1)`), if it can be.
    pub derivative: &'a dyn Fn(&str, &str) -> Option<String>,
}

impl Explain<'_> {
    /// Node `j`'s name.
    pub fn name(&self, j: usize) -> &str {
        &self.names[j]
    }

    /// The name of the loss's gradient with respect to node `j`: `dL/dW1`.
    pub fn grad(&self, j: usize) -> String {
        format!("dL/d{}", self.names[j])
    }

    /// One line of an explanation: `dL/dj = rhs   shapes`.
    pub fn line(&self, j: usize, rhs: &str, shapes: &str) -> (usize, String) {
        (j, format!("{} = {rhs}   {shapes}", self.grad(j)))
    }

    /// Node `j`'s shape as a learner writes it: `[64×128]`, or `scalar`.
    pub fn shape(&self, j: usize) -> String {
        fmt_dims(&self.shapes[j])
    }

    /// The shape of node `j` with its last two axes swapped (a transposed matrix).
    pub fn shape_t(&self, j: usize) -> String {
        let mut s = self.shapes[j].clone();
        let n = s.len();
        if n >= 2 {
            s.swap(n - 1, n - 2);
        }
        fmt_dims(&s)
    }
}

/// `[64×128]`, or `scalar` for no dimensions.
pub(crate) fn fmt_dims(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".into();
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join("×"))
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
    /// A convolution, or one of its adjoints.
    Conv2d(Box<conv::Conv2d>),
    /// The maximum of each window.
    MaxPool2d(Box<pool::MaxPool2d>),
    /// The average of each window, or its adjoint.
    AvgPool2d(Box<pool::AvgPool2d>),
    /// A training-mode batch normalisation.
    BatchNorm(Box<norm::BatchNorm>),
    /// A layer normalisation.
    LayerNorm(Box<norm::LayerNorm>),
    /// A fused attention.
    Attention(Box<attention::Attention>),
    /// An input broadcast to a larger shape.
    Expand(expand::Expand),
    /// The axes in a set reversed.
    Flip(layout::Flip),
    /// An input padded with a constant, or cropped.
    Pad(pad::Pad),
    /// Elements written over an input at the places an index names.
    Scatter(Box<index::Scatter>),
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

/// The recorded products of a fused operation, from its definition: `vjp_recorded` and `jvp`
/// for a type with `ids()` (its inputs) and `definition(xs)` (its value from them in ordinary
/// tensor operations), through [`super::sweep`]'s `vjp_by_definition` and `jvp_by_definition`.
macro_rules! recorded_by_definition {
    () => {
        fn vjp_recorded<'t>(
            &self,
            cx: &$crate::tensor::rules::Recorded<'t, T>,
            _y: $crate::tensor::Tensor<'t, T>,
            g: $crate::tensor::Tensor<'t, T>,
            out: &mut Vec<(usize, $crate::tensor::Tensor<'t, T>)>,
        ) -> $crate::tensor::shape::Result<()> {
            let define = |xs: &[$crate::tensor::Tensor<'t, T>]| self.definition(xs);
            $crate::tensor::sweep::vjp_by_definition(cx, &self.ids(), &define, g, out)
        }
        fn jvp<'t>(
            &self,
            cx: &$crate::tensor::rules::Recorded<'t, T>,
            _y: $crate::tensor::Tensor<'t, T>,
            tangent: &dyn Fn(usize) -> Option<$crate::tensor::Tensor<'t, T>>,
        ) -> $crate::tensor::shape::Result<$crate::tensor::Tensor<'t, T>> {
            let define = |xs: &[$crate::tensor::Tensor<'t, T>]| self.definition(xs);
            $crate::tensor::sweep::jvp_by_definition(cx, &self.ids(), &define, tangent)
        }
    };
}
pub(crate) use recorded_by_definition;

/// Large operations are kept in a box, so that every node of the arena stays small (a node is
/// copied when the arena grows, and most nodes are element-wise operations).
impl<T: Element, R: Rule<T>> Rule<T> for Box<R> {
    fn name(&self) -> Cow<'static, str> {
        (**self).name()
    }
    fn inputs(&self) -> Vec<usize> {
        (**self).inputs()
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        (**self).vjp(cx, y, g, out)
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        (**self).vjp_recorded(cx, y, g, out)
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        (**self).jvp(cx, y, tangent)
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        (**self).formula(cx)
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        (**self).explain_vjp(cx, y)
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

#[cfg(test)]
mod tests {
    /// A node is copied whenever the arena grows: keep the list's large operations boxed. An
    /// operation holds at most one array (an index, a mask) and three words beside it.
    #[test]
    fn an_operation_takes_at_most_one_array_and_three_words() {
        let array = std::mem::size_of::<crate::tensor::Array<usize>>();
        assert_eq!(
            array, 48,
            "an array is a pointer and four inline dimensions"
        );
        let op = std::mem::size_of::<super::Op>();
        assert!(op <= array + 24, "{op}");
    }
}
