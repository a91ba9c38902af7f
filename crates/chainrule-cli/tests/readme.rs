//! Every `console` block of the README is run: each `$ chainrule ...` command must print exactly
//! the lines shown under it, so the README never drifts from what the tool does.

use std::path::Path;
use std::process::Command;

/// Splits a shell command line on spaces, honouring double and single quotes.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, ' ') => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[test]
fn readme_console_blocks_match_the_tool() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let work = std::env::temp_dir().join(format!("chainrule-readme-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let mut checked = 0;
    let mut lines = readme.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() != "```console" {
            continue;
        }
        let mut block = Vec::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            block.push(l);
        }
        let mut i = 0;
        while i < block.len() {
            let cmd = block[i]
                .strip_prefix("$ chainrule ")
                .expect("a console block starts with a command");
            let mut expected = Vec::new();
            i += 1;
            while i < block.len() && !block[i].starts_with("$ ") {
                expected.push(block[i]);
                i += 1;
            }
            let out = Command::new(env!("CARGO_BIN_EXE_chainrule"))
                .args(shell_words(cmd))
                .current_dir(&work)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let got: Vec<&str> = stdout.lines().collect();
            assert_eq!(got, expected, "README command: chainrule {cmd}");
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} README commands found");
    let _ = std::fs::remove_dir_all(&work);
}
