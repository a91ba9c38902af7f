//! `chainrule train --model gpt`: trains a character-level GPT on a text, as nanoGPT's
//! `train.py` on `shakespeare_char`, with a progress bar, evaluations, checkpoints, curves and
//! the attention of each head drawn as a heat map.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use chainrule::data::TextCorpus;
use chainrule::model_file::ModelFile;
use chainrule::nn::Module;
use chainrule::train::{LmProgress, LmSettings, LmTrainer};
use chainrule::util::format::{json_number, to_spaced_json};

use crate::cmd::train::{check_output, input, progress_bar, TrainArgs};
use crate::error::CliError;

/// The settings of `train --model gpt` beside those it shares with the other models (`--data`,
/// `--lr`, `--batch`, `--dropout`, `--weight-decay`, `--seed`, `--save`, `--checkpoint`,
/// `--resume`, `--plot`, `--json`).
#[derive(Args, Debug, Clone, Default)]
pub struct TextArgs {
    /// With --model gpt: optimizer steps (iterations) [default: 2000].
    #[arg(long)]
    pub steps: Option<usize>,
    /// With --model gpt: the context length in characters [default: 64].
    #[arg(long)]
    pub context: Option<usize>,
    /// With --model gpt: transformer blocks [default: 4].
    #[arg(long)]
    pub layers: Option<usize>,
    /// With --model gpt: attention heads per block [default: 4].
    #[arg(long)]
    pub heads: Option<usize>,
    /// With --model gpt: channels per position [default: 128].
    #[arg(long)]
    pub channels: Option<usize>,
    /// With --model gpt: biases in the projections and layer norms [default: none].
    #[arg(long)]
    pub bias: bool,
    /// With --model gpt: an output layer of its own instead of the token embedding's weight.
    #[arg(long)]
    pub untied: bool,
    /// With --model gpt: the learning rate the cosine decays to by the last step
    /// [default: 1e-4].
    #[arg(long)]
    pub min_lr: Option<f64>,
    /// With --model gpt: AdamW's second beta [default: 0.99].
    #[arg(long)]
    pub beta2: Option<f64>,
    /// With --model gpt: the largest global gradient norm, 0 for none [default: 1].
    #[arg(long)]
    pub clip: Option<f64>,
    /// With --model gpt: evaluate every this many steps, 0 for only at the end [default: 250].
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// With --model gpt: random batches of each part per evaluation [default: 20].
    #[arg(long)]
    pub eval_batches: Option<usize>,
    /// With --model gpt: draw the attention weights of every head for --attention-prompt
    /// into this .png or .svg file.
    #[arg(long, value_name = "FILE")]
    pub attention: Option<std::path::PathBuf>,
    /// The text whose attention --attention draws [default: the first characters of the
    /// validation part, as many as the context holds, at most 32].
    #[arg(long, value_name = "TEXT")]
    pub attention_prompt: Option<String>,
}

impl TextArgs {
    /// The first flag given that only a GPT takes, if any.
    pub fn first_given(&self) -> Option<&'static str> {
        [
            ("--steps", self.steps.is_some()),
            ("--context", self.context.is_some()),
            ("--layers", self.layers.is_some()),
            ("--heads", self.heads.is_some()),
            ("--channels", self.channels.is_some()),
            ("--bias", self.bias),
            ("--untied", self.untied),
            ("--min-lr", self.min_lr.is_some()),
            ("--beta2", self.beta2.is_some()),
            ("--clip", self.clip.is_some()),
            ("--eval-every", self.eval_every.is_some()),
            ("--eval-batches", self.eval_batches.is_some()),
            ("--attention", self.attention.is_some()),
            ("--attention-prompt", self.attention_prompt.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(flag, _)| flag)
    }
}

/// Whether `train` trains a GPT: `--model gpt`, text data (`shakespeare` or a `.txt` file)
/// without `--model`, or `--resume` with a GPT's checkpoint.
pub fn wanted(args: &TrainArgs, resumed: Option<&ModelFile>) -> bool {
    match args.model.as_deref() {
        Some(m) => m == "gpt",
        None => {
            resumed.is_some_and(LmTrainer::is_checkpoint)
                || args
                    .data
                    .as_deref()
                    .is_some_and(|d| d == "shakespeare" || d.ends_with(".txt"))
        }
    }
}

/// The flags of the other models, which a GPT does not take.
fn refuse_other_flags(args: &TrainArgs) -> Result<(), CliError> {
    let other = [
        ("--target", args.target.is_some()),
        ("--labels", args.labels.is_some()),
        ("--regression", args.regression),
        ("--activation", args.activation.is_some()),
        ("--momentum", args.momentum.is_some()),
        ("--nesterov", args.nesterov),
        ("--epochs", args.epochs.is_some()),
        ("--test-fraction", args.test_fraction.is_some()),
        ("--no-standardize", args.no_standardize),
        ("--grad-flow", args.grad_flow.is_some()),
        ("--report", args.report.is_some()),
        ("--detect-anomaly", args.detect_anomaly),
        ("--data-dir", args.data_dir.is_some()),
        ("--image", args.image.is_some()),
        ("--test-data", args.test_data.is_some()),
        ("--test-labels", args.test_labels.is_some()),
    ];
    if let Some((flag, _)) = other.iter().find(|(_, given)| *given) {
        let hint = if *flag == "--epochs" {
            " (use --steps)"
        } else {
            ""
        };
        return Err(CliError::input(format!(
            "{flag} is not a setting of --model gpt{hint}"
        )));
    }
    if let Some(k) = args.lr_schedule.as_deref().filter(|k| k.trim() != "cosine") {
        return Err(CliError::input(format!(
            "--model gpt decays the learning rate as nanoGPT (--warmup, then cosine to \
             --min-lr), not by --lr-schedule {k}"
        )));
    }
    if let Some(o) = args.optimizer.as_deref().filter(|o| *o != "adamw") {
        return Err(CliError::input(format!(
            "--model gpt trains with adamw, not {o}"
        )));
    }
    Ok(())
}

/// The settings given on the command line over `base` (the defaults, or a checkpoint's); with
/// a checkpoint, a setting given must agree with it.
fn settings(
    args: &TrainArgs,
    base: LmSettings,
    checkpoint: Option<&Path>,
) -> Result<LmSettings, CliError> {
    let t = &args.text;
    let mut s = base.clone();
    let set = |flag: &str, given: Option<String>, recorded: String| -> Result<(), CliError> {
        match (given, checkpoint) {
            (Some(g), Some(path)) if g != recorded => Err(CliError::input(format!(
                "{flag} {g}, but the checkpoint {} was made with {flag} {recorded}: leave {flag} \
                 out to continue with the checkpoint's, or start a new run without --resume",
                path.display()
            ))),
            _ => Ok(()),
        }
    };
    macro_rules! take {
        ($flag:literal, $given:expr, $field:expr) => {
            if let Some(v) = $given {
                set($flag, Some(v.to_string()), $field.to_string())?;
                $field = v;
            }
        };
    }
    take!("--steps", t.steps, s.steps);
    take!("--context", t.context, s.context);
    take!("--layers", t.layers, s.layers);
    take!("--heads", t.heads, s.heads);
    take!("--channels", t.channels, s.channels);
    take!("--warmup", args.warmup.map(|w| w as usize), s.warmup);
    take!("--min-lr", t.min_lr, s.min_lr);
    take!("--beta2", t.beta2, s.betas.1);
    take!("--clip", t.clip, s.clip);
    take!("--lr", args.lr, s.lr);
    take!("--batch", args.batch, s.batch);
    take!("--dropout", args.dropout, s.dropout);
    take!("--weight-decay", args.weight_decay, s.weight_decay);
    take!("--seed", args.seed, s.seed);
    take!("--bias", t.bias.then_some(true), s.bias);
    take!("--untied", t.untied.then_some(false), s.tie_weights);
    // How often and how much to evaluate does not change the weights: free on resume.
    if let Some(v) = t.eval_every {
        s.eval_every = v;
    }
    if let Some(v) = t.eval_batches {
        s.eval_batches = v;
    }
    s.check().map_err(input)?;
    Ok(s)
}

/// Runs `chainrule train --model gpt`; `resumed` is the checkpoint of `--resume`, read.
pub fn run(args: &TrainArgs, resumed: Option<ModelFile>) -> Result<ExitCode, CliError> {
    refuse_other_flags(args)?;
    let (base, recorded_data) = match (&resumed, &args.resume) {
        (Some(file), Some(path)) => {
            let (s, d) = LmTrainer::checkpoint_settings(file, path).map_err(input)?;
            (s, Some(d))
        }
        _ => (LmSettings::baby(), None),
    };
    let settings = settings(args, base, args.resume.as_deref())?;
    let data = match (&args.data, &recorded_data) {
        (Some(d), Some(r)) if d != r => {
            return Err(CliError::input(format!(
                "--data {d}, but the checkpoint was made with --data {r}: leave --data out to \
                 continue with the checkpoint's"
            )))
        }
        (Some(d), _) => d.clone(),
        (None, Some(r)) => r.clone(),
        (None, None) => "shakespeare".into(),
    };
    for (flag, path) in [
        ("--plot", &args.plot),
        ("--attention", &args.text.attention),
    ] {
        if let Some(p) = path {
            crate::plotting::Format::from_path(p, flag).map_err(CliError::input)?;
            check_output(flag, p)?;
        }
    }
    for (flag, path) in [("--save", &args.save), ("--checkpoint", &args.checkpoint)] {
        if let Some(p) = path {
            check_output(flag, p)?;
        }
    }
    let corpus = TextCorpus::open(&data).map_err(|e| CliError::input(e.to_string()))?;
    let prompt = attention_prompt(&args.text, &corpus, settings.context)?;
    let mut trainer = match (&resumed, &args.resume) {
        (Some(file), Some(path)) => {
            let mut t = LmTrainer::from_checkpoint(&corpus, file, path).map_err(input)?;
            t.settings.eval_every = settings.eval_every;
            t.settings.eval_batches = settings.eval_batches;
            t
        }
        _ => LmTrainer::new(&corpus, settings).map_err(input)?,
    };

    let steps = trainer.settings.steps;
    let bar = progress_bar(args.json, steps.saturating_sub(trainer.step()) as u64);
    let (mut tokens, mut busy) = (0usize, 0.0f64);
    let start = Instant::now();
    let mut on_progress = |p: LmProgress<'_>| match p {
        LmProgress::Step {
            step,
            loss,
            seconds,
            tokens: n,
            ..
        } => {
            tokens += n;
            busy += seconds;
            bar.inc(1);
            let rate = tokens as f64 / busy.max(1e-9);
            bar.set_message(format!("loss {loss:.4}  {rate:.0} tokens/s  (step {step})"));
        }
        LmProgress::Eval(e) => bar.println(format!(
            "step {:>5}/{steps}: train loss {:.4}, val loss {:.4}",
            e.step, e.train_loss, e.val_loss
        )),
    };
    while !trainer.finished() {
        let evaluated = trainer
            .advance(&corpus, &mut on_progress)
            .map_err(|e| CliError::failure(e.to_string()))?;
        if let (true, Some(path)) = (evaluated, &args.checkpoint) {
            trainer
                .checkpoint(&data)
                .save(path)
                .map_err(|e| CliError::input(e.to_string()))?;
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let val_loss = trainer
        .validation_loss(&corpus)
        .map_err(|e| CliError::failure(e.to_string()))?;

    if let Some(path) = &args.save {
        trainer
            .model
            .save(path)
            .map_err(|e| CliError::input(format!("--save: {e}")))?;
    }
    let title = format!(
        "GPT {} layers, {} heads, {} channels on {data}",
        trainer.settings.layers, trainer.settings.heads, trainer.settings.channels
    );
    if let Some(path) = &args.plot {
        crate::cmd::lm_plots::draw_curves(path, trainer.losses(), trainer.evals(), &title)
            .map_err(|e| CliError::input(format!("--plot: cannot draw {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.text.attention {
        let tokens = trainer
            .model
            .vocab
            .encode(&prompt)
            .map_err(|e| CliError::input(format!("--attention-prompt: {e}")))?;
        crate::cmd::lm_plots::draw_attention(path, &trainer.model.gpt, &tokens, &prompt).map_err(
            |e| CliError::input(format!("--attention: cannot draw {}: {e}", path.display())),
        )?;
    }
    let train_loss = trainer.evals().last().map_or(f64::NAN, |e| e.train_loss);
    let trained = trainer.losses().len();
    let tokens_per_second = tokens as f64 / busy.max(1e-9);
    if args.json {
        let v = serde_json::json!({
            "train_loss": json_number(train_loss),
            "val_loss": json_number(val_loss),
            "steps": trainer.step(),
            "seconds": json_number(seconds),
            "tokens_per_second": json_number(if tokens == 0 { 0.0 } else { tokens_per_second }),
            "parameters": trainer.model.gpt.num_parameters(),
            "evals": trainer
                .evals()
                .iter()
                .map(|e| serde_json::json!({
                    "step": e.step,
                    "train_loss": json_number(e.train_loss),
                    "val_loss": json_number(e.val_loss),
                }))
                .collect::<Vec<_>>(),
        });
        println!("{}", to_spaced_json(&v));
    } else {
        let s = &trainer.settings;
        println!(
            "GPT {} layers, {} heads, {} channels, context {} ({} parameters) on {data}: {} \
             training and {} validation characters, {} tokens",
            s.layers,
            s.heads,
            s.channels,
            s.context,
            trainer.model.gpt.num_parameters(),
            corpus.train.len(),
            corpus.val.len(),
            corpus.vocab.len()
        );
        println!(
            "{} steps in {seconds:.1} s ({tokens_per_second:.0} tokens/s); training loss \
             {train_loss:.4} (on {} batches)",
            trained, s.eval_batches
        );
        println!("validation loss: {val_loss:.4} (the whole validation part)");
        for (what, path) in [
            ("model", &args.save),
            ("checkpoint", &args.checkpoint),
            ("curves", &args.plot),
            ("attention", &args.text.attention),
        ] {
            if let Some(p) = path {
                println!("{what} saved to {}", p.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The text whose attention is drawn: the one given (within the context), else the start of
/// the validation part.
fn attention_prompt(
    args: &TextArgs,
    corpus: &TextCorpus,
    context: usize,
) -> Result<String, CliError> {
    match &args.attention_prompt {
        Some(p) => {
            let n = p.chars().count();
            if n == 0 || n > context {
                return Err(CliError::input(format!(
                    "--attention-prompt has {n} characters; it needs 1 to the context's {context}"
                )));
            }
            corpus
                .vocab
                .encode(p)
                .map_err(|e| CliError::input(format!("--attention-prompt: {e}")))?;
            Ok(p.clone())
        }
        None => {
            let n = context.min(32).min(corpus.val.len());
            let ids: Vec<usize> = corpus.val[..n].iter().map(|&t| t as usize).collect();
            Ok(corpus.vocab.decode(&ids))
        }
    }
}
