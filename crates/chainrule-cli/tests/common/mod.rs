//! Helpers shared by the CLI's integration tests: run the built binary, read its output, make a
//! scratch folder, and check that bad input is refused the way every subcommand must refuse it.

#![allow(dead_code)] // each test file uses its own subset

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs `chainrule` with `args` and waits for it.
pub fn chainrule(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chainrule"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs `chainrule` with `args`, writing `input` to its standard input.
pub fn chainrule_with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chainrule"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("a pipe");
    // Written from another thread, so that a command that stops reading cannot block the test.
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("the binary ends");
    writer.join().unwrap();
    out
}

/// What the process printed on standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the process printed on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh, empty folder for one test's files.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chainrule-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a command that must fail on bad input: exit 2, an `error:` message naming the problem,
/// nothing on standard output, and no panic.
pub fn assert_bad_input(args: &[&str], needle: &str) {
    assert_bad_input_saying(args, &[needle]);
}

/// [`assert_bad_input`] with several parts the message must contain, from one run.
pub fn assert_bad_input_saying(args: &[&str], needles: &[&str]) {
    let o = chainrule(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "{args:?}: expected '{needle}' in {err}"
        );
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty(), "{args:?}: {}", stdout(&o));
}
