//! JSON written on one line with a space after each `:` and `,`:
//! `{"value": 5, "variables": ["x", "y"]}`.

use serde_json::Value;

/// `value` as one line of JSON with `": "` and `", "` separators. Numbers and strings are
/// written by `serde_json` (so every `f64` keeps all its digits; NaN and infinities become
/// `null`).
pub fn to_spaced_json(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(v, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                write(v, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A number as JSON (`null` when it is not finite).
pub fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}
