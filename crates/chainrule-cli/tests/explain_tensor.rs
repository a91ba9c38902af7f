//! `chainrule explain --tensor`: one training step of a small network in matrix form. The
//! shapes it prints are checked against the shapes the network's layers must give (worked out
//! here from the spec and the batch), and every matrix product it writes must fit: `[a×b] =
//! [a×k]·[k×b]`, with the left side the shape of the gradient it names.

mod common;
use common::*;

use std::collections::HashMap;

use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let o = chainrule(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn shape(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// `[3×4]` as the explanation writes shapes.
fn dims(s: &[usize]) -> String {
    let d: Vec<String> = s.iter().map(usize::to_string).collect();
    format!("[{}]", d.join("×"))
}

/// The shapes in brackets on a line, in order: `[10×64] = [10×2]·[2×64]` gives three.
fn bracketed(line: &str) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find('[') {
        let Some(j) = rest[i..].find(']') else { break };
        let inner = &rest[i + 1..i + j];
        let parsed: Option<Vec<usize>> = inner.split('×').map(|d| d.parse().ok()).collect();
        if let Some(p) = parsed {
            out.push(p);
        }
        rest = &rest[i + j + 1..];
    }
    out
}

/// Checks every backward line of `v`: a product `[a×b] = [a×k]·[k×b]` fits, and a gradient
/// `dL/dN` has as many numbers as the tensor `N` (its shape, or that shape reshaped to a
/// matrix). Returns the number of products checked.
fn products_fit(v: &Value) -> usize {
    let shapes: HashMap<String, Vec<usize>> = v["forward"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), shape(&s["shape"])))
        .collect();
    let mut products = 0;
    for g in v["backward"].as_array().unwrap() {
        let name = g["name"].as_str().unwrap();
        let want: usize = shapes[name].iter().product();
        for term in g["terms"].as_array().unwrap() {
            let line = term.as_str().unwrap();
            assert!(line.starts_with(&format!("dL/d{name} ")), "{line}");
            let found = bracketed(line);
            if let Some(lhs) = found.first() {
                assert_eq!(lhs.iter().product::<usize>(), want, "{line}");
            }
            if let ([out, a, b, ..], true) = (&found[..], line.contains("]·[")) {
                assert_eq!(out.len(), 2, "{line}");
                assert_eq!((a[0], a[1], b[1]), (out[0], b[0], out[1]), "{line}");
                products += 1;
            }
        }
    }
    products
}

#[test]
fn a_conv_layer_a_linear_layer_and_the_loss_in_matrix_form() {
    for (channels, batch) in [(4usize, 2usize), (3, 5)] {
        let model = format!("c{channels}-p2-10");
        let b = batch.to_string();
        let v = json(&[
            "explain", "--tensor", "--model", &model, "--batch", &b, "--json",
        ]);
        assert_eq!(v["model"], model.as_str());
        // On the 8×8 digits: a 3×3 convolution with padding 1 keeps 8×8, the pooling halves it,
        // flattening gives channels × 4 × 4 features, the linear layer 10 logits.
        let flat = channels * 16;
        let want: Vec<(&str, Vec<usize>)> = vec![
            ("x", vec![batch, 1, 8, 8]),
            ("W1", vec![channels, 1, 3, 3]),
            ("b1", vec![channels]),
            ("z1", vec![batch, channels, 8, 8]),
            ("a1", vec![batch, channels, 8, 8]),
            ("m1", vec![batch, channels, 4, 4]),
            ("f", vec![batch, flat]),
            ("W2", vec![10, flat]),
            ("b2", vec![10]),
            ("z2", vec![batch, 10]),
            ("L", vec![]),
        ];
        let forward: Vec<(String, Vec<usize>)> = v["forward"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["name"].as_str().unwrap().to_string(), shape(&s["shape"])))
            .collect();
        for (name, s) in &want {
            assert!(
                forward.iter().any(|(n, got)| n == name && got == s),
                "{name} {s:?} in {forward:?}"
            );
        }
        let layers: Vec<&str> = v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["output"].as_str().unwrap())
            .collect();
        assert_eq!(layers, ["z1", "a1", "m1", "f", "z2"]);
        assert!(products_fit(&v) >= 2, "{v}");

        // The text shows the same, with the linear layer's weight gradient as the product.
        let o = chainrule(&["explain", "--tensor", "--model", &model, "--batch", &b]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        let line = format!(
            "dL/dW2 = dL/dz2ᵀ · f   {} = {}·{}",
            dims(&[10, flat]),
            dims(&[10, batch]),
            dims(&[batch, flat])
        );
        assert!(text.contains(&line), "{line} in\n{text}");
        assert!(text.contains("z1 = conv2d(x, W1) + b1"), "{text}");
        assert!(
            text.contains(&format!("z1 {}", dims(&[batch, channels, 8, 8]))),
            "{text}"
        );
        assert!(text.contains("Forward pass") && text.contains("Backward pass"));
        assert!(text.contains(&format!("the first {batch} samples of digits")));
    }
}

#[test]
fn perceptrons_batch_norm_and_other_data_are_explained_too() {
    let v = json(&[
        "explain", "--tensor", "--model", "64-32-10", "--batch", "5", "--json",
    ]);
    let text_of = |v: &Value| v["backward"].to_string();
    assert!(
        text_of(&v).contains("dL/dW1 = dL/dz1ᵀ · x   [32×64] = [32×5]·[5×64]"),
        "{v}"
    );
    assert!(products_fit(&v) >= 2);
    let bn = json(&[
        "explain",
        "--tensor",
        "--model",
        "c2bn-p2-f8bn-10",
        "--batch",
        "4",
        "--json",
    ]);
    let names: Vec<&str> = bn["forward"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for n in ["γ1", "β1", "n1", "γ2", "n2", "W3"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    products_fit(&bn);
    // The default network on data without images is a perceptron.
    let iris = json(&["explain", "--tensor", "--data", "iris", "--json"]);
    assert_eq!(iris["model"], "4-16-3");
    assert_eq!(iris["batch"], 3);
    products_fit(&iris);
    // The loss's own steps are named for what they hold, each from the one before, and none is
    // left as v1, v2, ...
    let steps: Vec<String> = iris["forward"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} = {}",
                s["name"].as_str().unwrap(),
                s["definition"].as_str().unwrap()
            )
        })
        .collect();
    let loss_steps = steps
        .iter()
        .skip_while(|s| !s.starts_with("logp = "))
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(
        loss_steps,
        [
            "logp = log_softmax(z2, axis 1)",
            "picked = gather(logp)",
            "sums = sum(picked, axes [0, 1])",
            "total = reshape(sums)",
            "mean = total / 3",
            "L = -mean",
        ],
        "{steps:?}"
    );
    // The loss is a real cross-entropy: between 0 and a few nats for 10 classes at the start.
    let loss = v["loss"].as_f64().unwrap();
    assert!(loss > 0.5 && loss < 10.0, "{loss}");
}

#[test]
fn bad_settings_are_refused() {
    assert_bad_input(&["explain", "--tensor", "--batch", "0"], "--batch 0");
    assert_bad_input(
        &["explain", "--tensor", "--batch", "100000"],
        "--batch 100000",
    );
    assert_bad_input(
        &["explain", "--tensor", "--model", "64-32-3"],
        "the last width must be 10",
    );
    assert_bad_input(&["explain", "--tensor", "--model", "c4-x-10"], "'x'");
    assert_bad_input(&["explain", "--tensor", "--data", "nope"], "nope");
    assert_bad_input(&["explain", "--tensor", "x^2"], "cannot be used with");
    assert_bad_input(&["explain", "--model", "c4-10", "x^2"], "--tensor");
    assert_bad_input(&["explain"], "required arguments");
    assert_bad_input(
        &["explain", "--tensor", "--model", "c100000-c100000-10"],
        "parameters",
    );
}
