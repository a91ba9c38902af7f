//! Function transformations for tensor functions, in the spirit of JAX: `grad`, `vjp`, `jvp`,
//! Jacobians and Hessians of a function of one tensor.
//!
//! A function is a closure from one [`Tensor`] (a variable on a fresh tape) to a tensor
//! computed from it; each transform records it once and differentiates the recording with
//! [`Tape::grad_graph`] (reverse mode) or [`Tape::jvp`] (forward mode).
//!
//! | transform | how | passes over the recording |
//! |---|---|---|
//! | [`grad`], [`vjp`] | reverse mode | 1 |
//! | [`grad_fn`] | the gradient as a function, to transform again | 1 per call |
//! | [`jvp`] | forward mode | 1 |
//! | [`jacrev`] | reverse mode, one pass per output element | m |
//! | [`jacfwd`] | forward mode, one pass per input element | n |
//! | [`hvp`] | forward over reverse | 1 over the gradient's recording |
//! | [`hessian`] | forward over reverse, one pass per input element | n |
//!
//! Jacobians have the output's shape followed by the input's, as `torch.autograd.functional`
//! and JAX shape them.
//!
//! ```
//! use chainrule::tensor::functional::{hessian, jvp};
//! use chainrule::tensor::Array;
//!
//! // f(x) = Σ x³: the Hessian is diag(6x).
//! let x = Array::from_vec(vec![1.0, 2.0], &[2]).unwrap();
//! let h = hessian(|x| Ok(x.powf(3.0).sum_all()), &x).unwrap();
//! assert_eq!((h.shape(), h.to_vec()), (&[2, 2][..], vec![6.0, 0.0, 0.0, 12.0]));
//! // sin along v: cos(x)·v.
//! let v = Array::from_vec(vec![1.0, 0.5], &[2]).unwrap();
//! let (y, dy) = jvp(|x| Ok(x.sin()), &x, &v).unwrap();
//! assert_eq!(y.to_vec(), vec![1.0f64.sin(), 2.0f64.sin()]);
//! assert_eq!(dy.to_vec(), vec![1.0f64.cos(), 0.5 * 2.0f64.cos()]);
//! ```

use super::array::{Array, Element};
use super::shape::{fmt_shape, Result, TensorError};
use super::tape::{Tape, Tensor};

/// A function of one tensor, written against the tape its input lives on.
pub trait TensorFn<T: Element>: for<'t> Fn(Tensor<'t, T>) -> Result<Tensor<'t, T>> {}
impl<T: Element, F: for<'t> Fn(Tensor<'t, T>) -> Result<Tensor<'t, T>>> TensorFn<T> for F {}

/// Returns its argument: a closure kept in a `let` to be passed to several transforms needs
/// this to be read as a function of a tensor on *any* tape (a closure passed directly needs
/// nothing).
///
/// ```
/// use chainrule::tensor::functional::{grad, hessian, tensor_fn};
/// use chainrule::tensor::Array;
///
/// let f = tensor_fn(|x| Ok(x.sin().sum_all()));
/// let x = Array::<f64>::from_vec(vec![0.0], &[1]).unwrap();
/// assert_eq!(grad(f, &x).unwrap().to_vec(), vec![1.0]);
/// assert_eq!(hessian(f, &x).unwrap().to_vec(), vec![0.0]);
/// ```
pub fn tensor_fn<T: Element, F>(f: F) -> F
where
    F: for<'t> Fn(Tensor<'t, T>) -> Result<Tensor<'t, T>>,
{
    f
}

fn same_shape<T: Element>(op: &'static str, what: &str, a: &Array<T>, x: &Array<T>) -> Result<()> {
    if a.shape() == x.shape() {
        Ok(())
    } else {
        Err(TensorError::new(
            op,
            format!(
                "the {what} has shape {} but the input has shape {}",
                fmt_shape(a.shape()),
                fmt_shape(x.shape())
            ),
        ))
    }
}

fn one_element<T: Element>(op: &'static str, y: Tensor<'_, T>) -> Result<()> {
    if y.numel() == 1 {
        Ok(())
    } else {
        Err(TensorError::new(
            op,
            format!(
                "the function returned shape {}, not one element",
                fmt_shape(&y.shape())
            ),
        ))
    }
}

/// The value and the gradient of a function with one-element output.
///
/// ```
/// use chainrule::tensor::functional::value_and_grad;
/// use chainrule::tensor::Array;
///
/// let x = Array::from_vec(vec![3.0, 4.0], &[2]).unwrap();
/// let (y, g) = value_and_grad(|x| Ok((x * x).sum_all()), &x).unwrap(); // |x|², gradient 2x
/// assert_eq!((y, g.to_vec()), (25.0, vec![6.0, 8.0]));
/// ```
pub fn value_and_grad<T: Element>(f: impl TensorFn<T>, x: &Array<T>) -> Result<(T, Array<T>)> {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(xv)?;
    one_element("grad", y)?;
    let g = tape.grad_graph(y, &[xv])?[0];
    Ok((y.item(), g.value()))
}

/// The gradient of a function with one-element output.
pub fn grad<T: Element>(f: impl TensorFn<T>, x: &Array<T>) -> Result<Array<T>> {
    value_and_grad(f, x).map(|(_, g)| g)
}

/// The gradient of `f` (one-element output) as a function again, as JAX's `grad`: it records
/// the gradient on the input's tape ([`Tape::grad_graph`]), so every transform here applies to
/// it, to any order: `jacfwd(grad_fn(f))` is the Hessian, `grad_fn` of a sum of `grad_fn(f)` a
/// third derivative.
///
/// ```
/// use chainrule::tensor::functional::{grad_fn, hessian, jacfwd, jacrev, tensor_fn};
/// use chainrule::tensor::Array;
///
/// let x = Array::<f64>::from_vec(vec![0.5, -1.0], &[2]).unwrap();
/// let f = tensor_fn(|x| Ok((x.exp() * x.sum_all()).sum_all()));
/// let h = hessian(f, &x).unwrap();
/// let close = |a: &Array<f64>| a.to_vec().iter().zip(h.to_vec()).all(|(p, q)| (p - q).abs() < 1e-12);
/// assert!(close(&jacfwd(grad_fn(f), &x).unwrap())); // forward over reverse
/// assert!(close(&jacrev(grad_fn(f), &x).unwrap())); // reverse over reverse
/// ```
pub fn grad_fn<T: Element>(f: impl TensorFn<T>) -> impl TensorFn<T> {
    recorded_gradient("grad", f)
}

/// [`grad_fn`], naming `op` when `f`'s output is not one element.
fn recorded_gradient<T: Element>(op: &'static str, f: impl TensorFn<T>) -> impl TensorFn<T> {
    tensor_fn(move |x| {
        let y = f(x)?;
        one_element(op, y)?;
        Ok(x.tape().grad_graph(y, &[x])?[0])
    })
}

/// The value `f(x)` and the vector-Jacobian product `uᵀJ` (reverse mode), `u` of the output's
/// shape, the result of the input's.
pub fn vjp<T: Element>(
    f: impl TensorFn<T>,
    x: &Array<T>,
    u: &Array<T>,
) -> Result<(Array<T>, Array<T>)> {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(xv)?;
    if u.shape() != y.shape().as_slice() {
        return Err(TensorError::new(
            "vjp",
            format!(
                "the cotangent has shape {} but the output has shape {}",
                fmt_shape(u.shape()),
                fmt_shape(&y.shape())
            ),
        ));
    }
    let g = tape.grad_graph_with(y, tape.constant(u.clone()), &[xv])?[0];
    Ok((y.value(), g.value()))
}

/// The value `f(x)` and the Jacobian-vector product `J·v` (forward mode), `v` of the input's
/// shape, the result of the output's.
pub fn jvp<T: Element>(
    f: impl TensorFn<T>,
    x: &Array<T>,
    v: &Array<T>,
) -> Result<(Array<T>, Array<T>)> {
    same_shape("jvp", "tangent", v, x)?;
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(xv)?;
    let dy = tape.jvp(&[y], &[xv], &[tape.constant(v.clone())])?[0];
    Ok((y.value(), dy.value()))
}

/// The one-hot arrays of a shape, in row-major order.
fn basis<T: Element>(shape: &[usize]) -> impl Iterator<Item = Array<T>> + '_ {
    let n: usize = shape.iter().product();
    (0..n).map(move |j| {
        let mut e = vec![T::ZERO; n];
        e[j] = T::ONE;
        Array::from_parts(e, shape)
    })
}

/// Rows laid out one after another, with the shape `outer ++ inner`.
fn stack_rows<T: Element>(rows: Vec<Array<T>>, outer: &[usize], inner: &[usize]) -> Array<T> {
    let data: Vec<T> = rows.iter().flat_map(|r| r.data().iter().copied()).collect();
    Array::from_parts(data, [outer, inner].concat())
}

/// Moves the first `a` axes after the remaining ones: `[A.., B..]` to `[B.., A..]`.
fn swap_blocks<T: Element>(j: Array<T>, a: &[usize], b: &[usize]) -> Array<T> {
    let (na, nb): (usize, usize) = (a.iter().product(), b.iter().product());
    let mut out = vec![T::ZERO; na * nb];
    for r in 0..na {
        for c in 0..nb {
            out[c * na + r] = j.data()[r * nb + c];
        }
    }
    Array::from_parts(out, [b, a].concat())
}

/// The Jacobian by reverse mode, one backward sweep per output element; shape
/// `output ++ input`.
///
/// ```
/// use chainrule::tensor::functional::{jacfwd, jacrev};
/// use chainrule::tensor::Array;
///
/// let a = Array::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).unwrap();
/// let x = Array::from_vec(vec![1.0, -1.0], &[2]).unwrap();
/// let j = jacrev(|x| x.tape().constant(a.clone()).matmul(x), &x).unwrap(); // A itself
/// assert_eq!((j.shape(), j.to_vec()), (&[3, 2][..], a.to_vec()));
/// assert_eq!(jacfwd(|x| x.tape().constant(a.clone()).matmul(x), &x).unwrap(), j);
/// ```
pub fn jacrev<T: Element>(f: impl TensorFn<T>, x: &Array<T>) -> Result<Array<T>> {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(xv)?;
    let out = y.shape();
    let rows = basis::<T>(&out)
        .map(|u| Ok(tape.grad_graph_with(y, tape.constant(u), &[xv])?[0].value()))
        .collect::<Result<Vec<_>>>()?;
    Ok(stack_rows(rows, &out, x.shape()))
}

/// The Jacobian by forward mode, one forward sweep per input element; shape
/// `output ++ input`.
pub fn jacfwd<T: Element>(f: impl TensorFn<T>, x: &Array<T>) -> Result<Array<T>> {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(xv)?;
    let columns = basis::<T>(x.shape())
        .map(|v| Ok(tape.jvp(&[y], &[xv], &[tape.constant(v)])?[0].value()))
        .collect::<Result<Vec<_>>>()?;
    // One column per input element: [input.., output..], then swapped.
    Ok(swap_blocks(
        stack_rows(columns, x.shape(), &y.shape()),
        x.shape(),
        &y.shape(),
    ))
}

/// The Hessian-vector product `H·v` of a function with one-element output, forward over
/// reverse: the gradient is recorded once, then one forward sweep along `v` runs through it.
pub fn hvp<T: Element>(f: impl TensorFn<T>, x: &Array<T>, v: &Array<T>) -> Result<Array<T>> {
    same_shape("hvp", "vector", v, x)?;
    jvp(recorded_gradient("hvp", f), x, v).map(|(_, hv)| hv)
}

/// The Hessian of a function with one-element output, forward over reverse (one forward sweep
/// per input element through the recorded gradient); shape `input ++ input`.
pub fn hessian<T: Element>(f: impl TensorFn<T>, x: &Array<T>) -> Result<Array<T>> {
    // The forward-mode Jacobian of the recorded gradient: column j is H·e_j. (Laid out as
    // columns: at a kink, such as relu's, the Hessian need not be symmetric.)
    jacfwd(recorded_gradient("hessian", f), x)
}
