//! Points as a person writes them, `x=2, y=-0.5`: the one reader of `name=value` lists
//! ([`Bindings`]), and the match of such a list against an expression's variables ([`Point`]),
//! with the errors each can have as values.

use std::fmt;
use std::str::FromStr;

use super::Expr;

/// Values for named variables, as written on a command line: `x=2, y=-0.5`.
///
/// Pairs are separated by commas, with spaces allowed around every part; a name starts with a
/// letter or `_` and goes on with letters, digits and `_`; a value is any number Rust reads
/// (`-3`, `1e-3`, `inf`).
///
/// ```
/// use chainrule::Bindings;
///
/// let at: Bindings = "x=2,y=1e-3".parse().unwrap();
/// assert_eq!(at.get("y"), Some(0.001));
/// assert!("x=2,x=3".parse::<Bindings>().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bindings {
    pairs: Vec<(String, f64)>,
}

/// A `name=value` list that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindingsError {
    /// Nothing but spaces.
    Empty,
    /// A part without `=`.
    MissingEquals {
        /// The part, e.g. `x`.
        part: String,
    },
    /// A part with nothing before its `=`.
    EmptyName {
        /// The part, e.g. `=3`.
        part: String,
    },
    /// A name that is not a variable's: it starts with a digit or holds other characters.
    BadName {
        /// The name.
        name: String,
        /// The part it is in.
        part: String,
    },
    /// A value that is not a number.
    BadNumber {
        /// The variable.
        name: String,
        /// The text given as its value.
        value: String,
    },
    /// A variable given twice.
    Repeated {
        /// The variable.
        name: String,
    },
}

impl fmt::Display for BindingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindingsError::Empty => {
                f.write_str("expected name=value pairs such as x=2,y=3, found nothing")
            }
            BindingsError::MissingEquals { part } => {
                write!(f, "'{part}' is not of the form name=value")
            }
            BindingsError::EmptyName { part } => {
                write!(f, "'' in '{part}' is not a variable name")
            }
            BindingsError::BadName { name, part } => {
                write!(f, "'{name}' in '{part}' is not a variable name")
            }
            BindingsError::BadNumber { name, value } => {
                write!(f, "the value of '{name}', '{value}', is not a number")
            }
            BindingsError::Repeated { name } => write!(f, "'{name}' is given more than once"),
        }
    }
}

impl std::error::Error for BindingsError {}

/// Whether `name` can be a variable of an expression: a letter or `_`, then letters, digits
/// and `_`.
///
/// ```
/// use chainrule::expr::is_variable_name;
///
/// assert!(is_variable_name("w_1"));
/// assert!(!is_variable_name("1w") && !is_variable_name(""));
/// ```
pub fn is_variable_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

impl Bindings {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `x=2, y=-0.5` (what [`str::parse`] does).
    pub fn parse(s: &str) -> Result<Self, BindingsError> {
        s.parse()
    }

    /// Sets `name` to `value`, replacing an earlier value.
    pub fn set(&mut self, name: &str, value: f64) {
        match self.pairs.iter_mut().find(|(n, _)| n == name) {
            Some(p) => p.1 = value,
            None => self.pairs.push((name.to_string(), value)),
        }
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.pairs.iter().find(|(n, _)| n == name).map(|p| p.1)
    }

    /// The names, in the order given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(n, _)| n.as_str())
    }

    /// Whether no value is given.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl FromStr for Bindings {
    type Err = BindingsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = Bindings::new();
        if s.trim().is_empty() {
            return Err(BindingsError::Empty);
        }
        for part in s.split(',') {
            let part = part.trim();
            let Some((name, value)) = part.split_once('=') else {
                return Err(BindingsError::MissingEquals { part: part.into() });
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                return Err(BindingsError::EmptyName { part: part.into() });
            }
            if !is_variable_name(name) {
                return Err(BindingsError::BadName {
                    name: name.into(),
                    part: part.into(),
                });
            }
            let v: f64 = value.parse().map_err(|_| BindingsError::BadNumber {
                name: name.into(),
                value: value.into(),
            })?;
            if b.get(name).is_some() {
                return Err(BindingsError::Repeated { name: name.into() });
            }
            b.set(name, v);
        }
        Ok(b)
    }
}

/// Values given for the variables of an expression, matched against them: the value of each
/// variable (in the expression's order) if given, and the names given that are not variables.
///
/// It says what fits and what does not; each use decides what must fit (every place needs each
/// variable's value; some refuse a name that is not a variable, others only warn about it).
///
/// ```
/// use chainrule::{Bindings, Expr};
/// use chainrule::expr::PointError;
///
/// let e = Expr::parse("x*y + z").unwrap();
/// let p = e.point(&"y=2, x=-3, w=1".parse::<Bindings>().unwrap());
/// assert_eq!(p.missing(), ["z"]);
/// assert_eq!(p.unknown(), ["w"]);
/// assert_eq!(p.values(), Err(PointError::Missing { names: vec!["z".into()] }));
/// let p = e.point(&"x=1, y=2, z=3".parse().unwrap());
/// assert_eq!(p.values(), Ok(vec![1.0, 2.0, 3.0]));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    variables: Vec<String>,
    values: Vec<Option<f64>>,
    unknown: Vec<String>,
}

/// What does not fit in a [`Point`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PointError {
    /// Variables without a value, in the expression's order.
    Missing {
        /// Their names.
        names: Vec<String>,
    },
    /// A name given that is not a variable of the expression.
    Unknown {
        /// The name.
        name: String,
        /// The expression's variables.
        variables: Vec<String>,
    },
}

impl fmt::Display for PointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointError::Missing { names } => {
                let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
                let plural = if names.len() == 1 { "" } else { "s" };
                write!(f, "no value for the variable{plural} {}", quoted.join(", "))
            }
            PointError::Unknown { name, variables } => {
                let list = if variables.is_empty() {
                    "none".to_string()
                } else {
                    variables.join(", ")
                };
                write!(
                    f,
                    "'{name}' is not a variable of the expression (its variables: {list})"
                )
            }
        }
    }
}

impl std::error::Error for PointError {}

impl Point {
    /// `at` matched against `variables`.
    pub fn new(variables: &[String], at: &Bindings) -> Point {
        Point {
            variables: variables.to_vec(),
            values: variables.iter().map(|v| at.get(v)).collect(),
            unknown: at
                .names()
                .filter(|n| !variables.iter().any(|v| v == n))
                .map(str::to_string)
                .collect(),
        }
    }

    /// Reads `text` (see [`Bindings`]) and matches it against `variables`.
    pub fn parse(variables: &[String], text: &str) -> Result<Point, BindingsError> {
        Ok(Point::new(variables, &text.parse()?))
    }

    /// The variables, in the expression's order.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// The value of variable `i` (in [`Point::variables`]), if given.
    pub fn value(&self, i: usize) -> Option<f64> {
        self.values.get(i).copied().flatten()
    }

    /// The variables without a value, in order.
    pub fn missing(&self) -> Vec<&str> {
        self.variables
            .iter()
            .zip(&self.values)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// The names given that are not variables, in the order given.
    pub fn unknown(&self) -> &[String] {
        &self.unknown
    }

    /// Every variable's value, in order, or the variables that have none.
    pub fn values(&self) -> Result<Vec<f64>, PointError> {
        let missing = self.missing();
        if !missing.is_empty() {
            return Err(PointError::Missing {
                names: missing.into_iter().map(str::to_string).collect(),
            });
        }
        Ok(self.values.iter().flatten().copied().collect())
    }

    /// Refuses the first name given that is not a variable.
    pub fn check_known(&self) -> Result<(), PointError> {
        match self.unknown.first() {
            Some(name) => Err(PointError::Unknown {
                name: name.clone(),
                variables: self.variables.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl Expr {
    /// `at` matched against this expression's variables.
    pub fn point(&self, at: &Bindings) -> Point {
        Point::new(self.variables(), at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> BindingsError {
        s.parse::<Bindings>().unwrap_err()
    }

    #[test]
    fn each_mistake_has_its_own_error() {
        assert_eq!(err("  "), BindingsError::Empty);
        assert_eq!(
            err("x=1, y"),
            BindingsError::MissingEquals { part: "y".into() }
        );
        assert_eq!(err("=3"), BindingsError::EmptyName { part: "=3".into() });
        assert_eq!(err("=3").to_string(), "'' in '=3' is not a variable name");
        assert_eq!(
            err("1x=3"),
            BindingsError::BadName {
                name: "1x".into(),
                part: "1x=3".into()
            }
        );
        assert_eq!(
            err("x=abc").to_string(),
            "the value of 'x', 'abc', is not a number"
        );
        assert_eq!(err("x=1,x=2"), BindingsError::Repeated { name: "x".into() });
        assert_eq!(err("x=1,").to_string(), "'' is not of the form name=value");
    }

    #[test]
    fn negative_and_scientific_values_read() {
        let b: Bindings = " x = -3 , y=-1e-3,z=+2".parse().unwrap();
        assert_eq!(
            (b.get("x"), b.get("y"), b.get("z")),
            (Some(-3.0), Some(-0.001), Some(2.0))
        );
        assert_eq!(
            Bindings::parse("w=inf").unwrap().get("w"),
            Some(f64::INFINITY)
        );
    }

    #[test]
    fn a_point_knows_what_is_missing_and_what_is_extra() {
        let vars = ["x".to_string(), "y".to_string()];
        let p = Point::parse(&vars, "y=2,q=1,r=0").unwrap();
        assert_eq!(p.missing(), ["x"]);
        assert_eq!((p.value(0), p.value(1)), (None, Some(2.0)));
        assert_eq!(
            p.check_known().unwrap_err().to_string(),
            "'q' is not a variable of the expression (its variables: x, y)"
        );
        assert_eq!(
            Point::new(&vars, &Bindings::new())
                .values()
                .unwrap_err()
                .to_string(),
            "no value for the variables 'x', 'y'"
        );
        assert_eq!(Point::new(&[], &Bindings::new()).values(), Ok(vec![]));
    }
}
