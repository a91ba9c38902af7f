//! A self-contained HTML page for a training run: the final metrics, the charts (inline SVG,
//! drawn by the caller), the gradient norm of each layer and the metrics of every epoch.
//!
//! The page loads nothing from anywhere and runs no script: it is plain HTML and CSS, with the
//! look of the expression report of [`crate::show::report`].
//!
//! ```
//! use chainrule::train_report::{Chart, TrainingPage};
//!
//! let mut page = TrainingPage::new("4-16-3 relu on iris");
//! page.metrics.push(("test accuracy".into(), "0.9667".into()));
//! page.charts.push(Chart {
//!     caption: "loss and accuracy".into(),
//!     svg: "<svg width=\"10\" height=\"10\"></svg>".into(),
//! });
//! let html = page.to_html();
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(html.contains("<td>test accuracy</td><td>0.9667</td>"));
//! assert!(!html.contains("<script"));
//! ```

use std::fmt::Write;

use crate::train::{EpochMetrics, GradFlow};
use crate::util::format::{escape_html, fmt_num};

/// A chart of the page: an SVG document (without an XML declaration) and its caption.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The text above the chart.
    pub caption: String,
    /// The `<svg>` element, inlined as it is.
    pub svg: String,
}

/// The content of a training page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingPage {
    /// The title, e.g. the architecture and the data.
    pub title: String,
    /// A line under the title (may be empty).
    pub subtitle: String,
    /// The final metrics and the settings, as name and value.
    pub metrics: Vec<(String, String)>,
    /// The charts, in order.
    pub charts: Vec<Chart>,
    /// The gradient norm of each layer per epoch (a table of the first and last epochs).
    pub flow: Option<GradFlow>,
    /// The metrics of every epoch (a table).
    pub history: Vec<EpochMetrics>,
}

const STYLE: &str = "
:root {
  --ink: #111827; --muted: #4b5563; --line: #e5e7eb; --bg: #f8fafc;
  font-family: system-ui, -apple-system, \"Segoe UI\", Roboto, \"DejaVu Sans\", Arial, sans-serif;
  color: var(--ink); background: var(--bg);
}
body { margin: 0; padding: 14px 20px 24px; }
header h1 { font-size: 22px; margin: 0 0 4px; font-family: ui-monospace, \"DejaVu Sans Mono\", Menlo, Consolas, monospace; }
header .subtitle { margin: 0 0 12px; color: var(--muted); font-size: 14px; }
.card { background: #ffffff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; margin-bottom: 14px; overflow-x: auto; }
.card h2 { font-size: 16px; margin: 0 0 8px; color: var(--muted); }
.card svg { display: block; max-width: 100%; height: auto; }
.note { color: var(--muted); font-size: 14px; margin: 6px 0 0; line-height: 1.4; }
table { border-collapse: collapse; font-size: 14px; }
td, th { padding: 3px 12px 3px 0; text-align: left; border-bottom: 1px solid var(--line); }
td.num, th.num { text-align: right; font-family: ui-monospace, \"DejaVu Sans Mono\", Menlo, Consolas, monospace; }
#metrics td:first-child { color: var(--muted); }
";

/// A number in at most 4 significant digits.
fn cell(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| {
        fmt_num(format!("{v:.3e}").parse().unwrap_or(v))
    })
}

impl TrainingPage {
    /// An empty page with this title.
    pub fn new(title: impl Into<String>) -> Self {
        TrainingPage {
            title: title.into(),
            ..TrainingPage::default()
        }
    }

    /// The page: one HTML document with everything inline.
    pub fn to_html(&self) -> String {
        let mut s = String::new();
        s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        // No favicon request: the page loads nothing from anywhere.
        s.push_str("<link rel=\"icon\" href=\"data:,\">\n");
        let _ = writeln!(
            s,
            "<title>chainrule training: {}</title>",
            escape_html(&self.title)
        );
        let _ = writeln!(s, "<style>{STYLE}</style>\n</head>\n<body>");
        let _ = writeln!(s, "<header><h1>{}</h1>", escape_html(&self.title));
        if !self.subtitle.is_empty() {
            let _ = write!(
                s,
                "<p class=\"subtitle\">{}</p>",
                escape_html(&self.subtitle)
            );
        }
        s.push_str("</header>\n<main>\n");
        if !self.metrics.is_empty() {
            s.push_str("<section class=\"card\"><h2>Final metrics</h2><table id=\"metrics\">\n");
            for (k, v) in &self.metrics {
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape_html(k),
                    escape_html(v)
                );
            }
            s.push_str("</table></section>\n");
        }
        for c in &self.charts {
            let _ = writeln!(
                s,
                "<section class=\"card\"><h2>{}</h2>\n{}\n</section>",
                escape_html(&c.caption),
                strip_declaration(&c.svg)
            );
        }
        if let Some(flow) = &self.flow {
            self.flow_table(&mut s, flow);
        }
        if !self.history.is_empty() {
            self.history_table(&mut s);
        }
        s.push_str("</main>\n</body>\n</html>\n");
        s
    }

    fn flow_table(&self, s: &mut String, flow: &GradFlow) {
        let (Some(first), Some(last)) = (flow.per_epoch.first(), flow.per_epoch.last()) else {
            return;
        };
        let e0 = flow.epochs.first().copied().unwrap_or(1);
        let e1 = flow.epochs.last().copied().unwrap_or(1);
        s.push_str("<section class=\"card\"><h2>Gradient norm per layer</h2>\n");
        let _ = writeln!(
            s,
            "<table id=\"grad-flow\"><tr><th>layer</th><th>parameter</th>\
             <th class=\"num\">epoch {e0}</th><th class=\"num\">epoch {e1}</th></tr>"
        );
        for (i, name) in flow.layers.iter().enumerate() {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                i + 1,
                escape_html(name),
                cell(first.get(i).copied()),
                cell(last.get(i).copied())
            );
        }
        s.push_str(
            "</table>\n<p class=\"note\">The L2 norm of the gradient of each layer's \
                    weights, averaged over the steps of the epoch. Norms that shrink from the \
                    last layer to the first mean the gradient vanishes on its way back; norms \
                    that grow mean it explodes.</p></section>\n",
        );
    }

    fn history_table(&self, s: &mut String) {
        s.push_str(
            "<section class=\"card\"><h2>Every epoch</h2>\n<table id=\"history\"><tr>\
             <th class=\"num\">epoch</th><th class=\"num\">training loss</th>\
             <th class=\"num\">training accuracy</th><th class=\"num\">test loss</th>\
             <th class=\"num\">test accuracy</th><th class=\"num\">seconds</th></tr>\n",
        );
        for m in &self.history {
            let _ = writeln!(
                s,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td></tr>",
                m.epoch,
                cell(Some(m.train_loss)),
                cell(m.train_accuracy),
                cell(m.test_loss),
                cell(m.test_accuracy),
                m.seconds
            );
        }
        s.push_str("</table></section>\n");
    }
}

/// The SVG as HTML inlines it: without an `<?xml ...?>` line and without the namespace
/// attribute, which HTML does not need (so the page holds no address at all).
fn strip_declaration(svg: &str) -> String {
    let t = svg.trim_start();
    let t = if t.starts_with("<?xml") {
        t.find("?>").map_or(t, |i| t[i + 2..].trim_start())
    } else {
        t
    };
    t.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_dropped_and_text_escaped() {
        assert_eq!(
            strip_declaration("<?xml version=\"1.0\"?>\n<svg/>"),
            "<svg/>"
        );
        let mut page = TrainingPage::new("a<b");
        page.flow = Some(GradFlow {
            layers: vec!["0.weight".into(), "2.weight".into()],
            epochs: vec![1, 2],
            per_epoch: vec![vec![1e-7, 0.5], vec![2e-7, 0.25]],
        });
        let html = page.to_html();
        assert!(html.contains("<h1>a&lt;b</h1>"));
        assert!(
            html.contains("<td>2.weight</td><td class=\"num\">0.5</td><td class=\"num\">0.25</td>")
        );
        assert!(html.contains("1e-7"), "{html}");
    }
}
