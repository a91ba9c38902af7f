//! Times each operation of the baby GPT's training step on its own, at the step's shapes (12
//! sequences of 64 tokens, 128 channels, 4 heads): the forward pass, and the backward pass
//! through it and a product with fixed weights summed to a loss (the `identity` rows are that
//! product and sum alone, to subtract). BENCHMARKS.md ("The GPT step, faster") used it to find
//! the slow loops. With `--activations` it also times the other activations at GELU's shape.
//!
//! ```sh
//! cargo run --release -p chainrule --example step_ops [-- --activations]
//! ```

use std::time::Instant;

use chainrule::tensor::{Array, Tape, Tensor};

/// An operation of the step, applied to the tensor `x` on `tape`.
type StepOp = dyn for<'t> Fn(&'t Tape<f32>, Tensor<'t, f32>) -> Tensor<'t, f32>;

/// The medians, in µs, of the forward pass of `op` on an input of `shape` and of the backward
/// pass from `sum(op(x) · w)`.
fn time(shape: &[usize], op: &StepOp) -> (f64, f64) {
    let x = Array::<f32>::randn(shape, 3);
    let mut w: Option<Array<f32>> = None;
    let mut tape = Tape::<f32>::new();
    let (mut forward, mut backward) = (Vec::new(), Vec::new());
    for step in 0..60 {
        tape.clear();
        let xt = tape.var(x.clone());
        let t0 = Instant::now();
        let y = op(&tape, xt);
        let t1 = Instant::now();
        let wv = w.get_or_insert_with(|| Array::randn(&y.shape(), 4)).clone();
        let loss = (y * tape.constant(wv)).sum_all();
        let t2 = Instant::now();
        loss.backward().expect("a scalar loss");
        let t3 = Instant::now();
        if step >= 10 {
            forward.push((t1 - t0).as_secs_f64() * 1e6);
            backward.push((t3 - t2).as_secs_f64() * 1e6);
        }
    }
    forward.sort_by(f64::total_cmp);
    backward.sort_by(f64::total_cmp);
    (forward[forward.len() / 2], backward[backward.len() / 2])
}

fn main() {
    let (b, t, c) = (12usize, 64usize, 128usize);
    let mut ops: Vec<(&str, Vec<usize>, Box<StepOp>)> = vec![
        ("identity", vec![b, t, c], Box::new(|_, x| x)),
        (
            "layer_norm",
            vec![b, t, c],
            Box::new(move |tape, x| {
                let g = tape.var(Array::ones(&[c]));
                x.layer_norm(&[c], g, None, 1e-5).expect("shapes fit")
            }),
        ),
        ("identity 4c", vec![b, t, 4 * c], Box::new(|_, x| x)),
        ("gelu", vec![b, t, 4 * c], Box::new(|_, x| x.gelu())),
        (
            "attention",
            vec![b, t, 3 * c],
            Box::new(|_, x| x.causal_self_attention(4).expect("shapes fit")),
        ),
        ("residual add", vec![b, t, c], Box::new(|_, x| x + x)),
    ];
    if std::env::args().any(|a| a == "--activations") {
        let hidden = vec![b, t, 4 * c];
        let more: [(&str, Box<StepOp>); 9] = [
            ("relu", Box::new(|_, x| x.relu())),
            ("tanh", Box::new(|_, x| x.tanh())),
            ("sigmoid", Box::new(|_, x| x.sigmoid())),
            ("gelu_tanh", Box::new(|_, x| x.gelu_tanh())),
            ("silu", Box::new(|_, x| x.silu())),
            ("elu", Box::new(|_, x| x.elu(1.0))),
            ("leaky_relu", Box::new(|_, x| x.leaky_relu(0.01))),
            ("softplus", Box::new(|_, x| x.softplus())),
            ("log_sigmoid", Box::new(|_, x| x.log_sigmoid())),
        ];
        ops.extend(
            more.into_iter()
                .map(|(name, op)| (name, hidden.clone(), op)),
        );
    }
    println!(
        "{:>14}  {:>12}  {:>12}",
        "operation", "forward µs", "backward µs"
    );
    for (name, shape, op) in &ops {
        let (f, bw) = time(shape, op.as_ref());
        println!("{name:>14}  {f:>12.1}  {bw:>12.1}");
    }
}
