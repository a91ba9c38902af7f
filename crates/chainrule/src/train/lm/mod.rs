//! Training a character-level language model, as nanoGPT's `train.py` on `shakespeare_char`:
//! the run's settings ([`LmSettings`], nanoGPT's CPU configuration by default), the model with
//! its vocabulary and its file ([`LmModel`]), the loop ([`LmTrainer`]: random windows of the
//! training text, AdamW with weight decay on the matrices only, a warmup and cosine learning
//! rate, gradient clipping, evaluations as it goes), and checkpoints that resume bit for bit.
//!
//! One idea per file: this one holds the settings and the model file; `trainer` the loop and
//! its evaluations; `checkpoint` checkpoints.
//!
//! ```
//! use chainrule::data::TextCorpus;
//! use chainrule::train::{LmSettings, LmTrainer};
//!
//! let corpus = TextCorpus::from_text(&"abcabd ".repeat(200), "<text>").unwrap();
//! let mut settings = LmSettings::baby();
//! (settings.steps, settings.context, settings.layers, settings.channels) = (30, 8, 1, 16);
//! (settings.batch, settings.warmup, settings.eval_every) = (4, 5, 0);
//! let mut trainer = LmTrainer::new(&corpus, settings).unwrap();
//! let first = trainer.estimate_loss(&corpus, chainrule::data::Split::Val, 4).unwrap();
//! trainer.fit(&corpus, &mut |_| {}).unwrap();
//! assert!(trainer.validation_loss(&corpus).unwrap() < first);
//! ```

mod checkpoint;
mod trainer;

use std::collections::BTreeMap;
use std::path::Path;

use super::TrainError;
use crate::data::CharVocab;
use crate::model_file::ModelFile;
use crate::nn::{GptConfig, Module, GPT};

pub use trainer::{LmEval, LmProgress, LmTrainer};

/// The settings of a language-model run; [`LmSettings::baby`] is nanoGPT's CPU configuration
/// for `shakespeare_char` (`--block_size=64 --batch_size=12 --n_layer=4 --n_head=4
/// --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0`, with the config file's
/// learning rate, betas, warmup and minimum rate).
#[derive(Clone, Debug, PartialEq)]
pub struct LmSettings {
    /// The context length in tokens (nanoGPT's `block_size`).
    pub context: usize,
    /// Windows per step.
    pub batch: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// Channels (nanoGPT's `n_embd`).
    pub channels: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// Biases in the projections and layer norms.
    pub bias: bool,
    /// Whether the output layer shares the token embedding's weight.
    pub tie_weights: bool,
    /// Optimizer steps (nanoGPT's `max_iters`, also its `lr_decay_iters`).
    pub steps: usize,
    /// AdamW's learning rate after the warmup.
    pub lr: f64,
    /// The learning rate the cosine ends at.
    pub min_lr: f64,
    /// Steps of linear warmup.
    pub warmup: usize,
    /// AdamW's decoupled weight decay, on the parameters of two or more dimensions only.
    pub weight_decay: f64,
    /// AdamW's (β₁, β₂).
    pub betas: (f64, f64),
    /// The largest global gradient norm (0: no clipping).
    pub clip: f64,
    /// Evaluate every this many steps (0: only at the end).
    pub eval_every: usize,
    /// Random batches per part in each evaluation (nanoGPT's `eval_iters`).
    pub eval_batches: usize,
    /// The seed of the initial weights, the batches and dropout.
    pub seed: u64,
}

impl LmSettings {
    /// nanoGPT's CPU configuration for Shakespeare: context 64, batch 12, 4 layers, 4 heads,
    /// 128 channels, no dropout, no biases, tied embeddings; 2000 steps of AdamW (lr 1e-3,
    /// betas (0.9, 0.99), weight decay 0.1) with 100 steps of warmup and a cosine to 1e-4,
    /// gradients clipped at norm 1; evaluations every 250 steps on 20 batches.
    pub fn baby() -> Self {
        LmSettings {
            context: 64,
            batch: 12,
            layers: 4,
            heads: 4,
            channels: 128,
            dropout: 0.0,
            bias: false,
            tie_weights: true,
            steps: 2000,
            lr: 1e-3,
            min_lr: 1e-4,
            warmup: 100,
            weight_decay: 0.1,
            betas: (0.9, 0.99),
            clip: 1.0,
            eval_every: 250,
            eval_batches: 20,
            seed: 0,
        }
    }

    /// The model's shape for a vocabulary of `vocab_size` tokens.
    pub fn gpt_config(&self, vocab_size: usize) -> GptConfig {
        GptConfig {
            vocab_size,
            block_size: self.context,
            n_layer: self.layers,
            n_head: self.heads,
            n_embd: self.channels,
            dropout: self.dropout,
            bias: self.bias,
            tie_weights: self.tie_weights,
        }
    }

    /// Checks what the model does not: a batch of at least one window, a finite learning
    /// rate and minimum at or above 0, a clip at or above 0, betas in `[0, 1)`.
    pub fn check(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::invalid(m));
        if self.batch == 0 {
            return bad("--batch must be at least 1".into());
        }
        for (flag, v) in [
            ("--lr", self.lr),
            ("--min-lr", self.min_lr),
            ("--clip", self.clip),
            ("--weight-decay", self.weight_decay),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{flag} must be a number at or above 0, not {v}"));
            }
        }
        let (b1, b2) = self.betas;
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            return bad(format!("the betas must be in [0, 1), not ({b1}, {b2})"));
        }
        Ok(())
    }

    /// The settings as a JSON object (for checkpoints).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "context": self.context, "batch": self.batch, "layers": self.layers,
            "heads": self.heads, "channels": self.channels, "dropout": self.dropout,
            "bias": self.bias, "tie_weights": self.tie_weights, "steps": self.steps,
            "lr": self.lr, "min_lr": self.min_lr, "warmup": self.warmup,
            "weight_decay": self.weight_decay, "beta1": self.betas.0, "beta2": self.betas.1,
            "clip": self.clip, "eval_every": self.eval_every, "eval_batches": self.eval_batches,
            "seed": self.seed,
        })
    }

    /// The settings [`LmSettings::to_json`] wrote, or the name of the first one missing.
    pub(crate) fn from_json(v: &serde_json::Value) -> Result<Self, String> {
        let num = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_f64)
                .ok_or(k.to_string())
        };
        let int = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_u64)
                .map(|n| n as usize)
                .ok_or(k.to_string())
        };
        let flag = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_bool)
                .ok_or(k.to_string())
        };
        Ok(LmSettings {
            context: int("context")?,
            batch: int("batch")?,
            layers: int("layers")?,
            heads: int("heads")?,
            channels: int("channels")?,
            dropout: num("dropout")?,
            bias: flag("bias")?,
            tie_weights: flag("tie_weights")?,
            steps: int("steps")?,
            lr: num("lr")?,
            min_lr: num("min_lr")?,
            warmup: int("warmup")?,
            weight_decay: num("weight_decay")?,
            betas: (num("beta1")?, num("beta2")?),
            clip: num("clip")?,
            eval_every: int("eval_every")?,
            eval_batches: int("eval_batches")?,
            seed: int("seed")? as u64,
        })
    }
}

/// A character-level GPT with its vocabulary: what `chainrule generate` needs.
///
/// [`LmModel::to_file`] holds nanoGPT's `state_dict` (loadable into its `GPT` class) and, in
/// the metadata, the shape (`gpt_config`, nanoGPT's `GPTConfig` fields as JSON) and the
/// vocabulary (`vocab`, the characters in token order, as nanoGPT's `meta.pkl` has them).
#[derive(Clone, Debug)]
pub struct LmModel {
    /// The network.
    pub gpt: GPT,
    /// The characters of its tokens.
    pub vocab: CharVocab,
}

/// Metadata keys of language-model files.
pub(crate) mod key {
    pub const FORMAT: &str = "format";
    pub const FORMAT_VALUE: &str = "chainrule.gpt";
    pub const CONFIG: &str = "gpt_config";
    pub const VOCAB: &str = "vocab";
}

impl LmModel {
    /// The model file.
    pub fn to_file(&self) -> ModelFile {
        let c = &self.gpt.config;
        let config = serde_json::json!({
            "vocab_size": c.vocab_size, "block_size": c.block_size, "n_layer": c.n_layer,
            "n_head": c.n_head, "n_embd": c.n_embd, "dropout": c.dropout, "bias": c.bias,
            "tie_weights": c.tie_weights,
        });
        let mut metadata = BTreeMap::new();
        metadata.insert(key::FORMAT.into(), key::FORMAT_VALUE.into());
        metadata.insert(key::CONFIG.into(), config.to_string());
        metadata.insert(
            key::VOCAB.into(),
            serde_json::to_string(&self.vocab.as_string()).expect("a string serialises"),
        );
        ModelFile {
            tensors: self.gpt.state_dict(),
            metadata,
        }
    }

    /// Whether a model file is a language model's (its metadata says so).
    pub fn is_lm_file(file: &ModelFile) -> bool {
        file.metadata.get(key::FORMAT).map(String::as_str) == Some(key::FORMAT_VALUE)
    }

    /// Reads a model from a model file or a checkpoint; `path` names the file in errors.
    pub fn from_file(file: &ModelFile, path: &Path) -> Result<Self, TrainError> {
        let at = |m: String| TrainError::file(path, m);
        if !Self::is_lm_file(file) {
            return Err(at(
                "not a language model (it was not saved by chainrule train --model gpt)".into(),
            ));
        }
        let meta = |k: &str| {
            file.metadata
                .get(k)
                .ok_or_else(|| at(format!("no '{k}' in the metadata")))
        };
        let v: serde_json::Value = serde_json::from_str(meta(key::CONFIG)?)
            .map_err(|e| at(format!("metadata '{}' is not JSON: {e}", key::CONFIG)))?;
        let int = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_u64)
                .map(|n| n as usize)
                .ok_or_else(|| at(format!("metadata '{}' has no number '{k}'", key::CONFIG)))
        };
        let flag = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_bool)
                .ok_or_else(|| at(format!("metadata '{}' has no flag '{k}'", key::CONFIG)))
        };
        let config = GptConfig {
            vocab_size: int("vocab_size")?,
            block_size: int("block_size")?,
            n_layer: int("n_layer")?,
            n_head: int("n_head")?,
            n_embd: int("n_embd")?,
            dropout: v.get("dropout").and_then(|d| d.as_f64()).unwrap_or(0.0),
            bias: flag("bias")?,
            tie_weights: flag("tie_weights")?,
        };
        let chars: String = serde_json::from_str(meta(key::VOCAB)?)
            .map_err(|e| at(format!("metadata 'vocab' is not a JSON string: {e}")))?;
        let vocab = CharVocab::from_sorted(&chars).ok_or_else(|| {
            at("metadata 'vocab' is not a list of sorted distinct characters".into())
        })?;
        if vocab.len() != config.vocab_size {
            return Err(at(format!(
                "the vocabulary has {} characters but the model {} tokens",
                vocab.len(),
                config.vocab_size
            )));
        }
        let mut gpt = GPT::new(config, 0).map_err(|e| at(format!("metadata: {e}")))?;
        let params: Vec<_> = file
            .tensors
            .iter()
            .filter(|t| !t.name.starts_with(super::OPTIM_PREFIX))
            .cloned()
            .collect();
        gpt.load_state_dict(&params)
            .map_err(|e| at(e.to_string()))?;
        gpt.set_training(false);
        Ok(LmModel { gpt, vocab })
    }

    /// Saves [`LmModel::to_file`] atomically.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        Ok(self.to_file().save(path)?)
    }

    /// Loads a model saved by [`LmModel::save`] (or a checkpoint).
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let file = ModelFile::load(path)?;
        Self::from_file(&file, path)
    }
}
