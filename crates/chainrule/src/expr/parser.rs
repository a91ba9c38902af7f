//! A recursive-descent parser with Python's precedence and `^` as the power operator.
//!
//! ```text
//! sum     := product (('+' | '-') product)*
//! product := unary (('*' | '/') unary)*
//! unary   := ('-' | '+') unary | power
//! power   := atom ('^' unary)?          right-associative, binds tighter than unary minus
//! atom    := number | name | name '(' sum (',' sum)* ')' | '(' sum ')'
//! ```
//!
//! Long chains (`x + x + ... + x`) are parsed by loops; only nesting (parentheses, signs and
//! powers) recurses, and it is refused past [`MAX_DEPTH`] levels, so no input can overflow the
//! stack.

use super::lexer::{tokenize, Tok, Token};
use super::{Expr, ExprNode, ParseError};
use crate::ops::{Binary, Unary};

/// The deepest nesting of parentheses, signs and powers the parser accepts.
pub const MAX_DEPTH: usize = 256;

/// A function of the language: a named operation of [`crate::ops`].
#[derive(Clone, Copy)]
enum Function {
    One(Unary),
    Two(Binary),
}

impl Function {
    fn arity(self) -> usize {
        match self {
            Function::One(_) => 1,
            Function::Two(_) => 2,
        }
    }
}

/// `log` is another name for `ln`, as in most programming languages.
const ALIASES: &[(&str, Unary)] = &[("log", Unary::Ln)];

/// The functions of the language by name: the operations of [`crate::ops`] that have a function
/// name (so a new operation there is a new function here), and the aliases.
fn functions() -> impl Iterator<Item = (&'static str, Function)> {
    // Each alias is listed right after the function it names.
    let one = Unary::functions().flat_map(|(name, u)| {
        let aliases = ALIASES.iter().filter(move |&&(_, v)| v == u).copied();
        std::iter::once((name, u)).chain(aliases)
    });
    let two = Binary::ALL.iter().filter(|b| b.is_function());
    one.map(|(name, u)| (name, Function::One(u)))
        .chain(two.map(|&b| (b.symbol(), Function::Two(b))))
}

/// The names of every function of the language, for messages and documentation.
pub fn function_names() -> Vec<&'static str> {
    functions().map(|(name, _)| name).collect()
}

fn function(name: &str) -> Option<Function> {
    functions().find(|&(f, _)| f == name).map(|(_, f)| f)
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    expr: Expr,
}

pub(crate) fn parse(input: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(input)?;
    let mut p = Parser {
        input,
        tokens,
        pos: 0,
        depth: 0,
        expr: Expr::empty(input),
    };
    if p.peek() == &Tok::End {
        return Err(p.error_here("expected an expression, found an empty input".into()));
    }
    let root = p.sum()?;
    if p.peek() != &Tok::End {
        let tok = p.peek().clone();
        let hint = match tok {
            Tok::Ident(_) | Tok::Num(_) | Tok::LParen => " (write '*' for a product)",
            Tok::RParen => " (this ')' has no matching '(')",
            _ => "",
        };
        return Err(p.error_here(format!(
            "expected an operator or the end of the input, found {}{hint}",
            tok.describe()
        )));
    }
    p.expr.root = root;
    Ok(p.expr)
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn col(&self) -> usize {
        self.tokens[self.pos].col
    }

    fn advance(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn error_here(&self, message: String) -> ParseError {
        ParseError::new(self.input, self.col(), message)
    }

    fn push(&mut self, node: ExprNode) -> usize {
        self.expr.nodes.push(node);
        self.expr.nodes.len() - 1
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_here(format!(
                "the expression is nested too deeply (more than {MAX_DEPTH} levels of parentheses, signs or powers)"
            )));
        }
        Ok(())
    }

    fn sum(&mut self) -> Result<usize, ParseError> {
        let mut left = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => Binary::Add,
                Tok::Minus => Binary::Sub,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.product()?;
            left = self.push(ExprNode::Binary(op, left, right));
        }
    }

    fn product(&mut self) -> Result<usize, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => Binary::Mul,
                Tok::Slash => Binary::Div,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.unary()?;
            left = self.push(ExprNode::Binary(op, left, right));
        }
    }

    fn unary(&mut self) -> Result<usize, ParseError> {
        match self.peek() {
            Tok::Minus => {
                self.advance();
                self.enter()?;
                let x = self.unary()?;
                self.depth -= 1;
                Ok(match self.expr.nodes[x] {
                    // A negative literal is a number, not an operation on one.
                    ExprNode::Num(v) => {
                        self.expr.nodes[x] = ExprNode::Num(-v);
                        x
                    }
                    _ => self.push(ExprNode::Unary(Unary::Neg, x)),
                })
            }
            Tok::Plus => {
                self.advance();
                self.enter()?;
                let x = self.unary();
                self.depth -= 1;
                x
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<usize, ParseError> {
        let base = self.atom()?;
        if self.peek() != &Tok::Caret {
            return Ok(base);
        }
        self.advance();
        self.enter()?;
        let exponent = self.unary()?;
        self.depth -= 1;
        // A constant exponent is a one-input operation: x^2 has no gradient into the 2.
        Ok(match self.expr.nodes[exponent] {
            ExprNode::Num(p) => {
                self.expr.nodes.pop();
                let op = if p == p.trunc() && p.abs() <= i32::MAX as f64 {
                    Unary::Powi(p as i32)
                } else {
                    Unary::Powf(p)
                };
                self.push(ExprNode::Unary(op, base))
            }
            _ => self.push(ExprNode::Binary(Binary::Pow, base, exponent)),
        })
    }

    fn atom(&mut self) -> Result<usize, ParseError> {
        let col = self.col();
        match self.advance().tok {
            Tok::Num(v) => Ok(self.push(ExprNode::Num(v))),
            Tok::Ident(name) => {
                if self.peek() == &Tok::LParen {
                    self.call(&name, col)
                } else if function(&name).is_some() {
                    Err(ParseError::new(
                        self.input,
                        col,
                        format!("'{name}' is a function: write {name}(...)"),
                    ))
                } else {
                    let v = self.expr.variable_index(&name);
                    Ok(self.push(ExprNode::Var(v)))
                }
            }
            Tok::LParen => {
                self.enter()?;
                let inner = self.sum()?;
                if self.peek() != &Tok::RParen {
                    return Err(self.error_here(format!(
                        "expected ')' to close the '(' at column {}, found {}",
                        col + 1,
                        self.peek().describe()
                    )));
                }
                self.advance();
                self.depth -= 1;
                Ok(inner)
            }
            tok => {
                self.pos -= usize::from(tok != Tok::End);
                Err(self.error_here(format!(
                    "expected a number, a variable or '(', found {}",
                    tok.describe()
                )))
            }
        }
    }

    fn call(&mut self, name: &str, col: usize) -> Result<usize, ParseError> {
        let Some(f) = function(name) else {
            return Err(ParseError::new(
                self.input,
                col,
                format!(
                    "unknown function '{name}' (known: {})",
                    function_names().join(", ")
                ),
            ));
        };
        let arity = f.arity();
        self.enter()?;
        self.advance(); // '('
        let mut args = Vec::new();
        if self.peek() != &Tok::RParen {
            loop {
                args.push(self.sum()?);
                if self.peek() != &Tok::Comma {
                    break;
                }
                self.advance();
            }
        }
        if self.peek() != &Tok::RParen {
            return Err(self.error_here(format!(
                "expected ',' or ')' in the call of '{name}', found {}",
                self.peek().describe()
            )));
        }
        self.advance();
        self.depth -= 1;
        if args.len() != arity {
            let plural = if arity == 1 { "" } else { "s" };
            return Err(ParseError::new(
                self.input,
                col,
                format!(
                    "'{name}' takes {arity} argument{plural}, found {}",
                    args.len()
                ),
            ));
        }
        let node = match f {
            Function::One(op) => ExprNode::Unary(op, args[0]),
            Function::Two(op) => ExprNode::Binary(op, args[0], args[1]),
        };
        Ok(self.push(node))
    }
}
