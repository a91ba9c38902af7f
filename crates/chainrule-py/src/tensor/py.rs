//! `chainrule.Tensor`: the library's tensors from Python, with NumPy's and PyTorch's vocabulary.

use std::rc::Rc;

use chainrule::ops::{Binary, Unary};
use chainrule::show::tape::TapeTrace;
use chainrule::tensor::{Array, Element, Tensor, TensorError};
use numpy::PyArrayDyn;
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PySlice, PyTuple};

use super::convert::{array_from_py, to_numpy};
use super::state::{self, apply, apply1, BackwardError, Dtype, Handle, OpError, St, State};
use crate::activations;
use crate::errors::{invalid, shape, ChainruleError};
use crate::local::Local;

/// A tensor of `float32` or `float64` numbers that can record how it was computed.
///
/// Made by `chainrule.tensor(data, requires_grad=False)` (from a NumPy array, a list or a
/// number) or by operations on other tensors. Operations broadcast as NumPy does; `backward()`
/// adds the gradient of a one-element tensor into `.grad` of every tensor made with
/// `requires_grad=True` it depends on. `.numpy()` shares the data (read-only, no copy).
///
/// A graph is freed by `backward()` (pass `retain_graph=True` to keep it) or when no tensor
/// recorded since the last `backward()` is alive; see the package documentation on memory.
#[pyclass(name = "Tensor", module = "chainrule", frozen, weakref)]
pub struct PyTensor(pub Local<Rc<Handle>>);

impl PyTensor {
    pub fn new(h: Rc<Handle>) -> PyTensor {
        PyTensor(Local(h))
    }

    pub fn handle(&self) -> &Rc<Handle> {
        &self.0
    }
}

/// Whether a handle holds `float64`.
pub fn is_f64(h: &Handle) -> bool {
    matches!(&*h.state.borrow(), State::F64(_))
}

/// Runs `$body` with `$T` the element type of `$h`.
#[macro_export]
macro_rules! with_dtype {
    ($h:expr, $T:ident => $body:expr) => {{
        if $crate::tensor::py::is_f64($h) {
            type $T = f64;
            $body
        } else {
            type $T = f32;
            $body
        }
    }};
}
pub use with_dtype;

/// An operation's error as the Python exception for it.
pub fn op_err(e: OpError) -> PyErr {
    match e {
        OpError::Tensor(e) => shape(e),
        OpError::Dtype(m) => PyTypeError::new_err(m),
        OpError::Other(m) => ChainruleError::new_err(m),
    }
}

fn wrap(py: Python<'_>, h: Rc<Handle>) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyTensor::new(h))?.into_any())
}

/// The other operand of an arithmetic operation.
pub enum Other {
    Tensor(Rc<Handle>),
    Scalar(f64),
}

/// A Python object as an operand for a tensor of type `T`: a tensor, a number, or anything NumPy
/// can make an array of (made a constant tensor). `None` for what cannot be (the operator then
/// returns `NotImplemented`).
pub fn other_of<T: Dtype>(obj: &Bound<'_, PyAny>) -> PyResult<Option<Other>> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(Some(Other::Tensor(t.get().handle().clone())));
    }
    if obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>() {
        return Ok(obj.extract::<f64>().ok().map(Other::Scalar));
    }
    if obj.cast::<crate::value::Value>().is_ok() {
        return Ok(None);
    }
    let is_array = obj.is_instance_of::<pyo3::types::PyList>()
        || obj.is_instance_of::<PyTuple>()
        || obj.hasattr("__array__").unwrap_or(false)
        || obj.hasattr("__array_interface__").unwrap_or(false);
    if !is_array {
        return Ok(obj.extract::<f64>().ok().map(Other::Scalar));
    }
    match array_from_py::<T>(obj) {
        Ok(a) if a.ndim() == 0 => Ok(Some(Other::Scalar(a.item().value()))),
        Ok(a) => Ok(Some(Other::Tensor(Handle::owned(a, false)))),
        Err(_) => Ok(None),
    }
}

use chainrule::ops::Real;

/// Any Python object as a tensor handle of type `T` (tensors as they are, numbers and arrays as
/// constants).
pub fn handle_of<T: Dtype>(obj: &Bound<'_, PyAny>) -> PyResult<Rc<Handle>> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(t.get().handle().clone());
    }
    Ok(Handle::owned(array_from_py::<T>(obj)?, false))
}

/// Dimension arguments: one int, or a tuple or list of them.
fn dims_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<isize>> {
    if let Ok(d) = obj.extract::<isize>() {
        return Ok(vec![d]);
    }
    obj.extract::<Vec<isize>>()
        .map_err(|_| PyTypeError::new_err("a dimension is an int, or a tuple of ints"))
}

/// A shape given as varargs (`reshape(2, 3)`) or as one sequence (`reshape((2, 3))`).
fn shape_args(args: &Bound<'_, PyTuple>) -> PyResult<Vec<isize>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if let Ok(v) = a.extract::<Vec<isize>>() {
            return Ok(v);
        }
    }
    args.extract::<Vec<isize>>()
        .map_err(|_| PyTypeError::new_err("a shape is ints, or one tuple of ints"))
}

/// The axes of a reduction from PyTorch's `dim` or NumPy's `axis` (`None`: all).
fn reduce_axes(
    dim: Option<&Bound<'_, PyAny>>,
    axis: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Vec<isize>>> {
    match dim.or(axis) {
        None => Ok(None),
        Some(d) if d.is_none() => Ok(None),
        Some(d) => Ok(Some(dims_of(d)?)),
    }
}

/// Python's index of an element: negative counts from the end; out of range is an IndexError.
fn norm_index(i: isize, len: usize, dim: usize) -> PyResult<usize> {
    let j = if i < 0 { i + len as isize } else { i };
    if j < 0 || j >= len as isize {
        return Err(PyIndexError::new_err(format!(
            "index {i} is out of bounds for dimension {dim} with size {len}"
        )));
    }
    Ok(j as usize)
}

/// One part of an index, resolved against the shape.
enum Part {
    /// One position (the dimension goes away).
    At(usize),
    /// `start..stop` by `step` (positive): the positions, or `None` for a plain range.
    Range(usize, usize),
    Picks(Vec<usize>),
    /// `None` in an index: a new dimension of size 1.
    NewAxis,
}

fn index_parts(key: &Bound<'_, PyAny>, shape: &[usize]) -> PyResult<Vec<Part>> {
    let items: Vec<Bound<'_, PyAny>> = match key.cast::<PyTuple>() {
        Ok(t) => t.iter().collect(),
        Err(_) => vec![key.clone()],
    };
    let ellipsis = key.py().Ellipsis();
    let consumes = |k: &Bound<'_, PyAny>| !k.is_none() && !k.is(&ellipsis);
    let used = items.iter().filter(|k| consumes(k)).count();
    if used > shape.len() {
        return Err(PyIndexError::new_err(format!(
            "too many indices for a tensor of {} dimensions: {used} were given",
            shape.len()
        )));
    }
    if items.iter().filter(|k| k.is(&ellipsis)).count() > 1 {
        return Err(PyIndexError::new_err(
            "an index can only have one ellipsis ('...')",
        ));
    }
    let mut parts = Vec::new();
    let mut dim = 0;
    for k in &items {
        if k.is(&ellipsis) {
            for _ in 0..shape.len() - used {
                parts.push(Part::Range(0, shape[dim]));
                dim += 1;
            }
            continue;
        }
        if k.is_none() {
            parts.push(Part::NewAxis);
            continue;
        }
        let len = shape[dim];
        if let Ok(s) = k.cast::<PySlice>() {
            let ind = s.indices(len as isize)?;
            let (start, stop, step) = (ind.start, ind.stop, ind.step);
            if step == 1 {
                let start = start.max(0) as usize;
                let stop = (stop.max(0) as usize).max(start);
                parts.push(Part::Range(start, stop));
            } else {
                let mut picks = Vec::new();
                let mut i = start;
                while (step > 0 && i < stop) || (step < 0 && i > stop) {
                    picks.push(i as usize);
                    i += step;
                }
                parts.push(Part::Picks(picks));
            }
        } else if k.is_instance_of::<PyBool>() {
            return Err(PyIndexError::new_err(
                "boolean indices are not supported: use where() or a list of positions",
            ));
        } else if let Ok(i) = k.extract::<isize>() {
            parts.push(Part::At(norm_index(i, len, dim)?));
        } else if let Ok(list) = k.extract::<Vec<isize>>() {
            let picks = list
                .into_iter()
                .map(|i| norm_index(i, len, dim))
                .collect::<PyResult<Vec<_>>>()?;
            parts.push(Part::Picks(picks));
        } else {
            return Err(PyIndexError::new_err(format!(
                "cannot index a tensor with {}: use ints, slices, None, ... or lists of ints",
                k.get_type().name()?
            )));
        }
        dim += 1;
    }
    Ok(parts)
}

fn index<'t, T: Dtype>(x: Tensor<'t, T>, parts: &[Part]) -> Result<Tensor<'t, T>, TensorError> {
    let mut t = x;
    let mut axis: isize = 0;
    for p in parts {
        match p {
            Part::At(i) => {
                t = t.slice(axis, *i, *i + 1)?.squeeze(axis)?;
            }
            Part::Range(a, b) => {
                if *a != 0 || *b != t.shape()[axis as usize] {
                    t = t.slice(axis, *a, *b)?;
                }
                axis += 1;
            }
            Part::Picks(v) => {
                t = t.index_select(axis, v)?;
                axis += 1;
            }
            Part::NewAxis => {
                t = t.unsqueeze(axis)?;
                axis += 1;
            }
        }
    }
    Ok(t)
}

/// A Python number as the float it is.
fn pyfloat(py: Python<'_>, x: f64) -> Py<PyAny> {
    PyFloat::new(py, x).into_any().unbind()
}

macro_rules! unary_methods {
    ($($(#[doc = $doc:literal])* $name:ident => |$x:ident| $e:expr;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                $(#[doc = $doc])*
                fn $name(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                    let h = self.handle();
                    let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| {
                        let $x = xs[0];
                        Ok($e)
                    }));
                    wrap(py, out.map_err(op_err)?)
                }
            )*
        }
    };
}

unary_methods! {
    /// `e^x`, element-wise.
    exp => |x| x.exp();
    /// The natural logarithm, element-wise.
    log => |x| x.ln();
    /// The square root, element-wise.
    sqrt => |x| x.sqrt();
    /// The sine, element-wise.
    sin => |x| x.sin();
    /// The cosine, element-wise.
    cos => |x| x.cos();
    /// The tangent, element-wise.
    tan => |x| x.tan();
    /// The hyperbolic tangent, element-wise.
    tanh => |x| x.tanh();
    /// The logistic function, element-wise.
    sigmoid => |x| x.sigmoid();
    /// `max(x, 0)`, element-wise (derivative 0 at 0).
    relu => |x| x.relu();
    /// `ln(1 + x)`, element-wise, accurate for small `x`.
    log1p => |x| x.unary(Unary::Log1p);
    /// `e^x − 1`, element-wise, accurate for small `x`.
    expm1 => |x| x.unary(Unary::Expm1);
    /// `ln(1 + e^x)`, element-wise, as `F.softplus` with its defaults (`x` itself above 20).
    softplus => |x| x.softplus();
    /// `ln sigmoid(x)`, element-wise and stable for any `x`, as `F.logsigmoid`.
    log_sigmoid => |x| x.log_sigmoid();
    /// `x · sigmoid(x)`, element-wise, as `F.silu` (the swish).
    silu => |x| x.silu();
    /// The error function, element-wise.
    erf => |x| x.erf();
    /// `|x|`, element-wise (derivative 0 at 0).
    abs => |x| x.abs();
    /// `-x`.
    __neg__ => |x| -x;
    /// The square, element-wise.
    square => |x| x.powf(2.0);
    /// `1/x`, element-wise.
    reciprocal => |x| 1.0 / x;
    /// `1/√x`, element-wise.
    rsqrt => |x| 1.0 / x.sqrt();
    /// A copy that records an identity (gradients flow through it).
    clone => |x| x.mul_scalar(1.0);
    /// The sign: -1, 0 or 1, element-wise (derivative 0).
    sign => |x| x.unary(Unary::Sign);
    /// All elements summed into one.
    _sum_all => |x| x.sum_all();
}

#[pymethods]
impl PyTensor {
    /// The Gaussian error linear unit, element-wise: exact by default, or by its tanh form with
    /// `approximate="tanh"`, as `F.gelu`.
    #[pyo3(signature = (approximate = "none"))]
    fn gelu(&self, py: Python<'_>, approximate: &str) -> PyResult<Py<PyAny>> {
        self.unary_op(py, activations::gelu(approximate)?)
    }

    /// `x` where `x > 0`, `alpha·(e^x − 1)` elsewhere, as `F.elu`; its derivative at 0 is
    /// `alpha`.
    #[pyo3(signature = (alpha = 1.0))]
    fn elu(&self, py: Python<'_>, alpha: f64) -> PyResult<Py<PyAny>> {
        self.unary_op(py, activations::elu(alpha)?)
    }

    /// `x` where `x > 0`, `negative_slope · x` elsewhere, as `F.leaky_relu`; its derivative at
    /// 0 is `negative_slope`.
    #[pyo3(signature = (negative_slope = 0.01))]
    fn leaky_relu(&self, py: Python<'_>, negative_slope: f64) -> PyResult<Py<PyAny>> {
        self.unary_op(py, activations::leaky_relu(negative_slope)?)
    }
}

impl PyTensor {
    /// The library's element-wise operation `op` of this tensor.
    fn unary_op(&self, py: Python<'_>, op: Unary) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| Ok(xs[0].unary(op))));
        wrap(py, out.map_err(op_err)?)
    }

    /// `self op other` (or `other op self` when `reflected`).
    fn arith(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: Binary,
        reflected: bool,
    ) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => {
            match other_of::<T>(other)? {
                None => return Ok(py.NotImplemented()),
                Some(Other::Scalar(c)) => apply1::<T>(&[h], |xs| {
                    let x = xs[0];
                    Ok(match (op, reflected) {
                        (Binary::Add, _) => x + c,
                        (Binary::Mul, _) => x * c,
                        (Binary::Sub, false) => x - c,
                        (Binary::Sub, true) => c - x,
                        (Binary::Div, false) => x / c,
                        (Binary::Div, true) => c / x,
                        (Binary::Pow, false) => x.powf(c),
                        (Binary::Pow, true) => x.tape().scalar(T::from_f64(c)).pow(x)?,
                        (op, false) => x.binary(op, x.tape().scalar(T::from_f64(c)))?,
                        (op, true) => x.tape().scalar(T::from_f64(c)).binary(op, x)?,
                    })
                }),
                Some(Other::Tensor(o)) => {
                    let (a, b) = if reflected { (&o, h) } else { (h, &o) };
                    apply1::<T>(&[a, b], |xs| xs[0].binary(op, xs[1]))
                }
            }
        });
        wrap(py, out.map_err(op_err)?)
    }

    fn compare(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        ufunc: &str,
    ) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        with_dtype!(h, T => {
            let b = match other_of::<T>(other)? {
                None => return Ok(py.NotImplemented()),
                Some(Other::Scalar(c)) => float(py, c).into_bound(py),
                Some(Other::Tensor(o)) => to_numpy::<T>(py, &h_value::<T>(&o)?)?.into_any(),
            };
            let a = self.numpy(py)?;
            let r = py.import("numpy")?.call_method1(ufunc, (a, b))?;
            wrap(py, Handle::owned(array_from_py::<T>(&r)?, false))
        })
    }
}

fn shape_err(e: TensorError) -> PyErr {
    shape(e)
}

/// A handle's value.
pub fn h_value<T: Dtype>(h: &Handle) -> PyResult<Array<T>> {
    let s = h.state.borrow();
    match T::get(&s) {
        Some(st) => Ok(st.value()),
        None => Err(PyTypeError::new_err(format!(
            "expected a {} tensor: convert with .float() or .double()",
            T::NUMPY
        ))),
    }
}

#[pymethods]
impl PyTensor {
    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Add, false)
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Add, true)
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Sub, false)
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Sub, true)
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Mul, false)
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Mul, true)
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Div, false)
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Div, true)
    }
    fn __pow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Pow, false)
    }
    fn __rpow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.arith(py, o, Binary::Pow, true)
    }

    /// The element-wise maximum of two tensors (at a tie each gets half the gradient).
    fn maximum(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, other, Binary::Max, false)
    }

    /// The element-wise minimum of two tensors (at a tie each gets half the gradient).
    fn minimum(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, other, Binary::Min, false)
    }

    /// `self` raised to `exponent` (a number or a tensor).
    fn pow(&self, py: Python<'_>, exponent: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.arith(py, exponent, Binary::Pow, false)
    }

    fn __lt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(py, o, "less")
    }
    fn __le__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(py, o, "less_equal")
    }
    fn __gt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(py, o, "greater")
    }
    fn __ge__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(py, o, "greater_equal")
    }
    fn __eq__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(py, o, "equal")
    }
    fn __ne__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.compare(py, o, "not_equal")
    }
    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }

    /// The matrix product, as `torch.matmul` (batched and broadcast for more dimensions).
    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => {
            let o = handle_of::<T>(o)?;
            apply1::<T>(&[h, &o], |xs| xs[0].matmul(xs[1]))
        });
        wrap(py, out.map_err(op_err)?)
    }

    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => {
            let o = handle_of::<T>(o)?;
            apply1::<T>(&[&o, h], |xs| xs[0].matmul(xs[1]))
        });
        wrap(py, out.map_err(op_err)?)
    }

    /// The matrix product (the same as `@`).
    fn matmul(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.__matmul__(py, other)
    }

    /// The shape, as a tuple.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.dims())
    }

    /// The size of dimension `dim`, or the shape when no dimension is given (PyTorch's
    /// `size()`).
    #[pyo3(signature = (dim = None))]
    fn size(&self, py: Python<'_>, dim: Option<isize>) -> PyResult<Py<PyAny>> {
        let s = self.dims();
        match dim {
            None => Ok(PyTuple::new(py, s)?.into_any().unbind()),
            Some(d) => {
                let i = norm_index(d, s.len(), 0).map_err(|_| {
                    PyIndexError::new_err(format!(
                        "dimension {d} is out of range for a tensor of {} dimensions",
                        s.len()
                    ))
                })?;
                Ok(s[i].into_pyobject(py)?.into_any().unbind())
            }
        }
    }

    /// The number of dimensions.
    #[getter]
    fn ndim(&self) -> usize {
        self.dims().len()
    }

    /// The number of dimensions (PyTorch's name).
    fn dim(&self) -> usize {
        self.dims().len()
    }

    /// The number of elements.
    fn numel(&self) -> usize {
        self.dims().iter().product()
    }

    /// The element type, as a NumPy dtype (`float32` or `float64`).
    #[getter]
    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let name = if is_f64(self.handle()) {
            "float64"
        } else {
            "float32"
        };
        py.import("numpy")?.getattr(name)
    }

    fn __len__(&self) -> PyResult<usize> {
        self.dims()
            .first()
            .copied()
            .ok_or_else(|| PyTypeError::new_err("len() of a 0-d tensor"))
    }

    /// The value as a read-only NumPy array that shares the tensor's data (no copy).
    pub fn numpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = self.handle();
        with_dtype!(h, T => Ok(to_numpy::<T>(py, &h_value::<T>(h)?)?.into_any()))
    }

    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(
        &self,
        py: Python<'py>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = self.numpy(py)?;
        if dtype.is_some() || copy == Some(true) {
            let np = py.import("numpy")?;
            return np.call_method1("array", (a, dtype));
        }
        Ok(a)
    }

    /// The only element, as a Python float.
    fn item(&self) -> PyResult<f64> {
        let h = self.handle();
        with_dtype!(h, T => {
            let v = h_value::<T>(h)?;
            if v.numel() != 1 {
                return Err(invalid(format!(
                    "item(): the tensor has {} elements, not one (shape {:?})",
                    v.numel(),
                    v.shape()
                )));
            }
            Ok(v.item().value())
        })
    }

    fn __float__(&self) -> PyResult<f64> {
        self.item()
    }

    /// The value as nested Python lists (a float for a 0-d tensor).
    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.numpy(py)?.call_method0("tolist")
    }

    /// Whether gradients are recorded for operations on this tensor.
    #[getter]
    fn requires_grad(&self) -> bool {
        let h = self.handle();
        with_dtype!(h, T => T::get(&h.state.borrow()).is_some_and(|s| s.requires_grad()))
    }

    #[setter]
    fn set_requires_grad(&self, on: bool) -> PyResult<()> {
        let h = self.handle();
        with_dtype!(h, T => {
            let mut s = h.state.borrow_mut();
            match T::get_mut(&mut s) {
                Some(St::Owned(o)) if !o.freed => {
                    o.requires_grad = on;
                    o.forget_recording();
                    Ok(())
                }
                _ => Err(PyRuntimeError::new_err(
                    "requires_grad can only be changed on leaf tensors (made from data): use \
                     detach() on a computed one",
                )),
            }
        })
    }

    /// Sets `requires_grad` in place and returns the tensor (PyTorch's `requires_grad_()`).
    #[pyo3(signature = (requires_grad = true))]
    fn requires_grad_<'py>(
        slf: Bound<'py, Self>,
        requires_grad: bool,
    ) -> PyResult<Bound<'py, Self>> {
        slf.get().set_requires_grad(requires_grad)?;
        Ok(slf)
    }

    /// Whether the tensor was made from data rather than by an operation that recorded it.
    #[getter]
    fn is_leaf(&self) -> bool {
        let h = self.handle();
        with_dtype!(h, T => matches!(T::get(&h.state.borrow()), Some(St::Owned(_))))
    }

    /// The gradient accumulated by `backward()`, as a read-only NumPy array (`None` before
    /// any, and for tensors computed by operations). Set it to `None` to forget it.
    #[getter]
    fn grad<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let h = self.handle();
        with_dtype!(h, T => {
            let s = h.state.borrow();
            match T::get(&s) {
                Some(St::Owned(o)) => match &o.grad {
                    Some(g) => Ok(Some(to_numpy::<T>(py, g)?.into_any())),
                    None => Ok(None),
                },
                _ => Ok(None),
            }
        })
    }

    #[setter]
    fn set_grad(&self, g: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let h = self.handle();
        with_dtype!(h, T => {
            let new = match g {
                None => None,
                Some(g) if g.is_none() => None,
                Some(g) => Some(array_from_py::<T>(g)?),
            };
            let mut s = h.state.borrow_mut();
            match T::get_mut(&mut s) {
                Some(St::Owned(o)) => {
                    if let Some(n) = &new {
                        if n.shape() != o.value.shape() {
                            return Err(invalid(format!(
                                "a gradient of shape {:?} for a tensor of shape {:?}",
                                n.shape(),
                                o.value.shape()
                            )));
                        }
                    }
                    if let Some(old) = std::mem::replace(&mut o.grad, new) {
                        state::recycle::<T>(old);
                    }
                    Ok(())
                }
                _ => Err(PyRuntimeError::new_err("only leaf tensors hold a .grad")),
            }
        })
    }

    /// The value as a new leaf tensor that shares the data (PyTorch's `.data`); setting it
    /// replaces the value of a leaf in place.
    #[getter]
    fn data(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.detach(py)
    }

    #[setter]
    fn set_data(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let h = self.handle();
        with_dtype!(h, T => {
            let v = match value.cast::<PyTensor>() {
                Ok(t) => h_value::<T>(t.get().handle())?,
                Err(_) => array_from_py::<T>(value)?,
            };
            let mut s = h.state.borrow_mut();
            match T::get_mut(&mut s) {
                Some(St::Owned(o)) => {
                    if v.shape() != o.value.shape() {
                        return Err(invalid(format!(
                            "cannot set data of shape {:?} into a tensor of shape {:?}",
                            v.shape(),
                            o.value.shape()
                        )));
                    }
                    o.value = v;
                    o.forget_recording();
                    Ok(())
                }
                _ => Err(PyRuntimeError::new_err(
                    "only the data of leaf tensors can be replaced",
                )),
            }
        })
    }

    /// The same value as a new tensor with no history (gradients stop there); the data is
    /// shared, not copied.
    fn detach(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => Handle::owned(h_value::<T>(h)?, false));
        wrap(py, out)
    }

    /// Back-propagates from this one-element tensor (or with `gradient` as its adjoint, of its
    /// shape), adding into `.grad` of every tensor made with `requires_grad=True` it depends
    /// on. The graph is freed afterwards unless `retain_graph`.
    #[pyo3(signature = (gradient = None, retain_graph = false))]
    fn backward(&self, gradient: Option<&Bound<'_, PyAny>>, retain_graph: bool) -> PyResult<()> {
        let h = self.handle();
        with_dtype!(h, T => {
            let seed = match gradient {
                Some(g) if !g.is_none() => Some(match g.cast::<PyTensor>() {
                    Ok(t) => h_value::<T>(t.get().handle())?,
                    Err(_) => array_from_py::<T>(g)?,
                }),
                _ => None,
            };
            state::backward::<T>(h, seed, retain_graph).map_err(backward_err)
        })
    }

    /// The chain rule on this tensor's recorded graph, in matrix form with the shapes: each
    /// operation, then each gradient as the operations' vector-Jacobian products write it.
    fn explain(&self) -> PyResult<String> {
        let h = self.handle();
        with_dtype!(h, T => {
            let s = h.state.borrow();
            match T::get(&s) {
                Some(St::Recorded { tape, id }) => {
                    Ok(TapeTrace::new(&tape.tape, tape.tensor(*id)).to_string())
                }
                _ => Err(invalid(
                    "explain(): this tensor has no recorded graph (it was made from data, under \
                     no_grad(), or its graph was freed by backward())",
                )),
            }
        })
    }

    /// Converts to `float32` (a new tensor with no history when the type changes).
    fn float(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        to_dtype(slf, false)
    }

    /// Converts to `float64` (a new tensor with no history when the type changes).
    fn double(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        to_dtype(slf, true)
    }

    /// Converts to `dtype` (`"float32"`, `"float64"`, or the NumPy types).
    fn to(slf: &Bound<'_, Self>, dtype: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let name: String = slf
            .py()
            .import("numpy")?
            .call_method1("dtype", (dtype,))?
            .getattr("name")?
            .extract()?;
        match name.as_str() {
            "float32" => to_dtype(slf, false),
            "float64" => to_dtype(slf, true),
            other => Err(PyTypeError::new_err(format!(
                "tensors hold float32 or float64, not {other}"
            ))),
        }
    }

    /// Elements picked by an index: ints (negative count from the end), slices (with steps,
    /// negative too), `None` (a new dimension), `...`, and lists of positions. Gradients flow
    /// back to the picked elements.
    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let parts = index_parts(key, &self.dims())?;
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| index(xs[0], &parts)));
        wrap(py, out.map_err(op_err)?)
    }

    /// Writes `value` (a number, an array or a tensor, broadcast) into the elements `key`
    /// picks, as NumPy's `a[key] = value`. Only tensors made from data can be written, and only
    /// outside recording when they require a gradient (`with no_grad(): p[0] = 0`).
    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = key.py();
        let h = self.handle();
        with_dtype!(h, T => {
            let mut s = h.state.borrow_mut();
            let Some(St::Owned(o)) = T::get_mut(&mut s) else {
                return Err(PyRuntimeError::new_err(
                    "only tensors made from data can be written in place: this one was computed \
                     by recorded operations (detach() it, or build the result with where())",
                ));
            };
            if o.requires_grad && state::grad_enabled() {
                return Err(PyRuntimeError::new_err(
                    "a leaf tensor that requires grad can only be written under no_grad()",
                ));
            }
            let np = py.import("numpy")?;
            let a = np.call_method1("array", (to_numpy::<T>(py, &o.value)?,))?;
            let v = match value.cast::<PyTensor>() {
                Ok(t) => {
                    let vh = t.get().handle();
                    if Rc::ptr_eq(vh, h) {
                        a.clone()
                    } else {
                        drop(s);
                        let n = t.get().numpy(py)?;
                        s = h.state.borrow_mut();
                        n
                    }
                }
                Err(_) => value.clone(),
            };
            a.set_item(key, v)?;
            let new = array_from_py::<T>(&a)?;
            if let Some(St::Owned(o)) = T::get_mut(&mut s) {
                o.value = new;
                o.forget_recording();
            }
            Ok(())
        })
    }

    /// The tensor broadcast to the shape of `other`.
    fn expand_as(&self, py: Python<'_>, other: &Bound<'_, PyTensor>) -> PyResult<Py<PyAny>> {
        let shape: Vec<isize> = other.get().dims().iter().map(|&d| d as isize).collect();
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].expand(&shape)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The sum over `dim` (an int or a tuple; all elements when `None`), keeping the reduced
    /// dimensions with size 1 when `keepdim`. NumPy's `axis` and `keepdims` work too.
    #[pyo3(signature = (dim = None, keepdim = false, *, axis = None, keepdims = None))]
    fn sum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        self.reduce(py, Reduction::Sum, dim, axis, keepdims.unwrap_or(keepdim))
    }

    /// The mean over `dim` (all elements when `None`); as `sum`.
    #[pyo3(signature = (dim = None, keepdim = false, *, axis = None, keepdims = None))]
    fn mean(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        self.reduce(py, Reduction::Mean, dim, axis, keepdims.unwrap_or(keepdim))
    }

    /// The maximum over `dim` (of all elements when `None`); as NumPy's `amax` (values only;
    /// at a tie the gradient is shared).
    #[pyo3(signature = (dim = None, keepdim = false, *, axis = None, keepdims = None))]
    fn amax(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        self.reduce(py, Reduction::Max, dim, axis, keepdims.unwrap_or(keepdim))
    }

    /// The minimum over `dim`; as `amax`.
    #[pyo3(signature = (dim = None, keepdim = false, *, axis = None, keepdims = None))]
    fn amin(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        self.reduce(py, Reduction::Min, dim, axis, keepdims.unwrap_or(keepdim))
    }

    /// The variance over `dim` (all elements when `None`), with Bessel's correction
    /// (`correction=1`, PyTorch's default; `unbiased=False` or `correction=0` for the biased
    /// one).
    #[pyo3(signature = (dim = None, unbiased = None, keepdim = false, *, correction = None, axis = None, keepdims = None))]
    #[allow(clippy::too_many_arguments)]
    fn var(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<f64>,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        let correction = correction.unwrap_or(if unbiased == Some(false) { 0.0 } else { 1.0 });
        self.variance(
            py,
            dim,
            axis,
            keepdims.unwrap_or(keepdim),
            correction,
            false,
        )
    }

    /// The standard deviation over `dim`; as `var`.
    #[pyo3(signature = (dim = None, unbiased = None, keepdim = false, *, correction = None, axis = None, keepdims = None))]
    #[allow(clippy::too_many_arguments)]
    fn std(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<f64>,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        let correction = correction.unwrap_or(if unbiased == Some(false) { 0.0 } else { 1.0 });
        self.variance(py, dim, axis, keepdims.unwrap_or(keepdim), correction, true)
    }

    /// The largest element (a 0-d tensor), or with `dim` the pair `(values, indices)` along it
    /// (indices a NumPy array of int64), as `torch.max`; with another tensor, the element-wise
    /// maximum.
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn max(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        self.extreme(py, dim, keepdim, true)
    }

    /// The smallest element, or `(values, indices)` along `dim`, as `torch.min`; with another
    /// tensor, the element-wise minimum.
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn min(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        self.extreme(py, dim, keepdim, false)
    }

    /// The position of the largest element along `dim` (of the flattened tensor when `None`),
    /// as a NumPy array of int64 (no gradient).
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn argmax<'py>(
        &self,
        py: Python<'py>,
        dim: Option<isize>,
        keepdim: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.arg(py, dim, keepdim, "argmax")
    }

    /// The position of the smallest element along `dim`; as `argmax`.
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn argmin<'py>(
        &self,
        py: Python<'py>,
        dim: Option<isize>,
        keepdim: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.arg(py, dim, keepdim, "argmin")
    }

    /// Softmax along `dim`.
    #[pyo3(signature = (dim = -1))]
    fn softmax(&self, py: Python<'_>, dim: isize) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].softmax(dim)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The logarithm of the softmax along `dim`, computed stably.
    #[pyo3(signature = (dim = -1))]
    fn log_softmax(&self, py: Python<'_>, dim: isize) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].log_softmax(dim)));
        wrap(py, out.map_err(op_err)?)
    }

    /// Each element limited to `[min, max]` (either may be `None`).
    #[pyo3(signature = (min = None, max = None))]
    fn clamp(&self, py: Python<'_>, min: Option<f64>, max: Option<f64>) -> PyResult<Py<PyAny>> {
        let (lo, hi) = (
            min.unwrap_or(f64::NEG_INFINITY),
            max.unwrap_or(f64::INFINITY),
        );
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| Ok(xs[0].clamp(lo, hi))));
        wrap(py, out.map_err(op_err)?)
    }

    /// The same data with another shape (`reshape(2, 3)` or `reshape((2, 3))`; one size may be
    /// -1).
    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let dims = shape_args(shape)?;
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].reshape(&dims)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The same as `reshape` (data is never copied by either).
    #[pyo3(signature = (*shape))]
    fn view(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        self.reshape(py, shape)
    }

    /// Dimensions `start_dim..=end_dim` merged into one.
    #[pyo3(signature = (start_dim = 0, end_dim = -1))]
    fn flatten(&self, py: Python<'_>, start_dim: isize, end_dim: isize) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].flatten(start_dim, end_dim)));
        wrap(py, out.map_err(op_err)?)
    }

    /// Dimension `dim` split into `sizes`.
    fn unflatten(&self, py: Python<'_>, dim: isize, sizes: Vec<isize>) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].unflatten(dim, &sizes)));
        wrap(py, out.map_err(op_err)?)
    }

    /// Dimension `dim` (of size 1) removed; every dimension of size 1 when `dim` is `None`.
    #[pyo3(signature = (dim = None))]
    fn squeeze(&self, py: Python<'_>, dim: Option<isize>) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let s = self.dims();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| match dim {
            Some(d) => xs[0].squeeze(d),
            None => {
                let kept: Vec<usize> = s.iter().copied().filter(|&n| n != 1).collect();
                xs[0].reshape(&kept)
            }
        }));
        wrap(py, out.map_err(op_err)?)
    }

    /// A dimension of size 1 inserted at `dim`.
    fn unsqueeze(&self, py: Python<'_>, dim: isize) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].unsqueeze(dim)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The dimensions reordered (`permute(2, 0, 1)` or `permute((2, 0, 1))`).
    #[pyo3(signature = (*dims))]
    fn permute(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let perm = shape_args(dims)?;
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].permute(&perm)));
        wrap(py, out.map_err(op_err)?)
    }

    /// Dimensions `dim0` and `dim1` swapped.
    fn transpose(&self, py: Python<'_>, dim0: isize, dim1: isize) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].transpose(dim0, dim1)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The transpose: the dimensions reversed (a matrix's rows and columns swapped).
    #[getter(T)]
    fn t_all(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let n = self.dims().len() as isize;
        let perm: Vec<isize> = (0..n).rev().collect();
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].permute(&perm)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The last two dimensions swapped (a batch of matrices transposed).
    #[getter(mT)]
    fn m_t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.transpose(py, -2, -1)
    }

    /// The tensor broadcast to a larger shape (-1 keeps a size).
    #[pyo3(signature = (*sizes))]
    fn expand(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let dims = shape_args(sizes)?;
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].expand(&dims)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The tensor broadcast to `shape`, as NumPy's `broadcast_to`.
    fn broadcast_to(&self, py: Python<'_>, shape: Vec<isize>) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].broadcast_to(&shape)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The tensor tiled `repeats` times along each dimension, as `torch.Tensor.repeat`.
    #[pyo3(signature = (*repeats))]
    fn repeat(&self, py: Python<'_>, repeats: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let dims = shape_args(repeats)?;
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].repeat(&dims)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The order of the elements along each of `dims` reversed.
    fn flip(&self, py: Python<'_>, dims: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let dims = dims_of(dims)?;
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].flip(&dims)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The lower triangle (elements on and below diagonal `diagonal`), zeros elsewhere.
    #[pyo3(signature = (diagonal = 0))]
    fn tril(&self, py: Python<'_>, diagonal: isize) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].tril(diagonal)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The upper triangle, zeros elsewhere.
    #[pyo3(signature = (diagonal = 0))]
    fn triu(&self, py: Python<'_>, diagonal: isize) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].triu(diagonal)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The pieces of `split_size_or_sections` along `dim`, as `torch.split`.
    #[pyo3(signature = (split_size_or_sections, dim = 0))]
    fn split(
        &self,
        py: Python<'_>,
        split_size_or_sections: &Bound<'_, PyAny>,
        dim: isize,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let h = self.handle();
        let outs = if let Ok(n) = split_size_or_sections.extract::<usize>() {
            with_dtype!(h, T => apply::<T>(&[h], |xs| xs[0].split(n, dim)))
        } else {
            let sizes: Vec<usize> = split_size_or_sections.extract()?;
            with_dtype!(h, T => apply::<T>(&[h], |xs| xs[0].split(&sizes, dim)))
        };
        outs.map_err(op_err)?
            .into_iter()
            .map(|o| wrap(py, o))
            .collect()
    }

    /// `chunks` pieces of (nearly) equal size along `dim`, as `torch.chunk`.
    #[pyo3(signature = (chunks, dim = 0))]
    fn chunk(&self, py: Python<'_>, chunks: usize, dim: isize) -> PyResult<Vec<Py<PyAny>>> {
        let h = self.handle();
        let outs = with_dtype!(h, T => apply::<T>(&[h], |xs| xs[0].chunk(chunks, dim)));
        outs.map_err(op_err)?
            .into_iter()
            .map(|o| wrap(py, o))
            .collect()
    }

    /// Elements picked along `dim` by `index` (ints of the tensor's number of dimensions), as
    /// `torch.gather`.
    fn gather(&self, py: Python<'_>, dim: isize, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let idx = indices_of(index)?;
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].gather(dim, &idx)));
        wrap(py, out.map_err(op_err)?)
    }

    /// The slices along `dim` at the positions `index` (a list of ints), as
    /// `torch.index_select`.
    fn index_select(
        &self,
        py: Python<'_>,
        dim: isize,
        index: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let idx = indices_of(index)?;
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| xs[0].index_select(dim, &idx)));
        wrap(py, out.map_err(op_err)?)
    }

    /// A copy with `src`'s elements written at the places `index` names along `dim`, as
    /// `torch.Tensor.scatter`.
    fn scatter(
        &self,
        py: Python<'_>,
        dim: isize,
        index: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.scatter_with(py, dim, index, src, false)
    }

    /// A copy with `src`'s elements added at the places `index` names along `dim`, as
    /// `torch.Tensor.scatter_add`.
    fn scatter_add(
        &self,
        py: Python<'_>,
        dim: isize,
        index: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.scatter_with(py, dim, index, src, true)
    }

    /// The `k` largest (or smallest) elements along `dim` and their positions (a NumPy array
    /// of int64), as `torch.topk`.
    #[pyo3(signature = (k, dim = -1, largest = true, sorted = true))]
    fn topk<'py>(
        &self,
        py: Python<'py>,
        k: usize,
        dim: isize,
        largest: bool,
        sorted: bool,
    ) -> PyResult<(Py<PyAny>, Bound<'py, PyAny>)> {
        let h = self.handle();
        let mut picked: Option<Array<usize>> = None;
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| {
            let (v, i) = xs[0].topk(k, dim, largest, sorted)?;
            picked = Some(i);
            Ok(v)
        }));
        let values = wrap(py, out.map_err(op_err)?)?;
        Ok((values, usize_array(py, &picked.expect("topk ran"))?))
    }

    /// `x · weightᵀ + bias`, fused (as `torch.nn.functional.linear`).
    #[pyo3(signature = (weight, bias = None))]
    fn linear(
        &self,
        py: Python<'_>,
        weight: &Bound<'_, PyAny>,
        bias: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let h = self.handle();
        let out = with_dtype!(h, T => {
            let w = handle_of::<T>(weight)?;
            match bias {
                Some(b) if !b.is_none() => {
                    let b = handle_of::<T>(b)?;
                    apply1::<T>(&[h, &w, &b], |xs| {
                        let s = xs[0].shape();
                        if s.len() <= 2 {
                            return xs[0].linear(xs[1], xs[2]);
                        }
                        // Leading dimensions are batch dimensions, as in PyTorch.
                        let rows = xs[0].reshape(&[-1, s[s.len() - 1] as isize])?;
                        let y = rows.linear(xs[1], xs[2])?;
                        let mut out: Vec<isize> = s[..s.len() - 1].iter().map(|&d| d as isize).collect();
                        out.push(-1);
                        y.reshape(&out)
                    })
                }
                _ => apply1::<T>(&[h, &w], |xs| xs[0].matmul(xs[1].transpose(-2, -1)?)),
            }
        });
        wrap(py, out.map_err(op_err)?)
    }

    fn __repr__(&self) -> PyResult<String> {
        let h = self.handle();
        with_dtype!(h, T => {
            let s = h.state.borrow();
            let st = T::get(&s).expect("the dtype was checked");
            let text = st.value().to_string();
            let mut extra = String::new();
            if T::NUMPY == "float64" {
                extra.push_str(", dtype=float64");
            }
            if st.requires_grad() {
                extra.push_str(", requires_grad=True");
            }
            if extra.is_empty() {
                return Ok(text);
            }
            // Before the closing parenthesis of `tensor(...)`.
            let base = text.strip_suffix(')').unwrap_or(&text);
            let base = base.trim_end_matches(", dtype=f64").trim_end_matches(", dtype=torch.float64");
            Ok(format!("{base}{extra})"))
        })
    }
}

/// Which reduction.
#[derive(Clone, Copy)]
enum Reduction {
    Sum,
    Mean,
    Max,
    Min,
}

impl PyTensor {
    /// The shape.
    pub fn dims(&self) -> Vec<usize> {
        let h = self.handle();
        with_dtype!(h, T => T::get(&h.state.borrow()).map(|s| s.shape()).unwrap_or_default())
    }

    fn reduce(
        &self,
        py: Python<'_>,
        kind: Reduction,
        dim: Option<&Bound<'_, PyAny>>,
        axis: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        let axes = reduce_axes(dim, axis)?;
        let ndim = self.dims().len();
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| {
            let x = xs[0];
            match &axes {
                None if !keepdim => match kind {
                    Reduction::Sum => Ok(x.sum_all()),
                    Reduction::Mean => Ok(x.mean_all()),
                    Reduction::Max => x.max_all(),
                    Reduction::Min => x.min_all(),
                },
                _ => {
                    let all: Vec<isize> = (0..ndim as isize).collect();
                    let a = axes.as_deref().unwrap_or(&all);
                    match kind {
                        Reduction::Sum => x.sum(a, keepdim),
                        Reduction::Mean => x.mean(a, keepdim),
                        Reduction::Max => x.max(a, keepdim),
                        Reduction::Min => x.min(a, keepdim),
                    }
                }
            }
        }));
        wrap(py, out.map_err(op_err)?)
    }

    fn variance(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        axis: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        correction: f64,
        sqrt: bool,
    ) -> PyResult<Py<PyAny>> {
        let dims = self.dims();
        let axes: Vec<isize> =
            reduce_axes(dim, axis)?.unwrap_or_else(|| (0..dims.len() as isize).collect());
        let mut n = 1usize;
        for &a in &axes {
            let i = norm_index(a, dims.len(), 0).map_err(|_| {
                shape(TensorError::new(
                    "var",
                    format!("dimension {a} is out of range for shape {dims:?}"),
                ))
            })?;
            n *= dims[i];
        }
        let denom = (n as f64 - correction).max(0.0);
        let h = self.handle();
        let out = with_dtype!(h, T => apply1::<T>(&[h], |xs| {
            let x = xs[0];
            let m = x.mean(&axes, true)?;
            let d = x.sub(m)?;
            let mut v = d.mul(d)?.sum(&axes, keepdim)? / denom;
            if sqrt {
                v = v.sqrt();
            }
            Ok(v)
        }));
        wrap(py, out.map_err(op_err)?)
    }

    fn arg<'py>(
        &self,
        py: Python<'py>,
        dim: Option<isize>,
        keepdim: bool,
        which: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let np = self.numpy(py)?;
        match dim {
            None => np.call_method0(which),
            Some(d) => {
                let kw = pyo3::types::PyDict::new(py);
                kw.set_item("axis", d)?;
                kw.set_item("keepdims", keepdim)?;
                np.call_method(which, (), Some(&kw))
            }
        }
    }

    fn extreme(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        largest: bool,
    ) -> PyResult<Py<PyAny>> {
        let kind = if largest {
            Reduction::Max
        } else {
            Reduction::Min
        };
        match dim {
            None => self.reduce(py, kind, None, None, false),
            Some(d) if d.is_none() => self.reduce(py, kind, None, None, false),
            Some(d) if d.cast::<PyTensor>().is_ok() || d.hasattr("__array__").unwrap_or(false) => {
                let op = if largest { Binary::Max } else { Binary::Min };
                self.arith(py, d, op, false)
            }
            Some(d) => {
                let axis: isize = d.extract()?;
                let values = self.reduce(py, kind, Some(d), None, keepdim)?;
                let indices = self.arg(
                    py,
                    Some(axis),
                    keepdim,
                    if largest { "argmax" } else { "argmin" },
                )?;
                Ok(PyTuple::new(py, [values.into_bound(py), indices])?
                    .into_any()
                    .unbind())
            }
        }
    }

    fn scatter_with(
        &self,
        py: Python<'_>,
        dim: isize,
        index: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
        add: bool,
    ) -> PyResult<Py<PyAny>> {
        let idx = indices_of(index)?;
        let h = self.handle();
        let out = with_dtype!(h, T => {
            let s = handle_of::<T>(src)?;
            apply1::<T>(&[h, &s], |xs| if add {
                xs[0].scatter_add(dim, &idx, xs[1])
            } else {
                xs[0].scatter(dim, &idx, xs[1])
            })
        });
        wrap(py, out.map_err(op_err)?)
    }
}

fn to_dtype(slf: &Bound<'_, PyTensor>, f64_wanted: bool) -> PyResult<Py<PyAny>> {
    let h = slf.get().handle();
    if is_f64(h) == f64_wanted {
        return Ok(slf.clone().into_any().unbind());
    }
    let py = slf.py();
    let out = if f64_wanted {
        let v = h_value::<f32>(h)?;
        Handle::owned(v.to_f64(), false)
    } else {
        let v = h_value::<f64>(h)?;
        let data: Vec<f32> = v.data().iter().map(|&x| x as f32).collect();
        Handle::owned(Array::from_vec(data, v.shape()).map_err(shape)?, false)
    };
    wrap(py, out)
}

/// Indices (a list, a NumPy array of ints, or a tensor holding whole numbers) as an array of
/// positions with its shape.
pub fn indices_of(obj: &Bound<'_, PyAny>) -> PyResult<Array<usize>> {
    let py = obj.py();
    let np = py.import("numpy")?;
    let src = match obj.cast::<PyTensor>() {
        Ok(t) => t.get().numpy(py)?,
        Err(_) => obj.clone(),
    };
    let a = np.call_method1("asarray", (src,))?;
    let kind: String = a.getattr("dtype")?.getattr("kind")?.extract()?;
    if kind == "f" {
        let whole: bool = np
            .call_method1(
                "all",
                (np.call_method1("equal", (&a, np.call_method1("floor", (&a,))?))?,),
            )?
            .extract()?;
        if !whole {
            return Err(PyTypeError::new_err("indices must be whole numbers"));
        }
    } else if kind != "i" && kind != "u" {
        return Err(PyTypeError::new_err(format!(
            "indices must be integers, not an array of dtype {}",
            a.getattr("dtype")?.str()?
        )));
    }
    let neg: bool = np
        .call_method1("any", (a.call_method1("__lt__", (0,))?,))?
        .extract()?;
    if neg {
        return Err(PyIndexError::new_err("indices must not be negative here"));
    }
    // C order without `ascontiguousarray`, which makes 0-d indices an array of shape [1].
    let a = np.call_method1("asarray", (a, "int64", "C"))?;
    let arr = a.cast::<PyArrayDyn<i64>>()?;
    let shape = numpy::PyUntypedArrayMethods::shape(arr).to_vec();
    let ro = numpy::PyArrayMethods::readonly(arr);
    let data: Vec<usize> = ro.as_slice()?.iter().map(|&i| i as usize).collect();
    Array::from_vec(data, &shape).map_err(shape_err)
}

/// Positions as a NumPy array of int64.
pub fn usize_array<'py>(py: Python<'py>, a: &Array<usize>) -> PyResult<Bound<'py, PyAny>> {
    let data: Vec<i64> = a.data().iter().map(|&i| i as i64).collect();
    let flat = numpy::PyArray1::from_vec(py, data);
    flat.call_method1("reshape", (a.shape().to_vec(),))
}

/// `backward()`'s error as the Python exception for it.
fn backward_err(e: BackwardError) -> PyErr {
    match e {
        BackwardError::Tensor(e) => shape(e),
        BackwardError::NoGrad => PyRuntimeError::new_err(
            "element 0 of tensors does not require grad: backward() needs a tensor computed \
             from tensors made with requires_grad=True (outside no_grad())",
        ),
        BackwardError::Freed => PyRuntimeError::new_err(
            "Trying to backward through the graph a second time: an earlier backward() freed \
             it. Specify retain_graph=True on the first backward() to keep it",
        ),
    }
}

/// A Python float.
pub fn float(py: Python<'_>, x: f64) -> Py<PyAny> {
    pyfloat(py, x)
}
