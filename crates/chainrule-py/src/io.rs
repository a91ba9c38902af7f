//! Model files (safetensors, shared with the command line) and the data sets the library ships.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chainrule::data::Targets;
use chainrule::model_file::{ModelFile, NamedTensor};
use chainrule::train::Network;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{invalid, ModelFileError};
use crate::tensor::py::{h_value, is_f64, PyTensor};
use crate::tensor::state::Handle;
use chainrule::tensor::Array;

/// Writes `tensors` (a dict of name to tensor or array) to a safetensors file, with `metadata`
/// (a dict of strings), as the command line writes models. Values are stored as float32.
#[pyfunction]
#[pyo3(signature = (tensors, path, metadata = None))]
pub fn save(
    tensors: &Bound<'_, PyDict>,
    path: PathBuf,
    metadata: Option<HashMap<String, String>>,
) -> PyResult<()> {
    let mut file = ModelFile::default();
    for (k, v) in tensors.iter() {
        let name: String = k.extract()?;
        let t = match v.cast::<PyTensor>() {
            Ok(t) => t.clone(),
            Err(_) => Bound::new(
                v.py(),
                PyTensor::new(Handle::owned(
                    crate::tensor::convert::array_from_py::<f32>(&v)?,
                    false,
                )),
            )?,
        };
        let h = t.get().handle();
        let (shape, data) = if is_f64(h) {
            let a = h_value::<f64>(h)?;
            (
                a.shape().to_vec(),
                a.data().iter().map(|&x| x as f32).collect(),
            )
        } else {
            let a = h_value::<f32>(h)?;
            (a.shape().to_vec(), a.to_vec())
        };
        file.tensors
            .push(NamedTensor::new(&name, shape, data).map_err(invalid)?);
    }
    file.metadata = metadata.unwrap_or_default().into_iter().collect();
    file.save(&path)
        .map_err(|e| ModelFileError::new_err(e.to_string()))
}

fn read(path: &std::path::Path) -> PyResult<ModelFile> {
    ModelFile::load(path).map_err(|e| ModelFileError::new_err(e.to_string()))
}

fn tensors_dict<'py>(py: Python<'py>, file: &ModelFile) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for t in &file.tensors {
        let a = Array::from_vec(t.data.clone(), &t.shape).map_err(crate::errors::shape)?;
        d.set_item(
            &t.name,
            Bound::new(py, PyTensor::new(Handle::owned(a, false)))?,
        )?;
    }
    Ok(d)
}

/// The tensors of a safetensors file as a dict of name to tensor (as
/// `safetensors.torch.load_file`). A file that is not a valid safetensors file raises
/// `ModelFileError`, naming the file and what is wrong.
#[pyfunction]
pub fn load<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    tensors_dict(py, &read(&path)?)
}

/// The metadata of a safetensors file, a dict of strings.
#[pyfunction]
pub fn load_metadata(path: PathBuf) -> PyResult<BTreeMap<String, String>> {
    Ok(read(&path)?.metadata)
}

/// One layer of a convolutional network as `chainrule.nn` builds it: the class name and its
/// keyword arguments (PyTorch's), in the order of the file's `torch.nn.Sequential`.
fn conv_layers<'py>(
    py: Python<'py>,
    spec: &chainrule::nn::ConvSpec,
) -> PyResult<Vec<(String, Bound<'py, PyDict>)>> {
    use chainrule::nn::LayerSpec;
    let act = spec.activation.torch_class();
    let mut out: Vec<(String, Bound<'py, PyDict>)> = Vec::new();
    for (layer, before, last) in spec.walk() {
        let kw = PyDict::new(py);
        match *layer {
            LayerSpec::Conv {
                channels,
                kernel,
                stride,
                padding,
                dilation,
                groups,
                batch_norm,
            } => {
                kw.set_item("in_channels", before[0])?;
                kw.set_item("out_channels", channels)?;
                kw.set_item("kernel_size", kernel)?;
                kw.set_item("stride", stride)?;
                kw.set_item("padding", padding)?;
                kw.set_item("dilation", dilation)?;
                kw.set_item("groups", groups)?;
                kw.set_item("bias", !batch_norm)?;
                out.push(("Conv2d".into(), kw));
                if batch_norm {
                    let bn = PyDict::new(py);
                    bn.set_item("num_features", channels)?;
                    out.push(("BatchNorm2d".into(), bn));
                }
                out.push((act.into(), PyDict::new(py)));
            }
            LayerSpec::MaxPool { kernel, stride } | LayerSpec::AvgPool { kernel, stride } => {
                kw.set_item("kernel_size", kernel)?;
                kw.set_item("stride", stride)?;
                let kind = if matches!(layer, LayerSpec::MaxPool { .. }) {
                    "MaxPool2d"
                } else {
                    "AvgPool2d"
                };
                out.push((kind.into(), kw));
            }
            LayerSpec::GlobalAvgPool => {
                kw.set_item("output_size", 1)?;
                out.push(("AdaptiveAvgPool2d".into(), kw));
            }
            LayerSpec::Dropout(p) => {
                kw.set_item("p", p)?;
                out.push(("Dropout".into(), kw));
            }
            LayerSpec::Dense {
                features,
                batch_norm,
            } => {
                if before.len() > 1 {
                    out.push(("Flatten".into(), PyDict::new(py)));
                }
                kw.set_item("in_features", before.iter().product::<usize>())?;
                kw.set_item("out_features", features)?;
                out.push(("Linear".into(), kw));
                if !last {
                    if batch_norm {
                        let bn = PyDict::new(py);
                        bn.set_item("num_features", features)?;
                        out.push(("BatchNorm1d".into(), bn));
                    }
                    out.push((act.into(), PyDict::new(py)));
                }
            }
        }
    }
    Ok(out)
}

/// A model file written by `chainrule train --save`, checked as `chainrule predict` checks it,
/// as a dict: `kind` (`"mlp"` or `"conv"`), `loss`, `classes`, `mean` and `std` (or `None`),
/// `tensors` (the parameters and buffers by name), and for a perceptron `sizes`,
/// `activation` and `dropout`, for a convolutional network `input_shape` (`[channels, height,
/// width]`) and `layers` (`(class name, keyword arguments)` in order).
#[pyfunction]
pub fn _load_network<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let file = read(&path)?;
    let net =
        Network::from_file(&file, &path).map_err(|e| ModelFileError::new_err(e.to_string()))?;
    let d = PyDict::new(py);
    match &net.spec {
        chainrule::nn::ModelSpec::Mlp(spec) => {
            d.set_item("kind", "mlp")?;
            d.set_item("sizes", spec.sizes.clone())?;
            d.set_item("activation", spec.activation.torch_class())?;
            d.set_item("dropout", spec.dropout)?;
        }
        chainrule::nn::ModelSpec::Conv(spec) => {
            d.set_item("kind", "conv")?;
            d.set_item("input_shape", spec.input.dims().to_vec())?;
            d.set_item("layers", conv_layers(py, spec)?)?;
        }
    }
    let (mean, std) = match &net.standardizer {
        Some(s) => (Some(s.mean.clone()), Some(s.std.clone())),
        None => (None, None),
    };
    d.set_item("loss", net.loss.name())?;
    d.set_item("classes", net.classes.clone())?;
    d.set_item("mean", mean)?;
    d.set_item("std", std)?;
    let tensors = tensors_dict(py, &file)?;
    d.set_item("tensors", tensors)?;
    Ok(d)
}

/// A language model written by `chainrule train --model gpt --save`, checked as `chainrule
/// generate` checks it: `(config, vocab, tensors)`, the config a dict of nanoGPT's
/// `GPTConfig` fields, `vocab` the characters of the tokens in order.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn _load_gpt<'py>(
    py: Python<'py>,
    path: PathBuf,
) -> PyResult<(Bound<'py, PyDict>, String, Bound<'py, PyDict>)> {
    let file = read(&path)?;
    let lm = chainrule::train::LmModel::from_file(&file, &path)
        .map_err(|e| ModelFileError::new_err(e.to_string()))?;
    let c = lm.gpt.config;
    let d = PyDict::new(py);
    d.set_item("vocab_size", c.vocab_size)?;
    d.set_item("block_size", c.block_size)?;
    d.set_item("n_layer", c.n_layer)?;
    d.set_item("n_head", c.n_head)?;
    d.set_item("n_embd", c.n_embd)?;
    d.set_item("dropout", c.dropout)?;
    d.set_item("bias", c.bias)?;
    d.set_item("tie_weights", c.tie_weights)?;
    let tensors = PyDict::new(py);
    for t in chainrule::nn::Module::state_dict(&lm.gpt) {
        let a = Array::from_vec(t.data.clone(), &t.shape).map_err(crate::errors::shape)?;
        tensors.set_item(
            &t.name,
            Bound::new(py, PyTensor::new(Handle::owned(a, false)))?,
        )?;
    }
    Ok((d, lm.vocab.as_string(), tensors))
}

/// Initial weights of a fully connected layer as the library draws them (PyTorch's):
/// `(weight [out, in], bias [out])`.
#[pyfunction]
pub fn _linear_init<'py>(
    py: Python<'py>,
    in_features: usize,
    out_features: usize,
    seed: u64,
) -> PyResult<(Py<PyTensor>, Py<PyTensor>)> {
    use chainrule::nn::Module;
    let layer = chainrule::nn::Linear::new(
        in_features,
        out_features,
        &mut chainrule::rand::Rng::new(seed),
    );
    let params = layer.named_parameters();
    let w = params[0].1.clone();
    let b = params[1].1.clone();
    Ok((
        Py::new(py, PyTensor::new(Handle::owned(w, true)))?,
        Py::new(py, PyTensor::new(Handle::owned(b, true)))?,
    ))
}

/// A data set the library ships or makes: `(features [n, f] float32, targets, class names,
/// feature names)`, targets int64 labels for classes, float32 values otherwise. `name` is
/// `digits`, `iris` or `moons` (with `n_samples`, `noise`, `seed`).
#[pyfunction]
#[pyo3(signature = (name, n_samples = 200, noise = 0.1, seed = 0))]
#[allow(clippy::type_complexity)]
pub fn _dataset<'py>(
    py: Python<'py>,
    name: &str,
    n_samples: usize,
    noise: f64,
    seed: u64,
) -> PyResult<(
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Vec<String>,
    Option<Vec<String>>,
)> {
    let d = match name {
        "digits" => chainrule::data::digits(),
        "iris" => chainrule::data::iris(),
        "moons" => {
            if !(noise.is_finite() && noise >= 0.0) {
                return Err(invalid(format!(
                    "moons: noise must be a number >= 0, not {noise}"
                )));
            }
            chainrule::data::moons(n_samples, noise, seed)
        }
        other => {
            return Err(invalid(format!(
                "unknown data set '{other}' (expected digits, iris or moons)"
            )))
        }
    };
    let x = PyArray1::from_vec(py, d.features.clone())
        .call_method1("reshape", ((d.n_samples, d.n_features),))?;
    let (y, names) = match &d.targets {
        Targets::Classes { labels, names, .. } => (
            PyArray1::from_vec(py, labels.iter().map(|&l| l as i64).collect::<Vec<_>>()).into_any(),
            names.clone(),
        ),
        Targets::Values(v) => (PyArray1::from_vec(py, v.clone()).into_any(), Vec::new()),
    };
    Ok((x, y, names, d.feature_names.clone()))
}
