//! The mathematical tensor operations PyTorch users expect (softplus, logsumexp, var, norm,
//! prod, cumsum, the comparisons, the options of cross_entropy...): every mode of
//! differentiation of each against finite differences (`check_every_mode`), the conventions at
//! kinks, ties, zeros and infinities, and PyTorch's own values and gradients for fixed inputs.
//!
//! The PyTorch numbers were printed by `tests/reference/torch_math.py` (torch 2.15, float64);
//! the tests do not run PyTorch.

// PyTorch's numbers are pasted as the script printed them, ln 2 among them.
#![allow(clippy::approx_constant)]

use chainrule::nn::{
    binary_cross_entropy_with_logits, cross_entropy, cross_entropy_with, hinge_loss, mse_loss,
    CrossEntropyOptions, Reduction,
};
use chainrule::tensor::{Array, Binary, Tape, Tensor, TensorError, Unary};
use chainrule::Expr;

mod common;
use common::*;

const INF: f64 = f64::INFINITY;

fn un(name: &'static str, inputs: Array<f64>, f: Fun) -> Case {
    Case {
        name,
        inputs: vec![inputs],
        f,
    }
}

#[test]
fn element_wise_operations_in_every_mode() {
    let s = [2, 3];
    let cases = vec![
        un("softplus", scaled(randn(&s, 1), 3.0), |x| {
            Ok(x[0].softplus())
        }),
        un("log_sigmoid", scaled(randn(&s, 2), 3.0), |x| {
            Ok(x[0].log_sigmoid())
        }),
        un("log1p", positive(&s, 3, -0.5), |x| Ok(x[0].log1p())),
        un("expm1", randn(&s, 4), |x| Ok(x[0].expm1())),
        un("square", randn(&s, 5), |x| Ok(x[0].square())),
        un("powi", away_from_zero(&s, 6, 0.5), |x| {
            Ok(x[0].powi(3) + x[0].powi(-2))
        }),
        // Piecewise operations times x, so that their second derivatives are not all 0.
        un("leaky_relu", away_from_zero(&s, 7, 0.1), |x| {
            Ok(x[0].leaky_relu(0.2) * x[0])
        }),
        un("elu", away_from_zero(&s, 8, 0.1), |x| Ok(x[0].elu(0.7))),
        un("silu", scaled(randn(&s, 9), 3.0), |x| Ok(x[0].silu())),
        un("gelu_tanh", scaled(randn(&s, 10), 2.0), |x| {
            Ok(x[0].gelu_tanh())
        }),
        un("sign", away_from_zero(&s, 11, 0.1), |x| {
            Ok(x[0].sign() * x[0])
        }),
        un("div_scalar", randn(&s, 12), |x| {
            Ok(x[0] / 3.0 + x[0].div_scalar(-7.0))
        }),
        Case {
            name: "maximum and minimum",
            inputs: vec![randn(&s, 13), randn(&[3], 14)],
            f: |x| Ok(x[0].maximum(x[1])? * x[0].minimum(x[1])?),
        },
        Case {
            name: "masked_fill",
            inputs: vec![randn(&s, 15)],
            f: |x| {
                let mask = Array::from_vec(vec![true, false, false], &[3])?;
                Ok(x[0].masked_fill(&mask, 2.5)?.exp())
            },
        },
        Case {
            name: "where_cond",
            inputs: vec![randn(&s, 16), randn(&[2, 1], 17)],
            f: |x| {
                let mask = Array::from_vec(vec![true, false, true, true, false, false], &[2, 3])?;
                Tensor::where_cond(&mask, x[0].sin(), x[1] * x[1])
            },
        },
    ];
    for case in &cases {
        check_every_mode(case);
    }
}

/// `f` and its gradient (of the sum) at `points`.
fn value_and_grad(
    points: &[f64],
    f: impl for<'t> Fn(Tensor<'t, f64>) -> Tensor<'t, f64>,
) -> (Vec<f64>, Vec<f64>) {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(points));
    let y = f(x);
    y.sum_all().backward().unwrap();
    (y.to_vec(), x.grad().unwrap().to_vec())
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert!(close(got, want, tol), "{what}: got {got:?}, want {want:?}");
}

const POINTS: [f64; 12] = [
    -30.0, -2.5, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0, 19.5, 20.0, 20.5, 40.0,
];

#[test]
fn element_wise_operations_agree_with_pytorch() {
    type Op = for<'t> fn(Tensor<'t, f64>) -> Tensor<'t, f64>;
    let table: [(&str, Op, [f64; 12], [f64; 12]); 8] = [
        (
            "softplus",
            |x| x.softplus(),
            [
                9.357622968839737e-14,
                0.07888973429254963,
                0.31326168751822286,
                0.6931471805599453,
                0.6931471805599453,
                0.9740769841801067,
                1.3132616875182228,
                3.048587351573742,
                19.500000003398267,
                20.000000002061153,
                20.5,
                40.0,
            ],
            [
                9.3576229688393e-14,
                0.07585818002124356,
                0.2689414213699951,
                0.5,
                0.5,
                0.6224593312018546,
                0.7310585786300049,
                0.9525741268224333,
                0.9999999966017322,
                0.9999999979388464,
                1.0,
                1.0,
            ],
        ),
        (
            "log_sigmoid",
            |x| x.log_sigmoid(),
            [
                -30.000000000000092,
                -2.5788897342925496,
                -1.3132616875182228,
                -0.6931471805599453,
                -0.6931471805599453,
                -0.4740769841801067,
                -0.31326168751822286,
                -0.04858735157374206,
                -3.398267813720959e-09,
                -2.061153620314381e-09,
                -1.2501528656053017e-09,
                -4.248354255291589e-18,
            ],
            [
                0.9999999999999064,
                0.9241418199787564,
                0.7310585786300049,
                0.5,
                0.5,
                0.37754066879814546,
                0.2689414213699951,
                0.04742587317756679,
                3.3982678079468468e-09,
                2.0611536181902033e-09,
                1.2501528648238605e-09,
                4.248354255291589e-18,
            ],
        ),
        (
            "silu",
            |x| x.silu(),
            [
                -2.8072868906517896e-12,
                -0.18964545005310887,
                -0.2689414213699951,
                -0.0,
                0.0,
                0.3112296656009273,
                0.7310585786300049,
                2.8577223804672998,
                19.499999933733775,
                19.999999958776925,
                20.499999974371867,
                40.0,
            ],
            [
                -2.713710660963134e-12,
                -0.09940111134152683,
                0.07232948812851325,
                0.5,
                0.5,
                0.7399611873026519,
                0.9276705118714869,
                1.0881041060151693,
                1.0000000628679557,
                1.0000000391619202,
                1.000000024377981,
                1.0,
            ],
        ),
        (
            "elu",
            |x| x.elu(1.0),
            [
                -0.9999999999999064,
                -0.9179150013761013,
                -0.6321205588285577,
                -0.0,
                0.0,
                0.5,
                1.0,
                3.0,
                19.5,
                20.0,
                20.5,
                40.0,
            ],
            [
                9.357622968840175e-14,
                0.0820849986238988,
                0.36787944117144233,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
            ],
        ),
        (
            "elu alpha=0.5",
            |x| x.elu(0.5),
            [
                -0.4999999999999532,
                -0.45895750068805063,
                -0.31606027941427883,
                -0.0,
                0.0,
                0.5,
                1.0,
                3.0,
                19.5,
                20.0,
                20.5,
                40.0,
            ],
            [
                4.6788114844200874e-14,
                0.0410424993119494,
                0.18393972058572117,
                0.5,
                0.5,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
            ],
        ),
        (
            "leaky_relu",
            |x| x.leaky_relu(0.01),
            [
                -0.3, -0.025, -0.01, -0.0, 0.0, 0.5, 1.0, 3.0, 19.5, 20.0, 20.5, 40.0,
            ],
            [
                0.01, 0.01, 0.01, 0.01, 0.01, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
            ],
        ),
        (
            "leaky_relu 0.2",
            |x| x.leaky_relu(0.2),
            [
                -6.0, -0.5, -0.2, -0.0, 0.0, 0.5, 1.0, 3.0, 19.5, 20.0, 20.5, 40.0,
            ],
            [0.2, 0.2, 0.2, 0.2, 0.2, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        ),
        (
            "gelu_tanh",
            |x| x.gelu_tanh(),
            [
                -0.0,
                -0.015084266089998577,
                -0.15880800939172324,
                -0.0,
                0.0,
                0.34571400982514394,
                0.8411919906082768,
                2.996362607918227,
                19.5,
                20.0,
                20.5,
                40.0,
            ],
            [
                0.0,
                -0.03795157621266618,
                -0.08296408384578252,
                0.5,
                0.5,
                0.8673699035346424,
                1.0829640838457826,
                1.0115841666309695,
                1.0,
                1.0,
                1.0,
                1.0,
            ],
        ),
    ];
    for (name, f, value, grad) in table {
        let (v, g) = value_and_grad(&POINTS, f);
        assert_close(&format!("{name} value"), &v, &value, 1e-15);
        assert_close(&format!("{name} gradient"), &g, &grad, 1e-15);
    }
    let (v, g) = value_and_grad(&[-0.5, 1e-10, 0.0, 3.0], |x| x.log1p());
    assert_close(
        "log1p",
        &v,
        &[
            -0.6931471805599453,
            9.999999999500001e-11,
            0.0,
            1.3862943611198906,
        ],
        1e-16,
    );
    assert_close("log1p'", &g, &[2.0, 0.9999999999, 1.0, 0.25], 1e-16);
    let (v, g) = value_and_grad(&[-2.0, 1e-10, 0.0, 3.0], |x| x.expm1());
    assert_close(
        "expm1",
        &v,
        &[
            -0.8646647167633873,
            1.00000000005e-10,
            0.0,
            19.085536923187668,
        ],
        1e-16,
    );
    assert_close(
        "expm1'",
        &g,
        &[0.1353352832366127, 1.0000000001, 1.0, 20.085536923187668],
        1e-16,
    );
}

#[test]
fn kinks_take_pytorchs_conventions() {
    let at =
        |f: for<'t> fn(Tensor<'t, f64>) -> Tensor<'t, f64>, x: f64| value_and_grad(&[x], f).1[0];
    // Smooth functions whose stable formulas switch branches: the derivative, exactly.
    assert_eq!(at(|x| x.softplus(), 0.0), 0.5);
    assert_eq!(at(|x| x.log_sigmoid(), 0.0), 0.5);
    assert_eq!(at(|x| x.silu(), 0.0), 0.5);
    assert_eq!(at(|x| x.gelu_tanh(), 0.0), 0.5);
    // Softplus is x itself above 20 (PyTorch's threshold), and its derivative 1 there.
    assert_eq!(at(|x| x.softplus(), 20.5), 1.0);
    assert_eq!(at(|x| x.softplus(), 20.0), 1.0 / (1.0 + (-20f64).exp()));
    // Kinks: the left side's slope at 0, for 0 and -0.
    for zero in [0.0, -0.0] {
        assert_eq!(at(|x| x.leaky_relu(0.01), zero), 0.01);
        assert_eq!(at(|x| x.leaky_relu(0.2), zero), 0.2);
        assert_eq!(at(|x| x.elu(1.0), zero), 1.0);
        assert_eq!(at(|x| x.elu(0.5), zero), 0.5);
        assert_eq!(at(|x| x.sign(), zero), 0.0);
        assert_eq!(at(|x| x.relu(), zero), 0.0);
    }
    // No overflow at the extremes, and no NaN in the gradient.
    let (v, g) = value_and_grad(&[-1000.0, 1000.0], |x| x.softplus());
    assert_eq!((v, g), (vec![0.0, 1000.0], vec![0.0, 1.0]));
    let (v, g) = value_and_grad(&[-1000.0, 1000.0], |x| x.log_sigmoid());
    assert_eq!((v, g), (vec![-1000.0, -0.0], vec![1.0, 0.0]));
    let (v, g) = value_and_grad(&[-1000.0, 1000.0], |x| x.silu());
    assert_eq!((v, g), (vec![-0.0, 1000.0], vec![-0.0, 1.0]));
}

#[test]
fn second_derivatives_at_the_kinks_are_those_of_the_sides() {
    // The recorded gradient of each, differentiated again at 0 and at softplus's threshold.
    let second = |f: for<'t> fn(Tensor<'t, f64>) -> Tensor<'t, f64>, x: f64| {
        let tape = Tape::<f64>::new();
        let v = tape.var(Array::from_slice(&[x]));
        let d = tape.grad_graph(f(v).sum_all(), &[v]).unwrap()[0];
        tape.grad_graph(d.sum_all(), &[v]).unwrap()[0].item()
    };
    assert_eq!(second(|x| x.softplus(), 0.0), 0.25);
    assert_eq!(second(|x| x.softplus(), 25.0), 0.0);
    assert_eq!(second(|x| x.log_sigmoid(), 0.0), -0.25);
    assert_eq!(second(|x| x.leaky_relu(0.1), 0.0), 0.0);
    assert_eq!(second(|x| x.elu(1.0), 0.0), 1.0); // the left side's, alpha·e^0
    assert_eq!(second(|x| x.elu(1.0), 0.5), 0.0);
    assert_eq!(second(|x| x.silu(), 0.0), 0.5);
}

#[test]
fn binary_cross_entropy_has_the_gradient_sigmoid_minus_target_at_a_logit_of_zero() {
    // The example of the issue: a logit of exactly 0, as a zero-initialised model makes.
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(&[0.0]));
    let y = tape.constant(Array::from_slice(&[0.25]));
    binary_cross_entropy_with_logits(x, y)
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.25]);

    // PyTorch's value and gradient, at 0 and away from it.
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(&[0.0, 0.0, -3.0, 25.0]));
    let y = tape.constant(Array::from_slice(&[0.25, 1.0, 0.0, 1.0]));
    let loss = binary_cross_entropy_with_logits(x, y).unwrap();
    loss.backward().unwrap();
    assert_close("bce", &[loss.item()], &[0.35872042817688016], 1e-15);
    assert_close(
        "bce'",
        &x.grad().unwrap().to_vec(),
        &[0.0625, -0.125, 0.011856468294391695, -3.472000464910252e-12],
        1e-15,
    );

    // In f32 too, and with finite values for any logit.
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::from_slice(&[0.0, -1e4, 1e4]));
    let y = tape.constant(Array::from_slice(&[1.0, 1.0, 0.0]));
    let loss = binary_cross_entropy_with_logits(x, y).unwrap();
    loss.backward().unwrap();
    assert!((loss.item() - (2f32.ln() + 2e4) / 3.0).abs() < 1e-2);
    assert_eq!(
        x.grad().unwrap().to_vec(),
        vec![-0.5 / 3.0, -1.0 / 3.0, 1.0 / 3.0]
    );
    // Shapes must agree, as in PyTorch.
    let column = tape.constant(Array::zeros(&[3, 1]));
    assert!(binary_cross_entropy_with_logits(x, column).is_err());
}

#[test]
fn hinge_loss_keeps_relus_convention_at_its_own_kink() {
    // A margin of exactly 1 is a true kink of the hinge loss: relu'(0) = 0 there.
    let tape = Tape::<f64>::new();
    let s = tape.var(Array::from_slice(&[1.0, -1.0]));
    let y = tape.constant(Array::from_slice(&[1.0, -1.0]));
    hinge_loss(s, y).unwrap().backward().unwrap();
    assert_eq!(s.grad().unwrap().to_vec(), vec![0.0, 0.0]);
}

#[test]
fn reductions_in_every_mode() {
    let cases = vec![
        un("logsumexp", randn(&[2, 3, 4], 20), |x| {
            x[0].logsumexp(&[0, 2], false)
        }),
        un("logsumexp keepdim", scaled(randn(&[3, 4], 21), 10.0), |x| {
            x[0].logsumexp(&[-1], true)
        }),
        un("var", randn(&[3, 4], 22), |x| x[0].var(&[1], 1, false)),
        un("var all axes, correction 0", randn(&[2, 3], 23), |x| {
            Ok(x[0].var_all(0))
        }),
        un("std", randn(&[3, 4], 24), |x| x[0].std(&[0], 1, true)),
        un("norm 2", randn(&[3, 4], 25), |x| {
            x[0].norm(2.0, &[1], false)
        }),
        un("norm 1", away_from_zero(&[3, 4], 26, 0.1), |x| {
            x[0].norm(1.0, &[0], false)
        }),
        un("norm inf", randn(&[3, 4], 27), |x| {
            x[0].norm(f64::INFINITY, &[1], false)
        }),
        un("norm 3", away_from_zero(&[3, 4], 28, 0.1), |x| {
            x[0].norm(3.0, &[1], true)
        }),
        un("prod", randn(&[3, 5], 29), |x| x[0].prod(&[1], false)),
        un("prod of two axes", randn(&[2, 3, 3], 30), |x| {
            x[0].prod(&[0, 2], true)
        }),
        Case {
            name: "prod with zeros",
            inputs: vec![
                Array::from_vec(vec![0.0, 2.0, -1.5, 0.0, 3.0, 0.5, 0.0, 1.0], &[2, 4]).unwrap(),
            ],
            f: |x| x[0].prod(&[1], false),
        },
        un("cumsum", randn(&[3, 4], 31), |x| Ok(x[0].cumsum(1)?.sin())),
        un("cumsum axis 0", randn(&[3, 4], 32), |x| {
            Ok(x[0].cumsum(0)? * x[0])
        }),
        un("mean", randn(&[3, 4], 33), |x| x[0].mean(&[0], false)),
    ];
    for case in &cases {
        check_every_mode(case);
    }
}

/// The values and gradients of a reduction of `data` (shape `shape`), weighted by `u`.
fn reduced(
    data: &[f64],
    shape: &[usize],
    u: &[f64],
    f: impl for<'t> Fn(Tensor<'t, f64>) -> Result<Tensor<'t, f64>, TensorError>,
) -> (Vec<f64>, Vec<f64>) {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_vec(data.to_vec(), shape).unwrap());
    let y = f(x).unwrap();
    let weights = tape.constant(Array::from_vec(u.to_vec(), &y.shape()).unwrap());
    (y * weights).sum_all().backward().unwrap();
    (y.to_vec(), x.grad().unwrap().to_vec())
}

const ROWS: [f64; 8] = [1.0, -2.0, 0.5, 4.0, 3.0, 3.0, -1.0, 0.0];

#[test]
fn var_and_std_agree_with_pytorch_for_each_correction() {
    // correction, var, its gradient, std, its gradient.
    type Row = (usize, [f64; 2], [f64; 8], [f64; 2], [f64; 8]);
    let want: [Row; 3] = [
        (
            0,
            [4.546875, 3.1875000000000004],
            [0.0625, -1.4375, -0.1875, 1.5625, -1.75, -1.75, 2.25, 1.25],
            [2.1323402636539974, 1.7853571071357126],
            [
                0.01465525954401373,
                -0.3370709695123158,
                -0.043965778632041194,
                0.36638148860034325,
                -0.4900980294098034,
                -0.4900980294098034,
                0.6301260378126043,
                0.3500700210070024,
            ],
        ),
        (
            1,
            [6.0625, 4.250000000000001],
            [
                0.08333333333333333,
                -1.9166666666666665,
                -0.25,
                2.083333333333333,
                -2.333333333333333,
                -2.333333333333333,
                3.0,
                1.6666666666666665,
            ],
            [2.462214450449026, 2.0615528128088303],
            [
                0.01692243608556032,
                -0.38921602996788734,
                -0.05076730825668095,
                0.42306090213900793,
                -0.5659164584181102,
                -0.5659164584181102,
                0.7276068751089988,
                0.40422604172722154,
            ],
        ),
        (
            2,
            [9.09375, 6.375000000000001],
            [0.125, -2.875, -0.375, 3.125, -3.5, -3.5, 4.5, 2.5],
            [3.0155845204537046, 2.52487623459052],
            [
                0.020725666807241958,
                -0.476690336566565,
                -0.06217700042172587,
                0.518141670181049,
                -0.693103280083672,
                -0.693103280083672,
                0.8911327886790067,
                0.4950737714883371,
            ],
        ),
    ];
    let u = [1.0, -2.0];
    for (c, var, dvar, std, dstd) in want {
        let (v, g) = reduced(&ROWS, &[2, 4], &u, |x| x.var(&[1], c, false));
        assert_close(&format!("var correction {c}"), &v, &var, 1e-15);
        assert_close(&format!("var' correction {c}"), &g, &dvar, 1e-14);
        let (v, g) = reduced(&ROWS, &[2, 4], &u, |x| x.std(&[1], c, false));
        assert_close(&format!("std correction {c}"), &v, &std, 1e-15);
        assert_close(&format!("std' correction {c}"), &g, &dstd, 1e-14);
    }
    // Where every element is equal, std is 0 and so is its gradient (PyTorch's), not NaN.
    let (v, g) = reduced(&[2.0; 3], &[3], &[1.0], |x| x.std(&[0], 1, false));
    assert_eq!((v, g), (vec![0.0], vec![0.0; 3]));
    // No degrees of freedom left: NaN, as in PyTorch.
    assert!(reduced(&[2.0], &[1], &[1.0], |x| x.var(&[0], 1, false)).0[0].is_nan());
}

#[test]
fn norms_agree_with_pytorch_and_have_gradient_zero_at_zero() {
    let rows = [3.0, -4.0, 0.0, 0.0, 0.0, 0.0, 1.0, -3.0, 3.0];
    let want: [(f64, [f64; 3], [f64; 9]); 4] = [
        (
            2.0,
            [5.0, 0.0, 4.358898943540674],
            [
                0.6,
                -0.8,
                0.0,
                0.0,
                0.0,
                0.0,
                0.22941573387056174,
                -0.6882472016116852,
                0.6882472016116852,
            ],
        ),
        (
            1.0,
            [7.0, 0.0, 7.0],
            [1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0, 1.0],
        ),
        (
            INF,
            [4.0, 0.0, 3.0],
            [0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.5, 0.5],
        ),
        (
            3.0,
            [4.497941445275415, 0.0, 3.802952460761391],
            [
                0.4448513517305356,
                -0.7908468475209521,
                0.0,
                0.0,
                0.0,
                0.0,
                0.06914459019566169,
                -0.6223013117609552,
                0.6223013117609552,
            ],
        ),
    ];
    for (p, value, grad) in want {
        let (v, g) = reduced(&rows, &[3, 3], &[1.0; 3], |x| x.norm(p, &[1], false));
        assert_close(&format!("norm {p}"), &v, &value, 1e-15);
        assert_close(&format!("norm' {p}"), &g, &grad, 1e-15);
    }
    // The second derivative at the zero vector is finite too.
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::zeros(&[3]));
    let d = tape.grad_graph(x.norm_all(2.0).unwrap(), &[x]).unwrap()[0];
    let dd = tape.grad_graph(d.sum_all(), &[x]).unwrap()[0];
    assert_eq!(dd.to_vec(), vec![0.0; 3]);
    let min = reduced(&rows, &[3, 3], &[1.0; 3], |x| {
        x.norm(f64::NEG_INFINITY, &[1], false)
    });
    assert_eq!(min.0, vec![0.0, 0.0, 1.0]);
    assert!(Tape::<f64>::new().scalar(1.0).norm_all(0.0).is_err());
    assert!(Tape::<f64>::new().scalar(1.0).norm_all(f64::NAN).is_err());
}

#[test]
fn prod_has_exact_gradients_where_elements_are_zero() {
    let rows = [2.0, 3.0, 4.0, 2.0, 0.0, 5.0, 0.0, 0.0, 7.0];
    let (v, g) = reduced(&rows, &[3, 3], &[1.0; 3], |x| x.prod(&[1], false));
    assert_eq!(v, vec![24.0, 0.0, 0.0]);
    assert_eq!(g, vec![12.0, 8.0, 6.0, 0.0, 10.0, 0.0, 0.0, 0.0, 0.0]);
    // PyTorch's Hessian of the product of [2, 0, 5].
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(&[2.0, 0.0, 5.0]));
    let d = tape.grad_graph(x.prod_all(), &[x]).unwrap()[0];
    let rows: Vec<f64> = (0..3)
        .flat_map(|i| {
            let di = d.slice(0, i, i + 1).unwrap().sum_all();
            tape.grad_graph(di, &[x]).unwrap()[0].to_vec()
        })
        .collect();
    assert_eq!(rows, vec![0.0, 5.0, 0.0, 5.0, 0.0, 2.0, 0.0, 2.0, 0.0]);
    // Odd lengths, a length of one, and the empty product.
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::arange(1.0, 8.0, 1.0));
    assert_eq!(x.prod_all().item(), 5040.0);
    assert_eq!(tape.var(Array::from_slice(&[3.0])).prod_all().item(), 3.0);
    let empty = tape.var(Array::zeros(&[2, 0]));
    let p = empty.prod(&[1], false).unwrap();
    assert_eq!(p.to_vec(), vec![1.0, 1.0]);
    p.sum_all().backward().unwrap();
    assert_eq!(empty.grad().unwrap().shape(), &[2, 0]);
}

#[test]
fn cumsum_and_logsumexp_agree_with_pytorch() {
    let u = [1.0, 2.0, 3.0, 4.0, -1.0, 0.5, 0.0, 2.0];
    let (v, g) = reduced(&ROWS, &[2, 4], &u, |x| x.cumsum(1));
    assert_eq!(v, vec![1.0, -1.0, -0.5, 3.5, 3.0, 6.0, 5.0, 5.0]);
    assert_eq!(g, vec![10.0, 9.0, 7.0, 4.0, 1.5, 2.5, 2.0, 2.0]);

    let rows = [1.0, 2.0, 3.0, -INF, 0.0, 1.0, 1000.0, 1000.0, -INF];
    let (v, g) = reduced(&rows, &[3, 3], &[1.0; 3], |x| x.logsumexp(&[1], false));
    assert_close(
        "logsumexp",
        &v,
        &[3.4076059644443806, 1.3132616875182228, 1000.6931471805599],
        1e-16,
    );
    assert_close(
        "logsumexp'",
        &g,
        &[
            0.09003057317038043,
            0.24472847105479759,
            0.6652409557748217,
            0.0,
            0.2689414213699951,
            0.7310585786300049,
            0.5000000000000275,
            0.5000000000000275,
            0.0,
        ],
        1e-15,
    );
    // A row of -inf: -inf as PyTorch, and gradient 0 where PyTorch's is NaN (a deliberate
    // difference), on numbers and recorded, in the second derivative too.
    let (v, g) = reduced(&[-INF, -INF, 1.0, 2.0], &[2, 2], &[1.0, 1.0], |x| {
        x.logsumexp(&[1], false)
    });
    assert_eq!(v[0], -INF);
    assert_eq!(&g[..2], &[0.0, 0.0]);
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_vec(vec![-INF, -INF, 1.0, 2.0], &[2, 2]).unwrap());
    let d = tape
        .grad_graph(x.logsumexp(&[1], false).unwrap().sum_all(), &[x])
        .unwrap()[0];
    assert_close("recorded", &d.to_vec(), &g, 1e-15);
    let dd = tape.grad_graph(d.sin().sum_all(), &[x]).unwrap()[0];
    assert!(dd.to_vec().iter().all(|v| v.is_finite()), "{dd}");
    // An empty group is -inf, as PyTorch.
    let tape = Tape::<f64>::new();
    let e = tape.var(Array::zeros(&[2, 0]));
    assert_eq!(e.logsumexp(&[1], false).unwrap().to_vec(), vec![-INF; 2]);
}

#[test]
fn max_and_min_refuse_only_an_empty_reduced_axis() {
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::zeros(&[2, 0, 3]));
    assert_eq!(x.max(&[2], false).unwrap().shape(), vec![2, 0]);
    assert_eq!(x.min(&[0], true).unwrap().shape(), vec![1, 0, 3]);
    let err = x.max(&[1], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max: expected reduction dim 1 to have non-zero size, but it has size 0 in shape [2, 0, 3]"
    );
    assert!(x.min(&[0, 1], false).is_err());
    assert!(x.max_all().is_err());
    assert!(x.argmax(1, false).is_err());
    assert_eq!(x.argmax(2, false).unwrap().shape(), &[2, 0]);
    // The gradient of the empty result is empty.
    x.max(&[2], false).unwrap().sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().shape(), &[2, 0, 3]);
    // Sums and means of empty axes are 0 and NaN, as PyTorch's.
    assert_eq!(x.sum(&[1], false).unwrap().to_vec(), vec![0.0; 6]);
    assert!(x.mean(&[1], false).unwrap().to_vec()[0].is_nan());
}

#[test]
fn argmax_and_argmin_take_the_first_extreme_and_nan() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(Array::from_slice(&[3.0, 1.0, 3.0]));
    assert_eq!(x.argmax(0, false).unwrap().to_vec(), vec![0]);
    let x = tape.constant(Array::from_slice(&[3.0, 1.0, 1.0]));
    assert_eq!(x.argmin(-1, false).unwrap().to_vec(), vec![1]);
    let x = tape.constant(Array::from_slice(&[3.0, f64::NAN, 5.0, f64::NAN]));
    assert_eq!(x.argmax(0, false).unwrap().to_vec(), vec![1]);
    assert_eq!(x.argmin(0, false).unwrap().to_vec(), vec![1]);
    let m = tape.constant(Array::from_vec(vec![1.0, 9.0, 4.0, 7.0, 2.0, 8.0], &[2, 3]).unwrap());
    assert_eq!(m.argmax(0, false).unwrap().to_vec(), vec![1, 0, 1]);
    assert_eq!(m.argmax(1, true).unwrap().shape(), &[2, 1]);
    assert_eq!(m.argmin(1, false).unwrap().to_vec(), vec![0, 1]);
    assert!(m.argmax(2, false).is_err());
}

#[test]
fn axis_zero_of_a_zero_dimensional_tensor_is_accepted() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::scalar(2.0));
    for axis in [0, -1] {
        assert_eq!(x.sum(&[axis], true).unwrap().item(), 2.0);
        assert_eq!(x.max(&[axis], false).unwrap().item(), 2.0);
        assert_eq!(x.mean(&[axis], false).unwrap().item(), 2.0);
        assert_eq!(x.logsumexp(&[axis], false).unwrap().item(), 2.0);
        assert_eq!(x.prod(&[axis], false).unwrap().item(), 2.0);
        assert_eq!(x.softmax(axis).unwrap().item(), 1.0);
        assert_eq!(x.log_softmax(axis).unwrap().item(), 0.0);
        assert_eq!(x.cumsum(axis).unwrap().item(), 2.0);
        assert_eq!(x.argmax(axis, false).unwrap().to_vec(), vec![0]);
        assert_eq!(x.squeeze(axis).unwrap().shape(), Vec::<usize>::new());
    }
    assert!(x.var(&[0], 1, false).unwrap().item().is_nan());
    assert!(x.sum(&[1], false).is_err());
    assert!(x.softmax(-2).is_err());
    let y = x.softmax(0).unwrap().sum_all();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0]);
}

#[test]
fn squeeze_leaves_a_dimension_that_is_not_one() {
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::zeros(&[2, 1, 3]));
    assert_eq!(x.squeeze(1).unwrap().shape(), vec![2, 3]);
    assert_eq!(x.squeeze(0).unwrap().shape(), vec![2, 1, 3]);
    assert_eq!(x.squeeze(-1).unwrap().shape(), vec![2, 1, 3]);
    assert!(x.squeeze(3).is_err());
}

#[test]
fn comparisons_broadcast_into_masks() {
    let tape = Tape::<f64>::new();
    let a = tape.constant(Array::from_vec(vec![1.0, 2.0, 3.0, f64::NAN], &[2, 2]).unwrap());
    let b = tape.constant(Array::from_slice(&[2.0, 3.0]));
    let all = |m: Array<bool>| m.to_vec();
    assert_eq!(all(a.gt(b).unwrap()), [false, false, true, false]);
    assert_eq!(all(a.lt(b).unwrap()), [true, true, false, false]);
    assert_eq!(all(a.ge(b).unwrap()), [false, false, true, false]);
    assert_eq!(all(a.le(b).unwrap()), [true, true, false, false]);
    assert_eq!(all(a.eq(b).unwrap()), [false, false, false, false]);
    assert_eq!(all(a.ne(b).unwrap()), [true, true, true, true]);
    assert_eq!(all(a.eq_scalar(2.0)), [false, true, false, false]);
    assert_eq!(all(a.ne_scalar(2.0)), [true, false, true, true]);
    assert_eq!(all(a.gt_scalar(1.5)), [false, true, true, false]);
    assert_eq!(all(a.lt_scalar(1.5)), [true, false, false, false]);
    assert_eq!(all(a.ge_scalar(2.0)), [false, true, true, false]);
    assert_eq!(all(a.le_scalar(2.0)), [true, true, false, false]);
    assert_eq!(a.gt(b).unwrap().shape(), &[2, 2]);
    let c = tape.constant(Array::zeros(&[3]));
    let err = a.gt(c).unwrap_err();
    assert_eq!(err.op, "gt");
    // A constant is rounded to the element type before comparing, as PyTorch does.
    let t = Tape::<f32>::new();
    let x = t.constant(Array::from_slice(&[0.1f32]));
    assert_eq!(x.eq_scalar(0.1).to_vec(), vec![true]);
}

#[test]
fn masked_fill_and_where_cond_send_no_gradient_to_what_they_replace() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(&[-1.0, 0.0, 4.0]));
    // The square root is NaN at -1, and its gradient infinite at 0: neither gets through.
    let safe = x.masked_fill(&x.le_scalar(0.0), 1.0).unwrap().sqrt();
    let y = Tensor::where_cond(&x.gt_scalar(0.0), safe, x * 0.0).unwrap();
    assert_eq!(y.to_vec(), vec![-0.0, 0.0, 2.0]);
    y.sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0, 0.25]);
    // The mask broadcasts with the tensor, as in PyTorch.
    let row = tape.var(Array::from_slice(&[1.0, 2.0]));
    let mask = Array::from_vec(vec![true, false, false, true], &[2, 2]).unwrap();
    let filled = row.masked_fill(&mask, -1.0).unwrap();
    assert_eq!(filled.to_vec(), vec![-1.0, 2.0, 1.0, -1.0]);
    let wrong = Array::from_vec(vec![true; 3], &[3]).unwrap();
    assert_eq!(row.masked_fill(&wrong, 0.0).unwrap_err().op, "masked_fill");
}

#[test]
#[allow(deprecated)]
fn where_is_still_there_under_its_old_name() {
    let tape = Tape::<f32>::new();
    let (a, b) = (tape.scalar(1.0), tape.scalar(2.0));
    let cond = Array::from_vec(vec![true, false], &[2]).unwrap();
    assert_eq!(
        Tensor::where_(&cond, a, b).unwrap().to_vec(),
        Tensor::where_cond(&cond, a, b).unwrap().to_vec()
    );
}

#[test]
fn binary_and_unary_are_reachable_from_tensor() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(&[1.0, -2.0]));
    let y = x.binary(Binary::Max, x.unary(Unary::Softplus)).unwrap();
    assert_eq!(y.to_vec(), x.maximum(x.softplus()).unwrap().to_vec());
}

#[test]
fn dividing_by_a_constant_rounds_as_pytorch() {
    let data = [0.1, 1.0, 7.0, 1e-3, 123.456, 5.0];
    let torch64_3 = [
        0.03333333333333333,
        0.3333333333333333,
        2.3333333333333335,
        0.0003333333333333333,
        41.152,
        1.6666666666666667,
    ];
    let torch64_10 = [0.01, 0.1, 0.7, 0.0001, 12.345600000000001, 0.5];
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(&data));
    assert_eq!((x / 3.0).to_vec(), torch64_3);
    assert_eq!((x / 10.0).to_vec(), torch64_10);
    // A product with 1/10 rounds differently: 7 · 0.1 is 0.7000000000000001.
    assert_ne!(x.mul_scalar(0.1).to_vec(), torch64_10);
    let torch32_3: [f64; 6] = [
        0.03333333507180214,
        0.3333333432674408,
        2.3333332538604736,
        0.0003333333588670939,
        41.152000427246094,
        1.6666666269302368,
    ];
    let torch32_10: [f64; 6] = [
        0.009999999776482582,
        0.10000000149011612,
        0.699999988079071,
        0.00010000000474974513,
        12.345600128173828,
        0.5,
    ];
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::from_vec(data.iter().map(|&v| v as f32).collect(), &[6]).unwrap());
    let as32 = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    assert_eq!((x / 3.0).to_vec(), as32(&torch32_3));
    assert_eq!((x / 10.0).to_vec(), as32(&torch32_10));
    // The gradient divides too.
    (x / 10.0).sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.1f32; 6]);
}

#[test]
fn mean_divides_by_the_count() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(&[
        3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ]));
    assert_eq!(x.mean_all().item(), 0.3); // 3 · 0.1 would be 0.30000000000000004
    let ints = tape.var(Array::arange(1.0, 8.0, 1.0));
    assert_eq!(ints.mean_all().item(), 4.0);
    assert_eq!(ints.mean(&[], false).unwrap().to_vec(), ints.to_vec());
}

#[test]
fn linear_takes_leading_dimensions_and_an_optional_bias() {
    let cases = vec![
        Case {
            name: "linear [2, 3, 4] with bias",
            inputs: vec![randn(&[2, 3, 4], 40), randn(&[5, 4], 41), randn(&[5], 42)],
            f: |t| t[0].linear(t[1], t[2]),
        },
        Case {
            name: "linear [4] without bias",
            inputs: vec![randn(&[4], 43), randn(&[5, 4], 44)],
            f: |t| t[0].linear(t[1], None),
        },
        Case {
            name: "linear [3, 4] without bias",
            inputs: vec![randn(&[3, 4], 45), randn(&[2, 4], 46)],
            f: |t| Ok(t[0].linear(t[1], None)?.tanh()),
        },
    ];
    for case in &cases {
        check_every_mode(case);
    }
    let tape = Tape::<f64>::new();
    let x = tape.var(randn(&[2, 3, 4], 47));
    let w = tape.var(randn(&[5, 4], 48));
    let b = tape.var(randn(&[5], 49));
    let fused = x.linear(w, b).unwrap();
    let plain = x.matmul(w.transpose(0, 1).unwrap()).unwrap() + b;
    assert_eq!(fused.shape(), vec![2, 3, 5]);
    assert!(close(&fused.to_vec(), &plain.to_vec(), 1e-12));
    let none = x.linear(w, None).unwrap();
    assert!(close(&(none + b).to_vec(), &fused.to_vec(), 1e-12));
    assert_eq!(
        x.linear(w.transpose(0, 1).unwrap(), None)
            .unwrap_err()
            .to_string(),
        "linear: cannot apply weight [4, 5] and no bias to input [2, 3, 4]: expected [..., in], \
         [out, in] and [out]"
    );
    assert!(tape.scalar(1.0).linear(w, b).is_err());
}

#[test]
fn mse_loss_refuses_shapes_that_differ() {
    let tape = Tape::<f32>::new();
    let p = tape.var(Array::zeros(&[3]));
    let t = tape.constant(Array::zeros(&[3, 1]));
    let err = mse_loss(p, t).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mse_loss: the input has shape [3] but the target has shape [3, 1]: they must be equal \
         (no broadcasting)"
    );
    check_every_mode(&Case {
        name: "mse_loss",
        inputs: vec![randn(&[2, 3], 50), randn(&[2, 3], 51)],
        f: |t| mse_loss(t[0], t[1]),
    });
}

const LOGITS: [f64; 12] = [
    1.0, 2.0, 0.5, 0.0, -1.0, 3.0, 2.0, 2.0, 2.0, -0.5, 1.5, 0.25,
];
const TARGETS: [usize; 4] = [1, 2, 0, 1];
const PROBS: [f64; 12] = [
    0.2,
    0.5,
    0.3,
    0.0,
    0.0,
    1.0,
    1.0 / 3.0,
    1.0 / 3.0,
    1.0 / 3.0,
    0.1,
    0.8,
    0.1,
];

fn weights() -> Option<Array<f64>> {
    Some(Array::from_slice(&[0.5, 2.0, 1.5]))
}

/// The loss and the gradient of `Σ kᵢ·lossᵢ` (k = 1, 2, ...) as the script computes them, for
/// class targets, or (with `soft`) probability targets and their gradient too.
fn ce(options: &CrossEntropyOptions<f64>, soft: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_vec(LOGITS.to_vec(), &[4, 3]).unwrap());
    let q = tape.var(Array::from_vec(PROBS.to_vec(), &[4, 3]).unwrap());
    let loss = if soft {
        cross_entropy_with(x, q, options).unwrap()
    } else {
        cross_entropy_with(x, &TARGETS, options).unwrap()
    };
    let k = loss.numel();
    let ks = Array::from_vec((1..=k).map(|i| i as f64).collect(), &loss.shape()).unwrap();
    (loss * tape.constant(ks)).sum_all().backward().unwrap();
    let qg = q.grad().map_or_else(Vec::new, |g| g.to_vec());
    (loss.to_vec(), x.grad().unwrap().to_vec(), qg)
}

#[test]
fn cross_entropy_options_agree_with_pytorch() {
    let opts =
        |weight: bool, ignore: Option<usize>, eps: f64, reduction: Reduction| CrossEntropyOptions {
            weight: if weight { weights() } else { None },
            ignore_index: ignore,
            label_smoothing: eps,
            reduction,
        };
    use Reduction::{Mean, None as Each, Sum};
    // The options, PyTorch's loss, and its gradient.
    type Row = (&'static str, CrossEntropyOptions<f64>, Vec<f64>, Vec<f64>);
    let table: Vec<Row> = vec![
        (
            "plain",
            opts(false, None, 0.0, Mean),
            vec![0.4952042100840714],
            vec![
                0.05780597440553726,
                -0.09286707019705939,
                0.03506109579152212,
                0.011653155644493473,
                0.004286956386380097,
                -0.01594011203087356,
                -0.16666666666666669,
                0.08333333333333333,
                0.08333333333333333,
                0.023795799037293747,
                -0.07417150599455652,
                0.050375706957262734,
            ],
        ),
        (
            "weight",
            opts(true, None, 0.0, Mean),
            vec![0.38012888263194866],
            vec![
                0.07707463254071634,
                -0.12382276026274586,
                0.04674812772202949,
                0.011653155644493473,
                0.004286956386380097,
                -0.01594011203087356,
                -0.05555555555555555,
                0.027777777777777776,
                0.027777777777777776,
                0.031727732049724996,
                -0.09889534132607536,
                0.0671676092763503,
            ],
        ),
        (
            "ignore",
            opts(false, Some(1), 0.0, Mean),
            vec![0.5822480962127694],
            vec![
                0.0,
                0.0,
                0.0,
                0.023306311288986945,
                0.008573912772760194,
                -0.03188022406174712,
                -0.33333333333333337,
                0.16666666666666666,
                0.16666666666666666,
                0.0,
                0.0,
                0.0,
            ],
        ),
        (
            "weight ignore",
            opts(true, Some(2), 0.0, Mean),
            vec![0.4848772089234552],
            vec![
                0.10276617672095512,
                -0.16509701368366114,
                0.062330836962705985,
                0.0,
                0.0,
                0.0,
                -0.07407407407407407,
                0.037037037037037035,
                0.037037037037037035,
                0.04230364273296666,
                -0.1318604551014338,
                0.08955681236846708,
            ],
        ),
        (
            "smoothing",
            opts(false, None, 0.1, Mean),
            vec![0.6014542100840714],
            vec![
                0.04947264107220393,
                -0.07620040353039273,
                0.026727762458188788,
                0.0033198223111601394,
                -0.004046376946953236,
                0.000726554635793103,
                -0.15000000000000002,
                0.075,
                0.075,
                0.015462465703960414,
                -0.057504839327889856,
                0.0420423736239294,
            ],
        ),
        (
            "weight ignore smoothing",
            opts(true, Some(2), 0.2, Mean),
            vec![0.5847126078249186],
            vec![
                0.08850769086548405,
                -0.12446091647512078,
                0.0359532256096367,
                0.0,
                0.0,
                0.0,
                -0.046913580246913576,
                0.01975308641975309,
                0.027160493827160497,
                0.032075992476694806,
                -0.09344012846504193,
                0.06136413598834705,
            ],
        ),
        (
            "sum",
            opts(true, None, 0.0, Sum),
            vec![2.280773295791692],
            vec![
                0.4624477952442981,
                -0.7429365615764751,
                0.28048876633217695,
                0.06991893386696084,
                0.025721738318280583,
                -0.09564067218524136,
                -0.33333333333333337,
                0.16666666666666666,
                0.16666666666666666,
                0.19036639229834998,
                -0.5933720479564522,
                0.40300565565810187,
            ],
        ),
        (
            "none",
            opts(true, Some(0), 0.3, Each),
            vec![
                1.1108638113943008,
                1.045531660448272,
                0.0,
                0.9210133548450432,
            ],
            vec![
                0.36620301571986824,
                -0.4686429054188276,
                0.10243988969895924,
                0.035176605476124265,
                -0.3502713059179908,
                0.3150947004418667,
                0.0,
                0.0,
                0.0,
                0.4853190122740599,
                -1.3361393726432278,
                0.8508203603691666,
            ],
        ),
    ];
    for (name, options, value, grad) in &table {
        let (v, g, _) = ce(options, false);
        assert_close(&format!("cross_entropy {name}"), &v, value, 1e-14);
        assert_close(&format!("cross_entropy' {name}"), &g, grad, 1e-14);
    }
    // The defaults are plain cross_entropy.
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_vec(LOGITS.to_vec(), &[4, 3]).unwrap());
    assert_eq!(
        cross_entropy(x, &TARGETS).unwrap().item(),
        ce(&CrossEntropyOptions::default(), false).0[0]
    );
}

#[test]
fn cross_entropy_with_probabilities_agrees_with_pytorch() {
    // The options, PyTorch's loss, its gradient, and the gradient of the probabilities.
    type Row = (
        &'static str,
        CrossEntropyOptions<f64>,
        Vec<f64>,
        Vec<f64>,
        Vec<f64>,
    );
    let table: Vec<Row> = vec![
        (
            "probs",
            CrossEntropyOptions::default(),
            vec![0.7389542100840714],
            vec![
                0.007805974405537257,
                0.03213292980294061,
                -0.03993890420847788,
                0.011653155644493473,
                0.004286956386380097,
                -0.01594011203087356,
                0.0,
                0.0,
                0.0,
                -0.001204200962706254,
                -0.02417150599455653,
                0.025375706957262732,
            ],
            vec![
                0.3660921960269862,
                0.11609219602698623,
                0.4910921960269862,
                0.7664709759393573,
                1.0164709759393573,
                0.01647097593935728,
                0.27465307216702745,
                0.27465307216702745,
                0.27465307216702745,
                0.5879879659507005,
                0.08798796595070045,
                0.40048796595070046,
            ],
        ),
        (
            "probs weight smoothing",
            CrossEntropyOptions {
                weight: weights(),
                label_smoothing: 0.1,
                ..Default::default()
            },
            vec![1.087440017094222],
            vec![
                0.061680130883129444,
                -0.0015151722845057755,
                -0.0601649585986237,
                0.013118847539331983,
                -0.010307681360202856,
                -0.00281116617912913,
                0.06944444444444443,
                -0.05555555555555556,
                -0.013888888888888902,
                0.026305300978721708,
                -0.06838070717712241,
                0.04207540619840067,
            ],
            vec![
                0.1647414882121438,
                0.20896595284857522,
                0.6629744646364314,
                0.3449119391727108,
                1.8296477566908431,
                0.022235817518132327,
                0.12359388247516236,
                0.4943755299006494,
                0.370781647425487,
                0.2645945846778152,
                0.1583783387112608,
                0.5406587540334457,
            ],
        ),
        (
            "probs none",
            CrossEntropyOptions {
                reduction: Reduction::None,
                ..Default::default()
            },
            vec![
                1.114368784107945,
                0.06588390375742911,
                1.0986122886681096,
                0.6769518638028018,
            ],
            vec![
                0.031223897622149027,
                0.12853171921176243,
                -0.1597556168339115,
                0.09322524515594778,
                0.034295651091040776,
                -0.12752089624698848,
                -5.551115123125783e-17,
                -5.551115123125783e-17,
                -5.551115123125783e-17,
                -0.019267215403300064,
                -0.3867440959129045,
                0.4060113113162037,
            ],
            vec![
                1.464368784107945,
                0.4643687841079449,
                1.964368784107945,
                6.1317678075148585,
                8.131767807514859,
                0.13176780751485823,
                3.295836866004329,
                3.295836866004329,
                3.295836866004329,
                9.407807455211207,
                1.4078074552112072,
                6.407807455211207,
            ],
        ),
    ];
    for (name, options, value, grad, target_grad) in &table {
        let (v, g, qg) = ce(options, true);
        assert_close(&format!("cross_entropy {name}"), &v, value, 1e-14);
        // Sums of exactly cancelling terms come out as ±6e-17 or 0: an absolute tolerance.
        assert!(
            g.iter().zip(grad).all(|(a, b)| (a - b).abs() < 1e-14),
            "cross_entropy' {name}: {g:?} vs {grad:?}"
        );
        assert_close(
            &format!("cross_entropy' {name} (target)"),
            &qg,
            target_grad,
            1e-14,
        );
    }
}

#[test]
fn cross_entropy_takes_the_classes_along_dimension_one() {
    let tape = Tape::<f64>::new();
    let data = vec![1.0, 0.0, 2.0, -1.0, 0.5, 3.0, 0.0, 1.0, -2.0, 0.5, 1.0, 1.0];
    let x = tape.var(Array::from_vec(data, &[2, 3, 2]).unwrap());
    let options = CrossEntropyOptions {
        weight: weights(),
        ..Default::default()
    };
    let loss = cross_entropy_with(x, &[2, 1, 0, 0], &options).unwrap();
    loss.backward().unwrap();
    assert_close(
        "cross_entropy [2, 3, 2]",
        &[loss.item()],
        &[2.7181860302298637],
        1e-15,
    );
    assert_close(
        "cross_entropy' [2, 3, 2]",
        &x.grad().unwrap().to_vec(),
        &[
            0.07707463254071634,
            0.020716721145766174,
            0.20951057307058746,
            -0.4368231886464354,
            -0.28658520561130385,
            0.4161064675006692,
            -0.08227817107306454,
            -0.0684831409788277,
            0.003902114106593302,
            0.025855170846544293,
            0.07837605696647122,
            0.042627970132283415,
        ],
        1e-14,
    );
    let none = CrossEntropyOptions {
        reduction: Reduction::None,
        ..Default::default()
    };
    let each = cross_entropy_with(x, &[2, 1, 0, 0], &none).unwrap();
    assert_eq!(each.shape(), vec![2, 2]);
    // One example of [classes] gives a scalar.
    let v = tape.var(Array::from_slice(&[0.0, 0.0]));
    let one = cross_entropy_with(v, &[1], &none).unwrap();
    assert_eq!((one.shape(), one.item()), (vec![], 2f64.ln()));
}

#[test]
fn cross_entropy_in_every_mode() {
    let cases = vec![
        Case {
            name: "cross_entropy weight ignore smoothing",
            inputs: vec![randn(&[5, 4], 60)],
            f: |t| {
                let options = CrossEntropyOptions {
                    weight: Some(Array::from_slice(&[0.5, 2.0, 1.0, 1.5])),
                    ignore_index: Some(3),
                    label_smoothing: 0.15,
                    reduction: Reduction::Mean,
                };
                cross_entropy_with(t[0], &[0, 3, 2, 1, 1], &options)
            },
        },
        Case {
            name: "cross_entropy probabilities, none",
            inputs: vec![randn(&[3, 4], 61), positive(&[3, 4], 62, 0.1)],
            f: |t| {
                let options = CrossEntropyOptions {
                    label_smoothing: 0.05,
                    reduction: Reduction::None,
                    ..Default::default()
                };
                cross_entropy_with(t[0], t[1], &options)
            },
        },
        Case {
            name: "cross_entropy [N, C, d]",
            inputs: vec![randn(&[2, 3, 2], 63)],
            f: |t| {
                let options = CrossEntropyOptions {
                    reduction: Reduction::Sum,
                    ..Default::default()
                };
                cross_entropy_with(t[0], &[0, 2, 1, 1], &options)
            },
        },
    ];
    for case in &cases {
        check_every_mode(case);
    }
}

#[test]
fn cross_entropy_refuses_what_pytorch_refuses() {
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::zeros(&[2, 3]));
    let message = |o: &CrossEntropyOptions<f32>, t: &[usize]| {
        cross_entropy_with(x, t, o).unwrap_err().to_string()
    };
    let plain = CrossEntropyOptions::default();
    assert_eq!(
        message(&plain, &[0, 3]),
        "cross_entropy: target 3 is out of range for 3 classes (logits [2, 3])"
    );
    assert_eq!(
        message(&plain, &[0]),
        "cross_entropy: logits of shape [2, 3] need one target per element of [2] (2), not 1"
    );
    let ignore = CrossEntropyOptions {
        ignore_index: Some(7),
        ..Default::default()
    };
    // An ignored target may be any index, as PyTorch's -100.
    assert!(cross_entropy_with(x, &[7, 1], &ignore).is_ok());
    let all_ignored = cross_entropy_with(x, &[7, 7], &ignore).unwrap();
    assert!(all_ignored.item().is_nan(), "0/0, as PyTorch");
    let bad_weight = CrossEntropyOptions {
        weight: Some(Array::ones(&[2])),
        ..Default::default()
    };
    assert!(message(&bad_weight, &[0, 1]).contains("one weight per class"));
    let bad_eps = CrossEntropyOptions {
        label_smoothing: 1.5,
        ..Default::default()
    };
    assert!(message(&bad_eps, &[0, 1]).contains("label_smoothing"));
    assert!(cross_entropy(tape.scalar(1.0), &[0]).is_err());
    let q = tape.constant(Array::zeros(&[3, 2]));
    assert!(cross_entropy_with(x, q, &plain).is_err());
}

#[test]
fn the_tape_survives_a_panic() {
    let tape = Tape::<f64>::new();
    let a = tape.var(Array::ones(&[2]));
    let b = tape.var(Array::ones(&[3]));
    // The operators panic on shapes that do not broadcast; the tape can be used afterwards.
    let caught = std::panic::catch_unwind(|| a + b);
    assert!(caught.is_err());
    let caught = std::panic::catch_unwind(|| tape.no_grad(|| a + b));
    assert!(caught.is_err());
    assert!(tape.is_grad_enabled(), "no_grad restored its flag");
    let caught = std::panic::catch_unwind(|| tape.detect_anomaly(|| a + b));
    assert!(caught.is_err());
    assert!(!tape.is_anomaly_enabled());
    let y = (a * a).sum_all();
    y.backward().unwrap();
    assert_eq!(a.grad().unwrap().to_vec(), vec![2.0, 2.0]);
}

#[test]
fn the_expression_language_has_the_new_functions() {
    let at = |text: &str, x: f64| {
        let e = Expr::parse(text).unwrap();
        (e.eval(&[x]), e.derivative("x").eval(&[x]))
    };
    assert_eq!(at("softplus(x)", 0.0), (2f64.ln(), 0.5));
    assert_eq!(at("log_sigmoid(x)", 0.0), (-(2f64.ln()), 0.5));
    assert_eq!(at("leaky_relu(x)", -2.0), (-0.02, 0.01));
    assert_eq!(at("elu(x)", 1.0).1, 1.0);
    assert_eq!(at("square(x)", 3.0), (9.0, 6.0));
    assert_eq!(at("log1p(x)", 0.0), (0.0, 1.0));
    assert_eq!(at("expm1(x)", 0.0), (0.0, 1.0));
    assert_eq!(at("silu(x)", 0.0), (0.0, 0.5));
    assert_eq!(at("gelu_tanh(x)", 0.0), (0.0, 0.5));
}

#[test]
fn the_new_activation_layers_compute_their_functions() {
    use chainrule::nn::{Context, LeakyReLU, Module, SiLU, Softplus, ELU};
    let tape = Tape::<f32>::new();
    let x = tape.constant(Array::from_slice(&[-1.0, 0.0, 2.0]));
    let mut ctx = Context::inference(&tape);
    let layers: [(Box<dyn Module>, &str, Tensor<'_, f32>); 4] = [
        (Box::new(SiLU), "SiLU()", x.silu()),
        (
            Box::new(Softplus),
            "Softplus(beta=1.0, threshold=20.0)",
            x.softplus(),
        ),
        (
            Box::new(LeakyReLU {
                negative_slope: 0.2,
            }),
            "LeakyReLU(negative_slope=0.2)",
            x.leaky_relu(0.2),
        ),
        (Box::new(ELU::default()), "ELU(alpha=1.0)", x.elu(1.0)),
    ];
    for (layer, name, want) in layers {
        assert_eq!(layer.describe(), name);
        assert_eq!(layer.forward(x, &mut ctx).unwrap().to_vec(), want.to_vec());
    }
}
