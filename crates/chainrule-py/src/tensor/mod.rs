//! Tensors from Python: the ownership of graphs ([`state`]), NumPy conversions ([`convert`]),
//! the `Tensor` class ([`py`]) and the module's tensor functions ([`functions`]).

pub mod convert;
pub mod functions;
pub mod py;
pub mod state;
