//! `chainrule train --model gpt` and `chainrule generate` as a user runs them: a tiny run on a
//! small text, its JSON, files, resuming, streaming generation, and every kind of bad input
//! refused with exit 2 and nothing overwritten.

mod common;
use common::*;

use std::fs;
use std::path::Path;

use serde_json::Value;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A small text and the flags of a tiny, quick model.
fn setup(name: &str) -> (std::path::PathBuf, String) {
    let dir = scratch(name);
    let text = dir.join("play.txt");
    fs::write(
        &text,
        "ROMEO.\nBut soft, what light through yonder window breaks?\n\nJULIET.\nAy me.\n\n"
            .repeat(30),
    )
    .unwrap();
    (dir, p(&text).to_string())
}

const TINY: [&str; 18] = [
    "--steps",
    "30",
    "--context",
    "16",
    "--layers",
    "1",
    "--heads",
    "2",
    "--channels",
    "16",
    "--batch",
    "4",
    "--warmup",
    "5",
    "--eval-every",
    "10",
    "--eval-batches",
    "2",
];

fn train(text: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["train", "--data", text, "--model", "gpt"];
    args.extend(TINY);
    args.extend(extra);
    chainrule(&args)
}

#[test]
fn a_tiny_run_reports_json_saves_a_model_and_generates_deterministically() {
    let (dir, text) = setup("gpt-run");
    let model = dir.join("m.safetensors");
    let plot = dir.join("loss.png");
    let attention = dir.join("attention.svg");
    let o = train(
        &text,
        &[
            "--json",
            "--lr",
            "0.01",
            "--save",
            p(&model),
            "--plot",
            p(&plot),
            "--attention",
            p(&attention),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    for k in [
        "train_loss",
        "val_loss",
        "steps",
        "seconds",
        "tokens_per_second",
    ] {
        assert!(v.get(k).is_some(), "{k} missing from {v}");
    }
    assert_eq!(v["steps"], 30);
    // 30 steps take the loss well below that of a uniform guess over the 35 characters.
    assert!(v["val_loss"].as_f64().unwrap() < 35f64.ln() - 0.5, "{v}");
    assert!(fs::metadata(&plot).unwrap().len() > 1000);
    assert!(fs::read_to_string(&attention).unwrap().contains("<svg"));

    let gen = |seed: &str| {
        let o = chainrule(&[
            "generate",
            "--model",
            p(&model),
            "--prompt",
            "ROMEO.\n",
            "--tokens",
            "40",
            "--seed",
            seed,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let a = gen("1");
    assert!(
        a.starts_with("ROMEO.\n") && a.chars().count() == 7 + 40 + 1,
        "{a:?}"
    );
    assert_eq!(a, gen("1"));
    assert_ne!(a, gen("2"));

    // A GPT is not for predict, nor an MLP for generate.
    assert_bad_input(
        &["predict", "--model", p(&model), "--data", "iris"],
        "this is a language model (chainrule train --model gpt): give it to chainrule generate",
    );
    let mlp = dir.join("mlp.safetensors");
    let o = chainrule(&[
        "train",
        "--data",
        "iris",
        "--epochs",
        "1",
        "--save",
        p(&mlp),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_bad_input(
        &["generate", "--model", p(&mlp)],
        "not a language model (it was not saved by chainrule train --model gpt)",
    );
    // Prompts the model cannot read.
    assert_bad_input(
        &["generate", "--model", p(&model), "--prompt", "Zebra quest"],
        "--prompt: 'Z', 'q' are not in the vocabulary",
    );
    let long = "a".repeat(17);
    assert_bad_input(
        &["generate", "--model", p(&model), "--prompt", &long],
        "--prompt has 17 characters, more than the model's context of 16",
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoint_resumes_with_its_settings_and_refuses_others() {
    // (Resuming mid-run bit for bit is tests/gpt.rs's in the library; here the command line.)
    let (dir, text) = setup("gpt-resume");
    let (ckpt, model, again) = (
        dir.join("ckpt.safetensors"),
        dir.join("model.safetensors"),
        dir.join("again.safetensors"),
    );
    let o = train(&text, &["--checkpoint", p(&ckpt), "--save", p(&model)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_bad_input(
        &["train", "--resume", p(&ckpt), "--steps", "40"],
        "--steps 40, but the checkpoint",
    );
    assert_bad_input(
        &["train", "--resume", p(&ckpt), "--data", "shakespeare"],
        "--data shakespeare, but the checkpoint was made with --data",
    );
    // Every setting comes from the checkpoint; the run is done, so the model is the same.
    let o = chainrule(&["train", "--resume", p(&ckpt), "--save", p(&again), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read(&again).unwrap(), fs::read(&model).unwrap());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_text_and_settings_are_refused_and_nothing_is_overwritten() {
    let dir = scratch("gpt-bad");
    let keep = dir.join("keep.safetensors");
    fs::write(&keep, "precious").unwrap();
    let empty = dir.join("empty.txt");
    fs::write(&empty, "").unwrap();
    let one = dir.join("one.txt");
    fs::write(&one, "x").unwrap();
    let latin1 = dir.join("latin1.txt");
    fs::write(&latin1, b"caf\xe9 cr\xe8me\n").unwrap();
    let save = ["--save", p(&keep)];
    let run = |data: &Path, extra: &[&str], needle: &str| {
        let mut args = vec!["train", "--data", p(data), "--model", "gpt"];
        args.extend(extra);
        args.extend(save);
        assert_bad_input(&args, needle);
    };
    run(&empty, &[], "the text is empty");
    run(&one, &[], "the text has only one distinct character ('x')");
    run(
        &latin1,
        &[],
        "is not UTF-8 text: byte 0xE9 at offset 3 does not make a valid character",
    );
    let short = dir.join("short.txt");
    fs::write(&short, "abcdefghij".repeat(20)).unwrap();
    run(
        &short,
        &[],
        "--context 64 needs parts of at least 65 characters",
    );
    run(
        &short,
        &["--heads", "3", "--context", "8"],
        "3 heads do not divide 128 channels",
    );
    // The attention prompt is checked before any training, against the text's vocabulary.
    run(
        &short,
        &["--context", "8", "--attention-prompt", "abz"],
        "--attention-prompt: 'z' is not in the vocabulary",
    );
    run(
        &short,
        &["--context", "8", "--attention-prompt", "abcabcabc"],
        "--attention-prompt has 9 characters; it needs 1 to the context's 8",
    );
    run(
        &short,
        &["--epochs", "3"],
        "--epochs is not a setting of --model gpt (use --steps)",
    );
    run(
        &short,
        &["--optimizer", "sgd"],
        "--model gpt trains with adamw, not sgd",
    );
    assert_bad_input(
        &["train", "--data", "iris", "--steps", "10"],
        "--steps is a setting of --model gpt, not of an MLP",
    );
    assert_bad_input(
        &["train", "--data", "nope.txt", "--model", "gpt"],
        "'nope.txt' is neither the shipped text (shakespeare) nor a file",
    );
    assert_eq!(fs::read_to_string(&keep).unwrap(), "precious");
    fs::remove_dir_all(&dir).unwrap();
}
