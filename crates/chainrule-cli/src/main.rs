//! The `chainrule` command line (higher-order derivatives: `hessian`, `diff`, `demo`).

mod diff;
mod efficiency;
mod error;
mod hessian;
mod json;

use clap::{Parser, Subcommand};

/// Exact derivatives of expressions.
#[derive(Parser, Debug)]
#[command(name = "chainrule", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The value, gradient and Hessian matrix of an expression at a point.
    Hessian(hessian::HessianArgs),
    /// The derivative of an expression as a simplified expression.
    Diff(diff::DiffArgs),
    /// Demonstrations.
    #[command(subcommand)]
    Demo(Demo),
}

#[derive(Subcommand, Debug)]
enum Demo {
    /// Why backpropagation is efficient: reverse mode, forward mode and finite differences timed.
    Efficiency(efficiency::EfficiencyArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // Bad arguments: clap's message, on one line.
            let text = e.render().to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
            std::process::exit(2);
        }
    };
    let result = match &cli.command {
        Command::Hessian(args) => hessian::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Demo(Demo::Efficiency(args)) => efficiency::run_efficiency(args),
    };
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(e.code);
    }
}
