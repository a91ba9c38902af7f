//! Differentiates a chain of scalar operations of the length given (default 1,000,000) and
//! prints the time: a quick look at the engine's cost per node.

use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut g = chainrule::Graph::with_capacity(n);
    for _ in 0..3 {
        let t = Instant::now();
        let d = chainrule::bench::scalar_chain_in(&mut g, n);
        let dt = t.elapsed();
        println!(
            "{n} nodes: {:.2} ms ({:.1} ns per node), dy/dx = {d}",
            dt.as_secs_f64() * 1e3,
            dt.as_secs_f64() * 1e9 / n as f64
        );
    }
}
