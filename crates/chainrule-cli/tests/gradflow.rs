//! Gradient flow as a user sees it: `chainrule train --grad-flow`, `chainrule demo deep` and
//! `chainrule train --report`.

mod common;
use common::*;

use std::fs;

fn ok(args: &[&str]) -> String {
    let o = chainrule(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn grad_flow_is_drawn_as_png_and_svg() {
    let dir = scratch("draw");
    let png = dir.join("flow.png");
    let svg = dir.join("flow.svg");
    for path in [&png, &svg] {
        let out = ok(&[
            "train",
            "--data",
            "iris",
            "--epochs",
            "3",
            "--grad-flow",
            path.to_str().unwrap(),
        ]);
        assert!(out.contains("gradient flow saved to"), "{out}");
    }
    assert!(fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let svg = fs::read_to_string(&svg).unwrap();
    assert!(svg.contains("<svg"));
    assert!(svg.contains("layer 1 (0.weight)") && svg.contains("layer 2 (2.weight)"));
    // Only the picture is left in the folder: the write is atomic.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
    let o = chainrule(&["train", "--data", "iris", "--grad-flow", "flow.jpg"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("--grad-flow: 'flow.jpg' must end in .png or .svg"));
}

/// The two numbers after `label` on the line that starts with it.
fn row(out: &str, label: &str) -> (f64, f64) {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' in {out}"));
    let nums: Vec<f64> = line[line.find(label).unwrap() + label.len()..]
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}

#[test]
fn demo_deep_shows_the_gradient_vanishing_through_sigmoid_layers() {
    let dir = scratch("deep");
    let png = dir.join("deep.png");
    let out = ok(&["demo", "deep", "--plot", png.to_str().unwrap()]);
    // One row per layer of the 10-layer network.
    assert!(out.contains("      1  0.weight"), "{out}");
    assert!(out.contains("     10  18.weight"), "{out}");
    let (sigmoid, relu) = row(&out, "first / last");
    // Seen: 9.8e-8 with sigmoid, 0.21 with ReLU.
    assert!(sigmoid < 1e-3, "{out}");
    assert!(relu > 1e-2, "{out}");
    assert!(relu > 1000.0 * sigmoid, "{out}");
    let (sigmoid_acc, relu_acc) = row(&out, "test accuracy");
    // Seen: 0.197 and 0.931.
    assert!(relu_acc > 0.8 && sigmoid_acc < 0.5, "{out}");
    assert!(out.contains("at most 0.25"), "{out}");
    assert!(fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn the_training_report_is_one_self_contained_page_with_curves_flow_and_metrics() {
    let dir = scratch("report");
    let html_path = dir.join("train.html");
    let out = ok(&[
        "train",
        "--data",
        "iris",
        "--epochs",
        "5",
        "--model",
        "4-8-8-3",
        "--report",
        html_path.to_str().unwrap(),
    ]);
    assert!(out.contains("report saved to"), "{out}");
    let html = fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Nothing is loaded from anywhere.
    assert!(!html.contains("http"), "the page names an address");
    assert!(!html.contains("<script src") && !html.contains("<link rel=\"stylesheet\""));
    // The curves and the gradient flow, inline.
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("layer 3 (4.weight)"));
    // The final metrics, as printed.
    let acc = out
        .lines()
        .find_map(|l| l.strip_prefix("test accuracy: "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(
        html.contains(&format!("<td>test accuracy</td><td>{acc} (")),
        "{acc}"
    );
    assert!(html.contains("<td>epochs</td><td>5</td>"));
    assert!(html.contains("id=\"grad-flow\"") && html.contains("id=\"history\""));
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    let o = chainrule(&["train", "--data", "iris", "--report", "train.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--report: 'train.txt' must end in .html"));
}
