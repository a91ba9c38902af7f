//! The activations that take a parameter, as the library's [`Unary`] operations, checked once
//! for [`crate::value::Value`] and [`crate::tensor::py::PyTensor`] alike.
//!
//! Each function turns PyTorch's arguments (`approximate="tanh"`, `alpha`, `negative_slope`)
//! into the operation, or a [`crate::errors::ChainruleError`] (a `ValueError`) that names the
//! argument and the value given.

use chainrule::ops::Unary;
use pyo3::PyResult;

use crate::errors::invalid;

/// GELU, exact (`approximate="none"`, PyTorch's default) or by its tanh form (`"tanh"`, GPT-2's).
pub fn gelu(approximate: &str) -> PyResult<Unary> {
    match approximate {
        "none" => Ok(Unary::Gelu),
        "tanh" => Ok(Unary::GeluTanh),
        other => Err(invalid(format!(
            "gelu: approximate must be 'none' or 'tanh', got {other:?}"
        ))),
    }
}

/// ELU with its `alpha` (PyTorch's default 1).
pub fn elu(alpha: f64) -> PyResult<Unary> {
    Ok(Unary::Elu(finite("elu", "alpha", alpha)?))
}

/// Leaky ReLU with its `negative_slope` (PyTorch's default 0.01).
pub fn leaky_relu(negative_slope: f64) -> PyResult<Unary> {
    Ok(Unary::LeakyRelu(finite(
        "leaky_relu",
        "negative_slope",
        negative_slope,
    )?))
}

/// `value` when it is a finite number; a NaN or infinite parameter would make every output
/// NaN without saying why.
fn finite(op: &str, name: &str, value: f64) -> PyResult<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(invalid(format!(
            "{op}: {name} must be a finite number, got {value}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_the_operations_and_bad_ones_are_refused() {
        assert_eq!(gelu("none").unwrap(), Unary::Gelu);
        assert_eq!(gelu("tanh").unwrap(), Unary::GeluTanh);
        assert_eq!(elu(0.5).unwrap(), Unary::Elu(0.5));
        assert_eq!(leaky_relu(0.2).unwrap(), Unary::LeakyRelu(0.2));
        // The messages are checked from Python (`test_activations.py`).
        assert!(gelu("erf").is_err());
        assert!(elu(f64::NAN).is_err());
        assert!(leaky_relu(f64::INFINITY).is_err());
    }
}
