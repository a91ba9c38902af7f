//! The chain rule through a network's layers, in matrix form: one training step of a
//! [`Sequential`] (a forward pass, the cross-entropy loss, the backward pass) recorded on a tape
//! with every tensor named after its layer (`x`, `W1`, `z1`, `a1`, ...), then explained by
//! [`TapeTrace`] from that tape.
//!
//! ```
//! use chainrule::data::ImageShape;
//! use chainrule::nn::{Activation, ConvSpec};
//! use chainrule::show::network::NetworkTrace;
//! use chainrule::tensor::Array;
//!
//! let spec = ConvSpec::new(ImageShape::new(1, 8, 8), "c4-p2-10".parse().unwrap(), Activation::Relu)
//!     .unwrap();
//! let net = spec.build(0);
//! let x = Array::randn(&[2, 1, 8, 8], 1);
//! let trace = NetworkTrace::new(&net, x, &[3, 7], 0).unwrap();
//! let names: Vec<&str> = trace.layers.iter().map(|l| l.output.as_str()).collect();
//! assert_eq!(names, ["z1", "a1", "m1", "f", "z2"]);
//! let text = trace.trace.to_string();
//! assert!(text.contains("z1 = conv2d(x, W1) + b1"), "{text}");
//! assert!(text.contains("dL/dW2 = dL/dz2ᵀ · f   [10×64] = [10×2]·[2×64]"), "{text}");
//! ```

use crate::nn::{cross_entropy, Context, Sequential};
use crate::show::tape::TapeTrace;
use crate::tensor::{Array, Tape, TensorError};

/// One layer of the network as the trace names it.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTrace {
    /// The layer, as PyTorch prints it (`Conv2d(1, 4, kernel_size=(3, 3), ...)`).
    pub layer: String,
    /// The name of its output tensor.
    pub output: String,
    /// The shape of its output.
    pub shape: Vec<usize>,
    /// Its parameters: the trace's name, the module's name (`weight`, `bias`) and the shape.
    pub parameters: Vec<(String, String, Vec<usize>)>,
}

/// One training step of a network explained: its layers with the names of their tensors, the
/// loss, and the [`TapeTrace`] of the tape that computed them.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkTrace {
    /// The layers, in order.
    pub layers: Vec<LayerTrace>,
    /// The mean cross-entropy loss of the batch.
    pub loss: f64,
    /// The forward and backward passes in matrix form.
    pub trace: TapeTrace,
}

/// The letter of the tensors a layer makes, from its PyTorch name: `z` for the outputs of
/// convolutions and linear layers (with weights `W` and biases `b`), `n` for batch
/// normalisations (scales `γ`, shifts `β`), `a` for activations, `m` for poolings, `f` for the
/// flattened images, `d` for dropout, `r` for residual blocks, `h` for anything else.
fn letter(layer: &str) -> (&'static str, bool) {
    let kind = layer.split('(').next().unwrap_or("");
    match kind {
        "Conv2d" | "Linear" => ("z", true),
        "BatchNorm1d" | "BatchNorm2d" | "LayerNorm" => ("n", false),
        "ReLU" | "Sigmoid" | "Tanh" | "GELU" | "SiLU" | "ELU" | "LeakyReLU" | "Softplus" => {
            ("a", false)
        }
        "MaxPool2d" | "AvgPool2d" | "AdaptiveAvgPool2d" => ("m", false),
        "Flatten" => ("f", false),
        "Dropout" => ("d", false),
        "Residual" => ("r", false),
        _ => ("h", false),
    }
}

/// The name of a parameter of a layer whose tensors carry `letter`, numbered `k`.
fn parameter_name(letter: &str, param: &str, k: usize) -> String {
    let stem = match (letter, param) {
        ("z", "weight") => "W",
        ("z", "bias") => "b",
        ("n", "weight") => "γ",
        ("n", "bias") => "β",
        _ => "p",
    };
    format!("{stem}{k}")
}

impl NetworkTrace {
    /// Runs `net` in training mode on the batch `x` (`[n, ...]` as the first layer takes it),
    /// takes the mean cross-entropy loss against `labels` (one class per sample), runs the
    /// backward pass and explains it. `seed` draws the dropout masks.
    ///
    /// Tensors are named by layer: `x` the input; for the `k`-th layer with weights (a
    /// convolution or a linear layer) `Wk`, `bk` and its output `zk`; the batch normalisation,
    /// activation and pooling after it `nk` (with `γk`, `βk`), `ak`, `mk`; `f` the flattened
    /// images; `L` the loss, and the steps inside it `logp` (the log-probabilities), `picked`
    /// (each sample's at its class), `sums`, `total` and `mean`. Fails, with the error of the
    /// operation, when the batch does not fit the network or the labels do not fit its outputs.
    pub fn new(
        net: &Sequential,
        x: Array<f32>,
        labels: &[usize],
        seed: u64,
    ) -> Result<NetworkTrace, TensorError> {
        let tape = Tape::<f32>::new();
        let mut ctx = Context::new(&tape, seed);
        let mut h = tape.constant(x).named("x");
        let mut layers = Vec::with_capacity(net.len());
        let mut k = 0;
        let flattens = net
            .layers()
            .iter()
            .filter(|l| letter(&l.describe()).0 == "f")
            .count();
        let mut flat = 0;
        let mut taken: Vec<String> = vec!["x".into(), "L".into()];
        let mut unique = |name: String| -> String {
            let mut candidate = name.clone();
            let mut n = 1;
            while taken.contains(&candidate) {
                n += 1;
                candidate = format!("{name}_{n}");
            }
            taken.push(candidate.clone());
            candidate
        };
        for layer in net.layers() {
            let described = layer.describe();
            let (kind, weighted) = letter(&described);
            if weighted {
                k += 1;
            }
            let before = ctx.parameters().len();
            h = layer.forward(h, &mut ctx)?;
            let name = match kind {
                "f" => {
                    flat += 1;
                    if flattens == 1 {
                        "f".to_string()
                    } else {
                        format!("f{flat}")
                    }
                }
                _ => format!("{kind}{k}"),
            };
            let name = unique(name);
            h = h.named(&name);
            let fresh: Vec<_> = ctx.parameters()[before..].to_vec();
            let own = layer.named_parameters();
            let mut parameters = Vec::with_capacity(fresh.len());
            for (i, t) in fresh.iter().enumerate() {
                let module_name = own
                    .get(i)
                    .map_or_else(|| format!("{i}"), |(n, _)| n.clone());
                let trace_name = unique(parameter_name(kind, &module_name, k.max(1)));
                t.named(&trace_name);
                parameters.push((trace_name, module_name, t.shape()));
            }
            layers.push(LayerTrace {
                layer: described,
                output: name,
                shape: h.shape(),
                parameters,
            });
        }
        let loss = cross_entropy(h, labels)?.named("L");
        // The loss's own steps, named for what they hold rather than v1, v2, ...
        for id in h.id() + 1..loss.id() {
            let stem = tape.nodes.borrow()[id]
                .op
                .rule::<f32>()
                .map(|rule| loss_step_name(&rule.name()));
            if let (Some(stem), Some(t)) = (stem, tape.tensor(id)) {
                t.named(&unique(stem.to_string()));
            }
        }
        loss.backward()?;
        Ok(NetworkTrace {
            layers,
            loss: f64::from(loss.item()),
            trace: TapeTrace::new(&tape, loss),
        })
    }
}

/// The name of a step inside the cross-entropy loss, by its operation: the log-probabilities,
/// the one picked for each sample's class, their sum (as a `[1×1]` tensor, then as a scalar) and
/// the mean (`x / n`); `t` for anything else.
fn loss_step_name(op: &str) -> &'static str {
    if op.starts_with("log_softmax") {
        "logp"
    } else if op.starts_with("gather") {
        "picked"
    } else if op.starts_with("sum") {
        "sums"
    } else if op.starts_with("reshape") {
        "total"
    } else if op.contains(" / ") || op.contains(" * ") {
        "mean"
    } else {
        "t"
    }
}

/// A shape as the traces write it: `[3×1×8×8]`, `scalar` for no dimensions.
///
/// ```
/// assert_eq!(chainrule::show::network::fmt_shape(&[10, 64]), "[10×64]");
/// ```
pub fn fmt_shape(shape: &[usize]) -> String {
    crate::tensor::rules::fmt_dims(shape)
}
