//! The two-dimensional convolution layer.

use super::{Context, Module};
use crate::tensor::rules::conv::Pair;
use crate::tensor::{Array, Conv2dOptions, Tensor, TensorError};
use crate::util::rand::Rng;

/// A convolution over images `[batch, in_channels, height, width]`, as PyTorch's `nn.Conv2d`:
/// the weight is `[out_channels, in_channels / groups, kh, kw]` and the bias (when there is one)
/// `[out_channels]`; stride, padding, dilation and groups are those of [`Conv2dOptions`].
///
/// The initialisation is PyTorch's default (Kaiming-uniform with `a = √5`): weight and bias
/// uniform in `±1/√fan_in`, where `fan_in = in_channels / groups · kh · kw`, drawn from the
/// seeded generator given.
///
/// ```
/// use chainrule::nn::{Context, Conv2d, Module};
/// use chainrule::rand::Rng;
/// use chainrule::tensor::{Array, Conv2dOptions, Tape};
///
/// let conv = Conv2d::new(1, 32, 3, Conv2dOptions::default().padding(1), true, &mut Rng::new(0));
/// assert_eq!(conv.weight.shape(), &[32, 1, 3, 3]);
/// assert!(conv.weight.data().iter().all(|w| w.abs() <= 1.0 / 3.0));
/// assert_eq!(
///     conv.describe(),
///     "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
/// );
/// let tape = Tape::<f32>::new();
/// let x = tape.constant(Array::ones(&[2, 1, 28, 28]));
/// let y = conv.forward(x, &mut Context::inference(&tape)).unwrap();
/// assert_eq!(y.shape(), vec![2, 32, 28, 28]);
/// ```
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// The weight, `[out_channels, in_channels / groups, kh, kw]`.
    pub weight: Array<f32>,
    /// The bias, `[out_channels]`, if any.
    pub bias: Option<Array<f32>>,
    /// Stride, padding, dilation and groups.
    pub options: Conv2dOptions,
}

impl Conv2d {
    /// A layer from `in_channels` to `out_channels` with a `kernel` (one size, or `(kh, kw)`),
    /// initialised as PyTorch does; `bias: false` leaves the bias out (as before a batch
    /// normalisation, which would cancel it).
    ///
    /// # Panics
    /// If the groups of `options` do not divide both channel counts (layers built from a spec
    /// are checked before; see [`ConvSpec`](super::ConvSpec)).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Pair,
        options: Conv2dOptions,
        bias: bool,
        rng: &mut Rng,
    ) -> Self {
        let (kh, kw) = kernel.pair();
        let g = options.groups;
        assert!(
            g > 0 && in_channels % g == 0 && out_channels % g == 0,
            "Conv2d: {in_channels} input and {out_channels} output channels do not divide into \
             {g} groups"
        );
        let fan_in = in_channels / g * kh * kw;
        let bound = if fan_in == 0 {
            0.0
        } else {
            1.0 / (fan_in as f64).sqrt()
        };
        let mut draw = |shape: &[usize]| {
            let n = shape.iter().product();
            let v = (0..n).map(|_| rng.uniform(-bound, bound) as f32).collect();
            Array::from_vec(v, shape).expect("sizes agree")
        };
        let weight = draw(&[out_channels, in_channels / g, kh, kw]);
        let bias = bias.then(|| draw(&[out_channels]));
        Conv2d {
            weight,
            bias,
            options,
        }
    }

    /// The number of input channels.
    pub fn in_channels(&self) -> usize {
        self.weight.shape()[1] * self.options.groups
    }

    /// The number of output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The kernel's height and width.
    pub fn kernel(&self) -> (usize, usize) {
        (self.weight.shape()[2], self.weight.shape()[3])
    }
}

impl Module for Conv2d {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let w = ctx.param(&self.weight);
        let b = self.bias.as_ref().map(|b| ctx.param(b));
        x.conv2d(w, b, self.options)
    }

    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        let mut out = vec![("weight".into(), &self.weight)];
        out.extend(self.bias.as_ref().map(|b| ("bias".into(), b)));
        out
    }

    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        let mut out = vec![("weight".into(), &mut self.weight)];
        out.extend(self.bias.as_mut().map(|b| ("bias".into(), b)));
        out
    }

    fn describe(&self) -> String {
        let o = &self.options;
        let (kh, kw) = self.kernel();
        let mut s = format!(
            "Conv2d({}, {}, kernel_size=({kh}, {kw}), stride=({}, {})",
            self.in_channels(),
            self.out_channels(),
            o.stride.0,
            o.stride.1
        );
        if o.padding != (0, 0) {
            s += &format!(", padding=({}, {})", o.padding.0, o.padding.1);
        }
        if o.dilation != (1, 1) {
            s += &format!(", dilation=({}, {})", o.dilation.0, o.dilation.1);
        }
        if o.groups != 1 {
            s += &format!(", groups={}", o.groups);
        }
        if self.bias.is_none() {
            s += ", bias=False";
        }
        s + ")"
    }
}
