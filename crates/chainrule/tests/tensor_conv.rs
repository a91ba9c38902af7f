//! Convolution and pooling: every rule checked in f64 (first derivatives against central
//! differences, the recorded backward against the fast one, second and third derivatives,
//! forward mode), on odd sizes, strides above 1, padding, dilation, groups and a batch of one;
//! values against PyTorch's; and the errors for shapes that cannot work.

mod common;
use common::*;

use chainrule::tensor::{Array, Conv2dOptions, Pool2dOptions, Tape};

fn conv_case(name: &'static str, x: &[usize], w: &[usize], seed: u64, f: Fun) -> Case {
    Case {
        name,
        inputs: vec![randn(x, seed), randn(w, seed + 1), randn(&[w[0]], seed + 2)],
        f,
    }
}

fn cases() -> Vec<Case> {
    vec![
        conv_case("conv 3x3 pad 1", &[2, 2, 5, 4], &[3, 2, 3, 3], 1, |x| {
            x[0].conv2d(x[1], x[2], Conv2dOptions::default().padding(1))
        }),
        conv_case(
            "conv stride 2x3, pad 0x2",
            &[1, 3, 7, 6],
            &[2, 3, 3, 2],
            4,
            |x| {
                x[0].conv2d(
                    x[1],
                    x[2],
                    Conv2dOptions::default().stride((2, 3)).padding((0, 2)),
                )
            },
        ),
        conv_case("conv dilation 2", &[2, 1, 6, 5], &[2, 1, 2, 2], 7, |x| {
            x[0].conv2d(x[1], x[2], Conv2dOptions::default().dilation(2))
        }),
        conv_case("conv 2 groups", &[2, 4, 4, 3], &[6, 2, 3, 1], 10, |x| {
            x[0].conv2d(
                x[1],
                x[2],
                Conv2dOptions::default().groups(2).padding((1, 0)),
            )
        }),
        conv_case(
            "conv 6x6 pad 2 on 2x2 (kernel columns that land wholly in the padding)",
            &[1, 1, 2, 2],
            &[2, 1, 6, 6],
            16,
            |x| x[0].conv2d(x[1], x[2], Conv2dOptions::default().padding(2)),
        ),
        conv_case(
            "conv stride 2, 5x5 pad 4 on 2x3 (empty columns after striding)",
            &[1, 1, 2, 3],
            &[1, 1, 5, 5],
            17,
            |x| x[0].conv2d(x[1], x[2], Conv2dOptions::default().padding(4).stride(2)),
        ),
        conv_case("conv 1x1", &[2, 3, 3, 2], &[4, 3, 1, 1], 13, |x| {
            x[0].conv2d(x[1], x[2], Conv2dOptions::default())
        }),
        Case {
            name: "conv without bias, one image [C, H, W], then tanh",
            inputs: vec![randn(&[2, 4, 4], 16), randn(&[2, 2, 2, 3], 17)],
            f: |x| Ok(x[0].conv2d(x[1], None, Conv2dOptions::default())?.tanh()),
        },
    ]
}

#[test]
fn every_convolution_passes_every_check() {
    cases().iter().for_each(check_every_mode);
}

fn pool_cases() -> Vec<Case> {
    let one = |name, shape: &[usize], seed, f: Fun| Case {
        name,
        inputs: vec![randn(shape, seed)],
        f,
    };
    vec![
        one("max_pool 2", &[2, 3, 4, 6], 20, |x| {
            x[0].max_pool2d(Pool2dOptions::new(2))
        }),
        one(
            "max_pool 2, odd size (the last row and column in no window)",
            &[1, 2, 5, 7],
            31,
            |x| x[0].max_pool2d(Pool2dOptions::new(2)),
        ),
        one(
            "max_pool 3 stride 2 pad 1, odd size",
            &[1, 2, 5, 7],
            21,
            |x| x[0].max_pool2d(Pool2dOptions::new(3).stride(2).padding(1)),
        ),
        one("max_pool [C, H, W], 2x1", &[2, 3, 4], 22, |x| {
            Ok(x[0].max_pool2d(Pool2dOptions::new((2, 1)))?.sin())
        }),
        one("avg_pool 2", &[2, 2, 4, 4], 23, |x| {
            x[0].avg_pool2d(Pool2dOptions::new(2))
        }),
        one(
            "avg_pool 3 stride 2 pad 1, odd size",
            &[1, 2, 5, 7],
            24,
            |x| {
                Ok(x[0]
                    .avg_pool2d(Pool2dOptions::new(3).stride(2).padding(1))?
                    .tanh())
            },
        ),
        one("avg_pool without the padding", &[1, 1, 5, 4], 25, |x| {
            x[0].avg_pool2d_with(Pool2dOptions::new(3).stride(2).padding(1), false)
        }),
        one("adaptive_avg_pool 1", &[2, 3, 3, 5], 26, |x| {
            x[0].adaptive_avg_pool2d(1)
        }),
        one("adaptive_avg_pool 2x1", &[1, 2, 4, 3], 27, |x| {
            x[0].adaptive_avg_pool2d((2, 1))
        }),
        Case {
            name: "conv, relu, max_pool, conv: a small CNN",
            inputs: vec![
                randn(&[2, 1, 6, 6], 28),
                randn(&[3, 1, 3, 3], 29),
                randn(&[2, 3, 2, 2], 30),
            ],
            f: |x| {
                let h = x[0].conv2d(x[1], None, Conv2dOptions::default().padding(1))?;
                let h = h.tanh().max_pool2d(Pool2dOptions::new(2))?;
                h.conv2d(x[2], None, Conv2dOptions::default())
            },
        },
    ]
}

#[test]
fn every_pooling_passes_every_check() {
    pool_cases().iter().for_each(check_every_mode);
}

/// Values printed by `tests/reference/torch_conv.py`.
#[test]
fn max_pooling_breaks_ties_and_propagates_nan_as_pytorch() {
    let tape = Tape::<f64>::new();
    let v = vec![
        1.0,
        5.0,
        2.0,
        0.0,
        3.0,
        4.0,
        4.0,
        1.0,
        4.0,
        4.0,
        0.0,
        f64::NAN,
        2.0,
        4.0,
        3.0,
        3.0,
    ];
    let x = tape.var(Array::from_vec(v, &[1, 1, 4, 4]).unwrap());
    let y = x.max_pool2d(Pool2dOptions::new(2)).unwrap();
    let got = y.to_vec();
    assert_eq!(got[..3], [5.0, 4.0, 4.0]);
    assert!(got[3].is_nan());
    y.sum_all().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec(),
        vec![0., 1., 0., 0., 0., 0., 1., 0., 1., 0., 0., 1., 0., 0., 0., 0.]
    );
    let same = tape.var(Array::full(&[1, 1, 2, 2], 7.0));
    same.max_pool2d(Pool2dOptions::new(2))
        .unwrap()
        .sum_all()
        .backward()
        .unwrap();
    assert_eq!(same.grad().unwrap().to_vec(), vec![1.0, 0.0, 0.0, 0.0]);
}

/// Values printed by `tests/reference/torch_conv.py`.
#[test]
fn average_pooling_counts_the_padding_as_pytorch() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(
        Array::arange(0.0, 20.0, 1.0)
            .reshape(&[1, 1, 4, 5])
            .unwrap(),
    );
    let p = Pool2dOptions::new(3).stride(2).padding(1);
    let with = x.avg_pool2d(p).unwrap().to_vec();
    let want = [1.3333333333333333, 3.0, 2.6666666666666665, 7.0, 12.0, 9.0];
    assert!(close(&with, &want, 1e-15), "{with:?}");
    let without = x.avg_pool2d_with(p, false).unwrap().to_vec();
    assert_eq!(without, vec![3.0, 4.5, 6.0, 10.5, 12.0, 13.5]);
}

/// Values printed by `tests/reference/torch_conv.py` (PyTorch 2.15, float64).
#[test]
fn conv2d_matches_pytorch() {
    let tape = Tape::<f64>::new();
    let tenths = |from: i32, to: i32, shape: &[usize]| {
        let v = (from..to).map(|i| f64::from(i) * 0.1).collect();
        Array::from_vec(v, shape).unwrap()
    };
    let x = tape.var(tenths(0, 32, &[1, 2, 4, 4]));
    let w = tape.var(tenths(-9, 9, &[1, 2, 3, 3]));
    let b = tape.var(Array::from_slice(&[0.5]));
    let y = x
        .conv2d(w, b, Conv2dOptions::default().stride(2).padding(1))
        .unwrap();
    assert_eq!(y.shape(), vec![1, 1, 2, 2]);
    let want = [
        4.900000000000001,
        6.700000000000001,
        5.8100000000000005,
        6.920000000000001,
    ];
    for (a, e) in y.to_vec().iter().zip(want) {
        assert!((a - e).abs() < 1e-12, "{:?} vs {want:?}", y.to_vec());
    }
    (y * y).sum_all().backward().unwrap();
    let gw = w.grad().unwrap().to_vec();
    let want_gw = [
        6.920000000000001,
        12.952000000000002,
        15.498000000000003,
        13.796000000000001,
        25.816000000000003,
        30.68200000000001,
        24.692000000000007,
        45.280000000000015,
        50.14600000000001,
        29.064000000000004,
        53.68800000000001,
        56.23400000000001,
        57.38000000000001,
        103.67200000000003,
        108.53800000000003,
        68.27600000000001,
        123.13600000000002,
        128.00200000000004,
    ];
    for (a, e) in gw.iter().zip(want_gw) {
        assert!((a - e).abs() < 1e-9, "{gw:?} vs {want_gw:?}");
    }
}

#[test]
fn shapes_that_cannot_work_are_errors_naming_the_sizes() {
    let tape = Tape::<f32>::new();
    let x = tape.var(Array::zeros(&[1, 4, 3, 3]));
    let err = |w: &[usize], o: Conv2dOptions| -> String {
        x.conv2d(tape.var(Array::zeros(w)), None, o)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(&[2, 4, 5, 5], Conv2dOptions::default()),
        "conv2d: the kernel 5×5 (dilation 1×1, spanning 5×5) is larger than the padded input \
         3×3 (input 3×3, padding 0×0)"
    );
    assert_eq!(
        err(&[2, 4, 1, 1], Conv2dOptions::default().stride((0, 1))),
        "conv2d: the stride must be at least 1, got (0, 1)"
    );
    assert_eq!(
        err(&[3, 2, 1, 1], Conv2dOptions::default().groups(2)),
        "conv2d: 4 input and 3 output channels do not divide into 2 groups"
    );
    assert!(err(&[2, 3, 1, 1], Conv2dOptions::default())
        .starts_with("conv2d: weights [2, 3, 1, 1] expect 3 input channels per group"));
    let pool_err = |o: Pool2dOptions| x.max_pool2d(o).unwrap_err().to_string();
    assert_eq!(
        pool_err(Pool2dOptions::new(4)),
        "max_pool2d: the window 4×4 is larger than the padded input 3×3 (input 3×3, padding 0×0)"
    );
    assert_eq!(
        pool_err(Pool2dOptions::new(2).padding(2)),
        "max_pool2d: the padding (2, 2) must be at most half the kernel (2, 2)"
    );
    assert_eq!(
        pool_err(Pool2dOptions::new(2).stride(0)),
        "max_pool2d: the kernel (2, 2) and the stride (0, 0) must be at least 1"
    );
    let flat = tape.var(Array::zeros(&[4, 3]));
    let e = flat
        .conv2d(
            tape.var(Array::zeros(&[1, 4, 1, 1])),
            None,
            Conv2dOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("got [4, 3]"), "{e}");
}
