#![allow(dead_code)]

// The fuzzed entry points, shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and by the
// corpus replay test of the main crate (`crates/chainrule/tests/fuzz_corpus.rs`), so that what the
// fuzzer explores and what CI replays is the same code.
//
// Each function must return normally for every input: an error value is fine, a panic, a hang or a
// huge allocation is a bug.

use std::path::Path;

use chainrule::data::{CsvOptions, Dataset, IdxArray, TargetColumn, TargetKind};
use chainrule::model_file::ModelFile;
use chainrule::{Expr, Graph};

/// Parses the input as an expression; whatever parses is printed and parsed back, evaluated,
/// recorded on a graph, differentiated numerically and symbolically.
pub fn expr(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(e) = Expr::parse(text) else {
        return;
    };
    // Printing must give text that parses back to an expression that prints the same.
    let printed = e.to_string();
    let again = Expr::parse(&printed).unwrap_or_else(|err| {
        panic!("{text:?} printed as {printed:?}, which does not parse: {err}")
    });
    assert_eq!(
        again.to_string(),
        printed,
        "printing {text:?} is not stable"
    );

    let values: Vec<f64> = (0..e.variables().len())
        .map(|i| [0.5, -1.25, 2.0, 0.0, 3.0][i % 5])
        .collect();
    let y = e.eval(&values);
    let g = Graph::new();
    let built = e.build_with(&g, &values);
    assert_eq!(
        built.output.value().to_bits(),
        y.to_bits(),
        "{text:?}: the graph and eval disagree"
    );
    let grads = g.grad(built.output, &built.inputs);
    assert_eq!(grads.len(), values.len());
    if let Some(first) = e.variables().first() {
        let d = e.derivative(first);
        let _ = d.to_string();
        let _ = d.eval(&values);
    }
}

/// Reads the input as CSV; the first byte chooses the options.
pub fn csv(data: &[u8]) {
    let Some((&opts, text)) = data.split_first() else {
        return;
    };
    let options = CsvOptions {
        target: match opts & 3 {
            0 => TargetColumn::Last,
            1 => TargetColumn::Index(0),
            2 => TargetColumn::Index(2),
            _ => TargetColumn::Name("y".into()),
        },
        kind: if opts & 4 == 0 {
            TargetKind::Classes
        } else {
            TargetKind::Regression
        },
        has_header: opts & 8 == 0,
        delimiter: if opts & 16 == 0 { b',' } else { b';' },
        max_line_bytes: if opts & 32 == 0 { 1 << 20 } else { 16 },
    };
    if let Ok(d) = Dataset::from_csv_reader(text, "fuzz.csv", &options) {
        assert!(d.n_samples > 0);
        assert_eq!(d.features.len(), d.n_samples * d.n_features);
        assert_eq!(d.targets.len(), d.n_samples);
        assert!(d.features.iter().all(|v| v.is_finite()));
        if let Some(labels) = d.labels() {
            assert!(labels.iter().all(|&l| l < d.n_classes()));
        }
    }
}

/// Parses the input as an IDX array.
pub fn idx(data: &[u8]) {
    if let Ok(a) = IdxArray::parse(data, "fuzz.idx") {
        let n: usize = a.dims.iter().product();
        assert_eq!(n, a.data.len());
        assert!(a.data.len() <= data.len());
    }
}

/// Reads the input as a safetensors model file; what loads must save and load back the same.
pub fn model_file(data: &[u8]) {
    let Ok(m) = ModelFile::from_bytes(data, Path::new("fuzz.safetensors")) else {
        return;
    };
    let mut total = 0usize;
    for t in &m.tensors {
        let n = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        assert_eq!(n, Some(t.data.len()), "tensor '{}'", t.name);
        total += t.data.len();
    }
    assert!(total * 4 <= data.len(), "more values than bytes");
    let bytes = m.to_bytes().expect("a loaded file saves");
    let back = ModelFile::from_bytes(&bytes, Path::new("again.safetensors")).expect("and loads");
    assert_eq!(back.metadata, m.metadata);
    assert_eq!(back.tensors.len(), m.tensors.len());
    for (a, b) in back.tensors.iter().zip(&m.tensors) {
        assert_eq!((&a.name, &a.shape), (&b.name, &b.shape));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.data), bits(&b.data));
    }
}
