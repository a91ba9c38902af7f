//! The loops: no autograd here, only numbers. One file per idea:
//!
//! - [`parallel`]: splitting work across threads with rayon, above a size where threads pay
//!   ([`PAR_MIN`]), and streaming stores for outputs that would not stay in cache;
//! - [`isa`]: the instruction set loops are compiled for, chosen at run time;
//! - [`elementwise`]: maps with the rules of [`crate::ops`] inlined, broadcasting, expanding;
//! - [`mod@reduce`]: sums, maxima and minima over axes, and summing a broadcast gradient back;
//! - [`layout`]: permutations and reversals of axes, padding and cropping;
//! - [`matmul`]: matrix products through `gemm` (on AVX2 without AVX-512, `f32` through
//!   `sgemm_avx2`'s own packed kernel), and the fused fully connected layer;
//! - [`conv`]: two-dimensional convolution by unfolding each image into columns for `gemm`;
//! - [`pool`]: maximum and average pooling over windows of each plane;
//! - [`norm`]: batch and layer normalisation and their gradients;
//! - [`attention`](mod@attention): scaled dot-product attention one head at a time in cache, and
//!   its gradient, with `head_products`, the register tiles of its products for `f32`;
//! - [`mod@softmax`]: softmax and log-softmax along an axis, and their gradient.
//!
//! Everything is re-exported here, so `kernels::gemm` and `kernels::reduce` name the same
//! functions as their files' paths.

pub mod attention;
pub mod conv;
pub mod elementwise;
mod head_products;
pub mod isa;
pub mod layout;
pub mod matmul;
pub mod norm;
pub mod parallel;
pub mod pool;
pub mod reduce;
#[cfg(target_arch = "x86_64")]
mod sgemm_avx2;
pub mod softmax;

pub use attention::*;
pub use conv::*;
pub use elementwise::*;
pub use layout::*;
pub use matmul::*;
pub use norm::*;
pub use parallel::*;
pub use pool::*;
pub use reduce::*;
pub use softmax::*;
