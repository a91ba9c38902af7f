//! Softmax and log-softmax along one axis, and their vector-Jacobian product.

use super::isa::vectorized_over;
use crate::tensor::array::Element;

/// Softmax (or log-softmax) of `x` along the middle dimension of `(outer, n, inner)`,
/// subtracting the maximum first so that large logits stay finite. Masked positions (`-inf`)
/// get probability 0; a row masked entirely gets 0 everywhere (`-inf` for log-softmax) rather
/// than the NaN of `0/0`, so that a fully masked attention row contributes nothing.
pub fn softmax<T: Element>(x: &[T], dims: (usize, usize, usize), log: bool, out: &mut [T]) {
    let (outer, n, inner) = dims;
    let row = |xs: &[T], os: &mut [T], inner_i: usize| {
        let at = |j: usize| j * inner + inner_i;
        let mut m = T::neg_infinity();
        for j in 0..n {
            if xs[at(j)] > m {
                m = xs[at(j)];
            }
        }
        if m == T::neg_infinity() {
            let fill = if log { T::neg_infinity() } else { T::ZERO };
            for j in 0..n {
                os[at(j)] = fill;
            }
            return;
        }
        let mut s = T::ZERO;
        for j in 0..n {
            let e = (xs[at(j)] - m).exp();
            os[at(j)] = e;
            s = s + e;
        }
        if log {
            let ls = s.ln();
            for j in 0..n {
                os[at(j)] = xs[at(j)] - m - ls;
            }
        } else {
            let inv = T::ONE / s;
            for j in 0..n {
                os[at(j)] = os[at(j)] * inv;
            }
        }
    };
    let block = n * inner;
    if block == 0 {
        return;
    }
    if inner == 1 {
        // Rows lie contiguous (the last dimension): each pass over a row is a loop of its own,
        // so that the exponentials become vector code; the sums keep their order.
        return vectorized_over(
            x.len(),
            #[inline(always)]
            || {
                for (xs, os) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)).take(outer) {
                    let m = xs
                        .iter()
                        .fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
                    if m == T::neg_infinity() {
                        os.fill(if log { T::neg_infinity() } else { T::ZERO });
                        continue;
                    }
                    for (o, &v) in os.iter_mut().zip(xs) {
                        *o = (v - m).exp();
                    }
                    let s = os.iter().fold(T::ZERO, |s, &e| s + e);
                    if log {
                        let ls = s.ln();
                        for (o, &v) in os.iter_mut().zip(xs) {
                            *o = v - m - ls;
                        }
                    } else {
                        let inv = T::ONE / s;
                        for o in os.iter_mut() {
                            *o = *o * inv;
                        }
                    }
                }
            },
        );
    }
    for (xs, os) in x.chunks(block).zip(out.chunks_mut(block)).take(outer) {
        for i in 0..inner {
            row(xs, os, i);
        }
    }
}

/// The gradient of softmax (`y · (g − Σ g·y)`) or log-softmax (`g − e^y · Σ g`) along the middle
/// dimension of `(outer, n, inner)`, given the output `y` and its adjoint `g`.
pub fn softmax_backward<T: Element>(
    y: &[T],
    g: &[T],
    dims: (usize, usize, usize),
    log: bool,
    out: &mut [T],
) {
    let (_, n, inner) = dims;
    let block = n * inner;
    if block == 0 {
        return;
    }
    if inner == 1 {
        // Contiguous rows, as in softmax: the sum in order, the products as vector code.
        return vectorized_over(
            y.len(),
            #[inline(always)]
            || {
                for ((ys, gs), os) in y
                    .chunks_exact(n)
                    .zip(g.chunks_exact(n))
                    .zip(out.chunks_exact_mut(n))
                {
                    if log {
                        let s = gs.iter().fold(T::ZERO, |s, &g| s + g);
                        for ((o, &y), &g) in os.iter_mut().zip(ys).zip(gs) {
                            *o = g - y.exp() * s;
                        }
                    } else {
                        let s = gs.iter().zip(ys).fold(T::ZERO, |s, (&g, &y)| s + g * y);
                        for ((o, &y), &g) in os.iter_mut().zip(ys).zip(gs) {
                            *o = y * (g - s);
                        }
                    }
                }
            },
        );
    }
    for ((ys, gs), os) in y
        .chunks(block)
        .zip(g.chunks(block))
        .zip(out.chunks_mut(block))
    {
        for i in 0..inner {
            let at = |j: usize| j * inner + i;
            let mut s = T::ZERO;
            for j in 0..n {
                s = s + if log {
                    gs[at(j)]
                } else {
                    gs[at(j)] * ys[at(j)]
                };
            }
            for j in 0..n {
                let (y, g) = (ys[at(j)], gs[at(j)]);
                os[at(j)] = if log { g - y.exp() * s } else { y * (g - s) };
            }
        }
    }
}
