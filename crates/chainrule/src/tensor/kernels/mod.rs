//! The loops: no autograd here, only numbers. One file per idea:
//!
//! - [`parallel`]: splitting work across threads with rayon, above a size where threads pay
//!   ([`PAR_MIN`]), and streaming stores for outputs that would not stay in cache;
//! - [`elementwise`]: maps with the rules of [`crate::ops`] inlined, broadcasting, expanding;
//! - [`mod@reduce`]: sums, maxima and minima over axes, and summing a broadcast gradient back;
//! - [`layout`]: permutations and reversals of axes, padding and cropping;
//! - [`matmul`]: matrix products through `gemm`, and the fused fully connected layer;
//! - [`mod@softmax`]: softmax and log-softmax along an axis, and their gradient.
//!
//! Everything is re-exported here, so `kernels::gemm` and `kernels::reduce` name the same
//! functions as their files' paths.

pub mod elementwise;
pub mod layout;
pub mod matmul;
pub mod parallel;
pub mod reduce;
pub mod softmax;

pub use elementwise::*;
pub use layout::*;
pub use matmul::*;
pub use parallel::*;
pub use reduce::*;
pub use softmax::*;
