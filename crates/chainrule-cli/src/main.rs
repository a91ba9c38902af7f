//! The `chainrule` command line: a thin layer over the `chainrule` library.
//!
//! Each subcommand lives in its own module under `cmd/`; this file only parses arguments,
//! dispatches, and turns errors into a one-line message and an exit code.

mod cli;
mod cmd;
mod descend;
mod error;
mod output;
mod plotting;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Grad(args) => cmd::grad::run(args),
        Command::Explain(args) => cmd::explain::run(args),
        Command::Graph(args) => cmd::graph::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Plot(args) => cmd::plot::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Descend(args) => {
            descend::run(args)
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| error::CliError {
                    code: u8::try_from(e.code).unwrap_or(1),
                    message: e.message,
                })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code)
        }
    }
}
