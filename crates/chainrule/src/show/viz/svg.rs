//! A standalone SVG drawing of a graph, laid out by [`super::layout`] with no outside program.
//!
//! Every node is a rounded box showing its name and definition, its value and its gradient
//! `d output / d node`; every edge is a curve from an input to its user, labelled with the local
//! derivative `∂ user / ∂ input`. The colours are those of [`super::to_dot`]: variables blue,
//! constants grey, operations yellow, the output green.

use std::fmt::Write;

use super::layout::{self, BoxSpec, EdgeSpec, Layout};
use super::{Drawing, NodeKind};
use crate::scalar::graph::{Graph, Var};
use crate::util::format::{escape_xml, fmt_num};

const FONT_FAMILY: &str = "Helvetica, Arial, 'DejaVu Sans', sans-serif";
/// Font size of a box's first line.
const TITLE_SIZE: f64 = 13.0;
/// Font size of the other lines of a box, of edge labels and of the legend.
const TEXT_SIZE: f64 = 12.0;
/// Font size of edge labels.
const LABEL_SIZE: f64 = 11.0;
const LINE_HEIGHT: f64 = 16.0;
const PAD_X: f64 = 10.0;
const PAD_Y: f64 = 7.0;
const MARGIN: f64 = 16.0;
const LEGEND_HEIGHT: f64 = 50.0;

/// The graph of `output` as a complete SVG 1.1 document, laid out left to right.
///
/// ```
/// use chainrule::{viz, Graph};
///
/// let g = Graph::new();
/// let x = g.var_named("x", 2.0);
/// let z = 3.0 * x.powi(2) + 1.0;
/// let svg = viz::svg::to_svg(&g, z);
/// assert!(svg.starts_with("<?xml"));
/// assert!(svg.trim_end().ends_with("</svg>"));
/// assert!(svg.contains("grad 12")); // dz/dx at x = 2
/// assert!(svg.contains("∂ = 4")); // the edge x → x^2 carries 2x = 4
/// ```
pub fn to_svg(graph: &Graph, output: Var<'_>) -> String {
    drawing_to_svg(&Drawing::new(graph, output))
}

/// The text lines of one box, with their font sizes and whether they are bold.
struct BoxText {
    lines: Vec<(String, f64, bool)>,
}

fn box_text(d: &Drawing, i: usize) -> BoxText {
    let n = &d.nodes[i];
    let has_inputs = d.edges.iter().any(|e| e.to == i);
    let title = if has_inputs {
        format!("{} = {}", n.name, n.definition)
    } else {
        n.name.clone()
    };
    let mut lines = vec![(title, TITLE_SIZE, true)];
    if n.kind == NodeKind::Constant {
        // A constant shown by its value needs no more; a named one shows its value too.
        if n.name != fmt_num(n.value) {
            lines.push((format!("value {}", fmt_num(n.value)), TEXT_SIZE, false));
        }
    } else {
        lines.push((format!("value {}", fmt_num(n.value)), TEXT_SIZE, false));
        lines.push((
            match n.grad {
                Some(g) => format!("grad {}", fmt_num(g)),
                None => "no grad".to_string(),
            },
            TEXT_SIZE,
            false,
        ));
    }
    BoxText { lines }
}

fn box_size(t: &BoxText) -> (f64, f64) {
    let w = t
        .lines
        .iter()
        .map(|(s, size, bold)| text_width(s, *size, *bold))
        .fold(0.0, f64::max);
    (
        (w + 2.0 * PAD_X).max(36.0).ceil(),
        t.lines.len() as f64 * LINE_HEIGHT + 2.0 * PAD_Y,
    )
}

fn edge_label(local: f64) -> String {
    format!("∂ = {}", fmt_num(local))
}

/// A generous estimate of the width of `s` in a common sans-serif font, so that text stays inside
/// its box whichever font the viewer picks.
fn text_width(s: &str, size: f64, bold: bool) -> f64 {
    let em: f64 = s
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '\'' | '|' | '!' | '.' | ',' | ':' | ';' => 0.34,
            ' ' | 'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '/' | '\\' => 0.45,
            'm' | 'w' => 0.98,
            'M' | 'W' | '@' | '%' => 1.0,
            'A'..='Z' => 0.76,
            '0'..='9' => 0.64,
            '+' | '-' | '=' | '*' | '^' | '<' | '>' | '~' | '#' | '&' => 0.84,
            c if c.is_ascii() => 0.64,
            _ => 1.0,
        })
        .sum();
    em * size * if bold { 1.1 } else { 1.0 }
}

/// A coordinate with at most one decimal, the same on every platform.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// An SVG path through `points`, leaving and entering every point horizontally: straight where
/// two points are level, a cubic Bézier elsewhere.
fn path_data(points: &[(f64, f64)], dx: f64, dy: f64) -> String {
    let mut s = String::new();
    for (k, &(x, y)) in points.iter().enumerate() {
        let (x, y) = (x + dx, y + dy);
        if k == 0 {
            let _ = write!(s, "M{},{}", num(x), num(y));
            continue;
        }
        let (px, py) = (points[k - 1].0 + dx, points[k - 1].1 + dy);
        if (y - py).abs() < 0.05 {
            let _ = write!(s, " L{},{}", num(x), num(y));
        } else {
            let mid = (x - px) / 2.0;
            let _ = write!(
                s,
                " C{},{} {},{} {},{}",
                num(px + mid),
                num(py),
                num(x - mid),
                num(y),
                num(x),
                num(y)
            );
        }
    }
    s
}

/// The legend of a standalone drawing: one line of explanation, one line of colour swatches.
fn legend_svg(s: &mut String, legend: &str) {
    s.push_str("<g class=\"legend\">\n");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"#111827\">{}</text>",
        num(MARGIN),
        num(MARGIN + 12.0),
        num(TEXT_SIZE),
        escape_xml(legend)
    );
    let mut x = MARGIN;
    for (kind, label) in [
        (NodeKind::Variable, "variable"),
        (NodeKind::Constant, "constant"),
        (NodeKind::Operation, "operation"),
        (NodeKind::Output, "output"),
    ] {
        let (fill, stroke) = colours(kind);
        let y = MARGIN + 22.0;
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"12\" rx=\"3\" fill=\"{fill}\" \
             stroke=\"{stroke}\"/><text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"#374151\">{label}</text>",
            num(x),
            num(y),
            num(x + 19.0),
            num(y + 10.5),
            num(TEXT_SIZE)
        );
        x += 19.0 + text_width(label, TEXT_SIZE, false) + 14.0;
    }
    s.push_str("</g>\n");
}

/// The name of a kind of node, as the legend and the `data-kind` attribute give it.
pub(crate) fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Variable => "variable",
        NodeKind::Constant => "constant",
        NodeKind::Operation => "operation",
        NodeKind::Output => "output",
    }
}

/// Fill and stroke colours of a kind of node (the fills are those of the DOT drawing).
fn colours(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Variable => ("#dbeafe", "#3b82f6"),
        NodeKind::Constant => ("#f3f4f6", "#9ca3af"),
        NodeKind::Operation => ("#fef9c3", "#ca8a04"),
        NodeKind::Output => ("#dcfce7", "#16a34a"),
    }
}

/// The layout of a drawing: box sizes from their text, label sizes from the local derivatives.
pub(crate) fn layout_of(d: &Drawing) -> Layout {
    let boxes: Vec<BoxSpec> = (0..d.nodes.len())
        .map(|i| {
            let (width, height) = box_size(&box_text(d, i));
            BoxSpec {
                width,
                height,
                hug_user: d.nodes[i].kind == NodeKind::Constant,
            }
        })
        .collect();
    let edges: Vec<EdgeSpec> = d
        .edges
        .iter()
        .map(|e| EdgeSpec {
            from: e.from,
            to: e.to,
            label_width: (text_width(&edge_label(e.local), LABEL_SIZE, false) + 8.0).ceil(),
            label_height: LABEL_SIZE + 6.0,
        })
        .collect();
    layout::layered(&boxes, &edges)
}

/// A drawing as a complete SVG 1.1 document; see [`to_svg`].
///
/// The document has a legend at the top, one `<g class="node">` per node and one
/// `<path class="edge">` per edge, and is the same byte for byte for the same drawing.
pub fn drawing_to_svg(d: &Drawing) -> String {
    render(d, false)
}

/// A number for a `data-` attribute: full precision (`f64`'s shortest round-trip form), `NaN`,
/// `Infinity` or `-Infinity`, as JavaScript's `Number()` reads them.
pub(crate) fn data_num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{v:?}")
    }
}

/// Draws `d`. With `interactive`, the drawing is meant to sit inside an HTML page that scripts
/// it: no XML prolog, an id on the `<svg>`, `data-` attributes on nodes and edges (index,
/// name, full-precision value and gradient, local derivative), a class on each text line, and a
/// second arrowhead for highlighted edges.
pub(crate) fn render(d: &Drawing, interactive: bool) -> String {
    let lay = layout_of(d);
    let output_name = d
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Output)
        .map_or("output", |n| n.name.as_str());
    let legend = format!(
        "Each box: name = definition · value · grad = d {output_name} / d node.   \
         Each arrow: ∂ = local derivative of its target by its source."
    );
    let legend_width = text_width(&legend, TEXT_SIZE, false);
    // A page shows its own legend, in HTML.
    let (width, legend_height) = if interactive {
        (lay.width, 0.0)
    } else {
        (lay.width.max(legend_width).max(440.0), LEGEND_HEIGHT)
    };
    let width = (width + 2.0 * MARGIN).ceil();
    let height = (lay.height + legend_height + 2.0 * MARGIN).ceil();
    let (ox, oy) = (MARGIN, MARGIN + legend_height);

    let mut s = String::new();
    if !interactive {
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\"{} version=\"1.1\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"{FONT_FAMILY}\">",
        if interactive {
            // In a page: as wide as its card, but never much smaller or larger than drawn.
            format!(
                " id=\"graph\" style=\"min-width:{}px;max-width:{}px\"",
                num(width * 0.8),
                num(width * 2.0)
            )
        } else {
            String::new()
        },
        w = num(width),
        h = num(height)
    );
    let _ = writeln!(
        s,
        "<title>Computational graph of {}</title>",
        escape_xml(output_name)
    );
    s.push_str(
        "<defs>\n<marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#4b5563\"/></marker>\n",
    );
    if interactive {
        for (id, colour) in [
            ("arrow-forward", "#2563eb"),
            ("arrow-backward", "#dc2626"),
            ("arrow-path", "#7c3aed"),
        ] {
            let _ = writeln!(
                s,
                "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
                 markerWidth=\"3.5\" markerHeight=\"3.5\" orient=\"auto\">\
                 <path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker>"
            );
        }
    }
    s.push_str("</defs>\n");
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        num(width),
        num(height)
    );

    // Legend: one line of explanation, one line of colour swatches.
    if !interactive {
        legend_svg(&mut s, &legend);
    }

    // Edges first, so that boxes and labels are drawn over them.
    s.push_str("<g class=\"edges\" fill=\"none\" stroke=\"#4b5563\" stroke-width=\"1.3\">\n");
    for (k, (e, placed)) in d.edges.iter().zip(&lay.edges).enumerate() {
        let dashed = if d.nodes[e.from].kind == NodeKind::Constant {
            " stroke=\"#9ca3af\" stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let data = if interactive {
            format!(
                " id=\"edge{k}\" data-edge-id=\"{k}\" data-from=\"{}\" data-to=\"{}\" data-local=\"{}\"",
                e.from,
                e.to,
                data_num(e.local)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "<path class=\"edge\"{data} d=\"{}\"{dashed} marker-end=\"url(#arrow)\"/>",
            path_data(&placed.points, ox, oy)
        );
    }
    s.push_str("</g>\n");

    s.push_str("<g class=\"edge-labels\">\n");
    for (k, (e, placed)) in d.edges.iter().zip(&lay.edges).enumerate() {
        let r = placed.label;
        let data = if interactive {
            format!(" id=\"edge-label{k}\" data-edge-id=\"{k}\"")
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "<g class=\"edge-label\"{data}><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" \
             fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#e5e7eb\" stroke-width=\"0.8\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\" fill=\"#374151\">{}</text></g>",
            num(r.x + ox),
            num(r.y + oy),
            num(r.width),
            num(r.height),
            num(r.x + ox + r.width / 2.0),
            num(r.y + oy + r.height / 2.0 + LABEL_SIZE * 0.35),
            num(LABEL_SIZE),
            escape_xml(&edge_label(e.local))
        );
    }
    s.push_str("</g>\n");

    s.push_str("<g class=\"nodes\">\n");
    for (i, (n, r)) in d.nodes.iter().zip(&lay.nodes).enumerate() {
        let (fill, stroke) = colours(n.kind);
        let stroke_width = if n.kind == NodeKind::Output { 2.0 } else { 1.2 };
        let data = if interactive {
            format!(
                " data-node-id=\"{i}\" data-name=\"{}\" data-kind=\"{}\" data-value=\"{}\" data-grad=\"{}\" tabindex=\"0\"",
                escape_xml(&n.name),
                kind_name(n.kind),
                data_num(n.value),
                n.grad.map_or(String::new(), data_num)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "<g class=\"node\" id=\"node{i}\"{data}><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
             rx=\"7\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{}\"/>",
            num(r.x + ox),
            num(r.y + oy),
            num(r.width),
            num(r.height),
            num(stroke_width)
        );
        let text = box_text(d, i);
        // A tooltip with the whole box in one line, for viewers that show one.
        let tip: Vec<&str> = text.lines.iter().map(|l| l.0.as_str()).collect();
        let _ = writeln!(s, "<title>{}</title>", escape_xml(&tip.join(", ")));
        for (k, (line, size, bold)) in text.lines.iter().enumerate() {
            let baseline = r.y + oy + PAD_Y + k as f64 * LINE_HEIGHT + LINE_HEIGHT * 0.75;
            let is_grad = line.starts_with("grad ") || line == "no grad";
            let (weight, colour) = match (bold, line.starts_with("grad ")) {
                (true, _) => (" font-weight=\"bold\"", "#111827"),
                (false, true) => ("", "#b91c1c"),
                (false, false) => ("", "#374151"),
            };
            let class = match (interactive, k, is_grad) {
                (false, _, _) => "",
                (true, 0, _) => " class=\"line-title\"",
                (true, _, true) => " class=\"line-grad\"",
                (true, _, false) => " class=\"line-value\"",
            };
            let _ = writeln!(
                s,
                "<text{class} x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\"{weight} \
                 fill=\"{colour}\">{}</text>",
                num(r.x + ox + r.width / 2.0),
                num(baseline),
                num(*size),
                escape_xml(line)
            );
        }
        s.push_str("</g>\n");
    }
    s.push_str("</g>\n</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::show::viz::layout::Rect;

    /// Checks that tags are balanced and properly nested, that `&` only starts an entity, and
    /// that there is exactly one root element; returns the number of elements.
    fn check_xml(s: &str) -> Result<usize, String> {
        let mut stack: Vec<String> = Vec::new();
        let mut elements = 0;
        let mut roots = 0;
        let mut rest = s;
        while let Some(start) = rest.find(['<', '&']) {
            let (text, tail) = rest.split_at(start);
            if text.contains('>') {
                return Err(format!("stray '>' in text {text:?}"));
            }
            if tail.starts_with('&') {
                let end = tail.find(';').ok_or("unterminated entity")?;
                let entity = &tail[1..end];
                if !matches!(entity, "lt" | "gt" | "amp" | "quot" | "apos") {
                    return Err(format!("unknown entity &{entity};"));
                }
                rest = &tail[end + 1..];
                continue;
            }
            if let Some(t) = tail.strip_prefix("<?") {
                rest = &t[t.find("?>").ok_or("unterminated <?")? + 2..];
                continue;
            }
            if let Some(t) = tail.strip_prefix("<!--") {
                rest = &t[t.find("-->").ok_or("unterminated comment")? + 3..];
                continue;
            }
            let end = tail.find('>').ok_or("unterminated tag")?;
            let tag = &tail[1..end];
            if tag[1..].contains('<') {
                return Err(format!("'<' inside tag {tag:?}"));
            }
            if tag.matches('"').count() % 2 != 0 {
                return Err(format!("unbalanced quotes in {tag:?}"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else {
                let name: String = tag
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '/')
                    .collect();
                if name.is_empty() {
                    return Err(format!("empty tag {tag:?}"));
                }
                if stack.is_empty() {
                    roots += 1;
                }
                elements += 1;
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &tail[end + 1..];
        }
        if !rest.trim().is_empty() && stack.is_empty() {
            return Err(format!("text after the root: {rest:?}"));
        }
        if !stack.is_empty() {
            return Err(format!("unclosed {stack:?}"));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(elements)
    }

    #[test]
    fn the_checker_catches_bad_documents() {
        assert!(check_xml("<svg><g></g></svg>").is_ok());
        assert!(check_xml("<svg><g></svg>").is_err());
        assert!(check_xml("<svg><g/></g></svg>").is_err());
        assert!(check_xml("<svg>a & b</svg>").is_err());
        assert!(check_xml("<svg>a < b</svg>").is_err());
        assert!(check_xml("<svg></svg><svg></svg>").is_err());
        assert!(check_xml("<svg><text x=\"1>2</text></svg>").is_err());
    }

    fn micrograd(g: &Graph) -> Var<'_> {
        let a = g.var_named("a", -4.0);
        let b = g.var_named("b", 2.0);
        let mut c = a + b;
        let mut d = a * b + b.powi(3);
        c = c + (c + 1.0);
        c = c + (1.0 + c + (-a));
        d = d + (d * 2.0 + (b + a).relu());
        d = d + (3.0 * d + (b - a).relu());
        let e = c - d;
        let f = e.powi(2);
        let out = f / 2.0;
        out + 10.0 / f
    }

    /// A few graphs of different shapes, each with its output.
    fn examples(g: &Graph) -> Vec<Var<'_>> {
        let x = g.var_named("x", 2.0);
        let seed = 3.0 * x.powi(2) + 1.0;
        let w = g.var_named("w", 1.0);
        let y = g.var_named("y", 5.0);
        let loss = (w * x - y).powi(2);
        let square = x * x;
        let mut deep = x;
        for k in 0..25 {
            deep = if k % 3 == 0 {
                deep * x + w
            } else {
                (deep + y).tanh() * 0.5
            };
        }
        let leaf = g.var_named("lonely", 7.0);
        vec![seed, loss, square, micrograd(g), deep, leaf]
    }

    #[test]
    fn output_is_balanced_with_one_group_per_node_and_one_path_per_edge() {
        let g = Graph::new();
        for out in examples(&g) {
            let d = Drawing::new(&g, out);
            let svg = drawing_to_svg(&d);
            check_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
            assert!(svg.starts_with("<?xml"));
            assert_eq!(svg.matches("<g class=\"node\"").count(), d.nodes.len());
            assert_eq!(svg.matches("<path class=\"edge\"").count(), d.edges.len());
            assert_eq!(
                svg.matches("<g class=\"edge-label\"").count(),
                d.edges.len()
            );
            for e in &d.edges {
                assert!(svg.contains(&escape_xml(&edge_label(e.local))));
            }
        }
    }

    #[test]
    fn boxes_and_labels_never_overlap() {
        let g = Graph::new();
        for out in examples(&g) {
            let d = Drawing::new(&g, out);
            let lay = layout_of(&d);
            let mut rects: Vec<(String, Rect)> = Vec::new();
            rects.extend(
                lay.nodes
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (format!("node {i}"), *r)),
            );
            rects.extend(
                lay.edges
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (format!("label {i}"), e.label)),
            );
            for (i, (a, ra)) in rects.iter().enumerate() {
                assert!(ra.width > 0.0 && ra.height > 0.0, "{a} is empty");
                assert!(ra.x >= 0.0 && ra.y >= 0.0, "{a} is off the canvas");
                assert!(ra.right() <= lay.width + 1e-9 && ra.bottom() <= lay.height + 1e-9);
                for (b, rb) in &rects[i + 1..] {
                    assert!(!ra.overlaps(rb), "{a} {ra:?} overlaps {b} {rb:?}");
                }
            }
        }
    }

    #[test]
    fn layers_run_left_to_right_and_so_do_edges() {
        let g = Graph::new();
        for out in examples(&g) {
            let d = Drawing::new(&g, out);
            let lay = layout_of(&d);
            for (i, ri) in lay.nodes.iter().enumerate() {
                for (j, rj) in lay.nodes.iter().enumerate() {
                    if lay.layers[j] == lay.layers[i] + 1 {
                        assert!(
                            ri.right() < rj.x,
                            "layer of node {i} is not left of node {j}"
                        );
                    }
                }
            }
            for (e, placed) in d.edges.iter().zip(&lay.edges) {
                assert!(lay.layers[e.from] < lay.layers[e.to]);
                let p = &placed.points;
                assert_eq!(p[0], (lay.nodes[e.from].right(), p[0].1));
                assert_eq!(p[p.len() - 1].0, lay.nodes[e.to].x);
                assert!(p.windows(2).all(|w| w[0].0 < w[1].0), "{p:?}");
                // The route passes through the middle of its label.
                let mid = placed.label.center_y();
                assert!(p.iter().any(|&(_, y)| (y - mid).abs() < 1e-9));
                // It ends on the sides of its boxes.
                let (src, dst) = (lay.nodes[e.from], lay.nodes[e.to]);
                assert!(src.y < p[0].1 && p[0].1 < src.bottom());
                assert!(dst.y < p[p.len() - 1].1 && p[p.len() - 1].1 < dst.bottom());
            }
            // The output alone is rightmost; leaves that are not constants are leftmost.
            let last = d.nodes.len() - 1;
            assert!(lay.layers.iter().all(|&l| l <= lay.layers[last]));
            for (i, n) in d.nodes.iter().enumerate() {
                if n.kind == NodeKind::Variable {
                    assert_eq!(lay.layers[i], 0);
                }
            }
        }
    }

    #[test]
    fn constants_sit_just_before_their_user() {
        let g = Graph::new();
        let out = micrograd(&g);
        let d = Drawing::new(&g, out);
        let lay = layout_of(&d);
        let mut seen = 0;
        for (i, n) in d.nodes.iter().enumerate() {
            if n.kind == NodeKind::Constant {
                let first_user = d
                    .edges
                    .iter()
                    .filter(|e| e.from == i)
                    .map(|e| lay.layers[e.to]);
                assert_eq!(lay.layers[i] + 1, first_user.min().unwrap());
                seen += 1;
            }
        }
        assert_eq!(seen, 2, "10 / f and f / 2 each have a constant");
    }

    #[test]
    fn a_doubly_used_input_gets_two_distinct_edges() {
        let g = Graph::new();
        let x = g.var_named("x", 3.0);
        let d = Drawing::new(&g, x * x);
        let lay = layout_of(&d);
        assert_eq!(d.edges.len(), 2);
        let (a, b) = (&lay.edges[0], &lay.edges[1]);
        assert!(!a.label.overlaps(&b.label));
        assert!(a.points.iter().zip(&b.points).all(|(p, q)| p.1 != q.1));
        let svg = drawing_to_svg(&d);
        let paths: Vec<&str> = svg
            .lines()
            .filter(|l| l.contains("class=\"edge\""))
            .collect();
        assert_eq!(paths.len(), 2);
        assert_ne!(paths[0], paths[1]);
    }

    #[test]
    fn text_is_escaped() {
        let g = Graph::new();
        let x = g.var_named("<x&y>", 2.0);
        let c = g.constant(3.0).named("\"k'");
        let out = (x * c).named("a<b");
        let svg = to_svg(&g, out);
        check_xml(&svg).unwrap();
        assert!(svg.contains("&lt;x&amp;y&gt;"));
        assert!(svg.contains("&quot;k&apos;"));
        assert!(svg.contains("a&lt;b = &lt;x&amp;y&gt; * &quot;k&apos;"));
        assert!(!svg.contains("<x&y>"));
        assert_eq!(escape_xml("a<b>&c"), "a&lt;b&gt;&amp;c");
    }

    #[test]
    fn boxes_are_wide_enough_for_their_text() {
        let g = Graph::new();
        let x = g.var_named("a_rather_long_variable_name_WWW", 1.0 / 3.0);
        let out = (x.exp() * x).named("result");
        let d = Drawing::new(&g, out);
        let lay = layout_of(&d);
        for (i, r) in lay.nodes.iter().enumerate() {
            for (line, size, bold) in box_text(&d, i).lines {
                // At least 0.55em per character, whatever the glyphs.
                let generous = line.chars().count() as f64 * 0.55 * size;
                assert!(
                    r.width >= generous + 2.0 * PAD_X - 1e-9,
                    "{line:?} in {r:?}"
                );
                assert!(text_width(&line, size, bold) + 2.0 * PAD_X <= r.width);
            }
        }
    }

    #[test]
    fn output_is_deterministic() {
        let draw = || {
            let g = Graph::new();
            let out = micrograd(&g);
            to_svg(&g, out)
        };
        let first = draw();
        assert_eq!(first, draw());
        let g = Graph::new();
        let out = micrograd(&g);
        let d = Drawing::new(&g, out);
        assert_eq!(layout_of(&d), layout_of(&d));
        assert_eq!(drawing_to_svg(&d), first);
    }

    #[test]
    fn numbers_are_written_compactly() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.25), "2.3");
        assert_eq!(num(-0.04), "0");
        assert_eq!(
            path_data(&[(0.0, 0.0), (10.0, 0.0)], 1.0, 1.0),
            "M1,1 L11,1"
        );
        assert_eq!(
            path_data(&[(0.0, 0.0), (10.0, 4.0)], 0.0, 0.0),
            "M0,0 C5,0 5,4 10,4"
        );
    }
}
