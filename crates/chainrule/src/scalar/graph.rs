//! The recorded computation: a graph of scalar operations, kept in an arena.
//!
//! Every value computed with a [`Var`] becomes a [`Node`] pushed onto the [`Graph`]'s arena and is
//! referred to by its index, a [`NodeId`]. A node only ever refers to nodes created before it, so
//! creation order is already a topological order: the backward sweep is a plain reverse loop (see
//! [`crate::scalar::backward`]), with no recursion and no sorting, and a graph of millions of nodes is as
//! easy as one of three.

use std::cell::{Ref, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::panic::Location;

use crate::anomaly::{Anomaly, Check, DetectAnomaly, Detector, FirstNonFinite, NoCheck, Phase};
use crate::ops::{Binary, Unary};
use crate::scalar::anomaly::{anomaly_at, check_node};
use crate::scalar::backward::{self, Dense, Gradients};

/// The index of a node in its graph's arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The position of the node in the arena (0 for the first node created).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What kind of leaf a node is, or which operation made it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// An input whose gradient is wanted.
    Variable,
    /// A fixed number (a literal, or a [`Var::detach`]ed value): gradient never flows past it.
    Constant,
    /// An operation of one input.
    Unary(Unary, NodeId),
    /// An operation of two inputs.
    Binary(Binary, NodeId, NodeId),
}

impl Op {
    /// The nodes this one was computed from (none for a leaf).
    pub fn inputs(&self) -> impl Iterator<Item = NodeId> {
        let (a, b) = match *self {
            Op::Variable | Op::Constant => (None, None),
            Op::Unary(_, x) => (Some(x), None),
            Op::Binary(_, a, b) => (Some(a), Some(b)),
        };
        a.into_iter().chain(b)
    }

    /// Whether the node is a leaf (a variable or a constant).
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Variable | Op::Constant)
    }
}

/// One recorded value: the operation that made it and the number it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Node {
    /// The operation (with its inputs) or the kind of leaf.
    pub op: Op,
    /// The value computed in the forward pass.
    pub value: f64,
}

/// A recorded computation as the sweeps read it: node `i`'s operation and its value in the
/// algebra `T` the rules compute with (numbers on a [`Graph`], the graph's own nodes for
/// gradients that are graphs, formulas for symbolic derivatives). Nodes refer only to earlier
/// nodes, so index order is a topological order.
pub(crate) trait Recording<T> {
    /// The operation of node `i`, with its inputs.
    fn op(&self, i: usize) -> Op;
    /// The value of node `i`.
    fn value(&self, i: usize) -> T;
}

impl Recording<f64> for [Node] {
    #[inline(always)]
    fn op(&self, i: usize) -> Op {
        self[i].op
    }
    #[inline(always)]
    fn value(&self, i: usize) -> f64 {
        self[i].value
    }
}

/// Which of the nodes `0..len` depend on one of `targets` (a target depends on itself): the only
/// nodes worth an adjoint when a gradient with respect to the targets is wanted, and the only
/// ones with a tangent when the targets move.
pub(crate) fn depends_on<T>(
    nodes: &(impl Recording<T> + ?Sized),
    len: usize,
    targets: impl IntoIterator<Item = usize>,
) -> Vec<bool> {
    let mut live = vec![false; len];
    for t in targets {
        if t < len {
            live[t] = true;
        }
    }
    for i in 0..len {
        live[i] |= match nodes.op(i) {
            Op::Variable | Op::Constant => false,
            Op::Unary(_, x) => live[x.index()],
            Op::Binary(_, a, b) => live[a.index()] || live[b.index()],
        };
    }
    live
}

/// An arena of recorded scalar operations, with the accumulated gradient of each node.
///
/// ```
/// use chainrule::Graph;
///
/// let g = Graph::new();
/// let x = g.var_named("x", 2.0);
/// let z = 3.0 * x.powi(2) + 1.0;
/// z.backward();
/// assert_eq!(z.value(), 13.0);
/// assert_eq!(x.grad(), 12.0);
/// ```
#[derive(Default)]
pub struct Graph {
    nodes: RefCell<Vec<Node>>,
    /// Gradients accumulated by [`Var::backward`], one per node; shorter than `nodes` until the
    /// first backward call reaches the newer nodes.
    grads: RefCell<Vec<f64>>,
    names: RefCell<HashMap<NodeId, String>>,
    /// Buffers of the backward sweep, kept between calls of [`Graph::grad`].
    scratch: RefCell<(Vec<f64>, Vec<bool>)>,
    /// Anomaly detection (see [`crate::anomaly`]).
    detector: Detector,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph").field("nodes", &self.len()).finish()
    }
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty graph with room for `n` nodes before its arena grows.
    pub fn with_capacity(n: usize) -> Self {
        Graph {
            nodes: RefCell::new(Vec::with_capacity(n)),
            ..Self::default()
        }
    }

    /// A new input variable holding `value`.
    #[track_caller]
    pub fn var(&self, value: f64) -> Var<'_> {
        self.push(Op::Variable, value)
    }

    /// A new input variable with a name, used by explanations and drawings.
    #[track_caller]
    pub fn var_named(&self, name: &str, value: f64) -> Var<'_> {
        let v = self.var(value);
        v.named(name)
    }

    /// A constant: a leaf whose gradient is never propagated.
    #[track_caller]
    pub fn constant(&self, value: f64) -> Var<'_> {
        self.push(Op::Constant, value)
    }

    /// The number of nodes recorded so far.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the node `id`.
    ///
    /// # Panics
    /// If `id` does not belong to this graph.
    pub fn node(&self, id: NodeId) -> Node {
        self.nodes.borrow()[id.index()]
    }

    /// Every node, in creation (topological) order.
    pub fn nodes(&self) -> Ref<'_, [Node]> {
        Ref::map(self.nodes.borrow(), |v| v.as_slice())
    }

    /// The name given to a node, if any.
    pub fn name(&self, id: NodeId) -> Option<String> {
        self.names.borrow().get(&id).cloned()
    }

    /// The [`Var`] handle of an existing node.
    ///
    /// # Panics
    /// If `id` does not belong to this graph.
    pub fn var_of(&self, id: NodeId) -> Var<'_> {
        assert!(
            id.index() < self.len(),
            "node {} is not in this graph",
            id.0
        );
        Var { graph: self, id }
    }

    /// Forgets every node, name and gradient, keeping the arena's memory for reuse.
    ///
    /// This needs `&mut self`, so no [`Var`] of the old graph can outlive it.
    pub fn clear(&mut self) {
        self.nodes.get_mut().clear();
        self.grads.get_mut().clear();
        self.names.get_mut().clear();
        self.detector.truncate(0);
    }

    /// Sets every accumulated gradient back to zero (as PyTorch's `zero_grad`).
    pub fn zero_grad(&self) {
        self.grads.borrow_mut().iter_mut().for_each(|g| *g = 0.0);
    }

    /// Fresh gradients of `output` with respect to every node, accumulating nothing.
    pub fn gradients(&self, output: Var<'_>) -> Gradients {
        self.check_owner(output);
        let mut adjoint = Vec::new();
        self.sweep(output, &mut adjoint, &mut Vec::new());
        Gradients::from_adjoint(adjoint)
    }

    /// Fresh gradients of `output` with respect to each of `inputs`, accumulating nothing.
    ///
    /// ```
    /// use chainrule::Graph;
    ///
    /// let g = Graph::new();
    /// let (x, y) = (g.var(2.0), g.var(3.0));
    /// let f = x * y + x;
    /// assert_eq!(g.grad(f, &[x, y]), vec![4.0, 2.0]);
    /// ```
    pub fn grad(&self, output: Var<'_>, inputs: &[Var<'_>]) -> Vec<f64> {
        self.check_owner(output);
        let mut scratch = self.scratch.borrow_mut();
        let (adjoint, reached) = &mut *scratch;
        self.sweep(output, adjoint, reached);
        inputs
            .iter()
            .map(|v| {
                self.check_owner(*v);
                adjoint.get(v.id.index()).copied().unwrap_or(0.0)
            })
            .collect()
    }

    /// The backward sweep from `output` into `adjoint` (with `reached` as scratch space),
    /// checked while anomaly detection is on; the anomaly found, if any, is kept.
    fn sweep(&self, output: Var<'_>, adjoint: &mut Vec<f64>, reached: &mut Vec<bool>) {
        if self.detector.is_on() {
            self.checked_sweep(output, adjoint, reached);
        } else {
            self.sweep_with(output, adjoint, reached, &mut NoCheck);
        }
    }

    /// The backward sweep on numbers, with `check` told of every gradient added.
    fn sweep_with(
        &self,
        output: Var<'_>,
        adjoint: &mut Vec<f64>,
        reached: &mut Vec<bool>,
        check: &mut impl Check<f64>,
    ) {
        let out = output.id.index();
        let mut slots = Dense::new(adjoint, reached, out + 1);
        let nodes = self.nodes.borrow();
        backward::sweep(&nodes[..], out, 1.0, &mut slots, check);
    }

    /// The first node (in creation order) whose value is NaN or infinite, if any.
    pub fn first_non_finite(&self) -> Option<NodeId> {
        self.nodes
            .borrow()
            .iter()
            .position(|n| !n.value.is_finite())
            .map(|i| NodeId(i as u32))
    }

    crate::anomaly::inherent_detect_anomaly!(NodeId, NodeId::index);

    /// [`Graph::grad`], checking every step of the backward sweep whether or not detection is
    /// on: the error names the operation whose local derivative first turned a finite gradient
    /// into a NaN or an infinity (with its location if detection was on when it was recorded).
    ///
    /// Only the backward pass is checked: a NaN value whose gradients are all finite is reported
    /// by [`Graph::anomaly`] instead.
    ///
    /// ```
    /// use chainrule::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.var(0.0);
    /// let y = x.sqrt() + x;
    /// let err = g.try_grad(y, &[x]).unwrap_err();
    /// assert_eq!(err.op, "sqrt");
    /// assert!(err.to_string().contains("backward"));
    /// assert_eq!(g.try_grad(x * 2.0, &[x]).unwrap(), vec![2.0]);
    /// ```
    pub fn try_grad(&self, output: Var<'_>, inputs: &[Var<'_>]) -> Result<Vec<f64>, Anomaly> {
        self.check_owner(output);
        let mut adjoint = Vec::new();
        if let Some(a) = self.checked_sweep(output, &mut adjoint, &mut Vec::new()) {
            return Err(a);
        }
        Ok(inputs
            .iter()
            .map(|v| {
                self.check_owner(*v);
                adjoint.get(v.id.index()).copied().unwrap_or(0.0)
            })
            .collect())
    }

    /// The backward sweep with every gradient checked: the first operation, from the output
    /// back, whose local derivative turned a finite adjoint into a NaN or an infinity (kept as
    /// the first anomaly if detection is on). Kept out of line, so that the unchecked sweep is
    /// compiled on its own.
    #[inline(never)]
    fn checked_sweep(
        &self,
        output: Var<'_>,
        adjoint: &mut Vec<f64>,
        reached: &mut Vec<bool>,
    ) -> Option<Anomaly> {
        let mut check = FirstNonFinite::default();
        self.sweep_with(output, adjoint, reached, &mut check);
        let (node, produced) = check.found?;
        let a = anomaly_at(&self.nodes.borrow(), node, Phase::Backward, produced);
        Some(self.detector.blame(a))
    }

    /// Notes where node `id` was created and checks its value (detection is on).
    #[inline]
    fn observe(&self, id: NodeId, at: &'static Location<'static>) {
        let i = id.index();
        self.detector
            .observe(i, at, || check_node(&self.nodes.borrow(), i));
    }

    #[inline]
    #[track_caller]
    fn push(&self, op: Op, value: f64) -> Var<'_> {
        let mut nodes = self.nodes.borrow_mut();
        let id = push_node(&mut nodes, op, value);
        drop(nodes);
        if self.detector.is_on() {
            self.observe(id, Location::caller());
        }
        Var { graph: self, id }
    }

    #[inline]
    fn check_owner(&self, v: Var<'_>) {
        assert!(
            std::ptr::eq(self, v.graph),
            "a Var was used with a graph it does not belong to"
        );
    }

    // The hot path of recording: one borrow, one read, one push. Inlined so that the operation,
    // known at the call site, selects its forward rule at compile time.
    // Always inlined: the caller's location is then a constant and the test of the detection
    // flag one compare-and-branch, so that recording costs the same with detection off.
    #[inline(always)]
    #[track_caller]
    fn unary(&self, op: Unary, x: NodeId) -> Var<'_> {
        let mut nodes = self.nodes.borrow_mut();
        let value = op.apply(nodes[x.index()].value);
        let id = push_node(&mut nodes, Op::Unary(op, x), value);
        drop(nodes);
        if self.detector.is_on() {
            self.observe(id, Location::caller());
        }
        Var { graph: self, id }
    }

    #[inline(always)]
    #[track_caller]
    fn binary(&self, op: Binary, a: Var<'_>, b: Var<'_>) -> Var<'_> {
        self.check_owner(a);
        self.check_owner(b);
        let mut nodes = self.nodes.borrow_mut();
        let value = op.apply(nodes[a.id.index()].value, nodes[b.id.index()].value);
        let id = push_node(&mut nodes, Op::Binary(op, a.id, b.id), value);
        drop(nodes);
        if self.detector.is_on() {
            self.observe(id, Location::caller());
        }
        Var { graph: self, id }
    }
}

impl DetectAnomaly for Graph {
    fn detector(&self) -> &Detector {
        &self.detector
    }
}

#[inline]
fn push_node(nodes: &mut Vec<Node>, op: Op, value: f64) -> NodeId {
    let id = NodeId(u32::try_from(nodes.len()).expect("a graph holds at most 2^32 nodes"));
    nodes.push(Node { op, value });
    id
}

/// A handle to a node of a [`Graph`]: cheap to copy, and the way to build computations.
///
/// Arithmetic on `Var`s (and on `Var`s with `f64`s) records new nodes:
///
/// ```
/// use chainrule::Graph;
///
/// let g = Graph::new();
/// let (w, x, y) = (g.var(1.0), g.constant(2.0), g.constant(5.0));
/// let loss = (w * x - y).powi(2);
/// assert_eq!(g.grad(loss, &[w]), vec![-12.0]);
/// ```
#[derive(Clone, Copy)]
pub struct Var<'g> {
    graph: &'g Graph,
    id: NodeId,
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Var(#{} = {})", self.id.0, self.value())
    }
}

impl<'g> Var<'g> {
    /// The node's index in its graph.
    pub fn id(self) -> NodeId {
        self.id
    }

    /// The graph this value lives in.
    pub fn graph(self) -> &'g Graph {
        self.graph
    }

    /// The value computed in the forward pass.
    pub fn value(self) -> f64 {
        self.graph.nodes.borrow()[self.id.index()].value
    }

    /// The gradient accumulated into this node by [`Var::backward`] calls so far (0 before any).
    pub fn grad(self) -> f64 {
        self.graph
            .grads
            .borrow()
            .get(self.id.index())
            .copied()
            .unwrap_or(0.0)
    }

    /// Gives the node a name, shown by explanations and drawings, and returns it.
    pub fn named(self, name: &str) -> Self {
        self.graph
            .names
            .borrow_mut()
            .insert(self.id, name.to_string());
        self
    }

    /// Back-propagates from this node and *adds* `d self / d node` into every node's
    /// [`grad`](Var::grad), as PyTorch's `.backward()` adds into `.grad`.
    ///
    /// Calling it twice therefore doubles the gradients; call [`Graph::zero_grad`] in between to
    /// start afresh, or use [`Graph::grad`] / [`Graph::gradients`], which accumulate nothing.
    pub fn backward(self) {
        let fresh = self.graph.gradients(self);
        let mut acc = self.graph.grads.borrow_mut();
        if acc.len() < fresh.len() {
            acc.resize(fresh.len(), 0.0);
        }
        for (a, f) in acc.iter_mut().zip(fresh.as_slice()) {
            *a += f;
        }
    }

    /// The same value as a constant: gradient does not flow back through it.
    #[track_caller]
    pub fn detach(self) -> Self {
        self.graph.constant(self.value())
    }

    #[inline]
    #[track_caller]
    fn unary(self, op: Unary) -> Self {
        self.graph.unary(op, self.id)
    }

    /// `e^self`
    #[track_caller]
    pub fn exp(self) -> Self {
        self.unary(Unary::Exp)
    }
    /// The natural logarithm.
    #[track_caller]
    pub fn ln(self) -> Self {
        self.unary(Unary::Ln)
    }
    /// The natural logarithm (the same as [`Var::ln`]).
    #[track_caller]
    pub fn log(self) -> Self {
        self.ln()
    }
    /// The square root.
    #[track_caller]
    pub fn sqrt(self) -> Self {
        self.unary(Unary::Sqrt)
    }
    /// The sine.
    #[track_caller]
    pub fn sin(self) -> Self {
        self.unary(Unary::Sin)
    }
    /// The cosine.
    #[track_caller]
    pub fn cos(self) -> Self {
        self.unary(Unary::Cos)
    }
    /// The tangent.
    #[track_caller]
    pub fn tan(self) -> Self {
        self.unary(Unary::Tan)
    }
    /// The hyperbolic tangent.
    #[track_caller]
    pub fn tanh(self) -> Self {
        self.unary(Unary::Tanh)
    }
    /// The logistic function `1 / (1 + e^-self)`.
    #[track_caller]
    pub fn sigmoid(self) -> Self {
        self.unary(Unary::Sigmoid)
    }
    /// `max(self, 0)`; its derivative at 0 is 0, as in PyTorch.
    #[track_caller]
    pub fn relu(self) -> Self {
        self.unary(Unary::Relu)
    }
    /// `|self|`; its derivative at 0 is 0, as in PyTorch.
    #[track_caller]
    pub fn abs(self) -> Self {
        self.unary(Unary::Abs)
    }
    /// `self` raised to a constant integer power.
    #[track_caller]
    pub fn powi(self, n: i32) -> Self {
        self.unary(Unary::Powi(n))
    }
    /// `self` raised to a power: a constant `f64`, or another `Var` (then the gradient flows into
    /// the exponent too, as in `a^b`).
    ///
    /// ```
    /// use chainrule::Graph;
    ///
    /// let g = Graph::new();
    /// let (a, b) = (g.var(2.0), g.var(3.0));
    /// let y = a.powf(b);
    /// let d = g.grad(y, &[a, b]);
    /// assert_eq!(d[0], 12.0); // b · a^(b-1)
    /// assert!((d[1] - 8.0 * 2f64.ln()).abs() < 1e-12); // a^b · ln a
    /// assert_eq!(a.powf(0.5).value(), 2f64.sqrt());
    /// ```
    #[track_caller]
    pub fn powf(self, p: impl Into<Exponent<'g>>) -> Self {
        match p.into() {
            Exponent::Const(p) => self.unary(Unary::Powf(p)),
            Exponent::Var(p) => self.graph.binary(Binary::Pow, self, p),
        }
    }
    /// The larger of two values; at a tie each input receives half of the gradient (PyTorch's
    /// `torch.maximum`).
    #[track_caller]
    pub fn max(self, other: Self) -> Self {
        self.graph.binary(Binary::Max, self, other)
    }
    /// The smaller of two values; at a tie each input receives half of the gradient (PyTorch's
    /// `torch.minimum`).
    #[track_caller]
    pub fn min(self, other: Self) -> Self {
        self.graph.binary(Binary::Min, self, other)
    }
    /// Applies any [`Unary`] operation.
    #[track_caller]
    pub fn apply_unary(self, op: Unary) -> Self {
        self.unary(op)
    }
    /// Applies any [`Binary`] operation to `self` and `other`.
    #[track_caller]
    pub fn apply_binary(self, op: Binary, other: Self) -> Self {
        self.graph.binary(op, self, other)
    }
}

/// The exponent of [`Var::powf`]: a constant or a differentiable value.
#[derive(Clone, Copy, Debug)]
pub enum Exponent<'g> {
    /// A fixed exponent.
    Const(f64),
    /// An exponent that is itself a node of the graph.
    Var(Var<'g>),
}

impl From<f64> for Exponent<'_> {
    fn from(p: f64) -> Self {
        Exponent::Const(p)
    }
}

impl<'g> From<Var<'g>> for Exponent<'g> {
    fn from(p: Var<'g>) -> Self {
        Exponent::Var(p)
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $op:expr) => {
        impl<'g> $trait<Var<'g>> for Var<'g> {
            type Output = Var<'g>;
            #[track_caller]
            fn $method(self, rhs: Var<'g>) -> Var<'g> {
                self.graph.binary($op, self, rhs)
            }
        }
    };
}
binary_operator!(Add, add, Binary::Add);
binary_operator!(Sub, sub, Binary::Sub);
binary_operator!(Mul, mul, Binary::Mul);
binary_operator!(Div, div, Binary::Div);

impl<'g> Neg for Var<'g> {
    type Output = Var<'g>;
    #[track_caller]
    fn neg(self) -> Var<'g> {
        self.unary(Unary::Neg)
    }
}

// A constant on either side of `+` or `*` is folded into a single node (`x + c`, `c · x`);
// `x - c` and `x / c` likewise. A constant on the left of `-` or `/` becomes a constant leaf.
impl<'g> Add<f64> for Var<'g> {
    type Output = Var<'g>;
    #[track_caller]
    fn add(self, c: f64) -> Var<'g> {
        self.unary(Unary::AddConst(c))
    }
}
impl<'g> Add<Var<'g>> for f64 {
    type Output = Var<'g>;
    #[track_caller]
    fn add(self, x: Var<'g>) -> Var<'g> {
        x.unary(Unary::AddConst(self))
    }
}
impl<'g> Sub<f64> for Var<'g> {
    type Output = Var<'g>;
    #[track_caller]
    fn sub(self, c: f64) -> Var<'g> {
        self.unary(Unary::AddConst(-c))
    }
}
impl<'g> Sub<Var<'g>> for f64 {
    type Output = Var<'g>;
    #[track_caller]
    fn sub(self, x: Var<'g>) -> Var<'g> {
        x.graph.constant(self) - x
    }
}
impl<'g> Mul<f64> for Var<'g> {
    type Output = Var<'g>;
    #[track_caller]
    fn mul(self, c: f64) -> Var<'g> {
        self.unary(Unary::MulConst(c))
    }
}
impl<'g> Mul<Var<'g>> for f64 {
    type Output = Var<'g>;
    #[track_caller]
    fn mul(self, x: Var<'g>) -> Var<'g> {
        x.unary(Unary::MulConst(self))
    }
}
impl<'g> Div<f64> for Var<'g> {
    type Output = Var<'g>;
    #[track_caller]
    fn div(self, c: f64) -> Var<'g> {
        self / self.graph.constant(c)
    }
}
impl<'g> Div<Var<'g>> for f64 {
    type Output = Var<'g>;
    #[track_caller]
    fn div(self, x: Var<'g>) -> Var<'g> {
        x.graph.constant(self) / x
    }
}
