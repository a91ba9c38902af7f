//! Storage: [`Array`], a row-major block of numbers with a shape, and the [`Element`] types it
//! holds. Arrays are values (no gradient); the [`Tape`](super::Tape) records operations on them.

use std::fmt;
use std::sync::Arc;

use super::args::IntoShape;
use super::shape::{fmt_shape, numel, resolve_shape, strides, Result, TensorError};
use crate::ops::Real;
use crate::util::rand::Rng;

/// A number type tensors can hold: `f32` (the default) or `f64`.
pub trait Element:
    Real + Send + Sync + 'static + PartialOrd + Default + fmt::Display + fmt::Debug
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// The name printed for non-default element types (`f64`).
    const NAME: &'static str;
    /// Converts from `f64`, rounding if needed.
    fn from_f64(v: f64) -> Self;
    /// Negative infinity (the identity of `max`).
    fn neg_infinity() -> Self;
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn neg_infinity() -> Self {
        f32::NEG_INFINITY
    }
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const NAME: &'static str = "f64";
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    fn neg_infinity() -> Self {
        f64::NEG_INFINITY
    }
}

/// An n-dimensional block of values in row-major order with a shape.
///
/// The data is shared: cloning an array, reshaping it, or recording it on a tape copies no
/// numbers.
///
/// ```
/// use chainrule::tensor::Array;
///
/// let a = Array::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
/// assert_eq!(a.shape(), &[2, 3]);
/// assert_eq!(a.get(&[1, 0]), 4.0);
/// assert_eq!(a.reshape(&[3, 2]).unwrap().get(&[2, 1]), 6.0);
/// ```
#[derive(Clone, PartialEq)]
pub struct Array<T = f32> {
    shape: Dims,
    data: Arc<Vec<T>>,
}

/// Dimensions kept inline up to this many (enough for NCHW images and attention heads), so that
/// creating or cloning the shape of a typical tensor allocates nothing: a training step of a
/// small network makes dozens of arrays, and their shapes' allocations were a tenth of its work.
const INLINE_DIMS: usize = 4;

/// The sizes of an array's dimensions: inline up to [`INLINE_DIMS`] of them, on the heap beyond.
#[derive(Clone)]
pub(crate) enum Dims {
    Inline(u8, [usize; INLINE_DIMS]),
    Heap(Vec<usize>),
}

impl Dims {
    fn as_slice(&self) -> &[usize] {
        match self {
            Dims::Inline(n, d) => &d[..usize::from(*n)],
            Dims::Heap(v) => v,
        }
    }

    /// `s` with its last size replaced by `last` (`[last]` if `s` is empty).
    pub(crate) fn with_last(s: &[usize], last: usize) -> Dims {
        let mut d = Dims::from(s);
        match &mut d {
            Dims::Inline(n, a) if *n == 0 => {
                a[0] = last;
                *n = 1;
            }
            Dims::Inline(n, a) => a[usize::from(*n) - 1] = last,
            Dims::Heap(v) => {
                *v.last_mut()
                    .expect("a heap shape has more than four dimensions") = last
            }
        }
        d
    }
}

impl PartialEq for Dims {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl From<&[usize]> for Dims {
    fn from(s: &[usize]) -> Self {
        if s.len() <= INLINE_DIMS {
            let mut d = [0; INLINE_DIMS];
            d[..s.len()].copy_from_slice(s);
            Dims::Inline(s.len() as u8, d)
        } else {
            Dims::Heap(s.to_vec())
        }
    }
}

impl From<Vec<usize>> for Dims {
    fn from(v: Vec<usize>) -> Self {
        if v.len() <= INLINE_DIMS {
            Dims::from(v.as_slice())
        } else {
            Dims::Heap(v)
        }
    }
}

impl<const N: usize> From<[usize; N]> for Dims {
    fn from(a: [usize; N]) -> Self {
        Dims::from(&a[..])
    }
}

impl<T> Array<T> {
    /// An array from data in row-major order; an error if the length does not match the shape.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        if data.len() != numel(shape) {
            return Err(TensorError::new(
                "from_vec",
                format!(
                    "{} values cannot fill shape {} ({} elements)",
                    data.len(),
                    fmt_shape(shape),
                    numel(shape)
                ),
            ));
        }
        Ok(Array {
            shape: shape.into(),
            data: Arc::new(data),
        })
    }

    /// A one-dimensional array holding `data`.
    pub fn from_slice(data: &[T]) -> Self
    where
        T: Clone,
    {
        Array {
            shape: [data.len()].into(),
            data: Arc::new(data.to_vec()),
        }
    }

    pub(crate) fn from_parts(data: Vec<T>, shape: impl Into<Dims>) -> Self {
        let shape = shape.into();
        debug_assert_eq!(data.len(), numel(shape.as_slice()));
        Array {
            shape,
            data: Arc::new(data),
        }
    }

    /// The elements in row-major order, to change in place; copies them first if another array
    /// shares them (so other arrays never see the change).
    ///
    /// ```
    /// use chainrule::tensor::Array;
    ///
    /// let mut a = Array::<f32>::zeros(&[2]);
    /// let b = a.clone();
    /// a.data_mut()[0] = 1.0;
    /// assert_eq!((a.to_vec(), b.to_vec()), (vec![1.0, 0.0], vec![0.0, 0.0]));
    /// ```
    pub fn data_mut(&mut self) -> &mut [T]
    where
        T: Clone,
    {
        Arc::make_mut(&mut self.data).as_mut_slice()
    }

    pub(crate) fn into_buffer(self) -> Option<Vec<T>> {
        Arc::try_unwrap(self.data).ok()
    }

    /// The size of each dimension.
    pub fn shape(&self) -> &[usize] {
        self.shape.as_slice()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The same data seen with another shape of as many elements (no copy); one size may be
    /// `-1`, inferred from the others. The sizes may be given in any [`IntoShape`] form, as for
    /// [`Tensor::reshape`](super::Tensor::reshape).
    ///
    /// ```
    /// use chainrule::tensor::Array;
    ///
    /// let a = Array::<f32>::arange(0.0, 6.0, 1.0);
    /// assert_eq!(a.reshape(&[2, 3]).unwrap().shape(), &[2, 3]);
    /// assert_eq!(a.reshape(&[-1, 2]).unwrap().shape(), &[3, 2]);
    /// assert!(a.reshape(&[4, -1]).is_err());
    /// ```
    pub fn reshape(&self, shape: impl IntoShape) -> Result<Self> {
        let shape = resolve_shape("reshape", self.shape(), &shape.into_dims())?;
        Ok(Array {
            shape: shape.into(),
            data: self.data.clone(),
        })
    }

    pub(crate) fn with_shape(&self, shape: impl Into<Dims>) -> Self {
        let shape = shape.into();
        debug_assert_eq!(numel(shape.as_slice()), self.numel());
        Array {
            shape,
            data: self.data.clone(),
        }
    }

    /// The element at a multi-index.
    ///
    /// # Panics
    /// If the index has the wrong length or is out of bounds.
    pub fn get(&self, index: &[usize]) -> T
    where
        T: Copy,
    {
        assert_eq!(index.len(), self.ndim(), "index length");
        let s = strides(self.shape());
        let mut off = 0;
        for ((&i, &d), &st) in index.iter().zip(self.shape()).zip(&s) {
            assert!(i < d, "index {i} out of bounds for dimension of size {d}");
            off += i * st;
        }
        self.data[off]
    }

    /// The elements as a vector, in row-major order.
    pub fn to_vec(&self) -> Vec<T>
    where
        T: Clone,
    {
        self.data.to_vec()
    }
}

impl<T: Element> Array<T> {
    /// A scalar (shape `[]`).
    pub fn scalar(v: T) -> Self {
        Array::from_parts(vec![v], vec![])
    }

    /// An array filled with `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Array::from_parts(vec![value; numel(shape)], shape)
    }

    /// An array of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::ZERO)
    }

    /// An array of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::ONE)
    }

    /// `[start, start + step, ...]` up to but excluding `end`, like `torch.arange`.
    pub fn arange(start: f64, end: f64, step: f64) -> Self {
        assert!(step != 0.0, "arange: step must not be zero");
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let data = (0..n)
            .map(|i| T::from_f64(start + i as f64 * step))
            .collect();
        Array::from_parts(data, vec![n])
    }

    /// The `n × n` identity matrix.
    pub fn eye(n: usize) -> Self {
        let mut data = vec![T::ZERO; n * n];
        for i in 0..n {
            data[i * n + i] = T::ONE;
        }
        Array::from_parts(data, vec![n, n])
    }

    /// Values drawn uniformly from `[0, 1)`, reproducibly from `seed` (by [`Rng::next_f64`]).
    pub fn rand(shape: &[usize], seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let data = (0..numel(shape))
            .map(|_| T::from_f64(rng.next_f64()))
            .collect();
        Array::from_parts(data, shape)
    }

    /// Values drawn from the standard normal distribution, reproducibly from `seed` (by
    /// [`Rng::normal`]).
    pub fn randn(shape: &[usize], seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let data = (0..numel(shape))
            .map(|_| T::from_f64(rng.normal()))
            .collect();
        Array::from_parts(data, shape)
    }

    /// The only element of a one-element array.
    ///
    /// # Panics
    /// If the array has more than one element.
    pub fn item(&self) -> T {
        assert_eq!(self.numel(), 1, "item() needs exactly one element");
        self.data[0]
    }

    /// The elements converted to `f64`.
    pub fn to_f64(&self) -> Array<f64> {
        Array::from_parts(
            self.data.iter().map(|v| v.value()).collect(),
            self.shape.clone(),
        )
    }
}

/// Above this many elements, [`Display`](fmt::Display) shows the first and last three entries of
/// each dimension only (as PyTorch does).
pub const PRINT_THRESHOLD: usize = 1000;

impl<T: Element> fmt::Display for Array<T> {
    /// Prints like PyTorch: `tensor([[1., 2.], [3., 4.]])` laid out over lines, four decimals
    /// unless every value is an integer, scientific notation for wide ranges, and `...` in place
    /// of the middle of large tensors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summarize = self.numel() > PRINT_THRESHOLD;
        let values: Vec<f64> = self.data.iter().map(|v| v.value()).collect();
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let ints = finite.iter().all(|v| v.fract() == 0.0);
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for v in finite.iter().map(|v| v.abs()).filter(|&v| v != 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let sci = hi > 1e8 || (hi > 0.0 && (hi / lo > 1000.0 || lo < 1e-4));
        let fmt1 = |v: f64| -> String {
            if v.is_nan() {
                "nan".into()
            } else if v.is_infinite() {
                if v > 0.0 { "inf" } else { "-inf" }.into()
            } else if sci && !(ints && hi < 1e8) {
                format!("{v:.4e}")
            } else if ints {
                format!("{v}.")
            } else {
                format!("{v:.4}")
            }
        };
        let width = values.iter().map(|&v| fmt1(v).len()).max().unwrap_or(0);
        let mut out = String::from("tensor(");
        if self.ndim() == 0 {
            out.push_str(&fmt1(values[0]));
        } else {
            let st = strides(self.shape());
            write_nested(
                &mut out,
                &values,
                self.shape(),
                &st,
                0,
                0,
                summarize,
                width,
                &fmt1,
            );
        }
        if T::NAME != "f32" {
            out.push_str(&format!(", dtype={}", T::NAME));
        }
        out.push(')');
        f.write_str(&out)
    }
}

#[allow(clippy::too_many_arguments)]
fn write_nested(
    out: &mut String,
    values: &[f64],
    shape: &[usize],
    st: &[usize],
    dim: usize,
    offset: usize,
    summarize: bool,
    width: usize,
    fmt1: &dyn Fn(f64) -> String,
) {
    let n = shape[dim];
    let indices: Vec<Option<usize>> = if summarize && n > 6 {
        (0..3)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - 3..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    out.push('[');
    let indent = " ".repeat("tensor(".len() + dim + 1);
    for (j, i) in indices.iter().enumerate() {
        if j > 0 {
            if dim + 1 == shape.len() {
                out.push_str(", ");
            } else {
                out.push(',');
                out.push_str(&"\n".repeat(shape.len() - dim - 1));
                out.push_str(&indent);
            }
        }
        match i {
            None => out.push_str("..."),
            Some(i) if dim + 1 == shape.len() => {
                out.push_str(&format!("{:>width$}", fmt1(values[offset + i * st[dim]])))
            }
            Some(i) => write_nested(
                out,
                values,
                shape,
                st,
                dim + 1,
                offset + i * st[dim],
                summarize,
                width,
                fmt1,
            ),
        }
    }
    out.push(']');
}

impl<T: fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 16;
        write!(
            f,
            "Array(shape={}, data={:?}",
            fmt_shape(self.shape()),
            &self.data[..self.data.len().min(SHOWN)]
        )?;
        if self.data.len() > SHOWN {
            write!(f, " and {} more", self.data.len() - SHOWN)?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_inline_and_on_the_heap_behave_alike() {
        for dims in [vec![], vec![3], vec![2, 3, 4, 5], vec![1, 2, 3, 4, 5, 6]] {
            let a = Dims::from(dims.as_slice());
            let b = Dims::from(dims.clone());
            assert_eq!(a.as_slice(), dims.as_slice());
            assert_eq!(b.as_slice(), dims.as_slice());
            assert!(a == b && a == Dims::Heap(dims.clone()));
            assert_eq!(matches!(a, Dims::Heap(_)), dims.len() > INLINE_DIMS);
            let last = Dims::with_last(&dims, 9);
            let mut want = dims.clone();
            match want.last_mut() {
                Some(l) => *l = 9,
                None => want.push(9),
            }
            assert_eq!(last.as_slice(), want.as_slice());
        }
        let a = Array::from_vec(vec![0.0f32; 720], &[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(
            a.reshape(&[6, 5, 4, 3, 2, 1]).unwrap().shape(),
            &[6, 5, 4, 3, 2, 1]
        );
        assert_eq!(a.clone(), a);
        assert_ne!(a.reshape(&[720]).unwrap(), a);
    }
}
