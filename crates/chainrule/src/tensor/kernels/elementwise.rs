//! Element-wise loops: maps over one to four slices, broadcasting, and expanding an input to a
//! broadcast shape. The rules come in as closures (see [`crate::ops::Kernel1`] and its
//! siblings), chosen by one `match` outside the loop, so each rule is inlined into its own
//! tight loop; contiguous inputs take a fast path over slices.

use rayon::prelude::*;

use super::isa::vectorized_over;
use super::parallel::{for_chunks, streams, write_blocks, PAR_MIN};
use crate::tensor::array::Element;

/// Writes `out` through `body(dst, at)`, which fills `dst` with elements `at..at + dst.len()`:
/// in chunks across threads, each chunk's loop compiled for the widest instruction set worth its
/// length, and by streaming stores when `out` is too large to keep in cache.
#[inline(always)]
fn fill<T: Element>(out: &mut [T], body: impl Fn(&mut [T], usize) + Sync) {
    let stream = streams::<T>(out.len());
    for_chunks(out, |o, s| {
        vectorized_over(
            o.len(),
            #[inline(always)]
            || {
                write_blocks(
                    o,
                    stream,
                    #[inline(always)]
                    |o, t| body(o, s + t),
                )
            },
        )
    });
}

/// `out[i] = f(x[i])`.
#[inline]
pub fn map1<T: Element>(x: &[T], out: &mut [T], f: impl Fn(T) -> T + Sync) {
    assert_eq!(x.len(), out.len());
    fill(
        out,
        #[inline(always)]
        |o, at| {
            for (o, &v) in o.iter_mut().zip(&x[at..]) {
                *o = f(v);
            }
        },
    );
}

/// `out[i] = f(a[i], b[i], c[i])` over three slices of one length.
#[inline]
pub fn map3<T: Element>(a: &[T], b: &[T], c: &[T], out: &mut [T], f: impl Fn(T, T, T) -> T + Sync) {
    let n = out.len();
    assert!(a.len() == n && b.len() == n && c.len() == n);
    fill(
        out,
        #[inline(always)]
        |o, at| {
            let (a, b, c) = (&a[at..], &b[at..], &c[at..]);
            for (((o, &a), &b), &c) in o.iter_mut().zip(a).zip(b).zip(c) {
                *o = f(a, b, c);
            }
        },
    );
}

/// `out[i] = f(a[i], b[i], c[i], d[i])` over four slices of one length.
#[inline]
pub fn map4<T: Element>(
    a: &[T],
    b: &[T],
    c: &[T],
    d: &[T],
    out: &mut [T],
    f: impl Fn(T, T, T, T) -> T + Sync,
) {
    let n = out.len();
    assert!(a.len() == n && b.len() == n && c.len() == n && d.len() == n);
    fill(
        out,
        #[inline(always)]
        |o, at| {
            let (a, b, c, d) = (&a[at..], &b[at..], &c[at..], &d[at..]);
            let ins = a.iter().zip(b).zip(c).zip(d);
            for (o, (((&a, &b), &c), &d)) in o.iter_mut().zip(ins) {
                *o = f(a, b, c, d);
            }
        },
    );
}

/// How to read an input of a broadcast operation row by row: the offset of each row of the
/// output's last dimension, and whether the row is read (stride 1) or repeated (stride 0).
pub struct Broadcast {
    out_shape: Vec<usize>,
    /// Strides of each input in the output's dimensions (0 where broadcast).
    strides: Vec<Vec<usize>>,
}

impl Broadcast {
    /// The plan for reading inputs of the given shapes at `out_shape`.
    pub fn new(out_shape: &[usize], inputs: &[&[usize]]) -> Self {
        Broadcast {
            out_shape: out_shape.to_vec(),
            strides: inputs
                .iter()
                .map(|s| crate::tensor::shape::broadcast_strides(s, out_shape))
                .collect(),
        }
    }

    /// Length of a row (the last output dimension; 1 for a scalar).
    pub fn row_len(&self) -> usize {
        self.out_shape.last().copied().unwrap_or(1)
    }

    /// The inner stride (0 or 1) of input `k`.
    pub fn inner(&self, k: usize) -> usize {
        self.strides[k].last().copied().unwrap_or(0)
    }

    /// The offset into input `k` of output row `r`.
    #[inline]
    pub fn row_offset(&self, k: usize, mut r: usize) -> usize {
        let st = &self.strides[k];
        let nd = self.out_shape.len();
        let mut off = 0;
        if nd < 2 {
            return 0;
        }
        for d in (0..nd - 1).rev() {
            let size = self.out_shape[d];
            off += (r % size) * st[d];
            r /= size;
        }
        off
    }
}

/// `out = f(a, b)` with `a` and `b` broadcast to `out_shape`.
pub fn binary<T: Element>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
    out: &mut [T],
    f: impl Fn(T, T) -> T + Sync + Copy,
) {
    let n = out.len();
    if a.len() == n && b.len() == n {
        fill(
            out,
            #[inline(always)]
            |o, at| {
                for ((o, &x), &y) in o.iter_mut().zip(&a[at..]).zip(&b[at..]) {
                    *o = f(x, y);
                }
            },
        );
        return;
    }
    if b.len() == 1 && a.len() == n {
        let s = b[0];
        return map1(a, out, move |x| f(x, s));
    }
    if a.len() == 1 && b.len() == n {
        let s = a[0];
        return map1(b, out, move |y| f(s, y));
    }
    let plan = Broadcast::new(out_shape, &[a_shape, b_shape]);
    let len = plan.row_len();
    let (ia, ib) = (plan.inner(0), plan.inner(1));
    let row = |r: usize, o: &mut [T]| {
        let (oa, ob) = (plan.row_offset(0, r), plan.row_offset(1, r));
        vectorized_over(
            len,
            #[inline(always)]
            || match (ia, ib) {
                (1, 1) => {
                    for ((o, &x), &y) in o.iter_mut().zip(&a[oa..oa + len]).zip(&b[ob..ob + len]) {
                        *o = f(x, y);
                    }
                }
                (1, _) => {
                    let y = b[ob];
                    for (o, &x) in o.iter_mut().zip(&a[oa..oa + len]) {
                        *o = f(x, y);
                    }
                }
                (_, 1) => {
                    let x = a[oa];
                    for (o, &y) in o.iter_mut().zip(&b[ob..ob + len]) {
                        *o = f(x, y);
                    }
                }
                _ => o.fill(f(a[oa], b[ob])),
            },
        )
    };
    if len == 0 {
        return;
    }
    if n >= PAR_MIN {
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|(r, o)| row(r, o));
    } else {
        out.chunks_mut(len).enumerate().for_each(|(r, o)| row(r, o));
    }
}

/// Copies `x` of shape `shape` broadcast to `out_shape` into `out`.
pub fn expand<T: Element>(x: &[T], shape: &[usize], out_shape: &[usize], out: &mut [T]) {
    if x.len() == out.len() {
        out.copy_from_slice(x);
        return;
    }
    let plan = Broadcast::new(out_shape, &[shape]);
    let len = plan.row_len();
    if len == 0 {
        return;
    }
    let inner = plan.inner(0);
    for (r, o) in out.chunks_mut(len).enumerate() {
        let off = plan.row_offset(0, r);
        if inner == 1 {
            o.copy_from_slice(&x[off..off + len]);
        } else {
            o.fill(x[off]);
        }
    }
}
