//! Drawings of a graph: every node with its operation, value and gradient, every edge with its
//! local derivative. [`to_dot`] writes Graphviz's language; [`svg`] lays the graph out (with
//! [`layout`]) and draws it with no outside program.

pub mod layout;
pub mod svg;

use std::fmt::Write;

use crate::scalar::backward::local_derivatives;
use crate::scalar::graph::{Graph, NodeId, Op, Var};
use crate::show::explain::{definition, node_names};
use crate::util::format::fmt_num;

/// One box of a drawing.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawNode {
    /// The node in the graph.
    pub id: NodeId,
    /// Its display name (`x`, `v3`, `f`, or a constant's value).
    pub name: String,
    /// How it was computed (`x^2`, `input`, `constant`).
    pub definition: String,
    /// Its value.
    pub value: f64,
    /// `d output / d node`, or `None` for a constant (no gradient flows into it).
    pub grad: Option<f64>,
    /// What kind of node it is.
    pub kind: NodeKind,
}

/// The role a node plays, which a drawing shows by its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// An input variable.
    Variable,
    /// A constant.
    Constant,
    /// An intermediate operation.
    Operation,
    /// The output being differentiated.
    Output,
}

/// One arrow of a drawing, from an input to the node that uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawEdge {
    /// Index into [`Drawing::nodes`] of the input.
    pub from: usize,
    /// Index into [`Drawing::nodes`] of the user.
    pub to: usize,
    /// `∂to/∂from` along this edge.
    pub local: f64,
}

/// The part of a graph an output depends on, ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawing {
    /// Nodes in creation (topological) order.
    pub nodes: Vec<DrawNode>,
    /// Edges; a node used twice by the same user (`x * x`) has two.
    pub edges: Vec<DrawEdge>,
}

impl Drawing {
    /// Collects the nodes `output` depends on, with their values, gradients and local derivatives.
    pub fn new(graph: &Graph, output: Var<'_>) -> Drawing {
        let out = output.id();
        let names = node_names(graph, Some(out));
        let grads = graph.gradients(output);
        let nodes = graph.nodes();
        let n = out.index() + 1;
        let mut needed = vec![false; n];
        needed[out.index()] = true;
        for i in (0..n).rev() {
            if needed[i] {
                for input in nodes[i].op.inputs() {
                    needed[input.index()] = true;
                }
            }
        }
        let mut index = vec![usize::MAX; n];
        let mut draw_nodes = Vec::new();
        for i in (0..n).filter(|&i| needed[i]) {
            let id = NodeId(i as u32);
            let op = nodes[i].op;
            index[i] = draw_nodes.len();
            draw_nodes.push(DrawNode {
                id,
                name: names[i].clone(),
                definition: definition(graph, &names, id),
                value: nodes[i].value,
                grad: (op != Op::Constant).then(|| grads.wrt(id)),
                kind: match op {
                    _ if id == out => NodeKind::Output,
                    Op::Variable => NodeKind::Variable,
                    Op::Constant => NodeKind::Constant,
                    _ => NodeKind::Operation,
                },
            });
        }
        let mut edges = Vec::new();
        for i in (0..n).filter(|&i| needed[i]) {
            for (input, local) in local_derivatives(&nodes, NodeId(i as u32)) {
                edges.push(DrawEdge {
                    from: index[input.index()],
                    to: index[i],
                    local,
                });
            }
        }
        Drawing {
            nodes: draw_nodes,
            edges,
        }
    }
}

/// The graph of `output` in Graphviz's DOT language, laid out left to right.
///
/// ```
/// use chainrule::{viz, Graph};
///
/// let g = Graph::new();
/// let x = g.var_named("x", 3.0);
/// let f = x * x;
/// let dot = viz::to_dot(&g, f);
/// assert!(dot.starts_with("digraph"));
/// assert!(dot.contains("grad 6"));
/// ```
pub fn to_dot(graph: &Graph, output: Var<'_>) -> String {
    let d = Drawing::new(graph, output);
    let mut s = String::from(
        "digraph chainrule {\n  rankdir=LR;\n  node [shape=record, fontname=\"Helvetica\"];\n",
    );
    s.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for (i, n) in d.nodes.iter().enumerate() {
        let title = match n.kind {
            NodeKind::Variable | NodeKind::Constant => n.name.clone(),
            _ => format!("{} = {}", n.name, n.definition),
        };
        let grad = n.grad.map_or("no gradient".to_string(), |g| {
            format!("grad {}", fmt_num(g))
        });
        let colour = match n.kind {
            NodeKind::Variable => "#dbeafe",
            NodeKind::Constant => "#f3f4f6",
            NodeKind::Operation => "#fef9c3",
            NodeKind::Output => "#dcfce7",
        };
        let _ = writeln!(
            s,
            "  n{i} [label=\"{{ {} | value {} | {} }}\", style=filled, fillcolor=\"{colour}\"];",
            dot_escape(&title),
            dot_escape(&fmt_num(n.value)),
            dot_escape(&grad)
        );
    }
    for e in &d.edges {
        let _ = writeln!(
            s,
            "  n{} -> n{} [label=\"∂ = {}\"];",
            e.from,
            e.to,
            dot_escape(&fmt_num(e.local))
        );
    }
    s.push_str("}\n");
    s
}

fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '{' | '}' | '|' | '<' | '>') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
