//! The argument types tensor operations accept, so that one call reads the same on every
//! operation, whatever integer type the caller holds:
//!
//! - [`IntoShape`]: dimension sizes, for [`Tensor::reshape`](super::Tensor::reshape),
//!   [`Array::reshape`](super::Array::reshape), `expand`, `unflatten`, `repeat`: `&[2, 3]`,
//!   `&[-1, 3]`, `&v` for a `Vec` or a slice of `usize`, `isize`, `i32` or `i64`;
//! - [`IntoIndices`]: positions along an axis, for `gather`, `index_select`, `scatter`: `&[2, 0]`,
//!   `&v` for a `Vec<usize>`, or `&a` for an [`Array<usize>`] (with its shape);
//! - [`SplitSizes`]: the `split_size_or_sections` of `split`: one size, or a list of sizes;
//! - [`SliceIndex`]: a bound of `slice`: any integer type, negative counting from the end, or
//!   `None` for "to the end" (as Python's `x[a:]`).
//!
//! Why traits rather than one type: `Tensor::reshape` used to take `&[isize]` and
//! `Array::reshape` `&[usize]`, `gather` an `Array<usize>` and `index_select` a slice, so code
//! moving a shape or an index from one to the other needed conversions. Integer literals work
//! with all of them (`reshape(&[-1, 3])` is read as `i32`s). Each is implemented for borrowed
//! forms only (`&[..]`, `&v`, `&a`): with an owned form beside it, Clippy would ask for the
//! borrow to be dropped at every call written `reshape(&[2, 3])`, the form used everywhere.

use super::array::Array;

mod sealed {
    pub trait Sealed {}
}

/// One integer in a shape or slice argument: `usize`, `isize`, `i32` or `i64` (sealed).
pub trait Dim: Copy + sealed::Sealed {
    /// The value as an `isize`, saturating (a size past `isize::MAX` cannot be allocated, so
    /// it fails the operation's check as too large).
    fn to_isize(self) -> isize;
}

impl sealed::Sealed for usize {}
impl Dim for usize {
    fn to_isize(self) -> isize {
        isize::try_from(self).unwrap_or(isize::MAX)
    }
}
impl sealed::Sealed for isize {}
impl Dim for isize {
    fn to_isize(self) -> isize {
        self
    }
}
impl sealed::Sealed for i32 {}
impl Dim for i32 {
    fn to_isize(self) -> isize {
        self as isize
    }
}
impl sealed::Sealed for i64 {}
impl Dim for i64 {
    fn to_isize(self) -> isize {
        isize::try_from(self).unwrap_or(if self < 0 { isize::MIN } else { isize::MAX })
    }
}

/// A list of dimension sizes; `-1` is a size the operation infers (`reshape`, `unflatten`) or
/// keeps (`expand`).
///
/// ```
/// use chainrule::tensor::{Array, Tape};
///
/// let a = Array::<f32>::zeros(&[2, 6]);
/// let sizes: Vec<usize> = vec![3, 4];
/// assert_eq!(a.reshape(&sizes).unwrap().shape(), &[3, 4]);
/// assert_eq!(a.reshape(&[-1, 3]).unwrap().shape(), &[4, 3]);
/// let tape = Tape::<f32>::new();
/// let t = tape.constant(a);
/// assert_eq!(t.reshape(&[12]).unwrap().shape(), vec![12]);
/// assert_eq!(t.reshape(&sizes).unwrap().shape(), vec![3, 4]);
/// ```
pub trait IntoShape {
    /// The sizes as signed integers.
    fn into_dims(self) -> Vec<isize>;
}

impl<D: Dim> IntoShape for &[D] {
    fn into_dims(self) -> Vec<isize> {
        self.iter().map(|d| d.to_isize()).collect()
    }
}
impl<D: Dim, const N: usize> IntoShape for &[D; N] {
    fn into_dims(self) -> Vec<isize> {
        self.as_slice().into_dims()
    }
}
impl<D: Dim> IntoShape for &Vec<D> {
    fn into_dims(self) -> Vec<isize> {
        self.as_slice().into_dims()
    }
}

/// Positions along an axis: a list (one-dimensional) or an [`Array<usize>`] with its shape.
///
/// ```
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f32>::new();
/// let x = tape.constant(Array::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap());
/// let picks: Vec<usize> = vec![2, 0];
/// let as_array = Array::from_slice(&[2, 0]);
/// for y in [x.index_select(0, &picks), x.index_select(0, &[2, 0]), x.gather(0, &as_array)] {
///     assert_eq!(y.unwrap().to_vec(), vec![3.0, 1.0]);
/// }
/// ```
pub trait IntoIndices {
    /// The indices as an array (a list becomes one-dimensional).
    fn into_indices(self) -> Array<usize>;
}

impl IntoIndices for &[usize] {
    fn into_indices(self) -> Array<usize> {
        Array::from_slice(self)
    }
}
impl<const N: usize> IntoIndices for &[usize; N] {
    fn into_indices(self) -> Array<usize> {
        Array::from_slice(self)
    }
}
impl IntoIndices for &Vec<usize> {
    fn into_indices(self) -> Array<usize> {
        Array::from_slice(self)
    }
}
impl IntoIndices for &Array<usize> {
    /// Shares the array's data (no copy).
    fn into_indices(self) -> Array<usize> {
        self.clone()
    }
}

/// How `split` cuts a dimension (PyTorch's `split_size_or_sections`): pieces of one size (the
/// last one smaller when the size does not divide), or the list of the pieces' sizes.
pub trait SplitSizes {
    /// The sizes of the pieces of a dimension of size `n`; `Err` with the reason when they do
    /// not fit.
    fn sizes_for(self, n: usize) -> Result<Vec<usize>, String>;
}

impl SplitSizes for usize {
    fn sizes_for(self, n: usize) -> Result<Vec<usize>, String> {
        if self == 0 {
            // As PyTorch: a size of 0 only splits an empty dimension, into one empty piece.
            return if n == 0 {
                Ok(vec![0])
            } else {
                Err(format!(
                    "split size 0 can only split a dimension of size 0, not {n}"
                ))
            };
        }
        if n == 0 {
            return Ok(vec![0]);
        }
        Ok((0..n)
            .step_by(self)
            .map(|start| self.min(n - start))
            .collect())
    }
}
impl SplitSizes for &[usize] {
    fn sizes_for(self, n: usize) -> Result<Vec<usize>, String> {
        let total = self.iter().try_fold(0usize, |a, &b| a.checked_add(b));
        if total != Some(n) {
            return Err(format!(
                "sizes {self:?} do not add up to the dimension's size {n}"
            ));
        }
        Ok(self.to_vec())
    }
}
impl<const N: usize> SplitSizes for &[usize; N] {
    fn sizes_for(self, n: usize) -> Result<Vec<usize>, String> {
        self.as_slice().sizes_for(n)
    }
}
impl SplitSizes for &Vec<usize> {
    fn sizes_for(self, n: usize) -> Result<Vec<usize>, String> {
        self.as_slice().sizes_for(n)
    }
}

/// A bound of [`Tensor::slice`](super::Tensor::slice): an integer of any [`Dim`] type (negative
/// counts from the end), or an `Option` of one, where `None` is the end of the dimension for the
/// stop (and its start for the start), as an empty bound in Python's `x[a:]`.
pub trait SliceIndex: Copy {
    /// The bound as an `isize`, `None` where it was left out.
    fn to_bound(self) -> Option<isize>;
}

impl<D: Dim> SliceIndex for D {
    fn to_bound(self) -> Option<isize> {
        Some(self.to_isize())
    }
}
impl SliceIndex for Option<isize> {
    fn to_bound(self) -> Option<isize> {
        self
    }
}

/// Python's slice bounds: `start..stop` with `step > 0` resolved against a dimension of size
/// `n`, negative bounds counting from the end and out-of-range ones clamped. Returns the first
/// position and the number of elements taken.
pub(crate) fn resolve_slice(
    start: Option<isize>,
    stop: Option<isize>,
    step: usize,
    n: usize,
) -> (usize, usize) {
    let n_i = n as isize;
    let clamp = |b: isize| -> usize {
        let b = if b < 0 { b.saturating_add(n_i) } else { b };
        b.clamp(0, n_i) as usize
    };
    let start = start.map_or(0, clamp);
    let stop = stop.map_or(n, clamp);
    let len = if stop > start {
        (stop - start).div_ceil(step)
    } else {
        0
    };
    (start, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_python() {
        // a = list(range(10)): a[-3:], a[2:100:3], a[8:2], a[-100:3]
        assert_eq!(resolve_slice(Some(-3), None, 1, 10), (7, 3));
        assert_eq!(resolve_slice(Some(2), Some(100), 3, 10), (2, 3));
        assert_eq!(resolve_slice(Some(8), Some(2), 1, 10).1, 0);
        assert_eq!(resolve_slice(Some(-100), Some(3), 1, 10), (0, 3));
        assert_eq!(resolve_slice(None, None, 4, 0), (0, 0));
        assert_eq!(
            resolve_slice(Some(isize::MIN), Some(isize::MAX), 1, 5),
            (0, 5)
        );
    }

    #[test]
    fn split_sizes_follow_pytorch() {
        assert_eq!(2usize.sizes_for(5).unwrap(), [2, 2, 1]);
        assert_eq!(2usize.sizes_for(0).unwrap(), [0]);
        assert_eq!(0usize.sizes_for(0).unwrap(), [0]);
        assert!(0usize.sizes_for(3).is_err());
        assert_eq!((&[1, 0, 2]).sizes_for(3).unwrap(), [1, 0, 2]);
        assert!((&[1, 1]).sizes_for(3).is_err());
        assert!((&[usize::MAX, 2]).sizes_for(1).is_err());
    }
}
