//! Replays the fuzzing corpus (`fuzz/corpus/<target>/`) and every input the fuzzer ever found to
//! crash (`tests/fuzz_regressions/<target>/`) through the same entry points the fuzz targets
//! call, so that CI checks them in seconds without a fuzzer. See FUZZING.md.

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/entry_points.rs"]
mod entry_points;

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = inputs(&root.join("../../fuzz/corpus").join(target));
    assert!(!corpus.is_empty(), "no seed corpus for {target}");
    let regressions = inputs(&root.join("tests/fuzz_regressions").join(target));
    for path in corpus.iter().chain(&regressions) {
        let bytes = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
    }
}

#[test]
fn expr_corpus() {
    replay("expr", entry_points::expr);
}

#[test]
fn csv_corpus() {
    replay("csv", entry_points::csv);
}

#[test]
fn idx_corpus() {
    replay("idx", entry_points::idx);
}

#[test]
fn model_file_corpus() {
    replay("model_file", entry_points::model_file);
}
