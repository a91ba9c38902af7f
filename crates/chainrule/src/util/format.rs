//! Text for output, written in one place: numbers for people ([`fmt_num`], [`fmt_sig`]), numbers
//! that read back exactly ([`fmt_exact`]), numbers and strings as JSON ([`json_number`],
//! [`json_string`], [`to_spaced_json`]), text escaped for HTML and XML ([`escape_html`],
//! [`escape_xml`]) and aligned text tables ([`Table`]).
//!
//! Every printed table, explanation, page and JSON line of the library and the command line
//! goes through these, so that a number looks the same wherever it appears.

use std::fmt;
use std::ops::Range;

use serde_json::Value;

/// Formats a number the way a person would read it, to six significant digits: `3`, `0.5`,
/// `0.204082`, `1.5e-8`. (JSON output keeps every bit; this is for text meant to be read.)
///
/// ```
/// use chainrule::util::format::fmt_num;
///
/// assert_eq!(fmt_num(2.0 / 3.0), "0.666667");
/// assert_eq!(fmt_num(1e12), "1000000000000");
/// assert_eq!(fmt_num(1.5e-8), "1.5e-8");
/// ```
pub fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let sci = format!("{v:.5e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent format");
    let exp: i32 = exp.parse().expect("integer exponent");
    if (-4..15).contains(&exp) {
        let decimals = (5 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    } else {
        format!("{}e{exp}", trim_zeros(mantissa))
    }
}

/// Formats a number so that it parses back to exactly the same `f64`: `3`, `0.1`, `1e-300`.
///
/// ```
/// use chainrule::util::format::fmt_exact;
///
/// assert_eq!(fmt_exact(0.1), "0.1");
/// assert_eq!(fmt_exact(-0.0), "-0");
/// ```
pub fn fmt_exact(v: f64) -> String {
    if v == 0.0 && v.is_sign_negative() {
        // -0 and 0 differ (1/-0 is -inf), so the sign must survive printing.
        "-0".to_string()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

/// A number in at most `digits` significant digits: in plain notation when its magnitude is in
/// `plain`, else in scientific notation with trailing zeros dropped (`1.5e-7`, `1e12`).
///
/// The short labels of tables and plots: `fmt_sig(x, 6, 1e-4..1e6)` for a table a person
/// compares down a column, `fmt_sig(x, 3, 1e-3..1e5)` for a legend.
///
/// ```
/// use chainrule::util::format::fmt_sig;
///
/// assert_eq!(fmt_sig(2.0 / 3.0, 6, 1e-4..1e6), "0.666667");
/// assert_eq!(fmt_sig(123456.7, 6, 1e-4..1e6), "123457");
/// assert_eq!(fmt_sig(1e12, 6, 1e-4..1e6), "1e12");
/// assert_eq!(fmt_sig(0.012345, 3, 1e-3..1e5), "0.0123");
/// ```
pub fn fmt_sig(x: f64, digits: usize, plain: Range<f64>) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    if !x.is_finite() {
        return format!("{x}");
    }
    let digits = digits.max(1);
    let a = x.abs();
    if plain.contains(&a) {
        let decimals = (digits as i32 - 1 - a.log10().floor() as i32).max(0) as usize;
        trim_zeros(&format!("{x:.decimals$}")).to_string()
    } else {
        let s = format!("{x:.prec$e}", prec = digits - 1);
        match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim_zeros(m)),
            None => s,
        }
    }
}

/// `1.500` → `1.5`, `2.000` → `2`; text without a decimal point is left alone (`100`).
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A number as a JSON value with every digit kept; `null` for NaN and infinities (JSON has
/// neither).
///
/// ```
/// use chainrule::util::format::json_number;
///
/// assert_eq!(json_number(0.1).to_string(), "0.1");
/// assert_eq!(json_number(f64::NAN).to_string(), "null");
/// ```
pub fn json_number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// A string as JSON text, quoted and escaped.
pub fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// `value` as one line of JSON with a space after each `:` and `,`:
/// `{"value": 5, "variables": ["x", "y"]}`. Numbers and strings are written by `serde_json`, so
/// every `f64` keeps all its digits.
///
/// ```
/// use chainrule::util::format::to_spaced_json;
///
/// let v = serde_json::json!({"value": 5, "variables": ["x", "y"]});
/// assert_eq!(to_spaced_json(&v), r#"{"value": 5, "variables": ["x", "y"]}"#);
/// ```
pub fn to_spaced_json(value: &Value) -> String {
    let mut out = String::new();
    write_spaced(value, &mut out);
    out
}

fn write_spaced(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_spaced(v, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&json_string(k));
                out.push_str(": ");
                write_spaced(v, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Escapes text for HTML content and attribute values (`'` as `&#39;`, which every HTML
/// version reads).
///
/// ```
/// use chainrule::util::format::escape_html;
///
/// assert_eq!(escape_html("a<b & 'c'"), "a&lt;b &amp; &#39;c&#39;");
/// ```
pub fn escape_html(s: &str) -> String {
    escape(s, "&#39;")
}

/// Escapes text for XML (SVG) content and attribute values (`'` as `&apos;`).
pub fn escape_xml(s: &str) -> String {
    escape(s, "&apos;")
}

fn escape(s: &str, apostrophe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c => out.push(c),
        }
    }
    out
}

/// How the cells of a [`Table`] column line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Padded on the right: text.
    Left,
    /// Padded on the left: numbers.
    Right,
}

/// A text table whose columns line up: each column as wide as its widest cell (in characters,
/// so `∂f/∂x` counts five), the lines without trailing spaces.
///
/// ```
/// use chainrule::util::format::{Align, Table};
///
/// let mut t = Table::new(&[Align::Left, Align::Right]);
/// t.row(["name", "value"]);
/// t.row(["x", "1.5"]);
/// assert_eq!(t.to_string(), "name  value\nx       1.5\n");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    align: Vec<Align>,
    gap: String,
    indent: String,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these alignments (the last one holds for any further column), two
    /// spaces between columns and no indent.
    pub fn new(align: &[Align]) -> Self {
        Table {
            align: align.to_vec(),
            gap: "  ".into(),
            indent: String::new(),
            rows: Vec::new(),
        }
    }

    /// With `gap` between columns.
    pub fn gap(mut self, gap: &str) -> Self {
        self.gap = gap.to_string();
        self
    }

    /// With `indent` before every line.
    pub fn indent(mut self, indent: &str) -> Self {
        self.indent = indent.to_string();
        self
    }

    /// Adds a row; rows may have different numbers of cells.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }
}

impl fmt::Display for Table {
    /// One line per row, each ending in a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = self.indent.clone();
            for (c, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if c > 0 {
                    line.push_str(&self.gap);
                }
                let pad = " ".repeat(w - cell.chars().count());
                let align = self.align.get(c).or(self.align.last());
                if align == Some(&Align::Right) {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers_keep_their_digits_and_drop_trailing_zeros() {
        let six = |x: f64| fmt_sig(x, 6, 1e-4..1e6);
        assert_eq!(six(0.0), "0");
        assert_eq!(six(-0.0), "0");
        assert_eq!(six(1.0), "1");
        assert_eq!(six(-1.5), "-1.5");
        assert_eq!(six(0.01), "0.01");
        assert_eq!(six(170.125), "170.125");
        assert_eq!(six(1e-8), "1e-8");
        assert_eq!(six(1.5e-7), "1.5e-7");
        assert_eq!(six(f64::NAN), "NaN");
        assert_eq!(six(f64::NEG_INFINITY), "-inf");
        let three = |x: f64| fmt_sig(x, 3, 1e-3..1e5);
        assert_eq!(three(12345.678), "12346");
        assert_eq!(three(1.5e-7), "1.5e-7");
        assert_eq!(three(2.0e6), "2e6");
    }

    #[test]
    fn numbers_for_people_and_exact_numbers() {
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.204081632), "0.204082");
        assert_eq!(fmt_num(-2.5e20), "-2.5e20");
        assert_eq!(fmt_num(f64::INFINITY), "inf");
        // Rounded to no decimals, the zeros of the integer part stay.
        assert_eq!(fmt_num(120000.4), "120000");
        assert_eq!(fmt_exact(1e-300), "1e-300");
        assert_eq!(fmt_exact(0.1 + 0.2).parse::<f64>(), Ok(0.1 + 0.2));
    }

    #[test]
    fn json_is_spaced_and_keeps_every_digit() {
        let v = serde_json::json!({"a": [1, json_number(0.1 + 0.2)], "b": json_number(f64::INFINITY), "c": "q\""});
        assert_eq!(
            to_spaced_json(&v),
            r#"{"a": [1, 0.30000000000000004], "b": null, "c": "q\""}"#
        );
        assert_eq!(json_string("x\ny"), r#""x\ny""#);
    }

    #[test]
    fn escaping_differs_only_in_the_apostrophe() {
        assert_eq!(
            escape_xml("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape_html("'"), "&#39;");
    }

    #[test]
    fn tables_line_up_by_characters_and_trim_their_lines() {
        let mut t = Table::new(&[Align::Right, Align::Left])
            .gap("   ")
            .indent("> ");
        t.row(["n", "∂f/∂x", ""]);
        t.row(["100", "a"]);
        assert_eq!(t.to_string(), ">   n   ∂f/∂x\n> 100   a\n");
        assert_eq!(Table::new(&[]).to_string(), "");
    }
}
