//! Moves of data between layouts: permuting axes, reversing them, copying into a window
//! (padding and cropping), and splitting a shape around an axis.

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

/// Copies `x` of shape `shape` into `out` reversed along the axes in `mask`.
pub fn flip<T: Element>(x: &[T], shape: &[usize], mask: u64, out: &mut [T]) {
    let nd = shape.len();
    if nd == 0 || out.is_empty() {
        out.copy_from_slice(x);
        return;
    }
    let st = strides(shape);
    let len = shape[nd - 1];
    let reverse_rows = mask & (1 << (nd - 1)) != 0;
    for (r, o) in out.chunks_mut(len).enumerate() {
        let mut rem = r;
        let mut off = 0;
        for d in (0..nd - 1).rev() {
            let i = rem % shape[d];
            rem /= shape[d];
            let i = if mask & (1 << d) != 0 {
                shape[d] - 1 - i
            } else {
                i
            };
            off += i * st[d];
        }
        let src = &x[off..off + len];
        if reverse_rows {
            for (v, &s) in o.iter_mut().zip(src.iter().rev()) {
                *v = s;
            }
        } else {
            o.copy_from_slice(src);
        }
    }
}

/// Copies `x` of shape `xs` into `out` of shape `os` with its first element at `offset` (per
/// dimension; negative where `x` starts before `out`, so that part is cropped), and fills the
/// rest of `out` with `fill`: a padding, a crop, or both.
pub fn window<T: Element>(
    x: &[T],
    xs: &[usize],
    offset: &[isize],
    out: &mut [T],
    os: &[usize],
    fill: T,
) {
    out.fill(fill);
    let nd = os.len();
    if out.is_empty() || x.is_empty() {
        return;
    }
    if nd == 0 {
        out[0] = x[0];
        return;
    }
    // The overlap, in `out`'s coordinates: `lo[d]..hi[d]` along dimension `d`.
    let mut lo = vec![0usize; nd];
    let mut hi = vec![0usize; nd];
    for d in 0..nd {
        let l = offset[d].max(0);
        let h = (offset[d] + xs[d] as isize).min(os[d] as isize);
        if h <= l {
            return;
        }
        (lo[d], hi[d]) = (l as usize, h as usize);
    }
    let (xst, ost) = (strides(xs), strides(os));
    let len = hi[nd - 1] - lo[nd - 1];
    let rows: usize = (0..nd - 1).map(|d| hi[d] - lo[d]).product();
    for r in 0..rows {
        let mut rem = r;
        let (mut xo, mut oo) = (0, 0);
        for d in (0..nd).rev() {
            let i = if d == nd - 1 {
                lo[d]
            } else {
                let ext = hi[d] - lo[d];
                let i = lo[d] + rem % ext;
                rem /= ext;
                i
            };
            oo += i * ost[d];
            xo += (i as isize - offset[d]) as usize * xst[d];
        }
        out[oo..oo + len].copy_from_slice(&x[xo..xo + len]);
    }
}
