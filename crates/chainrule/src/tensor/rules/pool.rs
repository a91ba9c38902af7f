//! Pooling over windows of each plane of an NCHW tensor: `max_pool2d`, `avg_pool2d` and
//! `adaptive_avg_pool2d`, as in `torch.nn.functional`.
//!
//! A maximum sends each output's gradient to the one element it was taken from (the first of
//! equal maxima in the window, row by row; a NaN wins, as PyTorch): recorded, that is a
//! scatter-add by the saved places, whose own adjoint is a gather by them. An average is linear:
//! its adjoint spreads each output's gradient evenly over the window, and the adjoint of that is
//! the average again, so the two are recorded as one operation with a role, as the convolution
//! and its adjoints are.

use std::borrow::Cow;

use super::conv::Pair;
use super::{Explain, Numbers, Op, Recorded, Rule};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels::{self, Pool2dGeometry};
use crate::tensor::shape::{fmt_shape, Result, TensorError};
use crate::tensor::tape::{Tape, Tensor};

/// A pooling window and how it moves: `kernel`, `stride` (the kernel's size unless set, as in
/// PyTorch) and `padding`.
///
/// ```
/// use chainrule::tensor::rules::pool::Pool2dOptions;
///
/// let p = Pool2dOptions::new(3).stride(2).padding(1);
/// assert_eq!((p.kernel, p.stride, p.padding), ((3, 3), (2, 2), (1, 1)));
/// assert_eq!(Pool2dOptions::new(2).stride, (2, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dOptions {
    /// The window's height and width.
    pub kernel: (usize, usize),
    /// The step between windows.
    pub stride: (usize, usize),
    /// Padding on each side (at most half the window).
    pub padding: (usize, usize),
}

impl Pool2dOptions {
    /// Windows of `kernel`, moved by their own size, no padding.
    pub fn new(kernel: impl Pair) -> Self {
        let kernel = kernel.pair();
        Pool2dOptions {
            kernel,
            stride: kernel,
            padding: (0, 0),
        }
    }
    /// With this stride.
    pub fn stride(self, s: impl Pair) -> Self {
        Pool2dOptions {
            stride: s.pair(),
            ..self
        }
    }
    /// With this padding.
    pub fn padding(self, p: impl Pair) -> Self {
        Pool2dOptions {
            padding: p.pair(),
            ..self
        }
    }
}

/// Checks a pooling of a tensor of shape `xs` and returns its geometry and the output shape.
fn pool_geometry(
    op: &'static str,
    xs: &[usize],
    o: Pool2dOptions,
) -> Result<(Pool2dGeometry, Vec<usize>)> {
    let err = |msg: String| Err(TensorError::new(op, msg));
    let (lead, h, w) = match xs {
        [n, c, h, w] => (vec![*n, *c], *h, *w),
        [c, h, w] => (vec![*c], *h, *w),
        _ => {
            return err(format!(
                "expected an input of shape [batch, channels, height, width] or [channels, \
                 height, width], got {}",
                fmt_shape(xs)
            ))
        }
    };
    let ((kh, kw), (sh, sw), (ph, pw)) = (o.kernel, o.stride, o.padding);
    if kh == 0 || kw == 0 || sh == 0 || sw == 0 {
        return err(format!(
            "the kernel ({kh}, {kw}) and the stride ({sh}, {sw}) must be at least 1"
        ));
    }
    if 2 * ph > kh || 2 * pw > kw {
        return err(format!(
            "the padding ({ph}, {pw}) must be at most half the kernel ({kh}, {kw})"
        ));
    }
    let g = Pool2dGeometry {
        planes: lead.iter().product(),
        input: (h, w),
        kernel: o.kernel,
        stride: o.stride,
        padding: o.padding,
    };
    let Some((oh, ow)) = g.output() else {
        return err(format!(
            "the window {kh}×{kw} is larger than the padded input {}×{} (input {h}×{w}, padding \
             {ph}×{pw})",
            h + 2 * ph,
            w + 2 * pw
        ));
    };
    let mut shape = lead;
    shape.extend([oh, ow]);
    Ok((g, shape))
}

/// `y = max_pool2d(x)`.
#[derive(Clone, Debug)]
pub(crate) struct MaxPool2d {
    pub x: usize,
    pub geom: Pool2dGeometry,
}

impl MaxPool2d {
    /// Where each output's maximum was taken from, as `[planes, oh · ow]` places in the planes
    /// of `[planes, h · w]`, which is the second shape returned.
    fn places<T: Element>(&self, x: Tensor<'_, T>, y: Tensor<'_, T>) -> (Array<usize>, Vec<usize>) {
        let g = &self.geom;
        let index = kernels::max_pool2d_places(x.value().data(), y.value().data(), g);
        let per = index.len() / g.planes.max(1);
        let index = Array::from_vec(index, &[g.planes, per]).expect("one place per output");
        (index, vec![g.planes, g.input.0 * g.input.1])
    }
}

impl<T: Element> Rule<T> for MaxPool2d {
    fn name(&self) -> Cow<'static, str> {
        "max_pool2d".into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        format!(
            "max_pool2d({}, {}×{})",
            cx.name(self.x),
            self.geom.kernel.0,
            self.geom.kernel.1
        )
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        let x = self.x;
        let line = format!(
            "{} = {} sent to each window's maximum, 0 elsewhere   {} ← {}",
            cx.grad(x),
            cx.grad(y),
            cx.shape(x),
            cx.shape(y)
        );
        vec![(x, line)]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let mut dx = cx.buffer(cx.value(self.x).numel());
        let x = cx.value(self.x).data();
        kernels::max_pool2d_backward(x, y.data(), g, &self.geom, &mut dx);
        out.push((self.x, dx));
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let (index, planes) = self.places(cx.t(self.x), y);
        let g2 = g.reshape(&[index.shape()[0] as isize, index.shape()[1] as isize])?;
        let dx = g2.scatter_add_to(&planes, 1, &index);
        out.push((self.x, dx.reshape_to(cx.t(self.x).shape())?));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let (index, planes) = self.places(cx.t(self.x), y);
        let dx = cx.or_zeros(tangent(self.x), self.x);
        let flat = dx.reshape_to(planes)?;
        flat.gather(1, &index)?.reshape_to(y.shape())
    }
}

/// An average pooling (`Forward`, `x → y`) or its adjoint (`Adjoint`, an output-shaped `g`
/// to an input-shaped result).
#[derive(Clone, Debug)]
pub(crate) struct AvgPool2d {
    pub adjoint: bool,
    pub x: usize,
    pub geom: Pool2dGeometry,
    pub count_include_pad: bool,
    /// The shape of the input of the forward pooling.
    pub input_shape: Vec<usize>,
    /// The shape of the output of the forward pooling.
    pub output_shape: Vec<usize>,
}

impl AvgPool2d {
    fn compute<T: Element>(&self, adjoint: bool, tape: &Tape<T>, x: &[T]) -> Vec<T> {
        let n = if adjoint {
            self.input_shape.iter().product()
        } else {
            self.output_shape.iter().product()
        };
        let mut out = tape.buffer(n);
        if adjoint {
            kernels::avg_pool2d_adjoint(x, &self.geom, self.count_include_pad, &mut out);
        } else {
            kernels::avg_pool2d(x, &self.geom, self.count_include_pad, &mut out);
        }
        out
    }

    /// Records the pooling (or its adjoint, `adjoint`) of `x`.
    #[track_caller]
    fn record<'t, T: Element>(&self, adjoint: bool, x: Tensor<'t, T>) -> Tensor<'t, T> {
        let tape = x.tape;
        let out = self.compute(adjoint, tape, x.value().data());
        let shape = if adjoint {
            self.input_shape.clone()
        } else {
            self.output_shape.clone()
        };
        let node = Op::AvgPool2d(Box::new(AvgPool2d {
            adjoint,
            x: x.id,
            ..self.clone()
        }));
        tape.record(Array::from_parts(out, shape), node, &[x.id])
    }
}

impl<T: Element> Rule<T> for AvgPool2d {
    fn name(&self) -> Cow<'static, str> {
        if self.adjoint {
            "avg_pool2d_backward"
        } else {
            "avg_pool2d"
        }
        .into()
    }
    fn inputs(&self) -> Vec<usize> {
        vec![self.x]
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        out.push((self.x, self.compute(!self.adjoint, cx.tape, g)));
    }
    fn vjp_recorded<'t>(
        &self,
        _cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        out.push((self.x, self.record(!self.adjoint, g)));
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        Ok(self.record(self.adjoint, cx.or_zeros(tangent(self.x), self.x)))
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// The maximum of each window of each plane, as `torch.nn.functional.max_pool2d`; the input
    /// is `[batch, channels, height, width]` or `[channels, height, width]`. The gradient goes to
    /// the element each maximum was taken from: the first of equal maxima in the window (row by
    /// row), and a NaN where there is one (which then propagates), as PyTorch.
    ///
    /// ```
    /// use chainrule::tensor::rules::pool::Pool2dOptions;
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(Array::from_vec(vec![1., 5., 2., 0., 3., 4., 4., 1.], &[1, 2, 4]).unwrap());
    /// let y = x.max_pool2d(Pool2dOptions::new(2)).unwrap(); // two 2×2 windows
    /// assert_eq!(y.to_vec(), vec![5.0, 4.0]);
    /// y.sum_all().backward().unwrap();
    /// // A tie (4 and 4): the first in the window takes the gradient.
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0., 1., 0., 0., 0., 0., 1., 0.]);
    /// ```
    #[track_caller]
    pub fn max_pool2d(self, options: Pool2dOptions) -> Result<Tensor<'t, T>> {
        let x = self.value();
        let (geom, shape) = pool_geometry("max_pool2d", x.shape(), options)?;
        let n: usize = shape.iter().product();
        let mut out = self.tape.buffer(n);
        kernels::max_pool2d(x.data(), &geom, &mut out);
        let node = Op::MaxPool2d(Box::new(MaxPool2d { x: self.id, geom }));
        Ok(self
            .tape
            .record(Array::from_parts(out, shape), node, &[self.id]))
    }

    /// The average of each window of each plane, as `torch.nn.functional.avg_pool2d` with its
    /// defaults (`count_include_pad=True`: padding counts as zeros in the average).
    ///
    /// ```
    /// use chainrule::tensor::rules::pool::Pool2dOptions;
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Array::arange(0.0, 16.0, 1.0).reshape(&[1, 1, 4, 4]).unwrap());
    /// let y = x.avg_pool2d(Pool2dOptions::new(2)).unwrap();
    /// assert_eq!(y.to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
    /// ```
    #[track_caller]
    pub fn avg_pool2d(self, options: Pool2dOptions) -> Result<Tensor<'t, T>> {
        self.avg_pool2d_with(options, true)
    }

    /// [`Tensor::avg_pool2d`] choosing `count_include_pad`: without it, each window is divided
    /// by the number of its elements inside the input.
    #[track_caller]
    pub fn avg_pool2d_with(
        self,
        options: Pool2dOptions,
        count_include_pad: bool,
    ) -> Result<Tensor<'t, T>> {
        let xs = self.shape();
        let (geom, shape) = pool_geometry("avg_pool2d", &xs, options)?;
        let pool = AvgPool2d {
            adjoint: false,
            x: self.id,
            geom,
            count_include_pad,
            input_shape: xs,
            output_shape: shape,
        };
        Ok(pool.record(false, self))
    }

    /// The average over windows that divide each plane into `output` (height, width) parts, as
    /// `torch.nn.functional.adaptive_avg_pool2d` when the input's size is a multiple of the
    /// output's (`1` gives the global average pooling of a ResNet's head); other sizes are an
    /// error.
    #[track_caller]
    pub fn adaptive_avg_pool2d(self, output: impl Pair) -> Result<Tensor<'t, T>> {
        let (oh, ow) = output.pair();
        let xs = self.shape();
        let [.., h, w] = xs[..] else {
            return Err(TensorError::new(
                "adaptive_avg_pool2d",
                format!(
                    "expected an input of at least 2 dimensions, got {}",
                    fmt_shape(&xs)
                ),
            ));
        };
        if (oh, ow) == (1, 1) && xs.len() >= 3 {
            let n = xs.len() as isize;
            return self.mean(&[n - 2, n - 1], true);
        }
        if oh == 0 || ow == 0 || h % oh != 0 || w % ow != 0 {
            return Err(TensorError::new(
                "adaptive_avg_pool2d",
                format!(
                    "an output of {oh}×{ow} from an input of {h}×{w} is supported only when it \
                     divides the input"
                ),
            ));
        }
        self.avg_pool2d(Pool2dOptions::new((h / oh, w / ow)))
    }
}
