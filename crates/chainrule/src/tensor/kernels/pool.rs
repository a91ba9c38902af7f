//! Two-dimensional pooling over the planes of an NCHW tensor: the maximum of each window (with
//! the place it was taken from, for the backward pass) and the average of each window (with its
//! adjoint, which spreads each output's gradient evenly back over its window).
//!
//! Planes are independent, so they are split across threads when there are enough of them.

use super::isa::vectorized;
use super::parallel::{par_blocks, SendPtr, PAR_MIN};
use super::reduce::is_nan;
use crate::tensor::array::Element;

/// The sizes of a pooling: `planes` planes (batch × channels) of `input` each, windows of
/// `kernel` moved by `stride`, with `padding` on each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeometry {
    /// Batch × channels.
    pub planes: usize,
    /// Height and width of a plane.
    pub input: (usize, usize),
    /// Window height and width.
    pub kernel: (usize, usize),
    /// Step between windows.
    pub stride: (usize, usize),
    /// Padding on each side (at most half the window, as PyTorch requires).
    pub padding: (usize, usize),
}

impl Pool2dGeometry {
    /// The output height and width, or `None` when the window is larger than the padded plane.
    pub fn output(&self) -> Option<(usize, usize)> {
        let side =
            |i: usize, k: usize, s: usize, p: usize| (i + 2 * p).checked_sub(k).map(|r| r / s + 1);
        Some((
            side(self.input.0, self.kernel.0, self.stride.0, self.padding.0)?,
            side(self.input.1, self.kernel.1, self.stride.1, self.padding.1)?,
        ))
    }

    fn out_hw(&self) -> (usize, usize) {
        self.output()
            .expect("a pooling's geometry is checked first")
    }

    /// The rows `iy` and columns `ix` of window `(oy, ox)` inside the plane.
    #[inline]
    fn window(&self, oy: usize, ox: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let span = |o: usize, s: usize, p: usize, k: usize, n: usize| {
            let start = (o * s) as isize - p as isize;
            let lo = start.max(0) as usize;
            let hi = ((start + k as isize).max(0) as usize).min(n);
            lo..hi.max(lo)
        };
        (
            span(
                oy,
                self.stride.0,
                self.padding.0,
                self.kernel.0,
                self.input.0,
            ),
            span(
                ox,
                self.stride.1,
                self.padding.1,
                self.kernel.1,
                self.input.1,
            ),
        )
    }
}

/// Calls `f(plane, p)` for each plane `p` of `out` (`per` elements each), the planes split into
/// blocks across threads when there is enough work.
fn for_planes<T: Element>(out: &mut [T], per: usize, f: impl Fn(&mut [T], usize) + Sync) {
    if per == 0 {
        return;
    }
    let planes = out.len() / per;
    if out.len() < PAR_MIN {
        for (p, o) in out.chunks_exact_mut(per).enumerate() {
            f(o, p);
        }
        return;
    }
    let blocks = (2 * rayon::current_num_threads()).min(planes);
    let ptr = SendPtr(out.as_mut_ptr());
    par_blocks(blocks, &|b| {
        for p in planes * b / blocks..planes * (b + 1) / blocks {
            // SAFETY: each plane is a disjoint part of `out`, which outlives `par_blocks`.
            let o = unsafe { std::slice::from_raw_parts_mut(ptr.get().add(p * per), per) };
            f(o, p);
        }
    });
}

/// The larger of `m` (the maximum so far) and `v`, a NaN winning for good: the rule of
/// PyTorch's max pooling, under which the first of equal maxima in a window is the one taken.
#[inline(always)]
fn max_nan<T: Element>(m: T, v: T) -> T {
    if is_nan(m) || !(v > m || is_nan(v)) {
        m
    } else {
        v
    }
}

/// `out` = the maximum of each window. A NaN wins (and propagates, as in PyTorch).
pub fn max_pool2d<T: Element>(x: &[T], g: &Pool2dGeometry, out: &mut [T]) {
    let (h, w) = g.input;
    let (oh, ow) = g.out_hw();
    let per = oh * ow;
    assert!(out.len() >= g.planes * per);
    for_planes(&mut out[..g.planes * per], per, |o, p| {
        let plane = &x[p * h * w..(p + 1) * h * w];
        if g.padding == (0, 0) && g.kernel == (2, 2) {
            // The common case of a CNN, two rows at a time.
            let (sh, sw) = g.stride;
            let groups = if sw == 2 && simd2x2::<T>() { ow / 4 } else { 0 };
            return vectorized(
                #[inline(always)]
                || {
                    for (oy, o) in o.chunks_exact_mut(ow.max(1)).enumerate() {
                        let (r0, r1) = plane[oy * sh * w..].split_at(w);
                        if groups > 0 {
                            // SAFETY: T is f32 and the processor has AVX2 (simd2x2); the
                            // groups cover outputs 0..4·groups ≤ ow, whose windows lie in the
                            // first 8·groups ≤ w elements of both rows.
                            unsafe {
                                simd::max_2x2_f32(
                                    r0.as_ptr().cast(),
                                    r1.as_ptr().cast(),
                                    o.as_mut_ptr().cast(),
                                    groups,
                                );
                            }
                        }
                        for (ox, o) in o.iter_mut().enumerate().skip(4 * groups) {
                            let x0 = ox * sw;
                            let top = max_nan(r0[x0], r0[x0 + 1]);
                            *o = max_nan(max_nan(top, r1[x0]), r1[x0 + 1]);
                        }
                    }
                },
            );
        }
        for oy in 0..oh {
            for ox in 0..ow {
                let (rows, cols) = g.window(oy, ox);
                let mut best = T::neg_infinity();
                for iy in rows {
                    for &v in &plane[iy * w + cols.start..iy * w + cols.end] {
                        best = max_nan(best, v);
                    }
                }
                o[oy * ow + ox] = best;
            }
        }
    });
}

/// Calls `f(out_index, place)` for each output of plane `p`, `place` being where in the plane
/// (`iy · w + ix`) its maximum `y` was taken from: the first element of the window equal to it
/// (or NaN where it is NaN), which is the one [`max_pool2d`]'s rule keeps.
#[inline]
fn for_argmax<T: Element>(
    plane: &[T],
    y: &[T],
    g: &Pool2dGeometry,
    mut f: impl FnMut(usize, usize),
) {
    let w = g.input.1;
    let (oh, ow) = g.out_hw();
    for oy in 0..oh {
        for ox in 0..ow {
            let m = y[oy * ow + ox];
            let (rows, cols) = g.window(oy, ox);
            let mut at = rows.start * w + cols.start;
            'window: for iy in rows {
                for ix in cols.clone() {
                    let v = plane[iy * w + ix];
                    if v == m || (is_nan(m) && is_nan(v)) {
                        at = iy * w + ix;
                        break 'window;
                    }
                }
            }
            f(oy * ow + ox, at);
        }
    }
}

/// The gradient of [`max_pool2d`], given its input `x` and output `y`: each output's gradient
/// added at the place its maximum was taken from (`dx` is overwritten). The places are found
/// again here rather than kept from the forward pass, which saves writing and reading one index
/// per output.
pub fn max_pool2d_backward<T: Element>(
    x: &[T],
    y: &[T],
    dy: &[T],
    g: &Pool2dGeometry,
    dx: &mut [T],
) {
    let (h, w) = g.input;
    let (oh, ow) = g.out_hw();
    let per = oh * ow;
    for_planes(&mut dx[..g.planes * h * w], h * w, |d, p| {
        let (plane, ys, gy) = (
            &x[p * h * w..(p + 1) * h * w],
            &y[p * per..(p + 1) * per],
            &dy[p * per..(p + 1) * per],
        );
        if g.padding == (0, 0) && g.kernel == (2, 2) && g.stride == (2, 2) {
            return max_pool_2x2_backward(plane, ys, gy, g, d);
        }
        d.fill(T::ZERO);
        for_argmax(plane, ys, g, |o, at| d[at] = d[at] + gy[o]);
    });
}

/// [`max_pool2d_backward`] of one plane by 2×2 windows moved by 2 (the common case of a CNN),
/// where every input element lies in at most one window: each is written once, the gradient
/// where it is the first element of its window equal to the maximum and 0 elsewhere, with no
/// branch (so that the loop vectorises).
fn max_pool_2x2_backward<T: Element>(
    plane: &[T],
    y: &[T],
    dy: &[T],
    g: &Pool2dGeometry,
    d: &mut [T],
) {
    let w = g.input.1;
    let (oh, ow) = g.out_hw();
    // Rows and columns past the last window (odd sizes) get no gradient.
    d[oh * 2 * w..].fill(T::ZERO);
    let is = |v: T, m: T| v == m || (is_nan(v) && is_nan(m));
    let groups = if simd2x2::<T>() { ow / 4 } else { 0 };
    vectorized(
        #[inline(always)]
        || {
            for oy in 0..oh {
                let top = 2 * oy * w;
                let (r0, r1) = (&plane[top..top + w], &plane[top + w..top + 2 * w]);
                let (d0, d1) = d[top..top + 2 * w].split_at_mut(w);
                let (ys, gs) = (&y[oy * ow..(oy + 1) * ow], &dy[oy * ow..(oy + 1) * ow]);
                if groups > 0 {
                    // SAFETY: T is f32 and the processor has AVX2 (simd2x2); the groups cover
                    // outputs 0..4·groups ≤ ow and the first 8·groups ≤ w elements of each row.
                    unsafe {
                        simd::max_2x2_backward_f32(
                            [r0.as_ptr().cast(), r1.as_ptr().cast()],
                            ys.as_ptr().cast(),
                            gs.as_ptr().cast(),
                            [d0.as_mut_ptr().cast(), d1.as_mut_ptr().cast()],
                            groups,
                        );
                    }
                }
                for ox in 4 * groups..ow {
                    let (m, gv, x0) = (ys[ox], gs[ox], 2 * ox);
                    let e0 = is(r0[x0], m);
                    let e1 = !e0 && is(r0[x0 + 1], m);
                    let e2 = !e0 && !e1 && is(r1[x0], m);
                    let e3 = !e0 && !e1 && !e2;
                    let pick = |e: bool| if e { gv } else { T::ZERO };
                    d0[x0] = pick(e0);
                    d0[x0 + 1] = pick(e1);
                    d1[x0] = pick(e2);
                    d1[x0 + 1] = pick(e3);
                }
                d0[2 * ow..].fill(T::ZERO);
                d1[2 * ow..].fill(T::ZERO);
            }
        },
    );
}

/// Whether the 2×2 pooling loops can run through [`simd`]: `T` is `f32` and the processor has
/// AVX2. The windows' elements are two apart, which the compiler does not turn into vector code
/// by itself: the generic loops took about 17 instructions per input element.
fn simd2x2<T: 'static>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// 2×2 max pooling with stride 2 on `f32` rows, four windows (eight input columns) at a time,
/// by the same rules as the generic loops: a NaN wins, and the gradient goes to the first
/// element of a window (top left, top right, bottom left, bottom right) equal to its maximum.
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// The larger of `x` and `y`, a NaN in either winning (`max_ps` returns `y` when either is
    /// NaN, so only a NaN `x` needs the blend).
    #[inline(always)]
    unsafe fn max_nan(x: __m256, y: __m256) -> __m256 {
        _mm256_blendv_ps(_mm256_max_ps(x, y), x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x))
    }

    /// Each of the four values at `v` twice: `[v0, v0, v1, v1, v2, v2, v3, v3]`.
    #[inline(always)]
    unsafe fn pairs(v: *const f32) -> __m256 {
        let idx = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
        _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(v)), idx)
    }

    /// `out[j] = max(r0[2j], r0[2j + 1], r1[2j], r1[2j + 1])` for `j < 4 · groups`.
    ///
    /// # Safety
    /// The processor must have AVX2; `r0` and `r1` must have `8 · groups` readable values and
    /// `out` `4 · groups` writable ones.
    #[target_feature(enable = "avx2")]
    pub unsafe fn max_2x2_f32(r0: *const f32, r1: *const f32, out: *mut f32, groups: usize) {
        let evens = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
        for q in 0..groups {
            let v = max_nan(
                _mm256_loadu_ps(r0.add(8 * q)),
                _mm256_loadu_ps(r1.add(8 * q)),
            );
            // Each pair's two columns swapped, so that both hold the window's maximum.
            let m = max_nan(v, _mm256_permute_ps::<0xB1>(v));
            let m = _mm256_permutevar8x32_ps(m, evens);
            _mm_storeu_ps(out.add(4 * q), _mm256_castps256_ps128(m));
        }
    }

    /// The gradient of [`max_2x2_f32`] for `4 · groups` windows: `d[0]` and `d[1]` (the two
    /// rows) get `dy[j]` at the first place of window `j` equal to `y[j]` and 0 elsewhere.
    ///
    /// # Safety
    /// The processor must have AVX2; `r[0]`, `r[1]`, `d[0]` and `d[1]` must have `8 · groups`
    /// values (writable for `d`), `y` and `dy` `4 · groups`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn max_2x2_backward_f32(
        r: [*const f32; 2],
        y: *const f32,
        dy: *const f32,
        d: [*mut f32; 2],
        groups: usize,
    ) {
        // All ones in the odd (right-hand) columns of each pair.
        let odd = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));
        let ones = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        for q in 0..groups {
            let (m, g) = (pairs(y.add(4 * q)), pairs(dy.add(4 * q)));
            let m_nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(m, m);
            let equal = |v: __m256| {
                let both_nan = _mm256_and_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(v, v), m_nan);
                _mm256_or_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(v, m), both_nan)
            };
            let a = equal(_mm256_loadu_ps(r[0].add(8 * q)));
            let a_other = _mm256_permute_ps::<0xB1>(a);
            // Top left where it is equal; top right where it is and the top left is not.
            let top = _mm256_andnot_ps(_mm256_and_ps(a_other, odd), a);
            let top_taken = _mm256_or_ps(a, a_other);
            let c = equal(_mm256_loadu_ps(r[1].add(8 * q)));
            let c_other = _mm256_permute_ps::<0xB1>(c);
            // Bottom left where it is equal; bottom right where the bottom left is not (the
            // last place takes the gradient when no other does); neither if the top took it.
            let bottom = _mm256_blendv_ps(c, _mm256_xor_ps(c_other, ones), odd);
            let bottom = _mm256_andnot_ps(top_taken, bottom);
            _mm256_storeu_ps(d[0].add(8 * q), _mm256_and_ps(top, g));
            _mm256_storeu_ps(d[1].add(8 * q), _mm256_and_ps(bottom, g));
        }
    }
}

/// Where in its plane each output of [`max_pool2d`] took its maximum from, for the recorded
/// products (a scatter-add and a gather by these places).
pub fn max_pool2d_places<T: Element>(x: &[T], y: &[T], g: &Pool2dGeometry) -> Vec<usize> {
    let (h, w) = g.input;
    let (oh, ow) = g.out_hw();
    let per = oh * ow;
    let mut index = vec![0; g.planes * per];
    for (p, idx) in index.chunks_exact_mut(per.max(1)).enumerate() {
        let (plane, ys) = (&x[p * h * w..(p + 1) * h * w], &y[p * per..(p + 1) * per]);
        for_argmax(plane, ys, g, |o, at| idx[o] = at);
    }
    index
}

/// The number each window's sum is divided by: the whole window, or (without
/// `count_include_pad`) only its part inside the plane.
fn divisor(g: &Pool2dGeometry, count_include_pad: bool, oy: usize, ox: usize) -> usize {
    if count_include_pad {
        // PyTorch counts the padding but not what lies beyond it.
        let side = |o: usize, s: usize, p: usize, k: usize, n: usize| {
            let start = (o * s) as isize - p as isize;
            let end = (start + k as isize).min((n + p) as isize);
            (end - start) as usize
        };
        side(oy, g.stride.0, g.padding.0, g.kernel.0, g.input.0)
            * side(ox, g.stride.1, g.padding.1, g.kernel.1, g.input.1)
    } else {
        let (rows, cols) = g.window(oy, ox);
        rows.len() * cols.len()
    }
}

/// `out` = the average of each window (the padding counted as zeros when
/// `count_include_pad`, as PyTorch's default).
pub fn avg_pool2d<T: Element>(x: &[T], g: &Pool2dGeometry, count_include_pad: bool, out: &mut [T]) {
    let (h, w) = g.input;
    let (oh, ow) = g.out_hw();
    for_planes(&mut out[..g.planes * oh * ow], oh * ow, |o, p| {
        let plane = &x[p * h * w..(p + 1) * h * w];
        for oy in 0..oh {
            for ox in 0..ow {
                let (rows, cols) = g.window(oy, ox);
                let mut s = T::ZERO;
                for iy in rows {
                    for &v in &plane[iy * w + cols.start..iy * w + cols.end] {
                        s = s + v;
                    }
                }
                let n = divisor(g, count_include_pad, oy, ox).max(1);
                o[oy * ow + ox] = s / T::from_f64(n as f64);
            }
        }
    });
}

/// The adjoint of [`avg_pool2d`]: each output's gradient, divided as its average was, added
/// over its window (`dx` is overwritten).
pub fn avg_pool2d_adjoint<T: Element>(
    dy: &[T],
    g: &Pool2dGeometry,
    count_include_pad: bool,
    dx: &mut [T],
) {
    let (h, w) = g.input;
    let (oh, ow) = g.out_hw();
    let per = oh * ow;
    for_planes(&mut dx[..g.planes * h * w], h * w, |d, p| {
        d.fill(T::ZERO);
        let gy = &dy[p * per..(p + 1) * per];
        for oy in 0..oh {
            for ox in 0..ow {
                let n = divisor(g, count_include_pad, oy, ox).max(1);
                let v = gy[oy * ow + ox] / T::from_f64(n as f64);
                let (rows, cols) = g.window(oy, ox);
                for iy in rows {
                    for e in &mut d[iy * w + cols.start..iy * w + cols.end] {
                        *e = *e + v;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    /// The 2×2 fast paths (vector code for f32) against the definition: the maximum of each
    /// window, and the gradient at the first place equal to it, with ties and NaNs everywhere.
    #[test]
    fn two_by_two_pooling_matches_the_definition_with_ties_and_nans() {
        let mut rng = Rng::new(3);
        let choices = [-1.0f32, 0.0, -0.0, 1.0, 2.0, f32::NAN, f32::INFINITY];
        for &(h, w) in &[
            (2, 8),
            (3, 9),
            (4, 16),
            (5, 17),
            (28, 28),
            (7, 31),
            (2, 2),
            (2, 40),
        ] {
            let g = Pool2dGeometry {
                planes: 3,
                input: (h, w),
                kernel: (2, 2),
                stride: (2, 2),
                padding: (0, 0),
            };
            let (oh, ow) = g.out_hw();
            let x: Vec<f32> = (0..3 * h * w)
                .map(|_| choices[rng.below(choices.len())])
                .collect();
            let mut y = vec![0.0; 3 * oh * ow];
            max_pool2d(&x, &g, &mut y);
            let dy: Vec<f32> = (0..y.len()).map(|i| 1.0 + i as f32).collect();
            let mut dx = vec![f32::NAN; x.len()];
            max_pool2d_backward(&x, &y, &dy, &g, &mut dx);
            let mut want_dx = vec![0.0f32; x.len()];
            for p in 0..3 {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let at = |dy: usize, dx: usize| p * h * w + (2 * oy + dy) * w + 2 * ox + dx;
                        let window = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                        let vals = window.map(|i| x[i]);
                        let o = p * oh * ow + oy * ow + ox;
                        if vals.iter().any(|v| v.is_nan()) {
                            assert!(y[o].is_nan(), "{vals:?} gave {}", y[o]);
                        } else {
                            let m = vals.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                            assert_eq!(y[o], m, "{vals:?}");
                        }
                        let first = window
                            .iter()
                            .position(|&i| x[i] == y[o] || (x[i].is_nan() && y[o].is_nan()))
                            .unwrap();
                        want_dx[window[first]] = dy[o];
                    }
                }
            }
            assert_eq!(dx, want_dx, "{h}x{w}");
        }
    }
}
