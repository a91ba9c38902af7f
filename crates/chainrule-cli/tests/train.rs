//! `chainrule train` and `chainrule predict` as a user runs them.

mod common;
use common::*;

use std::fs;
use std::path::Path;

use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let o = chainrule(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn digits_with_the_defaults_reach_97_percent_and_report_json() {
    let v = json(&["train", "--data", "digits", "--json"]);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "train_loss",
            "train_accuracy",
            "test_accuracy",
            "epochs",
            "seconds"
        ]
    );
    assert!(v["test_accuracy"].as_f64().unwrap() >= 0.97, "{v}");
    assert_eq!(v["epochs"], 30);
}

#[test]
fn iris_and_moons_meet_their_targets() {
    let iris = json(&["train", "--data", "iris", "--json"]);
    assert!(iris["test_accuracy"].as_f64().unwrap() >= 0.95, "{iris}");
    let moons = json(&["train", "--data", "moons", "--json"]);
    assert_eq!(moons["train_accuracy"].as_f64(), Some(1.0), "{moons}");
}

#[test]
fn a_seed_gives_the_same_run() {
    let args = [
        "train",
        "--data",
        "iris",
        "--epochs",
        "5",
        "--json",
        "--dropout",
        "0.1",
    ];
    let (a, b) = (json(&args), json(&args));
    assert_eq!(a["train_loss"], b["train_loss"]);
    let mut other = args.to_vec();
    other.extend(["--seed", "1"]);
    assert_ne!(json(&other)["train_loss"], a["train_loss"]);
}

#[test]
fn text_output_ends_with_the_test_accuracy() {
    let o = chainrule(&["train", "--data", "iris", "--epochs", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("4-16-3 relu (131 parameters), adam on iris"),
        "{out}"
    );
    assert!(
        out.lines().last().unwrap().starts_with("test accuracy: "),
        "{out}"
    );
    assert!(stderr(&o).is_empty(), "no progress bar off a terminal");
}

#[test]
fn a_saved_model_predicts_with_its_standardisation() {
    let dir = scratch("predict");
    let model = dir.join("iris.safetensors");
    let o = chainrule(&["train", "--data", "iris", "--save", p(&model)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("model saved to"), "{}", stdout(&o));
    let o = chainrule(&["predict", "--model", p(&model), "--data", "iris"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 151);
    assert_eq!(lines[0], "setosa");
    let acc: f64 = lines[150]
        .strip_prefix("accuracy: ")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(acc >= 0.95, "{out}");
    let v = json(&["predict", "--model", p(&model), "--data", "iris", "--json"]);
    assert_eq!(v["predictions"].as_array().unwrap().len(), 150);
    assert!((v["accuracy"].as_f64().unwrap() - acc).abs() < 1e-4);
}

#[test]
fn every_activation_trains_and_its_file_names_it_for_pytorch() {
    let dir = scratch("activations");
    for (name, torch) in [
        ("silu", "nn.SiLU()"),
        ("elu", "nn.ELU()"),
        ("leaky_relu", "nn.LeakyReLU()"),
        ("softplus", "nn.Softplus()"),
    ] {
        let model = dir.join(format!("{name}.safetensors"));
        let run = json(&[
            "train",
            "--data",
            "iris",
            "--activation",
            name,
            "--save",
            p(&model),
            "--json",
        ]);
        let acc = run["test_accuracy"].as_f64().unwrap();
        assert!(acc >= 0.9, "{name}: {run}");
        let bytes = fs::read(&model).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let meta = &header["__metadata__"];
        assert_eq!(meta["activation"], name);
        assert_eq!(
            meta["torch"],
            format!("nn.Sequential(nn.Linear(4, 16), {torch}, nn.Linear(16, 3))")
        );
        let v = json(&["predict", "--model", p(&model), "--data", "iris", "--json"]);
        assert_eq!(v["predictions"].as_array().unwrap().len(), 150, "{name}");
    }
    assert_bad_input_saying(
        &["train", "--data", "iris", "--activation", "swish"],
        &[
            "unknown activation 'swish'",
            "relu, tanh, sigmoid, gelu, silu, elu, leaky_relu or softplus",
        ],
    );
}

#[test]
fn model_files_have_the_layout_of_the_torch_state_dict() {
    let dir = scratch("layout");
    let model = dir.join("m.safetensors");
    let o = chainrule(&[
        "train",
        "--data",
        "moons",
        "--model",
        "2-16-16-2",
        "--epochs",
        "2",
        "--save",
        p(&model),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = fs::read(&model).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut layout: Vec<(String, Value)> = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| {
            assert_eq!(v["dtype"], "F32");
            (k.clone(), v["shape"].clone())
        })
        .collect();
    layout.sort_by(|a, b| a.0.cmp(&b.0));
    let want: Vec<(String, Value)> = [
        ("0.bias", "[16]"),
        ("0.weight", "[16,2]"),
        ("2.bias", "[16]"),
        ("2.weight", "[16,16]"),
        ("4.bias", "[2]"),
        ("4.weight", "[2,16]"),
    ]
    .iter()
    .map(|(k, s)| (k.to_string(), serde_json::from_str(s).unwrap()))
    .collect();
    assert_eq!(layout, want);
    let meta = &header["__metadata__"];
    assert_eq!(meta["architecture"], "2-16-16-2");
    assert_eq!(meta["activation"], "relu");
    assert_eq!(
        meta["torch"],
        "nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))"
    );
    let mean: Vec<f32> = serde_json::from_str(meta["standardize_mean"].as_str().unwrap()).unwrap();
    assert_eq!(mean.len(), 2);
    // The weight of layer 0 is [out, in], row-major: the library agrees with the file.
    let file = chainrule::model_file::ModelFile::load(&model).unwrap();
    let net = chainrule::train::Network::from_file(&file, &model).unwrap();
    use chainrule::nn::Module;
    assert_eq!(
        net.model.state_dict()[0].data,
        file.get("0.weight").unwrap().data
    );
}

#[test]
fn a_resumed_run_saves_the_same_model_as_an_uninterrupted_one() {
    let dir = scratch("resume");
    let (straight, ckpt, resumed) = (
        dir.join("straight.safetensors"),
        dir.join("ckpt.safetensors"),
        dir.join("resumed.safetensors"),
    );
    let base = ["train", "--data", "iris", "--dropout", "0.1", "--json"];
    let run = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend(extra);
        json(&a)
    };
    let full = run(&["--epochs", "4", "--save", p(&straight)]);
    let half = run(&["--epochs", "2", "--checkpoint", p(&ckpt)]);
    assert_eq!(half["epochs"], 2);
    let rest = run(&["--epochs", "4", "--resume", p(&ckpt), "--save", p(&resumed)]);
    assert_eq!(rest["epochs"], 4);
    assert_eq!(rest["train_loss"], full["train_loss"]);
    // The same weights bit for bit, and the same metadata (the file's bytes may order the
    // metadata differently).
    let load = |path: &Path| chainrule::model_file::ModelFile::load(path).unwrap();
    assert_eq!(load(&straight), load(&resumed));
    // Another architecture or another seed is refused, naming what differs.
    let refused = |flag: &str, given: &str, recorded: &str| {
        assert_bad_input(
            &["train", flag, given, "--resume", p(&ckpt)],
            &format!(
                "{flag} {given}, but the checkpoint {} was made with {flag} {recorded}",
                ckpt.display()
            ),
        );
    };
    refused("--model", "4-8-3", "4-16-3");
    refused("--seed", "3", "0");
    refused("--data", "digits", "iris");
    refused("--dropout", "0.2", "0.1");
    refused("--optimizer", "sgd", "adam");
    refused("--test-fraction", "0.3", "0.2");
    refused("--weight-decay", "0.5", "default");
    assert_bad_input(
        &["train", "--no-standardize", "--resume", p(&ckpt)],
        &format!(
            "--no-standardize, but the checkpoint {} was made with standardised features",
            ckpt.display()
        ),
    );
}

#[test]
fn resuming_takes_the_settings_from_the_checkpoint() {
    let dir = scratch("resume-settings");
    let (straight, ckpt, resumed) = (
        dir.join("straight.safetensors"),
        dir.join("ckpt.safetensors"),
        dir.join("resumed.safetensors"),
    );
    let settings = [
        "train",
        "--data",
        "iris",
        "--model",
        "4-12-3",
        "--activation",
        "tanh",
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
        "--momentum",
        "0.9",
        "--batch",
        "8",
        "--seed",
        "7",
        "--test-fraction",
        "0.25",
        "--no-standardize",
        "--json",
    ];
    let with = |extra: &[&'static str]| [&settings[..], extra].concat();
    let (straight_arg, ckpt_arg) = (p(&straight).to_string(), p(&ckpt).to_string());
    let full = json(
        &[
            with(&["--epochs", "5", "--save"]),
            vec![straight_arg.as_str()],
        ]
        .concat(),
    );
    let half = json(
        &[
            with(&["--epochs", "2", "--checkpoint"]),
            vec![ckpt_arg.as_str()],
        ]
        .concat(),
    );
    assert_eq!(half["epochs"], 2);
    // Nothing repeated but the checkpoint: it runs the two epochs it planned, and stops.
    let again = json(&["train", "--resume", p(&ckpt), "--json"]);
    assert_eq!(again["epochs"], 2);
    // --epochs extends it, to the uninterrupted run's weights.
    let rest = json(&[
        "train",
        "--resume",
        p(&ckpt),
        "--epochs",
        "5",
        "--save",
        p(&resumed),
        "--json",
    ]);
    assert_eq!(
        (rest["epochs"].clone(), rest["train_loss"].clone()),
        (full["epochs"].clone(), full["train_loss"].clone())
    );
    let load = |path: &Path| chainrule::model_file::ModelFile::load(path).unwrap();
    assert_eq!(load(&straight), load(&resumed));
    // Repeating a setting with its own value is fine.
    let same = json(&[
        "train",
        "--resume",
        p(&ckpt),
        "--lr",
        "0.05",
        "--batch",
        "8",
        "--json",
    ]);
    assert_eq!(same["epochs"], 2);
}

#[test]
fn bad_data_files_are_refused_naming_the_file_and_place() {
    let dir = scratch("bad-data");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        path
    };
    let existing = write("model.safetensors", "keep me");
    let ragged = write("ragged.csv", "a,b,y\n1,2,x\n3,4\n");
    let text = write("text.csv", "a,b,y\n1,2,x\n3,four,y\n");
    let empty = write("empty.csv", "");
    let save = ["--save", p(&existing)];
    let train = |file: &Path, target: &str| -> Vec<String> {
        let mut v: Vec<String> = ["train", "--data", p(file), "--target", target]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(save.iter().map(|s| s.to_string()));
        v
    };
    let cases: [(Vec<String>, &str); 5] = [
        (train(&ragged, "y"), "ragged.csv:3"),
        (
            train(&text, "y"),
            "text.csv:3, column 'b' (2): 'four' is not a number",
        ),
        (train(&text, "label"), "label"),
        (train(&empty, "y"), "empty.csv"),
        (
            vec!["train".into(), "--data".into(), p(&text).into()],
            "--target",
        ),
    ];
    for (args, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad_input(&args, needle);
    }
    assert_eq!(fs::read_to_string(&existing).unwrap(), "keep me");
    assert_bad_input(&["train", "--data", "nope"], "neither a known dataset");
    assert_bad_input(
        &["train", "--data", "iris", "--model", "4-16-2"],
        "3 classes",
    );
    assert_bad_input(
        &["train", "--data", "iris", "--model", "5-16-3"],
        "4 features",
    );
}

#[test]
fn bad_model_files_and_outputs_are_refused() {
    let dir = scratch("bad-model");
    let model = dir.join("iris.safetensors");
    let o = chainrule(&[
        "train",
        "--data",
        "iris",
        "--epochs",
        "1",
        "--save",
        p(&model),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = fs::read(&model).unwrap();

    let truncated = dir.join("truncated.safetensors");
    fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    assert_bad_input(
        &["predict", "--model", p(&truncated), "--data", "iris"],
        "truncated.safetensors: ",
    );
    let corrupted = dir.join("corrupted.safetensors");
    let mut c = bytes.clone();
    c[10] = b'#';
    fs::write(&corrupted, &c).unwrap();
    assert_bad_input(
        &["predict", "--model", p(&corrupted), "--data", "iris"],
        "corrupted.safetensors: the header is not valid JSON",
    );
    // Tensors that do not fit the architecture in the metadata.
    let mut file = chainrule::model_file::ModelFile::load(&model).unwrap();
    file.metadata.insert("architecture".into(), "4-32-3".into());
    let other = dir.join("other.safetensors");
    file.save(&other).unwrap();
    assert_bad_input(
        &["predict", "--model", p(&other), "--data", "iris"],
        "other.safetensors: tensor '0.weight' has shape [16, 4] but the architecture needs [32, 4]",
    );
    assert_bad_input(
        &["predict", "--model", p(&model), "--data", "digits"],
        "takes 4 features but --data digits has 64",
    );
    assert_eq!(
        fs::read(&model).unwrap(),
        bytes,
        "the model file is untouched"
    );

    // Outputs that cannot be written: refused before training, nothing written.
    let missing = dir.join("no-such-folder").join("m.safetensors");
    assert_bad_input(
        &["train", "--data", "iris", "--save", p(&missing)],
        "does not exist",
    );
    assert_bad_input(
        &["train", "--data", "iris", "--save", p(&dir)],
        "it is a directory",
    );
    assert_bad_input(
        &[
            "train",
            "--data",
            "iris",
            "--plot",
            p(&dir.join("curves.gif")),
        ],
        ".png or .svg",
    );
    assert!(!dir.join("no-such-folder").exists());
}

#[test]
fn curves_are_drawn_as_png_and_svg() {
    let dir = scratch("plot");
    for name in ["curves.png", "curves.svg"] {
        let path = dir.join(name);
        let o = chainrule(&[
            "train",
            "--data",
            "iris",
            "--epochs",
            "5",
            "--plot",
            p(&path),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let bytes = fs::read(&path).unwrap();
        assert!(bytes.len() > 1000, "{name}");
    }
    let svg = fs::read_to_string(dir.join("curves.svg")).unwrap();
    assert!(svg.contains("accuracy") && svg.contains("epoch"));
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 2, "no temporary files");
}

#[test]
fn csv_files_train_and_predict() {
    let dir = scratch("csv");
    let csv = dir.join("iris.csv");
    fs::write(&csv, chainrule::data::IRIS_CSV).unwrap();
    let model = dir.join("m.safetensors");
    let v = json(&[
        "train",
        "--data",
        p(&csv),
        "--target",
        "species",
        "--epochs",
        "100",
        "--batch",
        "16",
        "--lr",
        "0.01",
        "--json",
        "--save",
        p(&model),
    ]);
    assert!(v["test_accuracy"].as_f64().unwrap() >= 0.9, "{v}");
    let v = json(&[
        "predict",
        "--model",
        p(&model),
        "--data",
        p(&csv),
        "--target",
        "species",
        "--json",
    ]);
    assert!(v["accuracy"].as_f64().unwrap() >= 0.9, "{v}");
}

#[test]
fn idx_image_files_train_with_their_labels() {
    let dir = scratch("idx");
    // 60 images of 2×2 pixels: class 0 is bright on the left, class 1 on the right.
    let n = 60u32;
    let mut images = vec![0, 0, 8, 3];
    let mut labels = vec![0, 0, 8, 1];
    for v in [n, 2, 2] {
        images.extend(v.to_be_bytes());
    }
    labels.extend(n.to_be_bytes());
    for i in 0..n {
        let c = (i % 2) as u8;
        let noise = (i * 37 % 50) as u8;
        let (bright, dark) = (200 + noise, noise);
        let row = if c == 0 {
            [bright, dark]
        } else {
            [dark, bright]
        };
        images.extend([row[0], row[1], row[0], row[1]]);
        labels.push(c);
    }
    let (imgs, labs) = (dir.join("images.idx"), dir.join("labels.idx"));
    fs::write(&imgs, &images).unwrap();
    fs::write(&labs, &labels).unwrap();
    let v = json(&[
        "train",
        "--data",
        p(&imgs),
        "--labels",
        p(&labs),
        "--epochs",
        "20",
        "--batch",
        "8",
        "--lr",
        "0.01",
        "--json",
    ]);
    assert_eq!(v["test_accuracy"].as_f64(), Some(1.0), "{v}");
    fs::write(&labs, &labels[..labels.len() - 5]).unwrap();
    assert_bad_input(
        &["train", "--data", p(&imgs), "--labels", p(&labs)],
        "labels.idx",
    );
}

#[test]
fn predict_can_show_the_raw_outputs() {
    let dir = scratch("outputs");
    let model = dir.join("m.safetensors");
    let o = chainrule(&[
        "train",
        "--data",
        "moons",
        "--epochs",
        "3",
        "--save",
        p(&model),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&[
        "predict",
        "--model",
        p(&model),
        "--data",
        "moons",
        "--json",
        "--outputs",
    ]);
    let outs = v["outputs"].as_array().unwrap();
    assert_eq!(outs.len(), 200);
    assert_eq!(outs[0].as_array().unwrap().len(), 2);
}

#[test]
fn a_numeric_target_is_a_regression() {
    let dir = scratch("regression");
    let csv = dir.join("line.csv");
    let mut text = String::from("a,b,y\n");
    for i in 0..100 {
        let (a, b) = ((i % 10) as f64 / 10.0, (i / 10) as f64 / 10.0);
        text += &format!("{a},{b},{}\n", 2.0 * a - b + 0.5);
    }
    fs::write(&csv, text).unwrap();
    let model = dir.join("m.safetensors");
    let v = json(&[
        "train",
        "--data",
        p(&csv),
        "--target",
        "y",
        "--regression",
        "--model",
        "2-16-1",
        "--epochs",
        "100",
        "--batch",
        "10",
        "--lr",
        "0.01",
        "--json",
        "--save",
        p(&model),
    ]);
    assert!(v["train_loss"].as_f64().unwrap() < 0.01, "{v}");
    assert_eq!(v["test_accuracy"], Value::Null);
    let v = json(&[
        "predict",
        "--model",
        p(&model),
        "--data",
        p(&csv),
        "--target",
        "y",
        "--json",
    ]);
    let first = v["predictions"][0].as_f64().unwrap();
    assert!((first - 0.5).abs() < 0.2, "{v}");
    assert_eq!(v["accuracy"], Value::Null);
}

#[test]
fn sgd_takes_momentum_and_nesterov_as_pytorch_does() {
    let dir = scratch("nesterov");
    let base = ["train", "--data", "iris", "--json"];
    let run = |extra: &[&str]| json(&[&base[..], extra].concat());
    let three = |extra: &[&str]| run(&[extra, &["--epochs", "3"]].concat());
    let plain = three(&["--optimizer", "sgd"]);
    let momentum = three(&["--optimizer", "sgd", "--momentum", "0.9"]);
    let nesterov = three(&["--optimizer", "sgd", "--momentum", "0.9", "--nesterov"]);
    assert_ne!(plain["train_loss"], momentum["train_loss"]);
    assert_ne!(momentum["train_loss"], nesterov["train_loss"]);
    // The registry's names are the same optimizers.
    assert_eq!(
        three(&["--optimizer", "momentum"])["train_loss"],
        momentum["train_loss"]
    );
    assert_eq!(
        three(&["--optimizer", "nesterov"])["train_loss"],
        nesterov["train_loss"]
    );
    // Nesterov momentum needs a momentum, as in PyTorch.
    assert_bad_input(
        &["train", "--data", "iris", "--optimizer", "sgd", "--nesterov"],
        "Nesterov momentum requires a momentum > 0 and zero dampening (got momentum 0, dampening 0)",
    );
    assert_bad_input(
        &["train", "--data", "iris", "--optimizer", "rmsprop"],
        "unknown optimizer 'rmsprop' (expected one of sgd, momentum, nesterov, adam, adamw)",
    );
    // A Nesterov run resumes to the same weights, and keeps its Nesterov momentum.
    let (straight, ckpt, resumed) = (
        dir.join("straight.safetensors"),
        dir.join("ckpt.safetensors"),
        dir.join("resumed.safetensors"),
    );
    let nesterov_args = ["--optimizer", "sgd", "--momentum", "0.9", "--nesterov"];
    three(&[&nesterov_args[..], &["--save", p(&straight)]].concat());
    run(&[
        &nesterov_args[..],
        &["--epochs", "1", "--checkpoint", p(&ckpt)],
    ]
    .concat());
    json(&[
        "train",
        "--resume",
        p(&ckpt),
        "--epochs",
        "3",
        "--save",
        p(&resumed),
        "--json",
    ]);
    let load = |path: &Path| chainrule::model_file::ModelFile::load(path).unwrap();
    assert_eq!(load(&straight), load(&resumed));
    let plain_ckpt = dir.join("plain.safetensors");
    run(&[
        "--optimizer",
        "sgd",
        "--momentum",
        "0.9",
        "--epochs",
        "1",
        "--checkpoint",
        p(&plain_ckpt),
    ]);
    assert!(!load(&plain_ckpt)
        .metadata
        .contains_key("checkpoint_nesterov"));
    assert_bad_input(
        &["train", "--resume", p(&plain_ckpt), "--nesterov"],
        &format!(
            "--nesterov true, but the checkpoint {} was made with --nesterov false",
            plain_ckpt.display()
        ),
    );
}
