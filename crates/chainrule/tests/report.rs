//! The HTML report: paths from every node to the output add up to its gradient, and the page
//! holds the same lines as `explain`.

use chainrule::explain::Trace;
use chainrule::report::{paths_to_output, to_html, ReportOptions};
use chainrule::viz::{Drawing, NodeKind};
use chainrule::{Expr, Graph};
use proptest::prelude::*;

/// Random expressions over x and y, where x and y come back often so that paths fork and join.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => Just("x".to_string()),
        2 => Just("y".to_string()),
        1 => (1u32..12).prop_map(|n| format!("{}", n as f64 / 4.0)),
    ];
    leaf.prop_recursive(5, 40, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*"])
            )
                .prop_map(|(a, b, op)| format!("({a}) {op} ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) / (1 + ({b})^2)")),
            (inner.clone(), 1u32..4).prop_map(|(a, n)| format!("({a})^{n}")),
            (
                inner.clone(),
                prop::sample::select(vec!["sin", "cos", "tanh", "sigmoid", "exp"])
            )
                .prop_map(|(a, f)| format!("{f}({a})")),
        ]
    })
}

/// Checks that the paths of every node of `d` add up to its gradient.
fn paths_add_up(d: &Drawing) -> Result<(), TestCaseError> {
    for (i, n) in d.nodes.iter().enumerate() {
        let p = paths_to_output(d, i, usize::MAX, usize::MAX);
        let Some(grad) = n.grad else {
            // A constant, or an output that is one (the expression `0.25`).
            prop_assert!(matches!(n.kind, NodeKind::Constant | NodeKind::Output));
            continue;
        };
        prop_assert!(p.is_complete());
        prop_assert!(p.count >= 1.0, "every node reaches the output");
        let scale: f64 = p.listed.iter().map(|c| c.contribution.abs()).sum();
        prop_assert!(
            (p.listed_sum - grad).abs() <= 1e-9 * (1.0 + scale),
            "{}: paths add up to {} but the gradient is {grad}",
            n.name,
            p.listed_sum
        );
        for c in &p.listed {
            // A path is a chain of edges from the node to the output.
            let mut at = i;
            for &k in &c.edges {
                prop_assert_eq!(d.edges[k].from, at);
                at = d.edges[k].to;
            }
            prop_assert_eq!(at, d.nodes.len() - 1);
            let product: f64 = c.edges.iter().map(|&k| d.edges[k].local).product();
            prop_assert_eq!(c.contribution, product);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn the_paths_of_every_node_add_up_to_its_gradient(
        src in expression(),
        x in -2.0f64..2.0,
        y in -2.0f64..2.0,
    ) {
        let e = Expr::parse(&src).unwrap();
        let values: Vec<f64> = e.variables().iter().map(|v| if v == "x" { x } else { y }).collect();
        let g = Graph::new();
        let built = e.build_with(&g, &values);
        let d = Drawing::new(&g, built.output);
        prop_assume!(d.nodes.iter().all(|n| n.value.is_finite() && n.grad.is_none_or(f64::is_finite)));
        paths_add_up(&d)?;
    }
}

#[test]
fn paths_are_counted_exactly_and_listed_up_to_the_limit() {
    // Squaring by x * x thirty times: 2^30 paths from x, far too many to list.
    let g = Graph::new();
    let x = g.var_named("x", 1.0);
    let mut v = x;
    for _ in 0..30 {
        v = v * v;
    }
    let d = Drawing::new(&g, v);
    let p = paths_to_output(&d, 0, 100, usize::MAX);
    assert_eq!(p.count, 2f64.powi(30));
    assert_eq!(p.listed.len(), 100);
    assert!(!p.is_complete());
    assert!(p.listed.iter().all(|c| c.edges.len() == 30));
    // The edge budget stops the listing too.
    let p = paths_to_output(&d, 0, 100, 95);
    assert_eq!(p.listed.len(), 3);
    // The output has one empty path, contributing 1.
    let p = paths_to_output(&d, d.nodes.len() - 1, 10, 10);
    assert_eq!((p.count, p.listed.len(), p.listed_sum), (1.0, 1, 1.0));
    assert!(p.listed[0].edges.is_empty());

    let html = to_html(&g, v, &ReportOptions::new("x^(2^30)", "x = 1"));
    assert!(html.contains("Only the first 64 of the 1073741824 paths are listed"));
}

#[test]
fn the_page_is_self_contained_and_holds_the_explain_lines() {
    let g = Graph::new();
    let w = g.var_named("w", 1.0);
    let x = g.var_named("x", 2.0);
    let y = g.var_named("y", 5.0);
    let f = (w * x - y).powi(2);
    let html = to_html(
        &g,
        f,
        &ReportOptions::new("(w*x - y)^2", "w = 1, x = 2, y = 5"),
    );
    let trace = Trace::new(&g, f);
    for step in &trace.backward {
        assert!(html.contains(&trace.backward_line(step)), "{step:?}");
    }
    for step in &trace.forward {
        assert!(html.contains(&trace.forward_line(step)));
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(
        html.matches("<script").count(),
        2,
        "the data and the script, both inline"
    );
    assert!(!html.contains("<script src") && !html.contains("<link rel=\"stylesheet\""));
    assert!(!html.contains("<?xml"), "the drawing is inline SVG");
    for id in [
        "step-panel",
        "paths-panel",
        "btn-forward",
        "btn-backward",
        "btn-prev",
        "btn-reset",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    // Full-precision numbers for scripts and tests.
    assert!(html
        .contains("data-name=\"w\" data-kind=\"variable\" data-value=\"1.0\" data-grad=\"-12.0\""));
    assert!(
        html.contains("<title>chainrule report: f = (w*x - y)^2 at w = 1, x = 2, y = 5</title>")
    );
}

#[test]
fn names_cannot_break_out_of_the_page() {
    let g = Graph::new();
    let x = g.var_named("</script><b>", 2.0);
    let f = (x * 3.0).named("a&b");
    let html = to_html(&g, f, &ReportOptions::new("<i>", ""));
    assert_eq!(html.matches("</script>").count(), 2);
    assert!(!html.contains("<b>") && !html.contains("<i>"));
    assert!(html.contains("f = &lt;i&gt;</h1>"));
}

#[test]
fn the_page_says_where_a_nan_came_from() {
    let g = Graph::new();
    let x = g.var_named("x", -1.0);
    let f = 2.0 * x.ln() + 1.0;
    let html = to_html(&g, f, &ReportOptions::new("2*ln(x) + 1", "x = -1"));
    assert!(html.contains(
        "<p id=\"warning\" class=\"warning\">Not every number is finite: v1 = ln(x) is NaN"
    ));
    assert!(html.contains("data-value=\"NaN\""));
    let g = Graph::new();
    let x = g.var_named("x", 1.0);
    let html = to_html(&g, x * 2.0, &ReportOptions::new("2*x", "x = 1"));
    assert!(!html.contains("id=\"warning\""));
}
