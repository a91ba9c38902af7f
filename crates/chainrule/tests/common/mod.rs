//! The checks every tensor operation must pass, shared by the test files of each family of
//! operations: the first derivatives against central differences (`gradcheck`), the recorded
//! backward against the fast one, second and third derivatives against finite differences
//! (`gradgradcheck`), and forward mode against finite differences and against reverse mode.
//!
//! A test file lists its operations as [`Case`]s, each on inputs where it is smooth, and calls
//! [`check_every_mode`] on each.
#![allow(dead_code)]

use chainrule::tensor::{gradcheck, gradgradcheck, Array, Tape, Tensor, TensorError};

pub type Fun = for<'t> fn(&[Tensor<'t, f64>]) -> Result<Tensor<'t, f64>, TensorError>;

/// One operation under test, on inputs where it is smooth (away from kinks and poles).
pub struct Case {
    pub name: &'static str,
    pub inputs: Vec<Array<f64>>,
    pub f: Fun,
}

pub fn randn(shape: &[usize], seed: u64) -> Array<f64> {
    Array::randn(shape, seed)
}

pub fn scaled(a: Array<f64>, c: f64) -> Array<f64> {
    let v = a.to_vec().iter().map(|x| x * c).collect();
    Array::from_vec(v, a.shape()).unwrap()
}

/// Random values with `|x|` in `[lo, lo + 1)`, signs kept: away from zero, for kinks.
pub fn away_from_zero(shape: &[usize], seed: u64, lo: f64) -> Array<f64> {
    let v = randn(shape, seed)
        .to_vec()
        .iter()
        .map(|&x: &f64| x.signum() * (lo + x.abs().fract()))
        .collect();
    Array::from_vec(v, shape).unwrap()
}

/// Random values in `[lo, lo + 1)`.
pub fn positive(shape: &[usize], seed: u64, lo: f64) -> Array<f64> {
    let v = randn(shape, seed)
        .to_vec()
        .iter()
        .map(|&x: &f64| lo + x.abs().fract())
        .collect();
    Array::from_vec(v, shape).unwrap()
}

pub fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs())))
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The first derivatives against central differences.
pub fn check_first(case: &Case) {
    gradcheck(case.f, &case.inputs).unwrap_or_else(|e| panic!("{}: {e}", case.name));
}

/// The recorded backward (`grad_graph`) equals the fast one (`backward`), along a random
/// adjoint.
pub fn check_recorded_equals_fast(case: &Case) {
    let tape = Tape::<f64>::new();
    let xs: Vec<_> = case.inputs.iter().map(|a| tape.var(a.clone())).collect();
    let y = (case.f)(&xs).unwrap();
    let u = randn(&y.shape(), 99);
    y.backward_with(&u).unwrap();
    let recorded = tape.grad_graph_with(y, tape.constant(u), &xs).unwrap();
    for (k, (x, r)) in xs.iter().zip(&recorded).enumerate() {
        let fast = x
            .grad()
            .map_or_else(|| vec![0.0; x.numel()], |g| g.to_vec());
        assert_eq!(r.shape(), x.shape(), "{}: input {k}", case.name);
        assert!(
            close(&fast, &r.to_vec(), 1e-12),
            "{}: input {k}: fast {fast:?}, recorded {:?}",
            case.name,
            r.to_vec()
        );
    }
}

/// Second derivatives against finite differences.
pub fn check_second(case: &Case) {
    gradgradcheck(case.f, &case.inputs).unwrap_or_else(|e| panic!("{}: {e}", case.name));
}

/// Third derivatives: `gradgradcheck` of the recorded gradient, so the recorded rules of the
/// recorded rules are checked too (a gather's adjoint is a scatter-add, whose adjoint is a
/// gather again...).
pub fn check_third(case: &Case) {
    let f = case.f;
    let u = randn(
        &{
            let tape = Tape::<f64>::new();
            let xs: Vec<_> = case.inputs.iter().map(|a| tape.var(a.clone())).collect();
            f(&xs).unwrap().shape()
        },
        7,
    );
    // The gradient along u, as a function of the inputs; then its second derivatives.
    gradgradcheck(
        |xs: &[Tensor<'_, f64>]| {
            let tape = xs[0].tape();
            let y = f(xs)?;
            let g = tape.grad_graph_with(y, tape.constant(u.clone()), xs)?;
            let flat = g
                .iter()
                .map(|g| g.reshape(&[-1]))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Tensor::concat(&flat, 0)?.sin())
        },
        &case.inputs,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", case.name));
}

/// `f` at `x + t` for a perturbation of input `k`.
fn eval_shifted(f: Fun, inputs: &[Array<f64>], k: usize, dir: &[f64], h: f64) -> Vec<f64> {
    let tape = Tape::<f64>::new();
    let xs: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(j, a)| {
            let mut v = a.to_vec();
            if j == k {
                for (x, d) in v.iter_mut().zip(dir) {
                    *x += h * d;
                }
            }
            tape.var(Array::from_vec(v, a.shape()).unwrap())
        })
        .collect();
    f(&xs).unwrap().to_vec()
}

/// Forward mode against central differences, and against reverse mode (`uᵀ(Jv) = (uᵀJ)v`).
pub fn check_forward_mode(case: &Case) {
    let tape = Tape::<f64>::new();
    let xs: Vec<_> = case.inputs.iter().map(|a| tape.var(a.clone())).collect();
    let y = (case.f)(&xs).unwrap();
    let vs: Vec<Array<f64>> = xs
        .iter()
        .enumerate()
        .map(|(k, x)| randn(&x.shape(), 40 + k as u64))
        .collect();
    let tangents: Vec<_> = vs.iter().map(|v| tape.constant(v.clone())).collect();
    let jv = tape.jvp(&[y], &xs, &tangents).unwrap()[0].to_vec();

    // Central differences along all directions at once.
    let h = 1e-6;
    let mut numeric = vec![0.0; jv.len()];
    for (k, v) in vs.iter().enumerate() {
        let plus = eval_shifted(case.f, &case.inputs, k, &v.to_vec(), h);
        let minus = eval_shifted(case.f, &case.inputs, k, &v.to_vec(), -h);
        for (n, (p, m)) in numeric.iter_mut().zip(plus.iter().zip(&minus)) {
            *n += (p - m) / (2.0 * h);
        }
    }
    assert!(
        close(&jv, &numeric, 1e-5),
        "{}: jvp {jv:?}, finite differences {numeric:?}",
        case.name
    );

    let u = randn(&y.shape(), 77);
    let ut_j = tape
        .grad_graph_with(y, tape.constant(u.clone()), &xs)
        .unwrap();
    let lhs = dot(&u.to_vec(), &jv);
    let rhs: f64 = ut_j
        .iter()
        .zip(&vs)
        .map(|(g, v)| dot(&g.to_vec(), &v.to_vec()))
        .sum();
    assert!(
        (lhs - rhs).abs() <= 1e-10 * (1.0 + lhs.abs()),
        "{}: uᵀ(Jv) = {lhs}, (uᵀJ)v = {rhs}",
        case.name
    );
}

/// Every check above, for one operation.
pub fn check_every_mode(case: &Case) {
    check_first(case);
    check_recorded_equals_fast(case);
    check_second(case);
    check_third(case);
    check_forward_mode(case);
}
