use super::*;
use crate::model_file::NamedTensor;
use crate::tensor::{gradcheck, Array, Tape};
use crate::util::rand::Rng;

#[test]
fn losses_have_the_gradients_of_their_formulas() {
    let logits = Array::<f64>::randn(&[4, 3], 1);
    gradcheck(
        |x| cross_entropy(x[0], &[0, 2, 1, 2]),
        std::slice::from_ref(&logits),
    )
    .unwrap();
    let y = Array::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[4, 1]).unwrap();
    let x = Array::<f64>::randn(&[4, 1], 2);
    gradcheck(
        |v| {
            let t = v[0].tape().constant(y.clone());
            binary_cross_entropy_with_logits(v[0], t)
        },
        std::slice::from_ref(&x),
    )
    .unwrap();
    gradcheck(
        |v| mse_loss(v[0], v[1]),
        &[x.clone(), Array::randn(&[4, 1], 3)],
    )
    .unwrap();
    let pm = Array::from_vec(vec![1.0, -1.0, 1.0, -1.0], &[4, 1]).unwrap();
    // Away from the kink at margin 1.
    let s = Array::from_vec(vec![0.3, 0.2, 2.0, -1.7], &[4, 1]).unwrap();
    gradcheck(
        |v| {
            let t = v[0].tape().constant(pm.clone());
            hinge_loss(v[0], t)
        },
        &[s],
    )
    .unwrap();
}

#[test]
fn cross_entropy_matches_the_formula_and_is_stable() {
    let tape = Tape::<f64>::new();
    let l = tape.constant(Array::from_vec(vec![1.0, 2.0, 3.0, 1e4, 0.0, -1e4], &[2, 3]).unwrap());
    let got = cross_entropy(l, &[2, 0]).unwrap().item();
    let row0 = -(3.0 - (1f64.exp() + 2f64.exp() + 3f64.exp()).ln());
    assert!((got - row0 / 2.0).abs() < 1e-12, "{got}");
    assert!(cross_entropy(l, &[0]).is_err());
    assert!(cross_entropy(l, &[0, 3]).is_err());
    let x = tape.constant(Array::from_slice(&[-1e4, 1e4]));
    let y = tape.constant(Array::from_slice(&[1.0, 0.0]));
    let bce = binary_cross_entropy_with_logits(x, y).unwrap().item();
    assert!((bce - 1e4).abs() < 1e-9, "{bce}");
}

#[test]
fn linear_is_initialised_as_pytorch_and_seeded() {
    let a = Linear::new(64, 128, &mut Rng::new(3));
    let b = Linear::new(64, 128, &mut Rng::new(3));
    assert_eq!(a.weight, b.weight);
    let bound = 1.0 / 8.0;
    assert!(a.weight.data().iter().all(|w| w.abs() <= bound));
    assert!(a.bias.data().iter().all(|w| w.abs() <= bound));
    // Uniform on ±bound: variance bound²/3.
    let var: f32 = a.weight.data().iter().map(|w| w * w).sum::<f32>() / a.weight.numel() as f32;
    assert!((var / (bound * bound / 3.0) - 1.0).abs() < 0.05, "{var}");
}

#[test]
fn linear_computes_x_times_w_transposed_plus_b() {
    let mut l = Linear::new(2, 3, &mut Rng::new(0));
    l.weight = Array::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).unwrap();
    l.bias = Array::from_slice(&[0.5, 0.0, -0.5]);
    let tape = Tape::<f32>::new();
    let x = tape.constant(Array::from_vec(vec![1.0, 1.0, 0.0, 2.0], &[2, 2]).unwrap());
    let y = l.forward(x, &mut Context::inference(&tape)).unwrap();
    assert_eq!(y.to_vec(), vec![3.5, 7.0, 10.5, 4.5, 8.0, 11.5]);
}

#[test]
fn mlp_layout_is_the_torch_state_dict() {
    let mut spec: MlpSpec = "64-128-10".parse().unwrap();
    let net = spec.build(0);
    let sd = net.state_dict();
    let layout: Vec<(&str, Vec<usize>)> = sd
        .iter()
        .map(|t| (t.name.as_str(), t.shape.clone()))
        .collect();
    assert_eq!(
        layout,
        [
            ("0.weight", vec![128, 64]),
            ("0.bias", vec![128]),
            ("2.weight", vec![10, 128]),
            ("2.bias", vec![10]),
        ]
    );
    assert_eq!(
        spec.torch(),
        "nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))"
    );
    spec.dropout = 0.2;
    spec.sizes = vec![2, 16, 16, 1];
    let names: Vec<String> = spec
        .build(0)
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    );
    assert!(spec.torch().contains("nn.Dropout(0.2)"));
}

#[test]
fn state_dicts_round_trip_and_mismatches_name_the_tensor() {
    let spec: MlpSpec = "4-8-3".parse().unwrap();
    let a = spec.build(1);
    let mut b = spec.build(2);
    b.load_state_dict(&a.state_dict()).unwrap();
    assert_eq!(a.state_dict(), b.state_dict());

    let mut sd = a.state_dict();
    sd[2] = NamedTensor::new("2.weight", vec![3, 9], vec![0.0; 27]).unwrap();
    let before = b.state_dict();
    let e = b.load_state_dict(&sd).unwrap_err().to_string();
    assert_eq!(
        e,
        "tensor '2.weight' has shape [3, 9] but the architecture needs [3, 8]"
    );
    assert_eq!(b.state_dict(), before, "nothing changed");
    let e = b
        .load_state_dict(&a.state_dict()[..3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("'2.bias' is missing"), "{e}");
    let mut extra = a.state_dict();
    extra.push(NamedTensor::new("4.weight", vec![1], vec![0.0]).unwrap());
    assert!(b
        .load_state_dict(&extra)
        .unwrap_err()
        .to_string()
        .contains("'4.weight'"));
}

#[test]
fn specs_are_checked() {
    for bad in ["", "64", "64-x-10", "64--10", "0-3", "4-16-3-"] {
        assert!(bad.parse::<MlpSpec>().is_err(), "{bad}");
    }
    assert_eq!(" 4-16-3 ".parse::<MlpSpec>().unwrap().sizes, vec![4, 16, 3]);
}

#[test]
fn dropout_is_seeded_scaled_and_off_in_eval() {
    let d = Dropout::new(0.25);
    let tape = Tape::<f32>::new();
    let x = tape.constant(Array::ones(&[4000]));
    let a = d.forward(x, &mut Context::new(&tape, 9)).unwrap().to_vec();
    let b = d.forward(x, &mut Context::new(&tape, 9)).unwrap().to_vec();
    assert_eq!(a, b);
    let kept = a.iter().filter(|&&v| v > 0.0).count() as f64 / 4000.0;
    assert!((kept - 0.75).abs() < 0.03, "{kept}");
    assert!(a.iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6));
    let mut net = Sequential::new().with(Dropout::new(0.5));
    net.set_training(false);
    let y = net.forward(x, &mut Context::new(&tape, 0)).unwrap();
    assert_eq!(y.to_vec(), vec![1.0; 4000]);
}

#[test]
fn activations_compute_their_functions() {
    let tape = Tape::<f32>::new();
    let x = tape.constant(Array::from_slice(&[-1.0, 0.0, 2.0]));
    let mut ctx = Context::inference(&tape);
    assert_eq!(
        ReLU.forward(x, &mut ctx).unwrap().to_vec(),
        vec![0.0, 0.0, 2.0]
    );
    let t = Tanh.forward(x, &mut ctx).unwrap().to_vec();
    assert!((t[2] - 2f32.tanh()).abs() < 1e-6);
    let s = Sigmoid.forward(x, &mut ctx).unwrap().to_vec();
    assert!((s[1] - 0.5).abs() < 1e-7);
    let g = GELU.forward(x, &mut ctx).unwrap().to_vec();
    assert!((g[0] - -0.158_655_25).abs() < 1e-6, "{g:?}");
}
