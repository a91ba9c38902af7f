//! `chainrule.Value`: micrograd's scalar value, on the library's scalar engine, and what the
//! library shows about it (the chain rule in words, the graph drawn, the interactive page).

use std::rc::Rc;

use chainrule::ops::{Binary, Unary};
use chainrule::show::explain::Trace;
use chainrule::show::report::{to_html, ReportOptions};
use chainrule::show::viz;
use pyo3::exceptions::{PyOSError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::activations;
use crate::errors::invalid;
use crate::local::Local;
use crate::scalar::{self, Node, Recording, Source};

/// Graphs with more nodes than this are not drawn when a notebook displays a value (the text
/// form is shown instead); `graph()` and `report()` draw any size.
const DRAW_INLINE_MAX: usize = 400;

/// A scalar value that remembers how it was computed, as micrograd's `Value`.
///
/// ```python
/// from chainrule import Value
/// x = Value(2.0, label="x")
/// y = 3 * x**2 + 1
/// y.backward()
/// y.data, x.grad      # (13.0, 12.0)
/// print(y.explain())  # the chain rule, step by step
/// ```
///
/// Arithmetic (`+ - * / **`, with numbers on either side), `-v`, and the functions of the
/// expression language as methods (`relu`, `tanh`, `exp`, `log`, `sigmoid`, `sqrt`, `sin`, ...)
/// make new values. `backward()` adds `d self / d v` into `v.grad` for every value `v` this one
/// depends on, as micrograd and PyTorch do (call it twice and the gradients double; set
/// `p.grad = 0` in between).
///
/// Memory: a value holds the values it was computed from, and nothing else holds them, so a
/// graph is freed as soon as the last value that reaches it is dropped (rebinding `loss` in a
/// training loop frees the previous step's graph; parameters live on). `backward()` records the
/// graph the value depends on into the library's arena and runs the library's backward sweep
/// there; the arena is dropped when it returns.
#[pyclass(name = "Value", module = "chainrule", frozen)]
pub struct Value(pub Local<Rc<Node>>);

impl Value {
    pub fn wrap(node: Rc<Node>) -> Value {
        Value(Local(node))
    }

    pub fn node(&self) -> &Rc<Node> {
        &self.0
    }
}

/// The other side of an arithmetic operation: a value or a number.
enum Operand {
    Value(Rc<Node>),
    Number(f64),
}

fn operand(obj: &Bound<'_, PyAny>) -> Option<Operand> {
    if let Ok(v) = obj.cast::<Value>() {
        return Some(Operand::Value(v.get().node().clone()));
    }
    obj.extract::<f64>().ok().map(Operand::Number)
}

fn new_value(py: Python<'_>, node: Rc<Node>) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, Value::wrap(node))?.into_any())
}

fn not_implemented(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(py.NotImplemented())
}

/// `a op b` with a number on the right folded into the operation where the engine does that
/// (`x + c`, `c · x`), and made a constant leaf otherwise.
fn binary_right(op: Binary, a: &Rc<Node>, b: Operand) -> Rc<Node> {
    match b {
        Operand::Value(b) => Node::binary(op, a, &b),
        Operand::Number(c) => match op {
            Binary::Add => Node::unary(Unary::AddConst(c), a),
            Binary::Sub => Node::unary(Unary::AddConst(-c), a),
            Binary::Mul => Node::unary(Unary::MulConst(c), a),
            _ => Node::binary(op, a, &Node::constant(c)),
        },
    }
}

/// `c op a` for a number `c` on the left.
fn binary_left(op: Binary, c: f64, a: &Rc<Node>) -> Rc<Node> {
    match op {
        Binary::Add => Node::unary(Unary::AddConst(c), a),
        Binary::Mul => Node::unary(Unary::MulConst(c), a),
        _ => Node::binary(op, &Node::constant(c), a),
    }
}

/// The micrograd name of the operation that made a node (`+`, `*`, `ReLU`, `**2`), or `""` for
/// a leaf.
fn op_name(node: &Node) -> String {
    match node.source() {
        Source::Variable | Source::Constant => String::new(),
        Source::Unary(op, _) => match op {
            Unary::Relu => "ReLU".into(),
            Unary::AddConst(_) => "+".into(),
            Unary::MulConst(_) => "*".into(),
            Unary::Neg => "neg".into(),
            Unary::Powi(n) => format!("**{n}"),
            Unary::Powf(p) => format!("**{p}"),
            other => other.name(),
        },
        Source::Binary(op, _, _) => match op {
            Binary::Pow => "**".into(),
            other => other.symbol().into(),
        },
    }
}

/// The value's graph, recorded in creation order (for what a learner sees).
fn shown(node: &Node) -> Recording<'_> {
    Recording::of(&[node], true)
}

#[pymethods]
impl Value {
    /// A new value holding `data` (a number), with an optional `label` shown by `explain()` and
    /// the drawings.
    #[new]
    #[pyo3(signature = (data, *, label = None))]
    fn py_new(data: &Bound<'_, PyAny>, label: Option<&str>) -> PyResult<Value> {
        if data.cast::<Value>().is_ok() {
            return Err(PyTypeError::new_err(
                "Value(...) takes a number, not another Value",
            ));
        }
        let x: f64 = data.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "Value(...) takes a number, not {}",
                data.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let node = Node::variable(x);
        node.set_label(label);
        Ok(Value::wrap(node))
    }

    /// The number this value holds; it can be set (`p.data -= lr * p.grad`).
    #[getter]
    fn data(&self) -> f64 {
        self.node().data()
    }

    #[setter]
    fn set_data(&self, v: f64) {
        self.node().set_data(v)
    }

    /// The gradient accumulated by `backward()` calls (0 before any); it can be set
    /// (`p.grad = 0`).
    #[getter]
    fn grad(&self) -> f64 {
        self.node().grad()
    }

    #[setter]
    fn set_grad(&self, g: f64) {
        self.node().set_grad(g)
    }

    /// The label shown by `explain()` and the drawings (`None` if not given).
    #[getter]
    fn label(&self) -> Option<String> {
        self.node().label()
    }

    #[setter]
    fn set_label(&self, label: Option<&str>) {
        self.node().set_label(label)
    }

    /// The operation that made this value, as micrograd names it (`'+'`, `'*'`, `'ReLU'`,
    /// `'**2'`), or `''` for a value made by `Value(...)`.
    #[getter]
    fn _op(&self) -> String {
        op_name(self.node())
    }

    /// The values this one was computed from (as micrograd's `_prev`; new handles to the same
    /// nodes, so they share data and gradients but not identity).
    #[getter]
    fn _prev<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let inputs: Vec<Value> = match self.node().source() {
            Source::Variable | Source::Constant => vec![],
            Source::Unary(_, x) => vec![Value::wrap(x.clone())],
            Source::Binary(_, a, b) => vec![Value::wrap(a.clone()), Value::wrap(b.clone())],
        };
        PyList::new(py, inputs)
    }

    /// Gives the value a label and returns it, for chaining: `(w * x).named("wx")`.
    fn named<'py>(slf: Bound<'py, Self>, label: &str) -> Bound<'py, Self> {
        slf.get().node().set_label(Some(label));
        slf
    }

    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(other) {
            Some(b) => new_value(py, binary_right(Binary::Add, self.node(), b)),
            None => not_implemented(py),
        }
    }

    fn __radd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(other) {
            Some(Operand::Number(c)) => new_value(py, binary_left(Binary::Add, c, self.node())),
            Some(Operand::Value(a)) => new_value(py, Node::binary(Binary::Add, &a, self.node())),
            None => not_implemented(py),
        }
    }

    fn __sub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(other) {
            Some(b) => new_value(py, binary_right(Binary::Sub, self.node(), b)),
            None => not_implemented(py),
        }
    }

    fn __rsub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(other) {
            Some(Operand::Number(c)) => new_value(py, binary_left(Binary::Sub, c, self.node())),
            Some(Operand::Value(a)) => new_value(py, Node::binary(Binary::Sub, &a, self.node())),
            None => not_implemented(py),
        }
    }

    fn __mul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(other) {
            Some(b) => new_value(py, binary_right(Binary::Mul, self.node(), b)),
            None => not_implemented(py),
        }
    }

    fn __rmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(other) {
            Some(Operand::Number(c)) => new_value(py, binary_left(Binary::Mul, c, self.node())),
            Some(Operand::Value(a)) => new_value(py, Node::binary(Binary::Mul, &a, self.node())),
            None => not_implemented(py),
        }
    }

    fn __truediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(other) {
            Some(b) => new_value(py, binary_right(Binary::Div, self.node(), b)),
            None => not_implemented(py),
        }
    }

    fn __rtruediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match operand(other) {
            Some(Operand::Number(c)) => new_value(py, binary_left(Binary::Div, c, self.node())),
            Some(Operand::Value(a)) => new_value(py, Node::binary(Binary::Div, &a, self.node())),
            None => not_implemented(py),
        }
    }

    /// `self ** p`: an integer exponent records `x^n`, a real one `x^p`, a `Value` exponent
    /// `a^b` (whose gradient flows into the exponent too).
    fn __pow__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if modulo.is_some_and(|m| !m.is_none()) {
            return not_implemented(py);
        }
        if let Ok(v) = other.cast::<Value>() {
            return new_value(py, Node::binary(Binary::Pow, self.node(), v.get().node()));
        }
        let is_int = other.is_instance_of::<pyo3::types::PyInt>()
            && !other.is_instance_of::<pyo3::types::PyBool>();
        if is_int {
            if let Ok(n) = other.extract::<i32>() {
                return new_value(py, Node::unary(Unary::Powi(n), self.node()));
            }
        }
        match other.extract::<f64>() {
            Ok(p) => new_value(py, Node::unary(Unary::Powf(p), self.node())),
            Err(_) => not_implemented(py),
        }
    }

    fn __rpow__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if modulo.is_some_and(|m| !m.is_none()) {
            return not_implemented(py);
        }
        match other.extract::<f64>() {
            Ok(c) => new_value(py, binary_left(Binary::Pow, c, self.node())),
            Err(_) => not_implemented(py),
        }
    }

    fn __neg__(&self) -> Value {
        Value::wrap(Node::unary(Unary::Neg, self.node()))
    }

    fn __pos__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __float__(&self) -> f64 {
        self.node().data()
    }

    /// `max(self, 0)`; its derivative at 0 is 0.
    fn relu(&self) -> Value {
        self.unary(Unary::Relu)
    }
    /// The hyperbolic tangent.
    fn tanh(&self) -> Value {
        self.unary(Unary::Tanh)
    }
    /// `e^self`.
    fn exp(&self) -> Value {
        self.unary(Unary::Exp)
    }
    /// The natural logarithm.
    fn log(&self) -> Value {
        self.unary(Unary::Ln)
    }
    /// The natural logarithm (the same as `log`).
    fn ln(&self) -> Value {
        self.unary(Unary::Ln)
    }
    /// The logistic function `1 / (1 + e^-self)`.
    fn sigmoid(&self) -> Value {
        self.unary(Unary::Sigmoid)
    }
    /// The square root.
    fn sqrt(&self) -> Value {
        self.unary(Unary::Sqrt)
    }
    /// The sine.
    fn sin(&self) -> Value {
        self.unary(Unary::Sin)
    }
    /// The cosine.
    fn cos(&self) -> Value {
        self.unary(Unary::Cos)
    }
    /// The tangent.
    fn tan(&self) -> Value {
        self.unary(Unary::Tan)
    }
    /// `|self|`; its derivative at 0 is 0.
    fn abs(&self) -> Value {
        self.unary(Unary::Abs)
    }
    /// The Gaussian error linear unit `x·Φ(x)`: exact by default, as PyTorch's, or by its
    /// tanh form with `approximate="tanh"` (GPT-2's).
    #[pyo3(signature = (approximate = "none"))]
    fn gelu(&self, approximate: &str) -> PyResult<Value> {
        Ok(self.unary(activations::gelu(approximate)?))
    }
    /// `ln(1 + self)`, accurate for small values (PyTorch's `log1p`).
    fn log1p(&self) -> Value {
        self.unary(Unary::Log1p)
    }
    /// `e^self − 1`, accurate for small values (PyTorch's `expm1`).
    fn expm1(&self) -> Value {
        self.unary(Unary::Expm1)
    }
    /// `ln(1 + e^self)`, as PyTorch's `softplus` with its defaults (`self` itself above 20);
    /// its derivative is `sigmoid(self)`.
    fn softplus(&self) -> Value {
        self.unary(Unary::Softplus)
    }
    /// `ln sigmoid(self)`, stable for any value, as PyTorch's `logsigmoid`.
    fn log_sigmoid(&self) -> Value {
        self.unary(Unary::LogSigmoid)
    }
    /// `self · sigmoid(self)`, as PyTorch's `silu` (the swish).
    fn silu(&self) -> Value {
        self.unary(Unary::Silu)
    }
    /// `self` where `self > 0`, `alpha·(e^self − 1)` elsewhere, as PyTorch's `elu`; its
    /// derivative at 0 is `alpha`.
    #[pyo3(signature = (alpha = 1.0))]
    fn elu(&self, alpha: f64) -> PyResult<Value> {
        Ok(self.unary(activations::elu(alpha)?))
    }
    /// `self` where `self > 0`, `negative_slope · self` elsewhere, as PyTorch's `leaky_relu`;
    /// its derivative at 0 is `negative_slope`.
    #[pyo3(signature = (negative_slope = 0.01))]
    fn leaky_relu(&self, negative_slope: f64) -> PyResult<Value> {
        Ok(self.unary(activations::leaky_relu(negative_slope)?))
    }
    /// The error function.
    fn erf(&self) -> Value {
        self.unary(Unary::Erf)
    }
    /// 1 where `self > 0`, else 0 (derivative 0).
    fn step(&self) -> Value {
        self.unary(Unary::Step)
    }
    /// The sign: -1, 0 or 1 (derivative 0).
    fn sign(&self) -> Value {
        self.unary(Unary::Sign)
    }

    /// The larger of `self` and `other` (a value or a number); at a tie each gets half the
    /// gradient, as `torch.maximum`.
    fn max(&self, other: &Bound<'_, PyAny>) -> PyResult<Value> {
        self.binary_fn(Binary::Max, other)
    }

    /// The smaller of `self` and `other`; at a tie each gets half the gradient.
    fn min(&self, other: &Bound<'_, PyAny>) -> PyResult<Value> {
        self.binary_fn(Binary::Min, other)
    }

    /// Back-propagates from this value, adding `d self / d v` into `v.grad` for every value `v`
    /// it depends on (itself included, whose gradient grows by 1).
    ///
    /// The graph is recorded into the library's arena and differentiated by its backward sweep,
    /// iteratively: graphs of millions of values work.
    fn backward(&self) {
        scalar::backward(self.node())
    }

    /// A copy of the value that does not remember its history: gradients stop there.
    fn detach(&self) -> Value {
        Value::wrap(Node::constant(self.node().data()))
    }

    /// The chain rule at work on this value's graph, as `chainrule explain` prints it: the
    /// forward pass (each value from its inputs, with its local derivatives) and the backward
    /// pass (each gradient as a sum over the value's uses). Labels name the values.
    fn explain(&self) -> String {
        let rec = shown(self.node());
        Trace::new(&rec.graph, rec.var(self.node())).to_string()
    }

    /// The graph drawn as SVG, with every value, gradient and local derivative (the drawing of
    /// `chainrule graph`). Gradients are those of this value, fresh.
    fn svg(&self) -> String {
        let rec = shown(self.node());
        viz::svg::to_svg(&rec.graph, rec.var(self.node()))
    }

    /// The graph in Graphviz's DOT language.
    fn dot(&self) -> String {
        let rec = shown(self.node());
        viz::to_dot(&rec.graph, rec.var(self.node()))
    }

    /// Writes the drawing of the graph to `path`: SVG for a name ending in `.svg`, DOT for
    /// `.dot` or `.gv`.
    fn graph(&self, path: std::path::PathBuf) -> PyResult<()> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let text = match ext.as_deref() {
            Some("svg") => self.svg(),
            Some("dot" | "gv") => self.dot(),
            _ => {
                return Err(invalid(format!(
                    "cannot tell the format of {}: name it .svg or .dot",
                    path.display()
                )))
            }
        };
        write_file(&path, text.as_bytes())
    }

    /// The interactive page of `chainrule report` for this value's graph (one self-contained
    /// HTML file that steps through both passes and lists every path): a `Report`, shown inline
    /// in a notebook, or written to `path` when given.
    #[pyo3(signature = (path = None, title = None))]
    fn report(&self, path: Option<std::path::PathBuf>, title: Option<String>) -> PyResult<Report> {
        let rec = shown(self.node());
        let out = rec.var(self.node());
        let title = title.unwrap_or_else(|| {
            self.node()
                .label()
                .unwrap_or_else(|| "a chainrule Value".into())
        });
        let html = to_html(&rec.graph, out, &ReportOptions::new(title, ""));
        let report = Report::new(html);
        if let Some(p) = path {
            report.save(p)?;
        }
        Ok(report)
    }

    /// The SVG drawing, for notebooks (`None` for graphs too large to draw inline: use
    /// `graph("g.svg")` or `report()` for those).
    fn _repr_svg_(&self) -> Option<String> {
        let rec = shown(self.node());
        (rec.nodes.len() <= DRAW_INLINE_MAX)
            .then(|| viz::svg::to_svg(&rec.graph, rec.var(self.node())))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let data = pyo3::types::PyFloat::new(py, self.node().data()).repr()?;
        let grad = pyo3::types::PyFloat::new(py, self.node().grad()).repr()?;
        Ok(format!("Value(data={data}, grad={grad})"))
    }
}

impl Value {
    fn unary(&self, op: Unary) -> Value {
        Value::wrap(Node::unary(op, self.node()))
    }

    fn binary_fn(&self, op: Binary, other: &Bound<'_, PyAny>) -> PyResult<Value> {
        match operand(other) {
            Some(Operand::Value(b)) => Ok(Value::wrap(Node::binary(op, self.node(), &b))),
            Some(Operand::Number(c)) => Ok(Value::wrap(Node::binary(
                op,
                self.node(),
                &Node::constant(c),
            ))),
            None => Err(PyTypeError::new_err(format!(
                "{}() takes a Value or a number",
                op.name()
            ))),
        }
    }
}

/// Writes a file, with the reason as an `OSError` when it cannot be written.
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> PyResult<()> {
    chainrule::files::write_atomically(path, bytes)
        .map_err(|e| PyOSError::new_err(format!("cannot write {}: {e}", path.display())))
}

/// An interactive HTML page: shown inline by a notebook (in a frame of its own, so that its
/// script and styles stay apart from the notebook's), written with `save(path)`, its text in
/// `html`.
#[pyclass(name = "Report", module = "chainrule", frozen)]
pub struct Report {
    html: String,
}

impl Report {
    pub fn new(html: String) -> Report {
        Report { html }
    }
}

#[pymethods]
impl Report {
    /// The page's HTML, one self-contained document.
    #[getter]
    fn html(&self) -> &str {
        &self.html
    }

    /// Writes the page to `path`.
    pub fn save(&self, path: std::path::PathBuf) -> PyResult<()> {
        write_file(&path, self.html.as_bytes())
    }

    fn _repr_html_(&self) -> String {
        let escaped = self.html.replace('&', "&amp;").replace('"', "&quot;");
        format!(
            "<iframe srcdoc=\"{escaped}\" style=\"width: 100%; height: 640px; border: 1px solid #ddd\" \
             sandbox=\"allow-scripts\"></iframe>"
        )
    }

    fn __repr__(&self) -> String {
        format!("<chainrule Report: {} bytes of HTML>", self.html.len())
    }
}

/// `d out / d x` for each `x` of `inputs`, fresh: nothing is accumulated into `.grad`, and an
/// input `out` does not depend on gets 0. As `torch.autograd.grad`.
#[pyfunction]
pub fn grad(out: &Bound<'_, Value>, inputs: Vec<Bound<'_, Value>>) -> Vec<f64> {
    let wrt: Vec<&Node> = inputs.iter().map(|v| &**v.get().node()).collect();
    scalar::grad(out.get().node(), &wrt)
}

/// How many scalar nodes are alive (for tests of memory).
#[pyfunction]
pub fn _live_values() -> isize {
    scalar::live_nodes()
}
