//! Anomaly detection: finding the operation that first produced a NaN or an infinity.
//!
//! A NaN spreads: once one value is NaN, every value computed from it is too, and by the time a
//! loss prints `NaN` the operation at fault is long gone. With anomaly detection on (as
//! PyTorch's `torch.autograd.detect_anomaly`), each recorded operation remembers where in the
//! program it was created, and the first non-finite value is kept as an [`Anomaly`] naming
//! - the operation (`ln`, `div`, `matmul`, ...) and the node it made;
//! - its inputs: their values on a scalar [`Graph`](crate::Graph), their shapes on a tensor
//!   [`Tape`](crate::Tape);
//! - the place in the source that created it (`src/model.rs:12:9`);
//! - the [`Phase`]: the forward pass (the operation's value is not finite) or the backward pass
//!   (the operation's local derivative turned a finite adjoint into a non-finite one).
//!
//! Detection is off by default and costs nothing but one test of a flag per operation when off;
//! no location is recorded then.
//!
//! This module knows neither engine: it holds what an anomaly is, the [`Detector`] state both
//! engines embed, the [`DetectAnomaly`] methods they share, and the check that the scalar
//! backward sweep runs in its checked mode. What an operation is called and what its inputs
//! look like is each engine's own business (`scalar/anomaly.rs`, `tensor/anomaly.rs`).
//!
//! ```
//! use chainrule::anomaly::Phase;
//! use chainrule::Graph;
//!
//! let g = Graph::new();
//! g.set_detect_anomaly(true);
//! let x = g.var(-1.0);
//! let y = x.ln() * 2.0; // NaN from here on
//! let a = g.anomaly().expect("ln(-1) is NaN");
//! assert_eq!((a.op.as_str(), a.phase), ("ln", Phase::Forward));
//! assert_eq!(a.inputs[0].to_string(), "-1");
//! assert!(a.to_string().contains(file!()));
//! # let _ = y;
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;

use crate::ops::Real;

/// When an anomaly was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Recording: the operation's own value is NaN or infinite.
    Forward,
    /// Differentiating: the operation's backward rule (its local derivative times a finite
    /// adjoint) produced a NaN or infinite gradient for one of its inputs.
    Backward,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Forward => "forward",
            Phase::Backward => "backward",
        })
    }
}

/// An input of the operation at fault.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// The value of a scalar input.
    Value(f64),
    /// The shape of a tensor input.
    Shape(Vec<usize>),
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Value(v) => write!(f, "{v}"),
            Operand::Shape(s) => write!(f, "{s:?}"),
        }
    }
}

/// The first NaN or infinity found, and what produced it.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// Forward (the value) or backward (the gradient).
    pub phase: Phase,
    /// The operation's name: `ln`, `sqrt`, `add`, `matmul`, `x^2`, ...
    pub op: String,
    /// The index of the operation's node in its graph or tape.
    pub node: usize,
    /// The operation's inputs, in order: values (scalar graph) or shapes (tensor tape).
    pub inputs: Vec<Operand>,
    /// The first non-finite number produced: the value (forward) or the gradient (backward).
    pub produced: f64,
    /// Where the operation was recorded, if detection was on when it was.
    pub location: Option<&'static Location<'static>>,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inputs: Vec<String> = self.inputs.iter().map(|i| i.to_string()).collect();
        let what = match self.phase {
            Phase::Forward => "produced",
            Phase::Backward => "has a local derivative that produced the gradient",
        };
        write!(
            f,
            "anomaly in the {} pass: {} (node #{}) {what} {} from the input{} {}",
            self.phase,
            self.op,
            self.node,
            self.produced,
            if inputs.len() == 1 { "" } else { "s" },
            inputs.join(", ")
        )?;
        match self.location {
            Some(l) => write!(f, ", created at {}:{}:{}", l.file(), l.line(), l.column()),
            None => write!(
                f,
                " (recorded while anomaly detection was off: no location)"
            ),
        }
    }
}

impl std::error::Error for Anomaly {}

/// The state of anomaly detection of one graph or tape: whether it is on, where each node was
/// created while it was, and the first anomaly found. [`Graph`](crate::Graph) and
/// [`Tape`](crate::Tape) each embed one and share every method through [`DetectAnomaly`]; what
/// an engine's operations are called and what their inputs look like stays with the engine.
#[derive(Debug, Default)]
pub struct Detector {
    on: Cell<bool>,
    found: RefCell<Found>,
}

/// What detection has seen; empty (and unallocated) until detection is turned on.
#[derive(Debug, Default)]
struct Found {
    /// Where each node recorded while detection was on was created, by node index (increasing).
    locations: Vec<(usize, &'static Location<'static>)>,
    first: Option<Anomaly>,
}

impl Detector {
    /// Whether detection is on. Always inlined: recording tests it once per operation, and it
    /// must cost no more than a compare and a branch.
    #[inline(always)]
    pub(crate) fn is_on(&self) -> bool {
        self.on.get()
    }

    /// Notes where node `node` was created and, unless an anomaly was already found, keeps what
    /// `check` (the engine's look at the node's value) finds. Called only while detection is on,
    /// so it is kept out of the recording path.
    #[cold]
    #[inline(never)]
    pub(crate) fn observe(
        &self,
        node: usize,
        at: &'static Location<'static>,
        check: impl FnOnce() -> Option<Anomaly>,
    ) {
        let mut found = self.found.borrow_mut();
        found.locations.push((node, at));
        if found.first.is_none() {
            if let Some(mut a) = check() {
                a.location = found.location(a.node);
                found.first = Some(a);
            }
        }
    }

    /// `a` with the place its node was created, kept as the first anomaly if detection is on
    /// and none was found before.
    pub(crate) fn blame(&self, mut a: Anomaly) -> Anomaly {
        let mut found = self.found.borrow_mut();
        a.location = found.location(a.node);
        if self.is_on() && found.first.is_none() {
            found.first = Some(a.clone());
        }
        a
    }

    /// Forgets the locations of the nodes from `len` on (after the arena was cleared to `len`
    /// nodes); the first anomaly is kept until it is taken.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.found.get_mut().locations.retain(|&(i, _)| i < len);
    }
}

impl Found {
    fn location(&self, node: usize) -> Option<&'static Location<'static>> {
        self.locations
            .binary_search_by_key(&node, |&(i, _)| i)
            .ok()
            .map(|k| self.locations[k].1)
    }
}

/// Anomaly detection, the same on a scalar [`Graph`](crate::Graph) and on a tensor
/// [`Tape`](crate::Tape): written once here, with the state in each engine's [`Detector`].
///
/// Both engines also have these methods as inherent methods (made by
/// `inherent_detect_anomaly!`), so calling them needs no import; the trait is for code written
/// once for either engine.
///
/// ```
/// use chainrule::tensor::{Array, Tape};
/// use chainrule::{DetectAnomaly, Graph};
///
/// fn first_problem(engine: &impl DetectAnomaly) -> String {
///     engine.anomaly().map_or("none".into(), |a| a.op)
/// }
/// let g = Graph::new();
/// let tape = Tape::<f64>::new();
/// let (x, t) = (g.var(0.0), tape.var(Array::zeros(&[2])));
/// let (y, u) = (g.detect_anomaly(|| x.ln()), tape.detect_anomaly(|| t.sqrt().ln()));
/// assert_eq!((first_problem(&g), first_problem(&tape)), ("ln".into(), "ln".into()));
/// # let _ = (y, u);
/// ```
pub trait DetectAnomaly {
    /// The engine's detection state.
    fn detector(&self) -> &Detector;

    /// Turns anomaly detection on or off (off by default): while on, every operation records
    /// where it was created and the first NaN or infinity, forward or backward, is kept as an
    /// [`Anomaly`] (see [`DetectAnomaly::anomaly`]); on a graph,
    /// [`Graph::try_grad`](crate::Graph::try_grad) names the operation whose local derivative
    /// made a gradient non-finite, and on a tape [`Tensor::backward`](crate::Tensor::backward)
    /// fails naming it. While off, recording costs what it always did and no location is kept.
    ///
    /// ```
    /// use chainrule::Graph;
    ///
    /// let g = Graph::new();
    /// g.set_detect_anomaly(true);
    /// let x = g.var(0.0);
    /// let y = 1.0 / x; // line 10 of this example
    /// let a = g.anomaly().unwrap();
    /// assert_eq!(a.op, "div");
    /// assert_eq!(a.produced, f64::INFINITY);
    /// assert_eq!(a.location.unwrap().line(), 10);
    /// # let _ = y;
    /// ```
    fn set_detect_anomaly(&self, on: bool) {
        self.detector().on.set(on);
    }

    /// Whether anomaly detection is on (see [`DetectAnomaly::set_detect_anomaly`]).
    fn is_anomaly_enabled(&self) -> bool {
        self.detector().is_on()
    }

    /// Runs `f` with anomaly detection on, then restores the previous setting, as PyTorch's
    /// `with torch.autograd.detect_anomaly():`.
    ///
    /// ```
    /// use chainrule::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.var(4.0);
    /// let y = g.detect_anomaly(|| (x - 4.0).sqrt());
    /// assert!(g.anomaly().is_none()); // sqrt(0) = 0 is fine going forward...
    /// let err = g.try_grad(y, &[x]).unwrap_err(); // ...but its derivative is infinite
    /// assert_eq!(err.op, "sqrt");
    /// assert!(!g.is_anomaly_enabled());
    /// ```
    ///
    /// On a tape, an anomaly names the shapes of the inputs:
    ///
    /// ```
    /// use chainrule::anomaly::{Operand, Phase};
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(Array::from_vec(vec![1.0, -2.0, 3.0], &[3]).unwrap());
    /// let loss = tape.detect_anomaly(|| x.ln().sum_all());
    /// let a = tape.anomaly().unwrap();
    /// assert_eq!((a.op.as_str(), a.phase), ("ln", Phase::Forward));
    /// assert_eq!(a.inputs, vec![Operand::Shape(vec![3])]);
    /// assert_eq!(a.location.unwrap().file(), file!());
    /// # let _ = loss;
    /// ```
    fn detect_anomaly<R>(&self, f: impl FnOnce() -> R) -> R {
        let on = &self.detector().on;
        let _restore = crate::util::Restore(on, on.replace(true));
        f()
    }

    /// The first anomaly found while detection was on: the first operation whose value was NaN
    /// or infinite, or the first whose local derivative made a gradient NaN or infinite.
    fn anomaly(&self) -> Option<Anomaly> {
        self.detector().found.borrow().first.clone()
    }

    /// Returns the first anomaly and forgets it, so that the next one can be found.
    fn take_anomaly(&self) -> Option<Anomaly> {
        self.detector().found.borrow_mut().first.take()
    }

    /// Where in the program node `node` (its index, as in [`Anomaly::node`]) was created, if
    /// detection was on then.
    fn location(&self, node: usize) -> Option<&'static Location<'static>> {
        self.detector().found.borrow().location(node)
    }
}

/// The methods of [`DetectAnomaly`] as inherent methods of an engine, so that `g.anomaly()`
/// needs no import: expanded inside `impl Graph` and `impl Tape`. `$node` is how the engine names
/// a node, and `$index` turns one into its index.
macro_rules! inherent_detect_anomaly {
    ($node:ty, $index:expr) => {
        /// Turns anomaly detection on or off (off by default):
        /// [`DetectAnomaly::set_detect_anomaly`](crate::DetectAnomaly::set_detect_anomaly).
        pub fn set_detect_anomaly(&self, on: bool) {
            $crate::anomaly::DetectAnomaly::set_detect_anomaly(self, on);
        }

        /// Whether anomaly detection is on:
        /// [`DetectAnomaly::is_anomaly_enabled`](crate::DetectAnomaly::is_anomaly_enabled).
        pub fn is_anomaly_enabled(&self) -> bool {
            $crate::anomaly::DetectAnomaly::is_anomaly_enabled(self)
        }

        /// Runs `f` with anomaly detection on, then restores the previous setting:
        /// [`DetectAnomaly::detect_anomaly`](crate::DetectAnomaly::detect_anomaly).
        pub fn detect_anomaly<R>(&self, f: impl FnOnce() -> R) -> R {
            $crate::anomaly::DetectAnomaly::detect_anomaly(self, f)
        }

        /// The first anomaly found while detection was on:
        /// [`DetectAnomaly::anomaly`](crate::DetectAnomaly::anomaly).
        pub fn anomaly(&self) -> Option<$crate::anomaly::Anomaly> {
            $crate::anomaly::DetectAnomaly::anomaly(self)
        }

        /// Returns the first anomaly and forgets it:
        /// [`DetectAnomaly::take_anomaly`](crate::DetectAnomaly::take_anomaly).
        pub fn take_anomaly(&self) -> Option<$crate::anomaly::Anomaly> {
            $crate::anomaly::DetectAnomaly::take_anomaly(self)
        }

        /// Where in the program a node was created, if detection was on then:
        /// [`DetectAnomaly::location`](crate::DetectAnomaly::location).
        pub fn location(&self, id: $node) -> Option<&'static ::std::panic::Location<'static>> {
            $crate::anomaly::DetectAnomaly::location(self, ($index)(id))
        }
    };
}
pub(crate) use inherent_detect_anomaly;

/// What a sweep tells its check: every gradient it adds into an input's adjoint. A sweep is
/// generic over its check, so the same loop runs unchecked ([`NoCheck`]) or checked
/// ([`FirstNonFinite`]).
pub(crate) trait Check<T> {
    /// Node `node`'s backward rule added `d` into an input's adjoint, which is now `sum`.
    fn added(&mut self, node: usize, d: T, sum: T);
}

/// The check of normal runs: empty and always inlined, so the sweep compiles as if it were not
/// there.
pub(crate) struct NoCheck;

impl<T> Check<T> for NoCheck {
    #[inline(always)]
    fn added(&mut self, _node: usize, _d: T, _sum: T) {}
}

/// The check of anomaly detection: the first node whose backward rule made an adjoint NaN or
/// infinite, with the number it produced (the rule's own output if that is not finite, else the
/// sum it overflowed to).
///
/// Every adjoint is finite until the first non-finite sum (the seed is finite, and a NaN only
/// spreads from where it appears), so the first such sum names the rule at fault, not one that
/// merely passed a NaN on.
#[derive(Debug, Default)]
pub(crate) struct FirstNonFinite {
    pub found: Option<(usize, f64)>,
}

impl<T: Real> Check<T> for FirstNonFinite {
    #[inline]
    fn added(&mut self, node: usize, d: T, sum: T) {
        if self.found.is_none() && !sum.value().is_finite() {
            let d = d.value();
            self.found = Some((node, if d.is_finite() { sum.value() } else { d }));
        }
    }
}
