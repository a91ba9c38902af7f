//! The chain rule on a tensor tape, in matrix form: each recorded operation with its shape, then
//! each gradient as the operations' vector-Jacobian products write it, with the shapes that make
//! the products fit (`dL/dW1 = dL/dh1ᵀ · x   [128×784] = [128×64]·[64×784]`).
//!
//! Everything is read off the tape that computed the numbers and from the operations' own rules
//! (each rule writes its products in [`crate::tensor::rules`]; element-wise factors are the
//! symbolic derivatives of [`crate::expr`], from the same rules as every other derivative), so
//! the explanation cannot disagree with the computation.
//!
//! ```
//! use chainrule::show::tape::TapeTrace;
//! use chainrule::tensor::{Array, Tape};
//!
//! let tape = Tape::<f32>::new();
//! let x = tape.constant(Array::ones(&[4, 3])).named("x");
//! let w = tape.var(Array::ones(&[2, 3])).named("W");
//! let b = tape.var(Array::zeros(&[2])).named("b");
//! let h = x.linear(w, b).unwrap().named("h");
//! let loss = h.relu().named("a").sum_all().named("L");
//! let trace = TapeTrace::new(&tape, loss);
//! let text = trace.to_string();
//! assert!(text.contains("h = x·Wᵀ + b"), "{text}");
//! assert!(text.contains("dL/dW = dL/dhᵀ · x   [2×3] = [2×4]·[4×3]"), "{text}");
//! assert!(text.contains("dL/dh = dL/da ⊙ step(h)   [4×2]"), "{text}");
//! ```

use std::fmt;

use crate::expr::Expr;
use crate::tensor::rules::{fmt_dims, Explain, Op};
use crate::tensor::{Element, Tape, Tensor};

/// One recorded tensor of the forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct TapeStep {
    /// The node's index on the tape.
    pub node: usize,
    /// How it was computed, by its inputs' names (`x·W1ᵀ + b1`), or what kind of leaf it is.
    pub definition: String,
    /// Its shape.
    pub shape: Vec<usize>,
}

/// One gradient of the backward pass: the contributions of every use of the node, each one
/// rule's vector-Jacobian product written out.
#[derive(Clone, Debug, PartialEq)]
pub struct TapeGradient {
    /// The node whose gradient this is.
    pub node: usize,
    /// One line per use of the node.
    pub terms: Vec<String>,
    /// The gradient's (Frobenius) norm, when the backward pass has run and kept it (variables).
    pub norm: Option<f64>,
}

/// The forward and backward passes of the part of a tape an output depends on, in matrix form.
#[derive(Clone, Debug, PartialEq)]
pub struct TapeTrace {
    /// A display name for every node up to the output.
    pub names: Vec<String>,
    /// The nodes the output depends on, in creation order.
    pub forward: Vec<TapeStep>,
    /// Their gradients, from the output back, for the nodes that need one.
    pub backward: Vec<TapeGradient>,
}

/// Whether the expression language can read `name` as a variable.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The derivative of `formula` with respect to `var`, as the symbolic engine writes it.
fn derivative(formula: &str, var: &str) -> Option<String> {
    if !is_identifier(var) {
        return None;
    }
    let e = Expr::parse(formula).ok()?;
    e.variables()
        .iter()
        .any(|v| v == var)
        .then(|| e.derivative(var).to_string())
}

impl TapeTrace {
    /// The explanation of `output` (usually a loss) on `tape`. Nodes keep the names given with
    /// [`Tensor::named`]; the others are called `x` (constants), `p1`, `p2`, ... (variables),
    /// `v1`, `v2`, ... (intermediates) and `L` (the output).
    pub fn new<T: Element>(tape: &Tape<T>, output: Tensor<'_, T>) -> TapeTrace {
        let nodes = tape.nodes.borrow();
        let n = output.id() + 1;
        // The nodes the output depends on.
        let mut needed = vec![false; n];
        needed[output.id()] = true;
        for i in (0..n).rev() {
            if needed[i] {
                for j in nodes[i].op.inputs() {
                    needed[j] = true;
                }
            }
        }
        let constants = (0..n)
            .filter(|&i| needed[i] && matches!(nodes[i].op, Op::Constant))
            .count();
        let (mut c, mut p, mut v) = (0, 0, 0);
        let names: Vec<String> = (0..n)
            .map(|i| {
                if let Some(name) = tape.name_of(i) {
                    return name;
                }
                if i == output.id() {
                    return "L".into();
                }
                match nodes[i].op {
                    Op::Constant if constants == 1 => "x".into(),
                    Op::Constant => {
                        c += 1;
                        format!("x{c}")
                    }
                    Op::Variable => {
                        p += 1;
                        format!("p{p}")
                    }
                    _ => {
                        v += 1;
                        format!("v{v}")
                    }
                }
            })
            .collect();
        let shapes: Vec<Vec<usize>> = nodes[..n]
            .iter()
            .map(|n| n.value.shape().to_vec())
            .collect();
        let cx = Explain {
            names: &names,
            shapes: &shapes,
            derivative: &derivative,
        };
        let forward = (0..n)
            .filter(|&i| needed[i])
            .map(|i| TapeStep {
                node: i,
                definition: match nodes[i].op.rule::<T>() {
                    Some(rule) => rule.formula(&cx),
                    None if matches!(nodes[i].op, Op::Variable) => "variable".into(),
                    None => "input".into(),
                },
                shape: shapes[i].clone(),
            })
            .collect();
        // Each rule's lines, filed under the input they are a contribution to.
        let mut terms: Vec<Vec<String>> = vec![Vec::new(); n];
        for i in (0..n).rev() {
            if !needed[i] || !nodes[i].requires_grad {
                continue;
            }
            if let Some(rule) = nodes[i].op.rule::<T>() {
                for (j, line) in rule.explain_vjp(&cx, i) {
                    if nodes[j].requires_grad {
                        terms[j].push(line);
                    }
                }
            }
        }
        let grads = tape.grads.borrow();
        let mut backward = vec![TapeGradient {
            node: output.id(),
            terms: vec![format!("{} = 1", cx.grad(output.id()))],
            norm: None,
        }];
        for i in (0..output.id()).rev() {
            if needed[i] && nodes[i].requires_grad && !terms[i].is_empty() {
                let norm = grads.get(i).cloned().flatten().map(|g| {
                    g.data()
                        .iter()
                        .map(|v| v.value() * v.value())
                        .sum::<f64>()
                        .sqrt()
                });
                backward.push(TapeGradient {
                    node: i,
                    terms: std::mem::take(&mut terms[i]),
                    norm,
                });
            }
        }
        TapeTrace {
            names,
            forward,
            backward,
        }
    }
}

impl fmt::Display for TapeTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Forward pass: each tensor from its inputs")?;
        let lhs: Vec<String> = self
            .forward
            .iter()
            .map(|s| format!("{} = {}", self.names[s.node], s.definition))
            .collect();
        let width = lhs.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        for (s, l) in self.forward.iter().zip(&lhs) {
            let pad = width - l.chars().count();
            writeln!(f, "  {l}{}   {}", " ".repeat(pad), fmt_dims(&s.shape))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Backward pass: each gradient from its uses, one vector-Jacobian product each (summed \
             when a tensor is used more than once)"
        )?;
        for g in &self.backward {
            for (k, t) in g.terms.iter().enumerate() {
                let lead = if k == 0 { "  " } else { "  + " };
                writeln!(f, "{lead}{t}")?;
            }
            if let Some(norm) = g.norm {
                writeln!(
                    f,
                    "    ‖dL/d{}‖ = {}",
                    self.names[g.node],
                    crate::ops::fmt_num(norm)
                )?;
            }
        }
        Ok(())
    }
}
