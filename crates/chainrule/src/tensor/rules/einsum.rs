//! `einsum`, Einstein summation over one or two operands (`ij,jk->ik`, `bhqd,bhkd->bhqk`,
//! `i,i->`, `ij->ji`...), as `torch.einsum` for the contractions models use.
//!
//! It records no operation of its own: the equation is planned into sums, permutations,
//! reshapes and one (batched) matrix product, so it is as fast as `matmul` and every derivative
//! comes from those operations' rules. Two operands are lined up as `[batch, free, contracted]`
//! and `[batch, contracted, free]`, multiplied as `[B, M, K] · [B, K, N]`, and the result is
//! reshaped and permuted to the output's subscripts; a subscript in one operand only and not in
//! the output is summed out of that operand first.
//!
//! Not supported, each refused with an error naming the equation: an ellipsis (`...`), a
//! subscript repeated within one operand (diagonals and traces, `ii->i`), more than two
//! operands, and subscripts whose sizes differ (PyTorch broadcasts a size of 1 there).

use crate::tensor::array::Element;
use crate::tensor::shape::{fmt_shape, Result, TensorError};
use crate::tensor::tape::Tensor;

/// An einsum error naming the equation.
fn refuse(equation: &str, why: impl std::fmt::Display) -> TensorError {
    TensorError::new("einsum", format!("{why} (equation '{equation}')"))
}

/// The subscripts of each operand and of the output, checked against the operands' shapes;
/// with the size of each subscript (indexed by its byte).
struct Plan {
    inputs: Vec<Vec<u8>>,
    output: Vec<u8>,
    size: [usize; 128],
}

impl Plan {
    fn new(equation: &str, shapes: &[Vec<usize>]) -> Result<Plan> {
        let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
        let (lhs, rhs) = match eq.split_once("->") {
            Some((_, r)) if r.contains("->") => {
                return Err(refuse(equation, "more than one '->'"));
            }
            Some((l, r)) => (l, Some(r)),
            None => (eq.as_str(), None),
        };
        if eq.contains('.') {
            return Err(refuse(equation, "an ellipsis ('...') is not supported"));
        }
        let check = |term: &str| -> Result<Vec<u8>> {
            if let Some(c) = term.chars().find(|c| !c.is_ascii_alphabetic()) {
                return Err(refuse(
                    equation,
                    format!("'{c}' is not a subscript (subscripts are letters)"),
                ));
            }
            Ok(term.as_bytes().to_vec())
        };
        let inputs: Vec<Vec<u8>> = lhs.split(',').map(check).collect::<Result<_>>()?;
        if inputs.len() != shapes.len() {
            return Err(refuse(
                equation,
                format!(
                    "{} operand subscripts for {} operands",
                    inputs.len(),
                    shapes.len()
                ),
            ));
        }
        if inputs.len() > 2 {
            return Err(refuse(
                equation,
                "more than two operands is not supported: contract them in pairs",
            ));
        }
        let mut size = [usize::MAX; 128];
        let mut count = [0usize; 128];
        for (k, (term, shape)) in inputs.iter().zip(shapes).enumerate() {
            if term.len() != shape.len() {
                return Err(refuse(
                    equation,
                    format!(
                        "operand {k} has {} subscripts for shape {}",
                        term.len(),
                        fmt_shape(shape)
                    ),
                ));
            }
            for (i, (&c, &n)) in term.iter().zip(shape).enumerate() {
                if term[..i].contains(&c) {
                    return Err(refuse(
                        equation,
                        format!(
                            "subscript {} is repeated in operand {k}: diagonals are not supported",
                            c as char
                        ),
                    ));
                }
                let s = &mut size[c as usize];
                if *s != usize::MAX && *s != n {
                    return Err(refuse(
                        equation,
                        format!(
                            "subscript {} has size {n} in operand {k} but {} before",
                            c as char, *s
                        ),
                    ));
                }
                *s = n;
                count[c as usize] += 1;
            }
        }
        let output = match rhs {
            Some(r) => {
                let out = check(r)?;
                for (i, &c) in out.iter().enumerate() {
                    if out[..i].contains(&c) {
                        return Err(refuse(
                            equation,
                            format!("subscript {} is repeated in the output", c as char),
                        ));
                    }
                    if count[c as usize] == 0 {
                        return Err(refuse(
                            equation,
                            format!("output subscript {} is in no operand", c as char),
                        ));
                    }
                }
                out
            }
            // Implicit output: the subscripts seen once, in alphabetical (ASCII) order.
            None => (0u8..128).filter(|&c| count[c as usize] == 1).collect(),
        };
        Ok(Plan {
            inputs,
            output,
            size,
        })
    }

    fn sizes(&self, labels: &[u8]) -> Vec<usize> {
        labels.iter().map(|&c| self.size[c as usize]).collect()
    }
}

/// `t` with subscripts `from` permuted to the order `to` (the same set); no copy if unchanged.
#[track_caller]
fn permute_to<'t, T: Element>(t: Tensor<'t, T>, from: &[u8], to: &[u8]) -> Result<Tensor<'t, T>> {
    if from == to {
        return Ok(t);
    }
    let perm: Vec<isize> = to
        .iter()
        .map(|c| from.iter().position(|f| f == c).expect("same subscripts") as isize)
        .collect();
    t.permute(&perm)
}

/// `t` summed over the subscripts of `labels` not in `keep`; returns the subscripts left.
#[track_caller]
fn sum_out<'t, T: Element>(
    t: Tensor<'t, T>,
    labels: &[u8],
    keep: impl Fn(u8) -> bool,
) -> Result<(Tensor<'t, T>, Vec<u8>)> {
    let axes: Vec<isize> = (0..labels.len())
        .filter(|&i| !keep(labels[i]))
        .map(|i| i as isize)
        .collect();
    let left: Vec<u8> = labels.iter().copied().filter(|&c| keep(c)).collect();
    if axes.is_empty() {
        Ok((t, left))
    } else {
        Ok((t.sum(&axes, false)?, left))
    }
}

impl<'t, T: Element> Tensor<'t, T> {
    /// Einstein summation, as `torch.einsum`, for one or two operands: each operand's
    /// dimensions are named by letters, a letter shared by both operands is multiplied along,
    /// and a letter missing from the output (after `->`) is summed over. Without `->`, the
    /// output has the letters that appear once, in alphabetical order (`ij,jk` is `ij,jk->ik`).
    ///
    /// It runs as sums, permutations and one batched matrix product (as fast as `matmul`, and
    /// differentiable to any order through them). An ellipsis, a letter repeated within one
    /// operand (`ii->i`) and more than two operands are errors, as are letters of different
    /// sizes.
    ///
    /// ```
    /// use chainrule::tensor::{Array, Tape, Tensor};
    ///
    /// let tape = Tape::<f32>::new();
    /// let q = tape.constant(Array::ones(&[2, 4, 5, 8])); // batch, heads, queries, depth
    /// let k = tape.constant(Array::ones(&[2, 4, 6, 8])); // batch, heads, keys, depth
    /// let scores = Tensor::einsum("bhqd,bhkd->bhqk", &[q, k]).unwrap();
    /// assert_eq!(scores.shape(), vec![2, 4, 5, 6]);
    /// assert_eq!(scores.to_vec()[0], 8.0);
    ///
    /// let a = tape.constant(Array::arange(0.0, 6.0, 1.0).reshape(&[2, 3]).unwrap());
    /// assert_eq!(Tensor::einsum("ij->ji", &[a]).unwrap().shape(), vec![3, 2]);
    /// assert_eq!(Tensor::einsum("ij->", &[a]).unwrap().item(), 15.0);
    /// assert!(Tensor::einsum("ii->i", &[a]).is_err());
    /// ```
    #[track_caller]
    pub fn einsum(equation: &str, operands: &[Tensor<'t, T>]) -> Result<Tensor<'t, T>> {
        if operands.is_empty() {
            return Err(refuse(equation, "no operands"));
        }
        let shapes: Vec<Vec<usize>> = operands.iter().map(|t| t.shape()).collect();
        let plan = Plan::new(equation, &shapes)?;
        let out = &plan.output;
        let in_out = |c: u8| out.contains(&c);
        if let [x] = operands {
            let (x, left) = sum_out(*x, &plan.inputs[0], in_out)?;
            return permute_to(x, &left, out);
        }
        let (la, lb) = (&plan.inputs[0], &plan.inputs[1]);
        // Letters in one operand only and not in the output are summed out of it first.
        let (a, la) = sum_out(operands[0], la, |c| in_out(c) || lb.contains(&c))?;
        let (b, lb) = sum_out(operands[1], lb, |c| in_out(c) || la.contains(&c))?;
        let batch: Vec<u8> = out
            .iter()
            .copied()
            .filter(|c| la.contains(c) && lb.contains(c))
            .collect();
        let free_a: Vec<u8> = out
            .iter()
            .copied()
            .filter(|c| !lb.contains(c) && la.contains(c))
            .collect();
        let free_b: Vec<u8> = out
            .iter()
            .copied()
            .filter(|c| !la.contains(c) && lb.contains(c))
            .collect();
        let contracted: Vec<u8> = la.iter().copied().filter(|&c| !in_out(c)).collect();
        let count = |labels: &[u8]| plan.sizes(labels).iter().product::<usize>();
        let (bt, m, k, n) = (
            count(&batch),
            count(&free_a),
            count(&contracted),
            count(&free_b),
        );
        let a = permute_to(a, &la, &[&batch[..], &free_a, &contracted].concat())?;
        let b = permute_to(b, &lb, &[&batch[..], &contracted, &free_b].concat())?;
        let c = if m == 1 && n == 1 {
            // A batch of dot products: a product and a sum beat a batch of 1×K·K×1 products.
            let a = a.reshape_to(vec![bt, k])?;
            let b = b.reshape_to(vec![bt, k])?;
            a.mul(b)?.sum(&[1], false)?
        } else if batch.is_empty() {
            a.reshape_to(vec![m, k])?
                .matmul(b.reshape_to(vec![k, n])?)?
        } else {
            a.reshape_to(vec![bt, m, k])?
                .matmul(b.reshape_to(vec![bt, k, n])?)?
        };
        let labels = [&batch[..], &free_a, &free_b].concat();
        let c = c.reshape_to(plan.sizes(&labels))?;
        permute_to(c, &labels, out)
    }
}
