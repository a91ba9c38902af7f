//! Loss functions, built from differentiable tensor operations (so their gradients follow from
//! the rules of those operations), and reduced by the mean as PyTorch does by default.

use crate::tensor::{Array, Element, Tensor, TensorError};

/// The mean squared error `mean((pred - target)²)`, as `F.mse_loss`.
///
/// ```
/// use chainrule::nn::mse_loss;
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f32>::new();
/// let p = tape.var(Array::from_slice(&[1.0, 2.0]));
/// let t = tape.constant(Array::from_slice(&[1.0, 4.0]));
/// assert_eq!(mse_loss(p, t).unwrap().item(), 2.0);
/// ```
pub fn mse_loss<'t, T: Element>(
    pred: Tensor<'t, T>,
    target: Tensor<'t, T>,
) -> Result<Tensor<'t, T>, TensorError> {
    let d = pred.sub(target)?;
    Ok(d.mul(d)?.mean_all())
}

/// The cross-entropy of `logits` (`[batch, classes]`) against class indices, as
/// `F.cross_entropy`: `-mean(log_softmax(logits)[i, targets[i]])`, stable for any finite logits.
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
    let shape = logits.shape();
    if shape.len() != 2 || shape[0] != targets.len() {
        return Err(TensorError::new(
            "cross_entropy",
            format!(
                "logits of shape {shape:?} need [batch, classes] with one target per row \
                 ({} targets)",
                targets.len()
            ),
        ));
    }
    let index = Array::from_vec(targets.to_vec(), &[targets.len(), 1])?;
    Ok(-logits.log_softmax(1)?.gather(1, &index)?.mean_all())
}

/// The binary cross-entropy of `logits` against targets in `[0, 1]`, as
/// `F.binary_cross_entropy_with_logits`: `mean(max(x, 0) - x·y + log(1 + e^-|x|))`, stable for
/// any finite logits.
///
/// ```
/// use chainrule::nn::binary_cross_entropy_with_logits;
/// use chainrule::tensor::{Array, Tape};
///
/// let tape = Tape::<f64>::new();
/// let x = tape.var(Array::from_slice(&[0.0, 800.0]));
/// let y = tape.constant(Array::from_slice(&[1.0, 1.0]));
/// let loss = binary_cross_entropy_with_logits(x, y).unwrap();
/// assert!((loss.item() - 2f64.ln() / 2.0).abs() < 1e-12);
/// ```
pub fn binary_cross_entropy_with_logits<'t, T: Element>(
    logits: Tensor<'t, T>,
    targets: Tensor<'t, T>,
) -> Result<Tensor<'t, T>, TensorError> {
    let softplus = (-logits.abs()).exp().add_scalar(1.0).ln();
    Ok(logits
        .relu()
        .sub(logits.mul(targets)?)?
        .add(softplus)?
        .mean_all())
}

/// The hinge loss of micrograd's demo, `mean(relu(1 - y·score))`, for targets `y` of `±1`.
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
