//! The walk-through behind `chainrule demo`: the chain rule for machine learning, from one
//! composition to gradient descent and backpropagation, every number computed by the engine.

use std::fmt::Write;

use crate::scalar::graph::Graph;
use crate::show::explain::Trace;
use crate::util::format::fmt_num;

/// `y = x²`, `z = 3y + 1` at `x = 2`: returns the explanation and `dz/dx` (12).
pub fn composition() -> (String, f64) {
    let g = Graph::new();
    let x = g.var_named("x", 2.0);
    let y = x.powi(2).named("y");
    let z = (3.0 * y + 1.0).named("z");
    let dz_dx = g.grad(z, &[x])[0];
    (Trace::new(&g, z).to_string(), dz_dx)
}

/// `ŷ = w·x`, `L = (ŷ − y)²` at `x = 2`, `y = 5`, `w`: the explanation, `L` and `dL/dw`.
pub fn single_parameter_loss(w: f64) -> (String, f64, f64) {
    let g = Graph::new();
    let w = g.var_named("w", w);
    let x = g.constant(2.0);
    let y = g.constant(5.0);
    let y_hat = (w * x).named("y_hat");
    let loss = (y_hat - y).powi(2).named("L");
    let d = g.grad(loss, &[w])[0];
    (Trace::new(&g, loss).to_string(), loss.value(), d)
}

/// Gradient descent `w ← w − lr · dL/dw` on the single-parameter loss from `w = 1`:
/// `(w, L)` before each step, and the final pair.
pub fn gradient_descent(lr: f64, steps: usize) -> Vec<(f64, f64)> {
    let mut w = 1.0;
    let mut path = Vec::with_capacity(steps + 1);
    for _ in 0..=steps {
        let (_, loss, d) = single_parameter_loss(w);
        path.push((w, loss));
        w -= lr * d;
    }
    path
}

/// A three-layer chain `h1 = tanh(0.5·x)`, `h2 = sigmoid(3·h1)`, `L = h2²` at `x = 1`:
/// the explanation, the local derivative of each layer (from the graph), and `dL/dx`.
pub fn three_layer_chain() -> (String, Vec<(String, f64)>, f64) {
    let g = Graph::new();
    let x = g.var_named("x", 1.0);
    let a1 = (0.5 * x).named("a1");
    let h1 = a1.tanh().named("h1");
    let a2 = (3.0 * h1).named("a2");
    let h2 = a2.sigmoid().named("h2");
    let loss = h2.powi(2).named("L");
    let trace = Trace::new(&g, loss);
    let locals = trace
        .forward
        .iter()
        .flat_map(|s| {
            s.locals
                .iter()
                .map(|(i, d)| (format!("∂{}/∂{}", trace.name(s.node), trace.name(*i)), *d))
        })
        .collect();
    let d = g.grad(loss, &[x])[0];
    (trace.to_string(), locals, d)
}

/// The whole walk-through as text.
pub fn seed_walkthrough() -> String {
    let mut s = String::new();
    let indent = |text: &str| text.lines().map(|l| format!("  {l}\n")).collect::<String>();

    let (trace, dz_dx) = composition();
    let _ = writeln!(
        s,
        "1. Function composition: y = x², z = 3y + 1, so z = g(f(x)) depends on x through y."
    );
    let _ = writeln!(s, "   The chain rule: dz/dx = dz/dy · dy/dx. At x = 2:\n");
    s.push_str(&indent(&trace));
    let _ = writeln!(s, "\n   dz/dx = {}\n", fmt_num(dz_dx));

    let (trace, loss, d) = single_parameter_loss(1.0);
    let _ = writeln!(
        s,
        "2. Loss → prediction → parameter: ŷ = w·x, L = (ŷ − y)², with x = 2, y = 5, w = 1."
    );
    let _ = writeln!(
        s,
        "   The loss depends on w only through the prediction y_hat:\n"
    );
    s.push_str(&indent(&trace));
    let _ = writeln!(s, "\n   L = {}, dL/dw = {}\n", fmt_num(loss), fmt_num(d));

    let lr = 0.05;
    let path = gradient_descent(lr, 40);
    let _ = writeln!(
        s,
        "3. Gradient descent: w ← w − {} · dL/dw, from w = 1 (the minimum is at w = y/x = 2.5).\n",
        fmt_num(lr)
    );
    let _ = writeln!(s, "   step           w          L");
    for (i, (w, l)) in path.iter().enumerate() {
        if i < 10 || i % 5 == 0 || i == path.len() - 1 {
            let _ = writeln!(s, "   {i:>4}  {w:>10.6}  {:>11}", fmt_num(*l));
        }
    }
    let (w, l) = path.last().copied().unwrap_or_default();
    let _ = writeln!(
        s,
        "\n   w converges to {} (L = {}).\n",
        fmt_num(w),
        fmt_num(l)
    );

    let (trace, locals, d) = three_layer_chain();
    let _ = writeln!(
        s,
        "4. Backpropagation is the chain rule repeated layer by layer:"
    );
    let _ = writeln!(
        s,
        "   h1 = tanh(0.5·x), h2 = sigmoid(3·h1), L = h2², at x = 1.\n"
    );
    s.push_str(&indent(&trace));
    let product: f64 = locals.iter().map(|(_, v)| v).product();
    let names: Vec<&str> = locals.iter().rev().map(|(n, _)| n.as_str()).collect();
    let values: Vec<String> = locals.iter().rev().map(|(_, v)| fmt_num(*v)).collect();
    let _ = writeln!(s, "\n   dL/dx = {}", names.join(" · "));
    let _ = writeln!(
        s,
        "         = {} = {}",
        values.join(" · "),
        fmt_num(product)
    );
    let _ = writeln!(
        s,
        "   (the backward sweep gives {}: one product of local derivatives per layer)",
        fmt_num(d)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_gives_twelve() {
        let (text, d) = composition();
        assert_eq!(d, 12.0);
        assert!(
            text.contains("dz/dx  = dz/dy · ∂y/∂x = 3 · 4 = 12"),
            "{text}"
        );
    }

    #[test]
    fn single_parameter_loss_gives_minus_twelve() {
        let (_, loss, d) = single_parameter_loss(1.0);
        assert_eq!((loss, d), (9.0, -12.0));
    }

    #[test]
    fn gradient_descent_converges_to_two_and_a_half() {
        let path = gradient_descent(0.05, 40);
        let (w, loss) = *path.last().unwrap();
        assert!((w - 2.5).abs() < 1e-6, "w = {w}");
        assert!(loss < 1e-10);
        // The loss never goes up on this convex problem with a small step.
        assert!(path.windows(2).all(|p| p[1].1 <= p[0].1));
    }

    #[test]
    fn three_layer_gradient_is_the_product_of_local_derivatives() {
        let (_, locals, d) = three_layer_chain();
        assert_eq!(locals.len(), 5);
        let product: f64 = locals.iter().map(|(_, v)| v).product();
        assert!((product - d).abs() < 1e-15);
        // Closed form: L = sigmoid(3 tanh(x/2))², dL/dx = 2 s · s(1-s) · 3 · (1 - t²) · 0.5.
        let t = 0.5f64.tanh();
        let s = 1.0 / (1.0 + (-3.0 * t).exp());
        let closed = 2.0 * s * s * (1.0 - s) * 3.0 * (1.0 - t * t) * 0.5;
        assert!((d - closed).abs() < 1e-15, "{d} vs {closed}");
    }
}
