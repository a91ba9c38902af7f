//! The tensor engine: every differentiable op gradchecked in f64, forward values against
//! closed forms, exact error messages, and property tests of broadcasting and matmul.

// Arrays share their data, so `&[x.clone()]` copies no numbers and reads better than `from_ref`.
#![allow(clippy::cloned_ref_to_slice_refs)]

use chainrule::tensor::{gradcheck, Array, GradcheckError, Tape, Tensor, TensorError};
use proptest::prelude::*;

type R<'t> = Result<Tensor<'t, f64>, TensorError>;

fn randn(shape: &[usize], seed: u64) -> Array<f64> {
    Array::randn(shape, seed)
}

/// Values in `[0.5, 1.5)`, for ops defined on positive numbers.
fn positive(shape: &[usize], seed: u64) -> Array<f64> {
    let a = Array::<f64>::rand(shape, seed);
    Array::from_vec(a.data().iter().map(|v| v + 0.5).collect(), shape).unwrap()
}

fn check(f: impl for<'t> Fn(&[Tensor<'t, f64>]) -> R<'t>, inputs: &[Array<f64>]) {
    if let Err(e) = gradcheck(f, inputs) {
        panic!("{e}");
    }
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn gradcheck_unary_ops() {
    let x = randn(&[2, 3], 1);
    check(|t| Ok(t[0].exp()), &[x.clone()]);
    check(|t| Ok(t[0].tanh()), &[x.clone()]);
    check(|t| Ok(t[0].sigmoid()), &[x.clone()]);
    check(|t| Ok(t[0].relu()), &[x.clone()]);
    check(|t| Ok(t[0].gelu()), &[x.clone()]);
    check(|t| Ok(t[0].erf()), &[x.clone()]);
    check(|t| Ok(t[0].abs()), &[x.clone()]);
    check(|t| Ok(-t[0]), &[x.clone()]);
    let p = positive(&[2, 3], 2);
    check(|t| Ok(t[0].ln()), &[p.clone()]);
    check(|t| Ok(t[0].sqrt()), &[p.clone()]);
    check(|t| Ok(t[0].powf(2.5)), &[p.clone()]);
    check(|t| Ok(t[0].powf(-1.5)), &[p]);
}

#[test]
fn gradcheck_scalar_mixing() {
    let x = positive(&[4], 3);
    check(|t| Ok(2.0 * t[0]), &[x.clone()]);
    check(|t| Ok(t[0] + 1.0), &[x.clone()]);
    check(|t| Ok(t[0] - 1.0), &[x.clone()]);
    check(|t| Ok(1.0 - t[0]), &[x.clone()]);
    check(|t| Ok(t[0] / 4.0), &[x.clone()]);
    check(|t| Ok(2.0 / t[0]), &[x.clone()]);
    // A scalar tensor with a tensor, both ways.
    let s = Array::scalar(1.7);
    check(|t| t[0].mul(t[1]), &[s.clone(), x.clone()]);
    check(|t| t[1].div(t[0]), &[s, x]);
}

#[test]
fn gradcheck_binary_ops_same_shape() {
    let (a, b) = (randn(&[2, 3], 4), randn(&[2, 3], 5));
    check(|t| t[0].add(t[1]), &[a.clone(), b.clone()]);
    check(|t| t[0].sub(t[1]), &[a.clone(), b.clone()]);
    check(|t| t[0].mul(t[1]), &[a.clone(), b.clone()]);
    check(|t| t[0].div(t[1]), &[a.clone(), positive(&[2, 3], 6)]);
    check(|t| t[0].pow(t[1]), &[positive(&[2, 3], 7), b]);
    check(|t| Ok(t[0] * t[0] + t[0]), &[a]); // gradients summed over paths
}

#[test]
fn gradcheck_broadcasting() {
    check(|t| t[0].add(t[1]), &[randn(&[3, 1], 8), randn(&[1, 4], 9)]);
    check(
        |t| t[0].mul(t[1]),
        &[randn(&[2, 3, 4], 10), randn(&[4], 11)],
    );
    check(
        |t| t[0].sub(t[1]),
        &[randn(&[4], 12), randn(&[2, 3, 4], 13)],
    );
    check(
        |t| t[0].div(t[1]),
        &[randn(&[2, 1, 4], 14), positive(&[3, 1], 15)],
    );
    check(
        |t| t[0].pow(t[1]),
        &[positive(&[3, 1], 16), randn(&[2], 17)],
    );
    check(
        |t| t[0].mul(t[1]),
        &[Array::scalar(0.3), randn(&[2, 3], 18)],
    );
}

#[test]
fn gradcheck_linear_and_it_equals_matmul_with_transpose_plus_bias() {
    check(
        |t| t[0].linear(t[1], t[2]),
        &[randn(&[5, 3], 60), randn(&[4, 3], 61), randn(&[4], 62)],
    );
    let tape = Tape::<f64>::new();
    let (x, w, b) = (
        tape.var(randn(&[5, 3], 63)),
        tape.var(randn(&[4, 3], 64)),
        tape.var(randn(&[4], 65)),
    );
    let fused = x.linear(w, b).unwrap();
    let plain = x
        .matmul(w.transpose(0, 1).unwrap())
        .unwrap()
        .add(b)
        .unwrap();
    close(&fused.to_vec(), &plain.to_vec(), 1e-12);
    let err = x.linear(b, b).unwrap_err().to_string();
    assert_eq!(
        err,
        "linear: cannot apply weight [4] and bias [4] to input [5, 3]: expected [..., in], [out, in] and [out]"
    );
}

#[test]
fn linear_gradients_do_not_depend_on_reused_buffers() {
    let run = |tape: &Tape<f64>| {
        let (x, w, b) = (
            tape.var(randn(&[6, 5], 70)),
            tape.var(randn(&[4, 5], 71)),
            tape.var(randn(&[4], 72)),
        );
        x.linear(w, b).unwrap().tanh().sum_all().backward().unwrap();
        (
            x.grad().unwrap().to_vec(),
            w.grad().unwrap().to_vec(),
            b.grad().unwrap().to_vec(),
        )
    };
    let fresh = run(&Tape::new());
    let mut tape = Tape::new();
    // Fill the tape's pool with buffers of the same sizes holding other numbers.
    for seed in 0..3 {
        let junk = tape.var(randn(&[6, 5], 80 + seed));
        let w = tape.var(randn(&[4, 5], 90 + seed));
        (junk.matmul(w.transpose(0, 1).unwrap()).unwrap() * 7.0)
            .sum_all()
            .backward()
            .unwrap();
        tape.clear();
    }
    assert_eq!(run(&tape), fresh);
}

#[test]
fn gradcheck_matmul() {
    check(
        |t| t[0].matmul(t[1]),
        &[randn(&[3, 4], 20), randn(&[4, 2], 21)],
    );
    check(
        |t| t[0].matmul(t[1]),
        &[randn(&[4], 22), randn(&[4, 2], 23)],
    );
    check(
        |t| t[0].matmul(t[1]),
        &[randn(&[3, 4], 24), randn(&[4], 25)],
    );
    check(|t| t[0].matmul(t[1]), &[randn(&[4], 26), randn(&[4], 27)]);
    check(
        |t| t[0].matmul(t[1]),
        &[randn(&[2, 3, 4], 28), randn(&[4, 5], 29)],
    );
    check(
        |t| t[0].matmul(t[1]),
        &[randn(&[2, 1, 2, 3], 30), randn(&[3, 3, 2], 31)],
    );
    check(
        |t| t[0].matmul(t[1]),
        &[randn(&[3], 32), randn(&[2, 3, 2], 33)],
    );
}

#[test]
fn gradcheck_reductions_over_each_axis() {
    let x = randn(&[2, 3, 4], 40);
    for keepdim in [false, true] {
        for axis in [0, 1, 2, -1] {
            check(|t| t[0].sum(&[axis], keepdim), &[x.clone()]);
            check(|t| t[0].mean(&[axis], keepdim), &[x.clone()]);
            check(|t| t[0].max(&[axis], keepdim), &[x.clone()]);
            check(|t| t[0].min(&[axis], keepdim), &[x.clone()]);
        }
        check(|t| t[0].sum(&[0, 2], keepdim), &[x.clone()]);
        check(|t| t[0].max(&[1, 2], keepdim), &[x.clone()]);
    }
    check(|t| Ok(t[0].sum_all()), &[x.clone()]);
    check(|t| Ok(t[0].mean_all()), &[x.clone()]);
    check(|t| t[0].max_all(), &[x.clone()]);
    check(|t| t[0].min_all(), &[x]);
}

#[test]
fn max_shares_the_gradient_among_ties() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_vec(vec![1.0, 3.0, 3.0, 2.0], &[4]).unwrap());
    x.max_all().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.5, 0.5, 0.0]);
}

#[test]
fn gradcheck_softmax_including_large_logits() {
    let x = randn(&[3, 4], 50);
    for axis in [0, 1, -1] {
        check(|t| t[0].softmax(axis), &[x.clone()]);
        check(|t| t[0].log_softmax(axis), &[x.clone()]);
    }
    let big = Array::from_vec(x.data().iter().map(|v| v + 1e4).collect(), &[3, 4]).unwrap();
    check(|t| t[0].softmax(-1), &[big.clone()]);
    check(|t| t[0].log_softmax(-1), &[big]);
}

#[test]
fn softmax_of_huge_logits_is_finite() {
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::from_vec(vec![1e4, 0.0, -1e4, 1e4], &[4]).unwrap());
    let s = x.softmax(0).unwrap();
    assert_eq!(s.to_vec(), vec![0.5, 0.0, 0.0, 0.5]);
    let l = x.log_softmax(0).unwrap();
    assert!(l.to_vec().iter().all(|v| v.is_finite()));
    assert!((l.to_vec()[0] + std::f32::consts::LN_2).abs() < 1e-6);
    l.sum_all().backward().unwrap();
    assert!(x.grad().unwrap().to_vec().iter().all(|v| v.is_finite()));
}

#[test]
fn gradcheck_shape_ops() {
    let x = randn(&[2, 3, 4], 60);
    check(|t| t[0].reshape(&[4, -1]), &[x.clone()]);
    check(|t| t[0].unsqueeze(1)?.squeeze(1), &[x.clone()]);
    check(|t| t[0].transpose(0, 2), &[x.clone()]);
    check(|t| t[0].permute(&[1, 2, 0]), &[x.clone()]);
    check(|t| t[0].slice(1, 1, 3), &[x.clone()]);
    check(|t| t[0].slice(-1, 0, 1), &[x.clone()]);
    let y = randn(&[2, 2, 4], 61);
    check(|t| Tensor::concat(&[t[0], t[1]], 1), &[x.clone(), y]);
    let z = randn(&[2, 3, 4], 62);
    check(|t| Tensor::stack(&[t[0], t[1]], 0), &[x.clone(), z.clone()]);
    check(|t| Tensor::stack(&[t[0], t[1]], -1), &[x, z]);
}

#[test]
fn gradcheck_indexing_where_clamp() {
    let x = randn(&[3, 4], 70);
    let labels = Array::from_vec(vec![2, 0, 3], &[3, 1]).unwrap();
    check(|t| t[0].gather(1, &labels), &[x.clone()]);
    let rows = Array::from_vec(vec![0, 2, 2, 1, 0, 0, 1, 2], &[2, 4]).unwrap();
    check(|t| t[0].gather(0, &rows), &[x.clone()]);
    check(|t| t[0].index_select(0, &[2, 0, 2]), &[x.clone()]);
    check(|t| t[0].index_select(1, &[3, 1]), &[x.clone()]);
    let cond = Array::from_vec(vec![true, false, false, true], &[4]).unwrap();
    check(
        |t| Tensor::where_cond(&cond, t[0], t[1]),
        &[x.clone(), randn(&[3, 1], 71)],
    );
    check(|t| Ok(t[0].clamp(-0.5, 0.5)), &[x.clone()]);
    check(|t| Ok(t[0].clamp(f64::NEG_INFINITY, 0.0)), &[x]);
}

#[test]
fn gradcheck_a_small_network_with_cross_entropy() {
    let labels = Array::from_vec(vec![1, 0, 2, 1], &[4, 1]).unwrap();
    let inputs = [
        randn(&[4, 3], 80),
        randn(&[3, 5], 81),
        randn(&[5], 82),
        randn(&[5, 3], 83),
    ];
    let report = gradcheck(
        |t| {
            let h = t[0].matmul(t[1])?.add(t[2])?.gelu();
            let logits = h.matmul(t[3])?;
            let picked = logits.log_softmax(-1)?.gather(1, &labels)?;
            Ok(-picked.mean_all())
        },
        &inputs,
    )
    .unwrap();
    assert_eq!(report.entries, 12 + 15 + 5 + 15);
}

#[test]
fn gradcheck_reports_a_wrong_gradient() {
    // `detach` cuts the gradient, so the analytic Jacobian misses the detached path.
    let err = gradcheck(|t| t[0].mul(t[0].detach()), &[Array::from_slice(&[2.0])]).unwrap_err();
    match err {
        GradcheckError::Mismatch {
            output,
            input,
            element,
            analytic,
            numerical,
        } => {
            assert_eq!((output, input, element), (0, 0, 0));
            assert_eq!(analytic, 2.0);
            assert!((numerical - 4.0).abs() < 1e-6);
        }
        e => panic!("{e}"),
    }
}

#[test]
fn forward_values_match_closed_forms() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(Array::from_slice(&[0.0, 2f64.ln()]));
    close(
        &x.softmax(0).unwrap().to_vec(),
        &[1.0 / 3.0, 2.0 / 3.0],
        1e-15,
    );
    let g = tape.constant(Array::from_slice(&[1.0, -1.0, 0.0]));
    close(
        &g.gelu().to_vec(),
        &[0.841_344_746_068_542_9, -0.158_655_253_931_457_05, 0.0],
        1e-14,
    );
    close(
        &g.erf().to_vec(),
        &[0.842_700_792_949_714_9, -0.842_700_792_949_714_9, 0.0],
        1e-14,
    );
    let a = tape.constant(Array::arange(1.0, 7.0, 1.0).reshape(&[2, 3]).unwrap());
    let b = tape.constant(Array::arange(1.0, 7.0, 1.0).reshape(&[3, 2]).unwrap());
    assert_eq!(a.matmul(b).unwrap().to_vec(), vec![22.0, 28.0, 49.0, 64.0]);
    assert_eq!(a.mean(&[1], false).unwrap().to_vec(), vec![2.0, 5.0]);
    assert_eq!(a.max(&[0], true).unwrap().to_vec(), vec![4.0, 5.0, 6.0]);
    assert_eq!(
        a.transpose(0, 1).unwrap().to_vec(),
        vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    );
    assert_eq!(a.sum_all().item(), 21.0);
    let i = tape.constant(Array::<f64>::eye(2));
    assert_eq!(i.to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn shape_errors_name_the_op_and_shapes() {
    let tape = Tape::<f32>::new();
    let a = tape.var(Array::zeros(&[3, 4]));
    let b = tape.var(Array::zeros(&[5, 2]));
    assert_eq!(
        a.matmul(b).unwrap_err().to_string(),
        "matmul: cannot multiply [3, 4] by [5, 2]: inner dimensions 4 and 5 differ"
    );
    assert_eq!(
        a.add(b).unwrap_err().to_string(),
        "add: cannot broadcast [3, 4] with [5, 2]: sizes 4 and 2 differ in dimension 1 of the result"
    );
    let c = tape.var(Array::zeros(&[2, 3, 4]));
    let d = tape.var(Array::zeros(&[3, 4, 5]));
    assert_eq!(
        c.matmul(d).unwrap_err().to_string(),
        "matmul: cannot multiply [2, 3, 4] by [3, 4, 5]: batch dimensions [2] and [3] do not broadcast"
    );
    assert_eq!(
        a.sum(&[2], false).unwrap_err().to_string(),
        "sum: axis 2 is out of range for shape [3, 4]"
    );
    assert_eq!(
        a.reshape(&[5, -1]).unwrap_err().to_string(),
        "reshape: cannot reshape [3, 4] into [5, -1]: 12 elements"
    );
    assert_eq!(
        Tensor::concat(&[a, b], 0).unwrap_err().to_string(),
        "concat: cannot join [3, 4] and [5, 2] along axis 0"
    );
    assert_eq!(
        a.backward().unwrap_err().to_string(),
        "backward: a gradient can only be created implicitly for one-element outputs, not [3, 4]"
    );
    assert_eq!(
        Array::<f32>::from_vec(vec![1.0; 5], &[2, 3])
            .unwrap_err()
            .to_string(),
        "from_vec: 5 values cannot fill shape [2, 3] (6 elements)"
    );
}

#[test]
#[should_panic(expected = "mul: cannot broadcast [2] with [3]")]
fn operators_panic_with_the_same_message() {
    let tape = Tape::<f32>::new();
    let _ = tape.var(Array::zeros(&[2])) * tape.var(Array::zeros(&[3]));
}

#[test]
fn no_grad_detach_and_accumulation() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(&[3.0]));
    let y = tape.no_grad(|| x * x);
    assert!(!y.requires_grad());
    assert!(tape.is_grad_enabled());
    assert!(y.sum_all().backward().is_err());
    let z = (x * x.detach()).sum_all();
    z.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![3.0]);
    z.backward().unwrap(); // accumulates, as PyTorch
    assert_eq!(x.grad().unwrap().to_vec(), vec![6.0]);
    tape.zero_grad();
    assert!(x.grad().is_none());
    // A constant gets no gradient.
    let c = tape.constant(Array::from_slice(&[2.0]));
    (c * x).sum_all().backward().unwrap();
    assert!(c.grad().is_none());
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0]);
}

#[test]
fn clearing_the_tape_reuses_its_memory() {
    let mut tape = Tape::<f32>::new();
    let w = Array::<f32>::randn(&[16, 8], 1);
    let x = Array::<f32>::randn(&[32, 16], 2);
    let mut first = None;
    for _ in 0..50 {
        tape.clear();
        let wv = tape.var(w.clone());
        let xv = tape.constant(x.clone());
        let loss = xv.matmul(wv).unwrap().tanh().mean_all();
        loss.backward().unwrap();
        let g = wv.grad().unwrap().to_vec();
        match &first {
            None => first = Some(g),
            Some(f) => assert_eq!(f, &g),
        }
        assert_eq!(tape.len(), 7);
    }
}

#[test]
fn long_chains_do_not_recurse() {
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::ones(&[2]));
    let mut y = x;
    for _ in 0..100_000 {
        y = y * 1.0;
    }
    y.sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, 1.0]);
}

#[test]
fn printing_looks_like_pytorch() {
    let a = Array::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    assert_eq!(a.to_string(), "tensor([[1., 2.],\n        [3., 4.]])");
    let b = Array::<f64>::from_vec(vec![0.5, -1.25], &[2]).unwrap();
    assert_eq!(b.to_string(), "tensor([ 0.5000, -1.2500], dtype=f64)");
    assert_eq!(Array::<f32>::scalar(2.5).to_string(), "tensor(2.5000)");
    let c = Array::<f32>::arange(0.0, 8.0, 1.0)
        .reshape(&[2, 2, 2])
        .unwrap();
    assert_eq!(
        c.to_string(),
        "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])"
    );
    let big = Array::<f32>::arange(0.0, 2000.0, 1.0)
        .reshape(&[2, 1000])
        .unwrap();
    assert_eq!(
        big.to_string(),
        "tensor([[   0.,    1.,    2., ...,  997.,  998.,  999.],\n        [1000., 1001., 1002., ..., 1997., 1998., 1999.]])"
    );
}

#[test]
fn creation_functions() {
    assert_eq!(Array::<f32>::zeros(&[2, 2]).to_vec(), vec![0.0; 4]);
    assert_eq!(Array::<f32>::ones(&[3]).to_vec(), vec![1.0; 3]);
    assert_eq!(Array::<f32>::full(&[2], 7.0).to_vec(), vec![7.0; 2]);
    assert_eq!(
        Array::<f32>::arange(0.0, 1.0, 0.25).to_vec(),
        vec![0.0, 0.25, 0.5, 0.75]
    );
    assert_eq!(Array::<f32>::rand(&[5], 3), Array::<f32>::rand(&[5], 3));
    assert_ne!(Array::<f32>::rand(&[5], 3), Array::<f32>::rand(&[5], 4));
    let n = Array::<f64>::randn(&[10_000], 9);
    let mean = n.data().iter().sum::<f64>() / 1e4;
    let var = n.data().iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 1e4;
    assert!(
        mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
        "{mean} {var}"
    );
    assert!(Array::<f32>::rand(&[1000], 1)
        .data()
        .iter()
        .all(|v| (0.0..1.0).contains(v)));
}

fn naive_matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                c[i * n + j] += a[i * k + p] * b[p * n + j];
            }
        }
    }
    c
}

#[test]
fn large_f32_products_match_a_naive_loop() {
    // Large enough for the threaded gemm path and the threaded element-wise kernels.
    // Split by columns (n > m), then by rows (m > n).
    let tape = Tape::<f32>::new();
    for (m, k, n) in [(70, 90, 80), (80, 90, 70)] {
        let a = Array::<f32>::randn(&[m, k], 1);
        let b = Array::<f32>::randn(&[k, n], 2);
        let c = tape
            .constant(a.clone())
            .matmul(tape.constant(b.clone()))
            .unwrap();
        let want = naive_matmul(&a.to_f64().to_vec(), &b.to_f64().to_vec(), m, k, n);
        for (x, y) in c.to_vec().iter().zip(&want) {
            assert!((*x as f64 - y).abs() < 1e-3, "{x} {y}");
        }
    }
    let big = tape.constant(Array::<f32>::ones(&[300_000]));
    let s = (big + big).sum_all().item();
    assert_eq!(s, 600_000.0);
    // The threaded backward of a large element-wise product.
    let x = tape.var(Array::<f32>::full(&[300_000], 2.0));
    let y = tape.var(Array::<f32>::full(&[300_000], 3.0));
    (x * y).exp().mean_all().backward().unwrap();
    let want = 3.0 * 6f32.exp() / 300_000.0;
    assert!(x
        .grad()
        .unwrap()
        .data()
        .iter()
        .all(|&g| (g - want).abs() < 1e-6 * want.abs().max(1.0)));
}

#[test]
fn huge_outputs_take_the_streaming_path() {
    // 16 MiB and more of output are written with non-temporal stores; an odd length tests the tail.
    let n = (1 << 22) + 7;
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::arange(0.0, n as f64, 1.0));
    let y = tape.var(Array::full(&[n], 2.0));
    let z = (x * y + 1.0).sum_all();
    z.backward().unwrap();
    let prod = (x * y).to_vec();
    assert!(prod.iter().enumerate().all(|(i, &v)| v == (2 * i) as f32));
    assert!(x.grad().unwrap().data().iter().all(|&g| g == 2.0));
    let gy = y.grad().unwrap();
    assert!(gy.data().iter().enumerate().all(|(i, &g)| g == i as f32));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matmul_matches_a_naive_triple_loop(
        batch in 1usize..3, m in 1usize..6, k in 1usize..6, n in 1usize..6, seed in 0u64..1000
    ) {
        let a = Array::<f64>::randn(&[batch, m, k], seed);
        let b = Array::<f64>::randn(&[k, n], seed + 1);
        let tape = Tape::<f64>::new();
        let c = tape.constant(a.clone()).matmul(tape.constant(b.clone())).unwrap();
        prop_assert_eq!(c.shape(), vec![batch, m, n]);
        for r in 0..batch {
            let want = naive_matmul(&a.data()[r * m * k..(r + 1) * m * k], b.data(), m, k, n);
            close(&c.to_vec()[r * m * n..(r + 1) * m * n], &want, 1e-12);
        }
    }

    #[test]
    fn broadcast_gradients_sum_back_to_each_shape(
        dims in proptest::collection::vec(1usize..4, 1..4),
        keep in proptest::collection::vec(any::<bool>(), 4),
        lead in 0usize..2,
    ) {
        // `b` has some of `a`'s dimensions set to 1 and maybe fewer leading dimensions.
        let a_shape = dims.clone();
        let b_shape: Vec<usize> = dims.iter().enumerate().skip(lead.min(dims.len() - 1))
            .map(|(i, &d)| if keep[i] { d } else { 1 }).collect();
        let tape = Tape::<f64>::new();
        let a = tape.var(Array::randn(&a_shape, 1));
        let b = tape.var(Array::randn(&b_shape, 2));
        let y = a.add(b).unwrap();
        prop_assert_eq!(y.shape(), a_shape.clone());
        y.sum_all().backward().unwrap();
        let ga = a.grad().unwrap();
        let gb = b.grad().unwrap();
        prop_assert_eq!(ga.shape(), a_shape.as_slice());
        prop_assert_eq!(gb.shape(), b_shape.as_slice());
        // Each element of `b` was used once per element of `a` it was broadcast over.
        let per = (a.numel() / b.numel()) as f64;
        prop_assert!(ga.data().iter().all(|&v| v == 1.0));
        prop_assert!(gb.data().iter().all(|&v| v == per));
    }
}

/// A sum hands its adjoint on to an input of the output's shape, and a reshape to its input,
/// instead of copying it. The gradients must be what copies give: here against the closed form
/// through sums with the full-shape input first and second, a constant beside a variable, a
/// broadcast bias, a variable used twice in one sum, and chains of reshapes.
#[test]
fn handed_on_adjoints_give_the_closed_form_gradients() {
    let (xv, bv, cv, wv) = (
        randn(&[2, 3], 1),
        randn(&[3], 2),
        randn(&[2, 3], 3),
        randn(&[6], 4),
    );
    for order in 0..2 {
        let tape = Tape::<f64>::new();
        let (x, b, c, w) = (
            tape.var(xv.clone()),
            tape.var(bv.clone()),
            tape.constant(cv.clone()),
            tape.constant(wv.clone()),
        );
        // h = c + x + b + x, in one order or the other.
        let h = if order == 0 {
            (c + (x + b))
                .reshape(&[3, 2])
                .unwrap()
                .reshape(&[6])
                .unwrap()
                + x.reshape(&[6]).unwrap()
        } else {
            x.reshape(&[6]).unwrap()
                + ((b + x) + c)
                    .reshape(&[3, 2])
                    .unwrap()
                    .reshape(&[6])
                    .unwrap()
        };
        let twice = x + x;
        let loss = (h * w).sum_all() + (twice * twice).sum_all();
        loss.backward().unwrap();
        // dL/dx = 2w + 8x, dL/db = the column sums of w as [2, 3].
        let want_x: Vec<f64> = (0..6)
            .map(|k| 2.0 * wv.data()[k] + 8.0 * xv.data()[k])
            .collect();
        let want_b: Vec<f64> = (0..3).map(|j| wv.data()[j] + wv.data()[3 + j]).collect();
        close(&x.grad().unwrap().to_vec(), &want_x, 1e-12);
        close(&b.grad().unwrap().to_vec(), &want_b, 1e-12);
    }
}
