//! The training loop: one mini-batch per step on a reused tape, epochs with their metrics, and
//! the progress reported as it goes.

use std::fmt;
use std::time::Instant;

use super::metrics::{l2_norm, FlowAccumulator};
use super::network::{batch_loss, read_outputs};
use super::{
    EpochMetrics, Evaluation, GradFlow, LossKind, Network, Prediction, TrainConfig, TrainError,
};
use crate::data::{Batches, Dataset, Targets};
use crate::nn::{Context, ModelSpec, Module};
use crate::optim::{Optimizer, Schedule};
use crate::tensor::{Array, Tape};
use crate::util::rand::Rng;

/// What the training loop reports as it goes.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// A step was taken.
    Batch {
        /// The epoch's number, from 1.
        epoch: usize,
        /// The step's number within the epoch, from 1.
        batch: usize,
        /// The number of steps per epoch.
        batches: usize,
        /// The batch's loss (in training mode, before the step).
        loss: f64,
    },
    /// An epoch ended.
    Epoch(&'a EpochMetrics),
}

/// A seed for one purpose in one epoch (or step), from the run's seed.
pub(super) fn stream_seed(seed: u64, epoch: usize, stream: u64) -> u64 {
    seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// The training loop's state: the network, the optimizer, the epochs done and their metrics.
pub struct Trainer {
    /// The network being trained.
    pub net: Network,
    /// The settings.
    pub config: TrainConfig,
    pub(super) optimizer: Box<dyn Optimizer<f32>>,
    pub(super) epoch: usize,
    pub(super) history: Vec<EpochMetrics>,
    pub(super) schedule: Schedule,
    tape: Tape<f32>,
    grads: Vec<Vec<f32>>,
    flow: GradFlow,
    acc: FlowAccumulator,
}

impl fmt::Debug for Trainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trainer")
            .field("spec", &self.net.spec)
            .field("config", &self.config)
            .field("epoch", &self.epoch)
            .finish()
    }
}

/// What the steps of an epoch add up: the loss of each sample (as its batch's mean) and the
/// samples classified right, as the weights were when each batch was seen.
#[derive(Clone, Copy, Debug, Default)]
struct Running {
    loss: f64,
    correct: usize,
    samples: usize,
}

impl Trainer {
    /// A trainer for a new network of shape `spec` (an [`MlpSpec`](crate::nn::MlpSpec) or a
    /// [`ConvSpec`](crate::nn::ConvSpec); weights drawn from the config's seed).
    pub fn new(
        spec: impl Into<ModelSpec>,
        loss: LossKind,
        config: TrainConfig,
    ) -> Result<Self, TrainError> {
        if config.batch_size == 0 {
            return Err(TrainError::invalid("the batch size must be at least 1"));
        }
        let optimizer = config.optimizer.build()?;
        Ok(Trainer {
            net: Network::new(spec, loss, config.seed),
            config,
            optimizer,
            epoch: 0,
            history: Vec::new(),
            schedule: Schedule::default(),
            tape: Tape::new(),
            grads: Vec::new(),
            flow: GradFlow::default(),
            acc: FlowAccumulator::default(),
        })
    }

    /// Sets the learning rate of every step from now on by `schedule`, from the optimizer's
    /// learning rate in the config, over the [`TrainConfig::epochs`] planned (constant by
    /// default).
    pub fn set_schedule(&mut self, schedule: Schedule) {
        self.schedule = schedule;
    }

    /// The learning-rate schedule.
    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// The number of epochs done.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The metrics of the epochs done (including those before a resume).
    pub fn history(&self) -> &[EpochMetrics] {
        &self.history
    }

    /// The gradient norm of each layer's weights per epoch, for the epochs trained by this
    /// trainer.
    pub fn grad_flow(&self) -> &GradFlow {
        &self.flow
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer<f32> {
        self.optimizer.as_ref()
    }

    /// Trains until [`TrainConfig::epochs`] epochs are done, reporting to `on_progress`, and
    /// returns the metrics of every epoch.
    pub fn fit(
        &mut self,
        train: &Dataset,
        test: Option<&Dataset>,
        on_progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<EpochMetrics>, TrainError> {
        while self.epoch < self.config.epochs {
            self.train_epoch(train, test, on_progress)?;
        }
        Ok(self.history.clone())
    }

    /// Runs one epoch over `train` (already standardised), then evaluates on `test`.
    ///
    /// The epoch's training loss and accuracy are those of its steps, as PyTorch loops and
    /// Keras report them: the mean over the samples of each one's batch loss, and the share
    /// classified right, in training mode (dropout on) as the weights were at each step.
    /// Evaluating the whole training set again after each epoch would cost a third of an
    /// epoch's time for a number that says the same.
    pub fn train_epoch(
        &mut self,
        train: &Dataset,
        test: Option<&Dataset>,
        on_progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<EpochMetrics, TrainError> {
        let inputs = self.net.spec.inputs();
        if train.n_features != inputs {
            return Err(TrainError::invalid(format!(
                "the network takes {inputs} features but the data has {}",
                train.n_features
            )));
        }
        let start = Instant::now();
        let seed = self.config.seed;
        let mut shuffle = Rng::new(stream_seed(seed, self.epoch, 1));
        let batches = Batches::with_rng(train.n_samples, self.config.batch_size, &mut shuffle);
        let n_batches = batches.len();
        let mut dropout_rng = Rng::new(stream_seed(seed, self.epoch, 2));
        self.net.model.set_training(true);
        if self.flow.layers.is_empty() {
            let names = self.net.model.named_parameters();
            let followed: Vec<(usize, String)> = names
                .into_iter()
                .enumerate()
                .filter(|(_, (n, a))| n.ends_with(".weight") && a.shape().len() >= 2)
                .map(|(i, (n, _))| (i, n))
                .collect();
            self.acc.params = followed.iter().map(|(i, _)| *i).collect();
            self.flow.layers = followed.into_iter().map(|(_, n)| n).collect();
        }
        self.acc.sums = vec![0.0; self.acc.params.len()];
        self.acc.steps = 0;
        let mut running = Running::default();
        for (b, indices) in batches.enumerate() {
            if !self.schedule.is_constant() {
                let step = (self.epoch * n_batches + b) as u64;
                let lr = self.schedule.lr_at(
                    self.config.optimizer.lr,
                    step,
                    n_batches as u64,
                    self.config.epochs as u64,
                );
                self.optimizer.set_lr(lr);
            }
            let (loss, rng) = self.step(train, &indices, dropout_rng, Some(&mut running))?;
            dropout_rng = rng;
            on_progress(Progress::Batch {
                epoch: self.epoch + 1,
                batch: b + 1,
                batches: n_batches,
                loss,
            });
        }
        self.net.model.set_training(false);
        let samples = running.samples.max(1) as f64;
        let classes = matches!(train.targets, Targets::Classes { .. });
        let on_train = Evaluation {
            loss: running.loss / samples,
            accuracy: (classes && self.net.loss.is_classification())
                .then(|| running.correct as f64 / samples),
            samples: running.samples,
        };
        let on_test = match test {
            Some(t) if !t.is_empty() => Some(self.net.evaluate(t)?),
            _ => None,
        };
        self.epoch += 1;
        let steps = self.acc.steps.max(1) as f64;
        self.flow.epochs.push(self.epoch);
        self.flow
            .per_epoch
            .push(self.acc.sums.iter().map(|s| s / steps).collect());
        let m = EpochMetrics {
            epoch: self.epoch,
            train_loss: on_train.loss,
            train_accuracy: on_train.accuracy,
            test_loss: on_test.map(|e| e.loss),
            test_accuracy: on_test.and_then(|e| e.accuracy),
            seconds: start.elapsed().as_secs_f64(),
        };
        self.history.push(m);
        on_progress(Progress::Epoch(&m));
        Ok(m)
    }

    /// Turns anomaly detection on or off for the training steps (see
    /// [`Tape::set_detect_anomaly`](crate::tensor::Tape::set_detect_anomaly)): while on, the first
    /// NaN or infinity in a step, forward or backward, stops training with an error that names
    /// the operation, its inputs' shapes and where it was created.
    pub fn set_detect_anomaly(&mut self, on: bool) {
        self.tape.set_detect_anomaly(on);
    }

    /// One optimizer step (forward, loss, backward, update) on the samples `indices` of `data`,
    /// as training does it (in training mode); returns the batch loss. The benchmarks time
    /// exactly this.
    pub fn train_step(&mut self, data: &Dataset, indices: &[usize]) -> Result<f64, TrainError> {
        let rng = Rng::new(stream_seed(self.config.seed, self.epoch, 2));
        self.net.model.set_training(true);
        let loss = self.step(data, indices, rng, None).map(|(loss, _)| loss);
        self.net.model.set_training(false);
        loss
    }

    /// One optimizer step on the samples `indices`; returns the batch loss and the advanced
    /// dropout generator, and adds the batch's loss and right answers to `running`.
    fn step(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        rng: Rng,
        running: Option<&mut Running>,
    ) -> Result<(f64, Rng), TrainError> {
        let Trainer {
            net,
            optimizer,
            tape,
            grads,
            acc,
            ..
        } = self;
        tape.clear();
        let mut grad_arrays: Vec<Option<Array<f32>>> = Vec::new();
        let (loss, rng) = {
            let tape = &*tape;
            let nf = data.n_features;
            let mut x = tape.buffer(indices.len() * nf);
            for (row, &i) in x.chunks_exact_mut(nf.max(1)).zip(indices) {
                row.copy_from_slice(data.row(i));
            }
            let mut shape = vec![indices.len()];
            shape.extend(net.spec.input_dims());
            let x = tape.constant(Array::from_parts(x, shape));
            let mut ctx = Context::with_rng(tape, rng);
            let out = net.model.forward(x, &mut ctx)?;
            let loss = batch_loss(net.loss, out, &data.targets, indices)?;
            if let Some(r) = running {
                r.loss += f64::from(loss.item()) * indices.len() as f64;
                r.samples += indices.len();
                if let (Targets::Classes { labels, .. }, true) =
                    (&data.targets, net.loss.is_classification())
                {
                    let preds = read_outputs(net.loss, out.value().data(), net.spec.outputs());
                    r.correct += preds
                        .iter()
                        .zip(indices)
                        .filter(|(p, &i)| **p == Prediction::Class(labels[i]))
                        .count();
                }
            }
            // A NaN of the forward pass is set aside, so that one the backward sweep finds is
            // the one the tape holds if backward fails; the forward one is reported otherwise.
            let forward_anomaly = tape.take_anomaly();
            if let Err(e) = loss.backward() {
                return Err(match tape.anomaly() {
                    Some(a) => TrainError::Anomaly(a),
                    None => e.into(),
                });
            }
            if let Some(a) = forward_anomaly {
                return Err(TrainError::Anomaly(a));
            }
            // Keep the gradient arrays themselves (shared, not copied); a parameter the loss
            // does not reach gets zeros.
            let params = ctx.parameters();
            grads.resize_with(params.len(), Vec::new);
            for (i, p) in params.iter().enumerate() {
                match p.grad() {
                    Some(a) => grad_arrays.push(Some(a)),
                    None => {
                        grads[i].clear();
                        grads[i].resize(p.numel(), 0.0);
                        grad_arrays.push(None);
                    }
                }
            }
            (loss.item() as f64, ctx.into_rng())
        };
        let grad_of = |i: usize| -> &[f32] {
            match grad_arrays.get(i) {
                Some(Some(a)) => a.data(),
                _ => grads.get(i).map_or(&[][..], Vec::as_slice),
            }
        };
        if acc.sums.len() == acc.params.len() {
            for (sum, &i) in acc.sums.iter_mut().zip(&acc.params) {
                *sum += l2_norm(grad_of(i));
            }
            acc.steps += 1;
        }
        // Drop the tape's references to the parameters, so they are updated in place.
        tape.clear();
        let mut params: Vec<&mut [f32]> = Vec::with_capacity(grads.len());
        net.model
            .for_each_parameter_mut(&mut |a| params.push(a.data_mut()));
        let g: Vec<&[f32]> = (0..params.len()).map(grad_of).collect();
        optimizer.step(&mut params, &g);
        // The gradients' buffers go back to the tape for the next step.
        for a in grad_arrays.drain(..).flatten() {
            tape.recycle_array(a);
        }
        Ok((loss, rng))
    }
}
