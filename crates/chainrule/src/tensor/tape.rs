//! The tape: an arena of tensor nodes addressed by index, with the gradients accumulated into
//! them and a pool of buffers for reuse, and the [`Tensor`] handle.
//!
//! This is the scalar engine's design ([`crate::scalar::graph`]) with arrays in the nodes: a
//! node only refers to nodes created before it, so creation order is a topological order and
//! the sweeps of [`super::sweep`] are plain loops over the arena. What each operation records is
//! listed in [`super::rules`].

use std::cell::{Cell, Ref, RefCell};
use std::fmt;
use std::panic::Location;

use super::anomaly::check_tensor;
use super::array::{Array, Element};
use super::rules::Op;
use crate::anomaly::{Anomaly, DetectAnomaly, Detector};
use crate::util::Restore;

/// One recorded tensor.
pub(crate) struct Node<T> {
    pub value: Array<T>,
    pub op: Op,
    pub requires_grad: bool,
}

/// Buffers kept for reuse: after [`Tape::clear`], the next step's operations take their output
/// buffers from here instead of the allocator, so a training loop runs in flat memory.
const POOL_MAX: usize = 512;

/// An arena of recorded tensor operations, with the accumulated gradients of its variables.
///
/// ```
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f32>::new();
/// let w = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
/// let x = tape.constant(Array::from_vec(vec![1.0, 1.0], &[2]).unwrap());
/// let y = w.matmul(x).unwrap().sum_all(); // (w·x) summed: 1+2+3+4
/// y.backward().unwrap();
/// assert_eq!(y.item(), 10.0);
/// assert_eq!(w.grad().unwrap().to_vec(), vec![1.0, 1.0, 1.0, 1.0]);
/// ```
pub struct Tape<T: Element = f32> {
    pub(crate) nodes: RefCell<Vec<Node<T>>>,
    pub(crate) grads: RefCell<Vec<Option<Array<T>>>>,
    pool: RefCell<Vec<Vec<T>>>,
    grad_enabled: Cell<bool>,
    /// Anomaly detection (see [`crate::anomaly`]).
    detector: Detector,
    /// Names given with [`Tensor::named`], by node, in creation order.
    names: RefCell<Vec<(usize, String)>>,
}

// A tape is `UnwindSafe` and `RefUnwindSafe` although its cells are not, because a panic in
// the middle of any of its operations (a shape mismatch between `+` operands, a bug in a closure
// given to `no_grad`) leaves it in a state it could have reached without the panic:
// - an operation computes its value before it touches the arena, then pushes one whole node
//   that refers only to earlier nodes: a panic leaves no node or a complete one;
// - `backward` adds into the gradients only at the end of its sweep, with additions that cannot
//   panic, so no gradient is half-accumulated;
// - the flags of `no_grad` and `detect_anomaly` are restored as the panic unwinds (`Restore`);
// - the cells' borrows are released by the unwinding; at worst a buffer taken from the pool
//   is not given back, which costs an allocation later.
// So code that catches a panic (a test harness, a server, an interactive session) can go on
// using the tape.
impl<T: Element> std::panic::UnwindSafe for Tape<T> {}
impl<T: Element> std::panic::RefUnwindSafe for Tape<T> {}

impl<T: Element> Default for Tape<T> {
    fn default() -> Self {
        Tape {
            nodes: RefCell::new(Vec::new()),
            grads: RefCell::new(Vec::new()),
            pool: RefCell::new(Vec::new()),
            grad_enabled: Cell::new(true),
            detector: Detector::default(),
            names: RefCell::new(Vec::new()),
        }
    }
}

impl<T: Element> fmt::Debug for Tape<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tape").field("nodes", &self.len()).finish()
    }
}

impl<T: Element> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Self::default()
    }

    /// A variable: a leaf whose gradient [`Tensor::backward`] accumulates.
    #[track_caller]
    pub fn var(&self, value: Array<T>) -> Tensor<'_, T> {
        self.push(value, Op::Variable, true)
    }

    /// A constant: a leaf through which no gradient flows.
    #[track_caller]
    pub fn constant(&self, value: Array<T>) -> Tensor<'_, T> {
        self.push(value, Op::Constant, false)
    }

    /// A constant scalar.
    #[track_caller]
    pub fn scalar(&self, value: T) -> Tensor<'_, T> {
        self.constant(Array::scalar(value))
    }

    /// The number of nodes recorded.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The handle of node `id`, if the tape holds that many nodes: how code that keeps node ids
    /// rather than handles (bindings to other languages, say) gets a [`Tensor`] back.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let id = tape.var(Array::ones(&[2])).exp().id();
    /// assert_eq!(tape.tensor(id).unwrap().shape(), vec![2]);
    /// assert!(tape.tensor(id + 1).is_none());
    /// ```
    pub fn tensor(&self, id: usize) -> Option<Tensor<'_, T>> {
        (id < self.len()).then_some(Tensor { tape: self, id })
    }

    /// Runs `f` without recording gradients: tensors made inside are constants, as under
    /// PyTorch's `torch.no_grad()`.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(Array::ones(&[3]));
    /// let y = tape.no_grad(|| x.exp());
    /// assert!(!y.requires_grad());
    /// ```
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        let _restore = Restore(&self.grad_enabled, self.grad_enabled.replace(false));
        f()
    }

    /// Whether operations currently record gradients (false inside [`Tape::no_grad`]).
    pub fn is_grad_enabled(&self) -> bool {
        self.grad_enabled.get()
    }

    /// Forgets every node and gradient, keeping the arena and the value buffers for reuse, so
    /// that a loop that records, differentiates and clears runs in flat memory.
    ///
    /// This needs `&mut self`, so no [`Tensor`] of the old tape can outlive it.
    pub fn clear(&mut self) {
        let nodes = std::mem::take(self.nodes.get_mut());
        let mut nodes = nodes;
        for node in nodes.drain(..) {
            self.recycle_array(node.value);
        }
        *self.nodes.get_mut() = nodes;
        let mut grads = std::mem::take(self.grads.get_mut());
        for g in grads.drain(..).flatten() {
            self.recycle_array(g);
        }
        *self.grads.get_mut() = grads;
        self.detector.truncate(0);
        self.names.get_mut().clear();
    }

    /// Sets every accumulated gradient to zero (forgets them), as PyTorch's `zero_grad`.
    pub fn zero_grad(&self) {
        let mut grads = self.grads.borrow_mut();
        for g in grads.iter_mut() {
            if let Some(a) = g.take() {
                self.recycle_array(a);
            }
        }
    }

    crate::anomaly::inherent_detect_anomaly!(usize, std::convert::identity);

    #[track_caller]
    pub(crate) fn push(&self, value: Array<T>, op: Op, requires_grad: bool) -> Tensor<'_, T> {
        let mut nodes = self.nodes.borrow_mut();
        let id = nodes.len();
        nodes.push(Node {
            value,
            op,
            requires_grad,
        });
        drop(nodes);
        if self.detector.is_on() {
            let check = || check_tensor(&self.nodes.borrow(), id);
            self.detector.observe(id, Location::caller(), check);
        }
        Tensor { tape: self, id }
    }

    /// Records the result of an operation on `inputs`; it needs a gradient if any input does
    /// and gradients are enabled.
    #[track_caller]
    pub(crate) fn record(&self, value: Array<T>, op: Op, inputs: &[usize]) -> Tensor<'_, T> {
        let requires = self.grad_enabled.get() && {
            let nodes = self.nodes.borrow();
            inputs.iter().any(|&i| nodes[i].requires_grad)
        };
        if requires {
            self.push(value, op, true)
        } else {
            self.push(value, Op::Constant, false)
        }
    }

    pub(crate) fn value(&self, id: usize) -> Array<T> {
        self.nodes.borrow()[id].value.clone()
    }

    /// A buffer of `n` elements with unspecified contents (from the pool when one fits).
    pub(crate) fn buffer(&self, n: usize) -> Vec<T> {
        let mut pool = self.pool.borrow_mut();
        if let Some(i) = pool.iter().rposition(|b| b.len() == n) {
            return pool.swap_remove(i);
        }
        drop(pool);
        vec![T::ZERO; n]
    }

    /// A buffer of `n` zeros.
    pub(crate) fn zeroed(&self, n: usize) -> Vec<T> {
        let mut b = self.buffer(n);
        b.fill(T::ZERO);
        b
    }

    pub(crate) fn recycle(&self, b: Vec<T>) {
        let mut pool = self.pool.borrow_mut();
        if pool.len() < POOL_MAX && !b.is_empty() {
            pool.push(b);
        }
    }

    /// Takes an array's buffer back for reuse when nothing else shares it: code that keeps
    /// gradients out of the tape (an optimizer's caller, bindings to other languages) gives
    /// them back this way, so that the next backward pass writes into the same memory instead
    /// of new allocations.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// tape.recycle_array(Array::zeros(&[1024]));
    /// ```
    pub fn recycle_array(&self, a: Array<T>) {
        if let Some(b) = a.into_buffer() {
            self.recycle(b);
        }
    }

    /// The name given to node `id` with [`Tensor::named`], if any.
    pub fn name_of(&self, id: usize) -> Option<String> {
        let names = self.names.borrow();
        names
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .map(|k| names[k].1.clone())
    }

    /// Adds the adjoints a backward sweep left for the variables into their gradients.
    pub(crate) fn accumulate(&self, adjoint: Vec<Option<Vec<T>>>) {
        let nodes = self.nodes.borrow();
        let mut grads = self.grads.borrow_mut();
        if grads.len() < adjoint.len() {
            grads.resize_with(adjoint.len(), || None);
        }
        for (i, g) in adjoint.into_iter().enumerate() {
            let Some(g) = g else { continue };
            let shape = nodes[i].value.shape();
            match grads[i].take() {
                Some(old) => {
                    let mut sum = g;
                    for (a, &v) in sum.iter_mut().zip(old.data()) {
                        *a = *a + v;
                    }
                    self.recycle_array(old);
                    grads[i] = Some(Array::from_parts(sum, shape));
                }
                None => grads[i] = Some(Array::from_parts(g, shape)),
            }
        }
    }

    /// Keeps the anomaly a backward sweep found (with the place its operation was created) as
    /// the first one, if none was found before, and returns it.
    pub(crate) fn report_backward_anomaly(&self, found: Option<Anomaly>) -> Option<Anomaly> {
        found.map(|a| self.detector.blame(a))
    }
}

impl<T: Element> DetectAnomaly for Tape<T> {
    fn detector(&self) -> &Detector {
        &self.detector
    }
}

/// A handle to a tensor recorded on a [`Tape`]: cheap to copy, and every operation on it records
/// a new node.
///
/// Operations that can fail on shapes return [`Result`]; the operators `+ - * /` between two
/// tensors panic with the same message instead (use [`Tensor::add`] and friends to get the
/// error as a value). Operators with an `f64` on either side never fail.
///
/// ```
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f64>::new();
/// let a = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]).unwrap());
/// let b = tape.var(Array::from_vec(vec![10.0, 20.0], &[1, 2]).unwrap());
/// let c = (a + b) * 2.0; // broadcast to [3, 2]
/// assert_eq!(c.shape(), vec![3, 2]);
/// c.sum_all().backward().unwrap();
/// assert_eq!(a.grad().unwrap().to_vec(), vec![4.0, 4.0, 4.0]); // summed over the broadcast axis
/// assert_eq!(b.grad().unwrap().to_vec(), vec![6.0, 6.0]);
/// ```
#[derive(Clone, Copy)]
pub struct Tensor<'t, T: Element = f32> {
    pub(crate) tape: &'t Tape<T>,
    pub(crate) id: usize,
}

impl<'t, T: Element> Tensor<'t, T> {
    /// The tape this tensor is recorded on.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The node's index in its tape's arena.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The tensor's value (shares its data, copies nothing).
    pub fn value(&self) -> Array<T> {
        self.tape.value(self.id)
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.node().value.shape().to_vec()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.node().value.ndim()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.node().value.numel()
    }

    /// The elements in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        self.node().value.to_vec()
    }

    /// The only element of a one-element tensor (a loss, say).
    ///
    /// # Panics
    /// If the tensor has more than one element.
    pub fn item(&self) -> T {
        self.node().value.item()
    }

    /// Whether gradients flow into this tensor.
    pub fn requires_grad(&self) -> bool {
        self.node().requires_grad
    }

    /// The gradient accumulated by [`Tensor::backward`] calls, for a variable that was reached;
    /// `None` for one no backward sweep reached (as PyTorch's `.grad`; [`Tape::grad_graph`]
    /// gives zeros instead).
    pub fn grad(&self) -> Option<Array<T>> {
        self.tape.grads.borrow().get(self.id).cloned().flatten()
    }

    /// The same value as a constant: no gradient flows back through it (PyTorch's `detach`).
    #[track_caller]
    pub fn detach(self) -> Tensor<'t, T> {
        let v = self.value();
        self.tape.push(v, Op::Constant, false)
    }

    /// Gives this tensor a name for explanations ([`crate::show::tape`]), and returns it.
    pub fn named(self, name: &str) -> Tensor<'t, T> {
        let mut names = self.tape.names.borrow_mut();
        match names.binary_search_by_key(&self.id, |(i, _)| *i) {
            Ok(k) => names[k].1 = name.to_string(),
            Err(k) => names.insert(k, (self.id, name.to_string())),
        }
        self
    }

    /// The name given with [`Tensor::named`], if any.
    pub fn name(&self) -> Option<String> {
        self.tape.name_of(self.id)
    }

    pub(crate) fn node(&self) -> Ref<'t, Node<T>> {
        Ref::map(self.tape.nodes.borrow(), |n| &n[self.id])
    }
}

impl<T: Element> fmt::Display for Tensor<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.node().value, f)
    }
}

impl<T: Element> fmt::Debug for Tensor<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor#{}({:?})", self.id, self.node().value)
    }
}
