//! The backward rule of each tensor operation, one place each: given a node and the adjoint `g`
//! of its output, compute the adjoint contribution to each input.
//!
//! Element-wise rules are not written here: they are [`crate::ops::Unary::backward`] and
//! [`crate::ops::Binary::backward`], applied per element (see [`super::kernels`]). What lives
//! here is tensor structure: broadcasting (summing back with `sum_to_shape`), matrix products,
//! reductions, softmax, and the moves of data (reshape, permute, slice, gather...).

use super::array::{Array, Element};
use super::forward::{expand_bool, for_gather, MatmulPlan};
use super::kernels::{self, with_binary_backward, with_unary_backward, Reduce};
use super::shape::numel;
use super::tape::{Node, Op, Tape};

/// `out[i] = f(a[i], b[i], c[i], d[i])`.
fn map4<T: Element>(
    a: &[T],
    b: &[T],
    c: &[T],
    d: &[T],
    out: &mut [T],
    f: impl Fn(T, T, T, T) -> T + Sync,
) {
    let stream = kernels::streams::<T>(out.len());
    kernels::for_chunks(out, |o, s| {
        kernels::write_blocks(o, stream, |o, t| {
            let (a, b, c, d) = (&a[s + t..], &b[s + t..], &c[s + t..], &d[s + t..]);
            let ins = a.iter().zip(b).zip(c).zip(d);
            for (o, (((&a, &b), &c), &d)) in o.iter_mut().zip(ins) {
                *o = f(a, b, c, d);
            }
        })
    });
}

/// `y = max` (or `min`) of `x` over the axes in `mask`: the share of the output's derivative
/// each input element takes, at `x`'s shape: `1/ties` where the element equals the extreme,
/// `0` elsewhere (in a buffer of `tape`'s pool). The recorded rule spreads by the same weights.
pub(crate) fn extreme_weights<T: Element>(
    tape: &Tape<T>,
    x: &Array<T>,
    y: &Array<T>,
    mask: u64,
) -> Vec<T> {
    let n = x.numel();
    let mut ye = tape.buffer(n);
    kernels::expand(y.data(), y.shape(), x.shape(), &mut ye);
    let mut hit = tape.buffer(n);
    for ((h, &v), &m) in hit.iter_mut().zip(x.data()).zip(&ye) {
        *h = if v == m { T::ONE } else { T::ZERO };
    }
    let mut count = tape.buffer(y.numel());
    kernels::reduce(Reduce::Sum, &hit, x.shape(), mask, &mut count);
    kernels::expand(&count, y.shape(), x.shape(), &mut ye);
    for (h, &c) in hit.iter_mut().zip(&ye) {
        *h = *h / c;
    }
    tape.recycle(ye);
    tape.recycle(count);
    hit
}

/// Where `clamp(x, lo, hi)` passes its derivative: `lo ≤ x ≤ hi`.
pub(crate) fn clamp_passes<T: Element>(x: T, lo: f64, hi: f64) -> bool {
    x >= T::from_f64(lo) && x <= T::from_f64(hi)
}

/// Calls `emit(input, gradient)` for each input of node `i` that needs a gradient, given the
/// adjoint `g` of the node's output.
pub(crate) fn rule<T: Element>(
    tape: &Tape<T>,
    nodes: &[Node<T>],
    i: usize,
    g: &[T],
    emit: &mut dyn FnMut(usize, Vec<T>),
) {
    let node = &nodes[i];
    let y = &node.value;
    let needs = |j: usize| nodes[j].requires_grad;
    match &node.op {
        Op::Variable | Op::Constant => {}
        &Op::Unary(op, x) => {
            let xv = &nodes[x].value;
            let mut dx = tape.buffer(xv.numel());
            with_unary_backward!(op, T, |f| kernels::map3(xv.data(), y.data(), g, &mut dx, f));
            emit(x, dx);
        }
        &Op::Binary(op, a, b) => {
            let (av, bv) = (&nodes[a].value, &nodes[b].value);
            let shape = y.shape();
            let n = y.numel();
            // Inputs read at the output's shape (copied only when broadcast).
            let expanded = |v: &super::array::Array<T>| -> Option<Vec<T>> {
                (v.numel() != n).then(|| {
                    let mut e = tape.buffer(n);
                    kernels::expand(v.data(), v.shape(), shape, &mut e);
                    e
                })
            };
            let (ea, eb) = (expanded(av), expanded(bv));
            let ad = ea.as_deref().unwrap_or(av.data());
            let bd = eb.as_deref().unwrap_or(bv.data());
            for (input, first) in [(a, true), (b, false)] {
                if !needs(input) {
                    continue;
                }
                let mut full = tape.buffer(n);
                with_binary_backward!(op, T, |f| if first {
                    map4(ad, bd, y.data(), g, &mut full, move |a, b, y, g| {
                        f(a, b, y, g).0
                    })
                } else {
                    map4(ad, bd, y.data(), g, &mut full, move |a, b, y, g| {
                        f(a, b, y, g).1
                    })
                });
                let target = nodes[input].value.shape();
                if numel(target) == n {
                    emit(input, full);
                } else {
                    let mut d = tape.buffer(numel(target));
                    kernels::sum_to_shape(&full, shape, target, &mut d);
                    tape.recycle(full);
                    emit(input, d);
                }
            }
            ea.into_iter().chain(eb).for_each(|b| tape.recycle(b));
        }
        &Op::Linear(x, w, b) => {
            let (xv, wv) = (&nodes[x].value, &nodes[w].value);
            let (n, k, m) = (xv.shape()[0], xv.shape()[1], wv.shape()[0]);
            // Each product overwrites its whole output (no accumulation), so the buffers need no
            // zeroing first, except when the sum is empty.
            if needs(x) {
                // dx = g · w: [n, out] by [out, in].
                let mut dx = if m == 0 {
                    tape.zeroed(n * k)
                } else {
                    tape.buffer(n * k)
                };
                // SAFETY: g is n×m, w is m×k, dx is n×k, all contiguous.
                unsafe {
                    kernels::gemm(
                        n,
                        k,
                        m,
                        dx.as_mut_ptr(),
                        k as isize,
                        1,
                        false,
                        g.as_ptr(),
                        m as isize,
                        1,
                        wv.data().as_ptr(),
                        k as isize,
                        1,
                    );
                }
                emit(x, dx);
            }
            if needs(w) {
                // dw = gᵀ · x: [out, n] by [n, in], gᵀ read in place.
                let mut dw = if n == 0 {
                    tape.zeroed(m * k)
                } else {
                    tape.buffer(m * k)
                };
                // SAFETY: gᵀ is m×n with strides (1, m), x is n×k, dw is m×k.
                unsafe {
                    kernels::gemm(
                        m,
                        k,
                        n,
                        dw.as_mut_ptr(),
                        k as isize,
                        1,
                        false,
                        g.as_ptr(),
                        1,
                        m as isize,
                        xv.data().as_ptr(),
                        k as isize,
                        1,
                    );
                }
                emit(w, dw);
            }
            if needs(b) {
                // db = the column sums of g.
                let mut db = tape.zeroed(m);
                for row in g.chunks_exact(m.max(1)) {
                    for (d, &v) in db.iter_mut().zip(row) {
                        *d = *d + v;
                    }
                }
                emit(b, db);
            }
        }
        &Op::Matmul(a, b) => {
            let (av, bv) = (&nodes[a].value, &nodes[b].value);
            let p = MatmulPlan::new(av.shape(), bv.shape()).expect("checked in forward");
            let (m, k, n) = (p.m, p.k, p.n);
            if needs(a) {
                // dA += g · Bᵀ, summed over broadcast batches by accumulating.
                let mut da = tape.zeroed(av.numel());
                for r in 0..p.batches() {
                    let (oa, ob) = p.offsets(r);
                    // SAFETY: offsets and sizes from the plan stay inside each buffer.
                    unsafe {
                        kernels::gemm(
                            m,
                            k,
                            n,
                            da.as_mut_ptr().add(oa),
                            k as isize,
                            1,
                            true,
                            g.as_ptr().add(r * m * n),
                            n as isize,
                            1,
                            bv.data().as_ptr().add(ob),
                            1,
                            n as isize,
                        );
                    }
                }
                emit(a, da);
            }
            if needs(b) {
                // dB += Aᵀ · g.
                let mut db = tape.zeroed(bv.numel());
                for r in 0..p.batches() {
                    let (oa, ob) = p.offsets(r);
                    // SAFETY: as above.
                    unsafe {
                        kernels::gemm(
                            k,
                            n,
                            m,
                            db.as_mut_ptr().add(ob),
                            n as isize,
                            1,
                            true,
                            av.data().as_ptr().add(oa),
                            1,
                            k as isize,
                            g.as_ptr().add(r * m * n),
                            n as isize,
                            1,
                        );
                    }
                }
                emit(b, db);
            }
        }
        &Op::Reduce(kind, x, mask) => {
            let xv = &nodes[x].value;
            let mut dx = tape.buffer(xv.numel());
            kernels::expand(g, y.shape(), xv.shape(), &mut dx);
            if kind != Reduce::Sum {
                // The gradient goes to the elements equal to the extreme, shared among ties.
                let w = extreme_weights(tape, xv, y, mask);
                for (d, &w) in dx.iter_mut().zip(&w) {
                    *d = *d * w;
                }
                tape.recycle(w);
            }
            emit(x, dx);
        }
        &Op::Reshape(x) => {
            let mut dx = tape.buffer(g.len());
            dx.copy_from_slice(g);
            emit(x, dx);
        }
        Op::Permute(x, perm) => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            let mut dx = tape.buffer(g.len());
            kernels::permute(g, y.shape(), &inverse, &mut dx);
            emit(*x, dx);
        }
        &Op::Slice { x, axis, start } => {
            let xs = nodes[x].value.shape();
            let (outer, size, inner) = kernels::around(xs, axis);
            let len = y.shape()[axis];
            let mut dx = tape.zeroed(numel(xs));
            for o in 0..outer {
                dx[(o * size + start) * inner..(o * size + start + len) * inner]
                    .copy_from_slice(&g[o * len * inner..(o + 1) * len * inner]);
            }
            emit(x, dx);
        }
        Op::Concat(ids, axis) => {
            let (outer, total, inner) = kernels::around(y.shape(), *axis);
            let mut at = 0;
            for &x in ids {
                let size = nodes[x].value.shape()[*axis];
                if needs(x) {
                    let mut dx = tape.buffer(outer * size * inner);
                    for o in 0..outer {
                        let src = (o * total + at) * inner;
                        dx[o * size * inner..(o + 1) * size * inner]
                            .copy_from_slice(&g[src..src + size * inner]);
                    }
                    emit(x, dx);
                }
                at += size;
            }
        }
        &Op::Softmax { x, axis, log } => {
            let mut dx = tape.buffer(g.len());
            let dims = kernels::around(y.shape(), axis);
            kernels::softmax_backward(y.data(), g, dims, log, &mut dx);
            emit(x, dx);
        }
        Op::Gather(x, axis, index) => {
            let xs = nodes[*x].value.shape();
            let mut dx = tape.zeroed(numel(xs));
            for_gather(xs, index.shape(), *axis, index.data(), |o, src| {
                dx[src] = dx[src] + g[o];
            });
            emit(*x, dx);
        }
        Op::IndexSelect(x, axis, indices) => {
            let xs = nodes[*x].value.shape();
            let (outer, size, inner) = kernels::around(xs, *axis);
            let n = indices.len();
            let mut dx = tape.zeroed(numel(xs));
            for o in 0..outer {
                for (j, &i) in indices.iter().enumerate() {
                    let (dst, src) = ((o * size + i) * inner, (o * n + j) * inner);
                    for (d, &v) in dx[dst..dst + inner].iter_mut().zip(&g[src..src + inner]) {
                        *d = *d + v;
                    }
                }
            }
            emit(*x, dx);
        }
        Op::ScatterAdd(x, axis, index) => {
            // Each source element went to one place: its gradient is read back from there.
            let mut dx = tape.buffer(index.numel());
            for_gather(y.shape(), index.shape(), *axis, index.data(), |o, src| {
                dx[o] = g[src];
            });
            emit(*x, dx);
        }
        Op::IndexAdd(x, axis, indices) => {
            let (outer, size, inner) = kernels::around(y.shape(), *axis);
            let n = indices.len();
            let mut dx = tape.buffer(outer * n * inner);
            for o in 0..outer {
                for (j, &i) in indices.iter().enumerate() {
                    let (dst, src) = ((o * n + j) * inner, (o * size + i) * inner);
                    dx[dst..dst + inner].copy_from_slice(&g[src..src + inner]);
                }
            }
            emit(*x, dx);
        }
        Op::Where(cond, a, b) => {
            let shape = y.shape();
            let c = expand_bool(cond, shape);
            for (input, take) in [(*a, true), (*b, false)] {
                if !needs(input) {
                    continue;
                }
                let mut full = tape.buffer(g.len());
                for ((d, &gv), &c) in full.iter_mut().zip(g).zip(&c) {
                    *d = if c == take { gv } else { T::ZERO };
                }
                let target = nodes[input].value.shape();
                let mut d = tape.buffer(numel(target));
                kernels::sum_to_shape(&full, shape, target, &mut d);
                tape.recycle(full);
                emit(input, d);
            }
        }
        &Op::Clamp(x, lo, hi) => {
            let xv = &nodes[x].value;
            let mut dx = tape.buffer(g.len());
            for ((d, &gv), &v) in dx.iter_mut().zip(g).zip(xv.data()) {
                *d = if clamp_passes(v, lo, hi) { gv } else { T::ZERO };
            }
            emit(x, dx);
        }
    }
}
