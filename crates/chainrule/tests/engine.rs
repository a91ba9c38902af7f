//! The graph and the backward sweep: paths add up, accumulation is as documented, deep graphs
//! work, and published values are reproduced.

use chainrule::{check_gradient, GradCheckOptions, Graph};

#[test]
fn grad_of_x_times_x_sums_both_paths() {
    let g = Graph::new();
    let x = g.var(3.0);
    assert_eq!(g.grad(x * x, &[x]), vec![6.0]);
}

#[test]
fn fan_out_accumulates_over_every_path() {
    let g = Graph::new();
    let a = g.var(1.5);
    let f = (a + a) + (a + a);
    assert_eq!(g.grad(f, &[a]), vec![4.0]);
    // x·y·x uses x on two paths of different shapes: d/dx = 2xy.
    let (x, y) = (g.var(2.0), g.var(5.0));
    assert_eq!(g.grad(x * y * x, &[x, y]), vec![20.0, 4.0]);
}

#[test]
fn seed_composition_example_gives_twelve() {
    let g = Graph::new();
    let x = g.var(2.0);
    let y = x.powi(2);
    let z = 3.0 * y + 1.0;
    assert_eq!(z.value(), 13.0);
    assert_eq!(g.grad(z, &[x]), vec![12.0]);
}

#[test]
fn seed_loss_example_gives_minus_twelve() {
    let g = Graph::new();
    let (x, y, w) = (g.constant(2.0), g.constant(5.0), g.var(1.0));
    let y_hat = w * x;
    let loss = (y_hat - y).powi(2);
    assert_eq!(loss.value(), 9.0);
    assert_eq!(g.grad(loss, &[w]), vec![-12.0]);
}

/// The example in micrograd's README, with the values it publishes (and PyTorch reproduces):
/// g = 24.7041, dg/da = 138.8338, dg/db = 645.5773.
#[test]
fn micrograd_published_example() {
    let g = Graph::new();
    let a = g.var(-4.0);
    let b = g.var(2.0);
    let mut c = a + b;
    let mut d = a * b + b.powi(3);
    c = c + (c + 1.0);
    c = c + (1.0 + c + (-a));
    d = d + (d * 2.0 + (b + a).relu());
    d = d + (3.0 * d + (b - a).relu());
    let e = c - d;
    let f = e.powi(2);
    let mut out = f / 2.0;
    out = out + 10.0 / f;
    let grads = g.grad(out, &[a, b]);
    assert!((out.value() - 24.7041).abs() < 1e-4, "g = {}", out.value());
    assert!((grads[0] - 138.8338).abs() < 1e-4, "dg/da = {}", grads[0]);
    assert!((grads[1] - 645.5773).abs() < 1e-4, "dg/db = {}", grads[1]);
}

#[test]
fn backward_accumulates_like_pytorch_and_zero_grad_resets() {
    let g = Graph::new();
    let x = g.var(2.0);
    let z = 3.0 * x.powi(2) + 1.0;
    assert_eq!(x.grad(), 0.0, "no gradient before backward");
    z.backward();
    assert_eq!(x.grad(), 12.0);
    z.backward();
    assert_eq!(x.grad(), 24.0, "a second backward adds");
    g.zero_grad();
    assert_eq!(x.grad(), 0.0);
    z.backward();
    assert_eq!(x.grad(), 12.0);
    // The functional form accumulates nothing.
    assert_eq!(g.grad(z, &[x]), vec![12.0]);
    assert_eq!(g.grad(z, &[x]), vec![12.0]);
    assert_eq!(x.grad(), 12.0);
}

#[test]
fn detach_and_constants_stop_the_gradient() {
    let g = Graph::new();
    let x = g.var(3.0);
    let c = g.constant(4.0);
    let f = x * x.detach() + c * x;
    // d/dx [x·stop(x) + 4x] = stop(x) + 4 = 7
    assert_eq!(g.grad(f, &[x, c]), vec![7.0, 0.0]);
}

#[test]
fn nodes_off_the_path_cannot_leak_nan() {
    let g = Graph::new();
    let x = g.var(0.0);
    let _unrelated = x.ln(); // -inf, with an infinite local derivative
    let f = 2.0 * x;
    assert_eq!(g.grad(f, &[x]), vec![2.0]);
}

#[test]
fn a_chain_of_a_million_operations_differentiates_without_recursion() {
    // Runs on a test thread (2 MiB of stack): a recursive sweep would overflow long before.
    let n = 1_000_000;
    let g = Graph::with_capacity(n);
    let x = g.var(1.0);
    let mut y = x;
    for i in 1..n {
        y = if i % 2 == 1 {
            y * 1.000001
        } else {
            y + 0.000001
        };
    }
    assert_eq!(g.len(), n);
    let d = g.grad(y, &[x])[0];
    let expected = 1.000001f64.powi((n / 2) as i32);
    assert!((d - expected).abs() < 1e-9 * expected, "{d} vs {expected}");
    let bench = chainrule::bench::scalar_chain(1000);
    assert!((bench - 1.0001f64.powi(500)).abs() < 1e-12, "{bench}");
}

#[test]
fn clear_reuses_the_arena() {
    let mut g = Graph::new();
    {
        let x = g.var(1.0);
        let _ = x.exp() + x;
    }
    assert_eq!(g.len(), 3);
    g.clear();
    assert!(g.is_empty());
    let x = g.var(2.0);
    assert_eq!(g.grad(x * x, &[x]), vec![4.0]);
}

#[test]
fn gradient_check_reports_agreement_and_disagreement() {
    let ok = check_gradient(
        |_, v| (v[0] * v[1]).tanh() + v[1].sqrt(),
        &["a", "b"],
        &[0.4, 2.0],
        GradCheckOptions::default(),
    );
    assert!(ok.passed(), "{ok:?}");
    assert_eq!(ok.entries[0].name, "a");
    assert!(ok.entries.iter().all(|e| e.abs_error < 1e-8));
    // At relu's kink the one-sided slopes differ, so the check must fail there.
    let kink = check_gradient(
        |_, v| v[0].relu(),
        &["x"],
        &[0.0],
        GradCheckOptions::default(),
    );
    assert!(!kink.passed());
    assert_eq!(kink.entries[0].analytic, 0.0);
    assert!((kink.entries[0].numeric - 0.5).abs() < 1e-9);
}
