//! Writing files without ever leaving a half-written one behind.

use std::path::Path;

use crate::error::CliError;

/// Writes `contents` to `path` atomically (see [`chainrule::util::files::write_atomically`]), with an
/// error that names the file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), CliError> {
    chainrule::util::files::write_atomically(path, contents).map_err(|e| {
        CliError::input(format!(
            "cannot write {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })
}

/// An I/O error's reason without the "(os error N)" suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// The extension of `path` in lower case (`PNG` and `png` name the same format).
pub fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}
