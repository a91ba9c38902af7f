//! Loss functions, built from differentiable tensor operations (so their gradients follow from
//! the rules of those operations), and reduced by the mean as PyTorch does by default.
//!
//! Every formula here is smooth wherever the loss it computes is: a loss that is smooth at some
//! point is not written with `relu`, `abs` or `max` through that point, whose derivatives there
//! are conventions (0) rather than the loss's derivative. The binary cross-entropy is
//! `(1 − y)·x − log_sigmoid(x)`, whose derivative is `sigmoid(x) − y` everywhere, at `x = 0`
//! too; only the hinge loss has a kink, which is its own.

use crate::tensor::shape::{fmt_shape, numel};
use crate::tensor::{Array, Element, Tensor, TensorError};

/// The mean squared error `mean((pred - target)²)`, as `F.mse_loss`.
///
/// The two shapes must be equal: PyTorch broadcasts them with a warning, which almost always
/// means a bug (a `[n]` prediction against a `[n, 1]` target gives an `[n, n]` loss); this
/// refuses them instead, deliberately.
///
/// ```
/// use chainrule::nn::mse_loss;
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f32>::new();
/// let p = tape.var(Array::from_slice(&[1.0, 2.0]));
/// let t = tape.constant(Array::from_slice(&[1.0, 4.0]));
/// assert_eq!(mse_loss(p, t).unwrap().item(), 2.0);
/// let column = tape.constant(Array::from_vec(vec![1.0, 4.0], &[2, 1]).unwrap());
/// assert!(mse_loss(p, column).is_err());
/// ```
pub fn mse_loss<'t, T: Element>(
    pred: Tensor<'t, T>,
    target: Tensor<'t, T>,
) -> Result<Tensor<'t, T>, TensorError> {
    same_shapes("mse_loss", pred, target)?;
    Ok(pred.sub(target)?.square().mean_all())
}

/// Refuses a prediction and a target of different shapes.
fn same_shapes<T: Element>(
    op: &'static str,
    pred: Tensor<'_, T>,
    target: Tensor<'_, T>,
) -> Result<(), TensorError> {
    let (p, t) = (pred.value(), target.value());
    if p.shape() == t.shape() {
        return Ok(());
    }
    Err(TensorError::new(
        op,
        format!(
            "the input has shape {} but the target has shape {}: they must be equal (no \
             broadcasting)",
            fmt_shape(p.shape()),
            fmt_shape(t.shape())
        ),
    ))
}

/// How a loss combines the losses of its elements: PyTorch's `reduction` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The mean, PyTorch's default (for a weighted cross-entropy over class indices, the sum
    /// divided by the sum of the weights of the targets that are not ignored).
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction: one loss per element (PyTorch's `'none'`).
    None,
}

/// The options of [`cross_entropy_with`]: the keyword arguments of `F.cross_entropy`, with its
/// defaults (`CrossEntropyOptions::default()` is [`cross_entropy`]).
///
/// ```
/// use chainrule::nn::{CrossEntropyOptions, Reduction};
///
/// let options = CrossEntropyOptions::<f32> {
///     label_smoothing: 0.1,
///     ignore_index: Some(0),
///     reduction: Reduction::Sum,
///     ..Default::default()
/// };
/// assert!(options.weight.is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct CrossEntropyOptions<T: Element = f32> {
    /// A weight for each class, shape `[classes]` (PyTorch's `weight`); `None` weighs each
    /// class 1.
    pub weight: Option<Array<T>>,
    /// Targets of this class are left out: they add nothing to the loss or to the mean's
    /// divisor (PyTorch's `ignore_index`, whose default -100 means none, as `None` here). It
    /// applies to class-index targets only, as in PyTorch.
    pub ignore_index: Option<usize>,
    /// `ε` in `[0, 1]`: the target becomes `(1 − ε)·target + ε/classes` (PyTorch's
    /// `label_smoothing`, default 0).
    pub label_smoothing: f64,
    /// How the per-element losses are combined (PyTorch's `reduction`, default the mean).
    pub reduction: Reduction,
}

/// The targets of a cross-entropy: a class index per element, or probabilities.
///
/// Class indices convert from `&[usize]`, `&Vec<usize>` and `&[usize; N]`; probabilities from
/// a [`Tensor`].
#[derive(Clone, Copy, Debug)]
pub enum Target<'a, 't, T: Element> {
    /// A class index per element: `[N]` for logits `[N, C]`, `[N, d1, ...]` in row-major
    /// order for logits `[N, C, d1, ...]`, one index for logits `[C]`.
    Classes(&'a [usize]),
    /// A probability for each class (soft labels), the logits' shape.
    Probabilities(Tensor<'t, T>),
}

impl<'a, T: Element> From<&'a [usize]> for Target<'a, '_, T> {
    fn from(c: &'a [usize]) -> Self {
        Target::Classes(c)
    }
}

impl<'a, T: Element> From<&'a Vec<usize>> for Target<'a, '_, T> {
    fn from(c: &'a Vec<usize>) -> Self {
        Target::Classes(c)
    }
}

impl<'a, T: Element, const N: usize> From<&'a [usize; N]> for Target<'a, '_, T> {
    fn from(c: &'a [usize; N]) -> Self {
        Target::Classes(c)
    }
}

impl<'t, T: Element> From<Tensor<'t, T>> for Target<'_, 't, T> {
    fn from(p: Tensor<'t, T>) -> Self {
        Target::Probabilities(p)
    }
}

/// The cross-entropy of `logits` against class indices, as `F.cross_entropy(logits, targets)`:
/// `-mean(log_softmax(logits)[i, targets[i]])`, stable for any finite logits.
///
/// `logits` is `[batch, classes]`, or `[classes]`, or `[batch, classes, d1, ...]` with the
/// classes along dimension 1 as in PyTorch (see [`cross_entropy_with`] for the options).
///
/// ```
/// use chainrule::nn::cross_entropy;
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f64>::new();
/// let logits = tape.var(Array::from_vec(vec![0.0, 0.0, 1000.0, 0.0], &[2, 2]).unwrap());
/// let loss = cross_entropy(logits, &[1, 0]).unwrap();
/// assert!((loss.item() - 2f64.ln() / 2.0).abs() < 1e-12); // the second row is certain and right
/// ```
pub fn cross_entropy<'t, T: Element>(
    logits: Tensor<'t, T>,
    targets: &[usize],
) -> Result<Tensor<'t, T>, TensorError> {
    cross_entropy_with(logits, targets, &CrossEntropyOptions::default())
}

/// The cross-entropy with PyTorch's options (`F.cross_entropy(logits, target, weight=...,
/// ignore_index=..., reduction=..., label_smoothing=...)`), by PyTorch's formulas:
///
/// - class indices: the loss of element `i` is `−w[yᵢ]·log pᵢ[yᵢ]` (0 where `yᵢ` is ignored),
///   and the mean divides their sum by `Σ w[yᵢ]` over the targets not ignored (the count of
///   them without weights; NaN when all are ignored, as PyTorch). With label smoothing `ε`
///   the loss is `(1 − ε)·that + ε/C · the same reduction of −Σ_c w[c]·log pᵢ[c]`;
/// - probabilities `q` (the logits' shape): the loss of element `i` is
///   `−Σ_c w[c]·q[i, c]·log pᵢ[c]`, with `q` smoothed to `(1 − ε)·q + ε/C` first, and the mean
///   divides by the number of elements (not by weights, as PyTorch).
///
/// The classes lie along dimension 1 of `[N, C, d1, ...]` (dimension 0 of `[C]`); the result
/// is a scalar, or the elements' shape (`[N, d1, ...]`) with [`Reduction::None`].
///
/// ```
/// use chainrule::nn::{cross_entropy_with, CrossEntropyOptions, Reduction};
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f64>::new();
/// let logits = tape.var(Array::from_vec(vec![2.0, 0.0, 0.0, 0.0, 2.0, 0.0], &[2, 3]).unwrap());
/// let weighted = CrossEntropyOptions {
///     weight: Some(Array::from_slice(&[1.0, 3.0, 1.0])),
///     ..Default::default()
/// };
/// let loss = cross_entropy_with(logits, &[0, 1], &weighted).unwrap();
/// let nll = (2f64.exp() + 2.0).ln() - 2.0; // both rows are right by the same margin
/// assert!((loss.item() - nll).abs() < 1e-12); // (1·nll + 3·nll) / (1 + 3)
///
/// // Soft labels, one loss per row.
/// let soft = tape.constant(Array::full(&[2, 3], 1.0 / 3.0));
/// let each = CrossEntropyOptions { reduction: Reduction::None, ..Default::default() };
/// assert_eq!(cross_entropy_with(logits, soft, &each).unwrap().shape(), vec![2]);
/// ```
pub fn cross_entropy_with<'a, 't, T: Element>(
    logits: Tensor<'t, T>,
    target: impl Into<Target<'a, 't, T>>,
    options: &CrossEntropyOptions<T>,
) -> Result<Tensor<'t, T>, TensorError> {
    let shape = logits.shape();
    let err = |m: String| TensorError::new("cross_entropy", m);
    if shape.is_empty() {
        return Err(err(
            "the logits need a dimension of classes: [classes], [batch, classes] or \
             [batch, classes, d1, ...], not a scalar"
                .into(),
        ));
    }
    let class_dim = usize::from(shape.len() > 1);
    let classes = shape[class_dim];
    let eps = options.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        return Err(err(format!(
            "label_smoothing must be between 0 and 1, not {eps}"
        )));
    }
    if let Some(w) = &options.weight {
        if w.shape() != [classes] {
            return Err(err(format!(
                "the weight has shape {} but the logits {} have {classes} classes: give one \
                 weight per class",
                fmt_shape(w.shape()),
                fmt_shape(&shape)
            )));
        }
    }
    let tape = logits.tape();
    let cd = class_dim as isize;
    let elements: Vec<usize> = [&shape[..class_dim], &shape[class_dim + 1..]].concat();
    // The weights laid along the class dimension, to broadcast against the logits.
    let class_weights = || {
        options.weight.as_ref().map(|w| {
            let mut s = vec![1; shape.len()];
            s[class_dim] = classes;
            tape.constant(w.reshape(&s).expect("one weight per class"))
        })
    };
    let loss = match target.into() {
        Target::Classes(targets) => {
            let count = numel(&elements);
            if targets.len() != count {
                return Err(err(format!(
                    "logits of shape {} need one target per element of {} ({count}), not {}",
                    fmt_shape(&shape),
                    fmt_shape(&elements),
                    targets.len()
                )));
            }
            // One pass: the index to gather (class 0, any class would do, for an ignored
            // target, which is masked out below), the check of the range, the count of the
            // targets not ignored.
            let ignored = |t: usize| Some(t) == options.ignore_index;
            let (mut index, mut kept) = (Vec::with_capacity(count), 0);
            for &t in targets {
                if ignored(t) {
                    index.push(0);
                } else if t < classes {
                    index.push(t);
                    kept += 1;
                } else {
                    return Err(err(format!(
                        "target {t} is out of range for {classes} classes (logits {})",
                        fmt_shape(&shape)
                    )));
                }
            }
            let mut index_shape = shape.clone();
            index_shape[class_dim] = 1;
            let index = Array::from_vec(index, &index_shape)?;
            let logp = logits.log_softmax(cd)?;
            // Each element's log-probability of its target, the class dimension kept as 1.
            let mut picked = logp.gather(cd, &index)?;
            // The mean's divisor: the weights of the targets not ignored (their number without
            // weights), summed in the element type as PyTorch does.
            let total = match &options.weight {
                Some(w) => {
                    let of = |t: usize| if ignored(t) { T::ZERO } else { w.data()[t] };
                    let wy: Vec<T> = targets.iter().map(|&t| of(t)).collect();
                    let total = wy.iter().fold(T::ZERO, |a, &b| a + b).value();
                    picked = picked * tape.constant(Array::from_vec(wy, &index_shape)?);
                    total
                }
                None => kept as f64,
            };
            let mask = if kept < count {
                let flags = targets.iter().map(|&t| ignored(t)).collect();
                Some(Array::from_vec(flags, &index_shape)?)
            } else {
                None
            };
            let drop_ignored = |t: Tensor<'t, T>| -> Result<Tensor<'t, T>, TensorError> {
                match &mask {
                    Some(m) => t.masked_fill(m, 0.0),
                    None => Ok(t),
                }
            };
            let nll = -reduce(drop_ignored(picked)?, options.reduction, total, &elements)?;
            if eps == 0.0 {
                nll
            } else {
                let all = match class_weights() {
                    Some(w) => logp * w,
                    None => logp,
                };
                let smooth = -reduce(
                    drop_ignored(all.sum(&[cd], true)?)?,
                    options.reduction,
                    total,
                    &elements,
                )?;
                nll * (1.0 - eps) + smooth * (eps / classes as f64)
            }
        }
        Target::Probabilities(q) => {
            if q.shape() != shape {
                return Err(err(format!(
                    "probability targets of shape {} do not fit logits of shape {}: they must \
                     be equal",
                    fmt_shape(&q.shape()),
                    fmt_shape(&shape)
                )));
            }
            let q = if eps == 0.0 {
                q
            } else {
                q * (1.0 - eps) + eps / classes as f64
            };
            let logp = logits.log_softmax(cd)?;
            let terms = match class_weights() {
                Some(w) => logp * q * w,
                None => logp * q,
            };
            let count = numel(&elements) as f64;
            -reduce(
                terms.sum(&[cd], false)?,
                options.reduction,
                count,
                &elements,
            )?
        }
    };
    Ok(loss)
}

/// The per-element losses `x` reduced: summed, or summed and divided by `divisor`, or kept
/// with the shape of the `elements`.
fn reduce<'t, T: Element>(
    x: Tensor<'t, T>,
    reduction: Reduction,
    divisor: f64,
    elements: &[usize],
) -> Result<Tensor<'t, T>, TensorError> {
    Ok(match reduction {
        Reduction::Mean => x.sum_all().div_scalar(divisor),
        Reduction::Sum => x.sum_all(),
        Reduction::None => x.reshape_to(elements.to_vec())?,
    })
}

/// The binary cross-entropy of `logits` against targets in `[0, 1]`, as
/// `F.binary_cross_entropy_with_logits`: `mean((1 − y)·x − log_sigmoid(x))`, which is
/// `−y·ln σ(x) − (1 − y)·ln(1 − σ(x))` written so that it is finite for any finite logit.
/// Its derivative is `(σ(x) − y)/n` everywhere: the loss is smooth, and so is the formula (at
/// `x = 0`, which a zero-initialised model starts from, too). The shapes must be equal, as in
/// PyTorch.
///
/// ```
/// use chainrule::nn::binary_cross_entropy_with_logits;
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f64>::new();
/// let x = tape.var(Array::from_slice(&[0.0, 800.0]));
/// let y = tape.constant(Array::from_slice(&[0.25, 1.0]));
/// let loss = binary_cross_entropy_with_logits(x, y).unwrap();
/// assert!((loss.item() - 2f64.ln() / 2.0).abs() < 1e-12);
/// loss.backward().unwrap();
/// assert_eq!(x.grad().unwrap().to_vec(), vec![0.125, 0.0]); // (σ(0) − 0.25)/2
/// ```
pub fn binary_cross_entropy_with_logits<'t, T: Element>(
    logits: Tensor<'t, T>,
    targets: Tensor<'t, T>,
) -> Result<Tensor<'t, T>, TensorError> {
    same_shapes("binary_cross_entropy_with_logits", logits, targets)?;
    Ok(logits
        .mul(1.0 - targets)?
        .sub(logits.log_sigmoid())?
        .mean_all())
}

/// The hinge loss of micrograd's demo, `mean(relu(1 - y·score))`, for targets `y` of `±1`.
///
/// Unlike the losses above, this one has a kink, at a margin of exactly 1: there its gradient
/// is 0, `relu`'s convention (as micrograd and PyTorch's margin losses take it).
///
/// ```
/// use chainrule::nn::hinge_loss;
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f32>::new();
/// let s = tape.var(Array::from_slice(&[2.0, 0.5, 0.5]));
/// let y = tape.constant(Array::from_slice(&[1.0, 1.0, -1.0]));
/// assert_eq!(hinge_loss(s, y).unwrap().item(), (0.0 + 0.5 + 1.5) / 3.0);
/// ```
pub fn hinge_loss<'t, T: Element>(
    scores: Tensor<'t, T>,
    targets: Tensor<'t, T>,
) -> Result<Tensor<'t, T>, TensorError> {
    Ok((1.0 - targets.mul(scores)?).relu().mean_all())
}
