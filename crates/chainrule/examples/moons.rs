//! micrograd's two-moons demo on the scalar engine: a 2-16-16-1 perceptron trained by SGD on a
//! hinge loss, one scalar operation at a time. Prints the loss and training accuracy of each
//! step, then the time per step.
//!
//!     cargo run --release --example moons [seed] [steps]

use std::time::Instant;

use chainrule::micrograd::MoonsDemo;

fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args
        .next()
        .map_or(1337, |s| s.parse().expect("seed: an integer"));
    let steps: usize = args
        .next()
        .map_or(MoonsDemo::STEPS, |s| s.parse().expect("steps: an integer"));

    let mut demo = MoonsDemo::new(seed);
    println!(
        "two moons: {} points, noise {}, seed {seed}; MLP 2-16-16-1 with {} parameters",
        MoonsDemo::SAMPLES,
        MoonsDemo::NOISE,
        demo.model.n_parameters()
    );
    let start = Instant::now();
    for k in 0..steps {
        let s = demo.step();
        println!(
            "step {k:3}  lr {:.3}  loss {:.4}  accuracy {:3.0}%",
            MoonsDemo::learning_rate(k),
            s.loss,
            s.accuracy * 100.0
        );
    }
    let per_step = start.elapsed().as_secs_f64() / steps.max(1) as f64;
    println!(
        "after {steps} steps: loss {:.4}, training accuracy {:.0}%",
        demo.loss(),
        demo.accuracy() * 100.0
    );
    println!(
        "{} nodes recorded per step; {:.3} ms per step (forward over all {} points, backward, update), printing included",
        demo.nodes_per_step(),
        per_step * 1e3,
        MoonsDemo::SAMPLES
    );
}
