//! `chainrule bench`: times the standard workloads.

use std::process::ExitCode;
use std::time::Duration;

use chainrule::bench::{measure, workloads};

use crate::cli::BenchArgs;
use crate::error::CliError;
use chainrule::util::format::{json_number, json_string};

pub fn run(args: &BenchArgs) -> Result<ExitCode, CliError> {
    let all = workloads();
    if args.list {
        for w in &all {
            println!("{:<18} {}", w.name, w.description);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !(args.min_time.is_finite() && args.min_time >= 0.0) {
        return Err(CliError::input(format!(
            "--min-time must be a number of seconds, got {}",
            args.min_time
        )));
    }
    for name in &args.names {
        if !all.iter().any(|w| w.name == name) {
            let known: Vec<&str> = all.iter().map(|w| w.name).collect();
            return Err(CliError::input(format!(
                "unknown workload '{name}' (known: {})",
                known.join(", ")
            )));
        }
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; its timings say little. Build with --release to measure.");
    }
    let chosen = all
        .iter()
        .filter(|w| args.names.is_empty() || args.names.iter().any(|n| n == w.name));
    let min_time = Duration::from_secs_f64(args.min_time);
    let mut results = Vec::new();
    if !args.json {
        let what = "what one iteration does";
        println!(
            "{:<18} {:>14} {:>10}  {what}",
            "workload", "median", "iterations"
        );
    }
    for w in chosen {
        let m = measure(w, args.min_iterations, min_time);
        if !args.json {
            println!(
                "{:<18} {:>14} {:>10}  {}",
                m.name,
                human_time(m.median_us),
                m.iterations,
                w.description
            );
        }
        results.push(m);
    }
    if args.json {
        let items: Vec<String> = results
            .iter()
            .map(|m| {
                format!(
                    "{{\"name\": {}, \"median_us\": {}, \"iterations\": {}}}",
                    json_string(&m.name),
                    json_number(m.median_us),
                    m.iterations
                )
            })
            .collect();
        println!("[{}]", items.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

fn human_time(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.3} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.3} ms", us / 1e3)
    } else {
        format!("{us:.3} µs")
    }
}
