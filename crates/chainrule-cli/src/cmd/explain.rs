//! `chainrule explain`: the chain rule in words, read off the graph; with `--tensor`, one
//! training step of a small network in matrix form, read off the tensor tape.

use std::process::ExitCode;

use clap::Args;

use chainrule::data::{Dataset, Standardizer};
use chainrule::nn::{ModelChoice, ModelSpec};
use chainrule::show::explain::Trace;
use chainrule::show::network::{fmt_shape, NetworkTrace};
use chainrule::tensor::Array;
use chainrule::util::format::{json_number, to_spaced_json};
use chainrule::Graph;

use crate::cli::{ExplainArgs, ExprArgs};
use crate::cmd::train::{load_data, DataArgs};
use crate::error::CliError;
use crate::input::read_point;

/// The most samples `explain --tensor` takes: the explanation is about shapes, not statistics.
pub const MAX_BATCH: usize = 256;

/// The most parameters of a network `explain --tensor` builds.
pub const MAX_PARAMETERS: usize = 16 << 20;

/// The settings of `chainrule explain --tensor`.
#[derive(Args, Debug, Clone)]
pub struct TensorArgs {
    /// With --tensor: the network, as `chainrule train --model` takes it (layer widths such as
    /// 64-32-10, a convolutional stack such as c8bn-p2-f32-10, or cnn) [default: c4-p2-CLASSES on
    /// images (a 3x3 convolution to 4 channels, ReLU, 2x2 max pooling, a linear layer),
    /// FEATURES-16-CLASSES otherwise].
    #[arg(long, value_name = "SPEC", requires = "tensor")]
    pub model: Option<String>,
    /// With --tensor: the number of samples in the batch (the first ones of the data)
    /// [default: 3].
    #[arg(long, value_name = "N", requires = "tensor")]
    pub batch: Option<usize>,
    /// With --tensor: the data the samples come from: digits, iris, moons or fashion-mnist
    /// [default: digits].
    #[arg(long, value_name = "NAME", requires = "tensor")]
    pub data: Option<String>,
    /// With --tensor: the seed of the initial weights (and of dropout) [default: 0].
    #[arg(long, requires = "tensor")]
    pub seed: Option<u64>,
    /// With --tensor: print one JSON object (the layers, the forward steps with their shapes,
    /// the backward steps with their lines) instead of text.
    #[arg(long, requires = "tensor")]
    pub json: bool,
}

/// The settings of `--tensor` with their defaults.
struct Settings<'a> {
    model: Option<&'a str>,
    batch: usize,
    data: &'a str,
    seed: u64,
    json: bool,
}

/// Runs `chainrule explain`.
pub fn run(args: &ExplainArgs) -> Result<ExitCode, CliError> {
    let n = &args.network;
    if args.tensor {
        return run_tensor(&Settings {
            model: n.model.as_deref(),
            batch: n.batch.unwrap_or(3),
            data: n.data.as_deref().unwrap_or("digits"),
            seed: n.seed.unwrap_or(0),
            json: n.json,
        });
    }
    let given = [
        ("--model", n.model.is_some()),
        ("--batch", n.batch.is_some()),
        ("--data", n.data.is_some()),
        ("--seed", n.seed.is_some()),
        ("--json", n.json),
    ];
    if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
        return Err(CliError::input(format!(
            "{flag} is a setting of explain --tensor; an expression takes only --at"
        )));
    }
    let expr = ExprArgs {
        expr: args.expr.clone().unwrap_or_default(),
        at: args.at.clone(),
    };
    let p = read_point(&expr)?;
    let g = Graph::new();
    let built = p.expr.build_with(&g, &p.values);
    let trace = Trace::new(&g, built.output);
    println!("f = {}", p.expr);
    println!();
    print!("{trace}");
    if let Some(origin) = trace.non_finite_origin(&g) {
        eprintln!("warning: {origin}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The network `--model` names for `data` (or the default one).
fn network_for(args: &Settings<'_>, data: &Dataset, classes: usize) -> Result<ModelSpec, CliError> {
    let text = match args.model {
        Some(m) => m.to_string(),
        None if data.image.is_some() => format!("c4-p2-{classes}"),
        None => format!("{}-16-{classes}", data.n_features),
    };
    let choice: ModelChoice = text
        .parse()
        .map_err(|e| CliError::input(format!("--model: {e}")))?;
    let spec = choice
        .resolve(data.n_features, data.image, classes, None, None)
        .map_err(|e| CliError::input(format!("--model {choice}: {e}")))?;
    if spec.inputs() != data.n_features {
        return Err(CliError::input(format!(
            "--model {spec} takes {} inputs but --data {} has {} features",
            spec.inputs(),
            args.data,
            data.n_features
        )));
    }
    if spec.outputs() != classes {
        return Err(CliError::input(format!(
            "--model {spec} has {} outputs but --data {} has {classes} classes: the last width \
             must be {classes}",
            spec.outputs(),
            args.data
        )));
    }
    Ok(spec)
}

/// `chainrule explain --tensor`.
fn run_tensor(args: &Settings<'_>) -> Result<ExitCode, CliError> {
    if args.batch == 0 || args.batch > MAX_BATCH {
        return Err(CliError::input(format!(
            "--batch {}: give 1 to {MAX_BATCH} samples",
            args.batch
        )));
    }
    let opened = load_data(&DataArgs {
        name: args.data,
        seed: args.seed,
        ..DataArgs::default()
    })?;
    let data = opened.data;
    let Some(labels) = data.labels() else {
        return Err(CliError::input(format!(
            "--data {}: the explanation takes a cross-entropy loss, which needs classes",
            args.data
        )));
    };
    let classes = data.n_classes();
    if args.batch > data.n_samples {
        return Err(CliError::input(format!(
            "--batch {}: --data {} has {} samples",
            args.batch, args.data, data.n_samples
        )));
    }
    let spec = network_for(args, &data, classes)?;
    let params = match &spec {
        ModelSpec::Conv(s) => s.num_parameters(),
        ModelSpec::Mlp(s) => s.sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum(),
    };
    if params > MAX_PARAMETERS {
        return Err(CliError::input(format!(
            "--model {spec} has {params} parameters; explain --tensor builds networks of up to \
             {MAX_PARAMETERS}"
        )));
    }
    // Standardised as training does it: each channel of images, each feature otherwise.
    let scaler = match spec.image() {
        Some(image) => Standardizer::fit_channels(&data.features, image),
        None => Standardizer::fit(&data),
    };
    let nf = data.n_features;
    let mut x = data.features[..args.batch * nf].to_vec();
    scaler.transform_features(&mut x);
    let mut shape = vec![args.batch];
    shape.extend(spec.input_dims());
    let x = Array::from_vec(x, &shape).map_err(|e| CliError::input(e.to_string()))?;
    let batch_labels = &labels[..args.batch];
    let net = spec.build(args.seed);
    let trace = NetworkTrace::new(&net, x, batch_labels, args.seed)
        .map_err(|e| CliError::input(format!("--model {spec}: {e}")))?;
    if args.json {
        println!(
            "{}",
            to_spaced_json(&json(args, &spec, batch_labels, &trace))
        );
    } else {
        print!("{}", text(args, &spec, &data, batch_labels, &trace));
    }
    Ok(ExitCode::SUCCESS)
}

/// The explanation as text: the setting, the layers and their tensors, then the trace.
fn text(
    args: &Settings<'_>,
    spec: &ModelSpec,
    data: &Dataset,
    labels: &[usize],
    trace: &NetworkTrace,
) -> String {
    let mut s = String::new();
    let images = spec
        .image()
        .map_or(String::new(), |i| format!(", {i} images"));
    let names: Vec<String> = labels
        .iter()
        .map(|&l| {
            data.class_names()
                .get(l)
                .cloned()
                .unwrap_or_else(|| l.to_string())
        })
        .collect();
    s += &format!(
        "One training step of the network {spec} ({}) on the first {} samples of {}{images}\n\
         (classes {}), with the mean cross-entropy loss L = {}.\n\n",
        spec.activation(),
        args.batch,
        args.data,
        names.join(", "),
        chainrule::util::format::fmt_num(trace.loss)
    );
    s += "Layers, as PyTorch prints them, and the tensors they make:\n";
    let lhs: Vec<String> = trace
        .layers
        .iter()
        .map(|l| format!("{} {}", l.output, fmt_shape(&l.shape)))
        .collect();
    let width = lhs.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    for (l, left) in trace.layers.iter().zip(&lhs) {
        let pad = width - left.chars().count();
        s += &format!("  {left}{}   {}\n", " ".repeat(pad), l.layer);
        let params: Vec<String> = l
            .parameters
            .iter()
            .map(|(name, module, shape)| format!("{name} = {module} {}", fmt_shape(shape)))
            .collect();
        if !params.is_empty() {
            s += &format!("  {}   {}\n", " ".repeat(width), params.join(", "));
        }
    }
    if let Some(last) = trace.layers.last() {
        s += &format!(
            "  L = cross_entropy({}, classes) = −(1/{}) Σₙ log_softmax({})[n, classₙ]   scalar\n",
            last.output, args.batch, last.output
        );
    }
    s += "\n";
    s += &trace.trace.to_string();
    s
}

/// The explanation as JSON.
fn json(
    args: &Settings<'_>,
    spec: &ModelSpec,
    labels: &[usize],
    trace: &NetworkTrace,
) -> serde_json::Value {
    let t = &trace.trace;
    let layers: Vec<serde_json::Value> = trace
        .layers
        .iter()
        .map(|l| {
            let params: Vec<serde_json::Value> = l
                .parameters
                .iter()
                .map(|(name, module, shape)| {
                    serde_json::json!({"name": name, "module_name": module, "shape": shape})
                })
                .collect();
            serde_json::json!({
                "layer": l.layer,
                "output": l.output,
                "shape": l.shape,
                "parameters": params,
            })
        })
        .collect();
    let forward: Vec<serde_json::Value> = t
        .forward
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": t.names[s.node],
                "definition": s.definition,
                "shape": s.shape,
            })
        })
        .collect();
    let backward: Vec<serde_json::Value> = t
        .backward
        .iter()
        .map(|g| {
            serde_json::json!({
                "name": t.names[g.node],
                "terms": g.terms,
                "norm": g.norm.map_or(serde_json::Value::Null, json_number),
            })
        })
        .collect();
    serde_json::json!({
        "model": spec.to_string(),
        "data": args.data,
        "batch": args.batch,
        "labels": labels,
        "loss": json_number(trace.loss),
        "layers": layers,
        "forward": forward,
        "backward": backward,
    })
}
