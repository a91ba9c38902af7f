//! `chainrule generate`: samples text from a language model saved by `train --model gpt`,
//! streaming each character as it is drawn.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use chainrule::nn::Sampling;
use chainrule::train::LmModel;
use chainrule::util::rand::Rng;

use crate::cmd::train::input;
use crate::error::CliError;
use chainrule::util::format::{json_number, to_spaced_json};

/// Arguments of `chainrule generate`.
#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// The model file written by `chainrule train --model gpt --save` (or a checkpoint).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// The text to continue [default: a newline]; it is printed first.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub prompt: Option<String>,
    /// How many characters to draw.
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub tokens: usize,
    /// Divides the logits: below 1 is more conservative, above 1 more adventurous.
    #[arg(long, default_value_t = 0.8, value_name = "T")]
    pub temperature: f64,
    /// Draw only among the K likeliest characters (0: all); the default is nanoGPT's.
    #[arg(long, default_value_t = 200, value_name = "K")]
    pub top_k: usize,
    /// The seed of the draws: the same seed gives the same text.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Print one JSON object at the end instead of streaming: {"prompt", "text" (the
    /// characters drawn), "next_logits" (the model's logits for the character after the
    /// prompt)}.
    #[arg(long)]
    pub json: bool,
}

/// Runs `chainrule generate`.
pub fn run(args: &GenerateArgs) -> Result<ExitCode, CliError> {
    let lm = LmModel::load(&args.model).map_err(input)?;
    let prompt = args.prompt.clone().unwrap_or_else(|| "\n".into());
    if prompt.is_empty() {
        return Err(CliError::input(
            "--prompt is empty: give at least one character (the default is a newline)",
        ));
    }
    let tokens = lm
        .vocab
        .encode(&prompt)
        .map_err(|e| CliError::input(format!("--prompt: {e}")))?;
    let block = lm.gpt.config.block_size;
    if tokens.len() > block {
        return Err(CliError::input(format!(
            "--prompt has {} characters, more than the model's context of {block}",
            tokens.len()
        )));
    }
    if !(args.temperature > 0.0 && args.temperature.is_finite()) {
        return Err(CliError::input(format!(
            "--temperature must be a number above 0, not {}",
            args.temperature
        )));
    }
    let sampling = Sampling {
        temperature: args.temperature,
        top_k: (args.top_k > 0).then_some(args.top_k),
    };
    if args.json {
        let next_logits = lm
            .gpt
            .next_logits(&tokens)
            .map_err(|e| CliError::input(e.to_string()))?;
        let drawn = lm
            .gpt
            .generate(
                &tokens,
                args.tokens,
                sampling,
                &mut Rng::new(args.seed),
                &mut |_| {},
            )
            .map_err(|e| CliError::input(e.to_string()))?;
        let v = serde_json::json!({
            "prompt": prompt,
            "text": lm.vocab.decode(&drawn),
            "next_logits": next_logits.iter().map(|&l| json_number(f64::from(l))).collect::<Vec<_>>(),
        });
        println!("{}", to_spaced_json(&v));
        return Ok(ExitCode::SUCCESS);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = None;
    let _ = write!(out, "{prompt}");
    let _ = out.flush();
    let mut on_token = |t: usize| {
        if failed.is_none() {
            let c = lm.vocab.decode(&[t]);
            if let Err(e) = write!(out, "{c}").and_then(|_| out.flush()) {
                failed = Some(e);
            }
        }
    };
    lm.gpt
        .generate(
            &tokens,
            args.tokens,
            sampling,
            &mut Rng::new(args.seed),
            &mut on_token,
        )
        .map_err(|e| CliError::input(e.to_string()))?;
    let _ = writeln!(out);
    Ok(ExitCode::SUCCESS)
}
