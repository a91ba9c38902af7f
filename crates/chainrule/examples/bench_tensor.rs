//! Prints chainrule's numbers for the tensor workloads of `chainrule bench` (matmul GFLOP/s,
//! element-wise GB/s), in the same form as `bench/torch_tensor.py` prints PyTorch's.
//!
//! ```text
//! cargo run --release --example bench_tensor                 # every tensor workload
//! cargo run --release --example bench_tensor -- matmul-512   # some of them
//! cargo run --release --example bench_tensor -- --json       # name / median_us / iterations
//! ```

use std::time::Duration;

use chainrule::bench::{measure, workloads, ELEMENTWISE_LEN};

/// The work one iteration does (flops or bytes moved) and its unit, for the tensor workloads.
fn work(name: &str) -> Option<(f64, &'static str)> {
    if let Some(n) = name.strip_prefix("matmul-") {
        let n: f64 = n.parse().ok()?;
        Some((2.0 * n * n * n, "GFLOP/s"))
    } else if name == "tanh-10m" {
        // One input read, one output written, 4 bytes each.
        Some((2.0 * 4.0 * ELEMENTWISE_LEN as f64, "GB/s"))
    } else if name.ends_with("-10m") {
        // Two inputs read, one output written, 4 bytes each.
        Some((3.0 * 4.0 * ELEMENTWISE_LEN as f64, "GB/s"))
    } else {
        None
    }
}

fn main() {
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful numbers");
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let only: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let mut rows = Vec::new();
    if !json {
        println!(
            "{:<12} {:>12} {:>6} {:>14}",
            "workload", "median_us", "iters", "throughput"
        );
    }
    for w in workloads() {
        let Some((amount, unit)) = work(w.name) else {
            continue;
        };
        if !only.is_empty() && !only.iter().any(|n| n.as_str() == w.name) {
            continue;
        }
        let m = measure(&w, 10, Duration::from_secs(2));
        if json {
            rows.push(format!(
                "  {{\"name\": \"{}\", \"median_us\": {}, \"iterations\": {}}}",
                m.name, m.median_us, m.iterations
            ));
        } else {
            let rate = amount / (m.median_us * 1e-6) / 1e9;
            println!(
                "{:<12} {:>12.1} {:>6} {:>9.1} {unit}",
                m.name, m.median_us, m.iterations, rate
            );
        }
    }
    if json {
        println!("[\n{}\n]", rows.join(",\n"));
    }
}
