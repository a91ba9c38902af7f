//! Crash safety: a training run killed with SIGKILL at random moments, dozens of times, never
//! leaves a broken checkpoint behind, and resuming from whatever is on disk finishes the run with
//! exactly the weights of a run that was never interrupted.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use chainrule::model_file::ModelFile;

const EPOCHS: &str = "30";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chainrule-crash-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn train(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chainrule"));
    c.args(["train", "--data", "digits", "--epochs", EPOCHS, "--json"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn epoch_of(file: &ModelFile) -> usize {
    file.metadata["checkpoint_epoch"]
        .parse()
        .expect("an epoch number")
}

fn weights(path: &Path) -> Vec<(String, Vec<u32>)> {
    let file = ModelFile::load(path).unwrap_or_else(|e| panic!("{e}"));
    file.tensors
        .iter()
        .filter(|t| !t.name.starts_with("optim."))
        .map(|t| (t.name.clone(), t.data.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

#[test]
fn sigkill_at_random_moments_never_breaks_the_checkpoint_and_resume_finishes_the_run() {
    let dir = scratch("kill");
    let reference = dir.join("reference.safetensors");
    let out = train(&["--save", reference.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ckpt = dir.join("ckpt.safetensors");
    let ckpt_arg = ckpt.to_str().unwrap().to_string();
    // A fixed sequence of pseudo-random delays (xorshift), so a failure can be replayed.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next_delay = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        Duration::from_millis(5 + state % 120)
    };
    // Kill runs until dozens of kills have landed; a run that gets to the end instead is checked
    // against the reference and the next one starts afresh, so the test does not depend on how
    // fast this machine trains.
    let mut last_epoch = 0;
    let (mut kills, mut completed) = (0, 0);
    for _ in 0..400 {
        if kills >= 30 {
            break;
        }
        let mut args = vec!["--checkpoint", ckpt_arg.as_str()];
        if ckpt.exists() {
            args.extend(["--resume", ckpt_arg.as_str()]);
        }
        let mut child = train(&args).spawn().unwrap();
        sleep(next_delay());
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            kills += 1;
        }
        let status = child.wait().unwrap();
        // Whatever the moment, the file on disk is a complete checkpoint, never older than the
        // last one seen: the previous state or a newer one.
        if ckpt.exists() {
            let file = ModelFile::load(&ckpt).unwrap_or_else(|e| panic!("after a kill: {e}"));
            let epoch = epoch_of(&file);
            assert!(
                epoch >= last_epoch,
                "the checkpoint went back from epoch {last_epoch} to {epoch}"
            );
            last_epoch = epoch;
        } else {
            assert_eq!(last_epoch, 0, "the checkpoint disappeared");
        }
        if status.success() {
            assert_eq!(
                weights(&ckpt),
                weights(&reference),
                "a run resumed after kills ended elsewhere"
            );
            completed += 1;
            fs::remove_file(&ckpt).unwrap();
            last_epoch = 0;
        }
    }
    eprintln!("{kills} runs killed, {completed} interrupted runs completed");
    assert!(kills >= 30, "only {kills} runs were killed");

    // Finish from whatever is there and compare with the run that was never interrupted.
    let finished = dir.join("finished.safetensors");
    let mut args = vec!["--save", finished.to_str().unwrap()];
    if ckpt.exists() {
        args.extend(["--resume", ckpt_arg.as_str()]);
    }
    let out = train(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        weights(&finished),
        weights(&reference),
        "resumed weights differ"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn detect_anomaly_names_the_operation_where_training_blew_up() {
    // A learning rate of 1e30 makes the weights, and then the loss, overflow within a few steps.
    let out = Command::new(env!("CARGO_BIN_EXE_chainrule"))
        .args([
            "train",
            "--data",
            "iris",
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
            "--epochs",
            "5",
        ])
        .arg("--detect-anomaly")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("anomaly"),
        "{err}"
    );
    assert!(
        err.contains("src/"),
        "the message names a place in the code: {err}"
    );
    // Without the flag the same run goes on to the end.
    let out = Command::new(env!("CARGO_BIN_EXE_chainrule"))
        .args([
            "train",
            "--data",
            "iris",
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
            "--epochs",
            "5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
