//! The module's tensor functions: making tensors, joining them, and the operations that
//! `chainrule.functional` exposes (convolution, pooling, normalisation, attention...).

use std::cell::RefCell;
use std::rc::Rc;

use chainrule::rand::Rng;
use chainrule::tensor::{Array, BatchNormOptions, Conv2dOptions, Element, Pool2dOptions, Tensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::convert::array_from_py;
use super::py::{handle_of, is_f64, op_err, usize_array, PyTensor};
use super::state::{self, apply, apply1, Dtype, Handle, St};
use crate::errors::invalid;

thread_local! {
    /// The generator behind `rand`, `randn`, dropout masks and `multinomial`.
    static RNG: RefCell<Rng> = RefCell::new(Rng::new(0));
}

/// A seed drawn from the module's generator.
pub fn next_seed() -> u64 {
    RNG.with(|r| r.borrow_mut().next_u64())
}

/// Seeds the generator of `rand`, `randn`, dropout and `multinomial` (as `torch.manual_seed`).
#[pyfunction]
pub fn manual_seed(seed: u64) {
    RNG.with(|r| *r.borrow_mut() = Rng::new(seed));
}

/// Whether `dtype` (a name or a NumPy type; `None` for the default) means float64.
fn wants_f64(py: Python<'_>, dtype: Option<&Bound<'_, PyAny>>, default64: bool) -> PyResult<bool> {
    let Some(d) = dtype.filter(|d| !d.is_none()) else {
        return Ok(default64);
    };
    let name: String = py
        .import("numpy")?
        .call_method1("dtype", (d,))?
        .getattr("name")?
        .extract()?;
    match name.as_str() {
        "float32" => Ok(false),
        "float64" => Ok(true),
        other => Err(PyTypeError::new_err(format!(
            "tensors hold float32 or float64, not {other}"
        ))),
    }
}

fn new_tensor(py: Python<'_>, h: Rc<Handle>) -> PyResult<Py<PyTensor>> {
    Py::new(py, PyTensor::new(h))
}

/// A tensor holding `data` (a NumPy array, nested lists, a number, or another tensor), copied.
///
/// The element type is `dtype` when given (`"float32"`, `"float64"` or the NumPy types);
/// otherwise float64 data stays float64 and anything else (float32, integers, lists) becomes
/// float32, PyTorch's default. With `requires_grad=True`, `backward()` fills its `.grad`.
#[pyfunction]
#[pyo3(signature = (data, dtype = None, requires_grad = false))]
pub fn tensor(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let np = py.import("numpy")?;
    let src = match data.cast::<PyTensor>() {
        Ok(t) => t.get().numpy(py)?,
        Err(_) => data.clone(),
    };
    let is64 = {
        let default64 = match src.getattr("dtype") {
            Ok(d) => d.getattr("name")?.extract::<String>()? == "float64",
            Err(_) => false,
        };
        wants_f64(py, dtype, default64)?
    };
    let _ = np;
    let h = if is64 {
        Handle::owned(array_from_py::<f64>(&src)?, requires_grad)
    } else {
        Handle::owned(array_from_py::<f32>(&src)?, requires_grad)
    };
    new_tensor(py, h)
}

fn filled(
    py: Python<'_>,
    shape: &[usize],
    value: f64,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let h = if wants_f64(py, dtype, false)? {
        Handle::owned(Array::<f64>::full(shape, value), requires_grad)
    } else {
        Handle::owned(Array::<f32>::full(shape, value as f32), requires_grad)
    };
    new_tensor(py, h)
}

fn sizes(args: &Bound<'_, PyTuple>) -> PyResult<Vec<usize>> {
    if args.len() == 1 {
        if let Ok(v) = args.get_item(0)?.extract::<Vec<usize>>() {
            return Ok(v);
        }
    }
    args.extract::<Vec<usize>>()
        .map_err(|_| PyTypeError::new_err("a shape is non-negative ints, or one tuple of them"))
}

/// A tensor of zeros of the shape given (`zeros(2, 3)` or `zeros((2, 3))`).
#[pyfunction]
#[pyo3(signature = (*shape, dtype = None, requires_grad = false))]
pub fn zeros(
    py: Python<'_>,
    shape: &Bound<'_, PyTuple>,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    filled(py, &sizes(shape)?, 0.0, dtype, requires_grad)
}

/// A tensor of ones of the shape given.
#[pyfunction]
#[pyo3(signature = (*shape, dtype = None, requires_grad = false))]
pub fn ones(
    py: Python<'_>,
    shape: &Bound<'_, PyTuple>,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    filled(py, &sizes(shape)?, 1.0, dtype, requires_grad)
}

/// A tensor of `shape` filled with `fill_value`.
#[pyfunction]
#[pyo3(signature = (shape, fill_value, dtype = None, requires_grad = false))]
pub fn full(
    py: Python<'_>,
    shape: Vec<usize>,
    fill_value: f64,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    filled(py, &shape, fill_value, dtype, requires_grad)
}

/// The identity matrix of size `n`.
#[pyfunction]
#[pyo3(signature = (n, dtype = None, requires_grad = false))]
pub fn eye(
    py: Python<'_>,
    n: usize,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let h = if wants_f64(py, dtype, false)? {
        Handle::owned(Array::<f64>::eye(n), requires_grad)
    } else {
        Handle::owned(Array::<f32>::eye(n), requires_grad)
    };
    new_tensor(py, h)
}

/// Numbers from `start` up to (not including) `end` by `step`; `arange(n)` is `0..n`.
#[pyfunction]
#[pyo3(signature = (start, end = None, step = 1.0, dtype = None, requires_grad = false))]
pub fn arange(
    py: Python<'_>,
    start: f64,
    end: Option<f64>,
    step: f64,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let (a, b) = match end {
        Some(e) => (start, e),
        None => (0.0, start),
    };
    if step == 0.0 || !step.is_finite() || !a.is_finite() || !b.is_finite() {
        return Err(invalid(format!(
            "arange: the step must be a finite non-zero number and the bounds finite (got \
             start {a}, end {b}, step {step})"
        )));
    }
    let n = ((b - a) / step).ceil().max(0.0);
    if n > 1e9 {
        return Err(invalid(format!("arange: {n} elements are too many")));
    }
    let h = if wants_f64(py, dtype, false)? {
        Handle::owned(Array::<f64>::arange(a, b, step), requires_grad)
    } else {
        Handle::owned(Array::<f32>::arange(a, b, step), requires_grad)
    };
    new_tensor(py, h)
}

fn random(
    py: Python<'_>,
    shape: &[usize],
    normal: bool,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    let seed = next_seed();
    let h = if wants_f64(py, dtype, false)? {
        let a = if normal {
            Array::<f64>::randn(shape, seed)
        } else {
            Array::<f64>::rand(shape, seed)
        };
        Handle::owned(a, requires_grad)
    } else {
        let a = if normal {
            Array::<f32>::randn(shape, seed)
        } else {
            Array::<f32>::rand(shape, seed)
        };
        Handle::owned(a, requires_grad)
    };
    new_tensor(py, h)
}

/// Numbers drawn uniformly from `[0, 1)` (seeded by `manual_seed`).
#[pyfunction]
#[pyo3(signature = (*shape, dtype = None, requires_grad = false))]
pub fn rand(
    py: Python<'_>,
    shape: &Bound<'_, PyTuple>,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    random(py, &sizes(shape)?, false, dtype, requires_grad)
}

/// Numbers drawn from the standard normal distribution (seeded by `manual_seed`).
#[pyfunction]
#[pyo3(signature = (*shape, dtype = None, requires_grad = false))]
pub fn randn(
    py: Python<'_>,
    shape: &Bound<'_, PyTuple>,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyTensor>> {
    random(py, &sizes(shape)?, true, dtype, requires_grad)
}

/// The tensors as handles of one element type (that of the first tensor among them).
fn handles(items: &[Bound<'_, PyAny>]) -> PyResult<(bool, Vec<Rc<Handle>>)> {
    let first64 = items
        .iter()
        .find_map(|t| t.cast::<PyTensor>().ok().map(|t| is_f64(t.get().handle())))
        .unwrap_or(false);
    let hs = if first64 {
        items
            .iter()
            .map(handle_of::<f64>)
            .collect::<PyResult<Vec<_>>>()?
    } else {
        items
            .iter()
            .map(handle_of::<f32>)
            .collect::<PyResult<Vec<_>>>()?
    };
    Ok((first64, hs))
}

/// Runs `$body` with `$T` the element type chosen by `handles`.
macro_rules! by_type {
    ($is64:expr, $T:ident => $body:expr) => {{
        if $is64 {
            type $T = f64;
            $body
        } else {
            type $T = f32;
            $body
        }
    }};
}

/// The tensors joined along an existing dimension `dim`, as `torch.cat`.
#[pyfunction]
#[pyo3(signature = (tensors, dim = 0))]
pub fn cat(py: Python<'_>, tensors: Vec<Bound<'_, PyAny>>, dim: isize) -> PyResult<Py<PyTensor>> {
    let (is64, hs) = handles(&tensors)?;
    let refs: Vec<&Rc<Handle>> = hs.iter().collect();
    let out = by_type!(is64, T => apply1::<T>(&refs, |xs| Tensor::concat(xs, dim)));
    new_tensor(py, out.map_err(op_err)?)
}

/// The tensors (of one shape) joined along a new dimension `dim`, as `torch.stack`.
#[pyfunction]
#[pyo3(signature = (tensors, dim = 0))]
pub fn stack(py: Python<'_>, tensors: Vec<Bound<'_, PyAny>>, dim: isize) -> PyResult<Py<PyTensor>> {
    let (is64, hs) = handles(&tensors)?;
    let refs: Vec<&Rc<Handle>> = hs.iter().collect();
    let out = by_type!(is64, T => apply1::<T>(&refs, |xs| Tensor::stack(xs, dim)));
    new_tensor(py, out.map_err(op_err)?)
}

/// `input` where `condition` is true (non-zero) and `other` elsewhere, broadcast, as
/// `torch.where`; gradients flow to the chosen elements.
#[pyfunction]
#[pyo3(name = "where")]
pub fn where_(
    py: Python<'_>,
    condition: &Bound<'_, PyAny>,
    input: &Bound<'_, PyAny>,
    other: &Bound<'_, PyAny>,
) -> PyResult<Py<PyTensor>> {
    let np = py.import("numpy")?;
    let c = match condition.cast::<PyTensor>() {
        Ok(t) => t.get().numpy(py)?,
        Err(_) => condition.clone(),
    };
    // As booleans in C order, in one call (`ascontiguousarray` would make a 0-d condition one
    // of shape [1]).
    let c = np.call_method1("asarray", (c, "bool", "C"))?;
    let shape: Vec<usize> = c.getattr("shape")?.extract()?;
    let flat: Vec<bool> = c.call_method0("ravel")?.call_method0("tolist")?.extract()?;
    let cond = Array::from_vec(flat, &shape).map_err(crate::errors::shape)?;
    let (is64, hs) = handles(&[input.clone(), other.clone()])?;
    let out = by_type!(is64, T => apply1::<T>(&[&hs[0], &hs[1]], |xs| Tensor::where_cond(&cond, xs[0], xs[1])));
    new_tensor(py, out.map_err(op_err)?)
}

/// Einstein summation, as `torch.einsum("ij,jk->ik", a, b)`.
#[pyfunction]
#[pyo3(signature = (equation, *operands))]
pub fn einsum(
    py: Python<'_>,
    equation: &str,
    operands: &Bound<'_, PyTuple>,
) -> PyResult<Py<PyTensor>> {
    let items: Vec<Bound<'_, PyAny>> =
        if operands.len() == 1 && operands.get_item(0)?.cast::<PyTensor>().is_err() {
            operands.get_item(0)?.extract()?
        } else {
            operands.iter().collect()
        };
    let (is64, hs) = handles(&items)?;
    let refs: Vec<&Rc<Handle>> = hs.iter().collect();
    let out = by_type!(is64, T => apply1::<T>(&refs, |xs| Tensor::einsum(equation, xs)));
    new_tensor(py, out.map_err(op_err)?)
}

/// A pair of sizes from one int or two.
fn pair(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(usize, usize)> {
    if let Ok(n) = obj.extract::<usize>() {
        return Ok((n, n));
    }
    obj.extract::<(usize, usize)>()
        .map_err(|_| PyTypeError::new_err(format!("{what} is an int or a pair of ints")))
}

/// Two-dimensional convolution, as `torch.nn.functional.conv2d`: `input` `[batch, channels,
/// height, width]` (or without the batch), `weight` `[out, in/groups, kh, kw]`.
#[pyfunction]
#[pyo3(signature = (input, weight, bias = None, stride = None, padding = None, dilation = None, groups = 1))]
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    dilation: Option<&Bound<'_, PyAny>>,
    groups: usize,
) -> PyResult<Py<PyTensor>> {
    let mut o = Conv2dOptions::default().groups(groups);
    if let Some(s) = stride {
        o = o.stride(pair(s, "stride")?);
    }
    if let Some(p) = padding {
        o = o.padding(pair(p, "padding")?);
    }
    if let Some(d) = dilation {
        o = o.dilation(pair(d, "dilation")?);
    }
    let mut items = vec![input.clone(), weight.clone()];
    let has_bias = bias.is_some_and(|b| !b.is_none());
    if let Some(b) = bias.filter(|_| has_bias) {
        items.push(b.clone());
    }
    let (is64, hs) = handles(&items)?;
    let refs: Vec<&Rc<Handle>> = hs.iter().collect();
    let out =
        by_type!(is64, T => apply1::<T>(&refs, |xs| xs[0].conv2d(xs[1], xs.get(2).copied(), o)));
    new_tensor(py, out.map_err(op_err)?)
}

fn pool_options(
    kernel_size: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
) -> PyResult<Pool2dOptions> {
    let mut o = Pool2dOptions::new(pair(kernel_size, "kernel_size")?);
    if let Some(s) = stride.filter(|s| !s.is_none()) {
        o = o.stride(pair(s, "stride")?);
    }
    if let Some(p) = padding {
        o = o.padding(pair(p, "padding")?);
    }
    Ok(o)
}

/// The maximum of each window, as `torch.nn.functional.max_pool2d` (the stride defaults to the
/// window).
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride = None, padding = None))]
pub fn max_pool2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    kernel_size: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyTensor>> {
    let o = pool_options(kernel_size, stride, padding)?;
    let (is64, hs) = handles(std::slice::from_ref(input))?;
    let out = by_type!(is64, T => apply1::<T>(&[&hs[0]], |xs| xs[0].max_pool2d(o)));
    new_tensor(py, out.map_err(op_err)?)
}

/// The average of each window, as `torch.nn.functional.avg_pool2d`.
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride = None, padding = None, count_include_pad = true))]
pub fn avg_pool2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    kernel_size: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    count_include_pad: bool,
) -> PyResult<Py<PyTensor>> {
    let o = pool_options(kernel_size, stride, padding)?;
    let (is64, hs) = handles(std::slice::from_ref(input))?;
    let out = by_type!(is64, T => apply1::<T>(&[&hs[0]], |xs| xs[0].avg_pool2d_with(o, count_include_pad)));
    new_tensor(py, out.map_err(op_err)?)
}

/// The average over windows that divide each plane into `output_size` parts.
#[pyfunction]
pub fn adaptive_avg_pool2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    output_size: &Bound<'_, PyAny>,
) -> PyResult<Py<PyTensor>> {
    let size = pair(output_size, "output_size")?;
    let (is64, hs) = handles(std::slice::from_ref(input))?;
    let out = by_type!(is64, T => apply1::<T>(&[&hs[0]], |xs| xs[0].adaptive_avg_pool2d(size)));
    new_tensor(py, out.map_err(op_err)?)
}

/// Takes the value of a buffer tensor (running statistics, `name`) to update in place.
fn take_buffer<T: Dtype>(t: &Bound<'_, PyAny>, name: &str) -> PyResult<Array<T>> {
    let t = t
        .cast::<PyTensor>()
        .map_err(|_| PyTypeError::new_err(format!("batch_norm: {name} must be a tensor")))?;
    let h = t.get().handle();
    let s = h.state.borrow();
    match T::get(&s) {
        Some(St::Owned(o)) => Ok(o.value.clone()),
        Some(_) => Err(PyTypeError::new_err(format!(
            "batch_norm: {name} must be a leaf tensor (a buffer), not the result of an operation"
        ))),
        None => {
            let (theirs, module, input) = if T::NUMPY == "float64" {
                ("float32", "double", "float")
            } else {
                ("float64", "float", "double")
            };
            Err(PyTypeError::new_err(format!(
                "batch_norm: the input is {} but {name} is {theirs}: convert the module with \
                 .{module}() or the input with .{input}()",
                T::NUMPY
            )))
        }
    }
}

fn put_buffer<T: Dtype>(t: &Bound<'_, PyAny>, v: Array<T>) {
    if let Ok(t) = t.cast::<PyTensor>() {
        let h = t.get().handle();
        let mut s = h.state.borrow_mut();
        if let Some(St::Owned(o)) = T::get_mut(&mut s) {
            o.value = v;
            o.forget_recording();
        }
    }
}

/// Batch normalisation, as `torch.nn.functional.batch_norm`: in training, the batch's
/// statistics normalise and `running_mean`/`running_var` (tensors, updated in place) follow
/// them; otherwise the running statistics normalise.
#[pyfunction]
#[pyo3(signature = (input, running_mean, running_var, weight = None, bias = None, training = false, momentum = 0.1, eps = 1e-5))]
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    running_mean: Option<&Bound<'_, PyAny>>,
    running_var: Option<&Bound<'_, PyAny>>,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> PyResult<Py<PyTensor>> {
    let options = BatchNormOptions {
        training,
        momentum,
        eps,
    };
    let rm = running_mean.filter(|r| !r.is_none());
    let rv = running_var.filter(|r| !r.is_none());
    if rm.is_some() != rv.is_some() {
        return Err(PyValueError::new_err(
            "give both running_mean and running_var, or neither",
        ));
    }
    let has_w = weight.is_some_and(|w| !w.is_none());
    let has_b = bias.is_some_and(|b| !b.is_none());
    let mut items = vec![input.clone()];
    if let Some(w) = weight.filter(|_| has_w) {
        items.push(w.clone());
    }
    if let Some(b) = bias.filter(|_| has_b) {
        items.push(b.clone());
    }
    let (is64, hs) = handles(&items)?;
    let refs: Vec<&Rc<Handle>> = hs.iter().collect();
    let out = by_type!(is64, T => {
        let mut running = match (rm, rv) {
            (Some(m), Some(v)) => Some((
                take_buffer::<T>(m, "running_mean")?,
                take_buffer::<T>(v, "running_var")?,
            )),
            _ => None,
        };
        let r = apply1::<T>(&refs, |xs| {
            let w = if has_w { Some(xs[1]) } else { None };
            let b = if has_b { Some(xs[if has_w { 2 } else { 1 }]) } else { None };
            let run = running.as_mut().map(|(m, v)| (m, v));
            xs[0].batch_norm(run, w, b, options)
        });
        if let (Some((m, v)), Some(rm), Some(rv)) = (running, rm, rv) {
            put_buffer::<T>(rm, m);
            put_buffer::<T>(rv, v);
        }
        r
    });
    new_tensor(py, out.map_err(op_err)?)
}

/// Layer normalisation over the last dimensions (`normalized_shape`), as
/// `torch.nn.functional.layer_norm`.
#[pyfunction]
#[pyo3(signature = (input, normalized_shape, weight = None, bias = None, eps = 1e-5))]
pub fn layer_norm(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    normalized_shape: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    eps: f64,
) -> PyResult<Py<PyTensor>> {
    let shape: Vec<usize> = match normalized_shape.extract::<usize>() {
        Ok(n) => vec![n],
        Err(_) => normalized_shape.extract()?,
    };
    let has_w = weight.is_some_and(|w| !w.is_none());
    let has_b = bias.is_some_and(|b| !b.is_none());
    let mut items = vec![input.clone()];
    if let Some(w) = weight.filter(|_| has_w) {
        items.push(w.clone());
    }
    if let Some(b) = bias.filter(|_| has_b) {
        items.push(b.clone());
    }
    let (is64, hs) = handles(&items)?;
    let refs: Vec<&Rc<Handle>> = hs.iter().collect();
    let out = by_type!(is64, T => apply1::<T>(&refs, |xs| {
        let w = if has_w { Some(xs[1]) } else { None };
        let b = if has_b { Some(xs[if has_w { 2 } else { 1 }]) } else { None };
        xs[0].layer_norm(&shape, w, b, eps)
    }));
    new_tensor(py, out.map_err(op_err)?)
}

/// Attention, as `torch.nn.functional.scaled_dot_product_attention` (no mask, no dropout):
/// `softmax(q·kᵀ/√d)·v` over `[batch, heads, tokens, dim]`, causal when `is_causal`.
#[pyfunction]
#[pyo3(signature = (query, key, value, is_causal = false))]
pub fn scaled_dot_product_attention(
    py: Python<'_>,
    query: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    is_causal: bool,
) -> PyResult<Py<PyTensor>> {
    let (is64, hs) = handles(&[query.clone(), key.clone(), value.clone()])?;
    let out = by_type!(is64, T => apply1::<T>(&[&hs[0], &hs[1], &hs[2]], |xs| {
        Tensor::scaled_dot_product_attention(xs[0], xs[1], xs[2], is_causal)
    }));
    new_tensor(py, out.map_err(op_err)?)
}

/// Causal self-attention on a packed query-key-value projection `[batch, time, 3·channels]`
/// split into `heads` heads (nanoGPT's `c_attn` output); `[batch, time, channels]` out.
#[pyfunction]
pub fn causal_self_attention(
    py: Python<'_>,
    qkv: &Bound<'_, PyAny>,
    heads: usize,
) -> PyResult<Py<PyTensor>> {
    let (is64, hs) = handles(std::slice::from_ref(qkv))?;
    let out = by_type!(is64, T => apply1::<T>(&[&hs[0]], |xs| xs[0].causal_self_attention(heads)));
    new_tensor(py, out.map_err(op_err)?)
}

/// Padding with `value` (negative amounts crop), as `torch.nn.functional.pad`: `pad` lists
/// (before, after) pairs from the last dimension backwards.
#[pyfunction]
#[pyo3(signature = (input, pad, value = 0.0))]
pub fn pad(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    pad: Vec<isize>,
    value: f64,
) -> PyResult<Py<PyTensor>> {
    let (is64, hs) = handles(std::slice::from_ref(input))?;
    let out = by_type!(is64, T => apply1::<T>(&[&hs[0]], |xs| xs[0].pad(&pad, value)));
    new_tensor(py, out.map_err(op_err)?)
}

/// `num_samples` categories drawn from each row of probabilities `input`, as
/// `torch.multinomial`: a NumPy array of int64 (seeded by `manual_seed`).
#[pyfunction]
#[pyo3(signature = (input, num_samples, replacement = false))]
pub fn multinomial<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyAny>,
    num_samples: usize,
    replacement: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let (is64, hs) = handles(std::slice::from_ref(input))?;
    let seed = next_seed();
    let mut picked = None;
    let r = by_type!(is64, T => apply::<T>(&[&hs[0]], |xs| {
        picked = Some(xs[0].multinomial(num_samples, replacement, seed)?);
        Ok(vec![])
    }));
    r.map_err(op_err)?;
    usize_array(py, &picked.expect("multinomial ran"))
}

/// A dropout mask: each element kept (scaled by `1/(1-p)`) with probability `1 - p`, as
/// `torch.nn.functional.dropout` in training; the input itself otherwise.
#[pyfunction]
#[pyo3(signature = (input, p = 0.5, training = true))]
pub fn dropout(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    p: f64,
    training: bool,
) -> PyResult<Py<PyAny>> {
    if !(0.0..=1.0).contains(&p) || p.is_nan() {
        return Err(invalid(format!(
            "dropout probability has to be between 0 and 1, but got {p}"
        )));
    }
    let (is64, hs) = handles(std::slice::from_ref(input))?;
    if !training || p == 0.0 {
        return Ok(Py::new(py, PyTensor::new(hs[0].clone()))?.into_any());
    }
    let seed = next_seed();
    let out = by_type!(is64, T => {
        let shape = hs[0].state.borrow();
        let n: usize = T::get(&shape).map(|s| s.shape().iter().product()).unwrap_or(0);
        let dims = T::get(&shape).map(|s| s.shape()).unwrap_or_default();
        drop(shape);
        let mut rng = Rng::new(seed);
        let scale = if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 };
        let mask: Vec<T> = (0..n)
            .map(|_| if rng.next_f64() < p { T::ZERO } else { T::from_f64(scale) })
            .collect();
        let mask = Handle::owned(Array::from_vec(mask, &dims).map_err(crate::errors::shape)?, false);
        apply1::<T>(&[&hs[0], &mask], |xs| xs[0].mul(xs[1]))
    });
    Ok(Py::new(py, PyTensor::new(out.map_err(op_err)?))?.into_any())
}

/// Turns gradient recording on or off and returns the previous setting (what `no_grad()` and
/// `enable_grad()` use).
#[pyfunction]
pub fn _set_grad_enabled(on: bool) -> bool {
    state::set_grad_enabled(on)
}

/// Whether operations record gradients now (false inside `no_grad()`).
#[pyfunction]
pub fn is_grad_enabled() -> bool {
    state::grad_enabled()
}

/// The number of nodes on this thread's current tapes, `(float32, float64)` (for tests of
/// memory).
#[pyfunction]
pub fn _tape_nodes() -> (usize, usize) {
    state::tape_nodes()
}

/// The gradients of `output` with respect to each of `inputs`, as `torch.autograd.grad`
/// (see `chainrule.autograd.grad`).
#[pyfunction]
#[pyo3(signature = (output, inputs, grad_output = None, create_graph = false))]
pub fn _autograd(
    py: Python<'_>,
    output: &Bound<'_, PyTensor>,
    inputs: Vec<Bound<'_, PyAny>>,
    grad_output: Option<&Bound<'_, PyAny>>,
    create_graph: bool,
) -> PyResult<Vec<Py<PyTensor>>> {
    let out = output.get().handle().clone();
    let is64 = is_f64(&out);
    let r = by_type!(is64, T => {
        let ins = inputs.iter().map(handle_of::<T>).collect::<PyResult<Vec<_>>>()?;
        let seed = match grad_output.filter(|g| !g.is_none()) {
            Some(g) => Some(handle_of::<T>(g)?),
            None => None,
        };
        let refs: Vec<&Rc<Handle>> = ins.iter().collect();
        state::grad_graph::<T>(&out, &refs, seed.as_ref(), create_graph)
    });
    r.map_err(op_err)?
        .into_iter()
        .map(|h| new_tensor(py, h))
        .collect()
}

/// Forward mode (see `chainrule.func.jvp`).
#[pyfunction]
pub fn _jvp(
    py: Python<'_>,
    outputs: Vec<Bound<'_, PyAny>>,
    inputs: Vec<Bound<'_, PyAny>>,
    tangents: Vec<Bound<'_, PyAny>>,
) -> PyResult<Vec<Py<PyTensor>>> {
    let mut all = outputs.clone();
    all.extend(inputs.iter().cloned());
    let (is64, _) = handles(&all)?;
    let r = by_type!(is64, T => {
        let o = outputs.iter().map(handle_of::<T>).collect::<PyResult<Vec<_>>>()?;
        let i = inputs.iter().map(handle_of::<T>).collect::<PyResult<Vec<_>>>()?;
        let t = tangents.iter().map(handle_of::<T>).collect::<PyResult<Vec<_>>>()?;
        let (o, i, t): (Vec<_>, Vec<_>, Vec<_>) = (o.iter().collect(), i.iter().collect(), t.iter().collect());
        state::jvp::<T>(&o, &i, &t)
    });
    r.map_err(op_err)?
        .into_iter()
        .map(|h| new_tensor(py, h))
        .collect()
}

/// A seed drawn from the module's generator (seeded by `manual_seed`), for initialisations.
#[pyfunction]
pub fn _next_seed() -> u64 {
    next_seed()
}

/// The library's `cross_entropy` (mean over the rows) of logits `[batch, classes]` against
/// class indices (int64): the fast path of `functional.cross_entropy` without options.
#[pyfunction]
pub fn _cross_entropy(
    py: Python<'_>,
    logits: &Bound<'_, PyTensor>,
    targets: numpy::PyReadonlyArray1<'_, i64>,
) -> PyResult<Py<PyTensor>> {
    let classes = logits.get().dims().get(1).copied().unwrap_or(0);
    let mut t = Vec::with_capacity(targets.len()?);
    for &c in targets.as_array().iter() {
        if c < 0 || c as usize >= classes {
            return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "cross_entropy: target {c} is out of bounds for {classes} classes"
            )));
        }
        t.push(c as usize);
    }
    let h = logits.get().handle().clone();
    let out =
        by_type!(is_f64(&h), T => apply1::<T>(&[&h], |xs| chainrule::nn::cross_entropy(xs[0], &t)));
    new_tensor(py, out.map_err(op_err)?)
}
