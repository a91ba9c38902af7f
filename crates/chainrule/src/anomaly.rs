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

use std::fmt;
use std::panic::Location;

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

/// The per-graph state of anomaly detection, allocated only once detection is turned on.
#[derive(Debug, Default)]
pub(crate) struct Detector {
    /// Where each node recorded while detection was on was created, by node index (increasing).
    pub locations: Vec<(usize, &'static Location<'static>)>,
    /// The first anomaly found.
    pub first: Option<Anomaly>,
}

impl Detector {
    /// Notes where node `id` was created.
    pub fn locate(&mut self, id: usize, at: &'static Location<'static>) {
        self.locations.push((id, at));
    }

    /// Where node `id` was created, if detection was on then.
    pub fn location(&self, id: usize) -> Option<&'static Location<'static>> {
        self.locations
            .binary_search_by_key(&id, |&(i, _)| i)
            .ok()
            .map(|k| self.locations[k].1)
    }

    /// Keeps `a` if it is the first anomaly.
    pub fn report(&mut self, mut a: Anomaly) {
        if self.first.is_none() {
            a.location = self.location(a.node);
            self.first = Some(a);
        }
    }

    /// Forgets the nodes from `len` on (after the arena was cleared to `len` nodes).
    pub fn truncate(&mut self, len: usize) {
        self.locations.retain(|&(i, _)| i < len);
    }
}

/// The name of a scalar operation: `ln`, `add`, `x^2`, ...
pub(crate) fn scalar_op_name(op: crate::scalar::graph::Op) -> String {
    use crate::scalar::graph::Op;
    match op {
        Op::Variable => "variable".into(),
        Op::Constant => "constant".into(),
        Op::Unary(u, _) => unary_name(u),
        Op::Binary(b, _, _) => binary_name(b).into(),
    }
}

/// `ln`, `sqrt`, ...; operators without a function name are described (`-x`, `x + 2`, `x^2`).
pub(crate) fn unary_name(op: crate::ops::Unary) -> String {
    op.function_name()
        .map(str::to_string)
        .unwrap_or_else(|| op.describe("x"))
}

/// `add`, `mul`, `pow`, `max`, ...
pub(crate) fn binary_name(op: crate::ops::Binary) -> &'static str {
    use crate::ops::Binary;
    match op {
        Binary::Add => "add",
        Binary::Sub => "sub",
        Binary::Mul => "mul",
        Binary::Div => "div",
        Binary::Pow => "pow",
        Binary::Max => "max",
        Binary::Min => "min",
    }
}

/// A forward anomaly if scalar node `id`'s value is not finite.
pub(crate) fn check_node(
    nodes: &[crate::scalar::graph::Node],
    id: crate::scalar::graph::NodeId,
) -> Option<Anomaly> {
    let node = nodes[id.index()];
    if node.value.is_finite() {
        return None;
    }
    Some(Anomaly {
        phase: Phase::Forward,
        op: scalar_op_name(node.op),
        node: id.index(),
        inputs: node
            .op
            .inputs()
            .map(|i| Operand::Value(nodes[i.index()].value))
            .collect(),
        produced: node.value,
        location: None,
    })
}

/// The scalar backward sweep of [`crate::scalar::backward::sweep_into`] (the same arithmetic, so the same
/// gradients), checking each step: returns the first operation, from the output back, whose
/// local derivative turned its finite adjoint into a non-finite gradient for an input.
pub(crate) fn checked_sweep(
    nodes: &[crate::scalar::graph::Node],
    output: crate::scalar::graph::NodeId,
    adjoint: &mut Vec<f64>,
    reached: &mut Vec<bool>,
) -> Option<Anomaly> {
    use crate::scalar::graph::Op;
    let n = output.index() + 1;
    adjoint.clear();
    adjoint.resize(n, 0.0);
    reached.clear();
    reached.resize(n, false);
    adjoint[output.index()] = 1.0;
    reached[output.index()] = true;
    let mut found: Option<Anomaly> = None;
    let blame = |i: usize, produced: f64, found: &mut Option<Anomaly>| {
        if found.is_none() {
            let node = nodes[i];
            *found = Some(Anomaly {
                phase: Phase::Backward,
                op: scalar_op_name(node.op),
                node: i,
                inputs: node
                    .op
                    .inputs()
                    .map(|x| Operand::Value(nodes[x.index()].value))
                    .collect(),
                produced,
                location: None,
            });
        }
    };
    for i in (0..n).rev() {
        if !reached[i] {
            continue;
        }
        let (g, y) = (adjoint[i], nodes[i].value);
        // A non-finite adjoint was already blamed on the operation that produced it.
        let check = g.is_finite() && found.is_none();
        let mut add = |x: usize, d: f64, found: &mut Option<Anomaly>| {
            let before = adjoint[x];
            adjoint[x] += d;
            reached[x] = true;
            if check && before.is_finite() && !adjoint[x].is_finite() {
                blame(i, if d.is_finite() { adjoint[x] } else { d }, found);
            }
        };
        match nodes[i].op {
            Op::Variable => {}
            Op::Constant => adjoint[i] = 0.0,
            Op::Unary(op, x) => {
                let x = x.index();
                add(x, op.backward(nodes[x].value, y, g), &mut found);
            }
            Op::Binary(op, a, b) => {
                let (a, b) = (a.index(), b.index());
                let (ga, gb) = op.backward(nodes[a].value, nodes[b].value, y, g);
                add(a, ga, &mut found);
                add(b, gb, &mut found);
            }
        }
    }
    found
}

/// The name of a tensor operation: `ln`, `add`, `matmul`, `sum`, ...
fn tensor_anomaly<T: crate::tensor::Element>(
    nodes: &[crate::tensor::tape::Node<T>],
    i: usize,
    phase: Phase,
    produced: f64,
) -> Anomaly {
    let op = &nodes[i].op;
    Anomaly {
        phase,
        op: op.name().into_owned(),
        node: i,
        inputs: op
            .inputs()
            .into_iter()
            .map(|x| Operand::Shape(nodes[x].value.shape().to_vec()))
            .collect(),
        produced,
        location: None,
    }
}

fn first_non_finite<T: crate::ops::Real>(values: &[T]) -> Option<f64> {
    values.iter().map(|v| v.value()).find(|v| !v.is_finite())
}

/// A forward anomaly if tensor node `i` holds a non-finite element.
pub(crate) fn check_tensor<T: crate::tensor::Element>(
    nodes: &[crate::tensor::tape::Node<T>],
    i: usize,
) -> Option<Anomaly> {
    let produced = first_non_finite(nodes[i].value.data())?;
    Some(tensor_anomaly(nodes, i, Phase::Forward, produced))
}

/// A backward anomaly if node `i`'s rule made a non-finite `grad` for an input from a finite
/// adjoint `g`.
pub(crate) fn check_gradient<T: crate::tensor::Element>(
    nodes: &[crate::tensor::tape::Node<T>],
    i: usize,
    g: &[T],
    grad: &[T],
) -> Option<Anomaly> {
    let produced = first_non_finite(grad)?;
    if first_non_finite(g).is_some() {
        return None;
    }
    Some(tensor_anomaly(nodes, i, Phase::Backward, produced))
}
