//! The library's errors as Python exceptions, with the library's messages.
//!
//! Every exception raised for bad input is a [`ChainruleError`], itself a `ValueError`, with a
//! subclass per kind: [`ParseError`] (with the caret under the column), [`ShapeError`] (naming
//! the operation and the shapes), [`ModelFileError`] (naming the file and the tensor).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::create_exception!(
    chainrule,
    ChainruleError,
    PyValueError,
    "Bad input to chainrule: the message says what was wrong, as the library and the command line say it."
);
pyo3::create_exception!(
    chainrule,
    ParseError,
    ChainruleError,
    "An expression that could not be parsed; the message shows it with a caret under the column."
);
pyo3::create_exception!(
    chainrule,
    ShapeError,
    ChainruleError,
    "A tensor operation refused its inputs; the message names the operation and the shapes."
);
pyo3::create_exception!(
    chainrule,
    ModelFileError,
    ChainruleError,
    "A model file that cannot be read or does not fit the model; the message names the file and the tensor."
);

/// A tensor error as a [`ShapeError`].
pub fn shape(e: chainrule::TensorError) -> PyErr {
    ShapeError::new_err(e.to_string())
}

/// Any other library error as a [`ChainruleError`].
pub fn invalid(e: impl std::fmt::Display) -> PyErr {
    ChainruleError::new_err(e.to_string())
}

/// Registers the exceptions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ChainruleError", py.get_type::<ChainruleError>())?;
    m.add("ParseError", py.get_type::<ParseError>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("ModelFileError", py.get_type::<ModelFileError>())?;
    Ok(())
}
