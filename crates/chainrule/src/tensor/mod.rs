//! Tensors with reverse-mode automatic differentiation.
//!
//! The same design as the scalar engine, with arrays in the nodes:
//! - [`mod@array`]: [`Array`], row-major storage with a shape, creation (`zeros`, `randn`, ...) and
//!   PyTorch-style printing;
//! - [`args`]: the argument types operations accept (shapes, index lists, slice bounds), the
//!   same for every operation;
//! - [`shape`]: strides, NumPy broadcasting, axis arguments, and [`TensorError`];
//! - [`tape`]: the arena of nodes ([`Tape`]) and the [`Tensor`] handle;
//! - [`sweep`]: the chain rule: the reverse sweep of [`Tensor::backward`] (on numbers) and of
//!   [`Tape::grad_graph`] (recorded, to differentiate again), and the forward sweep of
//!   [`Tape::jvp`];
//! - [`rules`]: the operations, one file per family, each with its forward computation, its
//!   vector-Jacobian product on numbers and recorded, and its Jacobian-vector product side by
//!   side (element-wise rules come from [`crate::ops`], written once for scalars and tensors
//!   alike);
//! - [`kernels`]: the loops (element-wise with broadcasting, reductions, `gemm` matrix products,
//!   softmax), threaded with rayon above a size where threads pay;
//! - [`mod@functional`]: `grad`, `vjp`, `jvp`, Jacobians and Hessians of tensor functions;
//! - [`mod@gradcheck`]: Jacobians checked against finite differences.
//!
//! The operations have PyTorch's names, argument order and conventions at kinks and ties (each
//! method's documentation says which), so that a program written as a PyTorch user would write
//! it computes the same values and gradients; where this library differs, it does so on purpose,
//! and the list below says where.
//!
//! ```
//! use chainrule::tensor::{Array, Tape};
//!
//! let tape = Tape::<f32>::new();
//! let x = tape.constant(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap());
//! let w = tape.var(Array::ones(&[3, 2]));
//! let b = tape.var(Array::zeros(&[2]));
//! let y = (x.matmul(w).unwrap() + b).relu(); // [2, 2], bias broadcast over rows
//! let loss = y.mean_all();
//! loss.backward().unwrap();
//! assert_eq!(loss.item(), 10.5);
//! assert_eq!(b.grad().unwrap().to_vec(), vec![0.5, 0.5]); // two rows, mean over four
//! assert_eq!(w.grad().unwrap().shape(), &[3, 2]);
//! ```
//!
//! # Differences from PyTorch
//!
//! Each is deliberate, and documented on the method too:
//!
//! - **`sum(&[])` reduces nothing** (as NumPy's `axis=()`), where PyTorch's `dim=[]` reduces
//!   every axis; the same holds for every reduction taking a list of axes (`mean`, `max`,
//!   `logsumexp`, `var`, `norm`, `prod`...). Use [`Tensor::sum_all`] and the other `_all`
//!   forms to reduce everything: an empty list meaning "all" would make a computed list of
//!   axes that happens to be empty reduce the wrong thing.
//! - **An input the output does not reach**: [`Tensor::grad`] is `None` after `backward` (as
//!   PyTorch's `.grad`), but [`Tape::grad_graph`] gives zeros of its shape (as JAX's `grad`,
//!   and PyTorch's `autograd.grad` with `materialize_grads=True`), so that its result can
//!   always be differentiated again; PyTorch's default there is an error.
//! - **[`nn::mse_loss`](crate::nn::mse_loss) and
//!   [`nn::binary_cross_entropy_with_logits`](crate::nn::binary_cross_entropy_with_logits)
//!   refuse shapes that differ** where PyTorch's `mse_loss` broadcasts them with a warning
//!   (`[n]` against `[n, 1]` silently gives an `[n, n]` loss).
//! - **[`Tensor::logsumexp`] has gradient 0 over a group that is all `−inf`** (its value is
//!   `−inf`, as PyTorch's), where PyTorch's gradient is NaN.
//! - **[`Tensor::max`] and [`Tensor::min`] over axes are `torch.amax` and `torch.amin`**: tied
//!   elements share the gradient equally, where the values of `torch.max(x, dim)` send it all to
//!   the one index that call returns ([`Tensor::argmax`] gives that index).
//! - **Masks are [`Array<bool>`]**, not tensors: the comparisons ([`Tensor::gt`],
//!   [`Tensor::eq_scalar`], ...) return them and [`Tensor::where_cond`] and
//!   [`Tensor::masked_fill`] take them; nothing differentiable flows through a mask.
//! - **Indices are `usize`**: [`Tensor::argmax`] returns an [`Array<usize>`]; class targets are
//!   `&[usize]` and `ignore_index` is an `Option` (PyTorch's default -100 is `None`).
//! - **The operators `+ - * /` between two tensors panic** on shapes that do not broadcast
//!   (PyTorch raises); the methods [`Tensor::add`] and friends return the error as a value.
//! - **`c / t` for a number `c`** is `c · t^(−1)` with the power by `powf`, which can differ in
//!   the last bit from PyTorch's `reciprocal(t) · c`. (`t / c` divides, rounding exactly as
//!   PyTorch's `x / c`.)
//!
//! Behaviours that match PyTorch although they may surprise: `squeeze(d)` leaves a dimension
//! whose size is not 1 as it is; axis 0 (or -1) of a 0-d tensor is accepted by the reductions,
//! `softmax`, `cumsum`, `argmax` and `squeeze`; a reduction keeps an empty axis it does not
//! reduce (`max` over axis 2 of shape `[2, 0, 3]` has shape `[2, 0]`) and refuses to take the
//! maximum over an empty one.

pub(crate) mod anomaly;
pub mod args;
pub mod array;
pub mod functional;
pub mod gradcheck;
pub mod kernels;
pub mod rules;
pub mod shape;
pub mod sweep;
pub mod tape;

pub use crate::ops::{Binary, Unary};
pub use args::{Dim, IntoIndices, IntoShape, SliceIndex, SplitSizes};
pub use array::{Array, Element};
pub use gradcheck::{
    gradcheck, gradcheck_with, gradgradcheck, gradgradcheck_with, GradcheckError, GradcheckOptions,
    GradcheckReport,
};
pub use rules::conv::Conv2dOptions;
pub use rules::norm::BatchNormOptions;
pub use rules::pool::Pool2dOptions;
pub use shape::TensorError;
pub use tape::{Tape, Tensor};
