//! Reading a dataset from CSV: a header row, numeric features and one target column.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use super::{DataError, Dataset, Targets};

/// The longest line [`Dataset::from_csv`] reads by default: 1 MiB (about 100,000 numbers).
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Which column holds the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetColumn {
    /// The column with this header name (needs a header row).
    Name(String),
    /// The column at this position, counted from 0.
    Index(usize),
    /// The last column.
    Last,
}

impl From<&str> for TargetColumn {
    fn from(name: &str) -> Self {
        TargetColumn::Name(name.to_string())
    }
}

impl From<String> for TargetColumn {
    fn from(name: String) -> Self {
        TargetColumn::Name(name)
    }
}

impl From<usize> for TargetColumn {
    fn from(index: usize) -> Self {
        TargetColumn::Index(index)
    }
}

/// What the target column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// Class labels, strings or integers, mapped to `0..k` in sorted order (numerically when
    /// every label is a number, otherwise as strings); the original labels are kept as the class
    /// names.
    Classes,
    /// Numbers to predict.
    Regression,
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The target column (by default the last one).
    pub target: TargetColumn,
    /// Whether the target is a class or a number (by default a class).
    pub kind: TargetKind,
    /// Whether the first non-blank line names the columns (by default yes).
    pub has_header: bool,
    /// The field separator (by default `,`).
    pub delimiter: u8,
    /// The longest line accepted, in bytes; a longer line is an error, found without reading the
    /// whole line into memory.
    pub max_line_bytes: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            target: TargetColumn::Last,
            kind: TargetKind::Classes,
            has_header: true,
            delimiter: b',',
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

impl CsvOptions {
    /// Classification on the column `target` (a name or a 0-based index), with a header row.
    pub fn classes(target: impl Into<TargetColumn>) -> Self {
        CsvOptions {
            target: target.into(),
            ..Self::default()
        }
    }

    /// Regression on the column `target` (a name or a 0-based index), with a header row.
    pub fn regression(target: impl Into<TargetColumn>) -> Self {
        CsvOptions {
            target: target.into(),
            kind: TargetKind::Regression,
            ..Self::default()
        }
    }

    /// The same options for a file without a header row.
    pub fn without_header(mut self) -> Self {
        self.has_header = false;
        self
    }
}

enum LineRead {
    Eof,
    Line,
    TooLong,
}

/// Reads one line (without its `\n`) into `buf`, refusing to buffer more than `limit` bytes.
fn read_line_capped<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<LineRead> {
    buf.clear();
    let mut any = false;
    loop {
        let available = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if any {
                finish_line(buf, limit)
            } else {
                LineRead::Eof
            });
        }
        any = true;
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                // One byte more than the limit is buffered, for a `\r` before the `\n`.
                if buf.len() + i > limit + 1 {
                    return Ok(LineRead::TooLong);
                }
                buf.extend_from_slice(&available[..i]);
                r.consume(i + 1);
                return Ok(finish_line(buf, limit));
            }
            None => {
                let n = available.len();
                if buf.len() + n > limit + 1 {
                    return Ok(LineRead::TooLong);
                }
                buf.extend_from_slice(available);
                r.consume(n);
            }
        }
    }
}

fn finish_line(buf: &mut Vec<u8>, limit: usize) -> LineRead {
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    if buf.len() > limit {
        LineRead::TooLong
    } else {
        LineRead::Line
    }
}

/// Splits a line into fields; a field may be quoted (`"a, b"`, with `""` for a quote inside).
/// Returns `None` for an unclosed quote.
fn split_fields<'a>(line: &'a str, delimiter: char, out: &mut Vec<Cow<'a, str>>) -> Option<()> {
    out.clear();
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if let Some(quoted) = trimmed.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end;
            loop {
                match chars.next() {
                    None => return None,
                    Some((i, '"')) => {
                        if quoted[i + 1..].starts_with('"') {
                            value.push('"');
                            chars.next();
                        } else {
                            end = i + 1;
                            break;
                        }
                    }
                    Some((_, c)) => value.push(c),
                }
            }
            // Text between the closing quote and the delimiter belongs to the field, as in
            // Python's csv module (`"a"b` reads as `ab`).
            let after = &quoted[end..];
            match after.find(delimiter) {
                Some(j) => {
                    value.push_str(&after[..j]);
                    out.push(Cow::Owned(value));
                    rest = &after[j + delimiter.len_utf8()..];
                }
                None => {
                    value.push_str(after);
                    out.push(Cow::Owned(value));
                    return Some(());
                }
            }
        } else {
            match rest.find(delimiter) {
                Some(j) => {
                    out.push(Cow::Borrowed(&rest[..j]));
                    rest = &rest[j + delimiter.len_utf8()..];
                }
                None => {
                    out.push(Cow::Borrowed(rest));
                    return Some(());
                }
            }
        }
    }
}

fn parse_number(field: &str) -> Option<f32> {
    field.trim().parse::<f32>().ok().filter(|x| x.is_finite())
}

impl Dataset {
    /// Reads a CSV file: one row per sample, numeric features, and the target column chosen in
    /// `options`.
    ///
    /// Blank lines are skipped; fields may be quoted. Errors name the file, the line and the
    /// field, and are never panics: a row with the wrong number of fields, a feature that is not
    /// a finite number, a target column that does not exist, an empty file, text that is not
    /// UTF-8, or a line longer than [`CsvOptions::max_line_bytes`] (found without reading it
    /// whole).
    ///
    /// ```no_run
    /// use chainrule::data::{CsvOptions, Dataset};
    ///
    /// let houses = Dataset::from_csv("houses.csv", &CsvOptions::regression("price"))?;
    /// # Ok::<(), chainrule::data::DataError>(())
    /// ```
    pub fn from_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset, DataError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| DataError::io(&name, e))?;
        Self::from_csv_reader(BufReader::new(file), &name, options)
    }

    /// Reads CSV text already in memory; `source` names it in errors.
    ///
    /// ```
    /// use chainrule::data::{CsvOptions, Dataset};
    ///
    /// let csv = "height,weight,size\n1.8,80,L\n1.6,55,S\n1.7,70,M\n";
    /// let d = Dataset::from_csv_str(csv, "people.csv", &CsvOptions::classes("size")).unwrap();
    /// assert_eq!(d.feature_names.as_deref(), Some(&["height".to_string(), "weight".to_string()][..]));
    /// assert_eq!(d.class_names(), &["L", "M", "S"]); // sorted
    /// assert_eq!(d.labels(), Some(&[0, 2, 1][..]));
    /// ```
    pub fn from_csv_str(
        text: &str,
        source: &str,
        options: &CsvOptions,
    ) -> Result<Dataset, DataError> {
        Self::from_csv_reader(text.as_bytes(), source, options)
    }

    /// Reads CSV from any buffered reader; `source` names it in errors.
    pub fn from_csv_reader<R: BufRead>(
        mut reader: R,
        source: &str,
        options: &CsvOptions,
    ) -> Result<Dataset, DataError> {
        if !options.delimiter.is_ascii() || options.delimiter == b'"' || options.delimiter == b'\n'
        {
            return Err(DataError::invalid(format!(
                "{source}: the delimiter must be an ASCII character other than a quote or a newline"
            )));
        }
        let delimiter = options.delimiter as char;
        let path = source;
        let mut buf = Vec::new();
        let mut line_no = 0usize;

        let mut header: Option<Vec<String>> = None;
        let mut n_cols = 0usize;
        let mut target_col = 0usize;
        let mut features = Vec::new();
        let mut n_samples = 0usize;
        let mut raw_classes: Vec<usize> = Vec::new();
        let mut class_ids: HashMap<String, usize> = HashMap::new();
        let mut class_texts: Vec<String> = Vec::new();
        let mut values: Vec<f32> = Vec::new();
        let mut first = true;

        loop {
            match read_line_capped(&mut reader, &mut buf, options.max_line_bytes)
                .map_err(|e| DataError::io(path, e))?
            {
                LineRead::Eof => break,
                LineRead::TooLong => {
                    return Err(DataError::LineTooLong {
                        path: path.to_string(),
                        line: line_no + 1,
                        limit: options.max_line_bytes,
                    })
                }
                LineRead::Line => {}
            }
            line_no += 1;
            let mut text = std::str::from_utf8(&buf).map_err(|_| DataError::NotUtf8 {
                path: path.to_string(),
                line: line_no,
            })?;
            if line_no == 1 {
                text = text.strip_prefix('\u{feff}').unwrap_or(text);
            }
            if text.trim().is_empty() {
                continue;
            }
            let mut fields: Vec<Cow<str>> = Vec::with_capacity(n_cols);
            split_fields(text, delimiter, &mut fields).ok_or_else(|| DataError::UnclosedQuote {
                path: path.to_string(),
                line: line_no,
            })?;

            if first {
                first = false;
                n_cols = fields.len();
                if options.has_header {
                    header = Some(fields.iter().map(|f| f.trim().to_string()).collect());
                }
                target_col = resolve_target(path, &options.target, n_cols, header.as_deref())?;
                if options.has_header {
                    continue;
                }
            }

            if fields.len() != n_cols {
                return Err(DataError::Ragged {
                    path: path.to_string(),
                    line: line_no,
                    expected: n_cols,
                    found: fields.len(),
                });
            }
            for (c, field) in fields.iter().enumerate() {
                let not_a_number = || DataError::NotANumber {
                    path: path.to_string(),
                    line: line_no,
                    column: header.as_ref().map(|h| h[c].clone()),
                    column_number: c + 1,
                    field: field.to_string(),
                };
                if c == target_col {
                    match options.kind {
                        TargetKind::Regression => {
                            values.push(parse_number(field).ok_or_else(not_a_number)?)
                        }
                        TargetKind::Classes => {
                            let label = field.trim();
                            if label.is_empty() {
                                return Err(DataError::EmptyLabel {
                                    path: path.to_string(),
                                    line: line_no,
                                    column: header.as_ref().map(|h| h[c].clone()),
                                    column_number: c + 1,
                                });
                            }
                            let id = match class_ids.get(label) {
                                Some(&id) => id,
                                None => {
                                    let id = class_texts.len();
                                    class_ids.insert(label.to_string(), id);
                                    class_texts.push(label.to_string());
                                    id
                                }
                            };
                            raw_classes.push(id);
                        }
                    }
                } else {
                    features.push(parse_number(field).ok_or_else(not_a_number)?);
                }
            }
            n_samples += 1;
        }

        if first {
            return Err(DataError::Empty {
                path: path.to_string(),
                what: if options.has_header {
                    "no header row"
                } else {
                    "no data rows"
                },
            });
        }
        if n_samples == 0 {
            return Err(DataError::Empty {
                path: path.to_string(),
                what: "no data rows",
            });
        }

        let targets = match options.kind {
            TargetKind::Regression => Targets::Values(values),
            TargetKind::Classes => {
                let (labels, names) = sort_classes(&raw_classes, class_texts);
                Targets::Classes {
                    labels,
                    n_classes: names.len(),
                    names,
                }
            }
        };
        let feature_names = header.map(|mut h| {
            h.remove(target_col);
            h
        });
        Ok(Dataset {
            features,
            n_samples,
            n_features: n_cols - 1,
            feature_names,
            image: None,
            targets,
        })
    }
}

fn resolve_target(
    path: &str,
    target: &TargetColumn,
    n_cols: usize,
    header: Option<&[String]>,
) -> Result<usize, DataError> {
    let columns = || match header {
        Some(h) => h.to_vec(),
        None => (1..=n_cols).map(|c| format!("column {c}")).collect(),
    };
    let missing = |what: String| DataError::MissingTarget {
        path: path.to_string(),
        target: what,
        columns: columns(),
    };
    match target {
        TargetColumn::Last => Ok(n_cols - 1),
        TargetColumn::Index(i) if *i < n_cols => Ok(*i),
        TargetColumn::Index(i) => Err(missing(format!("at index {i} (counting from 0)"))),
        TargetColumn::Name(name) => match header {
            None => Err(missing(format!(
                "'{name}' (the file has no header row; give the target by index)"
            ))),
            Some(h) => h
                .iter()
                .position(|c| c == name.trim())
                .ok_or_else(|| missing(format!("'{name}'"))),
        },
    }
}

/// Maps provisional class ids (in order of first appearance) to ids in sorted label order.
fn sort_classes(raw: &[usize], texts: Vec<String>) -> (Vec<usize>, Vec<String>) {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    let numbers: Option<Vec<f64>> = texts.iter().map(|t| t.parse::<f64>().ok()).collect();
    match numbers {
        Some(n) if n.iter().all(|x| x.is_finite()) => {
            order.sort_by(|&a, &b| n[a].total_cmp(&n[b]).then_with(|| texts[a].cmp(&texts[b])))
        }
        _ => order.sort_by(|&a, &b| texts[a].cmp(&texts[b])),
    }
    let mut new_id = vec![0; texts.len()];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = new;
    }
    let mut texts: Vec<Option<String>> = texts.into_iter().map(Some).collect();
    let names = order
        .iter()
        .map(|&old| texts[old].take().unwrap())
        .collect();
    (raw.iter().map(|&r| new_id[r]).collect(), names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read(text: &str, options: &CsvOptions) -> Result<Dataset, DataError> {
        Dataset::from_csv_str(text, "data.csv", options)
    }

    fn err(text: &str, options: &CsvOptions) -> String {
        read(text, options).unwrap_err().to_string()
    }

    const IRIS_LIKE: &str = "sepal_length,sepal_width,petal_length,petal_width,species\n\
        5.1,3.5,1.4,0.2,setosa\n\
        7.0,3.2,4.7,1.4,versicolor\n\
        6.3,3.3,6.0,2.5,virginica\n\
        4.9,3.0,1.4,0.2,setosa\n";

    #[test]
    fn reads_header_features_and_string_classes() {
        let d = read(IRIS_LIKE, &CsvOptions::classes("species")).unwrap();
        assert_eq!((d.n_samples, d.n_features), (4, 4));
        assert_eq!(d.feature_names.as_ref().unwrap()[3], "petal_width");
        assert_eq!(d.row(1), &[7.0, 3.2, 4.7, 1.4]);
        assert_eq!(d.labels().unwrap(), &[0, 1, 2, 0]);
        assert_eq!(d.class_names(), &["setosa", "versicolor", "virginica"]);
        // The default target is the last column.
        assert_eq!(read(IRIS_LIKE, &CsvOptions::default()).unwrap(), d);
    }

    #[test]
    fn integer_labels_sort_numerically_and_keep_their_text() {
        let d = read("x,y\n1,10\n2,9\n3,2\n4,10\n", &CsvOptions::default()).unwrap();
        assert_eq!(d.class_names(), &["2", "9", "10"]);
        assert_eq!(d.labels().unwrap(), &[2, 1, 0, 2]);
    }

    #[test]
    fn target_in_the_middle_by_index_and_regression() {
        let d = read("a,t,b\n1,0.5,2\n3,1.5,4\n", &CsvOptions::regression(1)).unwrap();
        assert_eq!(d.features, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.values().unwrap(), &[0.5, 1.5]);
        assert_eq!(
            d.feature_names,
            Some(vec!["a".to_string(), "b".to_string()])
        );
    }

    #[test]
    fn no_header_quotes_crlf_blank_lines_and_bom() {
        let text = "\u{feff}1, 2 ,\"cat, big\"\r\n\r\n3,4,\"dog\"\"s\"\r\n";
        let d = read(text, &CsvOptions::default().without_header()).unwrap();
        assert_eq!(d.features, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.class_names(), &["cat, big", "dog\"s"]);
        assert!(d.feature_names.is_none());
        let semicolons = CsvOptions {
            delimiter: b';',
            ..CsvOptions::default()
        };
        let d = read("a;b\n1,5;x\n", &semicolons);
        assert!(d.is_err(), "1,5 is not a number with ';' as delimiter");
        let d = read("a;b\n1.5;x\n", &semicolons).unwrap();
        assert_eq!(d.features, vec![1.5]);
    }

    #[test]
    fn ragged_rows_name_the_line() {
        let text = "a,b,c,d,e\n1,2,3,4,x\n1,2,3,x\n";
        assert_eq!(
            err(text, &CsvOptions::default()),
            "data.csv:3: expected 5 fields, found 4"
        );
    }

    #[test]
    fn non_numeric_fields_name_line_column_and_text() {
        let text = IRIS_LIKE.replace("6.0,2.5", "6.0,abc");
        assert_eq!(
            err(&text, &CsvOptions::default()),
            "data.csv:4, column 'petal_width' (4): 'abc' is not a number"
        );
        assert_eq!(
            err("1,,x\n", &CsvOptions::default().without_header()),
            "data.csv:1, column 2: empty field, expected a number"
        );
        assert!(err("a,b\nNaN,1\n", &CsvOptions::default()).contains("'NaN' is not a number"));
        assert!(err("a,b\n1,inf\n", &CsvOptions::regression("b")).contains("'inf'"));
    }

    #[test]
    fn a_missing_target_lists_the_columns() {
        assert_eq!(
            err(IRIS_LIKE, &CsvOptions::classes("class")),
            "data.csv: no target column 'class'; the columns are 'sepal_length', \
             'sepal_width', 'petal_length', 'petal_width', 'species'"
        );
        assert!(err(IRIS_LIKE, &CsvOptions::classes(5)).contains("at index 5"));
        assert!(err("1,2\n", &CsvOptions::classes("y").without_header()).contains("no header"));
    }

    #[test]
    fn empty_files_and_header_only_files() {
        assert_eq!(
            err("", &CsvOptions::default()),
            "data.csv: empty file (no header row)"
        );
        assert_eq!(
            err("\n  \n", &CsvOptions::default().without_header()),
            "data.csv: empty file (no data rows)"
        );
        assert_eq!(
            err("a,b\n", &CsvOptions::default()),
            "data.csv: empty file (no data rows)"
        );
    }

    #[test]
    fn invalid_utf8_and_unclosed_quotes() {
        let bytes: &[u8] = b"a,b\n1,x\n2,\xff\xfe\n";
        let e = Dataset::from_csv_reader(bytes, "data.csv", &CsvOptions::default()).unwrap_err();
        assert_eq!(e.to_string(), "data.csv:3: not valid UTF-8 text");
        assert_eq!(
            err("a,b\n1,\"x\n", &CsvOptions::default()),
            "data.csv:2: a quoted field is not closed on its line"
        );
        let d = read("a,b\n\"1\" ,\"x\"y\n", &CsvOptions::default()).unwrap();
        assert_eq!(d.features, vec![1.0]);
        assert_eq!(d.class_names(), &["xy"]);
    }

    #[test]
    fn an_empty_class_label_is_an_error() {
        assert_eq!(
            err("a,label\n1,x\n2, \n", &CsvOptions::default()),
            "data.csv:3, column 'label' (2): empty class label"
        );
        assert_eq!(
            err("1,\n", &CsvOptions::default().without_header()),
            "data.csv:1, column 2: empty class label"
        );
    }

    /// An endless reader: a line that never ends.
    struct Endless(usize);
    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(b'1');
            self.0 += buf.len();
            Ok(buf.len())
        }
    }

    #[test]
    fn a_huge_line_fails_without_being_read_whole() {
        let mut endless = Endless(0);
        let options = CsvOptions {
            max_line_bytes: 1000,
            ..CsvOptions::default()
        };
        let e = Dataset::from_csv_reader(
            BufReader::with_capacity(256, &mut endless),
            "big.csv",
            &options,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "big.csv:1: line longer than 1000 bytes (not a CSV file, or raise the limit)"
        );
        assert!(endless.0 < 2000, "read {} bytes", endless.0);
        // With the default limit too: a gigabyte-long line stops after about a megabyte.
        let mut endless = Endless(0);
        let e = Dataset::from_csv_reader(
            BufReader::new(&mut endless),
            "big.csv",
            &CsvOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, DataError::LineTooLong { line: 1, .. }));
        assert!(endless.0 <= DEFAULT_MAX_LINE_BYTES + 16 * 1024);
        // A line exactly at the limit is fine, with or without `\r`.
        let line = format!("a\n{}\r\n", "7".repeat(1000));
        let d = read(
            &line,
            &CsvOptions {
                max_line_bytes: 1000,
                ..CsvOptions::default().without_header()
            },
        );
        assert!(d.is_ok(), "{d:?}");
    }

    #[test]
    fn from_csv_reads_a_file_and_names_it_in_errors() {
        let dir = std::env::temp_dir().join(format!("chainrule-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.csv");
        std::fs::write(&good, IRIS_LIKE).unwrap();
        let d = Dataset::from_csv(&good, &CsvOptions::default()).unwrap();
        assert_eq!(d.n_samples, 4);
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "a,b\n1\n").unwrap();
        let e = Dataset::from_csv(&bad, &CsvOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}:2: expected 2 fields, found 1", bad.display())
        );
        let e = Dataset::from_csv(dir.join("none.csv"), &CsvOptions::default()).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
