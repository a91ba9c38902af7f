//! `chainrule.parse`: the expression language from Python, as a function of keyword arguments.

use std::collections::HashMap;
use std::rc::Rc;

use chainrule::expr::ExprNode;
use chainrule::show::explain::Trace;
use chainrule::show::report::{to_html, ReportOptions};
use chainrule::show::viz;
use chainrule::{Expr, Graph};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{invalid, ParseError};
use crate::scalar::Node;
use crate::value::{write_file, Report, Value};

/// A parsed expression (`chainrule.parse("3*x^2 + 1")`): call it with its variables as keyword
/// arguments (numbers or `Value`s) to get a `Value`, which can be differentiated, explained and
/// drawn; `explain`, `graph` and `report` do what the command line's subcommands of the same
/// names do.
///
/// ```python
/// f = chainrule.parse("3*x^2 + 1")
/// y = f(x=2)          # Value(data=13.0, ...)
/// f.variables         # ['x']
/// f.derivative("x")   # Expression('6 * x')
/// print(f.explain(x=2))
/// ```
#[pyclass(name = "Expression", module = "chainrule", frozen)]
pub struct Expression {
    expr: Expr,
}

/// Parses an expression of the language (`3*x^2 + 1`, `sigmoid(w*x + b)`, `max(a, b)^2`):
/// numbers, variables, `+ - * / ^` (also `**`), parentheses and the functions `exp ln log sqrt
/// sin cos tan tanh sigmoid relu abs gelu erf step sign max min`. A syntax error raises
/// `ParseError` (a `ValueError`) whose message shows the input with a caret under the column.
#[pyfunction]
pub fn parse(source: &str) -> PyResult<Expression> {
    Expr::parse(source)
        .map(|expr| Expression { expr })
        .map_err(|e| ParseError::new_err(e.to_string()))
}

/// Either a number or a Value given for a variable.
enum Given {
    Number(f64),
    Value(Rc<Node>),
}

impl Expression {
    /// The value given for each variable, in order; every variable needs one and no other
    /// name may be given.
    fn given(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<Given>> {
        let mut by_name: HashMap<String, Given> = HashMap::new();
        if let Some(kw) = kwargs {
            for (k, v) in kw.iter() {
                let name: String = k.extract()?;
                let given = if let Ok(val) = v.cast::<Value>() {
                    Given::Value(val.get().node().clone())
                } else {
                    Given::Number(v.extract::<f64>().map_err(|_| {
                        PyTypeError::new_err(format!("{name}= needs a number or a Value"))
                    })?)
                };
                if !self.expr.variables().contains(&name) {
                    return Err(PyTypeError::new_err(format!(
                        "'{name}' is not a variable of {} (its variables: {})",
                        self.expr,
                        self.list_variables()
                    )));
                }
                by_name.insert(name, given);
            }
        }
        let missing: Vec<String> = self
            .expr
            .variables()
            .iter()
            .filter(|v| !by_name.contains_key(*v))
            .map(|v| format!("'{v}'"))
            .collect();
        if !missing.is_empty() {
            let plural = if missing.len() == 1 { "" } else { "s" };
            return Err(PyTypeError::new_err(format!(
                "no value for the variable{plural} {}",
                missing.join(", ")
            )));
        }
        Ok(self
            .expr
            .variables()
            .iter()
            .map(|v| by_name.remove(v).expect("checked above"))
            .collect())
    }

    fn numbers(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<f64>> {
        Ok(self
            .given(kwargs)?
            .into_iter()
            .map(|g| match g {
                Given::Number(x) => x,
                Given::Value(v) => v.data(),
            })
            .collect())
    }

    fn list_variables(&self) -> String {
        if self.expr.variables().is_empty() {
            "none".into()
        } else {
            self.expr.variables().join(", ")
        }
    }

    fn point(&self, values: &[f64]) -> String {
        self.expr
            .variables()
            .iter()
            .zip(values)
            .map(|(n, v)| format!("{n} = {}", chainrule::ops::fmt_num(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[pymethods]
impl Expression {
    /// The expression's value at the keyword arguments, as a `Value` whose graph holds one
    /// value per variable (named after it, or the `Value` given) and one per operation.
    #[pyo3(signature = (**kwargs))]
    fn __call__(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Value> {
        let inputs: Vec<Rc<Node>> = self
            .given(kwargs)?
            .into_iter()
            .zip(self.expr.variables())
            .map(|(g, name)| match g {
                Given::Value(v) => v,
                Given::Number(x) => {
                    let n = Node::variable(x);
                    n.set_label(Some(name));
                    n
                }
            })
            .collect();
        let mut nodes: Vec<Rc<Node>> = Vec::with_capacity(self.expr.nodes().len());
        for node in self.expr.nodes() {
            let n = match *node {
                ExprNode::Num(c) => Node::constant(c),
                ExprNode::Var(i) => inputs[i].clone(),
                ExprNode::Unary(op, a) => Node::unary(op, &nodes[a]),
                ExprNode::Binary(op, a, b) => Node::binary(op, &nodes[a], &nodes[b]),
            };
            nodes.push(n);
        }
        Ok(Value::wrap(nodes.swap_remove(self.expr.root())))
    }

    /// The variables, in order of first appearance.
    #[getter]
    fn variables(&self) -> Vec<String> {
        self.expr.variables().to_vec()
    }

    /// The expression's value at the keyword arguments, as a number.
    #[pyo3(signature = (**kwargs))]
    fn eval(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<f64> {
        Ok(self.expr.eval(&self.numbers(kwargs)?))
    }

    /// The value and the gradient at the keyword arguments: `(f, {variable: df/dvariable})`, as
    /// `chainrule grad` prints them.
    #[pyo3(signature = (**kwargs))]
    fn grad(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<(f64, Vec<(String, f64)>)> {
        let values = self.numbers(kwargs)?;
        let g = Graph::new();
        let built = self.expr.build_with(&g, &values);
        let d = g.grad(built.output, &built.inputs);
        Ok((
            built.output.value(),
            self.expr.variables().iter().cloned().zip(d).collect(),
        ))
    }

    /// The symbolic derivative with respect to `variable`, simplified, as an `Expression`.
    fn derivative(&self, variable: &str) -> PyResult<Expression> {
        if !self.expr.variables().iter().any(|v| v == variable) && !is_name(variable) {
            return Err(invalid(format!("'{variable}' is not a variable name")));
        }
        Ok(Expression {
            expr: self.expr.derivative(variable),
        })
    }

    /// The text `chainrule explain` prints at the keyword arguments: the expression, the
    /// forward pass with local derivatives, and the backward pass with the numbers filled in.
    #[pyo3(signature = (**kwargs))]
    fn explain(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let values = self.numbers(kwargs)?;
        let g = Graph::new();
        let built = self.expr.build_with(&g, &values);
        let trace = Trace::new(&g, built.output);
        Ok(format!("f = {}\n\n{trace}", self.expr))
    }

    /// Writes the graph at the keyword arguments to `path`, as `chainrule graph` does: SVG for
    /// `.svg`, DOT for `.dot` or `.gv`.
    #[pyo3(signature = (path, **kwargs))]
    fn graph(&self, path: std::path::PathBuf, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        let values = self.numbers(kwargs)?;
        let g = Graph::new();
        let built = self.expr.build_with(&g, &values);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let text = match ext.as_deref() {
            Some("svg") => viz::svg::to_svg(&g, built.output),
            Some("dot" | "gv") => viz::to_dot(&g, built.output),
            _ => {
                return Err(invalid(format!(
                    "cannot tell the format of {}: name it .svg or .dot",
                    path.display()
                )))
            }
        };
        write_file(&path, text.as_bytes())
    }

    /// The interactive page of `chainrule report` at the keyword arguments, written to `path`
    /// when given.
    #[pyo3(signature = (path = None, **kwargs))]
    fn report(
        &self,
        path: Option<std::path::PathBuf>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Report> {
        let values = self.numbers(kwargs)?;
        let g = Graph::new();
        let built = self.expr.build_with(&g, &values);
        let options = ReportOptions::new(self.expr.source().trim(), self.point(&values));
        let report = Report::new(to_html(&g, built.output, &options));
        if let Some(p) = path {
            report.save(p)?;
        }
        Ok(report)
    }

    fn __str__(&self) -> String {
        self.expr.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Expression({:?})", self.expr.to_string())
    }
}

fn is_name(s: &str) -> bool {
    chainrule::expr::is_variable_name(s)
}
