//! Checkpoints: a model file with the optimizer's state, the epochs done, the settings and the
//! metrics in its metadata, and resuming a run from one.

use std::path::Path;
use std::str::FromStr;

use super::metrics::{history_json, parse_history};
use super::network::spec_of;
use super::{OptimizerSpec, RunPlan, RunSettings, TrainConfig, TrainError, Trainer};
use crate::model_file::{ElementType, ModelFile, NamedTensor};
use crate::nn::{ConvLayers, ModelChoice, ModelSpec, Module};
use crate::optim::{OptimizerState, Schedule, ScheduleKind};

/// The prefix of optimizer buffers in checkpoints.
pub const OPTIM_PREFIX: &str = "optim.";

/// Metadata keys of checkpoints, beside those of the model file.
mod key {
    pub const EPOCH: &str = "checkpoint_epoch";
    pub const EPOCHS: &str = "checkpoint_epochs";
    pub const SEED: &str = "checkpoint_seed";
    pub const BATCH: &str = "checkpoint_batch_size";
    pub const OPTIMIZER: &str = "checkpoint_optimizer";
    pub const LR: &str = "checkpoint_lr";
    pub const MOMENTUM: &str = "checkpoint_momentum";
    /// Written only for Nesterov momentum, so that other checkpoints stay as they were.
    pub const NESTEROV: &str = "checkpoint_nesterov";
    pub const WEIGHT_DECAY: &str = "checkpoint_weight_decay";
    pub const STEP: &str = "checkpoint_optimizer_step";
    pub const OPTIM_LR: &str = "checkpoint_optimizer_lr";
    pub const HISTORY: &str = "checkpoint_history";
    pub const BUFFERS: &str = "checkpoint_optimizer_buffers";
    // What the data was and how it was split, recorded by [`RunPlan::record`].
    pub const DATA: &str = "checkpoint_data";
    pub const TEST_FRACTION: &str = "checkpoint_test_fraction";
    pub const STANDARDIZE: &str = "checkpoint_standardize";
    pub const TEST_DATA: &str = "checkpoint_test_data";
    /// `--model` as given, for convolutional networks.
    pub const MODEL: &str = "checkpoint_model";
    /// `--dropout` as given, for convolutional networks.
    pub const DROPOUT: &str = "checkpoint_dropout";
    // Written only when the learning rate is not constant, so that other checkpoints stay as
    // they were.
    pub const SCHEDULE: &str = "checkpoint_lr_schedule";
    pub const WARMUP: &str = "checkpoint_warmup";
}

/// A metadata value parsed, or an error naming the key and the file.
fn parsed<V: FromStr>(v: &str, k: &str, path: &Path) -> Result<V, TrainError> {
    v.parse()
        .map_err(|_| TrainError::file(path, format!("metadata '{k}': '{v}' is not valid")))
}

/// A metadata value that must be there.
fn required<'f>(file: &'f ModelFile, k: &str, path: &Path) -> Result<&'f str, TrainError> {
    file.metadata.get(k).map(String::as_str).ok_or_else(|| {
        TrainError::file(
            path,
            format!("no '{k}' in the metadata: not a checkpoint written by chainrule train"),
        )
    })
}

/// A metadata value that older checkpoints may lack, parsed.
fn optional<V: FromStr>(file: &ModelFile, k: &str, path: &Path) -> Result<Option<V>, TrainError> {
    file.metadata.get(k).map(|v| parsed(v, k, path)).transpose()
}

/// The optimizer's buffers of a checkpoint, in the order `order` the metadata keeps (files keep
/// tensors sorted by name): each must be there, and no other tensor named `optim.*`.
pub(super) fn optimizer_buffers(
    file: &ModelFile,
    order: &[String],
    path: &Path,
) -> Result<Vec<(String, Vec<f32>)>, TrainError> {
    let at = |msg: String| TrainError::file(path, msg);
    let mut buffers = Vec::with_capacity(order.len());
    for name in order {
        let full = format!("{OPTIM_PREFIX}{name}");
        let t = file
            .get(&full)
            .ok_or_else(|| at(format!("tensor '{full}' is missing (optimizer state)")))?;
        buffers.push((name.clone(), t.data.clone()));
    }
    if let Some(extra) = file.tensors.iter().find(|t| {
        t.name.starts_with(OPTIM_PREFIX)
            && !order.iter().any(|n| t.name[OPTIM_PREFIX.len()..] == **n)
    }) {
        return Err(at(format!(
            "tensor '{}' is not part of the optimizer state",
            extra.name
        )));
    }
    Ok(buffers)
}

impl RunSettings {
    /// The settings the checkpoint at `path` was made with: its network and training
    /// configuration ([`Trainer::checkpoint_settings`]), and the data and its split where
    /// [`RunPlan::record`] wrote them. `weight_decay: None` is the optimizer's default.
    pub fn from_checkpoint(file: &ModelFile, path: &Path) -> Result<RunSettings, TrainError> {
        let (spec, config) = Trainer::checkpoint_settings(file, path)?;
        let schedule = Trainer::checkpoint_schedule(file, path)?;
        let o = &config.optimizer;
        // The network as it was given (`cnn`), where recorded; else the spec itself.
        let model = match file.metadata.get(key::MODEL) {
            Some(m) => m
                .parse::<ModelChoice>()
                .map_err(|e| TrainError::file(path, format!("metadata '{}': {e}", key::MODEL)))?,
            None => match &spec {
                ModelSpec::Mlp(s) => ModelChoice::Widths(s.sizes.clone()),
                ModelSpec::Conv(s) => ModelChoice::Layers(ConvLayers(s.layers.clone())),
            },
        };
        let dropout = match &spec {
            ModelSpec::Mlp(s) => Some(s.dropout),
            ModelSpec::Conv(_) => optional(file, key::DROPOUT, path)?,
        };
        Ok(RunSettings {
            data: optional(file, key::DATA, path)?,
            model: Some(model),
            activation: Some(spec.activation()),
            dropout,
            lr_schedule: Some(schedule.kind),
            warmup: Some(schedule.warmup),
            test_data: optional(file, key::TEST_DATA, path)?,
            optimizer: Some(o.kind),
            lr: Some(o.lr),
            momentum: Some(o.momentum),
            nesterov: Some(o.nesterov),
            weight_decay: o.weight_decay,
            epochs: Some(config.epochs),
            batch: Some(config.batch_size),
            seed: Some(config.seed),
            test_fraction: optional(file, key::TEST_FRACTION, path)?,
            standardize: optional(file, key::STANDARDIZE, path)?,
        })
    }
}

impl RunPlan {
    /// Adds to a checkpoint made by [`Trainer::checkpoint`] what the data was and how it was
    /// split, so that a resumed run can take them from the file.
    pub fn record(&self, file: &mut ModelFile) {
        let m = &mut file.metadata;
        m.insert(key::DATA.into(), self.data.clone());
        m.insert(key::TEST_FRACTION.into(), self.test_fraction.to_string());
        m.insert(key::STANDARDIZE.into(), self.standardize.to_string());
        if let ModelSpec::Conv(_) = self.spec {
            // The network as given, so that `--model cnn` agrees on resuming; its dropout
            // is inside the architecture.
            m.insert(key::MODEL.into(), self.model.to_string());
            if let Some(d) = self.dropout {
                m.insert(key::DROPOUT.into(), d.to_string());
            }
        }
        if let Some(t) = &self.test_data {
            m.insert(key::TEST_DATA.into(), t.clone());
        }
    }
}

impl Trainer {
    /// A checkpoint: the model file of the network, the optimizer's buffers (named
    /// `optim.exp_avg.0`, ...) and, in the metadata, the epochs done, the settings and the
    /// metrics so far.
    pub fn checkpoint(&self) -> ModelFile {
        let mut file = self.net.to_file();
        let state = self.optimizer.state();
        let order: Vec<&str> = state.buffers.iter().map(|(n, _)| n.as_str()).collect();
        file.metadata.insert(
            key::BUFFERS.into(),
            serde_json::to_string(&order).expect("strings serialise"),
        );
        for (name, values) in state.buffers {
            file.tensors.push(NamedTensor {
                name: format!("{OPTIM_PREFIX}{name}"),
                shape: vec![values.len()],
                data: values,
                dtype: ElementType::F32,
            });
        }
        let c = &self.config;
        let m = &mut file.metadata;
        m.insert(key::EPOCH.into(), self.epoch.to_string());
        m.insert(key::EPOCHS.into(), c.epochs.to_string());
        m.insert(key::SEED.into(), c.seed.to_string());
        m.insert(key::BATCH.into(), c.batch_size.to_string());
        m.insert(key::OPTIMIZER.into(), c.optimizer.kind.name().into());
        m.insert(key::LR.into(), c.optimizer.lr.to_string());
        m.insert(key::MOMENTUM.into(), c.optimizer.momentum.to_string());
        if c.optimizer.nesterov {
            m.insert(key::NESTEROV.into(), "true".into());
        }
        m.insert(
            key::WEIGHT_DECAY.into(),
            c.optimizer
                .weight_decay
                .map_or("default".into(), |w| w.to_string()),
        );
        if !self.schedule.is_constant() {
            m.insert(key::SCHEDULE.into(), self.schedule.kind.name().into());
            m.insert(key::WARMUP.into(), self.schedule.warmup.to_string());
        }
        m.insert(key::STEP.into(), state.step.to_string());
        m.insert(key::OPTIM_LR.into(), state.lr.to_string());
        m.insert(key::HISTORY.into(), history_json(&self.history));
        file
    }

    /// The settings a checkpoint was made with, read back so that a run can resume without
    /// repeating them: the network's spec and the training configuration (`epochs` is the
    /// number of epochs the run was planned for), as [`Trainer::checkpoint`] records them.
    pub fn checkpoint_settings(
        file: &ModelFile,
        path: &Path,
    ) -> Result<(ModelSpec, TrainConfig), TrainError> {
        let get = |k: &str| required(file, k, path);
        let spec = spec_of(file, path)?;
        let done: usize = parsed(get(key::EPOCH)?, key::EPOCH, path)?;
        // Checkpoints from before the planned epochs were recorded: as many as were done.
        let epochs = optional(file, key::EPOCHS, path)?.unwrap_or(done);
        let weight_decay = match get(key::WEIGHT_DECAY)? {
            "default" => None,
            v => Some(parsed(v, key::WEIGHT_DECAY, path)?),
        };
        let kind = get(key::OPTIMIZER)?
            .parse()
            .map_err(|e| TrainError::file(path, format!("{e}")))?;
        let mut optimizer = OptimizerSpec::new(kind, parsed(get(key::LR)?, key::LR, path)?);
        optimizer.momentum = parsed(get(key::MOMENTUM)?, key::MOMENTUM, path)?;
        optimizer.nesterov = optional(file, key::NESTEROV, path)?.unwrap_or(false);
        optimizer.weight_decay = weight_decay;
        let config = TrainConfig {
            epochs,
            batch_size: parsed(get(key::BATCH)?, key::BATCH, path)?,
            seed: parsed(get(key::SEED)?, key::SEED, path)?,
            optimizer,
        };
        Ok((spec, config))
    }

    /// The learning-rate schedule a checkpoint was made with (constant when it records none).
    pub fn checkpoint_schedule(file: &ModelFile, path: &Path) -> Result<Schedule, TrainError> {
        let kind = match file.metadata.get(key::SCHEDULE) {
            Some(k) => k
                .parse::<ScheduleKind>()
                .map_err(|e| TrainError::file(path, e.to_string()))?,
            None => ScheduleKind::Constant,
        };
        Ok(Schedule {
            kind,
            warmup: optional(file, key::WARMUP, path)?.unwrap_or(0),
        })
    }

    /// Continues from a checkpoint made by [`Trainer::checkpoint`] with the same architecture and
    /// settings: restores the weights, the optimizer's state, the epochs done and their metrics.
    /// Settings that would make the run differ from an uninterrupted one (seed, batch size,
    /// optimizer, learning rate, momentum, Nesterov, weight decay) must match; on error nothing changes.
    pub fn resume(&mut self, file: &ModelFile, path: &Path) -> Result<(), TrainError> {
        let at = |msg: String| TrainError::file(path, msg);
        let get = |k: &str| required(file, k, path);
        let (spec, saved) = Self::checkpoint_settings(file, path)?;
        let schedule = Self::checkpoint_schedule(file, path)?;
        let (c, o, so) = (&self.config, &self.config.optimizer, &saved.optimizer);
        let decay = |w: Option<f64>| w.map_or("default".into(), |w| w.to_string());
        let checks = [
            ("--seed", saved.seed.to_string(), c.seed.to_string()),
            (
                "--batch",
                saved.batch_size.to_string(),
                c.batch_size.to_string(),
            ),
            ("--optimizer", so.kind.to_string(), o.kind.to_string()),
            ("--lr", so.lr.to_string(), o.lr.to_string()),
            (
                "--momentum",
                so.momentum.to_string(),
                o.momentum.to_string(),
            ),
            (
                "--nesterov",
                so.nesterov.to_string(),
                o.nesterov.to_string(),
            ),
            (
                "--weight-decay",
                decay(so.weight_decay),
                decay(o.weight_decay),
            ),
            (
                "--lr-schedule",
                schedule.kind.to_string(),
                self.schedule.kind.to_string(),
            ),
            (
                "--warmup",
                schedule.warmup.to_string(),
                self.schedule.warmup.to_string(),
            ),
        ];
        for (flag, got, want) in checks {
            if got != want {
                return Err(at(format!(
                    "the checkpoint was made with {flag} {got}, not {want}: resume with the \
                     same settings"
                )));
            }
        }
        if spec.activation() != self.net.spec.activation() {
            return Err(at(format!(
                "the checkpoint's network uses {}, not {}",
                spec.activation(),
                self.net.spec.activation()
            )));
        }
        let epoch: usize = get(key::EPOCH)?
            .parse()
            .map_err(|_| at("metadata 'checkpoint_epoch' is not a number".into()))?;
        let step: u64 = get(key::STEP)?
            .parse()
            .map_err(|_| at("metadata 'checkpoint_optimizer_step' is not a number".into()))?;
        let lr: f64 = get(key::OPTIM_LR)?
            .parse()
            .map_err(|_| at("metadata 'checkpoint_optimizer_lr' is not a number".into()))?;
        let history = parse_history(get(key::HISTORY)?)
            .ok_or_else(|| at("metadata 'checkpoint_history' is not valid".into()))?;
        let params: Vec<NamedTensor> = file
            .tensors
            .iter()
            .filter(|t| !t.name.starts_with(OPTIM_PREFIX))
            .cloned()
            .collect();
        // Files keep tensors sorted by name; the metadata keeps the optimizer's order.
        let order: Vec<String> = serde_json::from_str(get(key::BUFFERS)?).map_err(|_| {
            at("metadata 'checkpoint_optimizer_buffers' is not a list of names".into())
        })?;
        let buffers = optimizer_buffers(file, &order, path)?;
        let state = OptimizerState {
            optimizer: self.optimizer.name().to_string(),
            step,
            lr,
            buffers,
        };
        // Check everything before changing anything.
        let mut model = self.net.spec.build(0);
        model.set_training(false);
        model.load_state_dict(&params).map_err(|e| {
            at(format!(
                "{e} (the checkpoint is for {spec}, this run is {})",
                self.net.spec
            ))
        })?;
        let mut optimizer = self.config.optimizer.build::<f32>()?;
        optimizer
            .load_state(&state)
            .map_err(|e| at(format!("optimizer state: {e}")))?;
        if history.len() != epoch {
            return Err(at(format!(
                "the checkpoint is at epoch {epoch} but has metrics for {}",
                history.len()
            )));
        }
        self.net.model = model;
        self.optimizer = optimizer;
        self.epoch = epoch;
        self.history = history;
        Ok(())
    }
}
