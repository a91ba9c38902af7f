//! Batch and layer normalisation: the fused rules checked in f64 (first derivatives against
//! central differences, the fused backward against the recorded one from the definition, second
//! and third derivatives, forward mode), and values, gradients and running statistics against
//! PyTorch's.

mod common;
use common::*;

use chainrule::tensor::{Array, BatchNormOptions, Tape, Tensor};

fn train() -> BatchNormOptions {
    BatchNormOptions::default()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "batch_norm [N, C, H, W] with weight and bias",
            inputs: vec![randn(&[3, 2, 2, 3], 1), randn(&[2], 2), randn(&[2], 3)],
            f: |x| x[0].batch_norm(None, x[1], x[2], train()),
        },
        Case {
            name: "batch_norm [N, C], no affine, then a nonlinearity",
            inputs: vec![randn(&[4, 3], 4)],
            f: |x| Ok(x[0].batch_norm(None, None, None, train())?.tanh()),
        },
        Case {
            name: "batch_norm [N, C, L], weight only",
            inputs: vec![randn(&[2, 2, 5], 5), randn(&[2], 6)],
            f: |x| x[0].batch_norm(None, x[1], None, train()),
        },
        Case {
            name: "batch_norm in evaluation, with running statistics",
            inputs: vec![randn(&[2, 3, 2, 2], 7), randn(&[3], 8), randn(&[3], 9)],
            f: |x| {
                let (mut m, mut v) = (Array::from_slice(&[0.1, -0.2, 0.3]), Array::full(&[3], 1.5));
                let o = BatchNormOptions {
                    training: false,
                    ..train()
                };
                x[0].batch_norm(Some((&mut m, &mut v)), x[1], x[2], o)
            },
        },
        Case {
            name: "layer_norm over the last axis with weight and bias",
            inputs: vec![randn(&[3, 5], 10), randn(&[5], 11), randn(&[5], 12)],
            f: |x| x[0].layer_norm(&[5], x[1], x[2], 1e-5),
        },
        Case {
            name: "layer_norm over the last two axes, no affine",
            inputs: vec![randn(&[2, 2, 3], 13)],
            f: |x| Ok(x[0].layer_norm(&[2, 3], None, None, 1e-5)?.sin()),
        },
    ]
}

#[test]
fn every_normalisation_passes_every_check() {
    cases().iter().for_each(check_every_mode);
}

fn approx(got: &[f64], want: &[f64]) {
    assert!(close(got, want, 1e-12), "got {got:?}\nwant {want:?}");
}

fn weights<'t>(tape: &'t Tape<f64>) -> Tensor<'t, f64> {
    tape.constant(
        Array::arange(0.0, 16.0, 1.0)
            .reshape(&[2, 2, 2, 2])
            .unwrap(),
    )
}

/// Values printed by `tests/reference/torch_conv.py` (`torch.nn.BatchNorm2d(2)`, float64).
#[test]
fn batch_norm_matches_pytorch_in_training_and_evaluation() {
    let tape = Tape::<f64>::new();
    let v = vec![
        1.0, 2.0, 3.0, 5.0, -1.0, 0.5, 2.0, 0.0, 0.0, 4.0, 1.0, 1.0, 3.0, -2.0, 1.5, 1.0,
    ];
    let x = tape.var(Array::from_vec(v, &[2, 2, 2, 2]).unwrap());
    let w = tape.var(Array::from_slice(&[1.5, -0.5]));
    let b = tape.var(Array::from_slice(&[0.1, 0.2]));
    let (mut mean, mut var) = (Array::zeros(&[2]), Array::ones(&[2]));
    let y = x
        .batch_norm(Some((&mut mean, &mut var)), w, b, train())
        .unwrap();
    approx(
        &y.to_vec(),
        &[
            -0.944659362180512,
            -0.016073262464501248,
            0.9125128372515096,
            2.7696850366835313,
            0.7361097972070445,
            0.24123921516977265,
            -0.25363136686749915,
            0.40619607584886325,
            -1.8732454618965229,
            1.8410989369675204,
            -0.944659362180512,
            -0.944659362180512,
            -0.5835450882256803,
            1.0660235185652256,
            -0.08867450618840855,
            0.07628235449068205,
        ],
    );
    (y * weights(&tape)).sum_all().backward().unwrap();
    approx(
        &x.grad().unwrap().to_vec(),
        &[
            -5.782809049879823,
            -4.2537025044378005,
            -2.724595958995778,
            -0.5949689678277443,
            1.55194222022082,
            1.4644130347849558,
            1.3768838493490914,
            0.7237907467611543,
            1.045359302122253,
            4.376027184742309,
            3.503051947280286,
            4.431638046996296,
            -0.441008788185118,
            -1.5788709626176887,
            -1.3432207668237972,
            -1.7539293334894175,
        ],
    );
    approx(
        &w.grad().unwrap().to_vec(),
        &[-8.357274897444098, 5.938446984447261],
    );
    approx(&b.grad().unwrap().to_vec(), &[44.0, 76.0]);
    approx(&mean.to_vec(), &[0.21250000000000002, 0.0625]);
    approx(&var.to_vec(), &[1.1982142857142857, 1.1625]);
    let eval = BatchNormOptions {
        training: false,
        ..train()
    };
    let y = x
        .batch_norm(Some((&mut mean, &mut var)), w, b, eval)
        .unwrap();
    approx(
        &y.to_vec(),
        &[
            1.179127506564387,
            2.5494481498207513,
            3.9197687930771155,
            6.660410079589845,
            0.6927204575219619,
            -0.0028848942737489947,
            -0.69849024606946,
            0.2289835563248213,
            -0.19119313669197746,
            5.29008943633348,
            1.179127506564387,
            1.179127506564387,
            -1.1622271472666006,
            1.1564573587191025,
            -0.4666217954708896,
            -0.2347533448723193,
        ],
    );
}

/// Values printed by `tests/reference/torch_conv.py`.
#[test]
fn layer_norm_matches_pytorch() {
    let tape = Tape::<f64>::new();
    let v = vec![1.0, 2.0, 4.0, 0.0, -1.0, 3.0, 2.0, 2.0, 2.5, 1.0, 0.0, -2.0];
    let x = tape.var(Array::from_vec(v, &[2, 2, 3]).unwrap());
    let w = tape.var(Array::from_vec(vec![1.0, 2.0, -1.0, 0.5, 1.0, 1.5], &[2, 3]).unwrap());
    let b = tape.var(Array::from_vec(vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5], &[2, 3]).unwrap());
    let y = x.layer_norm(&[2, 3], w, b, 1e-5).unwrap();
    approx(
        &y.to_vec(),
        &[
            -0.29276951999438444,
            0.6855390399887689,
            -1.2638475999719223,
            -0.13915427999157665,
            -1.0638475999719224,
            1.81746283997473,
            0.7039879829713767,
            1.5079759659427534,
            -0.8289055135735506,
            0.3270764608835145,
            -0.1956821394373186,
            -2.3430283927690208,
        ],
    );
    let u = tape.constant(Array::arange(0.0, 12.0, 1.0).reshape(&[2, 2, 3]).unwrap());
    (y * u).sum_all().backward().unwrap();
    approx(
        &x.grad().unwrap().to_vec(),
        &[
            -1.352316067466127,
            -0.013941692507666748,
            -2.021505262500897,
            -0.6413038024638964,
            0.6552475025271032,
            3.373819322411485,
            1.6160020913060782,
            6.814682580940858,
            -6.385930459688104,
            -1.5502671122338123,
            -0.16769088734326942,
            -0.32679621298174766,
        ],
    );
    approx(
        &w.grad().unwrap().to_vec(),
        &[
            4.2239278978282595,
            5.220685400794021,
            11.158939308532249,
            -2.1475493840461986,
            -11.812211794260875,
            -16.457332080390387,
        ],
    );
}

#[test]
fn shapes_that_cannot_work_are_errors() {
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::zeros(&[1, 3]));
    assert_eq!(
        x.batch_norm(None, None, None, train())
            .unwrap_err()
            .to_string(),
        "batch_norm: expected more than 1 value per channel when training, got input of shape \
         [1, 3]"
    );
    let w = tape.var(Array::zeros(&[4]));
    let x = tape.var(Array::zeros(&[2, 3]));
    assert_eq!(
        x.batch_norm(None, w, None, train())
            .unwrap_err()
            .to_string(),
        "batch_norm: the weight has shape [4] but should have [3]"
    );
    let eval = BatchNormOptions {
        training: false,
        ..train()
    };
    assert!(x.batch_norm(None, None, None, eval).is_err());
    assert_eq!(
        x.layer_norm(&[2], None, None, 1e-5)
            .unwrap_err()
            .to_string(),
        "layer_norm: the input [2, 3] does not end with the normalized shape [2]"
    );
}

#[test]
fn the_explanation_writes_each_normalisations_gradients_with_their_shapes() {
    use chainrule::show::tape::TapeTrace;
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::randn(&[4, 3], 1)).named("x");
    let g = tape.var(Array::ones(&[3])).named("g");
    let b = tape.var(Array::zeros(&[3])).named("b");
    let y = x.layer_norm(&[3], g, b, 1e-5).unwrap().named("y");
    let text = TapeTrace::new(&tape, y.sum_all().named("L")).to_string();
    for line in [
        "dL/dx = g/σ ⊙ (dL/dy − mean(dL/dy) − x̂ ⊙ mean(dL/dy ⊙ x̂)), per row   [4×3]",
        "dL/dg = Σ dL/dy ⊙ x̂   [3]",
        "dL/db = Σ dL/dy   [3]",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    // Without a weight the scale is 1, and a batch normalisation's statistics are per channel.
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::randn(&[4, 3], 2)).named("x");
    let y = x.batch_norm(None, None, None, train()).unwrap().named("y");
    let text = TapeTrace::new(&tape, y.sum_all().named("L")).to_string();
    let line = "dL/dx = 1/σ ⊙ (dL/dy − mean(dL/dy) − x̂ ⊙ mean(dL/dy ⊙ x̂)), per channel   [4×3]";
    assert!(text.contains(line), "{line} not in\n{text}");
    assert!(!text.contains("dL/dg"), "{text}");
}
