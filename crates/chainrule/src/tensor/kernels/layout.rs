//! Moves of data between layouts: permuting axes, and splitting a shape around an axis.

use crate::tensor::array::Element;
use crate::tensor::shape::{numel, strides};

/// Copies `x` of shape `shape` into `out` with its axes permuted: output axis `i` is input
/// axis `perm[i]`.
pub fn permute<T: Element>(x: &[T], shape: &[usize], perm: &[usize], out: &mut [T]) {
    let st = strides(shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let in_st: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    let nd = out_shape.len();
    if nd == 0 || out.is_empty() {
        out.copy_from_slice(x);
        return;
    }
    let len = out_shape[nd - 1];
    let inner = in_st[nd - 1];
    for (r, o) in out.chunks_mut(len).enumerate() {
        let mut rem = r;
        let mut off = 0;
        for d in (0..nd - 1).rev() {
            off += (rem % out_shape[d]) * in_st[d];
            rem /= out_shape[d];
        }
        if inner == 1 {
            o.copy_from_slice(&x[off..off + len]);
        } else {
            for (j, v) in o.iter_mut().enumerate() {
                *v = x[off + j * inner];
            }
        }
    }
}

/// Splits a shape around `axis` into `(outer, size, inner)` element counts.
pub fn around(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    )
}
