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

/// The four numbers after `label` on the line that starts with it.
fn row(out: &str, label: &str) -> Vec<f64> {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' in {out}"));
    let nums: Vec<f64> = line[line.find(label).unwrap() + label.len()..]
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 4, "{line}");
    nums
}

/// How far a ratio of gradient norms is from 1, in decades either way.
fn decades_from_one(r: f64) -> f64 {
    r.log10().abs()
}

#[test]
fn demo_deep_shows_the_gradient_vanishing_through_sigmoid_layers_and_kept_by_bn_and_residuals() {
    let dir = scratch("deep");
    let png = dir.join("deep.png");
    let out = ok(&["demo", "deep", "--plot", png.to_str().unwrap()]);
    // One row per layer of the 10-layer networks, one column per network.
    for title in ["sigmoid", "ReLU", "ReLU + batch norm", "ReLU + residual"] {
        assert!(out.contains(title), "{title}: {out}");
    }
    assert_eq!(row(&out, "1 ").len(), 4);
    assert_eq!(row(&out, "10 ").len(), 4);
    assert!(
        out.contains("weights 0.weight, 3.weight, …, 27.weight"),
        "{out}"
    );
    assert!(
        out.contains("weights 0.weight, 2.0.weight, …, 10.weight"),
        "{out}"
    );
    let ratio = row(&out, "first / last");
    let (sigmoid, relu, bn, residual) = (ratio[0], ratio[1], ratio[2], ratio[3]);
    // Seen: 9.8e-8 with sigmoid, 0.21 with ReLU, 5.0 with batch norm, 0.56 with residuals.
    assert!(sigmoid < 1e-3, "{out}");
    assert!(relu > 1e-2, "{out}");
    assert!(relu > 1000.0 * sigmoid, "{out}");
    for (name, r) in [("batch norm", bn), ("residual", residual)] {
        assert!(
            decades_from_one(r) < decades_from_one(sigmoid),
            "{name}: {r} is not closer to 1 than sigmoid's {sigmoid}: {out}"
        );
        assert!(decades_from_one(r) < 1.0, "{name}: {r}: {out}");
    }
    // The ratio printed is the one of the norms printed.
    let (first, last) = (row(&out, "1 "), row(&out, "10 "));
    for i in 0..4 {
        let q = first[i] / last[i];
        assert!(
            (q / ratio[i] - 1.0).abs() < 0.02,
            "{i}: {q} vs {}",
            ratio[i]
        );
    }
    let acc = row(&out, "test accuracy");
    // Seen: 0.203, 0.939, 0.972 and 0.961.
    assert!(acc[1] > 0.8 && acc[0] < 0.5, "{out}");
    assert!(acc[2] > 0.8 && acc[3] > 0.8, "{out}");
    assert!(out.contains("at most 0.25"), "{out}");
    assert!(fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    // Four panels, two by two.
    let png = fs::read(&png).unwrap();
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1520, 1080));
}

#[test]
fn demo_deep_prints_json_with_the_same_figures() {
    let dir = scratch("deep-json");
    let svg = dir.join("deep.svg");
    let o = chainrule(&[
        "demo",
        "deep",
        "--epochs",
        "2",
        "--json",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let nets = v["networks"].as_array().unwrap();
    let names: Vec<&str> = nets.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sigmoid", "relu", "batch_norm", "residual"]);
    assert_eq!(v["epochs"], 2);
    for n in nets {
        let norms: Vec<f64> = n["grad_norms_epoch_1"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(norms.len(), 10, "{n}");
        assert_eq!(n["parameters"].as_array().unwrap().len(), 10);
        let ratio = n["first_to_last"].as_f64().unwrap();
        assert!(
            (ratio - norms[0] / norms[9]).abs() <= 1e-12 * ratio.abs(),
            "{n}"
        );
        let shrink = n["shrink_per_layer"].as_f64().unwrap();
        assert!((shrink.powi(9) * ratio - 1.0).abs() < 1e-9, "{n}");
        let acc = n["test_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
    }
    let ratio = |i: usize| nets[i]["first_to_last"].as_f64().unwrap();
    assert!(decades_from_one(ratio(2)) < decades_from_one(ratio(0)));
    assert!(decades_from_one(ratio(3)) < decades_from_one(ratio(0)));
    // The picture is drawn, and nothing but JSON is printed.
    let svg = fs::read_to_string(&svg).unwrap();
    assert!(svg.contains("ReLU + residual") && svg.contains("layer 2 (2.0.weight)"));
    assert_bad_input(
        &["demo", "deep", "--epochs", "0"],
        "--epochs must be at least 1",
    );
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
