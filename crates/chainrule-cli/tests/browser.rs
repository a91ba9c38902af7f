//! The HTML pages in a real browser: runs `tests/browser/report.test.mjs` (Playwright driving
//! Chromium), which steps through whole reports and checks every number against `grad --json`,
//! and checks the page of `train --report` against the run's `--json` numbers.
//!
//! It needs `node`, `/usr/bin/chromium` and `npm ci` in `tests/browser` (`.ci/browser-setup` does
//! both). Without them the test says what is missing and passes, unless
//! `CHAINRULE_REQUIRE_BROWSER=1`, in which case it fails.

use std::path::Path;
use std::process::Command;

#[test]
fn the_report_steps_through_both_passes_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("tests/browser");
    let required = std::env::var("CHAINRULE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node is not installed");
    }
    if !Path::new("/usr/bin/chromium").exists() {
        missing.push("/usr/bin/chromium is not installed");
    }
    if !dir.join("node_modules/playwright-core").exists() {
        missing.push("tests/browser/node_modules is missing (run npm ci there)");
    }
    if !missing.is_empty() {
        let why = format!(
            "browser test skipped: {} (.ci/browser-setup installs everything)",
            missing.join("; ")
        );
        assert!(!required, "CHAINRULE_REQUIRE_BROWSER=1 but {why}");
        eprintln!("{why}");
        return;
    }
    let o = Command::new("node")
        .arg("report.test.mjs")
        .current_dir(&dir)
        .env("CHAINRULE_BIN", env!("CARGO_BIN_EXE_chainrule"))
        .output()
        .expect("node runs");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    println!("{out}");
    eprintln!("{err}");
    assert!(o.status.success(), "the browser test failed:\n{out}\n{err}");
    assert!(out.contains("ok seed") && out.contains("ok loss") && out.contains("ok square"));
    assert!(out.contains("ok training page"));
}
