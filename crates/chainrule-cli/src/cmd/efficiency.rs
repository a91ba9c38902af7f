//! `chainrule demo efficiency`: why backpropagation is efficient, measured.

use std::time::Duration;

use clap::Args;

use chainrule::lessons::efficiency::{measure, render, Budget, SIZES};

use crate::error::CliError;

/// Arguments of `chainrule demo efficiency`.
#[derive(Args, Debug, Clone)]
pub struct EfficiencyArgs {
    /// The largest number of parameters to try (of 10, 100, ..., 100000).
    #[arg(long, default_value_t = 100_000)]
    pub max_n: usize,
    /// Skip a method when it would take longer than this many seconds.
    #[arg(long, default_value_t = 3.0)]
    pub budget: f64,
}

/// Runs `chainrule demo efficiency`, printing one row per size as it is measured.
pub fn run_efficiency(args: &EfficiencyArgs) -> Result<(), CliError> {
    if !(args.budget.is_finite() && args.budget > 0.0) {
        return Err(CliError::usage(
            "--budget must be a positive number of seconds",
        ));
    }
    let budget = Budget {
        max_per_method: Duration::from_secs_f64(args.budget),
        ..Budget::default()
    };
    println!(
        "The gradient of a linear model's squared loss on {} data points, for n parameters:",
        chainrule::lessons::efficiency::DATA_POINTS
    );
    println!();
    let rows: Vec<_> = SIZES
        .iter()
        .filter(|&&n| n <= args.max_n)
        .map(|&n| measure(n, budget))
        .collect();
    print!("{}", render(&rows));
    println!();
    println!(
        "Reverse mode costs a small constant number of evaluations at every n; forward mode and \
         finite differences cost n evaluations each, so their ratio grows with n."
    );
    Ok(())
}
