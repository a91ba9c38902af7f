//! The Python package `chainrule`: its compiled part, `chainrule._core`.
//!
//! A thin layer over the library: scalars as micrograd's `Value` ([`value`], on the nodes of
//! [`scalar`]), the expression language ([`expr`]), and the library's errors as Python
//! exceptions ([`errors`]). The pure-Python part of the package (in `python/chainrule/`) builds
//! the PyTorch-style modules on top.

pub mod activations;
pub mod errors;
pub mod expr;
pub mod io;
pub mod local;
pub mod optim;
pub mod scalar;
pub mod tensor;
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
    m.add_class::<tensor::py::PyTensor>()?;
    m.add_class::<tensor::convert::Buffer>()?;
    m.add_class::<optim::PyOptimizer>()?;
    use tensor::functions as f;
    for func in [
        wrap_pyfunction!(f::tensor, m)?,
        wrap_pyfunction!(f::zeros, m)?,
        wrap_pyfunction!(f::ones, m)?,
        wrap_pyfunction!(f::full, m)?,
        wrap_pyfunction!(f::eye, m)?,
        wrap_pyfunction!(f::arange, m)?,
        wrap_pyfunction!(f::rand, m)?,
        wrap_pyfunction!(f::randn, m)?,
        wrap_pyfunction!(f::manual_seed, m)?,
        wrap_pyfunction!(f::cat, m)?,
        wrap_pyfunction!(f::stack, m)?,
        wrap_pyfunction!(f::where_, m)?,
        wrap_pyfunction!(f::einsum, m)?,
        wrap_pyfunction!(f::conv2d, m)?,
        wrap_pyfunction!(f::max_pool2d, m)?,
        wrap_pyfunction!(f::avg_pool2d, m)?,
        wrap_pyfunction!(f::adaptive_avg_pool2d, m)?,
        wrap_pyfunction!(f::batch_norm, m)?,
        wrap_pyfunction!(f::layer_norm, m)?,
        wrap_pyfunction!(f::scaled_dot_product_attention, m)?,
        wrap_pyfunction!(f::causal_self_attention, m)?,
        wrap_pyfunction!(f::pad, m)?,
        wrap_pyfunction!(f::multinomial, m)?,
        wrap_pyfunction!(f::dropout, m)?,
        wrap_pyfunction!(f::_set_grad_enabled, m)?,
        wrap_pyfunction!(f::is_grad_enabled, m)?,
        wrap_pyfunction!(f::_tape_nodes, m)?,
        wrap_pyfunction!(f::_autograd, m)?,
        wrap_pyfunction!(f::_jvp, m)?,
        wrap_pyfunction!(f::_next_seed, m)?,
        wrap_pyfunction!(f::_cross_entropy, m)?,
        wrap_pyfunction!(optim::_schedule_lr, m)?,
        wrap_pyfunction!(optim::clip_grad_norm_, m)?,
        wrap_pyfunction!(io::save, m)?,
        wrap_pyfunction!(io::load, m)?,
        wrap_pyfunction!(io::load_metadata, m)?,
        wrap_pyfunction!(io::_load_network, m)?,
        wrap_pyfunction!(io::_load_gpt, m)?,
        wrap_pyfunction!(io::_linear_init, m)?,
        wrap_pyfunction!(io::_dataset, m)?,
    ] {
        m.add_function(func)?;
    }
    Ok(())
}
