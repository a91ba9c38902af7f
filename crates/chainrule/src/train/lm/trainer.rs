//! The language-model training loop: one batch of random windows per step on a reused tape,
//! nanoGPT's learning-rate schedule, clipping and AdamW, and the evaluations.

use std::time::Instant;

use super::{LmModel, LmSettings};
use crate::data::{Split, TextCorpus};
use crate::nn::{Context, Module, GPT};
use crate::optim::{clip_grad_norm, AdamW, AdamWConfig, LrSchedule, Optimizer, WarmupCosine};
use crate::tensor::{Array, Tape};
use crate::train::TrainError;
use crate::util::rand::Rng;

/// The losses of one evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LmEval {
    /// The number of steps done when it was made.
    pub step: usize,
    /// The mean loss on random batches of the training part.
    pub train_loss: f64,
    /// The mean loss on random batches of the validation part.
    pub val_loss: f64,
}

/// What [`LmTrainer::advance`] reports as it goes.
#[derive(Clone, Copy, Debug)]
pub enum LmProgress<'a> {
    /// A step was taken.
    Step {
        /// The number of steps done (from 1).
        step: usize,
        /// The number of steps planned.
        steps: usize,
        /// The batch's loss (before the update).
        loss: f64,
        /// The step's time in seconds.
        seconds: f64,
        /// The tokens of the batch.
        tokens: usize,
    },
    /// An evaluation was made.
    Eval(&'a LmEval),
}

// A step's batch and dropout come from `stream_seed(seed, step, stream)`, so that a resumed
// run draws what an uninterrupted one would.
use crate::train::trainer::stream_seed;

/// Streams of [`stream_seed`].
const BATCH: u64 = 1;
const DROPOUT: u64 = 2;
const EVAL_TRAIN: u64 = 3;
const EVAL_VAL: u64 = 4;

/// The training loop's state: the model, the optimizer, the steps done, the evaluations and
/// the loss of every step.
pub struct LmTrainer {
    /// The model being trained.
    pub model: LmModel,
    /// The settings.
    pub settings: LmSettings,
    pub(super) optimizer: AdamW<f32>,
    pub(super) step: usize,
    pub(super) evals: Vec<LmEval>,
    pub(super) losses: Vec<f32>,
    tape: Tape<f32>,
    x: Vec<usize>,
    y: Vec<usize>,
    zeros: Vec<Vec<f32>>,
}

impl std::fmt::Debug for LmTrainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LmTrainer")
            .field("settings", &self.settings)
            .field("step", &self.step)
            .finish()
    }
}

impl LmTrainer {
    /// A trainer for a new model over `corpus`'s vocabulary, with weights drawn from the
    /// settings' seed. Fails on settings that cannot work, or a context longer than a part of
    /// the corpus can fill.
    pub fn new(corpus: &TextCorpus, settings: LmSettings) -> Result<Self, TrainError> {
        settings.check()?;
        let config = settings.gpt_config(corpus.vocab.len());
        let gpt = GPT::new(config, settings.seed).map_err(|e| TrainError::invalid(e.0))?;
        if settings.context > corpus.max_context() {
            return Err(TrainError::invalid(format!(
                "--context {} needs parts of at least {} characters, but the validation part \
                 has {} and the training part {}: give a shorter --context or a longer text",
                settings.context,
                settings.context + 1,
                corpus.val.len(),
                corpus.train.len()
            )));
        }
        let model = LmModel {
            gpt,
            vocab: corpus.vocab.clone(),
        };
        Self::with_model(model, settings)
    }

    /// A trainer for `model` (whose shape should be the settings'; the benchmarks make one
    /// without a corpus this way).
    pub fn with_model(model: LmModel, settings: LmSettings) -> Result<Self, TrainError> {
        let decays = model
            .gpt
            .named_parameters()
            .iter()
            .map(|(_, a)| a.ndim() >= 2)
            .collect();
        let config = AdamWConfig::new(settings.lr)
            .betas(settings.betas.0, settings.betas.1)
            .weight_decay(settings.weight_decay);
        let optimizer = AdamW::try_new(config)?.with_decays(decays);
        Ok(LmTrainer {
            model,
            settings,
            optimizer,
            step: 0,
            evals: Vec::new(),
            losses: Vec::new(),
            tape: Tape::new(),
            x: Vec::new(),
            y: Vec::new(),
            zeros: Vec::new(),
        })
    }

    /// The number of steps done.
    pub fn step(&self) -> usize {
        self.step
    }

    /// The evaluations made (including those before a resume).
    pub fn evals(&self) -> &[LmEval] {
        &self.evals
    }

    /// The training loss of every step done, in order.
    pub fn losses(&self) -> &[f32] {
        &self.losses
    }

    /// The learning rate of step `step` (from 0): nanoGPT's warmup and cosine over the run.
    pub fn lr_at(&self, step: usize) -> f64 {
        let s = &self.settings;
        WarmupCosine {
            warmup: s.warmup as u64,
            decay_steps: s.steps as u64,
            min_lr: s.min_lr,
        }
        .lr_at(s.lr, step as u64)
    }

    /// Whether an evaluation is due after `step` steps: every `eval_every` steps (from 0), and
    /// at the end.
    fn eval_due(&self, step: usize) -> bool {
        let every = self.settings.eval_every;
        (every > 0 && step % every == 0) || step == self.settings.steps
    }

    /// Trains until the planned steps are done, with the evaluations on the way and at the
    /// end, reporting to `on_progress`.
    pub fn fit(
        &mut self,
        corpus: &TextCorpus,
        on_progress: &mut dyn FnMut(LmProgress<'_>),
    ) -> Result<(), TrainError> {
        while !self.finished() {
            self.advance(corpus, on_progress)?;
        }
        Ok(())
    }

    /// Whether every planned step and the last evaluation are done.
    pub fn finished(&self) -> bool {
        self.step >= self.settings.steps && self.evals.last().is_some_and(|e| e.step == self.step)
    }

    /// The next piece of work: the evaluation due at this step if it is not made yet, else one
    /// step. Returns whether it was an evaluation (after which a checkpoint is worth saving).
    pub fn advance(
        &mut self,
        corpus: &TextCorpus,
        on_progress: &mut dyn FnMut(LmProgress<'_>),
    ) -> Result<bool, TrainError> {
        let evaluated = self.evals.last().is_some_and(|e| e.step == self.step);
        if !evaluated && self.eval_due(self.step) {
            let n = self.settings.eval_batches;
            let e = LmEval {
                step: self.step,
                train_loss: self.estimate_loss(corpus, Split::Train, n)?,
                val_loss: self.estimate_loss(corpus, Split::Val, n)?,
            };
            self.evals.push(e);
            on_progress(LmProgress::Eval(&e));
            return Ok(true);
        }
        if self.step >= self.settings.steps {
            return Ok(false);
        }
        let start = Instant::now();
        let s = &self.settings;
        let mut rng = Rng::new(stream_seed(s.seed, self.step, BATCH));
        let (mut x, mut y) = (std::mem::take(&mut self.x), std::mem::take(&mut self.y));
        corpus.batch_into(Split::Train, s.batch, s.context, &mut rng, &mut x, &mut y);
        let loss = self.train_step(&x, &y);
        (self.x, self.y) = (x, y);
        let loss = loss?;
        on_progress(LmProgress::Step {
            step: self.step,
            steps: self.settings.steps,
            loss,
            seconds: start.elapsed().as_secs_f64(),
            tokens: self.x.len(),
        });
        Ok(false)
    }

    /// One optimizer step on the windows `x` and their targets `y` (`[batch, context]`
    /// row-major): the learning rate of this step, forward, the loss over every position,
    /// backward, clipping, AdamW; returns the loss. The training loop and `bench gpt-baby`
    /// run exactly this.
    pub fn train_step(&mut self, x: &[usize], y: &[usize]) -> Result<f64, TrainError> {
        let t = self.settings.context.min(x.len());
        if t == 0 || x.len() % t != 0 || x.len() != y.len() {
            return Err(TrainError::invalid(format!(
                "a batch of {} inputs and {} targets is not whole windows of {t}",
                x.len(),
                y.len()
            )));
        }
        let lr = self.lr_at(self.step);
        self.optimizer.set_lr(lr);
        let LmTrainer {
            model,
            optimizer,
            tape,
            zeros,
            settings,
            ..
        } = self;
        tape.clear();
        let ids = Array::from_vec(x.to_vec(), &[x.len() / t, t])?;
        let mut grads: Vec<Option<Array<f32>>> = Vec::new();
        let loss = {
            let tape = &*tape;
            let rng = Rng::new(stream_seed(settings.seed, self.step, DROPOUT));
            let mut ctx = Context::with_rng(tape, rng);
            let loss = model.gpt.loss(&ids, y, &mut ctx)?;
            loss.backward()?;
            grads.extend(ctx.parameters().iter().map(|p| p.grad()));
            f64::from(loss.item())
        };
        // The tape lets go of the parameters and gradients, so both change in place.
        tape.clear();
        let mut params = model.gpt.parameters_mut();
        assert_eq!(
            params.len(),
            grads.len(),
            "every parameter is recorded once by the forward pass"
        );
        zeros.resize_with(params.len(), Vec::new);
        let mut g: Vec<&mut [f32]> = grads
            .iter_mut()
            .zip(zeros.iter_mut())
            .zip(&params)
            .map(|((g, z), (_, p))| match g {
                Some(a) => a.data_mut(),
                None => {
                    z.clear();
                    z.resize(p.numel(), 0.0);
                    z.as_mut_slice()
                }
            })
            .collect();
        if settings.clip > 0.0 {
            clip_grad_norm(&mut g, settings.clip);
        }
        let g: Vec<&[f32]> = g.into_iter().map(|s| &*s).collect();
        let mut p: Vec<&mut [f32]> = params.iter_mut().map(|(_, a)| a.data_mut()).collect();
        optimizer.step(&mut p, &g);
        for a in grads.into_iter().flatten() {
            tape.recycle_array(a);
        }
        self.step += 1;
        self.losses.push(loss as f32);
        Ok(loss)
    }

    /// The mean loss on `batches` random batches of a part (nanoGPT's `estimate_loss`), in
    /// evaluation mode; the batches depend only on the seed and the steps done.
    pub fn estimate_loss(
        &mut self,
        corpus: &TextCorpus,
        split: Split,
        batches: usize,
    ) -> Result<f64, TrainError> {
        if batches == 0 {
            return Ok(f64::NAN);
        }
        let stream = if split == Split::Train {
            EVAL_TRAIN
        } else {
            EVAL_VAL
        };
        let s = &self.settings;
        let mut rng = Rng::new(stream_seed(s.seed, self.step, stream));
        let (batch, context) = (s.batch, s.context);
        let mut total = 0.0;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..batches {
            corpus.batch_into(split, batch, context, &mut rng, &mut x, &mut y);
            let t = x.len() / batch;
            total += self.mean_loss(&x, &y, t)?;
        }
        Ok(total / batches as f64)
    }

    /// The mean cross-entropy over the whole validation part: the part cut into windows of
    /// the context's length (the last one shorter), every position scored once.
    pub fn validation_loss(&mut self, corpus: &TextCorpus) -> Result<f64, TrainError> {
        // As many windows per forward pass as a training batch has, so that the tape's pool
        // serves this too.
        score_text(
            &self.model.gpt,
            &mut self.tape,
            &corpus.val,
            self.settings.batch,
        )
    }

    /// The mean loss of windows `x` of length `t` against `y`, without gradients.
    fn mean_loss(&mut self, x: &[usize], y: &[usize], t: usize) -> Result<f64, TrainError> {
        mean_loss(&mut self.model.gpt, &mut self.tape, x, y, t)
    }
}

/// The mean loss of `gpt` on windows `x` of length `t` against `y`, in evaluation mode and
/// without gradients, on `tape` (cleared first).
fn mean_loss(
    gpt: &mut GPT,
    tape: &mut Tape<f32>,
    x: &[usize],
    y: &[usize],
    t: usize,
) -> Result<f64, TrainError> {
    tape.clear();
    gpt.set_training(false);
    let ids = Array::from_vec(x.to_vec(), &[x.len() / t, t])?;
    let loss = tape.no_grad(|| gpt.loss(&ids, y, &mut Context::inference(tape)));
    gpt.set_training(true);
    Ok(f64::from(loss?.item()))
}

/// The mean cross-entropy of `gpt` over `tokens`, in windows of its block size (the last one
/// shorter), every position but the first predicted once; `windows` windows per forward pass.
pub(crate) fn score_text(
    gpt: &GPT,
    tape: &mut Tape<f32>,
    tokens: &[u32],
    windows: usize,
) -> Result<f64, TrainError> {
    let block = gpt.config.block_size;
    let n = tokens.len().saturating_sub(1);
    if n == 0 {
        return Err(TrainError::invalid("no tokens to score"));
    }
    let mut gpt = gpt.clone();
    let (full, rest) = (n / block, n % block);
    let (mut total, mut x, mut y) = (0.0, Vec::new(), Vec::new());
    let window = |start: usize, len: usize, x: &mut Vec<usize>, y: &mut Vec<usize>| {
        x.extend(tokens[start..start + len].iter().map(|&t| t as usize));
        y.extend(
            tokens[start + 1..start + 1 + len]
                .iter()
                .map(|&t| t as usize),
        );
    };
    let mut w = 0;
    while w < full {
        let count = windows.max(1).min(full - w);
        x.clear();
        y.clear();
        for k in w..w + count {
            window(k * block, block, &mut x, &mut y);
        }
        total += mean_loss(&mut gpt, tape, &x, &y, block)? * (count * block) as f64;
        w += count;
    }
    if rest > 0 {
        x.clear();
        y.clear();
        window(full * block, rest, &mut x, &mut y);
        total += mean_loss(&mut gpt, tape, &x, &y, rest)? * rest as f64;
    }
    Ok(total / n as f64)
}
