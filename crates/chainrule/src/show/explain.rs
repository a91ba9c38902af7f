//! The chain rule in words, read off the recorded graph.
//!
//! A [`Trace`] lists the forward pass (each node: its definition, its value, its local derivatives)
//! and the backward pass (each adjoint as a sum over the node's uses of "adjoint of the user ×
//! local derivative", with the numbers filled in). Every number comes from the graph and from the
//! rules in [`crate::ops`]: the same values the backward sweep used.
//!
//! ```
//! use chainrule::explain::Trace;
//! use chainrule::Graph;
//!
//! let g = Graph::new();
//! let x = g.var_named("x", 2.0);
//! let y = x.powi(2).named("y");
//! let z = (3.0 * y + 1.0).named("z");
//! let trace = Trace::new(&g, z);
//! let last = trace.backward.last().unwrap();
//! assert_eq!(trace.backward_line(last), "dz/dx = dz/dy · ∂y/∂x = 3 · 4 = 12");
//! // Printed whole, the lines are aligned on their first '='.
//! assert!(trace.to_string().contains("dz/dx  = dz/dy · ∂y/∂x = 3 · 4 = 12"));
//! ```

use std::collections::HashSet;
use std::fmt;

use crate::scalar::backward::local_derivatives;
use crate::scalar::graph::{Graph, NodeId, Op, Var};
use crate::util::format::fmt_num;

/// One node of the forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct ForwardStep {
    /// The node.
    pub node: NodeId,
    /// How it was computed from its inputs, by name (`x^2`, `3 * y`); `input` for a variable.
    pub definition: String,
    /// Its value.
    pub value: f64,
    /// `∂node/∂input` for each input that is not a constant.
    pub locals: Vec<(NodeId, f64)>,
}

/// One term of an adjoint: the share that reaches a node through one of its uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Term {
    /// The node that uses this one.
    pub user: NodeId,
    /// `d output / d user`.
    pub user_adjoint: f64,
    /// `∂user / ∂node` along this edge.
    pub local: f64,
}

/// One node of the backward pass: its adjoint as a sum of terms.
#[derive(Clone, Debug, PartialEq)]
pub struct BackwardStep {
    /// The node.
    pub node: NodeId,
    /// One term per edge from this node to a node that uses it (empty for the output).
    pub terms: Vec<Term>,
    /// `d output / d node`: the sum of the terms (1 for the output).
    pub adjoint: f64,
}

/// The forward and backward passes of the part of a graph an output depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The output node.
    pub output: NodeId,
    /// A display name for every node of the graph (constants are shown by their value).
    pub names: Vec<String>,
    /// Variables and operations the output depends on, in forward order.
    pub forward: Vec<ForwardStep>,
    /// The same nodes with their adjoints, from the output back to the variables.
    pub backward: Vec<BackwardStep>,
}

/// Display names for the nodes of `graph`: the given names, numbers for constants, `v1`, `v2`, ...
/// for unnamed intermediates, and `f` (or `out`) for an unnamed `output`.
pub fn node_names(graph: &Graph, output: Option<NodeId>) -> Vec<String> {
    let nodes = graph.nodes();
    let given: Vec<Option<String>> = (0..nodes.len())
        .map(|i| graph.name(NodeId(i as u32)))
        .collect();
    let taken: HashSet<&str> = given.iter().flatten().map(|s| s.as_str()).collect();
    let out_name = ["f", "out", "output"]
        .into_iter()
        .find(|n| !taken.contains(n))
        .unwrap_or("output")
        .to_string();
    // Number only the intermediates the output depends on, so the names read v1, v2, v3...
    let mut needed = vec![output.is_none(); nodes.len()];
    if let Some(out) = output {
        needed[out.index()] = true;
        for i in (0..=out.index()).rev() {
            if needed[i] {
                for input in nodes[i].op.inputs() {
                    needed[input.index()] = true;
                }
            }
        }
    }
    let mut counter = 0;
    let mut names = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let id = NodeId(i as u32);
        let name = if let Some(n) = &given[i] {
            n.clone()
        } else if node.op == Op::Constant {
            fmt_num(node.value)
        } else if Some(id) == output {
            out_name.clone()
        } else if node.op == Op::Variable {
            format!("x{i}")
        } else if !needed[i] {
            format!("#{i}")
        } else {
            loop {
                counter += 1;
                let candidate = format!("v{counter}");
                if !taken.contains(candidate.as_str()) {
                    break candidate;
                }
            }
        };
        names.push(name);
    }
    names
}

/// How node `id` was computed, in terms of its inputs' names.
pub fn definition(graph: &Graph, names: &[String], id: NodeId) -> String {
    let node = graph.node(id);
    let name = |i: NodeId| -> String {
        let n = &names[i.index()];
        // Negative numbers and compound names read better in parentheses.
        if n.starts_with('-') || n.contains(' ') {
            format!("({n})")
        } else {
            n.clone()
        }
    };
    match node.op {
        Op::Variable => "input".into(),
        Op::Constant => "constant".into(),
        Op::Unary(op, x) => op.describe(&name(x)),
        Op::Binary(op, a, b) => op.describe(&name(a), &name(b)),
    }
}

impl Trace {
    /// Traces the passes that compute `output` and its gradient.
    pub fn new(graph: &Graph, output: Var<'_>) -> Trace {
        let out = output.id();
        let names = node_names(graph, Some(out));
        let grads = graph.gradients(output);
        let nodes = graph.nodes();
        let n = out.index() + 1;

        // Which nodes the output depends on, and who uses each of them (one entry per edge).
        let mut needed = vec![false; n];
        needed[out.index()] = true;
        let mut users: Vec<Vec<(NodeId, f64)>> = vec![Vec::new(); n];
        for i in (0..n).rev() {
            if !needed[i] {
                continue;
            }
            for (input, local) in local_derivatives(&nodes, NodeId(i as u32)) {
                needed[input.index()] = true;
                users[input.index()].push((NodeId(i as u32), local));
            }
        }
        let shown = |i: usize| needed[i] && nodes[i].op != Op::Constant;

        let forward = (0..n)
            .filter(|&i| shown(i))
            .map(|i| {
                let id = NodeId(i as u32);
                ForwardStep {
                    node: id,
                    definition: definition(graph, &names, id),
                    value: nodes[i].value,
                    locals: local_derivatives(&nodes, id)
                        .into_iter()
                        .filter(|(x, _)| nodes[x.index()].op != Op::Constant)
                        .collect(),
                }
            })
            .collect();

        let backward = (0..n)
            .rev()
            .filter(|&i| shown(i))
            .map(|i| {
                let mut terms: Vec<Term> = users[i]
                    .iter()
                    .map(|&(user, local)| Term {
                        user,
                        user_adjoint: grads.wrt(user),
                        local,
                    })
                    .collect();
                terms.reverse(); // users in creation order
                BackwardStep {
                    node: NodeId(i as u32),
                    terms,
                    adjoint: grads.wrt(NodeId(i as u32)),
                }
            })
            .collect();

        Trace {
            output: out,
            names,
            forward,
            backward,
        }
    }

    /// The display name of a node.
    pub fn name(&self, id: NodeId) -> &str {
        &self.names[id.index()]
    }

    /// The line of one forward step: `v1 = x^2 = 4`, or `x = 2 (input)` for a variable.
    ///
    /// ```
    /// use chainrule::explain::Trace;
    /// use chainrule::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.var_named("x", 2.0);
    /// let trace = Trace::new(&g, x.powi(2));
    /// assert_eq!(trace.forward_line(&trace.forward[0]), "x = 2 (input)");
    /// assert_eq!(trace.forward_line(&trace.forward[1]), "f = x^2 = 4");
    /// ```
    pub fn forward_line(&self, step: &ForwardStep) -> String {
        let name = self.name(step.node);
        if step.definition == "input" {
            format!("{name} = {} (input)", fmt_num(step.value))
        } else {
            format!("{name} = {} = {}", step.definition, fmt_num(step.value))
        }
    }

    /// The local derivatives of one forward step, one per input that is not a constant:
    /// `∂v1/∂x = 4`. A node that uses the same input twice (`x * x`) says which use is which.
    pub fn local_lines(&self, step: &ForwardStep) -> Vec<String> {
        let twice = step.locals.len() == 2 && step.locals[0].0 == step.locals[1].0;
        step.locals
            .iter()
            .zip([" (as left input)", " (as right input)"])
            .map(|((x, d), side)| {
                let side = if twice { side } else { "" };
                format!(
                    "∂{}/∂{} = {}{side}",
                    self.name(step.node),
                    self.name(*x),
                    fmt_num(*d)
                )
            })
            .collect()
    }

    /// The chain-rule line of one backward step, e.g.
    /// `dz/dx = dz/dy · ∂y/∂x = 3 · 4 = 12`.
    pub fn backward_line(&self, step: &BackwardStep) -> String {
        let out = self.name(self.output);
        let lhs = format!("d{out}/d{}", self.name(step.node));
        if step.terms.is_empty() {
            return format!("{lhs} = 1");
        }
        let node = self.name(step.node);
        let symbolic: Vec<String> = step
            .terms
            .iter()
            .map(|t| {
                format!(
                    "d{out}/d{} · ∂{}/∂{node}",
                    self.name(t.user),
                    self.name(t.user)
                )
            })
            .collect();
        let numeric: Vec<String> = step
            .terms
            .iter()
            .map(|t| format!("{} · {}", paren(t.user_adjoint), paren(t.local)))
            .collect();
        format!(
            "{lhs} = {} = {} = {}",
            symbolic.join(" + "),
            numeric.join(" + "),
            fmt_num(step.adjoint)
        )
    }
}

impl Trace {
    /// Where the first NaN or infinity of the value or the gradient came from, in words; `None`
    /// when every number is finite.
    ///
    /// ```
    /// use chainrule::explain::Trace;
    /// use chainrule::Graph;
    ///
    /// let g = Graph::new();
    /// let x = g.var_named("x", -1.0);
    /// let f = x.ln() * 2.0;
    /// let warning = Trace::new(&g, f).non_finite_origin(&g).unwrap();
    /// assert!(warning.starts_with("v1 = ln(x) is NaN"), "{warning}");
    /// ```
    pub fn non_finite_origin(&self, graph: &Graph) -> Option<String> {
        if let Some(step) = self.forward.iter().find(|s| !s.value.is_finite()) {
            let inputs: Vec<String> = graph
                .node(step.node)
                .op
                .inputs()
                .map(|i| format!("{} = {}", self.name(i), fmt_num(graph.node(i).value)))
                .collect();
            if inputs.is_empty() {
                // A variable or a constant: nothing computed it, it was given so.
                return Some(format!(
                    "the input {} is {}",
                    self.name(step.node),
                    fmt_num(step.value)
                ));
            }
            return Some(format!(
                "{} = {} is {} (its input{}: {})",
                self.name(step.node),
                step.definition,
                fmt_num(step.value),
                if inputs.len() == 1 { "" } else { "s" },
                inputs.join(", ")
            ));
        }
        let out = self.name(self.output);
        let step = self.backward.iter().find(|s| !s.adjoint.is_finite())?;
        let node = self.name(step.node);
        let culprit = step.terms.iter().find(|t| !t.local.is_finite());
        Some(match culprit {
            Some(t) => format!(
                "the gradient d{out}/d{node} is {} because the local derivative ∂{}/∂{node} is {} ({} = {} at {node} = {})",
                fmt_num(step.adjoint),
                self.name(t.user),
                fmt_num(t.local),
                self.name(t.user),
                definition(graph, &self.names, t.user),
                fmt_num(graph.node(step.node).value)
            ),
            None => format!("the gradient d{out}/d{node} overflows to {}", fmt_num(step.adjoint)),
        })
    }
}

fn paren(v: f64) -> String {
    let s = fmt_num(v);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let out = self.name(self.output);
        writeln!(
            f,
            "Forward pass: each node from its inputs, with its local derivatives"
        )?;
        let lhs: Vec<String> = self
            .forward
            .iter()
            .map(|s| {
                if s.definition == "input" {
                    self.name(s.node).to_string()
                } else {
                    format!("{} = {}", self.name(s.node), s.definition)
                }
            })
            .collect();
        let values: Vec<String> = self.forward.iter().map(|s| fmt_num(s.value)).collect();
        let w_lhs = lhs.iter().map(|s| s.chars().count()).max().unwrap_or(0);
        let w_val = values.iter().map(|s| s.chars().count()).max().unwrap_or(0);
        for ((step, lhs), value) in self.forward.iter().zip(&lhs).zip(&values) {
            let locals = self.local_lines(step);
            let tail = if step.definition == "input" {
                "(input)".to_string()
            } else {
                locals.join("   ")
            };
            let line = format!("  {lhs:<w_lhs$} = {value:>w_val$}   {tail}");
            writeln!(f, "{}", line.trim_end())?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Backward pass: d{out}/dv = sum over each use of v of d{out}/d(user) · ∂user/∂v"
        )?;
        let lines: Vec<String> = self
            .backward
            .iter()
            .map(|s| self.backward_line(s))
            .collect();
        let w = lines
            .iter()
            .map(|l| l.find(" = ").map_or(0, |p| l[..p].chars().count()))
            .max()
            .unwrap_or(0);
        for line in &lines {
            let (lhs, rest) = line.split_once(" = ").unwrap_or((line, ""));
            writeln!(f, "  {lhs:<w$} = {rest}")?;
        }
        Ok(())
    }
}
