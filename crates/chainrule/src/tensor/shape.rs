//! Shapes: row-major strides, NumPy broadcasting, axis arguments, and the error type that names
//! the op and the shapes involved.

use std::fmt;

/// A shape error, or any other misuse of a tensor operation, as a value.
///
/// Its message names the op and the shapes, for example
/// `matmul: cannot multiply [3, 4] by [5, 2]: inner dimensions 4 and 5 differ`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorError {
    /// The operation that refused its inputs (`add`, `matmul`, `sum`, ...).
    pub op: &'static str,
    /// What was wrong, naming the shapes involved.
    pub message: String,
}

impl TensorError {
    /// An error of `op` with a message.
    pub fn new(op: &'static str, message: impl Into<String>) -> Self {
        TensorError {
            op,
            message: message.into(),
        }
    }
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.message)
    }
}

impl std::error::Error for TensorError {}

/// The result of a tensor operation.
pub type Result<T, E = TensorError> = std::result::Result<T, E>;

/// Formats a shape as PyTorch prints it, `[2, 3]`.
pub fn fmt_shape(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// The number of elements of a shape (1 for the scalar shape `[]`).
#[inline]
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major (C order) strides of a shape, in elements.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The shape two shapes broadcast to under NumPy's rules: align from the right; each pair of
/// sizes must be equal or contain a 1.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    // From the right, as NumPy and PyTorch report the first mismatch.
    for i in (0..n).rev() {
        let da = if i < n - a.len() {
            1
        } else {
            a[i - (n - a.len())]
        };
        let db = if i < n - b.len() {
            1
        } else {
            b[i - (n - b.len())]
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(TensorError::new(
                op,
                format!(
                    "cannot broadcast {} with {}: sizes {da} and {db} differ in dimension {i} of the result",
                    fmt_shape(a),
                    fmt_shape(b)
                ),
            ));
        };
    }
    Ok(out)
}

/// Strides with which to read a tensor of shape `shape` as if it had the (broadcast) shape
/// `target`: 0 along the dimensions that are broadcast.
pub fn broadcast_strides(shape: &[usize], target: &[usize]) -> Vec<usize> {
    let offset = target.len() - shape.len();
    let own = strides(shape);
    (0..target.len())
        .map(|i| {
            if i < offset || shape[i - offset] == 1 {
                0
            } else {
                own[i - offset]
            }
        })
        .collect()
}

/// Resolves a list of sizes for a tensor of shape `from` (as `torch.reshape`): a single `-1` is
/// inferred from the element count; any other negative size, or sizes whose product is not the
/// element count, is an error of `op`.
pub fn resolve_shape(op: &'static str, from: &[usize], dims: &[isize]) -> Result<Vec<usize>> {
    let total = numel(from);
    let bad = || {
        TensorError::new(
            op,
            format!(
                "cannot reshape {} into {dims:?}: {total} elements",
                fmt_shape(from)
            ),
        )
    };
    if dims.iter().filter(|&&d| d < 0).count() > 1 || dims.iter().any(|&d| d < -1) {
        return Err(bad());
    }
    // Checked: the sizes come from the caller and may be absurd.
    let known = dims
        .iter()
        .filter(|&&d| d >= 0)
        .try_fold(1usize, |a, &d| a.checked_mul(d as usize))
        .ok_or_else(bad)?;
    let inferred = dims.contains(&-1);
    if inferred && known == 0 {
        // Any size would do (PyTorch refuses it too).
        return Err(bad());
    }
    let out: Vec<usize> = dims
        .iter()
        .map(|&d| if d < 0 { total / known } else { d as usize })
        .collect();
    match out.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) {
        Some(n) if n == total => Ok(out),
        _ => Err(bad()),
    }
}

/// Resolves a possibly negative axis (`-1` is the last) against `ndim` dimensions.
pub fn norm_axis(op: &'static str, axis: isize, shape: &[usize]) -> Result<usize> {
    norm_axis_n(op, axis, shape, shape.len())
}

/// Like [`norm_axis`], for an op (such as `unsqueeze` or `stack`) whose valid axes run to `ndim`
/// inclusive.
pub fn norm_axis_n(op: &'static str, axis: isize, shape: &[usize], ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n.max(0) {
        return Err(TensorError::new(
            op,
            format!("axis {axis} is out of range for shape {}", fmt_shape(shape)),
        ));
    }
    Ok(a as usize)
}

/// Resolves the axis of an operation that, as PyTorch's reductions, `softmax` or `cumsum`,
/// accepts axis 0 (or -1) of a 0-d tensor, as if it had one axis of size 1: `None` for that
/// axis, which there is nothing to do along; otherwise as [`norm_axis`].
pub fn norm_axis_or_scalar(
    op: &'static str,
    axis: isize,
    shape: &[usize],
) -> Result<Option<usize>> {
    if shape.is_empty() && (axis == 0 || axis == -1) {
        return Ok(None);
    }
    norm_axis(op, axis, shape).map(Some)
}

/// The set of reduced axes as a bit mask (at most 64 dimensions), rejecting repeats. Axis 0
/// (or -1) of a 0-d tensor is accepted and reduces nothing, as in PyTorch.
pub fn axes_mask(op: &'static str, axes: &[isize], shape: &[usize]) -> Result<u64> {
    if shape.len() > 64 {
        return Err(TensorError::new(op, "more than 64 dimensions"));
    }
    let mut mask = 0u64;
    for &a in axes {
        let Some(a) = norm_axis_or_scalar(op, a, shape)? else {
            continue;
        };
        if mask & (1 << a) != 0 {
            return Err(TensorError::new(
                op,
                format!("axis {a} is repeated for shape {}", fmt_shape(shape)),
            ));
        }
        mask |= 1 << a;
    }
    Ok(mask)
}

/// The shape after reducing the axes in `mask`, keeping them as size 1 or dropping them.
pub fn reduced_shape(shape: &[usize], mask: u64, keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| {
            if mask & (1 << i) == 0 {
                Some(d)
            } else if keepdim {
                Some(1)
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes("add", &[3, 1], &[1, 4]).unwrap(), [3, 4]);
        assert_eq!(
            broadcast_shapes("add", &[2, 3, 4], &[4]).unwrap(),
            [2, 3, 4]
        );
        assert_eq!(broadcast_shapes("add", &[], &[2]).unwrap(), [2]);
        assert!(broadcast_shapes("add", &[3], &[4]).is_err());
        assert_eq!(strides(&[2, 3, 4]), [12, 4, 1]);
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), [0, 1, 0]);
    }
}
