//! Training a network on a dataset: data preparation, the training loop with a progress
//! callback and per-epoch metrics, evaluation, prediction, and model and checkpoint files.
//!
//! Each step records one mini-batch on a single reused [`Tape`](crate::tensor::Tape) (cleared
//! after every step, so memory stays flat), runs forward, the loss and backward, copies the
//! gradients into flat buffers and steps the optimizer on the parameters in place.
//!
//! Everything random (initial weights, split, shuffling, dropout) comes from the seed, and the
//! shuffling and dropout of an epoch depend only on the seed and the epoch's number; so a run
//! resumed from a checkpoint gives the same weights, bit for bit, as an uninterrupted one.
//!
//! One idea per file, every item re-exported here:
//!
//! - `config`: the loss ([`LossKind`]), the loop's settings ([`TrainConfig`]) and a run's
//!   settings as given ([`RunSettings`]), merged with a checkpoint's and completed for the data
//!   ([`RunPlan`]);
//! - `prepare`: the split and standardisation before training ([`prepare`]);
//! - `network`: a trained [`Network`] and its model file, evaluation and prediction;
//! - `trainer`: the loop ([`Trainer`]) and its [`Progress`];
//! - `checkpoint`: checkpoints, and reading a run's settings back from one;
//! - `lm`: language models on text ([`LmTrainer`], [`LmModel`], [`LmSettings`]): nanoGPT's
//!   training of a character-level GPT, with its model files and checkpoints;
//! - `metrics`: [`Evaluation`], [`EpochMetrics`] and the [`GradFlow`];
//! - `error`: [`TrainError`];
//! - [`page`]: the HTML page of a run.
//!
//! ```
//! use chainrule::nn::MlpSpec;
//! use chainrule::train::{prepare, LossKind, OptimizerKind, OptimizerSpec, TrainConfig, Trainer};
//!
//! let data = prepare(&chainrule::data::iris(), 0.2, 0, true).unwrap();
//! let spec: MlpSpec = "4-16-3".parse().unwrap();
//! let config = TrainConfig {
//!     epochs: 20,
//!     batch_size: 16,
//!     seed: 0,
//!     optimizer: OptimizerSpec::new(OptimizerKind::Adam, 0.01),
//! };
//! let mut trainer = Trainer::new(spec, LossKind::CrossEntropy, config).unwrap();
//! let history = trainer.fit(&data.train, Some(&data.test), &mut |_| {}).unwrap();
//! assert_eq!(history.len(), 20);
//! assert!(history[19].test_accuracy.unwrap() > 0.8);
//! ```

mod checkpoint;
mod config;
mod error;
mod lm;
mod metrics;
mod network;
pub mod page;
mod prepare;
mod trainer;

pub use crate::optim::{OptimizerKind, OptimizerSpec};
pub use checkpoint::OPTIM_PREFIX;
pub use config::{LossKind, RunPlan, RunSettings, TrainConfig, UnknownLoss};
pub use error::TrainError;
pub use lm::{LmEval, LmModel, LmProgress, LmSettings, LmTrainer};
pub use metrics::{EpochMetrics, Evaluation, GradFlow};
pub use network::{Network, Prediction};
pub use prepare::{prepare, prepare_with, Prepared, Scaling};
pub use trainer::{Progress, Trainer};
