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
pub mod args;
pub mod array;
pub mod functional;
pub mod gradcheck;
pub mod kernels;
pub mod rules;
pub mod shape;
pub mod sweep;
pub mod tape;

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
