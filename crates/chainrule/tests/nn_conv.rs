//! The convolutional layers of `nn` against PyTorch: a small network with every kind of layer,
//! its output in training and evaluation mode, its gradients, its running statistics and its
//! `state_dict`, compared with the values `tests/reference/torch_nn.py` prints (PyTorch 2.15,
//! float32).

use chainrule::model_file::{ElementType, NamedTensor};
use chainrule::nn::{
    BatchNorm1d, BatchNorm2d, Context, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU,
    Sequential, StateDictError, Tanh,
};
use chainrule::rand::Rng;
use chainrule::tensor::{Array, Conv2dOptions, Tape};

/// The network of `torch_nn.py`, with every parameter set to `0.3·sin(i + k)` (the `k`-th
/// parameter, element `i`).
fn network() -> Sequential {
    let mut rng = Rng::new(0);
    let mut net = Sequential::new()
        .with(Conv2d::new(
            1,
            4,
            3,
            Conv2dOptions::default().padding(1),
            false,
            &mut rng,
        ))
        .with(BatchNorm2d::new(4))
        .with(ReLU)
        .with(MaxPool2d::new(2))
        .with(Conv2d::new(
            4,
            6,
            3,
            Conv2dOptions::default(),
            true,
            &mut rng,
        ))
        .with(Tanh)
        .with(Flatten::default())
        .with(Linear::new(6, 3, &mut rng))
        .with(BatchNorm1d::new(3));
    for (k, (_, p)) in net.parameters_mut().into_iter().enumerate() {
        for (i, v) in p.data_mut().iter_mut().enumerate() {
            *v = 0.3 * (i as f32 + k as f32).sin();
        }
    }
    net
}

fn input() -> Array<f32> {
    let v = (0..108)
        .map(|i| {
            let i = i as f32;
            (i * 0.7 + i * i * 0.013).cos()
        })
        .collect();
    Array::from_vec(v, &[3, 1, 6, 6]).unwrap()
}

fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(g) - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: {g} but PyTorch gives {w}\n got {got:?}\nwant {want:?}"
        );
    }
}

#[test]
fn a_small_cnn_computes_what_pytorch_computes() {
    let mut net = network();
    let tape = Tape::<f32>::new();
    let x = tape.constant(input());
    let mut ctx = Context::new(&tape, 0);
    let y = net.forward(x, &mut ctx).unwrap();
    assert_close(
        "train output",
        &y.to_vec(),
        &[
            0.5734074711799622,
            0.5405579209327698,
            0.010428200475871563,
            0.16289778053760529,
            -0.0778418555855751,
            -0.24697048962116241,
            0.1541171669960022,
            -0.09180939197540283,
            -0.25307682156562805,
        ],
        1e-4,
    );
    let weights = tape.constant(Array::arange(0.0, 9.0, 1.0).reshape(&[3, 3]).unwrap());
    y.mul(weights).unwrap().sum_all().backward().unwrap();
    let params = ctx.parameters();
    let grad = |i: usize| params[i].grad().unwrap().to_vec();
    #[rustfmt::skip]
    let want_w0 = [
        1.6912167072296143, -4.397310733795166, -0.0001462697982788086, 7.526496887207031,
        -7.955883026123047, 2.9343509674072266, 0.37393879890441895, 5.478750228881836,
        -4.10678768157959, 0.5674667358398438, 2.3777503967285156, -4.154433250427246,
        3.486457347869873, 5.750136375427246, -4.822863578796387, 3.4138975143432617,
        3.022876501083374, 0.22109603881835938, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        -0.29452085494995117, 2.017470121383667, -2.6476826667785645, 0.2455562949180603,
        3.1281604766845703, -1.760535717010498, -2.743527889251709, 5.164748191833496,
        -1.0850245952606201,
    ];
    assert_close("grad of 0.weight", &grad(0), &want_w0, 2e-3);
    // The bias before a batch normalisation gets no gradient (up to rounding): the
    // normalisation subtracts it again.
    assert!(grad(6).iter().all(|g| g.abs() < 1e-3), "{:?}", grad(6));
    drop(ctx);
    let bn2 = net.named_buffers();
    let get = |name: &str| {
        bn2.iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .data
            .clone()
    };
    assert_close(
        "1.running_mean",
        &get("1.running_mean"),
        &[
            -0.0004066273686476052,
            0.0007695587701164186,
            -0.000995709327980876,
            0.001044882577843964,
        ],
        1e-5,
    );
    assert_close(
        "1.running_var",
        &get("1.running_var"),
        &[
            0.9084901213645935,
            0.9098197221755981,
            0.910049557685852,
            0.9090235829353333,
        ],
        1e-5,
    );
    assert_close(
        "8.running_mean",
        &get("8.running_mean"),
        &[
            0.009143684059381485,
            0.04198085889220238,
            0.05492299795150757,
        ],
        1e-5,
    );
    assert_close(
        "8.running_var",
        &get("8.running_var"),
        &[0.9000989198684692, 0.9001134037971497, 0.9001103043556213],
        1e-5,
    );
    assert_eq!(get("1.num_batches_tracked"), vec![1.0]);

    net.set_training(false);
    let tape = Tape::<f32>::new();
    let y = net
        .forward(tape.constant(input()), &mut Context::inference(&tape))
        .unwrap();
    assert_close(
        "eval output",
        &y.to_vec(),
        &[
            0.30279088020324707,
            0.22834545373916626,
            -0.1026112288236618,
            0.3016868531703949,
            0.22576458752155304,
            -0.10398320108652115,
            0.3040138781070709,
            0.2286742478609085,
            -0.10311538726091385,
        ],
        1e-4,
    );
}

#[test]
fn the_state_dict_has_pytorchs_names_shapes_and_types() {
    let net = network();
    let got: Vec<(String, Vec<usize>, ElementType)> = net
        .state_dict()
        .into_iter()
        .map(|t| (t.name, t.shape, t.dtype))
        .collect();
    // PyTorch's, sorted by name (its order is per module, ours parameters first).
    let torch = [
        ("0.weight", vec![4, 1, 3, 3], "float32"),
        ("1.weight", vec![4], "float32"),
        ("1.bias", vec![4], "float32"),
        ("1.running_mean", vec![4], "float32"),
        ("1.running_var", vec![4], "float32"),
        ("1.num_batches_tracked", vec![], "int64"),
        ("4.weight", vec![6, 4, 3, 3], "float32"),
        ("4.bias", vec![6], "float32"),
        ("7.weight", vec![3, 6], "float32"),
        ("7.bias", vec![3], "float32"),
        ("8.weight", vec![3], "float32"),
        ("8.bias", vec![3], "float32"),
        ("8.running_mean", vec![3], "float32"),
        ("8.running_var", vec![3], "float32"),
        ("8.num_batches_tracked", vec![], "int64"),
    ];
    let mut want: Vec<(String, Vec<usize>, ElementType)> = torch
        .into_iter()
        .map(|(n, s, t)| {
            let t = if t == "int64" {
                ElementType::I64
            } else {
                ElementType::F32
            };
            (n.to_string(), s, t)
        })
        .collect();
    let mut got = got;
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn buffers_load_with_the_parameters_and_strictly() {
    let trained = network();
    let tape = Tape::<f32>::new();
    trained
        .forward(tape.constant(input()), &mut Context::new(&tape, 0))
        .unwrap();
    let saved = trained.state_dict();
    let mut fresh = network();
    assert_ne!(fresh.named_buffers(), trained.named_buffers());
    fresh.load_state_dict(&saved).unwrap();
    assert_eq!(fresh.named_buffers(), trained.named_buffers());

    let without: Vec<NamedTensor> = saved
        .iter()
        .filter(|t| t.name != "8.num_batches_tracked")
        .cloned()
        .collect();
    let before = fresh.state_dict();
    assert_eq!(
        network().load_state_dict(&without),
        Err(StateDictError::Missing("8.num_batches_tracked".into()))
    );
    let mut wrong = saved.clone();
    wrong
        .iter_mut()
        .find(|t| t.name == "1.running_var")
        .unwrap()
        .shape = vec![5];
    assert!(matches!(
        fresh.load_state_dict(&wrong),
        Err(StateDictError::Shape { .. })
    ));
    assert_eq!(fresh.state_dict(), before, "nothing changed on error");
}

#[test]
fn layers_describe_themselves_as_pytorch_prints_them() {
    let net = network();
    let lines: Vec<String> = net.layers().iter().map(|l| l.describe()).collect();
    assert_eq!(
        lines,
        [
            "Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)",
            "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
            "ReLU()",
            "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
            "Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1))",
            "Tanh()",
            "Flatten(start_dim=1, end_dim=-1)",
            "Linear(in_features=6, out_features=3, bias=True)",
            "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
        ]
    );
}

#[test]
fn batch_norm_refuses_inputs_of_the_wrong_rank() {
    let tape = Tape::<f32>::new();
    let mut ctx = Context::new(&tape, 0);
    let flat = tape.constant(Array::zeros(&[4, 3]));
    let err = BatchNorm2d::new(3).forward(flat, &mut ctx).unwrap_err();
    assert_eq!(
        err.to_string(),
        "BatchNorm2d: expected 4-D input, got 2-D input of shape [4, 3]"
    );
    let image = tape.constant(Array::zeros(&[4, 3, 2, 2]));
    assert!(BatchNorm1d::new(3).forward(image, &mut ctx).is_err());
}
