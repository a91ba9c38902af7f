//! A GPT language model, as nanoGPT's `GPT`: token and learned position embeddings, a stack of
//! pre-norm transformer [`Block`]s, a final layer norm and an output layer that may share its
//! weight with the token embedding.
//!
//! The parameter names and layouts are nanoGPT's (`transformer.wte.weight`,
//! `transformer.h.0.attn.c_attn.weight`, `lm_head.weight`, ...), so that
//! [`Module::state_dict`] loads into nanoGPT's `GPT` class with `strict=True` and gives the
//! same logits (`examples/nanogpt_interop.py` checks it).

use std::fmt;

use super::transformer::{prefixed, prefixed_mut, project};
use super::{Block, Context, Embedding, LayerNorm, Module, Projection, StateDictError};
use crate::model_file::NamedTensor;
use crate::tensor::{Array, Tensor, TensorError};
use crate::util::rand::Rng;

/// The shape of a [`GPT`], with nanoGPT's names; [`GptConfig::baby`] is nanoGPT's CPU
/// configuration for Shakespeare.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GptConfig {
    /// The number of tokens (characters, for a character-level model).
    pub vocab_size: usize,
    /// The longest context, in tokens (the number of position embeddings).
    pub block_size: usize,
    /// The number of blocks.
    pub n_layer: usize,
    /// The number of attention heads per block.
    pub n_head: usize,
    /// The width of every position's vector (the channels).
    pub n_embd: usize,
    /// The dropout probability (after the embeddings, on attention weights, after each
    /// residual branch).
    pub dropout: f64,
    /// Whether the projections and layer norms have biases.
    pub bias: bool,
    /// Whether the output layer uses the token embedding's weight (weight tying).
    pub tie_weights: bool,
}

impl GptConfig {
    /// nanoGPT's "baby GPT" for characters on a CPU: context 64, 4 layers, 4 heads, 128
    /// channels, no dropout, no biases, tied embeddings, over `vocab_size` tokens.
    pub fn baby(vocab_size: usize) -> Self {
        GptConfig {
            vocab_size,
            block_size: 64,
            n_layer: 4,
            n_head: 4,
            n_embd: 128,
            dropout: 0.0,
            bias: false,
            tie_weights: true,
        }
    }

    /// Checks that the shape can be built: every size at least 1, the heads dividing the
    /// channels, the dropout in `[0, 1)`.
    pub fn validate(&self) -> Result<(), GptConfigError> {
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("block_size", self.block_size),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("n_embd", self.n_embd),
        ];
        if let Some(&(name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(GptConfigError(format!("{name} must be at least 1")));
        }
        if self.n_embd % self.n_head != 0 {
            return Err(GptConfigError(format!(
                "{} heads do not divide {} channels",
                self.n_head, self.n_embd
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(GptConfigError(format!(
                "the dropout must be in [0, 1), not {}",
                self.dropout
            )));
        }
        Ok(())
    }
}

/// A [`GptConfig`] that cannot be built, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GptConfigError(pub String);

impl fmt::Display for GptConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GptConfigError {}

/// How [`GPT::generate`] picks each next token from the model's logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// The logits are divided by it: below 1 sharpens, above 1 flattens (must be above 0).
    pub temperature: f64,
    /// Only the `k` most likely tokens may be drawn (all of them when `None`).
    pub top_k: Option<usize>,
}

impl Default for Sampling {
    /// nanoGPT's `sample.py`: temperature 0.8, top 200.
    fn default() -> Self {
        Sampling {
            temperature: 0.8,
            top_k: Some(200),
        }
    }
}

/// nanoGPT's `GPT`: token and learned position embeddings, a stack of pre-norm transformer
/// [`Block`]s, a final layer norm and an output layer that may share its weight with the token
/// embedding, with nanoGPT's parameter names.
///
/// ```
/// use chainrule::nn::{Context, GPT, GptConfig, Module};
/// use chainrule::tensor::{Array, Tape};
///
/// let config = GptConfig { n_layer: 1, n_embd: 16, n_head: 2, block_size: 8, ..GptConfig::baby(10) };
/// let gpt = GPT::new(config, 0).unwrap();
/// let names: Vec<String> = gpt.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[..3], ["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight"]);
/// // The output layer is the token embedding: one parameter, two names in the state dict.
/// assert_eq!(names.last().unwrap(), "transformer.ln_f.weight");
/// assert_eq!(gpt.state_dict().last().unwrap().name, "lm_head.weight");
///
/// let tape = Tape::<f32>::new();
/// let ids = Array::from_vec(vec![1, 2, 3, 4, 5, 6], &[2, 3]).unwrap();
/// let logits = gpt.logits(&ids, &mut Context::inference(&tape)).unwrap();
/// assert_eq!(logits.shape(), vec![2, 3, 10]);
/// ```
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug)]
pub struct GPT {
    /// The shape.
    pub config: GptConfig,
    /// The token embedding, `[vocab_size, n_embd]` (also the output layer when tied).
    pub wte: Embedding,
    /// The position embedding, `[block_size, n_embd]`.
    pub wpe: Embedding,
    /// The blocks.
    pub h: Vec<Block>,
    /// The final layer norm.
    pub ln_f: LayerNorm,
    /// The output layer when it is not tied to the token embedding.
    pub lm_head: Option<Projection>,
    training: bool,
}

const WTE: &str = "transformer.wte.weight";
const LM_HEAD: &str = "lm_head.weight";

impl GPT {
    /// A model of shape `config` initialised as nanoGPT does, from `seed`: every weight from
    /// the normal distribution of standard deviation 0.02, except the `c_proj` weights,
    /// 0.02/√(2·n_layer); biases zero, layer norms' weights one.
    pub fn new(config: GptConfig, seed: u64) -> Result<Self, GptConfigError> {
        config.validate()?;
        let mut rng = Rng::new(seed);
        let c = config;
        let proj_std = 0.02 / ((2 * c.n_layer) as f64).sqrt();
        let wte = Embedding::normal(c.vocab_size, c.n_embd, 0.02, &mut rng);
        let wpe = Embedding::normal(c.block_size, c.n_embd, 0.02, &mut rng);
        let h = (0..c.n_layer)
            .map(|_| Block::new(c.n_embd, c.n_head, c.bias, c.dropout, proj_std, &mut rng))
            .collect();
        let lm_head = (!c.tie_weights)
            .then(|| Projection::normal(c.n_embd, c.vocab_size, false, 0.02, &mut rng));
        Ok(GPT {
            config,
            wte,
            wpe,
            h,
            ln_f: LayerNorm::new(c.n_embd, c.bias),
            lm_head,
            training: true,
        })
    }

    /// The hidden states after `blocks` blocks, `[batch·time, n_embd]`, for token indices
    /// `ids` of `[batch, time]`.
    fn hidden<'t>(
        &self,
        ids: &Array<usize>,
        ctx: &mut Context<'t>,
        blocks: usize,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let s = ids.shape();
        let c = &self.config;
        if s.len() != 2 || s[1] == 0 {
            return Err(TensorError::new(
                "gpt",
                format!("the tokens must be [batch, time] with time ≥ 1, not {s:?}"),
            ));
        }
        if s[1] > c.block_size {
            return Err(TensorError::new(
                "gpt",
                format!(
                    "a context of {} tokens is longer than the model's {}",
                    s[1], c.block_size
                ),
            ));
        }
        // The positions are rows, [batch·time, channels], sequence after sequence: the
        // projections then need no reshaping, and the position embedding is a lookup too.
        let flat = ids.reshape(&[ids.numel()])?;
        let tok = self.wte.lookup(&flat, ctx)?;
        let wpe = ctx.param(&self.wpe.weight);
        let positions: Vec<usize> = (0..ids.numel()).map(|i| i % s[1]).collect();
        let pos = super::embedding(wpe, &Array::from_vec(positions, &[ids.numel()])?, None)?;
        let mut x = tok.add(pos)?;
        if self.training && c.dropout > 0.0 {
            x = super::Dropout::new(c.dropout).forward(x, ctx)?;
        }
        for block in &self.h[..blocks] {
            x = block.forward_rows(x, s[1], ctx)?;
        }
        Ok(x)
    }

    /// The logits of the next token at every position, `[batch, time, vocab_size]`, for token
    /// indices `ids` of `[batch, time]` (`time` at most the block size).
    pub fn logits<'t>(
        &self,
        ids: &Array<usize>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let rows = self.logit_rows(ids, ctx)?;
        let s = ids.shape();
        rows.reshape(&[s[0], s[1], self.config.vocab_size])
    }

    /// The logits as rows, `[batch·time, vocab_size]`.
    fn logit_rows<'t>(
        &self,
        ids: &Array<usize>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let x = self.hidden(ids, ctx, self.h.len())?;
        let x = self.ln_f.forward(x, ctx)?;
        self.head(x, ctx)
    }

    /// The output layer: the token embedding's weight when tied.
    fn head<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        match &self.lm_head {
            Some(head) => head.forward(x, ctx),
            None => {
                let w = ctx.param(&self.wte.weight);
                project(x, w, None)
            }
        }
    }

    /// The mean cross-entropy of the next tokens `targets` (`[batch, time]`, as `ids`) over
    /// every position, as nanoGPT's `forward(idx, targets)`.
    pub fn loss<'t>(
        &self,
        ids: &Array<usize>,
        targets: &[usize],
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let v = self.config.vocab_size;
        if targets.len() != ids.numel() {
            return Err(TensorError::new(
                "gpt",
                format!(
                    "{} targets for {} positions: one target per token is needed",
                    targets.len(),
                    ids.numel()
                ),
            ));
        }
        if let Some(&bad) = targets.iter().find(|&&t| t >= v) {
            return Err(TensorError::new(
                "gpt",
                format!("target {bad} is not a token of a vocabulary of {v}"),
            ));
        }
        super::cross_entropy(self.logit_rows(ids, ctx)?, targets)
    }

    /// The attention weights of every head of block `layer` for one sequence `ids`,
    /// `[heads, time, time]`, in evaluation mode (no dropout).
    pub fn attention(&self, ids: &[usize], layer: usize) -> Result<Array<f32>, TensorError> {
        if layer >= self.h.len() {
            return Err(TensorError::new(
                "gpt",
                format!("there is no block {layer} in {} blocks", self.h.len()),
            ));
        }
        let tape = crate::tensor::Tape::new();
        let ids = Array::from_vec(ids.to_vec(), &[1, ids.len()])?;
        let w = tape.no_grad(|| {
            let mut ctx = Context::inference(&tape);
            let x = self.hidden(&ids, &mut ctx, layer)?;
            let block = &self.h[layer];
            let x = block.ln_1.forward(x, &mut ctx)?;
            let n = x.shape();
            block.attn.weights(x.reshape(&[1, n[0], n[1]])?, &mut ctx)
        })?;
        let s = w.shape();
        w.value().reshape(&s[1..])
    }

    /// Continues `prompt` by `tokens` tokens drawn one at a time from the model (in evaluation
    /// mode, the context cut to the last `block_size` tokens), calling `on_token` with each as
    /// it is drawn; returns the tokens drawn. The draws come from `rng`, so a seed gives the
    /// same text every time.
    pub fn generate(
        &self,
        prompt: &[usize],
        tokens: usize,
        sampling: Sampling,
        rng: &mut Rng,
        on_token: &mut dyn FnMut(usize),
    ) -> Result<Vec<usize>, TensorError> {
        if !(sampling.temperature > 0.0 && sampling.temperature.is_finite()) {
            return Err(TensorError::new(
                "generate",
                format!(
                    "the temperature must be a number above 0, not {}",
                    sampling.temperature
                ),
            ));
        }
        if prompt.is_empty() {
            return Err(TensorError::new("generate", "the prompt has no tokens"));
        }
        let mut context = prompt.to_vec();
        let mut drawn = Vec::with_capacity(tokens);
        let mut tape = crate::tensor::Tape::new();
        let mut probs = vec![0.0f64; self.config.vocab_size];
        for _ in 0..tokens {
            let last = self.next_logits_on(&mut tape, &context)?;
            let next = sample(&last, sampling, &mut probs, rng);
            on_token(next);
            drawn.push(next);
            context.push(next);
        }
        Ok(drawn)
    }

    /// The logits of the token after `context` (its last `block_size` tokens), in evaluation
    /// mode: nanoGPT's `model(idx)[0][0, -1]`.
    pub fn next_logits(&self, context: &[usize]) -> Result<Vec<f32>, TensorError> {
        self.next_logits_on(&mut crate::tensor::Tape::new(), context)
    }

    fn next_logits_on(
        &self,
        tape: &mut crate::tensor::Tape<f32>,
        context: &[usize],
    ) -> Result<Vec<f32>, TensorError> {
        if context.is_empty() {
            return Err(TensorError::new("generate", "the context has no tokens"));
        }
        tape.clear();
        let start = context.len().saturating_sub(self.config.block_size);
        let window = &context[start..];
        let ids = Array::from_vec(window.to_vec(), &[1, window.len()])?;
        let tape = &*tape;
        tape.no_grad(|| -> Result<Vec<f32>, TensorError> {
            let mut ctx = Context::inference(tape);
            let x = self.hidden(&ids, &mut ctx, self.h.len())?;
            let t = window.len() as isize;
            let x = x.slice(0, t - 1, t)?;
            let x = self.ln_f.forward(x, &mut ctx)?;
            Ok(self.head(x, &mut ctx)?.to_vec())
        })
    }
}

/// Draws a token from `logits` as nanoGPT's `generate` does: divided by the temperature, all
/// but the `top_k` largest set to −∞, softmax, one draw.
fn sample(logits: &[f32], sampling: Sampling, probs: &mut [f64], rng: &mut Rng) -> usize {
    let t = sampling.temperature;
    let scaled = |v: f32| f64::from(v) / t;
    let cut = match sampling.top_k {
        Some(k) if k > 0 && k < logits.len() => {
            let mut sorted: Vec<f64> = logits.iter().map(|&v| scaled(v)).collect();
            sorted.sort_by(|a, b| b.total_cmp(a));
            sorted[k - 1]
        }
        _ => f64::NEG_INFINITY,
    };
    let max = logits
        .iter()
        .map(|&v| scaled(v))
        .fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for (p, &v) in probs.iter_mut().zip(logits) {
        let s = scaled(v);
        *p = if s < cut { 0.0 } else { (s - max).exp() };
        total += *p;
    }
    let mut u = rng.next_f64() * total;
    for (i, &p) in probs.iter().enumerate() {
        if u < p {
            return i;
        }
        u -= p;
    }
    // Rounding left a sliver past the last weight: the last token that could be drawn.
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

impl Module for GPT {
    /// The logits for the token indices held (as whole numbers) in `x`, `[batch, time]`; the
    /// tokens usually come as indices instead, through [`GPT::logits`].
    fn forward<'t>(
        &self,
        x: Tensor<'t, f32>,
        ctx: &mut Context<'t>,
    ) -> Result<Tensor<'t, f32>, TensorError> {
        let ids = super::embedding::indices_of(&x.value(), "gpt")?;
        self.logits(&ids, ctx)
    }

    /// The parameters in the order a forward pass uses them, with nanoGPT's names; a tied
    /// output layer is the token embedding, listed once (as PyTorch's `named_parameters`).
    fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
        let mut v = vec![
            (WTE.to_string(), &self.wte.weight),
            ("transformer.wpe.weight".to_string(), &self.wpe.weight),
        ];
        for (i, b) in self.h.iter().enumerate() {
            v.extend(prefixed(
                &format!("transformer.h.{i}"),
                b.named_parameters(),
            ));
        }
        v.extend(prefixed("transformer.ln_f", self.ln_f.named_parameters()));
        if let Some(head) = &self.lm_head {
            v.push((LM_HEAD.to_string(), &head.weight));
        }
        v
    }

    fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
        let mut v = vec![
            (WTE.to_string(), &mut self.wte.weight),
            ("transformer.wpe.weight".to_string(), &mut self.wpe.weight),
        ];
        for (i, b) in self.h.iter_mut().enumerate() {
            v.extend(prefixed_mut(
                &format!("transformer.h.{i}"),
                b.parameters_mut(),
            ));
        }
        v.extend(prefixed_mut("transformer.ln_f", self.ln_f.parameters_mut()));
        if let Some(head) = &mut self.lm_head {
            v.push((LM_HEAD.to_string(), &mut head.weight));
        }
        v
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
        for b in &mut self.h {
            b.set_training(training);
        }
    }

    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "GPT(vocab_size={}, block_size={}, n_layer={}, n_head={}, n_embd={}, dropout={}, \
             bias={}, tied={})",
            c.vocab_size,
            c.block_size,
            c.n_layer,
            c.n_head,
            c.n_embd,
            c.dropout,
            c.bias,
            c.tie_weights
        )
    }

    /// The parameters as nanoGPT's `state_dict`: a tied output layer appears under both
    /// `transformer.wte.weight` and `lm_head.weight`.
    fn state_dict(&self) -> Vec<NamedTensor> {
        let mut v: Vec<NamedTensor> = self
            .named_parameters()
            .into_iter()
            .map(|(name, a)| NamedTensor {
                name,
                shape: a.shape().to_vec(),
                data: a.to_vec(),
                dtype: crate::model_file::ElementType::F32,
            })
            .collect();
        if self.lm_head.is_none() {
            let w = &self.wte.weight;
            v.push(NamedTensor {
                name: LM_HEAD.to_string(),
                shape: w.shape().to_vec(),
                data: w.to_vec(),
                dtype: crate::model_file::ElementType::F32,
            });
        }
        v
    }

    /// Loads a state dict as nanoGPT's `load_state_dict(strict=True)`: every name present with
    /// its shape, no other; when the output layer is tied, `lm_head.weight` must be there too
    /// and equal `transformer.wte.weight`.
    fn load_state_dict(&mut self, tensors: &[NamedTensor]) -> Result<(), StateDictError> {
        if self.lm_head.is_some() {
            return load_named(self, tensors);
        }
        let head = tensors
            .iter()
            .find(|t| t.name == LM_HEAD)
            .ok_or_else(|| StateDictError::Missing(LM_HEAD.into()))?;
        if let Some(wte) = tensors.iter().find(|t| t.name == WTE) {
            if wte.shape == head.shape && wte.data != head.data {
                return Err(StateDictError::Untied {
                    name: LM_HEAD.into(),
                    tied_to: WTE.into(),
                });
            }
        }
        let rest: Vec<NamedTensor> = tensors
            .iter()
            .filter(|t| t.name != LM_HEAD)
            .cloned()
            .collect();
        load_named(self, &rest)
    }
}

/// The default strict loading of [`Module::load_state_dict`], for a module that overrides it.
fn load_named(m: &mut GPT, tensors: &[NamedTensor]) -> Result<(), StateDictError> {
    struct Plain<'a>(&'a mut GPT);
    impl Module for Plain<'_> {
        fn forward<'t>(
            &self,
            x: Tensor<'t, f32>,
            ctx: &mut Context<'t>,
        ) -> Result<Tensor<'t, f32>, TensorError> {
            self.0.forward(x, ctx)
        }
        fn named_parameters(&self) -> Vec<(String, &Array<f32>)> {
            self.0.named_parameters()
        }
        fn parameters_mut(&mut self) -> Vec<(String, &mut Array<f32>)> {
            self.0.parameters_mut()
        }
        fn describe(&self) -> String {
            self.0.describe()
        }
    }
    Plain(m).load_state_dict(tensors)
}
