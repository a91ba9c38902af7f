//! The `chainrule` command line.

use clap::{Parser, Subcommand};

mod descend;

/// Reverse-mode automatic differentiation that shows its work.
#[derive(Parser, Debug)]
#[command(name = "chainrule", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Minimise an expression by gradient descent and show (or draw) the path taken.
    Descend(descend::DescendArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Descend(args) => descend::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(e.code);
    }
}
