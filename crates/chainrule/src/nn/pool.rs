//! Pooling layers: the maximum or the average of each window, and the global average.

use super::{Context, Module};
use crate::tensor::rules::conv::Pair;
use crate::tensor::{Pool2dOptions, Tensor, TensorError};

/// The maximum of each window of each channel, as PyTorch's `nn.MaxPool2d` (the stride defaults
/// to the window's size; the gradient goes to the first maximum of a window).
///
/// ```
/// use chainrule::nn::{Context, MaxPool2d, Module};
/// use chainrule::tensor::{Array, Tape};
///
/// let pool = MaxPool2d::new(2);
/// assert_eq!(pool.describe(), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
/// let tape = Tape::<f32>::new();
/// let x = tape.constant(Array::arange(0.0, 16.0, 1.0).reshape(&[1, 1, 4, 4]).unwrap());
/// let y = pool.forward(x, &mut Context::inference(&tape)).unwrap();
/// assert_eq!(y.to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    /// The window, stride and padding.
    pub options: Pool2dOptions,
}

/// The average of each window of each channel, as PyTorch's `nn.AvgPool2d` (padding counts as
/// zeros in the average, PyTorch's `count_include_pad=True`).
///
/// ```
/// use chainrule::nn::{AvgPool2d, Module};
///
/// assert_eq!(AvgPool2d::new(2).describe(), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2d {
    /// The window, stride and padding.
    pub options: Pool2dOptions,
}

impl MaxPool2d {
    /// Windows of `kernel` (one size, or `(kh, kw)`), moved by their own size.
    pub fn new(kernel: impl Pair) -> Self {
        MaxPool2d {
            options: Pool2dOptions::new(kernel),
        }
    }
}

impl AvgPool2d {
    /// Windows of `kernel` (one size, or `(kh, kw)`), moved by their own size.
    pub fn new(kernel: impl Pair) -> Self {
        AvgPool2d {
            options: Pool2dOptions::new(kernel),
        }
    }
}

/// `kernel_size=2` when both sizes agree, `kernel_size=(2, 3)` otherwise, as PyTorch prints
/// what it was given.
fn torch_pair((a, b): (usize, usize)) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("({a}, {b})")
    }
}

fn pool_settings(o: &Pool2dOptions) -> String {
    format!(
        "kernel_size={}, stride={}, padding={}",
        torch_pair(o.kernel),
        torch_pair(o.stride),
        torch_pair(o.padding)
    )
}

impl Module for MaxPool2d {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        _ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        x.max_pool2d(self.options)
    }

    fn describe(&self) -> String {
        format!(
            "MaxPool2d({}, dilation=1, ceil_mode=False)",
            pool_settings(&self.options)
        )
    }
}

impl Module for AvgPool2d {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        _ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        x.avg_pool2d(self.options)
    }

    fn describe(&self) -> String {
        format!("AvgPool2d({})", pool_settings(&self.options))
    }
}

/// The average over equal parts of each channel, as PyTorch's `nn.AdaptiveAvgPool2d` (for
/// output sizes that divide the input's); `AdaptiveAvgPool2d::new(1)` is the global average
/// pooling at the head of a residual network.
///
/// ```
/// use chainrule::nn::{AdaptiveAvgPool2d, Context, Module};
/// use chainrule::tensor::{Array, Tape};
///
/// let pool = AdaptiveAvgPool2d::new(1);
/// assert_eq!(pool.describe(), "AdaptiveAvgPool2d(output_size=1)");
/// let tape = Tape::<f32>::new();
/// let x = tape.constant(Array::arange(0.0, 8.0, 1.0).reshape(&[1, 2, 2, 2]).unwrap());
/// let y = pool.forward(x, &mut Context::inference(&tape)).unwrap();
/// assert_eq!((y.shape(), y.to_vec()), (vec![1, 2, 1, 1], vec![1.5, 5.5]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptiveAvgPool2d {
    /// The output's height and width.
    pub output: (usize, usize),
}

impl AdaptiveAvgPool2d {
    /// Pooling to `output` (one size, or `(height, width)`).
    pub fn new(output: impl Pair) -> Self {
        AdaptiveAvgPool2d {
            output: output.pair(),
        }
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        _ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        x.adaptive_avg_pool2d(self.output)
    }

    fn describe(&self) -> String {
        format!("AdaptiveAvgPool2d(output_size={})", torch_pair(self.output))
    }
}
