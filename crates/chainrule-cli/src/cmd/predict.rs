//! `chainrule predict`: applies a saved model to data and prints its predictions, with the
//! accuracy when the data has labels.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use chainrule::data::{ImageShape, Targets};
use chainrule::train::{Network, Prediction};

use crate::cmd::train::{input, load_data, DataArgs};
use crate::error::CliError;
use chainrule::util::format::{json_number, to_spaced_json};

/// Arguments of `chainrule predict`.
#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// The model file written by `chainrule train --save`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// The data: digits, iris, moons, fashion-mnist (its official 10,000 test images), a CSV
    /// file (with --target) or an IDX image file, plain or gzipped (with --labels).
    #[arg(long)]
    pub data: String,
    /// The folder of fashion-mnist's four IDX files [default: /usr/share/datasets/fashion-mnist].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The CSV column holding the labels (a name, or a 0-based index).
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// The IDX label file that goes with an IDX image file given to --data.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// The seed of moons.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print {"predictions": [...], "accuracy": A} instead of one prediction per line.
    #[arg(long)]
    pub json: bool,
    /// With --json, add the network's raw outputs (logits) per sample as "outputs".
    #[arg(long, requires = "json")]
    pub outputs: bool,
}

/// Runs `chainrule predict`.
pub fn run(args: &PredictArgs) -> Result<ExitCode, CliError> {
    let net = Network::load(&args.model).map_err(input)?;
    let regression = !net.loss.is_classification();
    let opened = load_data(&DataArgs {
        name: &args.data,
        target: args.target.as_deref(),
        labels: args.labels.as_deref(),
        regression,
        seed: args.seed,
        data_dir: args.data_dir.as_deref(),
        ..Default::default()
    })?;
    // Data with a test set of its own is predicted on that.
    let data = opened.test.unwrap_or(opened.data);
    // A perceptron's file says its features; a convolutional network's, its images too.
    let conv = net.spec.image().is_some();
    let shape = |image: Option<ImageShape>, n: usize| match image {
        Some(i) if conv => format!("{i} images ({n} features)"),
        _ if conv => format!("rows of {n} features"),
        _ => n.to_string(),
    };
    let fits = data.n_features == net.spec.inputs()
        && match (net.spec.image(), data.image) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        };
    if !fits {
        return Err(CliError::input(format!(
            "{}: the model ({}) takes {}{} but --data {} has {}",
            args.model.display(),
            net.spec,
            shape(net.spec.image(), net.spec.inputs()),
            if conv { "" } else { " features" },
            args.data,
            shape(data.image, data.n_features)
        )));
    }
    let preds = net.predict(&data).map_err(input)?;
    let shown: Vec<String> = preds
        .iter()
        .map(|p| match p {
            Prediction::Class(k) => net
                .classes
                .get(*k)
                .cloned()
                .unwrap_or_else(|| k.to_string()),
            Prediction::Value(v) => v.to_string(),
        })
        .collect();
    // Compare by class name: the data may number its classes differently.
    let correct = match &data.targets {
        Targets::Classes { labels, names, .. } => Some(
            shown
                .iter()
                .zip(labels)
                .filter(|(p, &l)| **p == names[l])
                .count(),
        ),
        Targets::Values(_) => None,
    };
    let accuracy = correct.map(|c| c as f64 / data.n_samples.max(1) as f64);
    if args.json {
        let mut v = serde_json::json!({
            "predictions": preds.iter().zip(&shown).map(|(p, s)| match p {
                Prediction::Class(_) => serde_json::Value::String(s.clone()),
                Prediction::Value(v) => json_number(*v as f64),
            }).collect::<Vec<_>>(),
            "accuracy": accuracy.map_or(serde_json::Value::Null, json_number),
        });
        if args.outputs {
            let mut x = data.features.clone();
            if let Some(s) = &net.standardizer {
                s.transform_features(&mut x);
            }
            let out = net.outputs(&x, data.n_features).map_err(input)?;
            let rows: Vec<serde_json::Value> = out
                .chunks_exact(net.spec.outputs())
                .map(|r| r.iter().map(|&v| json_number(v as f64)).collect())
                .collect();
            v["outputs"] = serde_json::Value::Array(rows);
        }
        println!("{}", to_spaced_json(&v));
    } else {
        let mut out = shown.join("\n");
        out.push('\n');
        if let (Some(a), Some(c)) = (accuracy, correct) {
            out += &format!("accuracy: {a:.4} ({c} of {})\n", data.n_samples);
        }
        print!("{out}");
    }
    Ok(ExitCode::SUCCESS)
}
