//! Symbolic derivatives, from the same rules as the numeric ones.
//!
//! [`Sym`] is a third algebra for the rules of [`crate::ops`] (after numbers and graph nodes):
//! its values are formulas in a hash-consed arena, a [`SymBuilder`]. Running a sweep with `Sym`
//! values writes the derivative down as a formula instead of computing a number. It is the
//! forward sweep (the rules applied to the tangent `d node / d x`, node after node), since there
//! is one variable to differentiate by: reverse mode would give the same function, but its
//! adjoints nest sums inside products more deeply, and a printed formula repeats every shared
//! part (the 6th derivative of `sin(cos(tan(x)))` prints in 82,235 characters that way, and in
//! 16,669 by the forward sweep; the 8th, in 3.4 million against 210,412).
//!
//! The builder simplifies as it goes, so that what comes out reads as a person would write it:
//! constants are folded (`2 * 3` → `6`, `3 * (2 * x)` → `6 * x`), `0 * a` → `0`, `1 * a` → `a`,
//! `a + 0` → `a`; sums and products have one canonical form each, so like terms meet however
//! they were built: a sum is its terms with their coefficients (like terms collected, across
//! nested sums too: `2 * a - 5 * a` → `-3 * a`, `c + (s + c) - s` → `2 * c`; a product with a
//! sum is multiplied out when that leaves fewer terms), a product is its coefficient and its
//! factors with integer powers (`a * a` → `a^2`, `x^3 / x` → `x^2`, `x / x^4` → `1 / x^3`,
//! `(x * y) / x` → `y`, `y * x * 2 + 2 * (x * y)` → `4 * y * x`), both in the order their parts
//! were first made; `x^1` → `x`, `--a` → `a`; and identical subformulas are one node, so nested
//! input does not make the arena explode. (The printed text is a tree and repeats shared parts.)
//!
//! **Points where a rule branches.** A formula has no value, so [`Real::value`] is NaN for
//! `Sym`, and the rules that compare numbers take their general branch. Concretely:
//! - `relu`, `abs`, `max`, `min` state their branch through [`Real::piecewise`], which the
//!   builder writes with the piecewise-constant functions `step` and `sign` of the language:
//!   `relu'(x) = step(x)`, `abs'(x) = sign(x)`, `∂max(a, b)/∂a = 0.5 * sign(a - b) + 0.5`.
//!   These agree with the engine everywhere, kinks included (with the engine's conventions:
//!   `relu'(0) = 0`, a tie of `max` halves the gradient).
//! - `a^b` with both sides variable has the general derivatives `b * a^(b - 1)` and
//!   `a^b * ln(a)`; the engine's special cases at `b = 0` and at `a = 0` are not kept.
//! - simplifications such as `a / a` → `1` and `a - a` → `0` hold wherever `a` is defined.
//!
//! So a symbolic derivative equals the engine's wherever the expression is defined, except at
//! the special points of `a^b` just listed.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ops::{Add, Div, Mul, Neg, Sub};

use super::{Expr, ExprNode};
use crate::ops::{Binary, Real, Unary};
use crate::scalar::backward::{Slots, Sparse};
use crate::scalar::forward;
use crate::scalar::graph::{depends_on, NodeId, Op, Recording};

/// The hash-consing key of a node: numbers by their bits, a unary operation by its kind and
/// the bits of its parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Num(u64),
    Var(usize),
    Unary(std::mem::Discriminant<Unary>, u64, usize),
    Binary(Binary, usize, usize),
}

/// The parameter of a unary operation, as bits (0 for those without one).
fn parameter_bits(op: Unary) -> u64 {
    op.parameter().map_or(0, f64::to_bits)
}

/// FxHash (the multiply-rotate hash of Firefox and rustc): the keys are a few integers made by
/// this program, so the DoS resistance of the standard SipHash buys nothing here, and interning
/// is the builder's hottest path.
#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An arena of formulas in which every distinct formula is stored once.
#[derive(Debug, Default)]
pub struct SymBuilder {
    nodes: RefCell<Vec<ExprNode>>,
    index: RefCell<HashMap<Key, usize, std::hash::BuildHasherDefault<FxHasher>>>,
    /// How deeply simplifications are nested now; past [`MAX_REWRITES`] a node is stored as it
    /// is, so no combination of rewrites can go on forever.
    depth: Cell<u32>,
}

/// The deepest nesting of simplifying rewrites before a formula is stored as it is.
const MAX_REWRITES: u32 = 48;

/// The most terms two sums may have between them for their like terms to be collected.
const MAX_TERMS: usize = 32;

/// A formula: a handle to a node of a [`SymBuilder`]. Arithmetic builds (simplified) formulas.
#[derive(Clone, Copy, Debug)]
pub struct Sym<'b> {
    builder: &'b SymBuilder,
    id: usize,
}

impl PartialEq for Sym<'_> {
    /// The same formula (hash-consing makes this structural equality).
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.builder, other.builder) && self.id == other.id
    }
}

impl SymBuilder {
    /// An empty arena.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number `c`.
    pub fn num(&self, c: f64) -> Sym<'_> {
        // One zero: -0 and 0 are the same formula.
        let c = if c == 0.0 { 0.0 } else { c };
        self.intern(ExprNode::Num(c))
    }

    /// The variable with index `i` (in the order of the variables of the expression).
    pub fn var(&self, i: usize) -> Sym<'_> {
        self.intern(ExprNode::Var(i))
    }

    /// The number of distinct formulas stored.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn node(&self, id: usize) -> ExprNode {
        self.nodes.borrow()[id]
    }

    fn intern(&self, node: ExprNode) -> Sym<'_> {
        let key = match node {
            ExprNode::Num(c) => Key::Num(c.to_bits()),
            ExprNode::Var(i) => Key::Var(i),
            ExprNode::Unary(op, a) => {
                Key::Unary(std::mem::discriminant(&op), parameter_bits(op), a)
            }
            ExprNode::Binary(op, a, b) => Key::Binary(op, a, b),
        };
        if let Some(&id) = self.index.borrow().get(&key) {
            return Sym { builder: self, id };
        }
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(node);
        let id = nodes.len() - 1;
        self.index.borrow_mut().insert(key, id);
        Sym { builder: self, id }
    }

    /// Adds a parsed expression's nodes (simplified) and returns its root.
    pub fn add_expr(&self, e: &Expr) -> Sym<'_> {
        let mut map: Vec<Sym> = Vec::with_capacity(e.nodes.len());
        for node in &e.nodes {
            let s = match *node {
                ExprNode::Num(c) => self.num(c),
                ExprNode::Var(i) => self.var(i),
                ExprNode::Unary(op, a) => map[a].unary(op),
                ExprNode::Binary(op, a, b) => map[a].binary(op, map[b]),
            };
            map.push(s);
        }
        map[e.root]
    }

    /// The formula `root` as an [`Expr`] over the variables `variables` (only the nodes it
    /// uses, children before parents).
    pub fn to_expr(&self, root: Sym<'_>, variables: &[String]) -> Expr {
        let nodes = self.nodes.borrow();
        let used = self.used_by(root);
        let mut new_index = vec![usize::MAX; root.id + 1];
        let mut out = Vec::new();
        for i in (0..=root.id).filter(|&i| used[i]) {
            new_index[i] = out.len();
            out.push(match nodes[i] {
                ExprNode::Unary(op, a) => ExprNode::Unary(op, new_index[a]),
                ExprNode::Binary(op, a, b) => ExprNode::Binary(op, new_index[a], new_index[b]),
                leaf => leaf,
            });
        }
        // No source text: printing it could take far longer than building it (its Display
        // gives the text when wanted; `Expr::printed_len` says how long it would be).
        Expr {
            source: String::new(),
            root: out.len() - 1,
            nodes: out,
            variables: variables.to_vec(),
        }
    }

    /// Which nodes up to `root` the formula `root` is made of.
    fn used_by(&self, root: Sym<'_>) -> Vec<bool> {
        let nodes = self.nodes.borrow();
        let mut used = vec![false; root.id + 1];
        used[root.id] = true;
        for i in (0..=root.id).rev() {
            if !used[i] {
                continue;
            }
            match nodes[i] {
                ExprNode::Num(_) | ExprNode::Var(_) => {}
                ExprNode::Unary(_, a) => used[a] = true,
                ExprNode::Binary(_, a, b) => {
                    used[a] = true;
                    used[b] = true;
                }
            }
        }
        used
    }
}

impl<'b> Sym<'b> {
    fn node(self) -> ExprNode {
        self.builder.node(self.id)
    }

    /// The number this formula is, if it is a number.
    pub fn as_num(self) -> Option<f64> {
        match self.node() {
            ExprNode::Num(c) => Some(c),
            _ => None,
        }
    }

    fn is(self, c: f64) -> bool {
        self.as_num() == Some(c)
    }

    fn num(self, c: f64) -> Sym<'b> {
        self.builder.num(c)
    }

    fn raw_unary(self, op: Unary) -> Sym<'b> {
        self.builder.intern(ExprNode::Unary(op, self.id))
    }

    fn raw_binary(self, op: Binary, other: Sym<'b>) -> Sym<'b> {
        self.builder.intern(ExprNode::Binary(op, self.id, other.id))
    }

    /// `op(self)`, simplified.
    pub fn unary(self, op: Unary) -> Sym<'b> {
        self.guarded(|| self.raw_unary(op), || self.simplify_unary(op))
    }

    /// Runs a rewrite, or `plain` when rewrites are nested too deeply.
    fn guarded(
        self,
        plain: impl FnOnce() -> Sym<'b>,
        rewrite: impl FnOnce() -> Sym<'b>,
    ) -> Sym<'b> {
        let depth = &self.builder.depth;
        if depth.get() >= MAX_REWRITES {
            return plain();
        }
        depth.set(depth.get() + 1);
        let s = rewrite();
        depth.set(depth.get() - 1);
        s
    }

    fn simplify_unary(self, op: Unary) -> Sym<'b> {
        if let Some(c) = self.as_num() {
            let v = op.apply(c);
            if v.is_finite() {
                return self.num(v);
            }
        }
        match (op, self.node()) {
            (Unary::Neg, ExprNode::Unary(Unary::Neg, x)) => Sym { id: x, ..self },
            (Unary::Neg, ExprNode::Binary(Binary::Mul, c, x)) if self.at(c).as_num().is_some() => {
                let c = self.at(c).as_num().unwrap_or(0.0);
                self.num(-c) * self.at(x)
            }
            (Unary::Neg, ExprNode::Binary(Binary::Sub, a, b)) => self.at(b) - self.at(a),
            (Unary::AddConst(c), _) => self + self.num(c),
            (Unary::MulConst(c), _) => self.num(c) * self,
            (Unary::DivConst(c), _) => self / self.num(c),
            (Unary::Powi(0), _) => self.num(1.0),
            (Unary::Powi(1), _) => self,
            (Unary::Powf(p), _) if p == p.trunc() && p.abs() <= i32::MAX as f64 => {
                self.unary(Unary::Powi(p as i32))
            }
            (Unary::Powi(n), ExprNode::Unary(Unary::Powi(m), x)) => match n.checked_mul(m) {
                Some(k) => self.at(x).unary(Unary::Powi(k)),
                None => self.raw_unary(op),
            },
            _ => self.raw_unary(op),
        }
    }

    fn at(self, id: usize) -> Sym<'b> {
        Sym { id, ..self }
    }

    /// A sum or difference as its two operands and the sign of the second (`1` for `x + y`,
    /// `-1` for `x - y`); `None` for anything else.
    fn sum_parts(self) -> Option<(Sym<'b>, Sym<'b>, f64)> {
        match self.node() {
            ExprNode::Binary(Binary::Add, x, y) => Some((self.at(x), self.at(y), 1.0)),
            ExprNode::Binary(Binary::Sub, x, y) => Some((self.at(x), self.at(y), -1.0)),
            _ => None,
        }
    }

    /// `op(self, other)`, simplified.
    pub fn binary(self, op: Binary, other: Sym<'b>) -> Sym<'b> {
        self.guarded(
            || self.raw_binary(op, other),
            || self.simplify_binary(op, other),
        )
    }

    fn simplify_binary(self, op: Binary, other: Sym<'b>) -> Sym<'b> {
        if let (Some(a), Some(b)) = (self.as_num(), other.as_num()) {
            let v = op.apply(a, b);
            if v.is_finite() {
                return self.num(v);
            }
        }
        match op {
            Binary::Add => self.sum(other),
            Binary::Sub => self.difference(other),
            Binary::Mul => self.product(other),
            Binary::Div => self.quotient(other),
            Binary::Pow => match other.as_num() {
                Some(p) if p == p.trunc() && p.abs() <= i32::MAX as f64 => {
                    self.unary(Unary::Powi(p as i32))
                }
                Some(p) => self.unary(Unary::Powf(p)),
                None if self.is(1.0) => self,
                None => self.raw_binary(op, other),
            },
            Binary::Max | Binary::Min if self == other => self,
            _ => self.raw_binary(op, other),
        }
    }

    fn sum(self, b: Sym<'b>) -> Sym<'b> {
        if self.is(0.0) {
            return b;
        }
        if b.is(0.0) {
            return self;
        }
        if self.as_num().is_some() {
            return b + self; // constants to the right: x + 1
        }
        if let Some(collected) = self.collect_terms(b, 1.0) {
            return collected;
        }
        // Sums too long for `collect_terms` still collect like terms as a whole:
        // a·t + b·t → (a + b)·t (so t + t → 2·t, 2·t + -2·t → 0).
        let ((ca, ta), (cb, tb)) = (self.coefficient_parts(), b.coefficient_parts());
        if ta == tb && ta.as_num().is_none() {
            return self.num(ca + cb) * ta;
        }
        if let Some(c) = b.as_num() {
            let (rest, k) = self.offset_parts();
            if k != 0.0 {
                return rest + self.num(k + c);
            }
            if c < 0.0 {
                return self - self.num(-c);
            }
        }
        if let ExprNode::Unary(Unary::Neg, y) = b.node() {
            return self - self.at(y);
        }
        if let ExprNode::Unary(Unary::Neg, x) = self.node() {
            return b - self.at(x);
        }

        if let ExprNode::Binary(Binary::Mul, c, y) = b.node() {
            if let Some(c) = self.at(c).as_num().filter(|c| *c < 0.0) {
                return self - self.num(-c) * self.at(y);
            }
        }
        if let ExprNode::Binary(Binary::Mul, c, y) = self.node() {
            if let Some(c) = self.at(c).as_num().filter(|c| *c < 0.0) {
                return b - self.num(-c) * self.at(y);
            }
        }
        self.commutative(Binary::Add, b)
    }

    /// `self + sign · b` as one canonical sum: like terms collected across both sums
    /// (`c + (s + c) - s` → `2 · c`, `(x + 1) + (y + 2)` → `x + y + 3`), the terms in a fixed
    /// order, and products with a sum multiplied out when that leaves fewer terms
    /// (`e · c + (e · (s + c) - s · e)` → `2 · e · c`). `None` when the sums have more than
    /// [`MAX_TERMS`] terms between them (so building a long sum stays linear; the pairwise rules
    /// then apply).
    fn collect_terms(self, b: Sym<'b>, sign: f64) -> Option<Sym<'b>> {
        let plain = Terms::of(self, b, sign, false)?;
        if plain.expandable {
            if let Some(expanded) = Terms::of(self, b, sign, true) {
                if expanded.len() < plain.len() {
                    return Some(expanded.rebuild(self));
                }
            }
        }
        Some(plain.rebuild(self))
    }

    /// `self` as `c · t` for a number `c` (`c = 1` when there is no numeric factor).
    fn coefficient_parts(self) -> (f64, Sym<'b>) {
        match self.node() {
            ExprNode::Binary(Binary::Mul, c, t) => match self.at(c).as_num() {
                Some(c) => (c, self.at(t)),
                None => (1.0, self),
            },
            ExprNode::Unary(Unary::Neg, t) => (-1.0, self.at(t)),
            _ => (1.0, self),
        }
    }

    /// `self op b` for a commutative `op`, its operands in creation order, so that `a·b` and
    /// `b·a` are one formula.
    /// (A number stays first in a product and last in a sum.)
    fn commutative(self, op: Binary, b: Sym<'b>) -> Sym<'b> {
        let (l, r) = self.ordered(op, b);
        l.raw_binary(op, r)
    }

    /// The operands of a commutative `op` in their canonical order.
    fn ordered(self, op: Binary, b: Sym<'b>) -> (Sym<'b>, Sym<'b>) {
        let num_first = match op {
            Binary::Mul => self.as_num().is_some() || b.as_num().is_some(),
            _ => false,
        };
        let keep = if num_first {
            self.as_num().is_some()
        } else if self.as_num().is_some() || b.as_num().is_some() {
            b.as_num().is_some()
        } else {
            self.id <= b.id
        };
        if keep {
            (self, b)
        } else {
            (b, self)
        }
    }

    /// `self` as `rest + k` for a number `k` (`k = 0` when there is no constant term).
    fn offset_parts(self) -> (Sym<'b>, f64) {
        match self.node() {
            ExprNode::Binary(op @ (Binary::Add | Binary::Sub), x, k) => match self.at(k).as_num() {
                Some(k) if op == Binary::Add => (self.at(x), k),
                Some(k) => (self.at(x), -k),
                None => (self, 0.0),
            },
            _ => (self, 0.0),
        }
    }

    fn difference(self, b: Sym<'b>) -> Sym<'b> {
        if b.is(0.0) {
            return self;
        }
        if self.is(0.0) {
            return -b;
        }
        if let Some(collected) = self.collect_terms(b, -1.0) {
            return collected;
        }
        // Sums too long for `collect_terms` still collect like terms as a whole:
        // a·t − b·t → (a − b)·t (so t − t → 0).
        let ((ca, ta), (cb, tb)) = (self.coefficient_parts(), b.coefficient_parts());
        if ta == tb && ta.as_num().is_none() {
            return self.num(ca - cb) * ta;
        }
        if let Some(c) = b.as_num() {
            let (rest, k) = self.offset_parts();
            if k != 0.0 {
                return rest + self.num(k - c);
            }
            if c < 0.0 {
                return self + self.num(-c);
            }
        }
        if let ExprNode::Unary(Unary::Neg, y) = b.node() {
            return self + self.at(y);
        }
        if let ExprNode::Binary(Binary::Mul, c, y) = b.node() {
            if let Some(c) = self.at(c).as_num().filter(|c| *c < 0.0) {
                return self + self.num(-c) * self.at(y);
            }
        }
        self.raw_binary(Binary::Sub, b)
    }

    fn product(self, b: Sym<'b>) -> Sym<'b> {
        if self.is(0.0) || b.is(0.0) {
            return self.num(0.0);
        }
        if self.is(1.0) {
            return b;
        }
        if b.is(1.0) {
            return self;
        }
        if self.is(-1.0) {
            return -b;
        }
        if b.is(-1.0) {
            return -self;
        }
        if b.as_num().is_some() {
            return b * self; // constants to the left: 6 * x
        }
        if let Some(f) = Factors::of(&[(self, 1), (b, 1)]) {
            return f.rebuild(self);
        }
        // Products of more than `MAX_TERMS` factors: pairwise rules.
        if let ExprNode::Unary(Unary::Neg, x) = self.node() {
            return -(self.at(x) * b);
        }
        if let ExprNode::Unary(Unary::Neg, y) = b.node() {
            return -(self * self.at(y));
        }
        // Pull constants to the front: c₁ · (c₂ · x) → (c₁c₂) · x, a · (c · x) → c · (a · x).
        if let ExprNode::Binary(Binary::Mul, c, x) = b.node() {
            if let Some(c) = self.at(c).as_num() {
                return match self.as_num() {
                    Some(k) => self.num(k * c) * self.at(x),
                    None => self.num(c) * (self * self.at(x)),
                };
            }
        }
        if let ExprNode::Binary(Binary::Mul, c, x) = self.node() {
            if let Some(c) = self.at(c).as_num() {
                if self.as_num().is_none() {
                    return self.num(c) * (self.at(x) * b);
                }
            }
        }
        // Powers of one base: x · x → x², xⁿ · x → xⁿ⁺¹, xⁿ · xᵐ → xⁿ⁺ᵐ.
        let (base_a, ea) = self.power_parts();
        let (base_b, eb) = b.power_parts();
        if base_a == base_b && self.as_num().is_none() {
            if let Some(k) = ea.checked_add(eb) {
                return base_a.unary(Unary::Powi(k));
            }
        }
        // A number over a denominator: c · (1 / d) → c / d.
        if self.as_num().is_some() {
            if let ExprNode::Binary(Binary::Div, n, d) = b.node() {
                if self.at(n).is(1.0) {
                    return self / self.at(d);
                }
            }
        }
        // Fractions: (a / b) · c → (a · c) / b, and a · (b / c) → (a · b) / c; a number stays
        // in front (c · (a / b)).
        if self.as_num().is_none() {
            if let ExprNode::Binary(Binary::Div, n, d) = self.node() {
                return (self.at(n) * b) / self.at(d);
            }
            if let ExprNode::Binary(Binary::Div, n, d) = b.node() {
                return (self * self.at(n)) / self.at(d);
            }
        }
        self.commutative(Binary::Mul, b)
    }

    /// `self` as `base^n` with an integer `n` (n = 1 when it is not a power).
    fn power_parts(self) -> (Sym<'b>, i32) {
        match self.node() {
            ExprNode::Unary(Unary::Powi(n), x) => (self.at(x), n),
            _ => (self, 1),
        }
    }

    fn quotient(self, b: Sym<'b>) -> Sym<'b> {
        if self.is(0.0) {
            return self;
        }
        if b.is(1.0) {
            return self;
        }
        if b.is(-1.0) {
            return -self;
        }
        if self == b {
            return self.num(1.0);
        }
        if let Some(f) = Factors::of(&[(self, 1), (b, -1)]) {
            return f.rebuild(self);
        }
        // Quotients of more than `MAX_TERMS` factors: pairwise rules.
        // Powers of one base: xⁿ / xᵐ → xⁿ⁻ᵐ, or 1 / xᵐ⁻ⁿ.
        let (base_a, ea) = self.power_parts();
        let (base_b, eb) = b.power_parts();
        if base_a == base_b && self.as_num().is_none() {
            if let Some(k) = ea.checked_sub(eb).filter(|k| *k != i32::MIN) {
                return match k {
                    0 => self.num(1.0),
                    k if k > 0 => base_a.unary(Unary::Powi(k)),
                    k => self.num(1.0) / base_a.unary(Unary::Powi(-k)),
                };
            }
        }
        // A factor over a power of its base: (x · y) / x → y, (x³ · y) / x → x² · y.
        if let ExprNode::Binary(Binary::Mul, l, r) = self.node() {
            for (f, other) in [(self.at(l), self.at(r)), (self.at(r), self.at(l))] {
                if f.as_num().is_none() && f.power_parts().0 == base_b {
                    return (f / b) * other;
                }
            }
        }
        if let ExprNode::Unary(Unary::Neg, x) = self.node() {
            return -(self.at(x) / b);
        }
        if let ExprNode::Binary(Binary::Mul, c, x) = self.node() {
            if self.at(c).as_num().is_some() {
                return self.at(c) * (self.at(x) / b);
            }
        }
        // (a / b) / c → a / (b · c)
        if let ExprNode::Binary(Binary::Div, n, d) = self.node() {
            return self.at(n) / (self.at(d) * b);
        }
        self.raw_binary(Binary::Div, b)
    }
}

/// A sum taken apart: its terms with their numeric coefficients (like terms merged), and its
/// constant.
struct Terms<'b> {
    terms: Vec<(Sym<'b>, f64)>,
    constant: f64,
    /// Whether a term is a product with a sum among its factors.
    expandable: bool,
}

impl<'b> Terms<'b> {
    /// The terms of `a + sign · b`, looking through `+`, `-`, negation and the numeric factors of
    /// products, and with `expand`, multiplying out products with a sum (`f · (x + y)` →
    /// `f · x + f · y`). `None` past [`MAX_TERMS`].
    fn of(a: Sym<'b>, b: Sym<'b>, sign: f64, expand: bool) -> Option<Terms<'b>> {
        let mut out = Terms {
            terms: Vec::new(),
            constant: 0.0,
            expandable: false,
        };
        let mut stack = vec![(sign, b), (1.0, a)];
        while let Some((c, s)) = stack.pop() {
            if out.terms.len() + stack.len() > MAX_TERMS {
                return None;
            }
            match s.node() {
                ExprNode::Num(v) => out.constant += c * v,
                ExprNode::Binary(Binary::Add, x, y) => {
                    stack.push((c, s.at(y)));
                    stack.push((c, s.at(x)));
                }
                ExprNode::Binary(Binary::Sub, x, y) => {
                    stack.push((-c, s.at(y)));
                    stack.push((c, s.at(x)));
                }
                ExprNode::Unary(Unary::Neg, x) => stack.push((-c, s.at(x))),
                ExprNode::Binary(Binary::Mul | Binary::Div, _, _) => {
                    let Some(mut f) = Factors::of(&[(s, 1)]) else {
                        out.push(s, c);
                        continue;
                    };
                    let k = std::mem::replace(&mut f.coefficient, 1.0);
                    match f.sum_factor() {
                        Some((i, (x, y, sign))) if expand => {
                            f.factors.remove(i);
                            let rest = f.rebuild(s);
                            stack.push((c * k * sign, rest * y));
                            stack.push((c * k, rest * x));
                        }
                        found => {
                            out.expandable |= found.is_some();
                            let t = f.rebuild(s);
                            match t.as_num() {
                                Some(v) => out.constant += c * k * v,
                                None => out.push(t, c * k),
                            }
                        }
                    }
                }
                _ => out.push(s, c),
            }
        }
        Some(out)
    }

    fn push(&mut self, t: Sym<'b>, c: f64) {
        match self.terms.iter_mut().find(|(u, _)| *u == t) {
            Some((_, k)) => *k += c,
            None => self.terms.push((t, c)),
        }
    }

    /// The number of terms left once like terms cancel.
    fn len(&self) -> usize {
        self.terms.iter().filter(|(_, k)| *k != 0.0).count()
    }

    /// The sum again, in a canonical order: terms by creation order, except that the first with
    /// a positive coefficient leads (`b - a`, not `-a + b`), and the constant last (first when
    /// every term is negative: `1 - s`).
    fn rebuild(mut self, any: Sym<'b>) -> Sym<'b> {
        self.terms.retain(|(_, k)| *k != 0.0);
        self.terms.sort_by_key(|(t, _)| t.id);
        if let Some(i) = self.terms.iter().position(|(_, k)| *k > 0.0) {
            self.terms[..=i].rotate_right(1);
        }
        // A term is already in its canonical form (`Terms::of` rebuilt it), so a coefficient of
        // ±1 needs no second pass over its factors.
        let scaled = |t: Sym<'b>, k: f64| {
            if k == 1.0 {
                return t;
            }
            if k == -1.0 {
                return t.raw_unary(Unary::Neg);
            }
            match Factors::of(&[(t, 1)]) {
                Some(mut f) => {
                    f.coefficient *= k;
                    f.rebuild(t)
                }
                None => any.num(k).raw_binary(Binary::Mul, t),
            }
        };
        // With no positive term, a positive constant leads: `1 - s`, not `-s + 1`.
        let c = self.constant;
        let lead = self.terms.first().is_some_and(|(_, k)| *k < 0.0) && c > 0.0;
        let mut sum: Option<Sym<'b>> = lead.then(|| any.num(c));
        for (t, k) in self.terms {
            sum = Some(match sum {
                None => scaled(t, k),
                Some(s) if k < 0.0 => s.raw_binary(Binary::Sub, scaled(t, -k)),
                Some(s) => s.raw_binary(Binary::Add, scaled(t, k)),
            });
        }
        match sum {
            None => any.num(c),
            Some(s) if lead || c == 0.0 => s,
            Some(s) if c > 0.0 => s.raw_binary(Binary::Add, any.num(c)),
            Some(s) => s.raw_binary(Binary::Sub, any.num(-c)),
        }
    }
}

/// A product taken apart: its numeric coefficient and its factors with integer exponents
/// (powers of one base merged; a quotient's denominator has negative exponents).
struct Factors<'b> {
    coefficient: f64,
    factors: Vec<(Sym<'b>, i32)>,
}

impl<'b> Factors<'b> {
    /// The factors of the product of `items`, each raised to its exponent, looking through
    /// products, quotients, negation and integer powers. `None` past [`MAX_TERMS`] factors, or
    /// when the coefficient or an exponent would not be finite (a division by the number 0).
    fn of(items: &[(Sym<'b>, i32)]) -> Option<Factors<'b>> {
        let mut out = Factors {
            coefficient: 1.0,
            factors: Vec::new(),
        };
        let mut stack: Vec<(Sym<'b>, i32)> = items.iter().rev().copied().collect();
        while let Some((s, e)) = stack.pop() {
            if out.factors.len() + stack.len() > MAX_TERMS {
                return None;
            }
            match s.node() {
                ExprNode::Num(v) => out.coefficient *= v.powi(e),
                ExprNode::Binary(Binary::Mul, x, y) => {
                    stack.push((s.at(y), e));
                    stack.push((s.at(x), e));
                }
                ExprNode::Binary(Binary::Div, x, y) => {
                    stack.push((s.at(y), e.checked_neg()?));
                    stack.push((s.at(x), e));
                }
                ExprNode::Unary(Unary::Neg, x) => {
                    if e % 2 != 0 {
                        out.coefficient = -out.coefficient;
                    }
                    stack.push((s.at(x), e));
                }
                ExprNode::Unary(Unary::Powi(n), x) => stack.push((s.at(x), e.checked_mul(n)?)),
                _ => match out.factors.iter_mut().find(|(t, _)| *t == s) {
                    Some((_, k)) => *k = k.checked_add(e)?,
                    None => out.factors.push((s, e)),
                },
            }
        }
        // (An exponent of i32::MIN has no positive counterpart for a denominator.)
        let representable = out.factors.iter().all(|(_, e)| *e != i32::MIN);
        (out.coefficient.is_finite() && representable).then_some(out)
    }

    /// The first factor that is a sum (or difference) to the first power: its index and its
    /// parts ([`Sym::sum_parts`]).
    fn sum_factor(&self) -> Option<(usize, (Sym<'b>, Sym<'b>, f64))> {
        self.factors
            .iter()
            .enumerate()
            .find_map(|(i, (t, e))| Some((i, t.sum_parts().filter(|_| *e == 1)?)))
    }

    /// The product again, in a canonical form: factors by creation order, the coefficient in
    /// front, a denominator when exponents are negative: `3 * x^2 * y`, `2 / x`, `x * y / z^2`,
    /// `-sin(x)`, `-(1 / x^2)`.
    fn rebuild(mut self, any: Sym<'b>) -> Sym<'b> {
        self.factors.retain(|(_, e)| *e != 0);
        self.factors.sort_by_key(|(t, _)| t.id);
        let c = self.coefficient;
        if c == 0.0 || self.factors.is_empty() {
            return any.num(c);
        }
        let power = |t: Sym<'b>, e: i32| {
            if e == 1 {
                t
            } else {
                t.raw_unary(Unary::Powi(e))
            }
        };
        let chain = |lead: Option<Sym<'b>>, positive: bool| {
            self.factors
                .iter()
                .filter(|(_, e)| (*e > 0) == positive)
                .map(|&(t, e)| power(t, e.unsigned_abs() as i32))
                .fold(lead, |acc, f| {
                    Some(match acc {
                        Some(a) => a.raw_binary(Binary::Mul, f),
                        None => f,
                    })
                })
        };
        let negate = c == -1.0;
        let lead = (c.abs() != 1.0).then(|| any.num(c));
        let numerator = chain(lead, true).unwrap_or_else(|| any.num(1.0));
        let r = match chain(None, false) {
            Some(denominator) => numerator.raw_binary(Binary::Div, denominator),
            None => numerator,
        };
        if negate {
            r.raw_unary(Unary::Neg)
        } else {
            r
        }
    }
}

impl<'b> Add for Sym<'b> {
    type Output = Sym<'b>;
    fn add(self, b: Sym<'b>) -> Sym<'b> {
        self.binary(Binary::Add, b)
    }
}
impl<'b> Sub for Sym<'b> {
    type Output = Sym<'b>;
    fn sub(self, b: Sym<'b>) -> Sym<'b> {
        self.binary(Binary::Sub, b)
    }
}
impl<'b> Mul for Sym<'b> {
    type Output = Sym<'b>;
    fn mul(self, b: Sym<'b>) -> Sym<'b> {
        self.binary(Binary::Mul, b)
    }
}
impl<'b> Div for Sym<'b> {
    type Output = Sym<'b>;
    fn div(self, b: Sym<'b>) -> Sym<'b> {
        self.binary(Binary::Div, b)
    }
}
impl<'b> Neg for Sym<'b> {
    type Output = Sym<'b>;
    fn neg(self) -> Sym<'b> {
        self.unary(Unary::Neg)
    }
}

impl Real for Sym<'_> {
    /// NaN: a formula has no value, so rules that compare values take their general branch.
    fn value(self) -> f64 {
        f64::NAN
    }
    fn zero(self) -> Self {
        self.num(0.0)
    }
    fn add_c(self, c: f64) -> Self {
        self + self.num(c)
    }
    fn mul_c(self, c: f64) -> Self {
        self.num(c) * self
    }
    fn unary(self, op: Unary) -> Self {
        Sym::unary(self, op)
    }
    crate::ops::real_by_unary!();
    fn pow(self, p: Self) -> Self {
        self.binary(Binary::Pow, p)
    }
    /// Written with `step` and `sign` of `d = self - other`: `below + (above - below)·step(d)`
    /// when `tie == below`, `above + (below - above)·step(-d)` when `tie == above`, and
    /// `tie + (above - below)/2·sign(d) + ((above + below)/2 - tie)·|sign(d)|` otherwise.
    fn piecewise(self, other: Self, below: f64, tie: f64, above: f64, g: Self) -> Self {
        let d = self - other;
        let factor = if tie == below {
            self.num(below) + self.num(above - below) * d.unary(Unary::Step)
        } else if tie == above {
            self.num(above) + self.num(below - above) * (-d).unary(Unary::Step)
        } else {
            let s = d.unary(Unary::Sign);
            self.num((above - below) / 2.0) * s
                + self.num((above + below) / 2.0 - tie) * s.unary(Unary::Abs)
                + self.num(tie)
        };
        g * factor
    }
}

impl Expr {
    /// The derivative with respect to the variable `var`, as a simplified expression, written by
    /// the same rules as the engine's gradients, in a forward sweep (see
    /// [`crate::expr::symbolic`] for why, and for how points where a rule branches are handled).
    ///
    /// The result keeps this expression's [`variables`](Expr::variables) (even those that
    /// vanished), so the same values evaluate both; its text parses back with [`Expr::parse`].
    /// A variable that does not occur gives `0`.
    ///
    /// ```
    /// use chainrule::Expr;
    ///
    /// let e = Expr::parse("3*x^2 + 1").unwrap();
    /// assert_eq!(e.derivative("x").to_string(), "6 * x");
    /// assert_eq!(e.derivative("y").to_string(), "0");
    /// let d = Expr::parse("relu(x) * sin(y)").unwrap().derivative("x");
    /// assert_eq!(d.to_string(), "sin(y) * step(x)");
    /// ```
    pub fn derivative(&self, var: &str) -> Expr {
        self.nth_derivative(var, 1)
    }

    /// The `order`-th derivative with respect to `var` (`order = 0` gives the expression,
    /// simplified). All orders are taken in one arena of formulas, and only the last is turned
    /// into an [`Expr`].
    ///
    /// ```
    /// use chainrule::Expr;
    ///
    /// let e = Expr::parse("sin(x)").unwrap();
    /// assert_eq!(e.nth_derivative("x", 3).to_string(), "-cos(x)");
    /// assert_eq!(e.nth_derivative("x", 4).to_string(), "sin(x)");
    /// ```
    pub fn nth_derivative(&self, var: &str, order: usize) -> Expr {
        self.nth_derivative_with(var, order, |_| {})
    }

    /// [`Expr::nth_derivative`], calling `done(k)` once the `k`-th derivative is built, for
    /// `k = 1..=order`: high orders of some expressions take seconds, and a caller can show
    /// progress.
    ///
    /// ```
    /// use chainrule::Expr;
    ///
    /// let mut seen = Vec::new();
    /// let d = Expr::parse("x^5").unwrap().nth_derivative_with("x", 3, |k| seen.push(k));
    /// assert_eq!(d.to_string(), "60 * x^2");
    /// assert_eq!(seen, [1, 2, 3]);
    /// ```
    pub fn nth_derivative_with(
        &self,
        var: &str,
        order: usize,
        mut done: impl FnMut(usize),
    ) -> Expr {
        let b = SymBuilder::new();
        let mut root = b.add_expr(self);
        let x = self
            .variables
            .iter()
            .position(|v| v == var)
            .map(|k| b.var(k));
        for k in 1..=order {
            root = match x {
                Some(x) => b.derivative(root, x),
                None => b.num(0.0),
            };
            done(k);
        }
        b.to_expr(root, &self.variables)
    }
}

impl SymBuilder {
    /// `d root / d x` as a formula: the forward sweep of the rules over the nodes `root` is made
    /// of (not the whole arena, which also holds the formulas of earlier orders).
    fn derivative<'b>(&'b self, root: Sym<'b>, x: Sym<'b>) -> Sym<'b> {
        if x.id > root.id {
            return self.num(0.0); // the variable is not in the formula
        }
        let formula = Formula(root);
        let used = self.used_by(root);
        let mut live = depends_on(&formula, root.id + 1, [x.id]);
        for (l, u) in live.iter_mut().zip(&used) {
            *l &= *u;
        }
        let mut tangent = Sparse::new(&live);
        tangent.add(x.id, self.num(1.0));
        forward::sweep(&formula, root.id, &mut tangent);
        tangent.slot[root.id].unwrap_or_else(|| self.num(0.0))
    }
}

/// The nodes of a formula as the sweeps read them (a number is a constant, a variable a
/// variable), with the formulas themselves as the values, so that a sweep writes down what it
/// computes. Each read borrows the arena for an instant: the sweep adds formulas as it goes.
struct Formula<'b>(Sym<'b>);

impl<'b> Recording<Sym<'b>> for Formula<'b> {
    fn op(&self, i: usize) -> Op {
        let id = |k: usize| NodeId(u32::try_from(k).expect("a formula of at most 2^32 nodes"));
        match self.0.builder.nodes.borrow()[i] {
            ExprNode::Num(_) => Op::Constant,
            ExprNode::Var(_) => Op::Variable,
            ExprNode::Unary(op, a) => Op::Unary(op, id(a)),
            ExprNode::Binary(op, a, b) => Op::Binary(op, id(a), id(b)),
        }
    }
    fn value(&self, i: usize) -> Sym<'b> {
        self.0.at(i)
    }
}
