//! Scalar values as reference-counted nodes, recorded into the engine's arena when a gradient
//! is asked for.
//!
//! Python code in micrograd's style keeps its parameters and builds a new graph at every step,
//! dropping the previous one by rebinding `loss`. A single arena per thread would never be
//! cleared while a parameter lives, so a value here is a [`Node`] behind an [`Rc`]: it holds its
//! number, its accumulated gradient and the operation that made it, with its inputs. A step's
//! graph is freed as soon as the last Python object that reaches it is dropped (iteratively, so a
//! chain of a million nodes does not overflow the stack).
//!
//! [`Recording::of`] walks the nodes an output depends on and records them, inputs first, on a
//! [`Graph`] (the engine's arena) with the engine's own operations; gradients, explanations and
//! drawings are then the library's, computed on that graph. No chain rule is written here.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};

use chainrule::ops::{Binary, Unary};
use chainrule::{Graph, NodeId, Var};

/// How many nodes are alive on all threads (for the memory tests).
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// How many nodes were ever made, which orders them by creation.
static MADE: AtomicU64 = AtomicU64::new(0);

/// The number of scalar nodes alive.
pub fn live_nodes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

thread_local! {
    /// Counts the walks of [`Recording::of`], so that a node can tell whether the current walk
    /// has already recorded it.
    static WALK: Cell<u32> = const { Cell::new(0) };
}

/// What made a node.
pub enum Source {
    /// An input (gradients are reported for it).
    Variable,
    /// A number that stops gradients (the `2` of `2 - x`).
    Constant,
    /// An operation of one input.
    Unary(Unary, Rc<Node>),
    /// An operation of two inputs.
    Binary(Binary, Rc<Node>, Rc<Node>),
}

/// One scalar value with its gradient and its history.
pub struct Node {
    data: Cell<f64>,
    grad: Cell<f64>,
    source: Source,
    label: RefCell<Option<Box<str>>>,
    /// `(walk, i)`: the node's position in the graph of walk number `walk`.
    mark: Cell<(u32, u32)>,
    /// When the node was made, counted on all threads: inputs come before their users.
    seq: u64,
}

impl Drop for Node {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        // Unlink the inputs that only this node holds, and theirs, with a stack instead of the
        // recursion the default drop would make.
        let mut stack: Vec<Rc<Node>> = Vec::new();
        take_inputs(&mut self.source, &mut stack);
        while let Some(rc) = stack.pop() {
            if let Ok(mut node) = Rc::try_unwrap(rc) {
                take_inputs(&mut node.source, &mut stack);
            }
        }
    }
}

/// Moves the inputs of `source` that nothing else holds onto `stack`.
fn take_inputs(source: &mut Source, stack: &mut Vec<Rc<Node>>) {
    let only = |n: &Rc<Node>| Rc::strong_count(n) == 1;
    let wanted = match source {
        Source::Unary(_, x) => only(x),
        Source::Binary(_, a, b) => only(a) || only(b),
        _ => false,
    };
    if !wanted {
        return;
    }
    match std::mem::replace(source, Source::Constant) {
        Source::Unary(_, x) => stack.push(x),
        Source::Binary(_, a, b) => {
            stack.push(a);
            stack.push(b);
        }
        _ => {}
    }
}

impl Node {
    fn new(data: f64, source: Source) -> Rc<Node> {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Rc::new(Node {
            data: Cell::new(data),
            grad: Cell::new(0.0),
            source,
            label: RefCell::new(None),
            mark: Cell::new((0, 0)),
            seq: MADE.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// An input holding `data`.
    pub fn variable(data: f64) -> Rc<Node> {
        Node::new(data, Source::Variable)
    }

    /// A constant holding `data`.
    pub fn constant(data: f64) -> Rc<Node> {
        Node::new(data, Source::Constant)
    }

    /// `op(x)`, computed by the engine's forward rule.
    pub fn unary(op: Unary, x: &Rc<Node>) -> Rc<Node> {
        Node::new(op.apply(x.data()), Source::Unary(op, x.clone()))
    }

    /// `op(a, b)`, computed by the engine's forward rule.
    pub fn binary(op: Binary, a: &Rc<Node>, b: &Rc<Node>) -> Rc<Node> {
        Node::new(
            op.apply(a.data(), b.data()),
            Source::Binary(op, a.clone(), b.clone()),
        )
    }

    /// The value.
    pub fn data(&self) -> f64 {
        self.data.get()
    }

    /// Changes the value (as micrograd's `p.data -= lr * p.grad`).
    pub fn set_data(&self, v: f64) {
        self.data.set(v)
    }

    /// The gradient accumulated by [`backward`] calls.
    pub fn grad(&self) -> f64 {
        self.grad.get()
    }

    /// Sets the accumulated gradient (as micrograd's `p.grad = 0`).
    pub fn set_grad(&self, g: f64) {
        self.grad.set(g)
    }

    /// What made the node.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The label given to the node, if any.
    pub fn label(&self) -> Option<String> {
        self.label.borrow().as_deref().map(str::to_string)
    }

    /// Gives the node a label (`None` removes it).
    pub fn set_label(&self, label: Option<&str>) {
        *self.label.borrow_mut() = label.map(Into::into);
    }

    fn inputs(&self) -> (Option<&Node>, Option<&Node>) {
        match &self.source {
            Source::Variable | Source::Constant => (None, None),
            Source::Unary(_, x) => (Some(x), None),
            Source::Binary(_, a, b) => (Some(a), Some(b)),
        }
    }
}

/// The nodes an output depends on, recorded on a [`Graph`]: node `i` of the graph is
/// `nodes[i]`.
pub struct Recording<'a> {
    /// The graph.
    pub graph: Graph,
    /// The recorded nodes, in the graph's order.
    pub nodes: Vec<&'a Node>,
    /// The id of each recorded node in the graph.
    ids: Vec<NodeId>,
    walk: u32,
}

impl<'a> Recording<'a> {
    /// Records `outputs` and every node they depend on, inputs before the nodes that use them.
    /// With `creation_order`, the nodes are recorded in the order they were made in (so that
    /// explanations number them as the code made them); otherwise in the order of a depth-first
    /// walk, which is cheaper.
    pub fn of(outputs: &[&'a Node], creation_order: bool) -> Recording<'a> {
        let walk = WALK.with(|w| {
            let n = w.get().wrapping_add(1).max(1);
            w.set(n);
            n
        });
        // A post-order walk with an explicit stack: (node, inputs already pushed).
        let mut order: Vec<&'a Node> = Vec::new();
        let mut stack: Vec<(&'a Node, bool)> = outputs.iter().rev().map(|&n| (n, false)).collect();
        let done = |n: &Node| n.mark.get().0 == walk;
        while let Some((n, expanded)) = stack.pop() {
            if done(n) {
                continue;
            }
            if expanded {
                n.mark.set((walk, order.len() as u32));
                order.push(n);
                continue;
            }
            stack.push((n, true));
            let (a, b) = n.inputs();
            for x in [b, a].into_iter().flatten() {
                if !done(x) {
                    stack.push((x, false));
                }
            }
        }
        if creation_order {
            // A node is made after its inputs, so creation order is also a topological order.
            order.sort_unstable_by_key(|n| n.seq);
            for (i, n) in order.iter().enumerate() {
                n.mark.set((walk, i as u32));
            }
        }
        let graph = Graph::with_capacity(order.len());
        let mut ids: Vec<NodeId> = Vec::with_capacity(order.len());
        for n in &order {
            let id = |x: &Node| graph.var_of(ids[x.mark.get().1 as usize]);
            let v: Var<'_> = match &n.source {
                Source::Variable => graph.var(n.data()),
                Source::Constant => graph.constant(n.data()),
                Source::Unary(op, x) => id(x).apply_unary(*op),
                Source::Binary(op, a, b) => id(a).apply_binary(*op, id(b)),
            };
            if let Some(l) = n.label.borrow().as_deref() {
                v.named(l);
            }
            ids.push(v.id());
        }
        Recording {
            graph,
            nodes: order,
            ids,
            walk,
        }
    }

    /// The graph's id of a node, if it was recorded.
    pub fn id(&self, n: &Node) -> Option<NodeId> {
        let (walk, i) = n.mark.get();
        (walk == self.walk).then(|| self.ids[i as usize])
    }

    /// The handle of a recorded node.
    ///
    /// # Panics
    /// If the node was not recorded.
    pub fn var(&self, n: &Node) -> Var<'_> {
        self.graph
            .var_of(self.id(n).expect("the node was recorded"))
    }
}

/// `d out / d node` for each of `wrt`, fresh (nothing accumulated): 0 for a node `out` does not
/// depend on.
pub fn grad(out: &Node, wrt: &[&Node]) -> Vec<f64> {
    let rec = Recording::of(&[out], false);
    let grads = rec.graph.gradients(rec.var(out));
    wrt.iter()
        .map(|n| rec.id(n).map_or(0.0, |id| grads.wrt(id)))
        .collect()
}

/// Back-propagates from `out`, adding `d out / d node` into the gradient of every node it
/// depends on (itself included), as micrograd's and PyTorch's `backward`.
pub fn backward(out: &Node) {
    let rec = Recording::of(&[out], false);
    let grads = rec.graph.gradients(rec.var(out));
    for (n, g) in rec.nodes.iter().zip(grads.as_slice()) {
        n.grad.set(n.grad.get() + g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_of_x_times_x_plus_x_sums_every_path() {
        let x = Node::variable(3.0);
        let y = Node::binary(Binary::Add, &Node::binary(Binary::Mul, &x, &x), &x);
        backward(&y);
        assert_eq!(x.grad(), 7.0);
        assert_eq!(y.grad(), 1.0);
        assert_eq!(grad(&y, &[&x]), vec![7.0]);
    }

    #[test]
    fn a_chain_of_a_million_nodes_records_and_drops_without_recursion() {
        let before = live_nodes();
        let x = Node::variable(1.0);
        let mut y = x.clone();
        for _ in 0..1_000_000 {
            y = Node::unary(Unary::MulConst(1.0), &y);
        }
        backward(&y);
        assert_eq!(x.grad(), 1.0);
        drop(y);
        drop(x);
        assert!(
            live_nodes() <= before,
            "{} nodes left",
            live_nodes() - before
        );
    }

    #[test]
    fn creation_order_numbers_nodes_as_the_code_made_them() {
        let a = Node::variable(1.0);
        let b = Node::variable(2.0);
        let c = Node::binary(Binary::Mul, &b, &a);
        let rec = Recording::of(&[&c], true);
        assert_eq!(rec.id(&a).unwrap().index(), 0);
        assert_eq!(rec.id(&b).unwrap().index(), 1);
        assert_eq!(rec.id(&c).unwrap().index(), 2);
    }
}
