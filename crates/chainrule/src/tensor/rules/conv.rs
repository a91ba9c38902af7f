//! Two-dimensional convolution, `conv2d` (NCHW with weights `[out, in/groups, kh, kw]`, stride,
//! padding, dilation and groups, as `torch.nn.functional.conv2d`).
//!
//! A convolution is linear in its input and in its weights: `y = conv(x, w)` is the derivative
//! of the trilinear form `B(x, w, g) = ⟨conv(x, w), g⟩` with respect to `g`. Its two
//! vector-Jacobian products are the other two derivatives of the same form:
//!
//! - `dx = ∂B/∂x = convᵀ(g, w)`, the *transposed* convolution (the input's gradient);
//! - `dw = ∂B/∂w = conv_w(x, g)`, the correlation of the input with the output's gradient.
//!
//! So the three are recorded as one operation with a `Role`, and the products of each are
//! the other two: the vector-Jacobian product of `z = convᵀ(g, w)` along `dz` is
//! `(conv(dz, w), conv_w(dz, g))`, that of `v = conv_w(x, g)` along `dv` is
//! `(convᵀ(g, dv), conv(x, dv))`. Second derivatives (and any order) follow, with no other rule
//! written down. Each role is bilinear, so its tangent is the sum of the role applied to one
//! tangent and the other input. On numbers, each role runs through the kernels of
//! [`crate::tensor::kernels::conv`].

use std::borrow::Cow;

use super::{Explain, Numbers, Op, Recorded, Rule};
use crate::tensor::array::{Array, Element};
use crate::tensor::kernels::{self, Conv2dGeometry};
use crate::tensor::shape::{fmt_shape, Result, TensorError};
use crate::tensor::tape::{Tape, Tensor};

/// The settings of a convolution besides its operands, with PyTorch's defaults: stride 1, no
/// padding, dilation 1, one group.
///
/// ```
/// use chainrule::tensor::rules::conv::Conv2dOptions;
///
/// let o = Conv2dOptions::default().padding(1).stride((2, 1));
/// assert_eq!((o.padding, o.stride, o.groups), ((1, 1), (2, 1), 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// The step between windows, down and across.
    pub stride: (usize, usize),
    /// The zeros added on each side, vertically and horizontally.
    pub padding: (usize, usize),
    /// The spacing between kernel taps.
    pub dilation: (usize, usize),
    /// Channel groups: input and output channels are split into this many groups, each output
    /// group seeing only its input group.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

/// A size given as one number for both directions, or as `(vertical, horizontal)`.
pub trait Pair {
    /// The two sizes.
    fn pair(self) -> (usize, usize);
}

impl Pair for usize {
    fn pair(self) -> (usize, usize) {
        (self, self)
    }
}

impl Pair for (usize, usize) {
    fn pair(self) -> (usize, usize) {
        self
    }
}

impl Conv2dOptions {
    /// With this stride.
    pub fn stride(self, s: impl Pair) -> Self {
        Conv2dOptions {
            stride: s.pair(),
            ..self
        }
    }
    /// With this padding.
    pub fn padding(self, p: impl Pair) -> Self {
        Conv2dOptions {
            padding: p.pair(),
            ..self
        }
    }
    /// With this dilation.
    pub fn dilation(self, d: impl Pair) -> Self {
        Conv2dOptions {
            dilation: d.pair(),
            ..self
        }
    }
    /// With this many groups.
    pub fn groups(self, groups: usize) -> Self {
        Conv2dOptions { groups, ..self }
    }
}

/// Which derivative of `B(x, w, g) = ⟨conv(x, w), g⟩` a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `y = conv(a, b) (+ bias)`: `a` is the input, `b` the weights.
    Output,
    /// `z = convᵀ(a, b)`, input-shaped: `a` is an output-shaped gradient, `b` the weights.
    InputGrad,
    /// `v = conv_w(a, b)`, weight-shaped: `a` is the input, `b` an output-shaped gradient.
    WeightGrad,
}

/// A convolution, or one of its two adjoints (see [`Role`]).
#[derive(Clone, Debug)]
pub(crate) struct Conv2d {
    pub role: Role,
    pub a: usize,
    pub b: usize,
    /// The bias of [`Role::Output`].
    pub bias: Option<usize>,
    pub geom: Conv2dGeometry,
}

/// Computes one role on numbers into a buffer of `tape`'s pool.
fn compute<T: Element>(
    tape: &Tape<T>,
    role: Role,
    a: &[T],
    b: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeometry,
) -> Vec<T> {
    let (oh, ow) = g.output().expect("checked when recorded");
    let out_len = match role {
        Role::Output => g.batch * g.out_channels * oh * ow,
        Role::InputGrad => g.batch * g.in_channels * g.input.0 * g.input.1,
        Role::WeightGrad => g.out_channels * (g.in_channels / g.groups) * g.kernel.0 * g.kernel.1,
    };
    let mut out = tape.buffer(out_len);
    let scratch_len = match role {
        Role::WeightGrad => g.weight_scratch_len(),
        _ => g.scratch_len(),
    };
    let mut scratch = tape.buffer(scratch_len);
    match role {
        Role::Output => kernels::conv2d(a, b, bias, g, &mut out, &mut scratch),
        Role::InputGrad => kernels::conv2d_backward_input(a, b, g, &mut out, &mut scratch),
        Role::WeightGrad => kernels::conv2d_backward_weight(a, b, g, &mut out, &mut scratch),
    }
    tape.recycle(scratch);
    out
}

/// The shape of a role's output.
fn shape_of(role: Role, g: &Conv2dGeometry) -> Vec<usize> {
    let (oh, ow) = g.output().expect("checked when recorded");
    match role {
        Role::Output => vec![g.batch, g.out_channels, oh, ow],
        Role::InputGrad => vec![g.batch, g.in_channels, g.input.0, g.input.1],
        Role::WeightGrad => vec![
            g.out_channels,
            g.in_channels / g.groups,
            g.kernel.0,
            g.kernel.1,
        ],
    }
}

/// Computes and records one role (the geometry was checked by [`Tensor::conv2d`]).
#[track_caller]
fn record<'t, T: Element>(
    role: Role,
    a: Tensor<'t, T>,
    b: Tensor<'t, T>,
    bias: Option<Tensor<'t, T>>,
    geom: Conv2dGeometry,
) -> Tensor<'t, T> {
    let tape = a.tape;
    let (av, bv) = (a.value(), b.value());
    let biasv = bias.map(|t| t.value());
    let out = compute(
        tape,
        role,
        av.data(),
        bv.data(),
        biasv.as_ref().map(|v| v.data()),
        &geom,
    );
    let v = Array::from_parts(out, shape_of(role, &geom));
    let node = Op::Conv2d(Box::new(Conv2d {
        role,
        a: a.id,
        b: b.id,
        bias: bias.map(|t| t.id),
        geom,
    }));
    let mut inputs = vec![a.id, b.id];
    inputs.extend(bias.map(|t| t.id));
    tape.record(v, node, &inputs)
}

impl<T: Element> Rule<T> for Conv2d {
    fn name(&self) -> Cow<'static, str> {
        match self.role {
            Role::Output => "conv2d",
            Role::InputGrad => "conv_transpose2d",
            Role::WeightGrad => "conv2d_weight",
        }
        .into()
    }
    fn inputs(&self) -> Vec<usize> {
        let mut v = vec![self.a, self.b];
        v.extend(self.bias);
        v
    }
    fn formula(&self, cx: &Explain<'_>) -> String {
        let (a, b) = (cx.name(self.a), cx.name(self.b));
        match (self.role, self.bias) {
            (Role::Output, Some(bias)) => format!("conv2d({a}, {b}) + {}", cx.name(bias)),
            (Role::Output, None) => format!("conv2d({a}, {b})"),
            (Role::InputGrad, _) => format!("conv_transpose2d({a}, {b})"),
            (Role::WeightGrad, _) => format!("conv2d_weight({a}, {b})"),
        }
    }
    fn explain_vjp(&self, cx: &Explain<'_>, y: usize) -> Vec<(usize, String)> {
        if self.role != Role::Output {
            return vec![];
        }
        let (x, w, g) = (self.a, self.b, &self.geom);
        let (oh, ow) = g.output().unwrap_or((0, 0));
        let k = g.in_channels / g.groups * g.kernel.0 * g.kernel.1;
        let mut lines = vec![
            (
                x,
                format!(
                    "{} = conv_transpose2d({}, {})   {} ← {}, {}",
                    cx.grad(x),
                    cx.grad(y),
                    cx.name(w),
                    cx.shape(x),
                    cx.shape(y),
                    cx.shape(w)
                ),
            ),
            (
                w,
                format!(
                    "{} = Σ_images {}ₙ · unfold({}ₙ)ᵀ   [{}×{k}] = [{}×{}]·[{}×{k}] per image",
                    cx.grad(w),
                    cx.grad(y),
                    cx.name(x),
                    g.out_channels,
                    g.out_channels,
                    oh * ow,
                    oh * ow
                ),
            ),
        ];
        if let Some(b) = self.bias {
            lines.push((
                b,
                format!(
                    "{} = Σ over images and positions of {}   {}",
                    cx.grad(b),
                    cx.grad(y),
                    cx.shape(b)
                ),
            ));
        }
        lines
    }
    fn vjp(&self, cx: &Numbers<'_, T>, _y: &Array<T>, g: &[T], out: &mut Vec<(usize, Vec<T>)>) {
        let (a, b, geom) = (cx.value(self.a).data(), cx.value(self.b).data(), &self.geom);
        let tape = cx.tape;
        // Each role's two products are the other two roles (see the module's documentation).
        let (for_a, for_b) = match self.role {
            Role::Output => ((Role::InputGrad, g, b), (Role::WeightGrad, a, g)),
            Role::InputGrad => ((Role::Output, g, b), (Role::WeightGrad, g, a)),
            Role::WeightGrad => ((Role::InputGrad, b, g), (Role::Output, a, g)),
        };
        for (input, (role, p, q)) in [(self.a, for_a), (self.b, for_b)] {
            if cx.needs(input) {
                out.push((input, compute(tape, role, p, q, None, geom)));
            }
        }
        if let Some(bias) = self.bias.filter(|&j| cx.needs(j)) {
            let mut db = cx.buffer(geom.out_channels);
            kernels::conv2d_backward_bias(g, geom, &mut db);
            out.push((bias, db));
        }
    }
    fn vjp_recorded<'t>(
        &self,
        cx: &Recorded<'t, T>,
        _y: Tensor<'t, T>,
        g: Tensor<'t, T>,
        out: &mut Vec<(usize, Tensor<'t, T>)>,
    ) -> Result<()> {
        let (a, b, geom) = (cx.t(self.a), cx.t(self.b), self.geom);
        let (da, db) = match self.role {
            Role::Output => ((Role::InputGrad, g, b), (Role::WeightGrad, a, g)),
            Role::InputGrad => ((Role::Output, g, b), (Role::WeightGrad, g, a)),
            Role::WeightGrad => ((Role::InputGrad, b, g), (Role::Output, a, g)),
        };
        for (input, (role, p, q)) in [(self.a, da), (self.b, db)] {
            if cx.needs(input) {
                out.push((input, record(role, p, q, None, geom)));
            }
        }
        if let Some(bias) = self.bias.filter(|&j| cx.needs(j)) {
            out.push((bias, g.sum(&[0, 2, 3], false)?));
        }
        Ok(())
    }
    fn jvp<'t>(
        &self,
        cx: &Recorded<'t, T>,
        y: Tensor<'t, T>,
        tangent: &dyn Fn(usize) -> Option<Tensor<'t, T>>,
    ) -> Result<Tensor<'t, T>> {
        let (a, b, geom) = (cx.t(self.a), cx.t(self.b), self.geom);
        // Bilinear: d role(a, b) = role(da, b) + role(a, db).
        let mut sum: Option<Tensor<'t, T>> = None;
        let mut add = |t: Tensor<'t, T>| sum = Some(sum.map_or(t, |s| s + t));
        if let Some(da) = tangent(self.a) {
            add(record(self.role, da, b, None, geom));
        }
        if let Some(db) = tangent(self.b) {
            add(record(self.role, a, db, None, geom));
        }
        if let Some(dbias) = self.bias.and_then(tangent) {
            add(super::expand_to(dbias.reshape(&[1, -1, 1, 1])?, &y.shape()));
        }
        Ok(sum.expect("some input has a tangent"))
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// A two-dimensional convolution (a cross-correlation, as in every deep-learning library),
    /// as `torch.nn.functional.conv2d`: the input is `[batch, in, height, width]` (or
    /// `[in, height, width]` for one image), the weights `[out, in / groups, kh, kw]`, the bias
    /// (optional) `[out]`; the output is `[batch, out, oh, ow]` with
    /// `oh = (height + 2·padding − dilation·(kh − 1) − 1) / stride + 1`, likewise `ow`.
    ///
    /// ```
    /// use chainrule::tensor::rules::conv::Conv2dOptions;
    /// use chainrule::tensor::{Array, Tape};
    ///
    /// let tape = Tape::<f64>::new();
    /// // One 3×3 image, one 2×2 kernel of ones: each output sums a 2×2 window.
    /// let x = tape.var(Array::arange(0.0, 9.0, 1.0).reshape(&[1, 1, 3, 3]).unwrap());
    /// let w = tape.var(Array::ones(&[1, 1, 2, 2]));
    /// let y = x.conv2d(w, None, Conv2dOptions::default()).unwrap();
    /// assert_eq!(y.to_vec(), vec![8.0, 12.0, 20.0, 24.0]);
    /// y.sum_all().backward().unwrap();
    /// // The middle pixel is in all four windows, the corners in one.
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![1., 2., 1., 2., 4., 2., 1., 2., 1.]);
    /// ```
    #[track_caller]
    pub fn conv2d(
        self,
        weight: Tensor<'t, T>,
        bias: impl Into<Option<Tensor<'t, T>>>,
        options: Conv2dOptions,
    ) -> Result<Tensor<'t, T>> {
        let bias = bias.into();
        let xs = self.shape();
        if xs.len() == 3 {
            let y = self.unsqueeze(0)?.conv2d(weight, bias, options)?;
            return y.squeeze(0);
        }
        let geom = conv_geometry(&xs, &weight.shape(), bias.map(|b| b.shape()), options)?;
        Ok(record(Role::Output, self, weight, bias, geom))
    }
}

/// Checks the operands of a convolution and returns its geometry.
fn conv_geometry(
    xs: &[usize],
    ws: &[usize],
    bs: Option<Vec<usize>>,
    o: Conv2dOptions,
) -> Result<Conv2dGeometry> {
    let err = |msg: String| Err(TensorError::new("conv2d", msg));
    let &[batch, in_channels, h, w] = xs else {
        return err(format!(
            "expected an input of shape [batch, channels, height, width] (or [channels, height, \
             width]), got {}",
            fmt_shape(xs)
        ));
    };
    let &[out_channels, per_group, kh, kw] = ws else {
        return err(format!(
            "expected weights of shape [out, in / groups, kh, kw], got {}",
            fmt_shape(ws)
        ));
    };
    for (what, (a, b)) in [("stride", o.stride), ("dilation", o.dilation)] {
        if a == 0 || b == 0 {
            return err(format!("the {what} must be at least 1, got ({a}, {b})"));
        }
    }
    if o.groups == 0 {
        return err("groups must be at least 1, got 0".into());
    }
    if in_channels % o.groups != 0 || out_channels % o.groups != 0 {
        return err(format!(
            "{in_channels} input and {out_channels} output channels do not divide into {} groups",
            o.groups
        ));
    }
    if per_group != in_channels / o.groups {
        return err(format!(
            "weights {} expect {} input channels per group, but the input {} has {in_channels} \
             channels in {} group{} ({} per group)",
            fmt_shape(ws),
            per_group,
            fmt_shape(xs),
            o.groups,
            if o.groups == 1 { "" } else { "s" },
            in_channels / o.groups
        ));
    }
    if kh == 0 || kw == 0 {
        return err(format!("the kernel {kh}×{kw} is empty"));
    }
    if let Some(bs) = bs {
        if bs != [out_channels] {
            return err(format!(
                "the bias has shape {} but the weights {} have {out_channels} output channels",
                fmt_shape(&bs),
                fmt_shape(ws)
            ));
        }
    }
    let geom = Conv2dGeometry {
        batch,
        in_channels,
        input: (h, w),
        out_channels,
        kernel: (kh, kw),
        stride: o.stride,
        padding: o.padding,
        dilation: o.dilation,
        groups: o.groups,
    };
    if geom.output().is_none() {
        let (dh, dw) = o.dilation;
        let (ph, pw) = o.padding;
        return err(format!(
            "the kernel {kh}×{kw} (dilation {dh}×{dw}, spanning {}×{}) is larger than the padded \
             input {}×{} (input {h}×{w}, padding {ph}×{pw})",
            dh * (kh - 1) + 1,
            dw * (kw - 1) + 1,
            h + 2 * ph,
            w + 2 * pw
        ));
    }
    Ok(geom)
}
