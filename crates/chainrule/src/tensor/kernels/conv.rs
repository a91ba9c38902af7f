//! Two-dimensional convolution (NCHW, PyTorch's layout) through `gemm`, and its two
//! vector-Jacobian products.
//!
//! Each image is unfolded into columns (*im2col*): for every output position, the input values
//! its kernel window covers, one row per (input channel, kernel row, kernel column). The
//! convolution of the image with the weights `[out, in/groups · kh · kw]` is then one matrix
//! product per group. The unfolded image is built one image at a time into a buffer that stays
//! in cache and is used at once, and the images are split across threads, each with its own
//! buffer and single-threaded products; nothing of batch size is ever unfolded. A 1×1
//! convolution with stride 1 and no padding needs no unfolding at all.
//!
//! The backward products are the same matrices transposed: the input's gradient is `Wᵀ · dY`
//! folded back (*col2im*, adding where windows overlap), the weight's is `dY · colsᵀ` summed over
//! the images (each thread sums its images, then the partial sums are added).

use super::matmul::gemm_serial;
use super::parallel::{par_blocks, SendPtr};
use crate::tensor::array::Element;

/// The sizes of a convolution: input `[batch, in_channels, height, width]`, weight
/// `[out_channels, in_channels / groups, kernel.0, kernel.1]`, and the output size that follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height and width.
    pub input: (usize, usize),
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Step between windows, down and across.
    pub stride: (usize, usize),
    /// Zeros added on each side, vertically and horizontally.
    pub padding: (usize, usize),
    /// Spacing between kernel taps.
    pub dilation: (usize, usize),
    /// Channel groups: each output channel sees `in_channels / groups` inputs.
    pub groups: usize,
}

impl Conv2dGeometry {
    /// The output height and width: `(in + 2·pad − dilation·(k − 1) − 1) / stride + 1`, or
    /// `None` when the dilated kernel is larger than the padded input.
    pub fn output(&self) -> Option<(usize, usize)> {
        let side = |i: usize, k: usize, s: usize, p: usize, d: usize| {
            let span = d * (k - 1) + 1;
            (i + 2 * p).checked_sub(span).map(|r| r / s + 1)
        };
        Some((
            side(
                self.input.0,
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
            )?,
            side(
                self.input.1,
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
            )?,
        ))
    }

    fn out_hw(&self) -> (usize, usize) {
        self.output()
            .expect("a convolution's geometry is checked first")
    }

    /// Input channels per group.
    fn cg(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group.
    fn ocg(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Rows of an unfolded group: `in/groups · kh · kw`.
    fn k(&self) -> usize {
        self.cg() * self.kernel.0 * self.kernel.1
    }

    /// Output positions per image.
    fn positions(&self) -> usize {
        let (oh, ow) = self.out_hw();
        oh * ow
    }

    /// Whether the unfolded image is the image itself (1×1, stride 1, no padding).
    fn pointwise(&self) -> bool {
        self.kernel == (1, 1) && self.stride == (1, 1) && self.padding == (0, 0)
    }

    /// Elements of an input image, of an output image.
    fn image_sizes(&self) -> (usize, usize) {
        (
            self.in_channels * self.input.0 * self.input.1,
            self.out_channels * self.positions(),
        )
    }

    /// The elements of one block's unfolding buffer.
    fn col_len(&self) -> usize {
        if self.pointwise() {
            0
        } else {
            self.k() * self.positions()
        }
    }

    /// How the batch is split across threads: the number of blocks of images.
    fn blocks(&self) -> usize {
        self.batch.min(2 * rayon::current_num_threads()).max(1)
    }

    /// The images of block `b`.
    fn block_images(&self, b: usize) -> std::ops::Range<usize> {
        let blocks = self.blocks();
        let per = self.batch.div_ceil(blocks);
        (b * per).min(self.batch)..((b + 1) * per).min(self.batch)
    }

    /// The scratch [`conv2d`] and [`conv2d_backward_input`] need.
    pub fn scratch_len(&self) -> usize {
        self.blocks() * self.col_len()
    }

    /// The scratch [`conv2d_backward_weight`] needs: unfolding buffers and a partial weight
    /// gradient per block.
    pub fn weight_scratch_len(&self) -> usize {
        self.blocks() * (self.col_len() + self.out_channels * self.k())
    }

    /// The number of multiply-adds of the forward product.
    pub fn flops(&self) -> usize {
        self.batch * self.out_channels * self.positions() * self.k()
    }
}

/// Where kernel column `kj` reads: the offset of its first tap in a row (`ox·sw + kj·dw − pw`
/// at `ox = 0`), and the output columns `first..last` whose tap lands inside the row.
fn tap_columns(g: &Conv2dGeometry, kj: usize) -> (isize, usize, usize) {
    let (w, ow) = (g.input.1, g.out_hw().1);
    let (sw, dw, pw) = (g.stride.1, g.dilation.1, g.padding.1);
    let offset = (kj * dw) as isize - pw as isize;
    let first = if offset >= 0 {
        0
    } else {
        ((-offset) as usize).div_ceil(sw).min(ow)
    };
    let last = if (w as isize) > offset {
        ((w as isize - offset - 1) as usize / sw + 1).min(ow)
    } else {
        0
    };
    (offset, first, last.max(first))
}

/// Unfolds group `gi` of one image `x` (`[in, h, w]`) into `col` (`[in/groups · kh · kw,
/// oh · ow]`).
fn im2col<T: Element>(x: &[T], g: &Conv2dGeometry, gi: usize, col: &mut [T]) {
    if let Some(same) = SameWidth::of(g) {
        return same.im2col(x, g, gi, col);
    }
    let (h, w) = g.input;
    let (oh, ow) = g.out_hw();
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let ph = g.padding.0;
    let dh = g.dilation.0;
    let mut row = 0;
    for c in gi * g.cg()..(gi + 1) * g.cg() {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for ki in 0..kh {
            for kj in 0..kw {
                let dst = &mut col[row * oh * ow..(row + 1) * oh * ow];
                // The output columns whose tap `kj` lands inside the row: ox·sw + kj·dw − pw in
                // [0, w).
                let (offset, first, last) = tap_columns(g, kj);
                for oy in 0..oh {
                    let out = &mut dst[oy * ow..(oy + 1) * ow];
                    let iy = (oy * sh + ki * dh) as isize - ph as isize;
                    if iy < 0 || iy >= h as isize {
                        out.fill(T::ZERO);
                        continue;
                    }
                    let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                    out[..first].fill(T::ZERO);
                    out[last..].fill(T::ZERO);
                    if first == last {
                        // No tap of this column lands in the row (its offset may lie before it).
                        continue;
                    }
                    let start = (first * sw) as isize + offset;
                    if sw == 1 {
                        let start = start as usize;
                        out[first..last].copy_from_slice(&src[start..start + last - first]);
                    } else {
                        for (k, o) in out[first..last].iter_mut().enumerate() {
                            *o = src[start as usize + k * sw];
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// Folds `col` back into group `gi` of one image's gradient `dx`, adding where windows
/// overlap: the adjoint of [`im2col`].
fn col2im_add<T: Element>(col: &mut [T], g: &Conv2dGeometry, gi: usize, dx: &mut [T]) {
    if let Some(same) = SameWidth::of(g) {
        return same.col2im_add(col, g, gi, dx);
    }
    let (h, w) = g.input;
    let (oh, ow) = g.out_hw();
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let ph = g.padding.0;
    let dh = g.dilation.0;
    let mut row = 0;
    for c in gi * g.cg()..(gi + 1) * g.cg() {
        let plane = &mut dx[c * h * w..(c + 1) * h * w];
        for ki in 0..kh {
            for kj in 0..kw {
                let src = &col[row * oh * ow..(row + 1) * oh * ow];
                let (offset, first, last) = tap_columns(g, kj);
                for oy in 0..oh {
                    let iy = (oy * sh + ki * dh) as isize - ph as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    if first == last {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * w..(iy as usize + 1) * w];
                    let from = &src[oy * ow + first..oy * ow + last];
                    let start = ((first * sw) as isize + offset) as usize;
                    if sw == 1 {
                        for (d, &v) in dst[start..start + from.len()].iter_mut().zip(from) {
                            *d = *d + v;
                        }
                    } else {
                        for (k, &v) in from.iter().enumerate() {
                            let d = &mut dst[start + k * sw];
                            *d = *d + v;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// The body of a loop over a block of images: the images, and the block's own scratch.
type ImageBlock<'a, T> = dyn Fn(std::ops::Range<usize>, &mut [T]) + Sync + 'a;

/// The common case of a stride-1 convolution whose output is as wide as its input ("same"
/// padding, a 3×3 kernel with padding 1 say): the taps of one kernel position for all output
/// rows are one contiguous run of the input plane, shifted, so im2col and col2im move each
/// (channel, kernel row, kernel column) in one copy instead of one per output row, then put
/// right the few columns where the shifted run wraps from one row into the next.
#[derive(Clone, Copy)]
struct SameWidth;

impl SameWidth {
    fn of(g: &Conv2dGeometry) -> Option<SameWidth> {
        (g.stride == (1, 1) && g.out_hw().1 == g.input.1).then_some(SameWidth)
    }

    /// For kernel position `(ki, kj)`: the output rows `oy0..oy1` whose taps land inside the
    /// plane, where their run starts in the plane (`base`, possibly before it), and the output
    /// columns `first..last` whose taps land inside their row.
    fn run(g: &Conv2dGeometry, ki: usize, kj: usize) -> (usize, usize, isize, usize, usize) {
        let (h, w) = g.input;
        let oh = g.out_hw().0;
        let dy = (ki * g.dilation.0) as isize - g.padding.0 as isize;
        let oy0 = (-dy).clamp(0, oh as isize) as usize;
        let oy1 = (h as isize - dy).clamp(oy0 as isize, oh as isize) as usize;
        let (offset, first, last) = tap_columns(g, kj);
        let base = (oy0 as isize + dy) * w as isize + offset;
        (oy0, oy1, base, first, last)
    }

    fn im2col<T: Element>(self, x: &[T], g: &Conv2dGeometry, gi: usize, col: &mut [T]) {
        let (h, w) = g.input;
        let (oh, ow) = g.out_hw();
        let (kh, kw) = g.kernel;
        let mut row = 0;
        for c in gi * g.cg()..(gi + 1) * g.cg() {
            let plane = &x[c * h * w..(c + 1) * h * w];
            for ki in 0..kh {
                for kj in 0..kw {
                    let dst = &mut col[row * oh * ow..(row + 1) * oh * ow];
                    let (oy0, oy1, base, first, last) = Self::run(g, ki, kj);
                    dst[..oy0 * ow].fill(T::ZERO);
                    dst[oy1 * ow..].fill(T::ZERO);
                    let block = &mut dst[oy0 * ow..oy1 * ow];
                    let lo = (-base).max(0) as usize;
                    let hi = ((plane.len() as isize - base).max(0) as usize).min(block.len());
                    if lo < hi {
                        let from = (base + lo as isize) as usize;
                        block[lo..hi].copy_from_slice(&plane[from..from + hi - lo]);
                    }
                    let n = block.len();
                    block[..lo.min(n)].fill(T::ZERO);
                    block[hi.max(lo).min(n)..].fill(T::ZERO);
                    for r in block.chunks_exact_mut(ow) {
                        r[..first].fill(T::ZERO);
                        r[last..].fill(T::ZERO);
                    }
                    row += 1;
                }
            }
        }
    }

    fn col2im_add<T: Element>(self, col: &mut [T], g: &Conv2dGeometry, gi: usize, dx: &mut [T]) {
        let (h, w) = g.input;
        let (oh, ow) = g.out_hw();
        let (kh, kw) = g.kernel;
        let mut row = 0;
        for c in gi * g.cg()..(gi + 1) * g.cg() {
            let plane = &mut dx[c * h * w..(c + 1) * h * w];
            for ki in 0..kh {
                for kj in 0..kw {
                    let src = &mut col[row * oh * ow..(row + 1) * oh * ow];
                    let (oy0, oy1, base, first, last) = Self::run(g, ki, kj);
                    let block = &mut src[oy0 * ow..oy1 * ow];
                    // The taps that fall in the padding add nothing.
                    for r in block.chunks_exact_mut(ow) {
                        r[..first].fill(T::ZERO);
                        r[last..].fill(T::ZERO);
                    }
                    let lo = (-base).max(0) as usize;
                    let hi = ((plane.len() as isize - base).max(0) as usize).min(block.len());
                    if lo < hi {
                        let from = (base + lo as isize) as usize;
                        for (d, &v) in plane[from..from + hi - lo].iter_mut().zip(&block[lo..hi]) {
                            *d = *d + v;
                        }
                    }
                    row += 1;
                }
            }
        }
    }
}

/// Runs `f(images, scratch)` for each block of images on the threads, with the block's own
/// `per_block` elements of `scratch`.
fn for_image_blocks<T: Element>(
    g: &Conv2dGeometry,
    scratch: &mut [T],
    per_block: usize,
    f: &ImageBlock<'_, T>,
) {
    assert!(
        scratch.len() >= g.blocks() * per_block,
        "conv2d scratch too short"
    );
    let ptr = SendPtr(scratch.as_mut_ptr());
    par_blocks(g.blocks(), &|b| {
        // SAFETY: each block has its own disjoint range of `scratch`, which outlives this call.
        let mine =
            unsafe { std::slice::from_raw_parts_mut(ptr.get().add(b * per_block), per_block) };
        f(g.block_images(b), mine);
    });
}

/// `out = conv(x, w) + bias`: `x` `[batch, in, h, w]`, `w` `[out, in/groups, kh, kw]`, `bias`
/// `[out]`, `out` `[batch, out, oh, ow]`; `scratch` holds [`Conv2dGeometry::scratch_len`]
/// elements (overwritten).
///
/// # Panics
/// If a slice is shorter than its shape says, or the geometry has no output.
pub fn conv2d<T: Element>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeometry,
    out: &mut [T],
    scratch: &mut [T],
) {
    let (in_size, out_size) = g.image_sizes();
    let (k, ocg, p) = (g.k(), g.ocg(), g.positions());
    assert!(x.len() >= g.batch * in_size && out.len() >= g.batch * out_size);
    assert!(w.len() >= g.out_channels * k);
    let out_ptr = SendPtr(out.as_mut_ptr());
    for_image_blocks(g, scratch, g.col_len(), &|images, col| {
        for n in images {
            let image = &x[n * in_size..(n + 1) * in_size];
            // SAFETY: image n's output is a disjoint part of `out`.
            let y = unsafe {
                std::slice::from_raw_parts_mut(out_ptr.get().add(n * out_size), out_size)
            };
            if let Some(b) = bias {
                for (row, &bv) in y.chunks_exact_mut(p.max(1)).zip(b) {
                    row.fill(bv);
                }
            }
            for gi in 0..g.groups {
                let cols: &[T] = if g.pointwise() {
                    &image[gi * k * p..(gi + 1) * k * p]
                } else {
                    im2col(image, g, gi, col);
                    col
                };
                let dst = &mut y[gi * ocg * p..(gi + 1) * ocg * p];
                if k == 0 {
                    if bias.is_none() {
                        dst.fill(T::ZERO);
                    }
                    continue;
                }
                // SAFETY: W_g is ocg × k, cols is k × p, dst is ocg × p, all row-major.
                unsafe {
                    gemm_serial(
                        ocg,
                        p,
                        k,
                        dst.as_mut_ptr(),
                        p as isize,
                        1,
                        bias.is_some(),
                        w.as_ptr().add(gi * ocg * k),
                        k as isize,
                        1,
                        cols.as_ptr(),
                        p as isize,
                        1,
                    );
                }
            }
        }
    });
}

/// The input's gradient: `dx = convᵀ(dy, w)`, the adjoint of [`conv2d`] in `x` (`dx` is
/// overwritten); `scratch` holds [`Conv2dGeometry::scratch_len`] elements.
///
/// # Panics
/// If a slice is shorter than its shape says.
pub fn conv2d_backward_input<T: Element>(
    dy: &[T],
    w: &[T],
    g: &Conv2dGeometry,
    dx: &mut [T],
    scratch: &mut [T],
) {
    let (in_size, out_size) = g.image_sizes();
    let (k, ocg, p) = (g.k(), g.ocg(), g.positions());
    assert!(dy.len() >= g.batch * out_size && dx.len() >= g.batch * in_size);
    let dx_ptr = SendPtr(dx.as_mut_ptr());
    for_image_blocks(g, scratch, g.col_len(), &|images, col| {
        for n in images {
            let gy = &dy[n * out_size..(n + 1) * out_size];
            // SAFETY: image n's gradient is a disjoint part of `dx`.
            let gx =
                unsafe { std::slice::from_raw_parts_mut(dx_ptr.get().add(n * in_size), in_size) };
            if !g.pointwise() {
                gx.fill(T::ZERO);
            }
            for gi in 0..g.groups {
                let dst: *mut T = if g.pointwise() {
                    gx[gi * k * p..].as_mut_ptr()
                } else {
                    col.as_mut_ptr()
                };
                if ocg == 0 {
                    // SAFETY: dst addresses k × p elements.
                    unsafe { std::slice::from_raw_parts_mut(dst, k * p) }.fill(T::ZERO);
                } else {
                    // SAFETY: W_gᵀ is k × ocg (W_g read by columns), dY_g is ocg × p, the
                    // destination k × p.
                    unsafe {
                        gemm_serial(
                            k,
                            p,
                            ocg,
                            dst,
                            p as isize,
                            1,
                            false,
                            w.as_ptr().add(gi * ocg * k),
                            1,
                            k as isize,
                            gy.as_ptr().add(gi * ocg * p),
                            p as isize,
                            1,
                        );
                    }
                }
                if !g.pointwise() {
                    col2im_add(col, g, gi, gx);
                }
            }
        }
    });
}

/// The weight's gradient `dw = Σ_images dy · colsᵀ` (overwritten), the adjoint of [`conv2d`]
/// in `w`; `scratch` holds [`Conv2dGeometry::weight_scratch_len`] elements.
///
/// # Panics
/// If a slice is shorter than its shape says.
pub fn conv2d_backward_weight<T: Element>(
    x: &[T],
    dy: &[T],
    g: &Conv2dGeometry,
    dw: &mut [T],
    scratch: &mut [T],
) {
    let (in_size, out_size) = g.image_sizes();
    let (k, ocg, p) = (g.k(), g.ocg(), g.positions());
    let wn = g.out_channels * k;
    assert!(dw.len() >= wn);
    let per_block = g.col_len() + wn;
    for_image_blocks(g, scratch, per_block, &|images, mine| {
        let (col, partial) = mine.split_at_mut(g.col_len());
        partial.fill(T::ZERO);
        for n in images {
            let image = &x[n * in_size..(n + 1) * in_size];
            let gy = &dy[n * out_size..(n + 1) * out_size];
            for gi in 0..g.groups {
                let cols: &[T] = if g.pointwise() {
                    &image[gi * k * p..(gi + 1) * k * p]
                } else {
                    im2col(image, g, gi, col);
                    col
                };
                if p == 0 {
                    continue;
                }
                // SAFETY: dY_g is ocg × p, colsᵀ is p × k (cols read by columns), the partial
                // sum ocg × k.
                unsafe {
                    gemm_serial(
                        ocg,
                        k,
                        p,
                        partial.as_mut_ptr().add(gi * ocg * k),
                        k as isize,
                        1,
                        true,
                        gy.as_ptr().add(gi * ocg * p),
                        p as isize,
                        1,
                        cols.as_ptr(),
                        1,
                        p as isize,
                    );
                }
            }
        }
    });
    dw[..wn].fill(T::ZERO);
    for b in 0..g.blocks() {
        let partial = &scratch[b * per_block + g.col_len()..(b + 1) * per_block];
        for (d, &v) in dw.iter_mut().zip(partial) {
            *d = *d + v;
        }
    }
}

/// The bias's gradient: `db[c] = Σ dy[n, c, ·, ·]` (overwritten).
pub fn conv2d_backward_bias<T: Element>(dy: &[T], g: &Conv2dGeometry, db: &mut [T]) {
    let p = g.positions();
    db[..g.out_channels].fill(T::ZERO);
    for image in dy.chunks_exact((g.out_channels * p).max(1)).take(g.batch) {
        for (d, row) in db.iter_mut().zip(image.chunks_exact(p.max(1))) {
            let mut s = T::ZERO;
            for &v in row {
                s = s + v;
            }
            *d = *d + s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    /// The convolution by its definition, in f64.
    fn naive(x: &[f64], w: &[f64], b: &[f64], g: &Conv2dGeometry) -> Vec<f64> {
        let (oh, ow) = g.output().unwrap();
        let (h, wd) = g.input;
        let (cg, ocg) = (g.in_channels / g.groups, g.out_channels / g.groups);
        let mut out = vec![0.0; g.batch * g.out_channels * oh * ow];
        for n in 0..g.batch {
            for o in 0..g.out_channels {
                let gi = o / ocg;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut s = b[o];
                        for c in 0..cg {
                            for ki in 0..g.kernel.0 {
                                for kj in 0..g.kernel.1 {
                                    let iy = (oy * g.stride.0 + ki * g.dilation.0) as isize
                                        - g.padding.0 as isize;
                                    let ix = (ox * g.stride.1 + kj * g.dilation.1) as isize
                                        - g.padding.1 as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                        continue;
                                    }
                                    let xc = gi * cg + c;
                                    let xv = x[((n * g.in_channels + xc) * h + iy as usize) * wd
                                        + ix as usize];
                                    let wv = w[((o * cg + c) * g.kernel.0 + ki) * g.kernel.1 + kj];
                                    s += xv * wv;
                                }
                            }
                        }
                        out[((n * g.out_channels + o) * oh + oy) * ow + ox] = s;
                    }
                }
            }
        }
        out
    }

    fn random(n: usize, rng: &mut Rng) -> Vec<f64> {
        (0..n).map(|_| rng.normal()).collect()
    }

    fn geometries() -> Vec<Conv2dGeometry> {
        let base = Conv2dGeometry {
            batch: 3,
            in_channels: 4,
            input: (7, 6),
            out_channels: 6,
            kernel: (3, 3),
            stride: (1, 1),
            padding: (1, 1),
            dilation: (1, 1),
            groups: 1,
        };
        vec![
            base,
            Conv2dGeometry {
                stride: (2, 3),
                padding: (0, 2),
                ..base
            },
            Conv2dGeometry {
                dilation: (2, 1),
                kernel: (2, 3),
                ..base
            },
            Conv2dGeometry { groups: 2, ..base },
            Conv2dGeometry {
                kernel: (1, 1),
                padding: (0, 0),
                ..base
            },
            Conv2dGeometry {
                batch: 1,
                in_channels: 1,
                out_channels: 2,
                input: (5, 5),
                kernel: (5, 5),
                padding: (0, 0),
                ..base
            },
        ]
    }

    #[test]
    fn conv2d_matches_the_definition() {
        let mut rng = Rng::new(3);
        for g in geometries() {
            let (oh, ow) = g.output().unwrap();
            let x = random(g.batch * g.in_channels * g.input.0 * g.input.1, &mut rng);
            let w = random(g.out_channels * g.k(), &mut rng);
            let b = random(g.out_channels, &mut rng);
            let mut out = vec![0.0; g.batch * g.out_channels * oh * ow];
            let mut scratch = vec![0.0; g.scratch_len()];
            conv2d(&x, &w, Some(&b), &g, &mut out, &mut scratch);
            let want = naive(&x, &w, &b, &g);
            for (a, e) in out.iter().zip(&want) {
                assert!((a - e).abs() < 1e-12, "{g:?}: {a} vs {e}");
            }
        }
    }

    /// `<conv(x, w), dy> = <x, dx> = <w, dw>`: the two backward products are the adjoints of
    /// the forward one (the gradient checks of the rules compare them with finite differences).
    #[test]
    fn the_backward_products_are_adjoint_to_the_forward_one() {
        let mut rng = Rng::new(4);
        for g in geometries() {
            let (oh, ow) = g.output().unwrap();
            let x = random(g.batch * g.in_channels * g.input.0 * g.input.1, &mut rng);
            let w = random(g.out_channels * g.k(), &mut rng);
            let dy = random(g.batch * g.out_channels * oh * ow, &mut rng);
            let mut y = vec![0.0; dy.len()];
            let mut scratch = vec![0.0; g.weight_scratch_len().max(g.scratch_len())];
            conv2d(&x, &w, None, &g, &mut y, &mut scratch);
            let mut dx = vec![0.0; x.len()];
            conv2d_backward_input(&dy, &w, &g, &mut dx, &mut scratch);
            let mut dw = vec![0.0; w.len()];
            conv2d_backward_weight(&x, &dy, &g, &mut dw, &mut scratch);
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
            let (ydy, xdx, wdw) = (dot(&y, &dy), dot(&x, &dx), dot(&w, &dw));
            assert!(
                (ydy - xdx).abs() < 1e-9 * (1.0 + ydy.abs()),
                "{g:?}: {ydy} vs {xdx}"
            );
            assert!(
                (ydy - wdw).abs() < 1e-9 * (1.0 + ydy.abs()),
                "{g:?}: {ydy} vs {wdw}"
            );
        }
    }
}
