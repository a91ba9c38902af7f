//! Who owns a tensor's graph: the tapes, the handles Python holds, and when a tape is reused.
//!
//! The library's [`Tensor`] borrows its [`Tape`]; Python objects cannot hold borrows. So:
//!
//! - Each thread has one *current* tape per element type ([`Tapes`]). Every operation that
//!   needs a gradient records on it. A Python tensor made by such an operation is a
//!   [`St::Recorded`] handle: an `Rc` of the tape (a [`TapeCell`]) and the node's id.
//! - Tensors made from data, parameters, and every result that needs no gradient are
//!   [`St::Owned`]: they hold their own value (an [`Array`], shared, never copied) and no tape.
//!   A parameter is recorded onto the current tape as a variable the first time an operation
//!   uses it (and remembers its node for the rest of that recording); after `backward()` its
//!   gradient is read back from the tape into the parameter. Operations that need no gradient
//!   (under `no_grad()`, or on constants only) run on a scratch tape that is cleared at once, so
//!   their results pin nothing.
//! - `backward()` frees the graph, as PyTorch does: every tensor recorded on the tape keeps its
//!   value but forgets its history (differentiating through it again raises, as PyTorch's "backward
//!   through the graph a second time"; `retain_graph=True` keeps the graph). The tape then has no
//!   handle left and is cleared for the next step, keeping its buffers; parameters are no longer
//!   shared with it, so optimizers update them in place.
//! - A tape that no Python handle reaches any more is cleared when the next operation starts.
//!
//! What keeps memory alive, then: a tensor recorded since the last `backward()` (as in PyTorch,
//! holding `loss` holds its graph) keeps the whole current recording. A loop that never calls
//! `backward()` and keeps its previous output while computing the next (an evaluation loop
//! outside `no_grad()`) keeps growing its tape; evaluate under `no_grad()`, as in PyTorch.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::LocalKey;

use chainrule::tensor::{Array, Element, Tape, Tensor, TensorError};

/// Tells recordings apart: each tape's current recording has a number no other has had.
static RECORDING: AtomicU64 = AtomicU64::new(1);

fn next_recording() -> u64 {
    RECORDING.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether operations record gradients (false inside `no_grad()`).
pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Turns gradient recording on or off; returns the previous setting.
pub fn set_grad_enabled(on: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(on))
}

/// A tape with what the bindings keep about it.
pub struct TapeCell<T: Element> {
    /// The library's tape.
    pub tape: Tape<T>,
    /// The number of the current recording.
    recording: u64,
    /// The Python handles recorded on it, to free when the graph is.
    handles: RefCell<Vec<Weak<Handle>>>,
    /// Parameters recorded on it as variables, with their nodes.
    leaves: RefCell<Vec<(Weak<Handle>, usize)>>,
    /// Nodes standing for tensors whose graph was freed by an earlier `backward()`.
    freed: RefCell<Vec<usize>>,
}

impl<T: Element> TapeCell<T> {
    fn new() -> Self {
        TapeCell {
            tape: Tape::new(),
            recording: next_recording(),
            handles: RefCell::new(Vec::new()),
            leaves: RefCell::new(Vec::new()),
            freed: RefCell::new(Vec::new()),
        }
    }

    fn clear(&mut self) {
        self.tape.clear();
        self.recording = next_recording();
        self.handles.get_mut().clear();
        self.leaves.get_mut().clear();
        self.freed.get_mut().clear();
    }

    /// The handle of node `id`.
    pub fn tensor(&self, id: usize) -> Tensor<'_, T> {
        self.tape
            .tensor(id)
            .expect("a handle's node is on its tape")
    }
}

/// A thread's tapes of one element type: the current one, and a scratch tape for operations
/// that need no gradient.
pub struct Tapes<T: Element> {
    current: RefCell<Option<Rc<TapeCell<T>>>>,
    scratch: RefCell<Tape<T>>,
}

impl<T: Element> Tapes<T> {
    pub fn new() -> Self {
        Tapes {
            current: RefCell::new(None),
            scratch: RefCell::new(Tape::new()),
        }
    }
}

impl<T: Element> Drop for Tapes<T> {
    fn drop(&mut self) {
        // A thread's locals are dropped when it exits, maybe without the GIL, while tensors of
        // its tape may live on in other threads: the tape is left to them (a recorded tensor
        // holds it) rather than released here, where its count could race theirs.
        if let Some(rc) = self.current.get_mut().take() {
            std::mem::forget(rc);
        }
    }
}

impl<T: Element> Default for Tapes<T> {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    static TAPES_F32: Tapes<f32> = Tapes::new();
    static TAPES_F64: Tapes<f64> = Tapes::new();
}

/// The element types of tensors: `float32` and `float64`.
pub trait Dtype: Element + numpy::Element {
    /// NumPy's name of the type.
    const NUMPY: &'static str;
    /// This thread's tapes of this type.
    fn tapes() -> &'static LocalKey<Tapes<Self>>;
    /// The type-erased state.
    fn wrap(st: St<Self>) -> State;
    /// The state, if it is of this type.
    fn get(state: &State) -> Option<&St<Self>>;
    /// The state, if it is of this type, to change.
    fn get_mut(state: &mut State) -> Option<&mut St<Self>>;
}

impl Dtype for f32 {
    const NUMPY: &'static str = "float32";
    fn tapes() -> &'static LocalKey<Tapes<Self>> {
        &TAPES_F32
    }
    fn wrap(st: St<Self>) -> State {
        State::F32(st)
    }
    fn get(state: &State) -> Option<&St<Self>> {
        match state {
            State::F32(s) => Some(s),
            State::F64(_) => None,
        }
    }
    fn get_mut(state: &mut State) -> Option<&mut St<Self>> {
        match state {
            State::F32(s) => Some(s),
            State::F64(_) => None,
        }
    }
}

impl Dtype for f64 {
    const NUMPY: &'static str = "float64";
    fn tapes() -> &'static LocalKey<Tapes<Self>> {
        &TAPES_F64
    }
    fn wrap(st: St<Self>) -> State {
        State::F64(st)
    }
    fn get(state: &State) -> Option<&St<Self>> {
        match state {
            State::F64(s) => Some(s),
            State::F32(_) => None,
        }
    }
    fn get_mut(state: &mut State) -> Option<&mut St<Self>> {
        match state {
            State::F64(s) => Some(s),
            State::F32(_) => None,
        }
    }
}

/// The current tape of type `T`, cleared first if nothing reaches it any more.
pub fn current<T: Dtype>() -> Rc<TapeCell<T>> {
    T::tapes().with(|t| {
        let mut cur = t.current.borrow_mut();
        let rc = cur.get_or_insert_with(|| Rc::new(TapeCell::new()));
        if Rc::strong_count(rc) == 1 && !rc.tape.is_empty() {
            if let Some(cell) = Rc::get_mut(rc) {
                cell.clear();
            }
        }
        rc.clone()
    })
}

/// Clears the current tape of type `T` now if nothing reaches it.
fn release<T: Dtype>() {
    T::tapes().with(|t| {
        if let Some(rc) = t.current.borrow_mut().as_mut() {
            if Rc::strong_count(rc) == 1 {
                if let Some(cell) = Rc::get_mut(rc) {
                    cell.clear();
                }
            }
        }
    })
}

/// Gives an array's buffer (a gradient no longer wanted) to the current tape's pool, so that the
/// next backward pass writes into it rather than into new memory.
pub fn recycle<T: Dtype>(a: Array<T>) {
    T::tapes().with(|t| {
        if let Some(rc) = t.current.borrow().as_ref() {
            rc.tape.recycle_array(a);
        }
    })
}

/// The number of nodes on this thread's current tapes (for tests of memory).
pub fn tape_nodes() -> (usize, usize) {
    let n32 = TAPES_F32.with(|t| t.current.borrow().as_ref().map_or(0, |c| c.tape.len()));
    let n64 = TAPES_F64.with(|t| t.current.borrow().as_ref().map_or(0, |c| c.tape.len()));
    (n32, n64)
}

/// A tensor that holds its own value.
pub struct Owned<T: Element> {
    /// The value (shared, never copied by the bindings).
    pub value: Array<T>,
    /// Whether gradients are wanted for it (a parameter).
    pub requires_grad: bool,
    /// The gradient accumulated by `backward()`.
    pub grad: Option<Array<T>>,
    /// `(recording, node)`: where it was last recorded.
    cache: Cell<(u64, usize)>,
    /// Whether it was recorded and its graph freed by `backward()`.
    pub freed: bool,
}

impl<T: Element> Owned<T> {
    /// A tensor holding `value`.
    pub fn new(value: Array<T>, requires_grad: bool) -> Self {
        Owned {
            value,
            requires_grad,
            grad: None,
            cache: Cell::new((0, 0)),
            freed: false,
        }
    }

    /// Forgets where it was recorded (its value or its kind changed).
    pub fn forget_recording(&self) {
        self.cache.set((0, 0));
    }
}

/// A tensor's state: its own value, or a node of a tape.
pub enum St<T: Element> {
    /// A value of its own.
    Owned(Owned<T>),
    /// A node recorded on a tape.
    Recorded {
        /// The tape.
        tape: Rc<TapeCell<T>>,
        /// The node.
        id: usize,
    },
}

impl<T: Element> St<T> {
    /// The tensor's value (shared, not copied).
    pub fn value(&self) -> Array<T> {
        match self {
            St::Owned(o) => o.value.clone(),
            St::Recorded { tape, id } => tape.tensor(*id).value(),
        }
    }

    /// Whether operations on it record a gradient.
    pub fn requires_grad(&self) -> bool {
        match self {
            St::Owned(o) => o.requires_grad || o.freed,
            St::Recorded { .. } => true,
        }
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            St::Owned(o) => o.value.shape().to_vec(),
            St::Recorded { tape, id } => tape.tensor(*id).shape(),
        }
    }
}

/// Either element type.
pub enum State {
    /// `float32`.
    F32(St<f32>),
    /// `float64`.
    F64(St<f64>),
}

/// What a Python tensor holds: its state, which `backward()` may change from recorded to owned.
pub struct Handle {
    pub state: RefCell<State>,
}

impl Handle {
    /// A new handle.
    pub fn new(state: State) -> Rc<Handle> {
        Rc::new(Handle {
            state: RefCell::new(state),
        })
    }

    /// A handle holding `value`.
    pub fn owned<T: Dtype>(value: Array<T>, requires_grad: bool) -> Rc<Handle> {
        Handle::new(T::wrap(St::Owned(Owned::new(value, requires_grad))))
    }
}

/// Why an operation could not run.
#[derive(Debug)]
pub enum OpError {
    /// The library refused the inputs.
    Tensor(TensorError),
    /// Inputs of different element types.
    Dtype(String),
    /// Anything else.
    Other(String),
}

impl From<TensorError> for OpError {
    fn from(e: TensorError) -> Self {
        OpError::Tensor(e)
    }
}

/// The state of type `T` of an input.
fn state_of<T: Dtype>(h: &Handle) -> Result<std::cell::Ref<'_, St<T>>, OpError> {
    let s = h.state.borrow();
    std::cell::Ref::filter_map(s, |s| T::get(s)).map_err(|s| {
        let found = match &*s {
            State::F32(_) => "float32",
            State::F64(_) => "float64",
        };
        OpError::Dtype(format!(
            "expected a {} tensor, got a {found} one: convert with .float() or .double()",
            T::NUMPY
        ))
    })
}

/// The node standing for input `h` on `cell`'s tape, recording it first if needed.
fn on_tape<'t, T: Dtype>(h: &Rc<Handle>, cell: &'t TapeCell<T>) -> Result<Tensor<'t, T>, OpError> {
    let st = state_of::<T>(h)?;
    match &*st {
        St::Recorded { tape, id } => {
            if std::ptr::eq(&**tape, cell) {
                Ok(cell.tensor(*id))
            } else {
                Err(OpError::Other(
                    "this tensor was recorded on another thread: tensors that need a gradient \
                     cannot move between threads (detach() it first)"
                        .into(),
                ))
            }
        }
        St::Owned(o) => {
            let (recording, id) = o.cache.get();
            if recording == cell.recording {
                return Ok(cell.tensor(id));
            }
            let t = if o.requires_grad || o.freed {
                let t = cell.tape.var(o.value.clone());
                if o.freed {
                    cell.freed.borrow_mut().push(t.id());
                } else {
                    cell.leaves.borrow_mut().push((Rc::downgrade(h), t.id()));
                }
                t
            } else {
                cell.tape.constant(o.value.clone())
            };
            o.cache.set((cell.recording, t.id()));
            Ok(t)
        }
    }
}

/// Runs `f` on the inputs, recording on the current tape when a gradient is needed and on the
/// scratch tape otherwise; each output becomes a handle.
pub fn apply<T: Dtype>(
    inputs: &[&Rc<Handle>],
    f: impl for<'t> FnOnce(&[Tensor<'t, T>]) -> Result<Vec<Tensor<'t, T>>, TensorError>,
) -> Result<Vec<Rc<Handle>>, OpError> {
    let mut needs = false;
    for h in inputs {
        needs |= state_of::<T>(h)?.requires_grad();
    }
    if needs && grad_enabled() {
        let cell = current::<T>();
        let xs = inputs
            .iter()
            .map(|h| on_tape(h, &cell))
            .collect::<Result<Vec<_>, _>>()?;
        let ys = f(&xs)?;
        let mut out = Vec::with_capacity(ys.len());
        for y in ys {
            if y.requires_grad() {
                let h = Handle::new(T::wrap(St::Recorded {
                    tape: cell.clone(),
                    id: y.id(),
                }));
                cell.handles.borrow_mut().push(Rc::downgrade(&h));
                out.push(h);
            } else {
                out.push(Handle::owned(y.value(), false));
            }
        }
        Ok(out)
    } else {
        let values = inputs
            .iter()
            .map(|h| Ok(state_of::<T>(h)?.value()))
            .collect::<Result<Vec<_>, OpError>>()?;
        T::tapes().with(|t| {
            let mut scratch = t.scratch.borrow_mut();
            scratch.clear();
            let result = {
                let xs: Vec<Tensor<'_, T>> =
                    values.into_iter().map(|v| scratch.constant(v)).collect();
                f(&xs).map(|ys| ys.iter().map(|y| y.value()).collect::<Vec<_>>())
            };
            scratch.clear();
            Ok(result?
                .into_iter()
                .map(|v| Handle::owned(v, false))
                .collect())
        })
    }
}

/// [`apply`] for an operation with one output.
pub fn apply1<T: Dtype>(
    inputs: &[&Rc<Handle>],
    f: impl for<'t> FnOnce(&[Tensor<'t, T>]) -> Result<Tensor<'t, T>, TensorError>,
) -> Result<Rc<Handle>, OpError> {
    let mut out = apply(inputs, |xs| Ok(vec![f(xs)?]))?;
    Ok(out.pop().expect("one output"))
}

/// Why `backward()` failed.
#[derive(Debug)]
pub enum BackwardError {
    /// The library refused (a seed of the wrong shape, an output of several elements...).
    Tensor(TensorError),
    /// The output does not need a gradient.
    NoGrad,
    /// The sweep reached a tensor whose graph an earlier `backward()` freed.
    Freed,
}

/// `backward()` from `h`: the gradients of the parameters it depends on are added into their
/// `.grad`; unless `retain_graph`, the graph is freed and the tape cleared.
pub fn backward<T: Dtype>(
    h: &Rc<Handle>,
    seed: Option<Array<T>>,
    retain_graph: bool,
) -> Result<(), BackwardError> {
    let tape = {
        let state = h.state.borrow();
        let st = T::get(&state).expect("checked by the caller");
        match st {
            St::Owned(o) if o.requires_grad && !o.freed => {
                drop(state);
                return backward_leaf(h, seed);
            }
            St::Owned(o) if o.freed => return Err(BackwardError::Freed),
            St::Owned(_) => return Err(BackwardError::NoGrad),
            St::Recorded { tape, id } => (tape.clone(), *id),
        }
    };
    let (cell, id) = tape;
    let out = cell.tensor(id);
    let result = match &seed {
        None => out.backward(),
        Some(s) => out.backward_with(s),
    };
    result.map_err(BackwardError::Tensor)?;
    let reached_freed = cell
        .freed
        .borrow()
        .iter()
        .any(|&i| cell.tensor(i).grad().is_some());
    if reached_freed {
        cell.tape.zero_grad();
        return Err(BackwardError::Freed);
    }
    for (leaf, i) in cell.leaves.borrow().iter() {
        let Some(leaf) = leaf.upgrade() else { continue };
        let Some(g) = cell.tensor(*i).grad() else {
            continue;
        };
        let mut state = leaf.state.borrow_mut();
        if let Some(St::Owned(o)) = T::get_mut(&mut state) {
            if o.cache.get() == (cell.recording, *i) && o.requires_grad {
                o.grad = Some(match o.grad.take() {
                    None => g,
                    Some(mut acc) => {
                        for (a, &b) in acc.data_mut().iter_mut().zip(g.data()) {
                            *a = *a + b;
                        }
                        acc
                    }
                });
            }
        }
    }
    cell.tape.zero_grad();
    if !retain_graph {
        free_graph(&cell);
        drop(cell);
        release::<T>();
    }
    Ok(())
}

/// `backward()` from a parameter itself: its gradient grows by the seed (by 1 for one element).
fn backward_leaf<T: Dtype>(h: &Rc<Handle>, seed: Option<Array<T>>) -> Result<(), BackwardError> {
    let mut state = h.state.borrow_mut();
    let Some(St::Owned(o)) = T::get_mut(&mut state) else {
        return Err(BackwardError::NoGrad);
    };
    let shape = o.value.shape().to_vec();
    let seed = match seed {
        Some(s) if s.shape() == shape.as_slice() => s,
        Some(s) => {
            return Err(BackwardError::Tensor(TensorError::new(
                "backward",
                format!(
                    "the seed has shape {:?} but the output has shape {shape:?}",
                    s.shape()
                ),
            )))
        }
        None if o.value.numel() == 1 => Array::ones(&shape),
        None => {
            return Err(BackwardError::Tensor(TensorError::new(
                "backward",
                format!(
                    "a gradient can only be created implicitly for one-element outputs, not \
                     {shape:?}"
                ),
            )))
        }
    };
    o.grad = Some(match o.grad.take() {
        None => seed,
        Some(mut acc) => {
            for (a, &b) in acc.data_mut().iter_mut().zip(seed.data()) {
                *a = *a + b;
            }
            acc
        }
    });
    Ok(())
}

/// Turns every live handle recorded on `cell` into an owned value without history.
pub fn free_graph<T: Dtype>(cell: &Rc<TapeCell<T>>) {
    let handles = std::mem::take(&mut *cell.handles.borrow_mut());
    for h in handles {
        let Some(h) = h.upgrade() else { continue };
        let mut state = h.state.borrow_mut();
        let Some(st) = T::get_mut(&mut state) else {
            continue;
        };
        if let St::Recorded { tape, id } = st {
            if Rc::ptr_eq(tape, cell) {
                let mut o = Owned::new(cell.tensor(*id).value(), false);
                o.freed = true;
                *st = St::Owned(o);
            }
        }
    }
}

/// The handles of recorded tensors, registered so that `backward()` frees them.
fn recorded<T: Dtype>(
    cell: &Rc<TapeCell<T>>,
    ys: Vec<Tensor<'_, T>>,
    keep_graph: bool,
) -> Vec<Rc<Handle>> {
    ys.into_iter()
        .map(|y| {
            if keep_graph && y.requires_grad() {
                let h = Handle::new(T::wrap(St::Recorded {
                    tape: cell.clone(),
                    id: y.id(),
                }));
                cell.handles.borrow_mut().push(Rc::downgrade(&h));
                h
            } else {
                Handle::owned(y.value(), false)
            }
        })
        .collect()
}

/// The gradients of `output` (recorded) with respect to `inputs`, seeded by `seed` (ones for a
/// one-element output), as `torch.autograd.grad`: recorded on the tape when `create_graph`, so
/// that they can be differentiated again; values otherwise. Accumulates nothing into `.grad`.
pub fn grad_graph<T: Dtype>(
    output: &Rc<Handle>,
    inputs: &[&Rc<Handle>],
    seed: Option<&Rc<Handle>>,
    create_graph: bool,
) -> Result<Vec<Rc<Handle>>, OpError> {
    let cell = match &*state_of::<T>(output)? {
        St::Recorded { tape, .. } => tape.clone(),
        St::Owned(_) => {
            return Err(OpError::Other(
                "the output was not computed by recorded operations: it needs a tensor made \
                 with requires_grad=True among its inputs (outside no_grad())"
                    .into(),
            ))
        }
    };
    let out = on_tape(output, &cell)?;
    let xs = inputs
        .iter()
        .map(|h| on_tape(h, &cell))
        .collect::<Result<Vec<_>, _>>()?;
    let ys = match seed {
        Some(s) => {
            let s = on_tape(s, &cell)?;
            cell.tape.grad_graph_with(out, s, &xs)?
        }
        None => cell.tape.grad_graph(out, &xs)?,
    };
    Ok(recorded(&cell, ys, create_graph))
}

/// Forward mode: the directional derivatives of `outputs` when `inputs` move along `tangents`,
/// recorded (so that they can be differentiated again).
pub fn jvp<T: Dtype>(
    outputs: &[&Rc<Handle>],
    inputs: &[&Rc<Handle>],
    tangents: &[&Rc<Handle>],
) -> Result<Vec<Rc<Handle>>, OpError> {
    let cell = current::<T>();
    let ys = outputs
        .iter()
        .map(|h| on_tape(h, &cell))
        .collect::<Result<Vec<_>, _>>()?;
    let xs = inputs
        .iter()
        .map(|h| on_tape(h, &cell))
        .collect::<Result<Vec<_>, _>>()?;
    let ts = tangents
        .iter()
        .map(|h| on_tape(h, &cell))
        .collect::<Result<Vec<_>, _>>()?;
    let out = cell.tape.jvp(&ys, &xs, &ts)?;
    Ok(recorded(&cell, out, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_fills_the_leaf_and_frees_the_tape() {
        let w = Handle::owned(Array::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap(), true);
        let y = apply1::<f64>(&[&w], |xs| Ok(xs[0].mul(xs[0])?.sum_all())).unwrap();
        assert!(tape_nodes().1 > 0);
        backward::<f64>(&y, None, false).unwrap();
        let s = w.state.borrow();
        let Some(St::Owned(o)) = f64::get(&s) else {
            panic!("a leaf")
        };
        assert_eq!(o.grad.as_ref().unwrap().to_vec(), vec![2.0, 4.0]);
        assert_eq!(tape_nodes().1, 0, "the graph is freed and the tape cleared");
        assert!(matches!(
            backward::<f64>(&y, None, false),
            Err(BackwardError::Freed)
        ));
    }

    #[test]
    fn without_a_gradient_nothing_is_recorded() {
        let a = Handle::owned(Array::<f32>::ones(&[3]), false);
        let before = tape_nodes().0;
        let b = apply1::<f32>(&[&a], |xs| Ok(xs[0].exp())).unwrap();
        assert_eq!(tape_nodes().0, before);
        assert!(matches!(f32::get(&b.state.borrow()), Some(St::Owned(_))));
    }
}
