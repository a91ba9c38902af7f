//! Normalisation: batch normalisation (statistics per channel over the batch and the spatial
//! positions) and layer normalisation (statistics per row over its last dimensions), each a
//! few passes over the data, with statistics summed in `f64`.
//!
//! Both normalise `x̂ = (x − mean) · invstd` with `invstd = 1/√(var + eps)` (the biased variance),
//! then scale and shift. Their gradient with respect to `x` is the same formula over the group
//! of `m` values that share statistics: `dx = invstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))`, with
//! `dx̂ = dy · weight`.

use super::isa::{lane_sum, lane_sum2, lane_sum3, vectorized};
use super::parallel::{par_blocks, SendPtr, PAR_MIN};
use crate::tensor::array::Element;

/// Runs `f(i)` for `i` in `0..n`, split into blocks across threads when `work` (elements
/// touched) is large enough.
fn for_each_index(n: usize, work: usize, f: &(dyn Fn(std::ops::Range<usize>) + Sync)) {
    if work < PAR_MIN || n < 2 {
        return f(0..n);
    }
    let blocks = (2 * rayon::current_num_threads()).min(n);
    par_blocks(blocks, &|b| f(n * b / blocks..n * (b + 1) / blocks));
}

/// The shape of a batch normalisation: `batch` images of `channels` channels of `len` values
/// (height × width, or 1 for `[batch, channels]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchNormDims {
    /// Images in the batch.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Values per channel and image.
    pub len: usize,
}

impl BatchNormDims {
    /// The values that share one channel's statistics.
    pub fn per_channel(&self) -> usize {
        self.batch * self.len
    }

    /// The values of channel `c` of image `n`.
    #[inline]
    fn run(&self, n: usize, c: usize) -> std::ops::Range<usize> {
        let at = (n * self.channels + c) * self.len;
        at..at + self.len
    }
}

/// Each channel's mean and biased variance (overwritten), in two passes (the second around the
/// mean, so that large offsets lose no precision).
pub fn batch_norm_stats<T: Element>(x: &[T], d: &BatchNormDims, mean: &mut [f64], var: &mut [f64]) {
    let m = d.per_channel().max(1) as f64;
    let (mp, vp) = (SendPtr(mean.as_mut_ptr()), SendPtr(var.as_mut_ptr()));
    for_each_index(d.channels, x.len(), &|cs| {
        for c in cs {
            let mut s = 0.0;
            for n in 0..d.batch {
                s += x[d.run(n, c)].iter().map(|v| v.value()).sum::<f64>();
            }
            let mu = s / m;
            let mut q = 0.0;
            for n in 0..d.batch {
                q += x[d.run(n, c)]
                    .iter()
                    .map(|v| (v.value() - mu) * (v.value() - mu))
                    .sum::<f64>();
            }
            // SAFETY: each channel's statistics are written by one block only.
            unsafe {
                *mp.get().add(c) = mu;
                *vp.get().add(c) = q / m;
            }
        }
    });
}

/// `y = (x − mean) · invstd · weight + bias`, per channel.
pub fn batch_norm_apply<T: Element>(
    x: &[T],
    d: &BatchNormDims,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[T]>,
    bias: Option<&[T]>,
    out: &mut [T],
) {
    let op = SendPtr(out.as_mut_ptr());
    for_each_index(d.channels, x.len(), &|cs| {
        for c in cs {
            let w = weight.map_or(1.0, |w| w[c].value());
            let scale = T::from_f64(invstd[c] * w);
            let shift = T::from_f64(bias.map_or(0.0, |b| b[c].value()) - mean[c] * invstd[c] * w);
            for n in 0..d.batch {
                let r = d.run(n, c);
                // SAFETY: each (image, channel) run of `out` is written by one block only.
                let o = unsafe { std::slice::from_raw_parts_mut(op.get().add(r.start), d.len) };
                for (o, &v) in o.iter_mut().zip(&x[r]) {
                    *o = v * scale + shift;
                }
            }
        }
    });
}

/// The gradients of a training-mode batch normalisation, given `x`, the output's gradient
/// `dy` and the statistics used: `dx` (when asked), and each channel's `Σ dy·x̂` and `Σ dy`
/// (the weight's and the bias's gradients, always computed).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward<T: Element>(
    x: &[T],
    dy: &[T],
    d: &BatchNormDims,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[T]>,
    dx: Option<&mut [T]>,
    dw: &mut [T],
    db: &mut [T],
) {
    let m = d.per_channel().max(1) as f64;
    let dxp = dx.map(|dx| SendPtr(dx.as_mut_ptr()));
    let (dwp, dbp) = (SendPtr(dw.as_mut_ptr()), SendPtr(db.as_mut_ptr()));
    for_each_index(d.channels, 2 * x.len(), &|cs| {
        for c in cs {
            let (mu, is) = (mean[c], invstd[c]);
            let (mut sg, mut sgx) = (0.0, 0.0);
            for n in 0..d.batch {
                let r = d.run(n, c);
                for (&v, &g) in x[r.clone()].iter().zip(&dy[r]) {
                    let g = g.value();
                    sg += g;
                    sgx += g * (v.value() - mu) * is;
                }
            }
            // SAFETY: each channel's sums are written by one block only.
            unsafe {
                *dwp.get().add(c) = T::from_f64(sgx);
                *dbp.get().add(c) = T::from_f64(sg);
            }
            let Some(dxp) = dxp else { continue };
            let w = weight.map_or(1.0, |w| w[c].value());
            // dx = w·invstd·(dy − Σdy/m − x̂·Σ(dy·x̂)/m), as `a·dy + b·x + k`.
            let a = w * is;
            let b = -a * is * sgx / m;
            let k = -a * sg / m - b * mu;
            let (a, b, k) = (T::from_f64(a), T::from_f64(b), T::from_f64(k));
            for n in 0..d.batch {
                let r = d.run(n, c);
                // SAFETY: each (image, channel) run of `dx` is written by one block only.
                let o = unsafe { std::slice::from_raw_parts_mut(dxp.get().add(r.start), d.len) };
                for ((o, &v), &g) in o.iter_mut().zip(&x[r.clone()]).zip(&dy[r]) {
                    *o = a * g + b * v + k;
                }
            }
        }
    });
}

/// Layer normalisation of `rows` rows of `len` values: `out = (x − mean) · invstd · weight +
/// bias` per row, with each row's mean and `invstd` written out for the backward pass.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm<T: Element>(
    x: &[T],
    rows: usize,
    len: usize,
    eps: f64,
    weight: Option<&[T]>,
    bias: Option<&[T]>,
    out: &mut [T],
    mean: &mut [f64],
    invstd: &mut [f64],
) {
    let (op, mp, ip) = (
        SendPtr(out.as_mut_ptr()),
        SendPtr(mean.as_mut_ptr()),
        SendPtr(invstd.as_mut_ptr()),
    );
    let m = T::from_f64(len.max(1) as f64);
    for_each_index(rows, x.len(), &|rs| {
        vectorized(
            #[inline(always)]
            || {
                for r in rs {
                    let row = &x[r * len..][..len];
                    let mu = lane_sum(row, |x| x) / m;
                    let var = lane_sum(row, |x| (x - mu) * (x - mu)) / m;
                    let is = T::ONE / (var + T::from_f64(eps)).sqrt();
                    // SAFETY: each row (and its statistics) is written by one block only.
                    let o = unsafe {
                        *mp.get().add(r) = mu.value();
                        *ip.get().add(r) = is.value();
                        std::slice::from_raw_parts_mut(op.get().add(r * len), len)
                    };
                    let xs = o.iter_mut().zip(row);
                    match (weight, bias) {
                        (Some(w), Some(b)) => {
                            for ((o, &x), (&w, &b)) in xs.zip(w.iter().zip(b)) {
                                *o = (x - mu) * is * w + b;
                            }
                        }
                        (Some(w), None) => {
                            for ((o, &x), &w) in xs.zip(w) {
                                *o = (x - mu) * is * w;
                            }
                        }
                        (None, Some(b)) => {
                            for ((o, &x), &b) in xs.zip(b) {
                                *o = (x - mu) * is + b;
                            }
                        }
                        (None, None) => {
                            for (o, &x) in xs {
                                *o = (x - mu) * is;
                            }
                        }
                    }
                }
            },
        )
    });
}

/// The gradients of [`layer_norm`]: `dx` (when asked), and the weight's and the bias's
/// gradients `Σ_rows dy·x̂` and `Σ_rows dy` into `dw` and `db` (overwritten). `scratch` holds
/// `2 · len · blocks` elements for the partial sums of the blocks, `blocks` being
/// [`layer_norm_blocks`].
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward<T: Element>(
    x: &[T],
    dy: &[T],
    rows: usize,
    len: usize,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[T]>,
    dx: Option<&mut [T]>,
    dw: &mut [T],
    db: &mut [T],
    scratch: &mut [T],
) {
    let blocks = layer_norm_blocks(rows, len);
    assert!(scratch.len() >= 2 * len * blocks);
    let dxp = dx.map(|dx| SendPtr(dx.as_mut_ptr()));
    let sp = SendPtr(scratch.as_mut_ptr());
    let m = T::from_f64(len.max(1) as f64);
    // Without a weight, a weight of ones, so that every loop below is the same vector loop.
    let ones = vec![T::ONE; if weight.is_none() { len } else { 0 }];
    let w = weight.unwrap_or(&ones);
    let body = |b: usize| {
        // SAFETY: each block has its own 2·len elements of `scratch`.
        let partial = unsafe { std::slice::from_raw_parts_mut(sp.get().add(2 * len * b), 2 * len) };
        partial.fill(T::ZERO);
        let (pw, pb) = partial.split_at_mut(len);
        vectorized(
            #[inline(always)]
            || {
                let w = &w[..len];
                for r in rows * b / blocks..rows * (b + 1) / blocks {
                    let (row, g) = (&x[r * len..][..len], &dy[r * len..][..len]);
                    let (mu, is) = (T::from_f64(mean[r]), T::from_f64(invstd[r]));
                    for (((pw, pb), &x), &g) in pw.iter_mut().zip(pb.iter_mut()).zip(row).zip(g) {
                        *pw = *pw + g * ((x - mu) * is);
                        *pb = *pb + g;
                    }
                    let Some(dxp) = dxp else { continue };
                    let s = lane_sum2(g, w, |g, w| g * w) / m;
                    let sx = lane_sum3(g, w, row, |g, w, x| g * w * (x - mu) * is) / m;
                    // SAFETY: each row of `dx` is written by one block only.
                    let o = unsafe { std::slice::from_raw_parts_mut(dxp.get().add(r * len), len) };
                    for (((o, &x), &g), &w) in o.iter_mut().zip(row).zip(g).zip(w) {
                        let xh = (x - mu) * is;
                        *o = is * (g * w - s - xh * sx);
                    }
                }
            },
        )
    };
    if blocks == 1 {
        body(0);
    } else {
        par_blocks(blocks, &body);
    }
    dw[..len].fill(T::ZERO);
    db[..len].fill(T::ZERO);
    for b in 0..blocks {
        let p = &scratch[2 * len * b..2 * len * (b + 1)];
        for j in 0..len {
            dw[j] = dw[j] + p[j];
            db[j] = db[j] + p[len + j];
        }
    }
}

/// How many blocks [`layer_norm_backward`] splits its rows into.
pub fn layer_norm_blocks(rows: usize, len: usize) -> usize {
    if rows * len < PAR_MIN || rows < 2 {
        1
    } else {
        (2 * rayon::current_num_threads()).min(rows)
    }
}
