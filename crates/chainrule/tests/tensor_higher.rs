//! Higher-order and forward-mode derivatives of tensor functions: the recorded backward
//! (`grad_graph`) against the fast one, second and third derivatives against finite
//! differences, forward mode against finite differences and against reverse mode, and the
//! function transforms against closed forms.

use chainrule::ops::{Binary, Unary};
use chainrule::tensor::functional::{
    grad, grad_fn, hessian, hvp, jacfwd, jacrev, jvp, tensor_fn, vjp,
};
use chainrule::tensor::{Array, Tape, Tensor, TensorError};
use proptest::prelude::*;

mod common;
use common::*;

fn cases() -> Vec<Case> {
    let s = [2, 3];
    let un = |name, f: Fun| Case {
        name,
        inputs: vec![randn(&s, 1)],
        f,
    };
    let bin = |name, f: Fun| Case {
        name,
        inputs: vec![away_from_zero(&s, 2, 0.5), away_from_zero(&[3], 3, 0.5)],
        f,
    };
    vec![
        un("neg", |x| Ok(-x[0])),
        un("exp", |x| Ok(x[0].exp())),
        Case {
            name: "ln",
            inputs: vec![positive(&s, 4, 0.5)],
            f: |x| Ok(x[0].ln()),
        },
        Case {
            name: "sqrt",
            inputs: vec![positive(&s, 5, 0.5)],
            f: |x| Ok(x[0].sqrt()),
        },
        un("sin", |x| Ok(x[0].unary(Unary::Sin))),
        un("cos", |x| Ok(x[0].unary(Unary::Cos))),
        Case {
            name: "tan",
            inputs: vec![scaled(randn(&s, 6), 0.3)],
            f: |x| Ok(x[0].unary(Unary::Tan)),
        },
        un("tanh", |x| Ok(x[0].tanh())),
        un("sigmoid", |x| Ok(x[0].sigmoid())),
        Case {
            name: "relu",
            inputs: vec![away_from_zero(&s, 7, 0.1)],
            f: |x| Ok(x[0].relu() * x[0]),
        },
        un("gelu", |x| Ok(x[0].gelu())),
        un("erf", |x| Ok(x[0].erf())),
        Case {
            name: "abs",
            inputs: vec![away_from_zero(&s, 8, 0.1)],
            f: |x| Ok(x[0].abs() * x[0]),
        },
        un("add_scalar", |x| Ok(x[0].add_scalar(1.5) * x[0])),
        un("mul_scalar", |x| Ok(x[0].mul_scalar(-2.5) * x[0])),
        un("powi", |x| Ok(x[0].unary(Unary::Powi(3)))),
        Case {
            name: "powf",
            inputs: vec![positive(&s, 9, 0.5)],
            f: |x| Ok(x[0].powf(2.5) + x[0].powf(-1.5)),
        },
        Case {
            name: "step and sign",
            inputs: vec![away_from_zero(&s, 10, 0.1)],
            f: |x| Ok(x[0].unary(Unary::Step) * x[0] + x[0].unary(Unary::Sign) * x[0] * x[0]),
        },
        bin("add", |x| Ok(x[0].add(x[1])? * x[0])),
        bin("sub", |x| Ok(x[0].sub(x[1])? * x[1])),
        bin("mul", |x| x[0].mul(x[1])),
        bin("div", |x| x[0].div(x[1])),
        Case {
            name: "pow",
            inputs: vec![positive(&s, 11, 0.5), randn(&[3], 12)],
            f: |x| x[0].pow(x[1]),
        },
        bin("maximum", |x| Ok(x[0].binary(Binary::Max, x[1])? * x[0])),
        bin("minimum", |x| Ok(x[0].binary(Binary::Min, x[1])? * x[1])),
        Case {
            name: "matmul 2-D",
            inputs: vec![randn(&[2, 3], 13), randn(&[3, 4], 14)],
            f: |x| x[0].matmul(x[1]),
        },
        Case {
            name: "matmul vector-matrix",
            inputs: vec![randn(&[3], 15), randn(&[3, 4], 16)],
            f: |x| x[0].matmul(x[1]),
        },
        Case {
            name: "matmul matrix-vector",
            inputs: vec![randn(&[2, 3], 17), randn(&[3], 18)],
            f: |x| x[0].matmul(x[1]),
        },
        Case {
            name: "matmul dot",
            inputs: vec![randn(&[3], 19), randn(&[3], 20)],
            f: |x| x[0].matmul(x[1]),
        },
        Case {
            name: "matmul batched, broadcast",
            inputs: vec![randn(&[2, 2, 3], 21), randn(&[3, 2], 22)],
            f: |x| x[0].matmul(x[1]),
        },
        Case {
            name: "linear",
            inputs: vec![randn(&[4, 3], 23), randn(&[2, 3], 24), randn(&[2], 25)],
            f: |x| x[0].linear(x[1], x[2]),
        },
        un("sum", |x| Ok(x[0].sum(&[1], false)?.exp())),
        un("mean", |x| Ok(x[0].mean(&[0], true)?.exp())),
        un("max", |x| Ok(x[0].max(&[1], false)?.exp())),
        un("min", |x| Ok(x[0].min(&[0], true)?.exp())),
        un("max_all", |x| Ok(x[0].max_all()?.exp())),
        un("reshape", |x| Ok(x[0].reshape(&[3, 2])?.exp())),
        un("unsqueeze", |x| Ok(x[0].unsqueeze(1)?.squeeze(1)?.exp())),
        Case {
            name: "permute",
            inputs: vec![randn(&[2, 3, 4], 26)],
            f: |x| Ok(x[0].permute(&[2, 0, 1])?.exp()),
        },
        un("transpose", |x| Ok(x[0].transpose(0, 1)?.exp())),
        Case {
            name: "slice",
            inputs: vec![randn(&[2, 5], 27)],
            f: |x| Ok(x[0].slice(1, 1, 3)?.exp()),
        },
        Case {
            name: "concat",
            inputs: vec![randn(&[2, 3], 28), randn(&[2, 1], 29)],
            f: |x| Ok(Tensor::concat(&[x[0], x[1], x[0]], 1)?.exp()),
        },
        Case {
            name: "stack",
            inputs: vec![randn(&[2, 3], 30), randn(&[2, 3], 31)],
            f: |x| Ok(Tensor::stack(&[x[0], x[1]], 0)?.exp()),
        },
        un("softmax", |x| x[0].softmax(1)),
        un("log_softmax", |x| x[0].log_softmax(0)),
        Case {
            name: "gather",
            inputs: vec![randn(&[3, 4], 32)],
            f: |x| {
                let index = Array::from_vec(vec![1, 3, 3, 0, 2, 2], &[3, 2]).unwrap();
                Ok(x[0].gather(1, &index)?.exp())
            },
        },
        Case {
            name: "index_select",
            inputs: vec![randn(&[3, 2], 33)],
            f: |x| Ok(x[0].index_select(0, &[2, 0, 2])?.exp()),
        },
        Case {
            name: "where",
            inputs: vec![randn(&[2, 3], 34), randn(&[3], 35)],
            f: |x| {
                let cond = Array::from_vec(vec![true, false, true], &[3]).unwrap();
                Ok(Tensor::where_cond(&cond, x[0], x[1])?.exp())
            },
        },
        Case {
            name: "clamp",
            inputs: vec![Array::from_vec(vec![-2.0, -0.3, 0.1, 0.4, 1.7, -0.9], &[2, 3]).unwrap()],
            f: |x| Ok(x[0].clamp(-0.5, 0.5).exp()),
        },
        Case {
            name: "cross-entropy of a two-layer network",
            inputs: vec![
                randn(&[4, 3], 36),
                scaled(randn(&[5, 3], 37), 0.5),
                randn(&[5], 38),
                scaled(randn(&[2, 5], 39), 0.5),
            ],
            f: |x| {
                let h = x[0].linear(x[1], x[2])?.tanh();
                let no_bias = x[0].tape().constant(Array::zeros(&[2]));
                let logits = h.linear(x[3], no_bias)?;
                let labels = Array::from_vec(vec![0, 1, 1, 0], &[4, 1]).unwrap();
                Ok(-logits.log_softmax(1)?.gather(1, &labels)?.mean_all())
            },
        },
    ]
}

#[test]
fn the_recorded_backward_equals_the_fast_backward_on_every_op() {
    cases().iter().for_each(check_recorded_equals_fast);
}

#[test]
fn pow_keeps_its_special_points_element_by_element() {
    // 0^b for b > 0, b = 0 and b < 0, a^0, and a general point: the recorded rule decides each
    // element as the number rule does (PyTorch's conventions).
    let tape = Tape::<f64>::new();
    let a = tape.var(Array::from_vec(vec![0.0, 0.0, 0.0, 2.0, 1.5], &[5]).unwrap());
    let b = tape.var(Array::from_vec(vec![2.0, 0.0, -1.0, 0.0, 0.5], &[5]).unwrap());
    let y = a.pow(b).unwrap();
    let u = Array::from_vec(vec![1.0; 5], &[5]).unwrap();
    y.backward_with(&u).unwrap();
    let recorded = tape.grad_graph_with(y, tape.constant(u), &[a, b]).unwrap();
    for (x, r) in [a, b].iter().zip(&recorded) {
        let (fast, rec) = (x.grad().unwrap().to_vec(), r.to_vec());
        for (f, r) in fast.iter().zip(&rec) {
            assert!(
                f == r || (f.is_nan() && r.is_nan()),
                "fast {fast:?}, recorded {rec:?}"
            );
        }
    }
    // d/da at (0, 2) is 0, at (0, 0) is 0 (a^0 is constant); d/db at (0, 2) and (0, 0) is 0.
    assert_eq!(a.grad().unwrap().to_vec()[..2], [0.0, 0.0]);
    assert_eq!(b.grad().unwrap().to_vec()[..2], [0.0, 0.0]);
}

#[test]
fn second_derivatives_of_every_op_match_finite_differences() {
    cases().iter().for_each(check_second);
}

#[test]
fn third_derivatives_match_finite_differences() {
    cases().iter().for_each(check_third);
}

#[test]
fn forward_mode_matches_finite_differences_and_reverse_mode_on_every_op() {
    cases().iter().for_each(check_forward_mode);
}

#[test]
fn sin_derivatives_cycle() {
    let tape = Tape::<f64>::new();
    let points = vec![0.0, 0.5, 1.0, -2.0, 3.0];
    let x = tape.var(Array::from_vec(points.clone(), &[5]).unwrap());
    let expected: [fn(f64) -> f64; 5] = [f64::sin, f64::cos, |x| -x.sin(), |x| -x.cos(), f64::sin];
    let mut d = x.unary(Unary::Sin);
    for (order, want) in expected.iter().enumerate() {
        let want: Vec<f64> = points.iter().map(|&p| want(p)).collect();
        assert!(close(&d.to_vec(), &want, 1e-14), "order {order}");
        d = tape.grad_graph(d.sum_all(), &[x]).unwrap()[0];
    }
}

#[test]
fn the_hessian_of_a_quadratic_form_is_a_plus_a_transposed() {
    let a = randn(&[4, 4], 50);
    let x = randn(&[4], 51);
    let h = hessian(
        |x| {
            let a = x.tape().constant(a.clone());
            x.matmul(a.matmul(x)?)
        },
        &x,
    )
    .unwrap();
    assert_eq!(h.shape(), &[4, 4]);
    let a = a.to_vec();
    let want: Vec<f64> = (0..16).map(|k| a[k] + a[(k % 4) * 4 + k / 4]).collect();
    assert!(
        close(&h.to_vec(), &want, 1e-14),
        "{:?} vs {want:?}",
        h.to_vec()
    );
}

/// Rosenbrock's function in n dimensions, written with slices.
fn rosenbrock(x: Tensor<'_, f64>) -> Result<Tensor<'_, f64>, TensorError> {
    let n = x.numel();
    let (head, tail) = (x.slice(0, 0, n - 1)?, x.slice(0, 1, n)?);
    let d = tail - head * head;
    let e = 1.0 - head;
    Ok((d * d * 100.0 + e * e).sum_all())
}

#[test]
fn rosenbrock_hessian_matches_the_closed_form_and_the_scalar_engine() {
    // In two dimensions: [[1200x² − 400y + 2, −400x], [−400x, 200]].
    let p = Array::from_vec(vec![-1.2, 1.0], &[2]).unwrap();
    let h = hessian(rosenbrock, &p).unwrap().to_vec();
    let (x, y) = (-1.2, 1.0);
    let want = [
        1200.0 * x * x - 400.0 * y + 2.0,
        -400.0 * x,
        -400.0 * x,
        200.0,
    ];
    assert!(close(&h, &want, 1e-13), "{h:?}");

    // Five dimensions, against the scalar engine's Hessian of the same function.
    let q = vec![0.3, -0.7, 1.1, 0.2, -1.5];
    let tensor_h = hessian(rosenbrock, &Array::from_vec(q.clone(), &[5]).unwrap()).unwrap();
    fn scalar<'g>(_: &'g chainrule::Graph, v: &[chainrule::Var<'g>]) -> chainrule::Var<'g> {
        let mut sum = v[0] * 0.0;
        for i in 0..v.len() - 1 {
            let d = v[i + 1] - v[i] * v[i];
            let e = 1.0 - v[i];
            sum = sum + d * d * 100.0 + e * e;
        }
        sum
    }
    let scalar_h: Vec<f64> = chainrule::functional::hessian(scalar, &q).concat();
    assert!(close(&tensor_h.to_vec(), &scalar_h, 1e-13));
}

#[test]
fn jacobians_agree_and_have_the_output_shape_first() {
    let x = randn(&[2, 3], 60);
    let f = tensor_fn(|x| x.softmax(1)?.matmul(x.transpose(0, 1)?));
    let (jr, jf) = (jacrev(f, &x).unwrap(), jacfwd(f, &x).unwrap());
    assert_eq!(jr.shape(), &[2, 2, 2, 3]);
    assert!(close(&jr.to_vec(), &jf.to_vec(), 1e-13));
    // Each entry against central differences.
    let h = 1e-6;
    for j in 0..6 {
        let shifted = |d: f64| {
            let mut v = x.to_vec();
            v[j] += d;
            let tape = Tape::new();
            f(tape.var(Array::from_vec(v, &[2, 3]).unwrap()))
                .unwrap()
                .to_vec()
        };
        let (p, m) = (shifted(h), shifted(-h));
        for i in 0..4 {
            let numeric = (p[i] - m[i]) / (2.0 * h);
            assert!((jr.to_vec()[i * 6 + j] - numeric).abs() < 1e-7);
        }
    }
}

#[test]
fn transforms_compose_to_any_order() {
    let x = randn(&[3], 70);
    let f = tensor_fn(|x| Ok((x.sin() * x.sum_all()).sum_all()));
    let h = hessian(f, &x).unwrap();
    for (name, j) in [
        ("jacfwd of grad_fn", jacfwd(grad_fn(f), &x).unwrap()),
        ("jacrev of grad_fn", jacrev(grad_fn(f), &x).unwrap()),
    ] {
        assert!(close(&j.to_vec(), &h.to_vec(), 1e-13), "{name}");
    }
    // The third derivative of Σ sin: grad of Σ grad of Σ grad is −cos, element by element.
    let g = tensor_fn(|x| Ok(x.sin().sum_all()));
    let g1 = grad_fn(g);
    let g2 = grad_fn(tensor_fn(move |x| Ok(g1(x)?.sum_all())));
    let third = grad(tensor_fn(move |x| Ok(g2(x)?.sum_all())), &x).unwrap();
    let want: Vec<f64> = x.to_vec().iter().map(|v| -v.cos()).collect();
    assert!(
        close(&third.to_vec(), &want, 1e-14),
        "{:?} vs {want:?}",
        third.to_vec()
    );
}

#[test]
fn hvp_is_the_hessian_times_the_vector() {
    let x = randn(&[3], 61);
    let v = randn(&[3], 62);
    let f = tensor_fn(|x| Ok((x.exp() * x.sin()).sum_all() * x.sum_all()));
    let h = hessian(f, &x).unwrap().to_vec();
    let hv = hvp(f, &x, &v).unwrap().to_vec();
    let want: Vec<f64> = (0..3)
        .map(|i| dot(&h[i * 3..i * 3 + 3], &v.to_vec()))
        .collect();
    assert!(close(&hv, &want, 1e-13));
}

#[test]
fn newtons_method_converges_on_a_tensor_function() {
    // f(x) = ½ xᵀAx − bᵀx + Σ e^x / 10, A symmetric positive definite: strictly convex.
    let a = Array::from_vec(vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0], &[3, 3]).unwrap();
    let b = Array::from_vec(vec![1.0, -2.0, 0.5], &[3]).unwrap();
    let f = tensor_fn(|x| {
        let tape = x.tape();
        let quad = x.matmul(tape.constant(a.clone()).matmul(x)?)? * 0.5;
        Ok(quad - x.matmul(tape.constant(b.clone()))? + x.exp().sum_all() * 0.1)
    });
    let mut x = vec![0.0; 3];
    for _ in 0..8 {
        let xa = Array::from_vec(x.clone(), &[3]).unwrap();
        let g = grad(f, &xa).unwrap().to_vec();
        let h = hessian(f, &xa).unwrap().to_vec();
        let step = solve3(&h, &g);
        for (x, s) in x.iter_mut().zip(step) {
            *x -= s;
        }
    }
    let g = grad(f, &Array::from_vec(x, &[3]).unwrap())
        .unwrap()
        .to_vec();
    assert!(g.iter().all(|v| v.abs() < 1e-12), "gradient {g:?}");
}

/// Solves the 3×3 system `h · s = g` by Cramer's rule.
fn solve3(h: &[f64], g: &[f64]) -> Vec<f64> {
    let det = |m: &[f64]| {
        m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
            + m[2] * (m[3] * m[7] - m[4] * m[6])
    };
    let d = det(h);
    (0..3)
        .map(|c| {
            let mut m = h.to_vec();
            for r in 0..3 {
                m[r * 3 + c] = g[r];
            }
            det(&m) / d
        })
        .collect()
}

#[test]
fn vjp_and_jvp_of_the_transforms_agree() {
    let x = randn(&[2, 2], 63);
    let v = randn(&[2, 2], 64);
    let f = tensor_fn(|x| Ok(x.matmul(x)?.tanh()));
    let (y1, jv) = jvp(f, &x, &v).unwrap();
    let u = randn(&[2, 2], 65);
    let (y2, uj) = vjp(f, &x, &u).unwrap();
    assert_eq!(y1, y2);
    let (l, r) = (
        dot(&u.to_vec(), &jv.to_vec()),
        dot(&uj.to_vec(), &v.to_vec()),
    );
    assert!((l - r).abs() < 1e-13, "{l} vs {r}");
}

#[test]
fn misuse_gives_errors_that_name_the_problem() {
    let tape = Tape::<f64>::new();
    let x = tape.var(randn(&[3], 1));
    let y = x.exp();
    let e = tape.grad_graph(y, &[x]).unwrap_err().to_string();
    assert!(e.contains("shape [3], not one element"), "{e}");
    let e = tape
        .grad_graph_with(y, tape.constant(randn(&[2], 2)), &[x])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the seed has shape [2] but the output has shape [3]"),
        "{e}"
    );
    let c = tape.constant(randn(&[3], 3));
    let e = tape.jvp(&[y], &[c], &[c]).unwrap_err().to_string();
    assert!(e.contains("input 0 is a constant"), "{e}");
    let e = tape.jvp(&[y], &[x], &[]).unwrap_err().to_string();
    assert!(e.contains("1 inputs but 0 tangents"), "{e}");
    let e = tape
        .jvp(&[y], &[x], &[tape.constant(randn(&[4], 4))])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tangent 0 has shape [4] but input 0 has shape [3]"),
        "{e}"
    );

    let e = hessian(|x| Ok(x.exp()), &randn(&[3], 5))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("hessian: the function returned shape [3]"),
        "{e}"
    );
    let e = jvp(|x| Ok(x.exp()), &randn(&[3], 5), &randn(&[2], 6))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the tangent has shape [2] but the input has shape [3]"),
        "{e}"
    );
}

#[test]
fn inputs_the_output_does_not_reach_get_zeros() {
    let tape = Tape::<f64>::new();
    let x = tape.var(randn(&[2], 1));
    let unused = tape.var(randn(&[3], 2));
    let y = x.exp().sum_all();
    let g = tape.grad_graph(y, &[x, unused]).unwrap();
    assert_eq!(g[1].to_vec(), vec![0.0; 3]);
    assert_eq!(
        tape.jvp(&[y], &[unused], &[tape.constant(randn(&[3], 3))])
            .unwrap()[0]
            .item(),
        0.0
    );
}

#[test]
fn the_fast_gradients_are_untouched_by_grad_graph() {
    let tape = Tape::<f64>::new();
    let x = tape.var(randn(&[3], 1));
    let y = x.exp().sum_all();
    let _ = tape.grad_graph(y, &[x]).unwrap();
    assert!(x.grad().is_none());
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap(), x.exp().value());
}

#[test]
fn f32_tapes_differentiate_twice_too() {
    let x = Array::<f32>::from_vec(vec![0.5, -1.0], &[2]).unwrap();
    let h = hessian(|x| Ok(x.tanh().sum_all()), &x).unwrap().to_vec();
    // d²/dx² tanh = −2 tanh (1 − tanh²).
    let want = |x: f32| -2.0 * x.tanh() * (1.0 - x.tanh() * x.tanh());
    assert!((h[0] - want(0.5)).abs() < 1e-6 && (h[3] - want(-1.0)).abs() < 1e-6);
    assert_eq!((h[1], h[2]), (0.0, 0.0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// uᵀ(Jv) = (uᵀJ)v for a small network, at random points, along random directions.
    #[test]
    fn forward_and_reverse_mode_agree(seed in 0u64..1_000_000) {
        let tape = Tape::<f64>::new();
        let x = tape.var(randn(&[3, 4], seed));
        let w = tape.var(randn(&[2, 4], seed + 1));
        let b = tape.var(randn(&[2], seed + 2));
        let y = x.linear(w, b).unwrap().gelu().softmax(1).unwrap();
        let vs: Vec<_> = [&[3usize, 4][..], &[2, 4], &[2]]
            .iter()
            .enumerate()
            .map(|(k, s)| randn(s, seed + 10 + k as u64))
            .collect();
        let tangents: Vec<_> = vs.iter().map(|v| tape.constant(v.clone())).collect();
        let jv = tape.jvp(&[y], &[x, w, b], &tangents).unwrap()[0].to_vec();
        let u = randn(&[3, 2], seed + 20);
        let uj = tape.grad_graph_with(y, tape.constant(u.clone()), &[x, w, b]).unwrap();
        let lhs = dot(&u.to_vec(), &jv);
        let rhs: f64 = uj.iter().zip(&vs).map(|(g, v)| dot(&g.to_vec(), &v.to_vec())).sum();
        prop_assert!((lhs - rhs).abs() <= 1e-12 * (1.0 + lhs.abs()), "{} vs {}", lhs, rhs);
    }
}
