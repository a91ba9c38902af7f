//! `chainrule train`: trains a multi-layer perceptron or a convolutional network on a dataset,
//! with a progress bar, and saves the model, checkpoints and training curves.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use chainrule::data::{self, ImageShape, OpenOptions, Opened};
use chainrule::model_file::ModelFile;
use chainrule::nn::{Activation, ModelChoice, Module};
use chainrule::optim::{OptimizerKind, ScheduleKind};
use chainrule::train::{prepare_with, EpochMetrics, Progress, RunSettings, TrainError, Trainer};

use crate::error::CliError;
use chainrule::util::format::{json_number, to_spaced_json};

/// Arguments of `chainrule train`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// The data: digits, iris, moons, fashion-mnist (Debian's dataset-fashion-mnist: trains on
    /// its 60,000 images, tests on the official 10,000), a CSV file (with --target), an IDX
    /// image file, plain or gzipped (with --labels), or for --model gpt shakespeare or a UTF-8
    /// .txt file [default: digits, or the checkpoint's with --resume].
    #[arg(long)]
    pub data: Option<String>,
    /// The folder of fashion-mnist's four IDX files [default: /usr/share/datasets/fashion-mnist].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The shape of the images each row of a CSV file holds, CHANNELSxHEIGHTxWIDTH (e.g.
    /// 1x28x28), for convolutional networks (IDX files and the digits know theirs).
    #[arg(long, value_name = "CxHxW")]
    pub image: Option<String>,
    /// A test set to use instead of a random split: a CSV file with the same columns, or an
    /// IDX image file (with --test-labels) [default: fashion-mnist's own, else none].
    #[arg(long, value_name = "FILE")]
    pub test_data: Option<PathBuf>,
    /// The IDX label file that goes with an IDX image file given to --test-data.
    #[arg(long, value_name = "FILE")]
    pub test_labels: Option<PathBuf>,
    /// The CSV column to predict (a name, or a 0-based index).
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// The IDX label file that goes with an IDX image file given to --data.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Treat the CSV target as a number to predict (regression) rather than a class.
    #[arg(long)]
    pub regression: bool,
    /// The network: layer widths from inputs to outputs (a perceptron: 64-128-10), cnn (the
    /// default convolutional network for the data's images), or a convolutional network's
    /// layers from the input to the outputs, joined by dashes:
    ///   c32      3x3 convolution to 32 channels, padding 1 (the size is kept), then the
    ///            activation; options after the number: k5 (kernel 5x5), s2 (stride 2),
    ///            p0 (padding), d2 (dilation), g2 (groups), bn (batch normalisation before the
    ///            activation): c64k5s2bn
    ///   p2       2x2 max pooling (p3s2: 3x3 windows, stride 2); a2: average pooling
    ///   g        global average pooling (each channel to one number)
    ///   f128     fully connected layer of 128 (images are flattened first), then the
    ///            activation; f128bn with batch normalisation
    ///   d0.3     dropout with probability 0.3
    ///   10       the last part: the outputs (one per class)
    /// e.g. c32bn-p2-c64bn-p2-f128-d0.3-10; cnn is that on 28x28 images, c32bn-c64bn-p2-f128-d0.3-10
    /// on the 8x8 digits; gpt: a character-level transformer on text (the default for shakespeare
    /// and .txt files) [default: 64-128-10 for digits, 784-256-128-10 for fashion-mnist, 4-16-3
    /// for iris, 2-16-16-2 for moons, FEATURES-64-OUTPUTS otherwise].
    #[arg(long, value_name = "SPEC", verbatim_doc_comment)]
    pub model: Option<String>,
    /// The activation between layers: relu, tanh, sigmoid, gelu, silu, elu, leaky_relu or
    /// softplus (with PyTorch's default parameters) [default: relu].
    #[arg(long)]
    pub activation: Option<String>,
    /// Dropout probability after each hidden fully connected layer [default: 0; 0.3 in cnn].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// sgd, momentum (SGD with momentum 0.9), nesterov (Nesterov momentum 0.9), adam or adamw
    /// [default: adam].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate [default: 1e-3 for digits and other data, 0.01 for iris and moons; 2e-3
    /// for convolutional networks on fashion-mnist and digits; 0.1 with sgd].
    #[arg(long)]
    pub lr: Option<f64>,
    /// How the learning rate changes over the run: none, cosine (annealed to 0 step by step)
    /// or step (divided by 10 after each third of the epochs) [default: none; cosine for
    /// convolutional networks].
    #[arg(long, value_name = "SCHEDULE")]
    pub lr_schedule: Option<String>,
    /// Steps of linear warm-up of the learning rate, from nearly 0 to --lr, before the schedule
    /// [default: 0; 100 for convolutional networks, 50 on digits; 100 for gpt, before its cosine
    /// decay to --min-lr].
    #[arg(long, value_name = "STEPS")]
    pub warmup: Option<u64>,
    /// SGD's momentum [default: 0; 0.9 for momentum and nesterov].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Nesterov momentum for sgd (needs --momentum above 0, as in PyTorch).
    #[arg(long)]
    pub nesterov: bool,
    /// Weight decay [default: 0, or 0.01 for adamw].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Passes over the training data [default: 30; 100 for iris, 200 for moons, 10 for
    /// fashion-mnist].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Samples per step [default: 64; 16 for iris, 32 for moons; 128 for convolutional networks
    /// on fashion-mnist, 32 on digits].
    #[arg(long)]
    pub batch: Option<usize>,
    /// The seed of the split, the initial weights, the shuffling and dropout (and of moons)
    /// [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// The share of the samples held out for testing, without a fixed test set [default: 0.2].
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
    /// The settings of --model gpt.
    #[command(flatten)]
    pub text: Box<crate::cmd::train_text::TextArgs>,
}

/// A train error as bad input (exit 2).
pub fn input(e: TrainError) -> CliError {
    CliError::input(e.to_string())
}

/// Where `--data` and its companions say the data is.
#[derive(Clone, Debug, Default)]
pub struct DataArgs<'a> {
    /// `--data`.
    pub name: &'a str,
    /// `--target`.
    pub target: Option<&'a str>,
    /// `--labels`.
    pub labels: Option<&'a Path>,
    /// Whether the target is a number to predict.
    pub regression: bool,
    /// The seed of moons.
    pub seed: u64,
    /// `--data-dir`.
    pub data_dir: Option<&'a Path>,
    /// `--image`.
    pub image: Option<&'a str>,
    /// `--test-data` and `--test-labels`.
    pub test: (Option<&'a Path>, Option<&'a Path>),
}

/// Loads `--data` (a known name, a CSV file or an IDX image file) and its fixed test set, if
/// any.
pub fn load_data(args: &DataArgs<'_>) -> Result<Opened, CliError> {
    let image = args
        .image
        .map(str::parse::<ImageShape>)
        .transpose()
        .map_err(|e| CliError::input(e.to_string()))?;
    let options = OpenOptions {
        target: args.target.map(str::to_string),
        labels: args.labels.map(Path::to_path_buf),
        regression: args.regression,
        seed: args.seed,
        data_dir: args.data_dir.map(Path::to_path_buf),
        image,
        test_data: args.test.0.map(Path::to_path_buf),
        test_labels: args.test.1.map(Path::to_path_buf),
    };
    data::open_parts(args.name, &options).map_err(|e| CliError::input(e.to_string()))
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

/// The settings given on the command line, read into the library's form.
fn given(args: &TrainArgs) -> Result<RunSettings, CliError> {
    let activation = parsed::<Activation>(args.activation.as_deref())?;
    let optimizer = parsed::<OptimizerKind>(args.optimizer.as_deref())?;
    let lr_schedule = parsed::<ScheduleKind>(args.lr_schedule.as_deref())?;
    let model = args
        .model
        .as_deref()
        .map(|m| {
            m.parse::<ModelChoice>()
                .map_err(|e| CliError::input(format!("--model: {e}")))
        })
        .transpose()?;
    Ok(RunSettings {
        lr_schedule,
        warmup: args.warmup,
        test_data: args.test_data.as_ref().map(|p| p.display().to_string()),
        data: args.data.clone(),
        model,
        activation,
        dropout: args.dropout,
        optimizer,
        lr: args.lr,
        momentum: args.momentum,
        nesterov: args.nesterov.then_some(true),
        weight_decay: args.weight_decay,
        epochs: args.epochs,
        batch: args.batch,
        seed: args.seed,
        test_fraction: args.test_fraction,
        standardize: args.no_standardize.then_some(false),
    })
}

/// A name given to a flag, read (an error as the type words it).
fn parsed<V: std::str::FromStr>(name: Option<&str>) -> Result<Option<V>, CliError>
where
    V::Err: std::fmt::Display,
{
    name.map(str::parse::<V>)
        .transpose()
        .map_err(|e| CliError::input(e.to_string()))
}

/// A checkpoint given to `--resume`, with the settings it was made with.
fn checkpoint_settings(file: ModelFile, path: &Path) -> Result<(ModelFile, RunSettings), CliError> {
    let settings = RunSettings::from_checkpoint(&file, path).map_err(input)?;
    Ok((file, settings))
}

/// Runs `chainrule train`.
pub fn run(args: &TrainArgs) -> Result<ExitCode, CliError> {
    let file = args
        .resume
        .as_deref()
        .map(|p| ModelFile::load(p).map_err(|e| CliError::input(e.to_string())))
        .transpose()?;
    if crate::cmd::train_text::wanted(args, file.as_ref()) {
        return crate::cmd::train_text::run(args, file);
    }
    if let Some(flag) = args.text.first_given() {
        return Err(CliError::input(format!(
            "{flag} is a setting of --model gpt, not of an MLP"
        )));
    }
    // Check everything that can be checked before spending time on training.
    let resumed = match (file, &args.resume) {
        (Some(f), Some(p)) => Some(checkpoint_settings(f, p)?),
        _ => None,
    };
    let mut settings = given(args)?;
    if let (Some((_, recorded)), Some(path)) = (&resumed, &args.resume) {
        settings = settings.resume_from(recorded, path).map_err(input)?;
    }
    settings.check().map_err(input)?;
    if let Some(p) = &args.plot {
        crate::plotting::Format::from_path(p, "--plot").map_err(CliError::input)?;
        check_output("--plot", p)?;
    }
    if let Some(p) = &args.grad_flow {
        crate::plotting::Format::from_path(p, "--grad-flow").map_err(CliError::input)?;
        check_output("--grad-flow", p)?;
    }
    if let Some(p) = &args.report {
        let ext = crate::output::extension(p);
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
    let test_data = settings.test_data.as_deref().map(Path::new);
    let opened = load_data(&DataArgs {
        name: settings.data_name(),
        target: args.target.as_deref(),
        labels: args.labels.as_deref(),
        regression: args.regression,
        seed: settings.seed(),
        data_dir: args.data_dir.as_deref(),
        image: args.image.as_deref(),
        test: (test_data, args.test_labels.as_deref()),
    })?;
    if let (Some(_), Some(f)) = (&opened.test, args.test_fraction) {
        return Err(CliError::input(format!(
            "--test-fraction {f}: the test set is fixed ({}): leave --test-fraction out",
            match test_data {
                Some(t) => format!("--test-data {}", t.display()),
                None => format!("the official test set of {}", settings.data_name()),
            }
        )));
    }
    let data = &opened.data;
    let plan = settings.plan(data).map_err(input)?;
    let config = plan.config;
    let prepared = prepare_with(
        data,
        opened.test.as_ref(),
        plan.test_fraction,
        config.seed,
        plan.scaling(),
    )
    .map_err(|e| CliError::input(format!("--data {}: {e}", plan.data)))?;
    let mut trainer = Trainer::new(plan.spec.clone(), plan.loss, config).map_err(input)?;
    trainer.set_schedule(plan.schedule);
    trainer.set_detect_anomaly(args.detect_anomaly);
    trainer.net.classes = data.class_names().to_vec();
    trainer.net.standardizer = prepared.standardizer.clone();
    if let (Some((file, _)), Some(path)) = (&resumed, &args.resume) {
        trainer.resume(file, path).map_err(input)?;
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
            .map_err(|e| match e {
                // A run that blew up is a failure of the run, not bad input.
                TrainError::Anomaly(_) => CliError::failure(e.to_string()),
                e => input(e),
            })?;
        if let Some(path) = &args.checkpoint {
            let mut file = trainer.checkpoint();
            plan.record(&mut file);
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
            &format!("{} on {}", trainer.net.spec, plan.data),
        )
        .map_err(|e| CliError::input(format!("--plot: cannot draw {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.grad_flow {
        let title = format!(
            "gradient flow: {} {} on {}",
            trainer.net.spec,
            trainer.net.spec.activation(),
            plan.data
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
        let html = crate::cmd::training_page::page(&trainer, &plan.data, &prepared, seconds)
            .map_err(|e| {
                CliError::input(format!("--report: cannot draw {}: {e}", path.display()))
            })?;
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
        let images = net
            .spec
            .image()
            .map_or(String::new(), |i| format!(" of {i} images"));
        println!(
            "{} {} ({} parameters), {} on {}{images}: {} training and {} test samples",
            net.spec,
            net.spec.activation(),
            net.model.num_parameters(),
            config.optimizer.kind.name(),
            plan.data,
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
pub fn progress_bar(json: bool, len: u64) -> ProgressBar {
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
