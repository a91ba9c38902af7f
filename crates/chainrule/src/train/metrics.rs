//! What training measures: the loss and accuracy of an evaluation, the metrics of each epoch
//! (and their JSON form in checkpoints), and the gradient flow through the layers.

use crate::util::format::json_number;

/// The loss and accuracy of a network on some data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean loss.
    pub loss: f64,
    /// The fraction of samples classified right (`None` for regression).
    pub accuracy: Option<f64>,
    /// The number of samples.
    pub samples: usize,
}

/// The metrics of one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochMetrics {
    /// The epoch's number, from 1.
    pub epoch: usize,
    /// The mean loss over the training data at the end of the epoch (in evaluation mode).
    pub train_loss: f64,
    /// The training accuracy at the end of the epoch (`None` for regression).
    pub train_accuracy: Option<f64>,
    /// The mean loss on the test data (`None` without test data).
    pub test_loss: Option<f64>,
    /// The test accuracy (`None` without test data, or for regression).
    pub test_accuracy: Option<f64>,
    /// The time the epoch took, evaluation included.
    pub seconds: f64,
}

/// How big the gradient of each layer's weights was through training: the L2 norm of the
/// gradient of every `Linear` layer's weight matrix, averaged over the steps of each epoch.
///
/// Norms that shrink from the last layer to the first show vanishing gradients; norms that grow
/// show exploding ones.
///
/// ```
/// use chainrule::nn::MlpSpec;
/// use chainrule::train::{prepare, LossKind, OptimizerKind, OptimizerSpec, TrainConfig, Trainer};
///
/// let data = prepare(&chainrule::data::iris(), 0.2, 0, true).unwrap();
/// let spec: MlpSpec = "4-16-16-3".parse().unwrap();
/// let config = TrainConfig {
///     epochs: 3,
///     batch_size: 16,
///     seed: 0,
///     optimizer: OptimizerSpec::new(OptimizerKind::Adam, 0.01),
/// };
/// let mut trainer = Trainer::new(spec, LossKind::CrossEntropy, config).unwrap();
/// trainer.fit(&data.train, None, &mut |_| {}).unwrap();
/// let flow = trainer.grad_flow();
/// assert_eq!(flow.layers, ["0.weight", "2.weight", "4.weight"]);
/// assert_eq!(flow.epochs, [1, 2, 3]);
/// assert!(flow.per_epoch.iter().flatten().all(|&n| n > 0.0));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GradFlow {
    /// The weight parameters followed, by their PyTorch names (`0.weight`, `2.weight`, ...),
    /// from the input layer to the output layer.
    pub layers: Vec<String>,
    /// The number of each recorded epoch, from 1 (epochs done before a resume are not recorded).
    pub epochs: Vec<usize>,
    /// For each recorded epoch, the mean over its steps of the gradient norm of each layer, in
    /// the order of [`GradFlow::layers`].
    pub per_epoch: Vec<Vec<f64>>,
}

impl GradFlow {
    /// The norms of the first recorded epoch, or `None` before any epoch.
    pub fn first(&self) -> Option<&[f64]> {
        self.per_epoch.first().map(Vec::as_slice)
    }

    /// The norm of the first layer divided by the norm of the last one in recorded epoch
    /// `index` (from 0): far below 1 when the gradient vanishes on its way to the input.
    pub fn first_to_last(&self, index: usize) -> Option<f64> {
        let norms = self.per_epoch.get(index)?;
        Some(norms.first()? / norms.last()?)
    }
}

/// Sums of gradient norms over the steps of the current epoch.
#[derive(Clone, Debug, Default)]
pub(super) struct FlowAccumulator {
    /// Indices (in parameter order) of the weights followed.
    pub(super) params: Vec<usize>,
    pub(super) sums: Vec<f64>,
    pub(super) steps: usize,
}

/// The L2 norm of `g`, summed in `f64` over eight lanes (so that the loop compiles to vector
/// code: it runs on every weight gradient of every step).
pub(super) fn l2_norm(g: &[f32]) -> f64 {
    let mut lanes = [0f64; 8];
    let chunks = g.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += f64::from(v) * f64::from(v);
        }
    }
    let tail: f64 = rest.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    (lanes.iter().sum::<f64>() + tail).sqrt()
}

fn opt_json(v: Option<f64>) -> serde_json::Value {
    v.map_or(serde_json::Value::Null, json_number)
}

pub(super) fn history_json(history: &[EpochMetrics]) -> String {
    let rows: Vec<serde_json::Value> = history
        .iter()
        .map(|m| {
            serde_json::json!({
                "epoch": m.epoch,
                "train_loss": opt_json(Some(m.train_loss)),
                "train_accuracy": opt_json(m.train_accuracy),
                "test_loss": opt_json(m.test_loss),
                "test_accuracy": opt_json(m.test_accuracy),
                "seconds": opt_json(Some(m.seconds)),
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

pub(super) fn parse_history(s: &str) -> Option<Vec<EpochMetrics>> {
    let v: serde_json::Value = serde_json::from_str(s).ok()?;
    v.as_array()?
        .iter()
        .map(|r| {
            Some(EpochMetrics {
                epoch: r.get("epoch")?.as_u64()? as usize,
                train_loss: r.get("train_loss")?.as_f64().unwrap_or(f64::NAN),
                train_accuracy: r.get("train_accuracy")?.as_f64(),
                test_loss: r.get("test_loss")?.as_f64(),
                test_accuracy: r.get("test_accuracy")?.as_f64(),
                seconds: r.get("seconds")?.as_f64().unwrap_or(0.0),
            })
        })
        .collect()
}
