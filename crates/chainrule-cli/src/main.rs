//! The `chainrule` command line: a thin layer over the `chainrule` library.
//!
//! Each subcommand lives in its own module under `cmd/`; this file only parses arguments,
//! dispatches, and turns errors into a one-line message and an exit code.

mod cli;
mod cmd;
mod descend;
mod error;
mod input;
mod output;
mod plotting;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    restore_sigpipe();
    let (args, escaped) = input::take_escaped(std::env::args_os().collect());
    let mut cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = input::settle_expression(&mut cli.command, escaped).and_then(|()| run(&cli));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code)
        }
    }
}

/// Runs the subcommand.
fn run(cli: &Cli) -> Result<ExitCode, error::CliError> {
    match &cli.command {
        Command::Grad(args) => cmd::grad::run(args),
        Command::Explain(args) => cmd::explain::run(args),
        Command::Graph(args) => cmd::graph::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Plot(args) => cmd::plot::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Hessian(args) => cmd::hessian::run(args).map(|()| ExitCode::SUCCESS),
        Command::Diff(args) => cmd::diff::run(args).map(|()| ExitCode::SUCCESS),
        Command::Train(args) => cmd::train::run(args),
        Command::Predict(args) => cmd::predict::run(args),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Descend(args) => descend::run(args).map(|()| ExitCode::SUCCESS),
    }
}

/// Output piped into a program that stops reading early (`chainrule explain ... | head`) ends
/// the process quietly, as for other command-line tools, instead of a panic on the failed write.
/// (Rust ignores SIGPIPE by default; files are written atomically, so nothing is left half-way.)
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Help and version go to standard output as usual; a usage error becomes one line and exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("error: bad arguments");
    eprintln!("{first} (see --help)");
    ExitCode::from(error::BAD_INPUT)
}
