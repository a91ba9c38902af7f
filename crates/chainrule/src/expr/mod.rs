//! The expression language: `3*x^2 + 1`, `sigmoid(w*x + b)`, `max(a, b)^2`.
//!
//! Numbers (`2`, `0.5`, `1e-3`), variables (`x`, `w1`, `y_hat`), `+ - * / ^` (also `**`),
//! parentheses, unary minus and the functions `exp ln log sqrt sin cos tan tanh sigmoid relu abs`
//! and `max(a, b)`, `min(a, b)`, and the two piecewise-constant functions `step` (1 where the
//! argument is positive, else 0) and `sign` (-1, 0 or 1) in which symbolic derivatives of `relu`,
//! `abs`, `max` and `min` are written. Precedence is Python's, with `^` as the power operator: `^` binds
//! tighter than unary minus and groups to the right (`-x^2` is `-(x^2)`, `2^3^2` is 512).
//!
//! A parsed [`Expr`] is an arena of nodes (like the graph), so evaluating, building and dropping it
//! never recurses. [`Expr::build`] records it on a [`Graph`] with the operations of [`crate::ops`].
//!
//! ```
//! use chainrule::{Bindings, Expr, Graph};
//!
//! let e = Expr::parse("(w*x - y)^2").unwrap();
//! let at: Bindings = "w=1, x=2, y=5".parse().unwrap();
//! let g = Graph::new();
//! let built = e.build(&g, &at).unwrap();
//! assert_eq!(built.output.value(), 9.0);
//! let grads = g.grad(built.output, &built.inputs);
//! assert_eq!(grads[0], -12.0); // dL/dw
//! ```

mod lexer;
mod parser;
mod point;
pub mod symbolic;

use std::fmt;
use std::str::FromStr;

use crate::ops::{Binary, Unary};
use crate::scalar::graph::{Graph, Var};
use crate::util::format::fmt_exact;

pub use parser::{function_names, MAX_DEPTH};
pub use point::{is_variable_name, Bindings, BindingsError, Point, PointError};

/// A node of a parsed expression; children are indices of earlier nodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExprNode {
    /// A literal number.
    Num(f64),
    /// A variable, by its index in [`Expr::variables`].
    Var(usize),
    /// An operation of one input.
    Unary(Unary, usize),
    /// An operation of two inputs.
    Binary(Binary, usize, usize),
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    source: String,
    nodes: Vec<ExprNode>,
    root: usize,
    variables: Vec<String>,
}

/// An expression that could not be parsed: what was expected, and where.
///
/// Its `Display` echoes the input with a caret under the offending column:
///
/// ```
/// use chainrule::Expr;
///
/// let err = Expr::parse("3 * (x + 1").unwrap_err();
/// assert_eq!(err.column(), 11);
/// assert_eq!(
///     err.to_string(),
///     "expected ')' to close the '(' at column 5, found the end of the input (column 11)\n  3 * (x + 1\n            ^"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    input: String,
    col: usize,
    message: String,
}

impl ParseError {
    fn new(input: &str, col: usize, message: String) -> Self {
        ParseError {
            input: input.to_string(),
            col,
            message,
        }
    }

    /// The 1-based column (in characters) where the problem is.
    pub fn column(&self) -> usize {
        self.col + 1
    }

    /// What was wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tabs and newlines would shift the caret; show them as spaces.
        let shown: String = self
            .input
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        write!(
            f,
            "{} (column {})\n  {}\n  {}^",
            self.message,
            self.column(),
            shown,
            " ".repeat(self.col)
        )
    }
}

impl std::error::Error for ParseError {}

/// Why an expression could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// A variable of the expression has no value.
    MissingVariable(String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::MissingVariable(v) => write!(f, "no value given for the variable '{v}'"),
        }
    }
}

impl std::error::Error for EvalError {}

/// An expression recorded on a graph: its output and one leaf per variable.
#[derive(Clone, Debug)]
pub struct Built<'g> {
    /// The node holding the expression's value.
    pub output: Var<'g>,
    /// The variables' leaves, in the order of [`Expr::variables`].
    pub inputs: Vec<Var<'g>>,
}

impl Expr {
    fn empty(source: &str) -> Self {
        Expr {
            source: source.to_string(),
            nodes: Vec::new(),
            root: 0,
            variables: Vec::new(),
        }
    }

    /// Parses an expression.
    pub fn parse(input: &str) -> Result<Expr, ParseError> {
        parser::parse(input)
    }

    /// The text the expression was parsed from; empty for an expression made by
    /// differentiation ([`Expr::derivative`]), whose text its `Display` gives.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables, in order of first appearance.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// The nodes, children before parents.
    pub fn nodes(&self) -> &[ExprNode] {
        &self.nodes
    }

    /// The index of the node holding the whole expression.
    pub fn root(&self) -> usize {
        self.root
    }

    fn variable_index(&mut self, name: &str) -> usize {
        match self.variables.iter().position(|v| v == name) {
            Some(i) => i,
            None => {
                self.variables.push(name.to_string());
                self.variables.len() - 1
            }
        }
    }

    /// The values of the variables, in order, taken from `at`.
    pub fn values_from(&self, at: &Bindings) -> Result<Vec<f64>, EvalError> {
        self.variables
            .iter()
            .map(|v| {
                at.get(v)
                    .ok_or_else(|| EvalError::MissingVariable(v.clone()))
            })
            .collect()
    }

    /// Evaluates the expression with `values[i]` for the i-th variable, by the same forward rules
    /// the graph uses.
    ///
    /// # Panics
    /// If `values` is shorter than [`Expr::variables`].
    pub fn eval(&self, values: &[f64]) -> f64 {
        let mut v = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let x = match *node {
                ExprNode::Num(c) => c,
                ExprNode::Var(i) => values[i],
                ExprNode::Unary(op, a) => op.apply(v[a]),
                ExprNode::Binary(op, a, b) => op.apply(v[a], v[b]),
            };
            v.push(x);
        }
        v[self.root]
    }

    /// Records the expression on `graph` with the variables' values from `at`.
    ///
    /// Each variable becomes one named leaf, however often it appears; numbers become constants.
    pub fn build<'g>(&self, graph: &'g Graph, at: &Bindings) -> Result<Built<'g>, EvalError> {
        let values = self.values_from(at)?;
        Ok(self.build_with(graph, &values))
    }

    /// Like [`Expr::build`], with the variables' values given in order.
    ///
    /// # Panics
    /// If `values` is shorter than [`Expr::variables`].
    pub fn build_with<'g>(&self, graph: &'g Graph, values: &[f64]) -> Built<'g> {
        let inputs: Vec<Var<'g>> = self
            .variables
            .iter()
            .zip(values)
            .map(|(name, &v)| graph.var_named(name, v))
            .collect();
        let mut vars: Vec<Var<'g>> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let v = match *node {
                ExprNode::Num(c) => graph.constant(c),
                ExprNode::Var(i) => inputs[i],
                ExprNode::Unary(op, a) => vars[a].apply_unary(op),
                ExprNode::Binary(op, a, b) => vars[a].apply_binary(op, vars[b]),
            };
            vars.push(v);
        }
        Built {
            output: vars[self.root],
            inputs,
        }
    }
}

impl FromStr for Expr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expr::parse(s)
    }
}

/// Binds tighter than any operator: needs no parentheses anywhere.
const ATOM: u8 = 5;

impl Expr {
    /// How tightly node `id`'s text binds: 0 a sum, 1 a product, 2 a negation, 3 a power.
    fn strength(&self, id: usize) -> u8 {
        match self.nodes[id] {
            ExprNode::Num(c) if c.is_sign_negative() => 2,
            ExprNode::Num(_) | ExprNode::Var(_) => ATOM,
            ExprNode::Unary(Unary::Neg, _) => 2,
            ExprNode::Unary(Unary::Powi(_) | Unary::Powf(_), _) => 3,
            ExprNode::Unary(Unary::AddConst(_), _) => 0,
            ExprNode::Unary(Unary::MulConst(_), _) => 1,
            ExprNode::Unary(..) => ATOM,
            ExprNode::Binary(Binary::Max | Binary::Min, _, _) => ATOM,
            ExprNode::Binary(Binary::Pow, _, _) => 3,
            ExprNode::Binary(Binary::Add | Binary::Sub, _, _) => 0,
            ExprNode::Binary(..) => 1,
        }
    }

    /// Node `id`'s text without its operands: the pieces of text around them, and each operand
    /// with the strength below which it needs parentheses. `texts` has one more entry than
    /// `operands`: text, operand, text (, operand, text).
    fn parts(&self, id: usize) -> (Vec<String>, Vec<(usize, u8)>) {
        // The text an operation puts around its operands, from its own description with
        // markers in their place: `sin(\0)` gives `sin(` and `)`.
        let around = |template: String| -> Vec<String> {
            template
                .split(['\0', '\u{1}'])
                .map(str::to_string)
                .collect()
        };
        match self.nodes[id] {
            ExprNode::Num(c) => (vec![fmt_exact(c)], vec![]),
            ExprNode::Var(i) => (vec![self.variables[i].clone()], vec![]),
            ExprNode::Unary(op @ (Unary::Powi(_) | Unary::Powf(_)), a) => {
                let p = match op {
                    Unary::Powi(n) => n as f64,
                    Unary::Powf(p) => p,
                    _ => unreachable!(),
                };
                let exp = if p < 0.0 {
                    format!("({})", fmt_exact(p))
                } else {
                    fmt_exact(p)
                };
                (vec![String::new(), format!("^{exp}")], vec![(a, ATOM)])
            }
            ExprNode::Unary(op, a) => {
                let min = match op {
                    Unary::Neg => 3,
                    Unary::MulConst(_) => 2,
                    _ => 0,
                };
                (around(op.describe("\0")), vec![(a, min)])
            }
            ExprNode::Binary(op, a, b) => {
                let (left, right) = match op {
                    Binary::Max | Binary::Min => (0, 0),
                    Binary::Pow => (ATOM, 2),
                    // (a + b) + c prints bare; a + (b + c) keeps its parentheses, since
                    // floating-point addition is not associative.
                    Binary::Add | Binary::Sub => (0, 1),
                    Binary::Mul | Binary::Div => (1, 2),
                };
                (
                    around(op.describe("\0", "\u{1}")),
                    vec![(a, left), (b, right)],
                )
            }
        }
    }

    /// The length in bytes of the printed expression ([`Display`](fmt::Display)), found without
    /// printing it: one pass over the nodes. A shared subexpression is printed once per use, so
    /// the text can be far longer than the expression; the count saturates at `u64::MAX`.
    ///
    /// ```
    /// use chainrule::Expr;
    ///
    /// let e = Expr::parse("(x + 1) * sin(x)").unwrap();
    /// assert_eq!(e.printed_len(), e.to_string().len() as u64);
    /// ```
    pub fn printed_len(&self) -> u64 {
        // The length of each node's text, without parentheses around it.
        let mut len: Vec<u64> = Vec::with_capacity(self.nodes.len());
        for id in 0..self.nodes.len() {
            let (texts, operands) = self.parts(id);
            let mut n: u64 = texts.iter().map(|t| t.len() as u64).sum();
            for (a, min) in operands {
                let parens = if self.strength(a) < min { 2 } else { 0 };
                n = n.saturating_add(len[a]).saturating_add(parens);
            }
            len.push(n);
        }
        len.get(self.root).copied().unwrap_or(0)
    }
}

impl fmt::Display for Expr {
    /// Prints the expression with only the parentheses it needs; the text parses back to the
    /// same expression.
    ///
    /// The text is written as it is walked, with an explicit stack (no recursion): a shared
    /// subexpression is printed once per use, but no node's text is kept, so memory stays
    /// proportional to the expression, not to its printed length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// What is left to write: a node (parenthesised if it binds less than the number) or
        /// text.
        enum Item {
            Node(usize, u8),
            Text(String),
        }
        if self.nodes.is_empty() {
            return Ok(());
        }
        let mut stack = vec![Item::Node(self.root, 0)];
        while let Some(item) = stack.pop() {
            let (id, min) = match item {
                Item::Text(t) => {
                    f.write_str(&t)?;
                    continue;
                }
                Item::Node(id, min) => (id, min),
            };
            if self.strength(id) < min {
                stack.push(Item::Text(")".into()));
                stack.push(Item::Node(id, 0));
                stack.push(Item::Text("(".into()));
                continue;
            }
            let (texts, operands) = self.parts(id);
            // Push in reverse, so that the first part is written first.
            let mut texts = texts.into_iter().rev();
            if let Some(last) = texts.next() {
                stack.push(Item::Text(last));
            }
            for (&(node, min), text) in operands.iter().rev().zip(texts) {
                stack.push(Item::Node(node, min));
                stack.push(Item::Text(text));
            }
        }
        Ok(())
    }
}
