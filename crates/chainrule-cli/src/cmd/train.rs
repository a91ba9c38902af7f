//! `chainrule train`: trains a multi-layer perceptron on a dataset, with a progress bar, and
//! saves the model, checkpoints and training curves.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use chainrule::data::{self, CsvOptions, Dataset};
use chainrule::model_file::ModelFile;
use chainrule::nn::{Activation, MlpSpec, Module};
use chainrule::train::{
    prepare, EpochMetrics, LossKind, OptimizerKind, OptimizerSpec, Progress, TrainConfig,
    TrainError, Trainer,
};

use crate::error::CliError;
use chainrule::util::format::{json_number, to_spaced_json};

/// Arguments of `chainrule train`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// The data: digits, iris, moons, a CSV file (with --target) or an IDX image file (with
    /// --labels) [default: digits, or the checkpoint's with --resume].
    #[arg(long)]
    pub data: Option<String>,
    /// The CSV column to predict (a name, or a 0-based index).
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// The IDX label file that goes with an IDX image file given to --data.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Treat the CSV target as a number to predict (regression) rather than a class.
    #[arg(long)]
    pub regression: bool,
    /// Layer widths from inputs to outputs [default: 64-128-10 for digits, 4-16-3 for iris,
    /// 2-16-16-2 for moons, FEATURES-64-OUTPUTS otherwise].
    #[arg(long, value_name = "SPEC")]
    pub model: Option<String>,
    /// The activation between layers: relu, tanh, sigmoid or gelu [default: relu].
    #[arg(long)]
    pub activation: Option<String>,
    /// Dropout probability after each activation [default: 0].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// sgd, adam or adamw [default: adam].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate [default: 1e-3 for digits and other data, 0.01 for iris and moons; 0.1
    /// with sgd].
    #[arg(long)]
    pub lr: Option<f64>,
    /// SGD's momentum [default: 0].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Weight decay [default: 0, or 0.01 for adamw].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Passes over the training data [default: 30; 100 for iris, 200 for moons].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Samples per step [default: 64; 16 for iris, 32 for moons].
    #[arg(long)]
    pub batch: Option<usize>,
    /// The seed of the split, the initial weights, the shuffling and dropout (and of moons)
    /// [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// The share of the samples held out for testing [default: 0.2].
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// Do not standardise the features.
    #[arg(long)]
    pub no_standardize: bool,
    /// Print one JSON object at the end instead of text (and no progress bar).
    #[arg(long)]
    pub json: bool,
    /// Stop at the first NaN or infinity, naming the operation that produced it (exit 1).
    #[arg(long)]
    pub detect_anomaly: bool,
    /// Draw loss and accuracy per epoch into this .png or .svg file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Draw the gradient norm of each layer's weights per epoch (log scale) into this .png or
    /// .svg file, to see vanishing or exploding gradients.
    #[arg(long, value_name = "FILE")]
    pub grad_flow: Option<PathBuf>,
    /// Write a self-contained HTML page with the loss and accuracy curves, the gradient flow
    /// and the final metrics (.html).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Save the trained model (safetensors, loadable by PyTorch).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Save model, optimizer state and epoch to this file after every epoch.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Continue from a checkpoint. Settings not given are the checkpoint's (the data, the
    /// model, the optimizer, the epochs...); settings given must agree with it, except
    /// --epochs, which may extend the run.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
}

/// The number of two-moons samples, and their noise.
pub const MOONS: (usize, f64) = (200, 0.1);

/// Settings that depend on the data.
struct Defaults {
    hidden: Vec<usize>,
    lr: f64,
    epochs: usize,
    batch: usize,
}

fn defaults(name: &str) -> Defaults {
    match name {
        "iris" => Defaults {
            hidden: vec![16],
            lr: 0.01,
            epochs: 100,
            batch: 16,
        },
        "moons" => Defaults {
            hidden: vec![16, 16],
            lr: 0.01,
            epochs: 200,
            batch: 32,
        },
        "digits" => Defaults {
            hidden: vec![128],
            lr: 1e-3,
            epochs: 30,
            batch: 64,
        },
        _ => Defaults {
            hidden: vec![64],
            lr: 1e-3,
            epochs: 30,
            batch: 64,
        },
    }
}

/// A train error as bad input (exit 2).
pub fn input(e: TrainError) -> CliError {
    CliError::input(e.0)
}

/// Loads `--data` (a shipped name, a CSV file or an IDX image file).
pub fn load_data(
    name: &str,
    target: Option<&str>,
    labels: Option<&Path>,
    regression: bool,
    seed: u64,
) -> Result<Dataset, CliError> {
    let shipped = match name {
        "digits" => Some(data::digits()),
        "iris" => Some(data::iris()),
        "moons" => Some(data::moons(MOONS.0, MOONS.1, seed)),
        _ => None,
    };
    if let Some(d) = shipped {
        if target.is_some() || labels.is_some() {
            return Err(CliError::input(format!(
                "--target and --labels are for files; '{name}' is a shipped dataset"
            )));
        }
        return Ok(d);
    }
    let path = Path::new(name);
    if !path.exists() {
        return Err(CliError::input(format!(
            "--data: '{name}' is neither a shipped dataset (digits, iris, moons) nor a file"
        )));
    }
    let d = if let Some(labels) = labels {
        data::read_idx_pair(path, labels)
    } else {
        let Some(col) = target else {
            return Err(CliError::input(format!(
                "--data {name}: give the column to predict with --target COLUMN (or, for an \
                 IDX image file, the labels with --labels FILE)"
            )));
        };
        let col: data::TargetColumn = match col.parse::<usize>() {
            Ok(i) => i.into(),
            Err(_) => col.into(),
        };
        let opts = if regression {
            CsvOptions::regression(col)
        } else {
            CsvOptions::classes(col)
        };
        Dataset::from_csv(path, &opts)
    };
    d.map_err(|e| CliError::input(e.to_string()))
}

/// Fails early (before training) on an output path that cannot be written: a missing folder or
/// a directory in the way.
pub fn check_output(flag: &str, path: &Path) -> Result<(), CliError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(CliError::input(format!(
            "{flag}: cannot write {}: it is a directory",
            path.display()
        )));
    }
    if !parent.is_dir() {
        return Err(CliError::input(format!(
            "{flag}: cannot write {}: the folder {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    let meta = std::fs::metadata(parent)
        .map_err(|e| CliError::input(format!("{flag}: cannot write {}: {e}", path.display())))?;
    if meta.permissions().readonly() {
        return Err(CliError::input(format!(
            "{flag}: cannot write {}: the folder is read-only",
            path.display()
        )));
    }
    Ok(())
}

/// Metadata the command adds to its checkpoints, besides the trainer's own: what the data was
/// and how it was split, so that `--resume` can take them from the file.
const CKPT_DATA: &str = "checkpoint_data";
const CKPT_TEST_FRACTION: &str = "checkpoint_test_fraction";
const CKPT_STANDARDIZE: &str = "checkpoint_standardize";

/// A checkpoint given to `--resume`, with the settings it was made with.
struct Resumed {
    path: PathBuf,
    file: ModelFile,
    spec: MlpSpec,
    config: TrainConfig,
}

impl Resumed {
    fn load(path: &Path) -> Result<Resumed, CliError> {
        let file = ModelFile::load(path).map_err(|e| CliError::input(e.to_string()))?;
        let (spec, config) = Trainer::checkpoint_settings(&file, path).map_err(input)?;
        Ok(Resumed {
            path: path.to_path_buf(),
            file,
            spec,
            config,
        })
    }

    /// A setting the command recorded, parsed.
    fn recorded<V: std::str::FromStr>(&self, key: &str) -> Result<Option<V>, CliError> {
        self.file
            .metadata
            .get(key)
            .map(|v| {
                v.parse().map_err(|_| {
                    CliError::input(format!(
                        "{}: metadata '{key}': '{v}' is not valid",
                        self.path.display()
                    ))
                })
            })
            .transpose()
    }
}

/// The settings of a run: each one given on the command line, else the checkpoint's when
/// resuming, else the default.
struct Settings {
    data: String,
    activation: Activation,
    kind: OptimizerKind,
    dropout: f64,
    momentum: f64,
    seed: u64,
    test_fraction: f64,
    standardize: bool,
    /// The layer widths, when given or resumed (otherwise they follow the data).
    sizes: Option<Vec<usize>>,
    lr: Option<f64>,
    weight_decay: Option<f64>,
    epochs: Option<usize>,
    batch: Option<usize>,
}

/// `given` if any, else `recorded`, else `default`.
fn pick<V: PartialEq + std::fmt::Display>(
    flag: &str,
    given: Option<V>,
    recorded: Option<V>,
    default: impl FnOnce() -> V,
    resumed: Option<&Resumed>,
) -> Result<V, CliError> {
    Ok(pick_given(flag, given, recorded, resumed)?.unwrap_or_else(default))
}

/// `given` if any, else `recorded`; a value given that differs from the checkpoint's is
/// refused, since the run would not continue the one that was saved.
fn pick_given<V: PartialEq + std::fmt::Display>(
    flag: &str,
    given: Option<V>,
    recorded: Option<V>,
    resumed: Option<&Resumed>,
) -> Result<Option<V>, CliError> {
    match (given, recorded) {
        (Some(g), Some(r)) if g != r => Err(CliError::input(format!(
            "{flag} {g}, but the checkpoint {} was made with {flag} {r}: leave {flag} out to \
             continue with the checkpoint's, or start a new run without --resume",
            resumed.map_or(String::new(), |r| r.path.display().to_string())
        ))),
        (g, r) => Ok(g.or(r)),
    }
}

impl Settings {
    fn resolve(args: &TrainArgs, resumed: Option<&Resumed>) -> Result<Settings, CliError> {
        let activation = args
            .activation
            .as_deref()
            .map(str::parse::<Activation>)
            .transpose()
            .map_err(CliError::input)?;
        let kind = args
            .optimizer
            .as_deref()
            .map(str::parse::<OptimizerKind>)
            .transpose()
            .map_err(CliError::input)?;
        let sizes = args
            .model
            .as_deref()
            .map(|m| {
                m.parse::<MlpSpec>()
                    .map(|s| s.sizes)
                    .map_err(|e| CliError::input(format!("--model: {e}")))
            })
            .transpose()?;
        let spec = resumed.map(|r| &r.spec);
        let config = resumed.map(|r| &r.config);
        let opt = config.map(|c| &c.optimizer);
        let recorded_data: Option<String> = match resumed {
            Some(r) => r.recorded(CKPT_DATA)?,
            None => None,
        };
        let (recorded_fraction, recorded_standardize): (Option<f64>, Option<bool>) = match resumed {
            Some(r) => (
                r.recorded(CKPT_TEST_FRACTION)?,
                r.recorded(CKPT_STANDARDIZE)?,
            ),
            None => (None, None),
        };
        if let (true, Some(true), Some(r)) = (args.no_standardize, recorded_standardize, resumed) {
            return Err(CliError::input(format!(
                "--no-standardize, but the checkpoint {} was made with standardised features: \
                 leave --no-standardize out to continue with the checkpoint's, or start a new run \
                 without --resume",
                r.path.display()
            )));
        }
        let sizes_given = sizes.map(|s| MlpText(s.clone()));
        let sizes_recorded = spec.map(|s| MlpText(s.sizes.clone()));
        let settings = Settings {
            data: pick(
                "--data",
                args.data.clone(),
                recorded_data,
                || "digits".to_string(),
                resumed,
            )?,
            activation: pick(
                "--activation",
                activation,
                spec.map(|s| s.activation),
                || Activation::Relu,
                resumed,
            )?,
            kind: pick(
                "--optimizer",
                kind,
                opt.map(|o| o.kind),
                || OptimizerKind::Adam,
                resumed,
            )?,
            dropout: pick(
                "--dropout",
                args.dropout,
                spec.map(|s| s.dropout),
                || 0.0,
                resumed,
            )?,
            momentum: pick(
                "--momentum",
                args.momentum,
                opt.map(|o| o.momentum),
                || 0.0,
                resumed,
            )?,
            seed: pick("--seed", args.seed, config.map(|c| c.seed), || 0, resumed)?,
            test_fraction: pick(
                "--test-fraction",
                args.test_fraction,
                recorded_fraction,
                || 0.2,
                resumed,
            )?,
            standardize: !args.no_standardize && recorded_standardize.unwrap_or(true),
            sizes: pick_given("--model", sizes_given, sizes_recorded, resumed)?.map(|m| m.0),
            lr: pick_given("--lr", args.lr, opt.map(|o| o.lr), resumed)?,
            weight_decay: pick_given(
                "--weight-decay",
                args.weight_decay.map(|w| WeightDecay(Some(w))),
                opt.map(|o| WeightDecay(o.weight_decay)),
                resumed,
            )?
            .and_then(|w| w.0),
            // More epochs than planned extend a resumed run.
            epochs: args.epochs.or(config.map(|c| c.epochs)),
            batch: pick_given("--batch", args.batch, config.map(|c| c.batch_size), resumed)?,
        };
        if !(0.0..1.0).contains(&settings.dropout) {
            return Err(CliError::input(format!(
                "--dropout must be in [0, 1), not {}",
                settings.dropout
            )));
        }
        if !(0.0..1.0).contains(&settings.test_fraction) {
            return Err(CliError::input(format!(
                "--test-fraction must be in [0, 1), not {}",
                settings.test_fraction
            )));
        }
        Ok(settings)
    }
}

/// Layer widths compared and printed as `--model` spells them.
#[derive(PartialEq)]
struct MlpText(Vec<usize>);

impl std::fmt::Display for MlpText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(usize::to_string).collect();
        f.write_str(&parts.join("-"))
    }
}

/// A weight decay, where `None` is the optimizer's default.
#[derive(PartialEq)]
struct WeightDecay(Option<f64>);

impl std::fmt::Display for WeightDecay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(w) => write!(f, "{w}"),
            None => f.write_str("default"),
        }
    }
}

/// Runs `chainrule train`.
pub fn run(args: &TrainArgs) -> Result<ExitCode, CliError> {
    // Check everything that can be checked before spending time on training.
    let resumed = args.resume.as_deref().map(Resumed::load).transpose()?;
    let s = Settings::resolve(args, resumed.as_ref())?;
    let (activation, kind) = (s.activation, s.kind);
    if let Some(p) = &args.plot {
        crate::plotting::Format::from_path(p, "--plot").map_err(CliError::input)?;
        check_output("--plot", p)?;
    }
    if let Some(p) = &args.grad_flow {
        crate::plotting::Format::from_path(p, "--grad-flow").map_err(CliError::input)?;
        check_output("--grad-flow", p)?;
    }
    if let Some(p) = &args.report {
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        if !matches!(ext.as_deref(), Some("html" | "htm")) {
            return Err(CliError::input(format!(
                "--report: '{}' must end in .html",
                p.display()
            )));
        }
        check_output("--report", p)?;
    }
    if let Some(p) = &args.save {
        check_output("--save", p)?;
    }
    if let Some(p) = &args.checkpoint {
        check_output("--checkpoint", p)?;
    }
    let data = load_data(
        &s.data,
        args.target.as_deref(),
        args.labels.as_deref(),
        args.regression,
        s.seed,
    )?;
    let d = defaults(&s.data);
    let outputs = match data.n_classes() {
        0 => 1,
        k => k,
    };
    let sizes = s.sizes.clone().unwrap_or_else(|| {
        let mut sizes = vec![data.n_features];
        sizes.extend(&d.hidden);
        sizes.push(outputs);
        sizes
    });
    let mut spec = MlpSpec::new(sizes).map_err(|e| CliError::input(format!("--model: {e}")))?;
    spec.activation = activation;
    spec.dropout = s.dropout;
    if spec.inputs() != data.n_features {
        return Err(CliError::input(format!(
            "--model {spec} takes {} inputs but the data has {} features",
            spec.inputs(),
            data.n_features
        )));
    }
    let loss = LossKind::for_outputs(spec.outputs(), &data.targets)
        .map_err(|e| CliError::input(format!("--model {spec}: {e}")))?;
    let lr = s.lr.unwrap_or(match kind {
        OptimizerKind::Sgd => 0.1,
        _ => d.lr,
    });
    let config = TrainConfig {
        epochs: s.epochs.unwrap_or(d.epochs),
        batch_size: s.batch.unwrap_or(d.batch),
        seed: s.seed,
        optimizer: OptimizerSpec {
            kind,
            lr,
            momentum: s.momentum,
            weight_decay: s.weight_decay,
        },
    };
    if config.batch_size == 0 {
        return Err(CliError::input("--batch must be at least 1"));
    }
    config.optimizer.build().map_err(input)?;
    let prepared = prepare(&data, s.test_fraction, s.seed, s.standardize)
        .map_err(|e| CliError::input(format!("--data {}: {e}", s.data)))?;
    let mut trainer = Trainer::new(spec, loss, config).map_err(input)?;
    trainer.set_detect_anomaly(args.detect_anomaly);
    trainer.net.classes = data.class_names().to_vec();
    trainer.net.standardizer = prepared.standardizer.clone();
    if let Some(r) = &resumed {
        trainer.resume(&r.file, &r.path).map_err(input)?;
    }

    let test = (!prepared.test.is_empty()).then_some(&prepared.test);
    let batches = prepared.train.n_samples.div_ceil(config.batch_size) as u64;
    let remaining = config.epochs.saturating_sub(trainer.epoch()) as u64;
    let bar = progress_bar(args.json, batches * remaining);
    let epochs = config.epochs;
    let start = Instant::now();
    let mut on_progress = |p: Progress<'_>| match p {
        Progress::Batch {
            epoch, batch, loss, ..
        } => {
            bar.inc(1);
            if batch == 1 || batch % 8 == 0 {
                bar.set_message(format!("epoch {epoch}/{epochs}  loss {loss:.4}"));
            }
        }
        Progress::Epoch(m) => {
            bar.println(epoch_line(m, epochs));
        }
    };
    while trainer.epoch() < epochs {
        trainer
            .train_epoch(&prepared.train, test, &mut on_progress)
            .map_err(|e| {
                if args.detect_anomaly && e.0.contains("anomaly") {
                    CliError::failure(e.0)
                } else {
                    input(e)
                }
            })?;
        if let Some(path) = &args.checkpoint {
            let mut file = trainer.checkpoint();
            file.metadata.insert(CKPT_DATA.into(), s.data.clone());
            file.metadata
                .insert(CKPT_TEST_FRACTION.into(), s.test_fraction.to_string());
            file.metadata
                .insert(CKPT_STANDARDIZE.into(), s.standardize.to_string());
            file.save(path)
                .map_err(|e| CliError::input(e.to_string()))?;
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    if let Some(path) = &args.save {
        trainer
            .net
            .save(path)
            .map_err(|e| CliError::input(format!("--save: {e}")))?;
    }
    if let Some(path) = &args.plot {
        crate::cmd::curves::draw(
            path,
            trainer.history(),
            &format!("{} on {}", trainer.net.spec, s.data),
        )
        .map_err(|e| CliError::input(format!("--plot: cannot draw {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.grad_flow {
        let title = format!(
            "gradient flow: {} {} on {}",
            trainer.net.spec, trainer.net.spec.activation, s.data
        );
        crate::cmd::gradflow::FlowChart {
            title,
            panels: vec![("weight gradient norm per layer".into(), trainer.grad_flow())],
        }
        .write(path, "--grad-flow")
        .map_err(|e| {
            CliError::input(format!("--grad-flow: cannot draw {}: {e}", path.display()))
        })?;
    }
    if let Some(path) = &args.report {
        let html = crate::cmd::training_page::page(&trainer, &s.data, &prepared, seconds).map_err(
            |e| CliError::input(format!("--report: cannot draw {}: {e}", path.display())),
        )?;
        crate::output::write_atomically(path, html.as_bytes())?;
    }
    let last = trainer.history().last().copied();
    if args.json {
        let opt = |v: Option<f64>| v.map_or(serde_json::Value::Null, json_number);
        let v = serde_json::json!({
            "train_loss": opt(last.map(|m| m.train_loss)),
            "train_accuracy": opt(last.and_then(|m| m.train_accuracy)),
            "test_accuracy": opt(last.and_then(|m| m.test_accuracy)),
            "epochs": trainer.epoch(),
            "seconds": json_number(seconds),
        });
        println!("{}", to_spaced_json(&v));
    } else {
        let net = &trainer.net;
        println!(
            "{} {} ({} parameters), {} on {}: {} training and {} test samples",
            net.spec,
            net.spec.activation,
            net.model.num_parameters(),
            kind.name(),
            s.data,
            prepared.train.n_samples,
            prepared.test.n_samples
        );
        match last {
            None => println!("no epochs to train"),
            Some(m) => {
                println!(
                    "{} epochs in {seconds:.2} s; training loss {:.4}{}",
                    trainer.epoch(),
                    m.train_loss,
                    m.train_accuracy
                        .map_or(String::new(), |a| format!(", training accuracy {a:.4}"))
                );
                match (m.test_accuracy, m.test_loss) {
                    (Some(a), _) => println!(
                        "test accuracy: {a:.4} ({} of {})",
                        (a * prepared.test.n_samples as f64).round() as usize,
                        prepared.test.n_samples
                    ),
                    (None, Some(l)) => println!("test loss: {l:.4}"),
                    _ => {}
                }
            }
        }
        for (flag, path) in [
            ("model", &args.save),
            ("curves", &args.plot),
            ("gradient flow", &args.grad_flow),
            ("report", &args.report),
        ] {
            if let Some(p) = path {
                println!("{flag} saved to {}", p.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn epoch_line(m: &EpochMetrics, epochs: usize) -> String {
    let mut s = format!("epoch {:>3}/{epochs}  loss {:.4}", m.epoch, m.train_loss);
    if let Some(a) = m.train_accuracy {
        s += &format!("  acc {a:.4}");
    }
    if let Some(a) = m.test_accuracy {
        s += &format!("  test acc {a:.4}");
    } else if let Some(l) = m.test_loss {
        s += &format!("  test loss {l:.4}");
    }
    s
}

/// A progress bar on standard error, hidden when that is not a terminal or with --json.
fn progress_bar(json: bool, len: u64) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} steps  {msg}  [{elapsed}]")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}
