//! Checkpoints: a model file with the optimizer's state, the epochs done, the settings and the
//! metrics in its metadata, and resuming a run from one.

use std::path::Path;
use std::str::FromStr;

use super::metrics::{history_json, parse_history};
use super::network::{key, spec_of};
use super::{OptimizerSpec, TrainConfig, TrainError, Trainer};
use crate::model_file::{ModelFile, NamedTensor};
use crate::nn::{MlpSpec, Module};
use crate::optim::OptimizerState;

/// The prefix of optimizer buffers in checkpoints.
pub const OPTIM_PREFIX: &str = "optim.";

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
        m.insert(
            key::WEIGHT_DECAY.into(),
            c.optimizer
                .weight_decay
                .map_or("default".into(), |w| w.to_string()),
        );
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
    ) -> Result<(MlpSpec, TrainConfig), TrainError> {
        let at = |msg: String| TrainError(format!("{}: {msg}", path.display()));
        let get = |k: &str| {
            file.metadata.get(k).map(String::as_str).ok_or_else(|| {
                at(format!(
                    "no '{k}' in the metadata: not a checkpoint written by chainrule train"
                ))
            })
        };
        fn parsed<V: FromStr>(
            v: &str,
            k: &str,
            at: &dyn Fn(String) -> TrainError,
        ) -> Result<V, TrainError> {
            v.parse()
                .map_err(|_| at(format!("metadata '{k}': '{v}' is not valid")))
        }
        let spec = spec_of(file, path)?;
        let done: usize = parsed(get(key::EPOCH)?, key::EPOCH, &at)?;
        // Checkpoints from before the planned epochs were recorded: as many as were done.
        let epochs = match file.metadata.get(key::EPOCHS) {
            Some(v) => parsed(v, key::EPOCHS, &at)?,
            None => done,
        };
        let weight_decay = match get(key::WEIGHT_DECAY)? {
            "default" => None,
            v => Some(parsed(v, key::WEIGHT_DECAY, &at)?),
        };
        let config = TrainConfig {
            epochs,
            batch_size: parsed(get(key::BATCH)?, key::BATCH, &at)?,
            seed: parsed(get(key::SEED)?, key::SEED, &at)?,
            optimizer: OptimizerSpec {
                kind: get(key::OPTIMIZER)?.parse().map_err(at)?,
                lr: parsed(get(key::LR)?, key::LR, &at)?,
                momentum: parsed(get(key::MOMENTUM)?, key::MOMENTUM, &at)?,
                weight_decay,
            },
        };
        Ok((spec, config))
    }

    /// Continues from a checkpoint made by [`Trainer::checkpoint`] with the same architecture and
    /// settings: restores the weights, the optimizer's state, the epochs done and their metrics.
    /// Settings that would make the run differ from an uninterrupted one (seed, batch size,
    /// optimizer, learning rate, momentum, weight decay) must match; on error nothing changes.
    pub fn resume(&mut self, file: &ModelFile, path: &Path) -> Result<(), TrainError> {
        let at = |msg: String| TrainError(format!("{}: {msg}", path.display()));
        let get = |k: &str| {
            file.metadata.get(k).map(String::as_str).ok_or_else(|| {
                at(format!(
                    "no '{k}' in the metadata: not a checkpoint written by chainrule train"
                ))
            })
        };
        let (spec, saved) = Self::checkpoint_settings(file, path)?;
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
                "--weight-decay",
                decay(so.weight_decay),
                decay(o.weight_decay),
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
        if spec.activation != self.net.spec.activation {
            return Err(at(format!(
                "the checkpoint's network uses {}, not {}",
                spec.activation, self.net.spec.activation
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
        let mut buffers = Vec::with_capacity(order.len());
        for name in &order {
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
        let state = OptimizerState {
            optimizer: self.optimizer.name().to_string(),
            step,
            lr,
            buffers,
        };
        // Check everything before changing anything.
        let mut model = self.net.spec.build(0);
        model.load_state_dict(&params).map_err(|e| {
            at(format!(
                "{e} (the checkpoint is for {spec}, this run is {})",
                self.net.spec
            ))
        })?;
        let mut optimizer = self.config.optimizer.build()?;
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
