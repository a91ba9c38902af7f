//! An interactive HTML report of a computational graph: one self-contained file that steps
//! through the forward pass and the backward pass, and shows every path from a node to the output.
//!
//! The page holds three things: the SVG drawing of [`crate::show::viz::svg`] (the same layout, with
//! `data-` attributes added), the graph's numbers as JSON, and a small script
//! (`report.js`) that only displays them. Every number and every line of text is computed here,
//! from the [`Trace`] and the [`Drawing`] of the graph; the script never does arithmetic on them.
//!
//! ```
//! use chainrule::report::{to_html, ReportOptions};
//! use chainrule::Graph;
//!
//! let g = Graph::new();
//! let x = g.var_named("x", 2.0);
//! let f = 3.0 * x.powi(2) + 1.0;
//! let html = to_html(&g, f, &ReportOptions::new("3*x^2 + 1", "x = 2"));
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(html.contains("df/dx = df/dv1 · ∂v1/∂x = 3 · 4 = 12"));
//! assert!(!html.contains("<script src")); // nothing is loaded from anywhere
//! ```
//!
//! # Paths
//!
//! The gradient of the output with respect to a node is the sum, over every path from the node
//! to the output, of the product of the local derivatives along the path. [`paths_to_output`]
//! lists those paths (up to a limit: their number can grow exponentially with the graph) and
//! counts them all.

use std::fmt::Write;

use crate::scalar::graph::{Graph, Var};
use crate::show::explain::Trace;
use crate::show::viz::svg::{kind_name, render};
use crate::show::viz::{Drawing, NodeKind};
use crate::util::format::{escape_html, fmt_num};

/// The script of the page.
const SCRIPT: &str = include_str!("report.js");

/// What to put in the title of a report, and how much to list.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOptions {
    /// The expression as the user wrote it, e.g. `3*x^2 + 1`.
    pub expression: String,
    /// The point it is evaluated at, e.g. `x = 2` (empty when there are no variables).
    pub point: String,
    /// At most this many paths are listed for one node.
    pub max_paths: usize,
    /// At most this many edges, summed over all listed paths of all nodes, keeping the page small
    /// for big graphs; nodes past the budget only show how many paths they have.
    pub max_path_edges: usize,
}

impl ReportOptions {
    /// Options for `expression` at `point`, listing up to 64 paths per node and 20 000 edges in all.
    pub fn new(expression: impl Into<String>, point: impl Into<String>) -> ReportOptions {
        ReportOptions {
            expression: expression.into(),
            point: point.into(),
            max_paths: 64,
            max_path_edges: 20_000,
        }
    }
}

/// One path from a node to the output.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainPath {
    /// Indices into [`Drawing::edges`], in order from the node to the output (empty for the
    /// output itself).
    pub edges: Vec<usize>,
    /// The product of the local derivatives along the path, multiplied from the node towards the
    /// output (1 for the empty path).
    pub contribution: f64,
}

/// The paths from one node to the output: how many there are, and the first few.
#[derive(Clone, Debug, PartialEq)]
pub struct Paths {
    /// Index into [`Drawing::nodes`] of the node.
    pub node: usize,
    /// The listed paths, in depth-first order (users in creation order).
    pub listed: Vec<ChainPath>,
    /// How many paths there are in all (a float: the count can exceed any integer type).
    pub count: f64,
    /// The sum of the listed paths' contributions; the gradient when every path is listed.
    pub listed_sum: f64,
}

impl Paths {
    /// Whether every path is listed, so that [`Paths::listed_sum`] is the whole gradient.
    pub fn is_complete(&self) -> bool {
        self.listed.len() as f64 == self.count
    }
}

/// For each node of the drawing, the indices of the edges leaving it, in edge order.
fn out_edges(d: &Drawing) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); d.nodes.len()];
    for (k, e) in d.edges.iter().enumerate() {
        out[e.from].push(k);
    }
    out
}

/// How many paths lead from each node to the output (the last node of the drawing).
fn path_counts(d: &Drawing, out: &[Vec<usize>]) -> Vec<f64> {
    let n = d.nodes.len();
    let mut count = vec![0.0; n];
    for i in (0..n).rev() {
        count[i] = if i + 1 == n {
            1.0
        } else {
            out[i].iter().map(|&k| count[d.edges[k].to]).sum()
        };
    }
    count
}

/// The paths from node `node` of `d` to its output, listing at most `max_paths` of them and at
/// most `max_edges` edges in all.
///
/// ```
/// use chainrule::report::paths_to_output;
/// use chainrule::viz::Drawing;
/// use chainrule::Graph;
///
/// let g = Graph::new();
/// let x = g.var_named("x", 3.0);
/// let f = x * x + x; // three paths from x: two through x * x, one straight to f
/// let d = Drawing::new(&g, f);
/// let p = paths_to_output(&d, 0, 100, 1000);
/// assert_eq!(p.count, 3.0);
/// let contributions: Vec<f64> = p.listed.iter().map(|c| c.contribution).collect();
/// assert_eq!(contributions, [3.0, 3.0, 1.0]);
/// assert_eq!(p.listed_sum, 7.0); // df/dx = 2x + 1
/// assert!(p.is_complete());
/// ```
pub fn paths_to_output(d: &Drawing, node: usize, max_paths: usize, max_edges: usize) -> Paths {
    let out = out_edges(d);
    let count = path_counts(d, &out)[node];
    list_paths(d, &out, node, count, max_paths, max_edges)
}

fn list_paths(
    d: &Drawing,
    out: &[Vec<usize>],
    node: usize,
    count: f64,
    max_paths: usize,
    max_edges: usize,
) -> Paths {
    let last = d.nodes.len() - 1;
    let mut listed = Vec::new();
    let mut used = 0;
    let mut path: Vec<usize> = Vec::new();
    // Depth-first, without recursion: each entry is a node and the next of its edges to follow.
    let mut stack: Vec<(usize, usize)> = vec![(node, 0)];
    while let Some(top) = stack.last_mut() {
        let (v, next) = *top;
        if v == last {
            if listed.len() >= max_paths || used + path.len() > max_edges {
                break;
            }
            used += path.len();
            let contribution = path.iter().fold(1.0, |acc, &k| acc * d.edges[k].local);
            listed.push(ChainPath {
                edges: path.clone(),
                contribution,
            });
            stack.pop();
            path.pop();
        } else if next < out[v].len() {
            top.1 += 1;
            let k = out[v][next];
            path.push(k);
            stack.push((d.edges[k].to, 0));
        } else {
            stack.pop();
            path.pop();
        }
    }
    let listed_sum = listed.iter().map(|p| p.contribution).sum();
    Paths {
        node,
        listed,
        count,
        listed_sum,
    }
}

/// The report of `output` as a complete, self-contained HTML page.
pub fn to_html(graph: &Graph, output: Var<'_>, options: &ReportOptions) -> String {
    let d = Drawing::new(graph, output);
    let trace = Trace::new(graph, output);
    let svg = render(&d, true);
    let data = data_json(&d, &trace, options);
    let title = if options.point.is_empty() {
        format!("f = {}", options.expression)
    } else {
        format!("f = {} at {}", options.expression, options.point)
    };
    let out_name = &d.nodes[d.nodes.len() - 1].name;
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // No favicon request: the page loads nothing from anywhere.
    s.push_str("<link rel=\"icon\" href=\"data:,\">\n");
    let _ = writeln!(
        s,
        "<title>chainrule report: {}</title>",
        escape_html(&title)
    );
    let _ = writeln!(s, "<style>\n{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(
        s,
        "<header><h1 id=\"report-title\">{}</h1>\n<p class=\"subtitle\">The computational graph \
         with every value and gradient. Step through the forward pass, then the backward pass; \
         click a node to see every path from it to {}.</p></header>",
        escape_html(&title),
        escape_html(out_name)
    );
    if let Some(origin) = trace.non_finite_origin(graph) {
        let _ = writeln!(
            s,
            "<p id=\"warning\" class=\"warning\">Not every number is finite: {}.</p>",
            escape_html(&origin)
        );
    }
    s.push_str(CONTROLS);
    s.push_str("<main>\n<section id=\"graph-card\" class=\"card\">\n");
    let _ = writeln!(
        s,
        "<p class=\"legend\"><span class=\"swatch variable\"></span>variable \
         <span class=\"swatch constant\"></span>constant \
         <span class=\"swatch operation\"></span>operation \
         <span class=\"swatch output\"></span>output · Each box: name = definition, its value, \
         and grad = d{out}/d(node). Each arrow: ∂ = the local derivative of its target with \
         respect to its source.</p>",
        out = escape_html(out_name)
    );
    s.push_str(&svg);
    s.push_str("</section>\n");
    s.push_str(PANELS);
    s.push_str("</main>\n");
    let _ = writeln!(
        s,
        "<script type=\"application/json\" id=\"report-data\">{}</script>",
        data
    );
    let _ = writeln!(s, "<script>\n{SCRIPT}</script>\n</body>\n</html>");
    s
}

const CONTROLS: &str = "<nav id=\"controls\">\
<button id=\"btn-forward\" type=\"button\" title=\"Next node of the forward pass (→)\">Forward step ▶</button>\
<button id=\"btn-backward\" type=\"button\" title=\"Next node of the backward pass (→ after the forward pass)\">Backward step ◀</button>\
<button id=\"btn-prev\" type=\"button\" title=\"Undo one step (←)\">Previous</button>\
<button id=\"btn-reset\" type=\"button\" title=\"Back to the whole graph (Home)\">Reset</button>\
<span id=\"step-counter\" aria-live=\"polite\"></span>\
<span class=\"keys\">Keys: → next step · ← previous · Home reset · Esc clear selection</span>\
</nav>\n";

const PANELS: &str = "<aside>\n\
<section id=\"step-panel\" class=\"card\" data-phase=\"overview\" aria-live=\"polite\">\
<h2 id=\"step-heading\"></h2><p id=\"step-line\" class=\"formula\"></p>\
<ul id=\"step-details\"></ul><p id=\"step-note\" class=\"note\"></p></section>\n\
<section id=\"paths-panel\" class=\"card\" hidden><h2 id=\"paths-heading\"></h2>\
<ol id=\"paths-list\"></ol><p id=\"paths-sum\" class=\"formula\"></p>\
<p id=\"paths-note\" class=\"note\"></p></section>\n\
<section id=\"transcript-card\" class=\"card\"><h2>Steps so far</h2>\
<ol id=\"transcript\"></ol></section>\n\
</aside>\n";

const STYLE: &str = include_str!("report.css");

/// A JSON string, safe inside a `<script>` element (`<` is escaped, so `</script>` cannot occur).
fn js_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number with full precision; `null` for NaN and infinities (JSON has neither).
fn js_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:?}")
    } else {
        "null".into()
    }
}

fn js_list<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> String) -> String {
    let parts: Vec<String> = items.into_iter().map(f).collect();
    format!("[{}]", parts.join(","))
}

/// A number as a factor or term: negative ones in parentheses.
fn paren(v: f64) -> String {
    let s = fmt_num(v);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s
    }
}

/// A count of paths in words: `3`, or `about 1.2e20` once it is too big to be exact.
fn count_text(count: f64) -> String {
    if count < 9.0e15 {
        format!("{count:.0}")
    } else {
        format!("about {count:.1e}")
    }
}

/// The arrow from `from` to `to` along edge `k`: marked `(left)`/`(right)` when the same input
/// feeds its user twice (`x * x`).
fn arrow(d: &Drawing, k: usize) -> &'static str {
    let e = &d.edges[k];
    let twins: Vec<usize> = (0..d.edges.len())
        .filter(|&j| d.edges[j].from == e.from && d.edges[j].to == e.to)
        .collect();
    match twins.iter().position(|&j| j == k) {
        Some(0) if twins.len() == 2 => " →(left) ",
        Some(1) if twins.len() == 2 => " →(right) ",
        _ => " → ",
    }
}

/// The graph's numbers and the text of every step, as JSON for the page's script.
fn data_json(d: &Drawing, trace: &Trace, options: &ReportOptions) -> String {
    let index_of = |id: crate::scalar::graph::NodeId| {
        d.nodes
            .iter()
            .position(|n| n.id == id)
            .expect("the trace and the drawing cover the same nodes")
    };
    let out = out_edges(d);
    let last = d.nodes.len() - 1;
    let out_name = &d.nodes[last].name;
    let mut s = String::from("{");
    let _ = write!(
        s,
        "\"expression\":{},\"point\":{},\"output\":{last},\"outputName\":{},",
        js_str(&options.expression),
        js_str(&options.point),
        js_str(out_name)
    );

    let nodes = js_list(&d.nodes, |n| {
        format!(
            "{{\"name\":{},\"definition\":{},\"kind\":{},\"value\":{},\"valueText\":{},\"grad\":{},\"gradText\":{}}}",
            js_str(&n.name),
            js_str(&n.definition),
            js_str(kind_name(n.kind)),
            js_num(n.value),
            js_str(&fmt_num(n.value)),
            n.grad.map_or("null".into(), js_num),
            n.grad.map_or("null".into(), |g| js_str(&fmt_num(g)))
        )
    });
    let _ = write!(s, "\"nodes\":{nodes},");
    let grads: Vec<String> = d
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Variable)
        .map(|n| {
            format!(
                "d{out_name}/d{} = {}",
                n.name,
                fmt_num(n.grad.unwrap_or(f64::NAN))
            )
        })
        .collect();
    let _ = write!(
        s,
        "\"overview\":{{\"line\":{},\"details\":{}}},",
        js_str(&format!("{out_name} = {}", fmt_num(d.nodes[last].value))),
        js_list(&grads, |l| js_str(l))
    );
    let edges = js_list(&d.edges, |e| {
        format!(
            "{{\"from\":{},\"to\":{},\"local\":{},\"localText\":{}}}",
            e.from,
            e.to,
            js_num(e.local),
            js_str(&fmt_num(e.local))
        )
    });
    let _ = write!(s, "\"edges\":{edges},");

    // The steps: the forward pass, then the backward pass, node by node.
    let mut steps = Vec::new();
    for step in &trace.forward {
        let i = index_of(step.node);
        let inputs: Vec<usize> = (0..d.edges.len()).filter(|&k| d.edges[k].to == i).collect();
        let note = if inputs.is_empty() {
            format!(
                "{} is an input: its value is given. Nothing to compute.",
                d.nodes[i].name
            )
        } else {
            format!(
                "Blue arrows: the inputs {} reads. Its local derivatives are computed now and \
                 kept for the backward pass.",
                d.nodes[i].name
            )
        };
        steps.push(format!(
            "{{\"phase\":\"forward\",\"node\":{i},\"line\":{},\"details\":{},\"edges\":{},\"value\":{},\"note\":{}}}",
            js_str(&trace.forward_line(step)),
            js_list(trace.local_lines(step), |l| js_str(&l)),
            js_list(&inputs, |k| k.to_string()),
            js_num(step.value),
            js_str(&note)
        ));
    }
    for step in &trace.backward {
        let i = index_of(step.node);
        let name = &d.nodes[i].name;
        let details: Vec<String> = step
            .terms
            .iter()
            .map(|t| {
                let user = trace.name(t.user);
                format!(
                    "through {user}: d{out_name}/d{user} · ∂{user}/∂{name} = {} · {} = {}",
                    paren(t.user_adjoint),
                    paren(t.local),
                    fmt_num(t.user_adjoint * t.local)
                )
            })
            .collect();
        let note = if step.terms.is_empty() {
            format!("The backward pass starts at the output: d{out_name}/d{out_name} = 1.")
        } else {
            format!(
                "Red arrows: the uses of {name}. Each brings back the gradient of its user times \
                 the local derivative on the arrow; {name}'s gradient is their sum."
            )
        };
        steps.push(format!(
            "{{\"phase\":\"backward\",\"node\":{i},\"line\":{},\"details\":{},\"edges\":{},\"grad\":{},\"note\":{}}}",
            js_str(&trace.backward_line(step)),
            js_list(&details, |l| js_str(l)),
            js_list(&out[i], |k| k.to_string()),
            js_num(step.adjoint),
            js_str(&note)
        ));
    }
    let _ = write!(s, "\"steps\":[{}],", steps.join(","));

    // Every path from each node to the output.
    let counts = path_counts(d, &out);
    let mut budget = options.max_path_edges;
    let mut paths = Vec::new();
    for (i, n) in d.nodes.iter().enumerate() {
        let Some(grad) = n.grad else {
            paths.push("null".to_string());
            continue;
        };
        let p = list_paths(d, &out, i, counts[i], options.max_paths, budget);
        budget -= p.listed.iter().map(|c| c.edges.len()).sum::<usize>();
        paths.push(paths_json(d, &p, grad, out_name, options.max_paths));
    }
    let _ = write!(s, "\"paths\":[{}]", paths.join(","));
    s.push('}');
    s
}

fn paths_json(d: &Drawing, p: &Paths, grad: f64, out_name: &str, max_paths: usize) -> String {
    let name = &d.nodes[p.node].name;
    let list = js_list(&p.listed, |c| {
        let mut chain = name.clone();
        for &k in &c.edges {
            chain.push_str(arrow(d, k));
            chain.push_str(&d.nodes[d.edges[k].to].name);
        }
        let (factors, numbers) = if c.edges.is_empty() {
            (format!("d{out_name}/d{out_name}"), "1".to_string())
        } else {
            let f: Vec<String> = c
                .edges
                .iter()
                .map(|&k| {
                    let e = &d.edges[k];
                    format!("∂{}/∂{}", d.nodes[e.to].name, d.nodes[e.from].name)
                })
                .collect();
            let v: Vec<String> = c.edges.iter().map(|&k| paren(d.edges[k].local)).collect();
            (f.join(" · "), v.join(" · "))
        };
        format!(
            "{{\"chain\":{},\"edges\":{},\"factors\":{},\"numbers\":{},\"contribution\":{},\"contributionText\":{}}}",
            js_str(&chain),
            js_list(&c.edges, |k| k.to_string()),
            js_str(&factors),
            js_str(&numbers),
            js_num(c.contribution),
            js_str(&fmt_num(c.contribution))
        )
    });
    let sum_text = if p.count == 1.0 && p.is_complete() {
        format!(
            "One path, so its contribution is the whole gradient: d{out_name}/d{name} = {}",
            fmt_num(grad)
        )
    } else if p.is_complete() {
        let terms: Vec<String> = p.listed.iter().map(|c| paren(c.contribution)).collect();
        format!(
            "Sum over the {} paths: {} = {}, and the backward pass gave d{out_name}/d{name} = {}",
            count_text(p.count),
            terms.join(" + "),
            fmt_num(p.listed_sum),
            fmt_num(grad)
        )
    } else {
        format!(
            "The {} listed paths add up to {}; all {} paths add up to d{out_name}/d{name} = {}",
            p.listed.len(),
            fmt_num(p.listed_sum),
            count_text(p.count),
            fmt_num(grad)
        )
    };
    let note = if p.is_complete() {
        "Each path contributes the product of the local derivatives along it; the gradient the \
         backward pass computed is their sum."
            .to_string()
    } else if p.listed.len() < max_paths {
        format!(
            "Only {} of the {} paths are listed: the report keeps its size down on big graphs. \
             The backward pass never lists paths: it adds them up node by node.",
            p.listed.len(),
            count_text(p.count)
        )
    } else {
        format!(
            "Only the first {} of the {} paths are listed. The backward pass never lists paths: \
             it adds them up node by node, which is why it stays fast when they are this many.",
            p.listed.len(),
            count_text(p.count)
        )
    };
    format!(
        "{{\"count\":{},\"countText\":{},\"complete\":{},\"list\":{list},\"sum\":{},\"sumText\":{},\"grad\":{},\"note\":{}}}",
        js_num(p.count),
        js_str(&count_text(p.count)),
        p.is_complete(),
        js_num(p.listed_sum),
        js_str(&sum_text),
        js_num(grad),
        js_str(&note)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_cannot_close_the_script() {
        assert_eq!(js_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(js_str("</script>"), "\"\\u003c/script\\u003e\"");
        assert_eq!(js_str("\u{1}"), "\"\\u0001\"");
        assert_eq!(js_num(f64::NAN), "null");
        assert_eq!(js_num(4.0), "4.0");
        assert_eq!(js_num(0.1), "0.1");
    }

    #[test]
    fn counts_say_about_when_inexact() {
        assert_eq!(count_text(3.0), "3");
        assert_eq!(count_text(1e20), "about 1.0e20");
    }
}
