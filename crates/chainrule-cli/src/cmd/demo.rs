//! `chainrule demo`: the chain rule for machine learning, computed step by step.

use std::process::ExitCode;

use chainrule::lessons::demo;

use crate::cli::{DemoArgs, DemoTopic};
use crate::error::CliError;

pub fn run(args: &DemoArgs) -> Result<ExitCode, CliError> {
    match &args.topic {
        None | Some(DemoTopic::Seed) => {
            print!("{}", demo::seed_walkthrough());
            Ok(ExitCode::SUCCESS)
        }
        Some(DemoTopic::Efficiency(a)) => {
            crate::cmd::efficiency::run_efficiency(a).map(|()| ExitCode::SUCCESS)
        }
        Some(DemoTopic::Deep(a)) => crate::cmd::deep::run_deep(a).map(|()| ExitCode::SUCCESS),
    }
}
