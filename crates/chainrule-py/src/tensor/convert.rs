//! NumPy arrays to tensors and back: a copy in, no copy out.

use chainrule::tensor::Array;
use numpy::ndarray::{ArrayViewD, IxDyn};
use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::state::Dtype;

/// Keeps an array's data alive while NumPy arrays view it.
#[pyclass(name = "_Buffer", module = "chainrule", frozen)]
pub struct Buffer {
    _f32: Option<Array<f32>>,
    _f64: Option<Array<f64>>,
}

/// The array Python gives (a NumPy array, a list, a number...) as an array of `T`, copied.
pub fn array_from_py<T: Dtype>(obj: &Bound<'_, PyAny>) -> PyResult<Array<T>> {
    let py = obj.py();
    let arr = match obj.cast::<PyArrayDyn<T>>() {
        Ok(a) if a.is_c_contiguous() => a.clone(),
        _ => {
            // `asarray` with C order, not `ascontiguousarray`, which makes a 0-d array (or a
            // Python number) one of shape [1].
            let np = py.import("numpy")?;
            let a = np.call_method1("asarray", (obj, T::NUMPY, "C"))?;
            a.cast_into::<PyArrayDyn<T>>()?
        }
    };
    let shape = arr.shape().to_vec();
    let ro = arr.readonly();
    let data = ro.as_slice()?.to_vec();
    Array::from_vec(data, &shape).map_err(crate::errors::shape)
}

/// An array as a read-only NumPy array that shares its data (no copy).
pub fn to_numpy<'py, T: Dtype>(
    py: Python<'py>,
    a: &Array<T>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let keep = Buffer::of(a.clone());
    let owner = Bound::new(py, keep)?;
    // SAFETY: the view points into `a`'s data, which `owner` keeps alive (it holds a clone of
    // the same shared buffer) as long as the NumPy array exists; the buffer is never written
    // while shared (arrays copy before writing to shared data), and the NumPy array is made
    // read-only below, so nothing writes through it either.
    let arr = unsafe {
        let view = ArrayViewD::from_shape_ptr(IxDyn(a.shape()), a.data().as_ptr());
        PyArrayDyn::borrow_from_array(&view, owner.into_any())
    };
    arr.readwrite().make_nonwriteable();
    Ok(arr)
}

impl Buffer {
    fn of<T: Dtype>(a: Array<T>) -> Buffer {
        let any: Box<dyn std::any::Any> = Box::new(a);
        match any.downcast::<Array<f32>>() {
            Ok(a) => Buffer {
                _f32: Some(*a),
                _f64: None,
            },
            Err(any) => Buffer {
                _f32: None,
                _f64: any.downcast::<Array<f64>>().ok().map(|a| *a),
            },
        }
    }
}
