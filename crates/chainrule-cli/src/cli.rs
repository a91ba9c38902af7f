//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exact gradients of any expression by reverse-mode automatic differentiation, with the chain
/// rule shown at work.
#[derive(Parser, Debug)]
#[command(name = "chainrule", version, about, long_about = None)]
#[command(after_help = "Example:\n  chainrule grad \"3*x^2 + 1\" --at x=2")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the value of an expression and its partial derivatives.
    #[command(
        after_help = "Example:\n  chainrule grad \"x*y + sin(x)\" --at x=2,y=3\n  chainrule grad \"(w*x - y)^2\" --at w=1,x=2,y=5 --json"
    )]
    Grad(GradArgs),
    /// Write the chain rule out in words: the forward pass and the backward pass, with numbers;
    /// with --tensor, one training step of a small network in matrix form, with the shapes.
    #[command(
        after_help = "With --tensor, every line is read off the tape of one real training step: each tensor's\noperation and shape, then each gradient as a vector-Jacobian product with the shapes that\nmake it fit, e.g. dL/dW2 = dL/dz2ᵀ · f   [10×64] = [10×3]·[3×64].\n\nExamples:\n  chainrule explain \"3*x^2 + 1\" --at x=2\n  chainrule explain --tensor\n  chainrule explain --tensor --model c8bn-p2-f32-10 --batch 2\n  chainrule explain --tensor --model 64-32-10 --json"
    )]
    Explain(ExplainArgs),
    /// Draw the computational graph with values, gradients and local derivatives (.svg or .dot).
    #[command(
        after_help = "Example:\n  chainrule graph \"(w*x - y)^2\" --at w=1,x=2,y=5 -o loss.svg"
    )]
    Graph(GraphArgs),
    /// Write an interactive HTML page: step through both passes, click a node for its paths.
    #[command(
        after_help = "Example:\n  chainrule report \"(w*x - y)^2\" --at w=1,x=2,y=5 -o loss.html"
    )]
    Report(ReportArgs),
    /// Draw a function of one variable and its derivative over a range (.png or .svg).
    #[command(
        after_help = "The derivative at every sample comes from a backward pass, not from differences.\n\nExample:\n  chainrule plot \"sin(x)*x\" --var x --from -3 --to 3 --tangent 1.5 -o plot.png"
    )]
    Plot(PlotArgs),
    /// Compare the gradient with central finite differences; exit 1 if they disagree.
    #[command(after_help = "Example:\n  chainrule check \"sigmoid(w*x + b)\" --at w=0.5,x=2,b=-1")]
    Check(CheckArgs),
    /// Walk through the chain rule for machine learning with real computations.
    #[command(
        after_help = "Examples:\n  chainrule demo\n  chainrule demo efficiency --max-n 10000\n  chainrule demo deep --plot deep.png"
    )]
    Demo(DemoArgs),
    /// Time the standard workloads (release builds only give meaningful numbers).
    #[command(after_help = "Example:\n  chainrule bench scalar-chain-1m --json")]
    Bench(BenchArgs),
    /// Print the value, the gradient and the Hessian matrix of an expression at a point.
    #[command(
        after_help = "Examples:\n  chainrule hessian \"x^2*y + sin(x*y)\" --at x=1,y=2\n  chainrule hessian \"(1 - x)^2 + 100*(y - x^2)^2\" --at x=1,y=1 --json"
    )]
    Hessian(crate::cmd::hessian::HessianArgs),
    /// Print the derivative of an expression as a simplified expression.
    #[command(
        after_help = "A derivative whose text would pass 10 million characters is not printed; --at still gives its value.\n\nExamples:\n  chainrule diff \"3*x^2 + 1\" x\n  chainrule diff \"sin(x)*exp(x)\" x --order 2 --at x=0.5"
    )]
    Diff(crate::cmd::diff::DiffArgs),
    /// Minimise an expression by gradient descent and show (or draw) the path taken.
    Descend(crate::descend::DescendArgs),
    /// Train a neural network on a dataset and report its test accuracy, or a character-level
    /// GPT on a text (--model gpt) and report its validation loss.
    #[command(
        after_help = "Examples:\n  chainrule train --data digits\n  chainrule train --data iris --json\n  chainrule train --data data.csv --target label --model 8-32-3 --save model.safetensors --plot curves.png\n  chainrule train --data fashion-mnist --model cnn --save cnn.safetensors\n  chainrule train --data shakespeare --model gpt --save gpt.safetensors --plot loss.png --attention attention.png"
    )]
    Train(Box<crate::cmd::train::TrainArgs>),
    /// Print the predictions of a saved model, and its accuracy when the data has labels.
    #[command(
        after_help = "Example:\n  chainrule predict --model model.safetensors --data digits"
    )]
    Predict(crate::cmd::predict::PredictArgs),
    /// Write text with a language model trained by `train --model gpt`, as it is drawn.
    #[command(
        after_help = "Examples:\n  chainrule train --data shakespeare --model gpt --save gpt.safetensors\n  chainrule generate --model gpt.safetensors --prompt \"ROMEO.\" --tokens 300 --seed 1"
    )]
    Generate(crate::cmd::generate::GenerateArgs),
}

impl Command {
    /// The expression of the subcommands that take one (the first positional argument).
    pub fn expression_mut(&mut self) -> Option<&mut String> {
        match self {
            Command::Grad(a) => Some(&mut a.expr.expr),
            Command::Explain(a) => a.expr.as_mut(),
            Command::Graph(a) => Some(&mut a.expr.expr),
            Command::Report(a) => Some(&mut a.expr.expr),
            Command::Plot(a) => Some(&mut a.expr.expr),
            Command::Check(a) => Some(&mut a.expr.expr),
            Command::Hessian(a) => Some(&mut a.expr),
            Command::Diff(a) => Some(&mut a.expr),
            Command::Descend(a) => Some(&mut a.expr),
            Command::Demo(_)
            | Command::Bench(_)
            | Command::Train(_)
            | Command::Predict(_)
            | Command::Generate(_) => None,
        }
    }
}

/// An expression and the point to evaluate it at.
#[derive(Args, Debug)]
pub struct ExprArgs {
    /// The expression, e.g. "3*x^2 + 1" or "sigmoid(w*x + b)"; it may begin with a minus
    /// ("-x^2 + 1"); - reads it from standard input, @FILE from a file.
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    pub expr: String,
    /// Values of the variables, e.g. x=2,y=3 (not needed when there are no variables).
    #[arg(long, value_name = "NAME=VALUE,...", allow_hyphen_values = true)]
    pub at: Option<String>,
}

/// The arguments of `chainrule explain`: an expression and its point, or `--tensor` and the
/// network and batch to explain.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The expression, e.g. "3*x^2 + 1" or "sigmoid(w*x + b)"; it may begin with a minus
    /// ("-x^2 + 1"); - reads it from standard input, @FILE from a file.
    #[arg(
        value_name = "EXPR",
        allow_hyphen_values = true,
        required_unless_present = "tensor"
    )]
    pub expr: Option<String>,
    /// Values of the variables, e.g. x=2,y=3 (not needed when there are no variables).
    #[arg(
        long,
        value_name = "NAME=VALUE,...",
        allow_hyphen_values = true,
        conflicts_with = "tensor"
    )]
    pub at: Option<String>,
    /// Explain one training step of a network on tensors instead of an expression: each
    /// tensor's operation and shape, and each gradient in matrix form.
    #[arg(long, conflicts_with = "expr")]
    pub tensor: bool,
    #[command(flatten)]
    pub network: crate::cmd::explain::TensorArgs,
}

#[derive(Args, Debug)]
pub struct GradArgs {
    #[command(flatten)]
    pub expr: ExprArgs,
    /// Print {"value": V, "gradient": {"x": GX, ...}} with full precision instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GraphArgs {
    #[command(flatten)]
    pub expr: ExprArgs,
    /// Where to write the drawing: .svg (drawn by chainrule) or .dot (for Graphviz).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// The arguments of `chainrule report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub expr: ExprArgs,
    /// Where to write the page (.html); it needs no network and no other file.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// The arguments of `chainrule plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    #[command(flatten)]
    pub expr: ExprArgs,
    /// The variable along the horizontal axis (needed when the expression has several); the
    /// others keep the values given by --at.
    #[arg(long, value_name = "NAME")]
    pub var: Option<String>,
    /// Start of the range.
    #[arg(long, allow_hyphen_values = true, value_name = "X")]
    pub from: f64,
    /// End of the range (greater than --from).
    #[arg(long, allow_hyphen_values = true, value_name = "X")]
    pub to: f64,
    /// Also draw the tangent line at this point of the range, with its slope in the legend.
    #[arg(long, allow_hyphen_values = true, value_name = "X")]
    pub tangent: Option<f64>,
    /// How many evenly spaced points to evaluate f and f' at.
    #[arg(long, default_value_t = 400, value_name = "N")]
    pub samples: usize,
    /// Where to write the plot: .png or .svg.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub expr: ExprArgs,
    /// Relative step of the finite differences: h = eps * max(1, |x|).
    #[arg(long, default_value_t = 1e-6)]
    pub eps: f64,
    /// Absolute tolerance: a variable passes when |analytic - numeric| <= atol + rtol * |numeric|.
    #[arg(long, default_value_t = 1e-5)]
    pub atol: f64,
    /// Relative tolerance (see --atol).
    #[arg(long, default_value_t = 1e-3)]
    pub rtol: f64,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoArgs {
    /// Which walk-through (the seed notebook's when none is given).
    #[command(subcommand)]
    pub topic: Option<DemoTopic>,
}

#[derive(Subcommand, Debug)]
pub enum DemoTopic {
    /// The chain rule for machine learning: composition, a loss, gradient descent, backpropagation.
    #[command(after_help = "Example:\n  chainrule demo seed")]
    Seed,
    /// Why backpropagation is efficient: reverse mode, forward mode and finite differences timed.
    #[command(after_help = "Example:\n  chainrule demo efficiency --max-n 10000")]
    Efficiency(crate::cmd::efficiency::EfficiencyArgs),
    /// How the chain rule scales to deep networks: gradients through 10 layers of sigmoid, ReLU,
    /// ReLU with batch normalisation and ReLU with residual connections.
    #[command(
        after_help = "Examples:\n  chainrule demo deep --plot deep.png\n  chainrule demo deep --epochs 3 --json"
    )]
    Deep(crate::cmd::deep::DeepArgs),
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Workloads to run (all of them when none is given).
    pub names: Vec<String>,
    /// Print only a JSON array of {"name", "median_us", "iterations"}.
    #[arg(long)]
    pub json: bool,
    /// Keep iterating each workload for at least this many seconds.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub min_time: f64,
    /// Time at least this many iterations of each workload.
    #[arg(long, default_value_t = 5)]
    pub min_iterations: usize,
    /// List the workloads and exit.
    #[arg(long)]
    pub list: bool,
}
