//! Checkpoints of a language-model run: the model file with the optimizer's buffers, and in
//! the metadata the steps done, the settings, the evaluations and every step's loss, so that a
//! resumed run continues bit for bit as an uninterrupted one.

use std::path::Path;

use super::{LmEval, LmModel, LmSettings, LmTrainer};
use crate::data::TextCorpus;
use crate::model_file::{ModelFile, NamedTensor};
use crate::nn::Module;
use crate::optim::{Optimizer, OptimizerState};
use crate::train::{TrainError, OPTIM_PREFIX};

/// A metadata value read as JSON into the type asked for, or an error naming the key and the
/// file.
macro_rules! parse {
    ($file:expr, $k:expr, $path:expr) => {{
        let (k, path) = ($k, $path);
        let v = $file
            .metadata
            .get(k)
            .ok_or_else(|| TrainError::file(path, format!("no '{k}' in the metadata")))?;
        serde_json::from_str(v)
            .map_err(|_| TrainError::file(path, format!("metadata '{k}': '{v}' is not valid")))?
    }};
}

mod key {
    pub const STEP: &str = "lm_step";
    pub const SETTINGS: &str = "lm_settings";
    pub const EVALS: &str = "lm_evals";
    pub const LOSSES: &str = "lm_losses";
    pub const DATA: &str = "lm_data";
    pub const OPTIM_STEP: &str = "lm_optimizer_step";
    pub const OPTIM_LR: &str = "lm_optimizer_lr";
    pub const BUFFERS: &str = "lm_optimizer_buffers";
}

impl LmTrainer {
    /// A checkpoint: the model file, the optimizer's buffers (`optim.exp_avg.0`, ...) and, in
    /// the metadata, the steps done, the settings, the evaluations, the losses and `data`, the
    /// name of the text trained on.
    pub fn checkpoint(&self, data: &str) -> ModelFile {
        let mut file = self.model.to_file();
        let state = self.optimizer.state();
        let order: Vec<&str> = state.buffers.iter().map(|(n, _)| n.as_str()).collect();
        let m = &mut file.metadata;
        m.insert(
            key::BUFFERS.into(),
            serde_json::to_string(&order).expect("plain values serialise"),
        );
        m.insert(key::STEP.into(), self.step.to_string());
        m.insert(key::SETTINGS.into(), self.settings.to_json().to_string());
        let evals: Vec<[f64; 3]> = self
            .evals
            .iter()
            .map(|e| [e.step as f64, e.train_loss, e.val_loss])
            .collect();
        m.insert(
            key::EVALS.into(),
            serde_json::to_string(&evals).expect("plain values serialise"),
        );
        m.insert(
            key::LOSSES.into(),
            serde_json::to_string(&self.losses).expect("plain values serialise"),
        );
        m.insert(key::DATA.into(), data.to_string());
        m.insert(key::OPTIM_STEP.into(), state.step.to_string());
        m.insert(
            key::OPTIM_LR.into(),
            serde_json::to_string(&state.lr).expect("plain values serialise"),
        );
        for (name, values) in state.buffers {
            file.tensors.push(NamedTensor {
                name: format!("{OPTIM_PREFIX}{name}"),
                shape: vec![values.len()],
                data: values,
                dtype: crate::model_file::ElementType::F32,
            });
        }
        file
    }

    /// Whether a model file is a language-model checkpoint.
    pub fn is_checkpoint(file: &ModelFile) -> bool {
        LmModel::is_lm_file(file) && file.metadata.contains_key(key::STEP)
    }

    /// The settings and the name of the data a checkpoint was made with.
    pub fn checkpoint_settings(
        file: &ModelFile,
        path: &Path,
    ) -> Result<(LmSettings, String), TrainError> {
        let at = |m: String| TrainError::file(path, m);
        if !Self::is_checkpoint(file) {
            return Err(at(
                "not a checkpoint of chainrule train --model gpt (no 'lm_step' in the metadata)"
                    .into(),
            ));
        }
        let v: serde_json::Value = parse!(file, key::SETTINGS, path);
        let settings = LmSettings::from_json(&v)
            .map_err(|k| at(format!("metadata '{}' has no '{k}'", key::SETTINGS)))?;
        let data = file.metadata.get(key::DATA).cloned().unwrap_or_default();
        Ok((settings, data))
    }

    /// A trainer that continues the run of a checkpoint made by [`LmTrainer::checkpoint`] on
    /// `corpus` (whose vocabulary must be the checkpoint's), with the settings it was made with.
    pub fn from_checkpoint(
        corpus: &TextCorpus,
        file: &ModelFile,
        path: &Path,
    ) -> Result<Self, TrainError> {
        let at = |m: String| TrainError::file(path, m);
        let (settings, _) = Self::checkpoint_settings(file, path)?;
        let mut model = LmModel::from_file(file, path)?;
        if model.vocab != corpus.vocab {
            return Err(at(format!(
                "the checkpoint's vocabulary ({} characters) is not the data's ({}): resume on \
                 the text it was trained on",
                model.vocab.len(),
                corpus.vocab.len()
            )));
        }
        if model.gpt.config != settings.gpt_config(corpus.vocab.len()) {
            return Err(at("the model's shape is not the one of its settings".into()));
        }
        model.gpt.set_training(true);
        let step: usize = parse!(file, key::STEP, path);
        let evals: Vec<[f64; 3]> = parse!(file, key::EVALS, path);
        let losses: Vec<f32> = parse!(file, key::LOSSES, path);
        let order: Vec<String> = parse!(file, key::BUFFERS, path);
        let buffers = crate::train::checkpoint::optimizer_buffers(file, &order, path)?;
        let state = OptimizerState {
            optimizer: "adamw".into(),
            step: parse!(file, key::OPTIM_STEP, path),
            lr: parse!(file, key::OPTIM_LR, path),
            buffers,
        };
        if losses.len() != step {
            return Err(at(format!(
                "the checkpoint is at step {step} but has {} losses",
                losses.len()
            )));
        }
        let mut trainer = LmTrainer::with_model(model, settings)?;
        let lengths: Vec<usize> = trainer
            .model
            .gpt
            .named_parameters()
            .iter()
            .map(|(_, a)| a.numel())
            .collect();
        let saved: Vec<usize> = state
            .buffers
            .iter()
            .step_by(2)
            .map(|(_, b)| b.len())
            .collect();
        if !state.buffers.is_empty() && saved != lengths {
            return Err(at(
                "the optimizer state does not fit the model's parameters".into(),
            ));
        }
        trainer
            .optimizer
            .load_state(&state)
            .map_err(|e| at(format!("optimizer state: {e}")))?;
        trainer.step = step;
        trainer.losses = losses;
        trainer.evals = evals
            .into_iter()
            .map(|[s, t, v]| LmEval {
                step: s as usize,
                train_loss: t,
                val_loss: v,
            })
            .collect();
        Ok(trainer)
    }
}
