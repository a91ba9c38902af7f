//! The errors of loading data: values that say which file, which line and which field.

use std::fmt;
use std::io;

/// What went wrong while reading a dataset, with where it went wrong.
///
/// Every variant names the source (a file path, or a label such as `<digits>` for embedded data);
/// line numbers count from 1 and include the header row; column numbers count from 1.
///
/// ```
/// use chainrule::data::{CsvOptions, Dataset};
///
/// let csv = "a,b,label\n1,2,x\n3,oops,y\n";
/// let err = Dataset::from_csv_str(csv, "data.csv", &CsvOptions::default()).unwrap_err();
/// assert_eq!(err.to_string(), "data.csv:3, column 'b' (2): 'oops' is not a number");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file holds no data (no rows, or only a header).
    Empty {
        /// The file.
        path: String,
        /// What was missing ("no header row", "no data rows").
        what: &'static str,
    },
    /// A line is not valid UTF-8.
    NotUtf8 {
        /// The file.
        path: String,
        /// The line.
        line: usize,
    },
    /// A line is longer than the configured maximum; reading stopped before the end of it.
    LineTooLong {
        /// The file.
        path: String,
        /// The line.
        line: usize,
        /// The maximum, in bytes.
        limit: usize,
    },
    /// A row with a different number of fields than the first row.
    Ragged {
        /// The file.
        path: String,
        /// The line.
        line: usize,
        /// The number of fields of the first row.
        expected: usize,
        /// The number found on this line.
        found: usize,
    },
    /// A quoted field that is not closed on its line.
    UnclosedQuote {
        /// The file.
        path: String,
        /// The line.
        line: usize,
    },
    /// A feature (or regression target) that is not a finite number.
    NotANumber {
        /// The file.
        path: String,
        /// The line.
        line: usize,
        /// The column's name (from the header), or `None` without a header.
        column: Option<String>,
        /// The column's number, from 1.
        column_number: usize,
        /// The offending text.
        field: String,
    },
    /// A row whose class label is empty.
    EmptyLabel {
        /// The file.
        path: String,
        /// The line.
        line: usize,
        /// The target column's name (from the header), or `None` without a header.
        column: Option<String>,
        /// The target column's number, from 1.
        column_number: usize,
    },
    /// The target column named or numbered in the options does not exist.
    MissingTarget {
        /// The file.
        path: String,
        /// The target asked for.
        target: String,
        /// The columns there are.
        columns: Vec<String>,
    },
    /// A malformed IDX file (bad magic number, unsupported type, size disagreeing with the header).
    Idx {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Two files that must describe the same samples do not agree (for example an IDX image file
    /// and its label file, with different counts).
    Mismatch {
        /// What disagrees, naming both files.
        message: String,
    },
    /// A name given to [`open`](super::open) that is neither a known dataset nor a file.
    UnknownDataset {
        /// The name given.
        name: String,
    },
    /// A file given to [`open`](super::open) without the CSV column to predict or the IDX labels.
    NoTarget {
        /// The file.
        name: String,
    },
    /// A known dataset given a CSV target column or IDX labels, which are for files.
    NotAFile {
        /// The dataset's name.
        name: String,
    },
    /// A dataset installed from a package (Fashion-MNIST) that is not there.
    NotInstalled {
        /// The dataset's name (`fashion-mnist`).
        name: String,
        /// The folder looked in.
        folder: String,
        /// What is missing.
        reason: String,
        /// The command that installs it.
        install: String,
    },
    /// Options or arguments that cannot work (a zero batch size, a test fraction above 1...).
    Invalid {
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { path, source } => write!(f, "{path}: {source}"),
            DataError::Empty { path, what } => write!(f, "{path}: empty file ({what})"),
            DataError::NotUtf8 { path, line } => write!(f, "{path}:{line}: not valid UTF-8 text"),
            DataError::LineTooLong { path, line, limit } => write!(
                f,
                "{path}:{line}: line longer than {limit} bytes (not a CSV file, or raise the limit)"
            ),
            DataError::Ragged {
                path,
                line,
                expected,
                found,
            } => write!(
                f,
                "{path}:{line}: expected {expected} fields, found {found}"
            ),
            DataError::UnclosedQuote { path, line } => {
                write!(f, "{path}:{line}: a quoted field is not closed on its line")
            }
            DataError::NotANumber {
                path,
                line,
                column,
                column_number,
                field,
            } => {
                write!(f, "{path}:{line}, column ")?;
                match column {
                    Some(name) => write!(f, "'{name}' ({column_number})")?,
                    None => write!(f, "{column_number}")?,
                }
                if field.trim().is_empty() {
                    write!(f, ": empty field, expected a number")
                } else {
                    write!(f, ": '{field}' is not a number")
                }
            }
            DataError::EmptyLabel {
                path,
                line,
                column,
                column_number,
            } => {
                write!(f, "{path}:{line}, column ")?;
                match column {
                    Some(name) => write!(f, "'{name}' ({column_number})")?,
                    None => write!(f, "{column_number}")?,
                }
                write!(f, ": empty class label")
            }
            DataError::MissingTarget {
                path,
                target,
                columns,
            } => {
                write!(f, "{path}: no target column {target}; the columns are ")?;
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "'{c}'")?;
                }
                Ok(())
            }
            DataError::Idx { path, message } => write!(f, "{path}: {message}"),
            DataError::UnknownDataset { name } => write!(
                f,
                "--data: '{name}' is neither a known dataset (digits, iris, moons, \
                 fashion-mnist) nor a file"
            ),
            DataError::NotInstalled {
                name,
                folder,
                reason,
                install,
            } => write!(
                f,
                "--data {name}: not found in {folder} ({reason}); install it with `{install}`, \
                 or give the folder that holds its files with --data-dir DIR"
            ),
            DataError::NoTarget { name } => write!(
                f,
                "--data {name}: give the column to predict with --target COLUMN (or, for an IDX \
                 image file, the labels with --labels FILE)"
            ),
            DataError::NotAFile { name } => write!(
                f,
                "--target and --labels are for files; '{name}' is a known dataset"
            ),
            DataError::Mismatch { message } | DataError::Invalid { message } => {
                write!(f, "{message}")
            }
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl DataError {
    pub(crate) fn io(path: &str, source: io::Error) -> Self {
        DataError::Io {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        DataError::Invalid {
            message: message.into(),
        }
    }
}
