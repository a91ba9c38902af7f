//! `chainrule demo`: the chain rule for machine learning, computed step by step.

use std::process::ExitCode;

use chainrule::demo;

use crate::cli::DemoArgs;
use crate::error::CliError;

pub fn run(args: &DemoArgs) -> Result<ExitCode, CliError> {
    match args.topic.as_str() {
        "seed" => {
            print!("{}", demo::seed_walkthrough());
            Ok(ExitCode::SUCCESS)
        }
        other => Err(CliError::input(format!(
            "unknown demo '{other}' (available: seed)"
        ))),
    }
}
