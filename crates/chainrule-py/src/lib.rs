//! The Python package `chainrule`: its compiled part, `chainrule._core`.
//!
//! A thin layer over the library: scalars as micrograd's `Value` ([`value`], on the nodes of
//! [`scalar`]), the expression language ([`expr`]), and the library's errors as Python
//! exceptions ([`errors`]). The pure-Python part of the package (in `python/chainrule/`) builds
//! the PyTorch-style modules on top.

pub mod errors;
pub mod expr;
pub mod local;
pub mod scalar;
pub mod value;

use pyo3::prelude::*;

/// The compiled core of chainrule; import `chainrule` instead.
#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<value::Value>()?;
    m.add_class::<value::Report>()?;
    m.add_class::<expr::Expression>()?;
    m.add_function(wrap_pyfunction!(value::grad, m)?)?;
    m.add_function(wrap_pyfunction!(value::_live_values, m)?)?;
    m.add_function(wrap_pyfunction!(expr::parse, m)?)?;
    Ok(())
}
