//! Convolutional networks from a spec such as `c32bn-p2-c64bn-p2-f128-d0.3-10`.

use std::fmt;
use std::str::FromStr;

use super::mlp::torch_activation;
use super::{
    Activation, AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten,
    Linear, MaxPool2d, Sequential, SpecError,
};
use crate::data::ImageShape;
use crate::tensor::kernels::Conv2dGeometry;
use crate::tensor::{Conv2dOptions, Pool2dOptions};
use crate::util::rand::Rng;

/// The most parameters a spec may ask for (4 GiB of f32): a typing slip such as `c100000`
/// must fail with a message, not exhaust memory.
pub const MAX_PARAMETERS: usize = 1 << 30;

/// One layer of a [`ConvSpec`], as one part of the text between dashes.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    /// `c32`, `c32bn`, `c64k5s2p2d1g2`: a convolution to `channels` channels with a square
    /// `kernel` (3), `stride` (1), `padding` (`kernel / 2`, which keeps the size at stride 1),
    /// `dilation` (1) and `groups` (1), then a batch normalisation with `bn` (and then no bias
    /// in the convolution, since the normalisation would cancel it), then the activation.
    Conv {
        /// The output channels.
        channels: usize,
        /// The kernel's height and width.
        kernel: usize,
        /// The step between windows.
        stride: usize,
        /// The zeros added on each side.
        padding: usize,
        /// The spacing between kernel taps.
        dilation: usize,
        /// The channel groups.
        groups: usize,
        /// A batch normalisation before the activation.
        batch_norm: bool,
    },
    /// `p2`, `p3s2`: the maximum of each `kernel × kernel` window, moved by `stride` (default
    /// the kernel).
    MaxPool {
        /// The window's side.
        kernel: usize,
        /// The step between windows.
        stride: usize,
    },
    /// `a2`, `a3s2`: the average of each window.
    AvgPool {
        /// The window's side.
        kernel: usize,
        /// The step between windows.
        stride: usize,
    },
    /// `g`: the average of each channel over the whole image (global average pooling).
    GlobalAvgPool,
    /// `d0.3`: dropout with this probability.
    Dropout(f64),
    /// `f128` (or `128`), `f128bn`: a fully connected layer (the images flattened first); a
    /// hidden one is followed by a batch normalisation with `bn`, then the activation; the last
    /// layer of a spec is one with no activation: the outputs.
    Dense {
        /// The number of outputs.
        features: usize,
        /// A batch normalisation before the activation (hidden layers only).
        batch_norm: bool,
    },
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LayerSpec::Conv {
                channels,
                kernel,
                stride,
                padding,
                dilation,
                groups,
                batch_norm,
            } => {
                write!(f, "c{channels}")?;
                if kernel != 3 {
                    write!(f, "k{kernel}")?;
                }
                if stride != 1 {
                    write!(f, "s{stride}")?;
                }
                if padding != kernel / 2 {
                    write!(f, "p{padding}")?;
                }
                if dilation != 1 {
                    write!(f, "d{dilation}")?;
                }
                if groups != 1 {
                    write!(f, "g{groups}")?;
                }
                if batch_norm {
                    f.write_str("bn")?;
                }
                Ok(())
            }
            LayerSpec::MaxPool { kernel, stride } | LayerSpec::AvgPool { kernel, stride } => {
                let letter = if matches!(self, LayerSpec::MaxPool { .. }) {
                    'p'
                } else {
                    'a'
                };
                write!(f, "{letter}{kernel}")?;
                if stride != kernel {
                    write!(f, "s{stride}")?;
                }
                Ok(())
            }
            LayerSpec::GlobalAvgPool => f.write_str("g"),
            LayerSpec::Dropout(p) => write!(f, "d{p}"),
            LayerSpec::Dense {
                features,
                batch_norm,
            } => write!(f, "f{features}{}", if batch_norm { "bn" } else { "" }),
        }
    }
}

/// Splits `c64k5bn` into its letter (`c`), its number (`64`) and its options (`k5`, `bn`).
fn options(rest: &str) -> Option<Vec<(String, Option<usize>)>> {
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        let mut key = String::new();
        while let Some(&c) = chars.peek().filter(|c| c.is_ascii_alphabetic()) {
            key.push(c);
            chars.next();
        }
        let mut digits = String::new();
        while let Some(&c) = chars.peek().filter(|c| c.is_ascii_digit()) {
            digits.push(c);
            chars.next();
        }
        if key.is_empty() {
            return None;
        }
        let value = if digits.is_empty() {
            None
        } else {
            Some(digits.parse().ok()?)
        };
        out.push((key, value));
    }
    Some(out)
}

impl LayerSpec {
    /// Reads one part of a spec; `Err` holds why it is not a layer.
    fn parse(part: &str) -> Result<LayerSpec, String> {
        let p = part.trim();
        if let Ok(n) = p.parse::<usize>() {
            return Ok(LayerSpec::Dense {
                features: n,
                batch_norm: false,
            });
        }
        let Some(letter) = p.chars().next() else {
            return Err("an empty part".into());
        };
        let body = &p[letter.len_utf8()..];
        if letter == 'd' {
            return match body.parse::<f64>() {
                Ok(q) if (0.0..1.0).contains(&q) => Ok(LayerSpec::Dropout(q)),
                _ => Err("a dropout probability must be in [0, 1), as in d0.3".into()),
            };
        }
        if letter == 'g' && body.is_empty() {
            return Ok(LayerSpec::GlobalAvgPool);
        }
        let digits: String = body.chars().take_while(|c| c.is_ascii_digit()).collect();
        let size: usize = digits
            .parse()
            .map_err(|_| format!("'{letter}' must be followed by a number"))?;
        let opts = options(&body[digits.len()..]).ok_or("options are letters and numbers")?;
        let get = |key: &str, default: usize| -> usize {
            match opts.iter().position(|(k, v)| k == key && v.is_some()) {
                Some(i) => opts[i].1.expect("a value"),
                None => default,
            }
        };
        let bn = opts.iter().any(|(k, v)| k == "bn" && v.is_none());
        let known: &[&str] = match letter {
            'c' => &["k", "s", "p", "d", "g", "bn"],
            'p' | 'a' => &["s"],
            'f' => &["bn"],
            _ => return Err(format!("'{letter}' is not a kind of layer")),
        };
        if let Some((k, _)) = opts
            .iter()
            .find(|(k, v)| !known.contains(&k.as_str()) || (k == "bn") != v.is_none())
        {
            return Err(format!("'{k}' is not an option of '{letter}' layers"));
        }
        Ok(match letter {
            'c' => {
                let kernel = get("k", 3);
                LayerSpec::Conv {
                    channels: size,
                    kernel,
                    stride: get("s", 1),
                    padding: get("p", kernel / 2),
                    dilation: get("d", 1),
                    groups: get("g", 1),
                    batch_norm: bn,
                }
            }
            'p' => LayerSpec::MaxPool {
                kernel: size,
                stride: get("s", size),
            },
            'a' => LayerSpec::AvgPool {
                kernel: size,
                stride: get("s", size),
            },
            _ => LayerSpec::Dense {
                features: size,
                batch_norm: bn,
            },
        })
    }
}

/// The layers of a convolutional network as written, before the images they take are known:
/// what `--model c32bn-p2-c64bn-p2-f128-10` gives. [`ConvSpec::new`] checks them against an
/// image shape.
///
/// ```
/// use chainrule::nn::ConvLayers;
///
/// let layers: ConvLayers = "c32bn-p2-c64k5-p2-f128-d0.25-10".parse().unwrap();
/// assert_eq!(layers.0.len(), 7);
/// assert_eq!(layers.to_string(), "c32bn-p2-c64k5-p2-f128-d0.25-10");
/// assert_eq!("c32-128-10".parse::<ConvLayers>().unwrap().to_string(), "c32-f128-10");
/// let err = "c32-x2-10".parse::<ConvLayers>().unwrap_err();
/// assert!(err.to_string().contains("'x2' is not a layer: 'x' is not a kind of layer"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ConvLayers(pub Vec<LayerSpec>);

impl fmt::Display for ConvLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            if i + 1 == self.0.len() {
                if let LayerSpec::Dense { features, .. } = l {
                    // The outputs, as a bare number.
                    write!(f, "{features}")?;
                    continue;
                }
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}

impl FromStr for ConvLayers {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let layers = s
            .trim()
            .split('-')
            .map(|p| {
                LayerSpec::parse(p).map_err(|reason| SpecError::NotALayer {
                    spec: s.to_string(),
                    part: p.to_string(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        match layers.last() {
            Some(LayerSpec::Dense {
                batch_norm: false, ..
            }) => Ok(ConvLayers(layers)),
            _ => Err(SpecError::NoOutputs {
                spec: s.to_string(),
            }),
        }
    }
}

/// A convolutional network: the shape of the images it takes, its layers, and the activation
/// after each convolution and hidden fully connected layer.
///
/// The network it builds is the `torch.nn.Sequential` of the layers in order (a convolution,
/// its batch normalisation, the activation; a pooling; `nn.Flatten()` before the first fully
/// connected layer; ...), so its parameter and buffer names are PyTorch's, and
/// [`ConvSpec::torch`] writes its PyTorch code.
///
/// ```
/// use chainrule::data::ImageShape;
/// use chainrule::nn::{Activation, ConvSpec, Module};
///
/// let layers = "c32bn-p2-c64bn-p2-f128-10".parse().unwrap();
/// let spec = ConvSpec::new(ImageShape::new(1, 28, 28), layers, Activation::Relu).unwrap();
/// assert_eq!(spec.shapes().last().unwrap(), &vec![10]);
/// assert_eq!(spec.shapes()[1], vec![32, 14, 14]); // after the first pooling
/// let net = spec.build(0);
/// assert_eq!(net.named_parameters()[0].0, "0.weight");
/// assert_eq!(net.num_parameters(), spec.num_parameters());
/// assert!(spec.torch().starts_with(
///     "nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), \
///      nn.MaxPool2d(2), "
/// ));
/// let err = ConvSpec::new(ImageShape::new(1, 8, 8), "p4-p4-10".parse().unwrap(), Activation::Relu)
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "layer 2 of the network (p4) does not fit: its window 4×4 is larger than its input 2×2 \
///      (1 channel of 2×2)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ConvSpec {
    /// The images the network takes.
    pub input: ImageShape,
    /// The layers, ending with the output layer (fully connected, no activation).
    pub layers: Vec<LayerSpec>,
    /// The activation after each convolution and hidden fully connected layer.
    pub activation: Activation,
    /// The shape after each layer (`[channels, height, width]`, then `[features]`).
    shapes: Vec<Vec<usize>>,
    params: usize,
}

impl ConvSpec {
    /// The network of `layers` on images of `input`, if every layer fits the output of the one
    /// before (a kernel or window no larger than its padded input, groups that divide the
    /// channels, no more than [`MAX_PARAMETERS`]).
    pub fn new(
        input: ImageShape,
        layers: ConvLayers,
        activation: Activation,
    ) -> Result<ConvSpec, SpecError> {
        let layers = layers.0;
        let mut shape = input.dims().to_vec();
        let mut shapes = Vec::with_capacity(layers.len());
        let mut params = 0usize;
        for (i, layer) in layers.iter().enumerate() {
            let unfit = |reason: String| SpecError::DoesNotFit {
                layer: i + 1,
                part: layer.to_string(),
                reason,
            };
            let (c, h, w) = match shape[..] {
                [c, h, w] => (c, h, w),
                _ => (shape[0], 1, 1),
            };
            let flat = shape.len() == 1;
            let spatial = || -> Result<(), SpecError> {
                if flat {
                    Err(unfit(
                        "it needs images, but the layers before it flattened them".into(),
                    ))
                } else {
                    Ok(())
                }
            };
            let described = || format!("{c} channel{} of {h}×{w}", if c == 1 { "" } else { "s" });
            let (next, count) = match *layer {
                LayerSpec::Conv {
                    channels,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    batch_norm,
                } => {
                    spatial()?;
                    if channels == 0 || kernel == 0 {
                        return Err(unfit("a convolution needs channels and a kernel".into()));
                    }
                    if stride == 0 || dilation == 0 {
                        return Err(unfit(format!(
                            "the stride and the dilation must be at least 1 (stride {stride}, \
                             dilation {dilation})"
                        )));
                    }
                    if groups == 0 || c % groups != 0 || channels % groups != 0 {
                        return Err(unfit(format!(
                            "{c} input and {channels} output channels do not divide into {groups} \
                             groups"
                        )));
                    }
                    let geom = Conv2dGeometry {
                        batch: 1,
                        in_channels: c,
                        input: (h, w),
                        out_channels: channels,
                        kernel: (kernel, kernel),
                        stride: (stride, stride),
                        padding: (padding, padding),
                        dilation: (dilation, dilation),
                        groups,
                    };
                    let Some((oh, ow)) = geom.output() else {
                        let span = dilation * (kernel - 1) + 1;
                        return Err(unfit(format!(
                            "its kernel {kernel}×{kernel} (spanning {span}×{span}) is larger than \
                             its padded input {}×{} ({}, padding {padding})",
                            h + 2 * padding,
                            w + 2 * padding,
                            described()
                        )));
                    };
                    let weights = (c / groups)
                        .checked_mul(kernel * kernel)
                        .and_then(|n| n.checked_mul(channels));
                    let extra = if batch_norm { 2 * channels } else { channels };
                    (vec![channels, oh, ow], weights.map(|n| n + extra))
                }
                LayerSpec::MaxPool { kernel, stride } | LayerSpec::AvgPool { kernel, stride } => {
                    spatial()?;
                    if kernel == 0 || stride == 0 {
                        return Err(unfit(
                            "a pooling window and its stride must be at least 1".into(),
                        ));
                    }
                    if kernel > h || kernel > w {
                        return Err(unfit(format!(
                            "its window {kernel}×{kernel} is larger than its input {h}×{w} ({})",
                            described()
                        )));
                    }
                    (
                        vec![c, (h - kernel) / stride + 1, (w - kernel) / stride + 1],
                        Some(0),
                    )
                }
                LayerSpec::GlobalAvgPool => {
                    spatial()?;
                    (vec![c, 1, 1], Some(0))
                }
                LayerSpec::Dropout(_) => (shape.clone(), Some(0)),
                LayerSpec::Dense {
                    features,
                    batch_norm,
                } => {
                    if features == 0 {
                        return Err(unfit("a layer of width 0".into()));
                    }
                    let inputs: usize = shape.iter().product();
                    let extra = if batch_norm { 3 * features } else { features };
                    (
                        vec![features],
                        inputs.checked_mul(features).map(|n| n + extra),
                    )
                }
            };
            params = count
                .and_then(|n| params.checked_add(n))
                .filter(|&n| n <= MAX_PARAMETERS)
                .ok_or_else(|| {
                    unfit(format!(
                        "the network would have more than {MAX_PARAMETERS} parameters"
                    ))
                })?;
            shapes.push(next.clone());
            shape = next;
        }
        Ok(ConvSpec {
            input,
            layers,
            activation,
            shapes,
            params,
        })
    }

    /// The named default `--model cnn` for images of `input` and `outputs` classes: two 3×3
    /// convolutions (32 and 64 channels), each with batch normalisation and ReLU, a 2×2 max
    /// pooling after each (after the second only for images under 16 pixels a side), a hidden
    /// layer of 128 and dropout 0.3 before the output layer: `c32bn-p2-c64bn-p2-f128-d0.3-10` for
    /// 28×28 images, `c32bn-c64bn-p2-f128-d0.3-10` for the 8×8 digits.
    ///
    /// ```
    /// use chainrule::data::ImageShape;
    /// use chainrule::nn::ConvSpec;
    ///
    /// let fashion = ConvSpec::named_default(ImageShape::new(1, 28, 28), 10).unwrap();
    /// assert_eq!(fashion.to_string(), "c32bn-p2-c64bn-p2-f128-d0.3-10");
    /// ```
    pub fn named_default(input: ImageShape, outputs: usize) -> Result<ConvSpec, SpecError> {
        let side = input.height.min(input.width);
        let first_pool = if side >= 16 { "-p2" } else { "" };
        let text = format!("c32bn{first_pool}-c64bn-p2-f128-d0.3-{outputs}");
        ConvSpec::new(input, text.parse()?, Activation::Relu)
    }

    /// The shape after each layer: `[channels, height, width]` while they are images, then
    /// `[features]`.
    pub fn shapes(&self) -> &[Vec<usize>] {
        &self.shapes
    }

    /// The number of values of one input image.
    pub fn inputs(&self) -> usize {
        self.input.len()
    }

    /// The number of outputs.
    pub fn outputs(&self) -> usize {
        self.shapes.last().map_or(0, |s| s[0])
    }

    /// The number of parameters of the network (numbers, not tensors).
    pub fn num_parameters(&self) -> usize {
        self.params
    }

    /// The layers, as the text `--model` takes.
    pub fn layers_text(&self) -> String {
        ConvLayers(self.layers.clone()).to_string()
    }

    /// Each layer with the shape of its input (channels first, without the batch) and whether
    /// it is the output layer: what building the network, or describing it layer by layer,
    /// goes through.
    pub fn walk(&self) -> Vec<(&LayerSpec, Vec<usize>, bool)> {
        let n = self.layers.len();
        let inputs = std::iter::once(self.input.dims().to_vec()).chain(self.shapes.iter().cloned());
        self.layers
            .iter()
            .zip(inputs)
            .enumerate()
            .map(|(i, (l, s))| (l, s, i + 1 == n))
            .collect()
    }

    /// The network, with weights drawn from `seed` (PyTorch's default initialisations).
    pub fn build(&self, seed: u64) -> Sequential {
        let mut rng = Rng::new(seed);
        let mut net = Sequential::new();
        for (layer, before, last) in self.walk() {
            match *layer {
                LayerSpec::Conv {
                    channels,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    batch_norm,
                } => {
                    let options = Conv2dOptions::default()
                        .stride(stride)
                        .padding(padding)
                        .dilation(dilation)
                        .groups(groups);
                    net.push(Box::new(Conv2d::new(
                        before[0],
                        channels,
                        kernel,
                        options,
                        !batch_norm,
                        &mut rng,
                    )));
                    if batch_norm {
                        net.push(Box::new(BatchNorm2d::new(channels)));
                    }
                    net.push(self.activation.layer());
                }
                LayerSpec::MaxPool { kernel, stride } => net.push(Box::new(MaxPool2d {
                    options: Pool2dOptions::new(kernel).stride(stride),
                })),
                LayerSpec::AvgPool { kernel, stride } => net.push(Box::new(AvgPool2d {
                    options: Pool2dOptions::new(kernel).stride(stride),
                })),
                LayerSpec::GlobalAvgPool => net.push(Box::new(AdaptiveAvgPool2d::new(1))),
                LayerSpec::Dropout(p) => net.push(Box::new(Dropout::new(p))),
                LayerSpec::Dense {
                    features,
                    batch_norm,
                } => {
                    if before.len() > 1 {
                        net.push(Box::new(Flatten::default()));
                    }
                    let inputs = before.iter().product();
                    net.push(Box::new(Linear::new(inputs, features, &mut rng)));
                    if !last {
                        if batch_norm {
                            net.push(Box::new(BatchNorm1d::new(features)));
                        }
                        net.push(self.activation.layer());
                    }
                }
            }
        }
        net
    }

    /// The PyTorch code that builds the same network, e.g. `nn.Sequential(nn.Conv2d(1, 32, 3,
    /// padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6272, 10))`.
    pub fn torch(&self) -> String {
        let act = torch_activation(self.activation);
        let mut parts: Vec<String> = Vec::new();
        for (layer, before, last) in self.walk() {
            match *layer {
                LayerSpec::Conv {
                    channels,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    batch_norm,
                } => {
                    let mut s = format!("nn.Conv2d({}, {channels}, {kernel}", before[0]);
                    for (name, v, default) in [
                        ("stride", stride, 1),
                        ("padding", padding, 0),
                        ("dilation", dilation, 1),
                        ("groups", groups, 1),
                    ] {
                        if v != default {
                            s += &format!(", {name}={v}");
                        }
                    }
                    if batch_norm {
                        s += ", bias=False";
                    }
                    parts.push(s + ")");
                    if batch_norm {
                        parts.push(format!("nn.BatchNorm2d({channels})"));
                    }
                    parts.push(act.clone());
                }
                LayerSpec::MaxPool { kernel, stride } | LayerSpec::AvgPool { kernel, stride } => {
                    let kind = if matches!(layer, LayerSpec::MaxPool { .. }) {
                        "MaxPool2d"
                    } else {
                        "AvgPool2d"
                    };
                    parts.push(if stride == kernel {
                        format!("nn.{kind}({kernel})")
                    } else {
                        format!("nn.{kind}({kernel}, stride={stride})")
                    });
                }
                LayerSpec::GlobalAvgPool => parts.push("nn.AdaptiveAvgPool2d(1)".into()),
                LayerSpec::Dropout(p) => parts.push(format!("nn.Dropout({p})")),
                LayerSpec::Dense {
                    features,
                    batch_norm,
                } => {
                    if before.len() > 1 {
                        parts.push("nn.Flatten()".into());
                    }
                    let inputs: usize = before.iter().product();
                    parts.push(format!("nn.Linear({inputs}, {features})"));
                    if !last {
                        if batch_norm {
                            parts.push(format!("nn.BatchNorm1d({features})"));
                        }
                        parts.push(act.clone());
                    }
                }
            }
        }
        format!("nn.Sequential({})", parts.join(", "))
    }
}

impl fmt::Display for ConvSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.layers_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(spec: &str, image: ImageShape) -> Result<ConvSpec, String> {
        let layers: ConvLayers = spec.parse().map_err(|e: SpecError| e.to_string())?;
        ConvSpec::new(image, layers, Activation::Relu).map_err(|e| e.to_string())
    }

    const DIGITS: ImageShape = ImageShape::new(1, 8, 8);

    #[test]
    fn every_layer_reads_back_as_written() {
        let text = "c32k5s2p1d2g1bn-p3s2-a2-c8g2-g-f64bn-d0.5-10";
        let layers: ConvLayers = text.parse().unwrap();
        assert_eq!(
            layers.to_string(),
            "c32k5s2p1d2bn-p3s2-a2-c8g2-g-f64bn-d0.5-10"
        );
        assert_eq!(
            layers.0[0],
            LayerSpec::Conv {
                channels: 32,
                kernel: 5,
                stride: 2,
                padding: 1,
                dilation: 2,
                groups: 1,
                batch_norm: true
            }
        );
        assert_eq!(
            layers.to_string().parse::<ConvLayers>().unwrap(),
            layers,
            "the canonical form reads back the same"
        );
    }

    #[test]
    fn bad_parts_and_missing_outputs_are_named() {
        let err = |s: &str| s.parse::<ConvLayers>().unwrap_err().to_string();
        assert!(
            err("c32-p2").starts_with("the network 'c32-p2' must end with its number of outputs")
        );
        assert!(err("c32-f10bn").contains("must end with its number of outputs"));
        assert!(err("c-10").contains("'c' is not a layer: 'c' must be followed by a number"));
        assert!(err("c32q4-10").contains("'q' is not an option of 'c' layers"));
        assert!(err("d1.5-10").contains("a dropout probability must be in [0, 1)"));
        assert!(err("p2bn-10").contains("'bn' is not an option of 'p' layers"));
    }

    #[test]
    fn layers_that_do_not_fit_say_why_with_the_sizes() {
        assert_eq!(
            fit("c8k9p0-10", DIGITS).unwrap_err(),
            "layer 1 of the network (c8k9p0) does not fit: its kernel 9×9 (spanning 9×9) is \
             larger than its padded input 8×8 (1 channel of 8×8, padding 0)"
        );
        assert_eq!(
            fit("c8s0-10", DIGITS).unwrap_err(),
            "layer 1 of the network (c8s0) does not fit: the stride and the dilation must be at \
             least 1 (stride 0, dilation 1)"
        );
        assert_eq!(
            fit("c6-c8g3-10", DIGITS).unwrap_err(),
            "layer 2 of the network (c8g3) does not fit: 6 input and 8 output channels do not \
             divide into 3 groups"
        );
        assert_eq!(
            fit("f16-c8-10", DIGITS).unwrap_err(),
            "layer 2 of the network (c8) does not fit: it needs images, but the layers before it \
             flattened them"
        );
        assert!(fit("c100000-c100000-10", DIGITS)
            .unwrap_err()
            .contains("more than 1073741824 parameters"));
    }

    #[test]
    fn the_network_and_its_pytorch_code_follow_the_layers() {
        let spec = fit("c4k3s2p0g1-a2-g-f8bn-d0.25-3", ImageShape::new(2, 9, 9)).unwrap();
        assert_eq!(
            spec.shapes(),
            &[
                vec![4, 4, 4],
                vec![4, 2, 2],
                vec![4, 1, 1],
                vec![8],
                vec![8],
                vec![3]
            ]
        );
        assert_eq!(
            spec.torch(),
            "nn.Sequential(nn.Conv2d(2, 4, 3, stride=2), nn.ReLU(), nn.AvgPool2d(2), \
             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 8), nn.BatchNorm1d(8), \
             nn.ReLU(), nn.Dropout(0.25), nn.Linear(8, 3))"
        );
        let net = spec.build(1);
        let described: Vec<String> = net.layers().iter().map(|l| l.describe()).collect();
        assert_eq!(described.len(), 10);
        assert_eq!(described[4], "Flatten(start_dim=1, end_dim=-1)");
        use crate::nn::Module;
        assert_eq!(net.num_parameters(), spec.num_parameters());
        let names: Vec<String> = net.state_dict().into_iter().map(|t| t.name).collect();
        assert!(
            names.contains(&"6.num_batches_tracked".to_string()),
            "{names:?}"
        );
    }
}
