//! Reductions (sum, max and min over any set of axes) and their adjoint for broadcasting:
//! summing a gradient back down to the shape an input was broadcast from.

use rayon::prelude::*;

use super::elementwise::Broadcast;
use super::parallel::{CHUNK, PAR_MIN};
use crate::tensor::array::Element;

/// The kind of a reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// Sum.
    Sum,
    /// Largest element.
    Max,
    /// Smallest element.
    Min,
}

impl Reduce {
    fn identity<T: Element>(self) -> T {
        match self {
            Reduce::Sum => T::ZERO,
            Reduce::Max => T::neg_infinity(),
            Reduce::Min => -T::neg_infinity(),
        }
    }
}

/// Whether `v` is NaN (the only value not comparable with itself); NaN wins in max and min, as
/// in PyTorch.
#[inline(always)]
pub(crate) fn is_nan<T: PartialOrd>(v: T) -> bool {
    v.partial_cmp(&v).is_none()
}

#[inline(always)]
fn fold_slice<T: Element>(kind: Reduce, x: &[T]) -> T {
    match kind {
        Reduce::Sum => {
            // Eight independent accumulators: vectorisable and more accurate than one.
            let mut acc = [T::ZERO; 8];
            let mut chunks = x.chunks_exact(8);
            for c in &mut chunks {
                for k in 0..8 {
                    acc[k] = acc[k] + c[k];
                }
            }
            let mut s = T::ZERO;
            for &v in chunks.remainder() {
                s = s + v;
            }
            let pairs = [
                acc[0] + acc[4],
                acc[1] + acc[5],
                acc[2] + acc[6],
                acc[3] + acc[7],
            ];
            s + ((pairs[0] + pairs[2]) + (pairs[1] + pairs[3]))
        }
        Reduce::Max => x.iter().fold(
            T::neg_infinity(),
            |m, &v| if v > m || is_nan(v) { v } else { m },
        ),
        Reduce::Min => x.iter().fold(
            -T::neg_infinity(),
            |m, &v| if v < m || is_nan(v) { v } else { m },
        ),
    }
}

#[inline(always)]
fn combine<T: Element>(kind: Reduce, a: T, b: T) -> T {
    match kind {
        Reduce::Sum => a + b,
        Reduce::Max => {
            if b > a || is_nan(b) {
                b
            } else {
                a
            }
        }
        Reduce::Min => {
            if b < a || is_nan(b) {
                b
            } else {
                a
            }
        }
    }
}

/// Reduces `x` of shape `shape` over the axes in `mask` into `out`, laid out in the kept-dimension
/// shape (reduced axes of size 1).
pub fn reduce<T: Element>(kind: Reduce, x: &[T], shape: &[usize], mask: u64, out: &mut [T]) {
    if out.len() == 1 {
        out[0] = if x.len() >= PAR_MIN {
            x.par_chunks(CHUNK)
                .map(|c| fold_slice(kind, c))
                .reduce(|| kind.identity(), |a, b| combine(kind, a, b))
        } else {
            fold_slice(kind, x)
        };
        return;
    }
    out.fill(kind.identity());
    if x.is_empty() {
        return;
    }
    let nd = shape.len();
    let kept: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if mask & (1 << i) != 0 { 1 } else { d })
        .collect();
    let plan = Broadcast::new(shape, &[&kept]);
    let len = shape[nd - 1];
    let last_reduced = mask & (1 << (nd - 1)) != 0;
    for (r, row) in x.chunks(len).enumerate() {
        let off = plan.row_offset(0, r);
        if last_reduced {
            out[off] = combine(kind, out[off], fold_slice(kind, row));
        } else {
            for (o, &v) in out[off..off + len].iter_mut().zip(row) {
                *o = combine(kind, *o, v);
            }
        }
    }
}

/// Sums `g` of shape `g_shape` down to `shape` (the shape it was broadcast from): the gradient
/// of a broadcast input (a copy when nothing was broadcast).
pub fn sum_to_shape<T: Element>(g: &[T], g_shape: &[usize], shape: &[usize], out: &mut [T]) {
    if g.len() == out.len() {
        out.copy_from_slice(g);
        return;
    }
    let lead = g_shape.len() - shape.len();
    let mut mask = 0u64;
    for (i, &d) in g_shape.iter().enumerate() {
        if i < lead || (shape[i - lead] == 1 && d != 1) {
            mask |= 1 << i;
        }
    }
    reduce(Reduce::Sum, g, g_shape, mask, out);
}

/// The running sum of `x` along the middle axis of `(outer, len, inner)` (see
/// [`crate::tensor::kernels::around`]) into `out`, from the start, or from the end when
/// `reverse` (the adjoint of the forward sum).
pub fn cumsum<T: Element>(
    x: &[T],
    (outer, len, inner): (usize, usize, usize),
    reverse: bool,
    out: &mut [T],
) {
    for o in 0..outer {
        let base = o * len * inner;
        let mut acc = vec![T::ZERO; inner];
        for step in 0..len {
            let k = if reverse { len - 1 - step } else { step };
            let row = base + k * inner;
            for ((a, o), &v) in acc
                .iter_mut()
                .zip(&mut out[row..row + inner])
                .zip(&x[row..row + inner])
            {
                *a = *a + v;
                *o = *a;
            }
        }
    }
}

/// The index along the middle axis of `(outer, len, inner)` of the largest element (or the
/// smallest, if not `largest`) of each line, into `out` (`outer · inner` entries): the first
/// one on ties, and the first NaN if there is one, as PyTorch's `argmax` and `argmin`.
/// `len` must not be 0.
pub fn arg_extreme<T: Element>(
    x: &[T],
    (outer, len, inner): (usize, usize, usize),
    largest: bool,
    out: &mut [usize],
) {
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| x[(o * len + k) * inner + i];
            let (mut best, mut arg) = (at(0), 0);
            for k in 1..len {
                if is_nan(best) {
                    break;
                }
                let v = at(k);
                if is_nan(v) || (largest && v > best) || (!largest && v < best) {
                    (best, arg) = (v, k);
                }
            }
            out[o * inner + i] = arg;
        }
    }
}
