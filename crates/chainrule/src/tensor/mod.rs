//! Tensors with reverse-mode automatic differentiation.
//!
//! The same design as the scalar engine, with arrays in the nodes:
//! - [`mod@array`]: [`Array`], row-major storage with a shape, creation (`zeros`, `randn`, ...) and
//!   PyTorch-style printing;
//! - [`shape`]: strides, NumPy broadcasting, axis arguments, and [`TensorError`];
//! - [`kernels`]: the loops (element-wise with broadcasting, reductions, `gemm` matrix products,
//!   softmax), threaded with rayon above a size where threads pay;
//! - [`forward`]: the differentiable operations on [`Tensor`];
//! - [`tape`]: the arena of nodes ([`Tape`]), the [`Tensor`] handle, and the backward sweep;
//! - [`mod@backward`]: each tensor operation's backward rule (element-wise rules come from
//!   [`crate::ops`], written once for scalars and tensors alike);
//! - [`mod@functional`]: `grad`, `vjp`, `jvp`, Jacobians and Hessians of tensor functions;
//! - [`mod@higher`]: gradients recorded as tensors ([`Tape::grad_graph`]) and forward mode
//!   ([`Tape::jvp`]), for derivatives of any order;
//! - [`mod@gradcheck`]: Jacobians checked against finite differences.
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

pub(crate) mod anomaly;
pub mod array;
pub mod backward;
pub mod forward;
pub mod functional;
pub mod gradcheck;
pub mod higher;
pub mod kernels;
pub mod shape;
pub mod tape;

pub use array::{Array, Element};
pub use gradcheck::{
    gradcheck, gradcheck_with, gradgradcheck, gradgradcheck_with, GradcheckError, GradcheckOptions,
    GradcheckReport,
};
pub use shape::TensorError;
pub use tape::{Tape, Tensor};
