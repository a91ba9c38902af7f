//! Attention: the fused kernels checked in f64 (first derivatives against central differences,
//! the fused backward against the recorded one from the composed definition, second and third
//! derivatives, forward mode) and against PyTorch's values; softmax of fully masked rows.

mod common;
use common::*;

use chainrule::tensor::{Array, Tape, Tensor};

/// Random queries, keys and values of the given shapes, from the seeds `seed`, `seed + 1` and
/// `seed + 2`.
fn qkv(q: &[usize], k: &[usize], v: &[usize], seed: u64) -> Vec<Array<f64>> {
    vec![randn(q, seed), randn(k, seed + 1), randn(v, seed + 2)]
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "scaled_dot_product_attention, causal",
            inputs: qkv(&[2, 2, 3, 4], &[2, 2, 3, 4], &[2, 2, 3, 2], 1),
            f: |x| Tensor::scaled_dot_product_attention(x[0], x[1], x[2], true),
        },
        Case {
            name: "scaled_dot_product_attention, more keys than queries",
            inputs: qkv(&[1, 1, 2, 3], &[1, 1, 4, 3], &[1, 1, 4, 3], 4),
            f: |x| Tensor::scaled_dot_product_attention(x[0], x[1], x[2], false),
        },
        Case {
            name: "self-attention with q = k = v",
            inputs: vec![randn(&[1, 2, 3, 2], 7)],
            f: |x| Tensor::scaled_dot_product_attention(x[0], x[0], x[0], true),
        },
        Case {
            name: "causal_self_attention on a packed projection, 2 heads",
            inputs: vec![randn(&[2, 3, 12], 8)],
            f: |x| Ok(x[0].causal_self_attention(2)?.tanh()),
        },
    ]
}

#[test]
fn every_attention_passes_every_check() {
    cases().iter().for_each(check_every_mode);
}

fn input(shape: &[usize], f: impl Fn(f64) -> f64, step: f64) -> Array<f64> {
    let n: usize = shape.iter().product();
    Array::from_vec((0..n).map(|i| f(i as f64 * step)).collect(), shape).unwrap()
}

/// Values printed by `tests/reference/torch_conv.py` (`F.scaled_dot_product_attention` with
/// `is_causal=True`, float64).
#[test]
fn attention_matches_pytorch() {
    let tape = Tape::<f64>::new();
    let q = tape.var(input(&[1, 2, 3, 4], f64::sin, 0.1));
    let k = tape.var(input(&[1, 2, 3, 4], f64::cos, 0.2));
    let v = tape.var(input(&[1, 2, 3, 3], f64::sin, 0.3));
    let y = Tensor::scaled_dot_product_attention(q, k, v, true).unwrap();
    let want = [
        0.0,
        0.29552020666133955,
        0.5646424733950354,
        0.2896323132416538,
        0.5308707776292398,
        0.7246881365177429,
        0.3022252477912808,
        0.52255711545813,
        0.6962105123074669,
        0.42737988023383017,
        0.1411200080598672,
        -0.1577456941432482,
        0.007339514725016594,
        -0.259116248022894,
        -0.5024259280481991,
        -0.5148897905545924,
        -0.6498359762244523,
        -0.7267342495129658,
    ];
    assert!(close(&y.to_vec(), &want, 1e-13), "{:?}", y.to_vec());
    let u = tape.constant(
        Array::arange(0.0, 18.0, 1.0)
            .reshape(&[1, 2, 3, 3])
            .unwrap(),
    );
    (y * u).sum_all().backward().unwrap();
    let want_q = [
        0.0,
        0.0,
        0.0,
        0.0,
        -0.24950336898652037,
        -0.3617708363446377,
        -0.4596156420915857,
        -0.5391370225893728,
        -0.6166403947905467,
        -0.8202590856450956,
        -0.9911766352322032,
        -1.1225791002113479,
        0.0,
        0.0,
        0.0,
        0.0,
        1.0165772906235684,
        0.42825214975368237,
        -0.17714605289907492,
        -0.7754820014394428,
        -0.29412956697560877,
        -1.5189752194197064,
        -2.683264123269032,
        -3.7405797540532135,
    ];
    let want_k = [
        -1.3340192637048802,
        -1.5012839860238811,
        -1.6535483750130382,
        -1.7892910552294867,
        1.1481649022412208,
        1.2983377443274278,
        1.4355380248457132,
        1.5583948839455217,
        0.18585436146365925,
        0.20294624169645323,
        0.2180103501673246,
        0.2308961712839646,
        7.926986367263565,
        7.691795042815558,
        7.379749844869137,
        6.993968625893754,
        -4.09857447250788,
        -4.0574275526537225,
        -3.9757401579006784,
        -3.8543284816948606,
        -3.828411894755684,
        -3.6343674901618357,
        -3.404009686968459,
        -3.1396401441988937,
    ];
    let want_v = [
        5.696844400441224,
        7.961445261830043,
        10.226046123218865,
        2.8055836922657864,
        3.4580541796614686,
        4.110524667057151,
        0.49757190729299006,
        0.5805005585084885,
        0.6634292097239868,
        18.854217383241046,
        20.61459314089997,
        22.37496889855889,
        9.184417044305068,
        9.893283581815886,
        10.602150119326705,
        7.961365572453884,
        8.492123277284144,
        9.022880982114403,
    ];
    for (t, want) in [(q, &want_q[..]), (k, &want_k[..]), (v, &want_v[..])] {
        let got = t.grad().unwrap().to_vec();
        assert!(close(&got, want, 1e-12), "{got:?}");
    }
}

#[test]
fn the_packed_form_equals_the_split_one() {
    let tape = Tape::<f64>::new();
    let qkv = tape.var(Array::randn(&[2, 4, 18], 9));
    let packed = qkv.causal_self_attention(3).unwrap();
    let split = |a: usize| {
        qkv.slice(2, 6 * a, 6 * (a + 1))
            .unwrap()
            .reshape(&[2, 4, 3, 2])
            .unwrap()
            .transpose(1, 2)
            .unwrap()
    };
    let y = Tensor::scaled_dot_product_attention(split(0), split(1), split(2), true).unwrap();
    let merged = y.transpose(1, 2).unwrap().reshape(&[2, 4, 6]).unwrap();
    assert!(close(&packed.to_vec(), &merged.to_vec(), 1e-14));
}

#[test]
fn a_fully_masked_softmax_row_is_zeros_not_nan() {
    let tape = Tape::<f64>::new();
    let inf = f64::NEG_INFINITY;
    let x = tape.var(Array::from_vec(vec![inf, inf, 0.0, inf], &[2, 2]).unwrap());
    let y = x.softmax(-1).unwrap();
    assert_eq!(y.to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
    (y * tape.constant(Array::ones(&[2, 2])))
        .sum_all()
        .backward()
        .unwrap();
    assert!(x.grad().unwrap().to_vec().iter().all(|g| g.is_finite()));
    let l = x.log_softmax(-1).unwrap().to_vec();
    assert_eq!(l, vec![inf, inf, 0.0, inf]);
}

#[test]
fn shapes_that_cannot_work_are_errors() {
    let tape = Tape::<f32>::new();
    let q = tape.var(Array::zeros(&[1, 2, 3, 4]));
    let k = tape.var(Array::zeros(&[1, 2, 3, 5]));
    let e = Tensor::scaled_dot_product_attention(q, k, k, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("got [1, 2, 3, 4], [1, 2, 3, 5] and [1, 2, 3, 5]"),
        "{e}"
    );
    let x = tape.var(Array::zeros(&[1, 3, 10]));
    assert_eq!(
        x.causal_self_attention(2).unwrap_err().to_string(),
        "causal_self_attention: the last dimension of [1, 3, 10] is not 3 × heads × head size for 2 heads"
    );
}

/// Which attention [`values_and_grads`] computes.
#[derive(Clone, Copy)]
enum Attention {
    /// `scaled_dot_product_attention(q, k, v, causal)` of the three inputs.
    Sdpa { causal: bool },
    /// `causal_self_attention(heads)` of the one packed input.
    Packed { heads: usize },
}

/// The output and the gradients of `attention` at `inputs`, from the loss `Σ y · u` for fixed
/// random `u`, computed in `T`.
fn values_and_grads<T: chainrule::tensor::Element>(
    inputs: &[Array<f64>],
    attention: Attention,
) -> Vec<Vec<f64>> {
    let tape = Tape::<T>::new();
    let cast = |a: &Array<f64>| {
        let v = a.data().iter().map(|&x| T::from_f64(x)).collect();
        Array::from_vec(v, a.shape()).unwrap()
    };
    let xs: Vec<Tensor<'_, T>> = inputs.iter().map(|a| tape.var(cast(a))).collect();
    let y = match attention {
        Attention::Sdpa { causal } => {
            Tensor::scaled_dot_product_attention(xs[0], xs[1], xs[2], causal).unwrap()
        }
        Attention::Packed { heads } => xs[0].causal_self_attention(heads).unwrap(),
    };
    let u = tape.constant(cast(&randn(&y.shape(), 99)));
    (y * u).sum_all().backward().unwrap();
    let mut out = vec![y.value().to_f64().to_vec()];
    out.extend(xs.iter().map(|x| x.grad().unwrap().to_f64().to_vec()));
    out
}

/// In `f32`, with every length the vectors cover a multiple of 8, the products run through
/// register tiles (on a processor with AVX2) that skip what a causal mask hides; in `f64` they
/// run through `gemm` over whole matrices, the path the checks above cover. The two agree to
/// `f32`'s precision, for query counts that leave partial tiles and for both masks.
#[test]
fn f32_attention_agrees_with_f64() {
    let cases: Vec<(&str, Vec<Array<f64>>, Attention)> = vec![
        (
            "causal, 40 queries and keys, 16 wide, 40-wide values",
            qkv(&[2, 3, 40, 16], &[2, 3, 40, 16], &[2, 3, 40, 40], 11),
            Attention::Sdpa { causal: true },
        ),
        (
            "not causal, 13 queries, 24 keys, 8 wide, 32-wide values",
            qkv(&[1, 2, 13, 8], &[1, 2, 24, 8], &[1, 2, 24, 32], 14),
            Attention::Sdpa { causal: false },
        ),
        (
            "causal, 25 queries and 32 keys",
            qkv(&[1, 2, 25, 8], &[1, 2, 32, 8], &[1, 2, 32, 16], 17),
            Attention::Sdpa { causal: true },
        ),
        (
            "no keys",
            qkv(&[1, 2, 3, 8], &[1, 2, 0, 8], &[1, 2, 0, 8], 21),
            Attention::Sdpa { causal: true },
        ),
        (
            "no queries",
            qkv(&[1, 2, 0, 8], &[1, 2, 8, 8], &[1, 2, 8, 8], 24),
            Attention::Sdpa { causal: false },
        ),
        (
            "causal_self_attention on a packed projection, 64 steps, 4 heads of 32",
            vec![scaled(randn(&[2, 64, 384], 20), 2.0)],
            Attention::Packed { heads: 4 },
        ),
    ];
    for (name, inputs, attention) in cases {
        let (single, double) = (
            values_and_grads::<f32>(&inputs, attention),
            values_and_grads::<f64>(&inputs, attention),
        );
        for (what, (a, b)) in single.iter().zip(&double).enumerate() {
            assert!(
                close(a, b, 2e-5),
                "{name}, {}: the largest difference is {}",
                if what == 0 {
                    "output".to_string()
                } else {
                    format!("gradient {what}")
                },
                a.iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max)
            );
        }
    }
}
