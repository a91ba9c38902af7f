//! Convolutional networks as a user runs them, and the bad input of convolutional work: layers
//! that do not fit their input, image shapes that do not fit the data, model files that do not
//! fit the data, truncated gzipped files. Each is refused with exit 2, the op or file and the
//! sizes named, and nothing written.

mod common;
use common::*;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn json(args: &[&str]) -> Value {
    let o = chainrule(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

/// An IDX file of `n` unsigned-byte images of `h`×`w` (pixel values from the image's class, so
/// the classes can be learnt) and its label file, two classes.
fn idx_pair(n: u32, h: u32, w: u32) -> (Vec<u8>, Vec<u8>) {
    let mut images = vec![0, 0, 8, 3];
    let mut labels = vec![0, 0, 8, 1];
    for v in [n, h, w] {
        images.extend(v.to_be_bytes());
    }
    labels.extend(n.to_be_bytes());
    for i in 0..n {
        let c = (i % 2) as u8;
        for k in 0..h * w {
            let left = k % w < w / 2;
            images.push(if left == (c == 0) {
                200
            } else {
                (k * 7 % 40) as u8
            });
        }
        labels.push(c);
    }
    (images, labels)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A file that a refused command must leave as it was.
fn keep(dir: &Path) -> PathBuf {
    let path = dir.join("keep.safetensors");
    fs::write(&path, "keep me").unwrap();
    path
}

#[test]
fn layers_that_do_not_fit_are_refused_naming_the_layer_and_the_sizes() {
    let dir = scratch("conv-layers");
    let existing = keep(&dir);
    let cases = [
        (
            "c8k9p0-10",
            "layer 1 of the network (c8k9p0) does not fit: its kernel 9×9 (spanning 9×9) is \
             larger than its padded input 8×8 (1 channel of 8×8, padding 0)",
        ),
        (
            "c8k5d3-10",
            "layer 1 of the network (c8k5d3) does not fit: its kernel 5×5 (spanning 13×13) is \
             larger than its padded input 12×12 (1 channel of 8×8, padding 2)",
        ),
        (
            "c8s0-10",
            "layer 1 of the network (c8s0) does not fit: the stride and the dilation must be at \
             least 1 (stride 0, dilation 1)",
        ),
        (
            "c6-c8g3-10",
            "layer 2 of the network (c8g3) does not fit: 6 input and 8 output channels do not \
             divide into 3 groups",
        ),
        (
            "c8-p2-p2-p4-10",
            "layer 4 of the network (p4) does not fit: its window 4×4 is larger than its input \
             2×2 (8 channels of 2×2)",
        ),
        (
            "p2s0-10",
            "a pooling window and its stride must be at least 1",
        ),
    ];
    for (model, needle) in cases {
        assert_bad_input(
            &[
                "train",
                "--data",
                "digits",
                "--model",
                model,
                "--save",
                p(&existing),
            ],
            needle,
        );
        assert_bad_input(&["explain", "--tensor", "--model", model], needle);
    }
    assert_eq!(fs::read_to_string(&existing).unwrap(), "keep me");
    // A convolution on rows of features that are not images.
    assert_bad_input(
        &["train", "--data", "iris", "--model", "c4-3"],
        "--model c4-3 has convolutions",
    );
}

#[test]
fn an_image_shape_that_does_not_match_the_features_is_refused() {
    let dir = scratch("conv-image");
    let existing = keep(&dir);
    let csv = dir.join("pixels.csv");
    let mut text = String::from("a,b,c,d,e,f,y\n");
    for i in 0..20 {
        text += &format!("{},{},1,2,3,4,{}\n", i, i * 2, i % 2);
    }
    fs::write(&csv, text).unwrap();
    let train = |image: &str| {
        vec![
            "train".to_string(),
            "--data".into(),
            p(&csv).into(),
            "--target".into(),
            "y".into(),
            "--image".into(),
            image.into(),
            "--model".into(),
            "c2-2".into(),
            "--save".into(),
            p(&existing).into(),
        ]
    };
    for (image, needle) in [
        (
            "1x2x2",
            "--image 1x2x2: images of 1x2x2 hold 4 values, but the data has 6 features per \
             sample",
        ),
        (
            "2x2x2",
            "images of 2x2x2 hold 8 values, but the data has 6 features",
        ),
        ("1x2", "1x2"),
        ("0x2x3", "0x2x3"),
    ] {
        let args = train(image);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad_input(&args, needle);
    }
    // The shape that fits trains.
    let args = train("1x2x3");
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.truncate(args.len() - 2);
    args.extend(["--epochs", "1", "--json"]);
    assert_eq!(json(&args)["epochs"], 1);
    assert_eq!(fs::read_to_string(&existing).unwrap(), "keep me");
}

#[test]
fn a_convolutional_model_file_that_does_not_fit_the_data_is_refused() {
    let dir = scratch("conv-model");
    let model = dir.join("cnn.safetensors");
    let o = chainrule(&[
        "train",
        "--data",
        "digits",
        "--model",
        "c4-p2-10",
        "--epochs",
        "1",
        "--save",
        p(&model),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = fs::read(&model).unwrap();
    assert_bad_input(
        &["predict", "--model", p(&model), "--data", "iris"],
        "cnn.safetensors: the model (c4-p2-10) takes 1x8x8 images (64 features) but --data \
         iris has rows of 4 features",
    );
    // As many pixels as the digits, in another shape.
    let (images, labels) = idx_pair(6, 4, 16);
    let (imgs, labs) = (dir.join("wide.idx"), dir.join("wide-labels.idx"));
    fs::write(&imgs, images).unwrap();
    fs::write(&labs, labels).unwrap();
    assert_bad_input_saying(
        &[
            "predict",
            "--model",
            p(&model),
            "--data",
            p(&imgs),
            "--labels",
            p(&labs),
        ],
        &[
            "the model (c4-p2-10) takes 1x8x8 images (64 features) but --data",
            "has 1x4x16 images (64 features)",
        ],
    );
    // A file whose images are of another size than its convolutions' weights were made for.
    let mut file = chainrule::model_file::ModelFile::load(&model).unwrap();
    file.metadata.insert("input_shape".into(), "1x6x6".into());
    let other = dir.join("other.safetensors");
    file.save(&other).unwrap();
    assert_bad_input(
        &["predict", "--model", p(&other), "--data", "digits"],
        "other.safetensors: the standardisation has 64 means and 64 deviations but the network \
         takes 36 inputs",
    );
    file.metadata.remove("standardize_mean");
    file.metadata.remove("standardize_std");
    file.save(&other).unwrap();
    assert_bad_input(
        &["predict", "--model", p(&other), "--data", "digits"],
        "other.safetensors: tensor '4.weight' has shape [10, 64] but the architecture needs \
         [10, 36]",
    );
    file.metadata.insert("input_shape".into(), "1x1x1".into());
    file.save(&other).unwrap();
    assert_bad_input(
        &["predict", "--model", p(&other), "--data", "digits"],
        "other.safetensors: metadata 'architecture' on 1x1x1 images: layer 2 of the network \
         (p2) does not fit",
    );
    assert_eq!(
        fs::read(&model).unwrap(),
        bytes,
        "the model file is untouched"
    );
}

#[test]
fn truncated_gzip_files_are_refused_naming_the_file() {
    let dir = scratch("conv-gzip");
    let existing = keep(&dir);
    let (images, labels) = idx_pair(40, 4, 4);
    let (imgs, labs) = (dir.join("images.idx.gz"), dir.join("labels.idx.gz"));
    let whole = gzip(&images);
    fs::write(&labs, gzip(&labels)).unwrap();
    // The whole file trains.
    fs::write(&imgs, &whole).unwrap();
    let v = json(&[
        "train",
        "--data",
        p(&imgs),
        "--labels",
        p(&labs),
        "--model",
        "c2-2",
        "--epochs",
        "1",
        "--json",
    ]);
    assert_eq!(v["epochs"], 1);
    for cut in [whole.len() / 2, whole.len() - 9, 12] {
        fs::write(&imgs, &whole[..cut]).unwrap();
        let args = [
            "train",
            "--data",
            p(&imgs),
            "--labels",
            p(&labs),
            "--model",
            "c2-2",
            "--save",
            p(&existing),
        ];
        assert_bad_input(&args, "images.idx.gz");
        let err = stderr(&chainrule(&args));
        assert!(err.contains("truncated"), "cut at {cut}: {err}");
    }
    // The same in Fashion-MNIST's folder: the file is named.
    let fashion = dir.join("fashion");
    fs::create_dir(&fashion).unwrap();
    let (train, train_labels) = idx_pair(20, 28, 28);
    let (test, test_labels) = idx_pair(10, 28, 28);
    let train_gz = gzip(&train);
    for (name, bytes) in [
        (
            "train-images-idx3-ubyte.gz",
            &train_gz[..train_gz.len() / 3],
        ),
        ("train-labels-idx1-ubyte.gz", &gzip(&train_labels)[..]),
        ("t10k-images-idx3-ubyte.gz", &gzip(&test)[..]),
        ("t10k-labels-idx1-ubyte.gz", &gzip(&test_labels)[..]),
    ] {
        fs::write(fashion.join(name), bytes).unwrap();
    }
    let args = [
        "train",
        "--data",
        "fashion-mnist",
        "--data-dir",
        p(&fashion),
        "--model",
        "cnn",
        "--save",
        p(&existing),
    ];
    assert_bad_input(&args, "train-images-idx3-ubyte.gz");
    assert!(stderr(&chainrule(&args)).contains("truncated"));
    assert_eq!(fs::read_to_string(&existing).unwrap(), "keep me");
}

#[test]
fn a_convolutional_run_is_the_same_for_the_same_seed() {
    let args = [
        "train",
        "--data",
        "digits",
        "--model",
        "c4bn-p2-f16-d0.2-10",
        "--epochs",
        "2",
        "--json",
    ];
    let (mut a, mut b) = (json(&args), json(&args));
    // Everything but the time taken.
    a.as_object_mut().unwrap().remove("seconds");
    b.as_object_mut().unwrap().remove("seconds");
    assert_eq!(a, b);
    // Two epochs, most of them warming up: well above chance (0.1) already.
    assert!(a["test_accuracy"].as_f64().unwrap() > 0.4, "{a}");
    let mut other = args.to_vec();
    other.extend(["--seed", "1"]);
    assert_ne!(json(&other)["train_loss"], a["train_loss"]);
}
