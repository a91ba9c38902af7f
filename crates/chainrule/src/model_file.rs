//! Model and checkpoint files in the safetensors format, readable by PyTorch's
//! `safetensors.torch.load_file`.
//!
//! A [`ModelFile`] is a list of named tensors plus string metadata (the architecture, the epoch of
//! a checkpoint, ...). Tensors hold f32 values; a counter such as batch normalisation's
//! `num_batches_tracked` is stored as a 64-bit integer ([`ElementType::I64`]), as in PyTorch's
//! `state_dict`. Saving is atomic; loading checks the whole file (header length,
//! offsets, shapes against byte lengths, data types) before trusting any of it, and every error
//! names the file and, where there is one, the tensor.
//!
//! ```
//! use chainrule::model_file::{ModelFile, NamedTensor};
//!
//! let dir = std::env::temp_dir().join(format!("chainrule-mf-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("model.safetensors");
//! let mut file = ModelFile::default();
//! file.tensors.push(NamedTensor::new("0.weight", vec![2, 3], vec![1.0; 6]).unwrap());
//! file.metadata.insert("architecture".into(), "3-2".into());
//! file.save(&path).unwrap();
//! let back = ModelFile::load(&path).unwrap();
//! assert_eq!(back, file);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors};

use crate::util::files::write_atomically;

/// How a tensor's values are stored in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElementType {
    /// 32-bit floats (`F32`): parameters, statistics, optimizer state.
    #[default]
    F32,
    /// 64-bit signed integers (`I64`): counters, as PyTorch stores `num_batches_tracked`. The
    /// values are held as f32 in memory, which is exact up to 2^24; they are rounded to the
    /// nearest integer when written.
    I64,
}

/// One named tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// The tensor's name, as in a PyTorch `state_dict` (`0.weight`).
    pub name: String,
    /// Its shape (`[]` for a single number, as PyTorch's 0-dimensional tensors).
    pub shape: Vec<usize>,
    /// Its values, row-major; as many as the shape's product.
    pub data: Vec<f32>,
    /// How the values are stored in the file.
    pub dtype: ElementType,
}

/// A tensor that cannot be stored: its values disagree with its shape, or its name cannot be
/// used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NamedTensorError {
    /// A shape whose number of values does not fit in memory.
    TooLarge {
        /// The tensor.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// Not as many values as the shape calls for.
    WrongLength {
        /// The tensor.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// The number of values the shape calls for.
        needs: usize,
        /// The number given.
        got: usize,
    },
    /// `__metadata__`, or a name two tensors share.
    BadName {
        /// The name.
        name: String,
    },
}

impl fmt::Display for NamedTensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamedTensorError::TooLarge { name, shape } => {
                write!(f, "tensor '{name}': shape {shape:?} is too large")
            }
            NamedTensorError::WrongLength {
                name,
                shape,
                needs,
                got,
            } => write!(
                f,
                "tensor '{name}': shape {shape:?} needs {needs} values, got {got}"
            ),
            NamedTensorError::BadName { name } => {
                write!(f, "tensor name '{name}' is reserved or repeated")
            }
        }
    }
}

impl std::error::Error for NamedTensorError {}

/// Checks that `data` has as many values as `shape` calls for; returns that number.
fn check_len(name: &str, shape: &[usize], data: &[f32]) -> Result<usize, NamedTensorError> {
    let n = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| NamedTensorError::TooLarge {
            name: name.to_string(),
            shape: shape.to_vec(),
        })?;
    if n != data.len() {
        return Err(NamedTensorError::WrongLength {
            name: name.to_string(),
            shape: shape.to_vec(),
            needs: n,
            got: data.len(),
        });
    }
    Ok(n)
}

impl NamedTensor {
    /// A tensor, if `data` has as many values as `shape` calls for.
    pub fn new(name: &str, shape: Vec<usize>, data: Vec<f32>) -> Result<Self, NamedTensorError> {
        check_len(name, &shape, &data)?;
        Ok(NamedTensor {
            name: name.to_string(),
            shape,
            data,
            dtype: ElementType::F32,
        })
    }

    /// A 0-dimensional 64-bit integer tensor holding `count` (such as `num_batches_tracked`).
    ///
    /// ```
    /// use chainrule::model_file::{ElementType, NamedTensor};
    ///
    /// let t = NamedTensor::count("1.num_batches_tracked", 469);
    /// assert_eq!((t.shape.len(), t.data[0], t.dtype), (0, 469.0, ElementType::I64));
    /// ```
    pub fn count(name: &str, count: u64) -> Self {
        NamedTensor {
            name: name.to_string(),
            shape: Vec::new(),
            data: vec![count as f32],
            dtype: ElementType::I64,
        }
    }
}

/// Named tensors and string metadata, as stored in one safetensors file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelFile {
    /// The tensors, in the order they were added (files store them sorted by name).
    pub tensors: Vec<NamedTensor>,
    /// Free-form metadata (`__metadata__` in the file).
    pub metadata: BTreeMap<String, String>,
}

/// Why a model file could not be read or written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFileError {
    /// The file concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for ModelFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for ModelFileError {}

fn describe(e: &SafeTensorError, file_len: usize) -> String {
    use SafeTensorError::*;
    match e {
        HeaderTooSmall => format!("not a safetensors file: {file_len} bytes is too short for a header"),
        HeaderTooLarge => "not a safetensors file: the header length is implausibly large".into(),
        InvalidHeaderLength => format!(
            "not a safetensors file, or truncated: the header length is larger than the file ({file_len} bytes)"
        ),
        InvalidHeader(_) => "the header is not valid UTF-8 (corrupted file?)".into(),
        InvalidHeaderDeserialization(err) | JsonError(err) => format!("the header is not valid JSON: {err}"),
        TensorInvalidInfo => "a tensor's shape, data type and byte range disagree".into(),
        InvalidOffset(name) => format!("tensor '{name}': its byte range is out of order, overlapping or outside the data"),
        MetadataIncompleteBuffer => "truncated or padded: the tensors do not cover the data exactly".into(),
        ValidationOverflow => "a tensor's shape is too large (its size overflows)".into(),
        other => other.to_string(),
    }
}

impl ModelFile {
    /// The tensor called `name`, if present.
    pub fn get(&self, name: &str) -> Option<&NamedTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The file's bytes in the safetensors format: an 8-byte little-endian header length, a
    /// JSON header (tensors in name order, metadata under `__metadata__`, keys sorted, padded with
    /// spaces to a multiple of 8 bytes), then the tensors' f32 data in the same order. The same
    /// model always gives the same bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, NamedTensorError> {
        let mut order: Vec<&NamedTensor> = self.tensors.iter().collect();
        order.sort_by(|a, b| a.name.cmp(&b.name));
        let mut header = String::from("{");
        let mut first = true;
        let mut entry = |key: &str, value: String| {
            if !first {
                header.push(',');
            }
            first = false;
            header.push_str(&serde_json::Value::String(key.to_string()).to_string());
            header.push(':');
            header.push_str(&value);
        };
        if !self.metadata.is_empty() {
            let fields: Vec<String> = self
                .metadata
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(k.clone()),
                        serde_json::Value::String(v.clone())
                    )
                })
                .collect();
            entry("__metadata__", format!("{{{}}}", fields.join(",")));
        }
        let mut offset = 0usize;
        for (i, t) in order.iter().enumerate() {
            if t.name == "__metadata__" || (i > 0 && order[i - 1].name == t.name) {
                return Err(NamedTensorError::BadName {
                    name: t.name.clone(),
                });
            }
            let n = check_len(&t.name, &t.shape, &t.data)?;
            let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
            let (dtype, size) = match t.dtype {
                ElementType::F32 => ("F32", 4),
                ElementType::I64 => ("I64", 8),
            };
            let end = offset + size * n;
            entry(
                &t.name,
                format!(
                    "{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
                    shape.join(",")
                ),
            );
            offset = end;
        }
        header.push('}');
        while header.len() % 8 != 0 {
            header.push(' ');
        }
        let mut bytes = Vec::with_capacity(8 + header.len() + offset);
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for t in order {
            match t.dtype {
                ElementType::F32 => bytes.extend_from_slice(bytemuck_f32(&t.data)),
                ElementType::I64 => {
                    for &v in &t.data {
                        bytes.extend_from_slice(&(v.round() as i64).to_le_bytes());
                    }
                }
            }
        }
        Ok(bytes)
    }

    /// Reads a file from its bytes; `path` only names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, ModelFileError> {
        let err = |reason: String| ModelFileError {
            path: path.to_path_buf(),
            reason,
        };
        let st = SafeTensors::deserialize(bytes).map_err(|e| err(describe(&e, bytes.len())))?;
        let (_, meta) =
            SafeTensors::read_metadata(bytes).map_err(|e| err(describe(&e, bytes.len())))?;
        let metadata: BTreeMap<String, String> = meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut tensors = Vec::with_capacity(st.len());
        for (name, view) in st.iter() {
            let eight = |c: &[u8]| -> [u8; 8] { c.try_into().expect("8 bytes") };
            let (data, dtype) = match view.dtype() {
                Dtype::F32 => (
                    view.data()
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                    ElementType::F32,
                ),
                Dtype::F64 => (
                    view.data()
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(eight(c)) as f32)
                        .collect(),
                    ElementType::F32,
                ),
                Dtype::I64 => (
                    view.data()
                        .chunks_exact(8)
                        .map(|c| i64::from_le_bytes(eight(c)) as f32)
                        .collect(),
                    ElementType::I64,
                ),
                other => {
                    return Err(err(format!(
                        "tensor '{name}' holds {other:?} values; only F32, F64 and I64 are \
                         supported"
                    )))
                }
            };
            tensors.push(NamedTensor {
                name: name.to_string(),
                shape: view.shape().to_vec(),
                data,
                dtype,
            });
        }
        // Files store tensors sorted by offset; present them in a stable, readable order.
        tensors.sort_by_cached_key(|t| natural_key(&t.name));
        Ok(ModelFile { tensors, metadata })
    }

    /// Writes the file atomically: a crash never leaves a half-written model behind.
    pub fn save(&self, path: &Path) -> Result<(), ModelFileError> {
        let err = |reason: String| ModelFileError {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = self.to_bytes().map_err(|e| err(e.to_string()))?;
        write_atomically(path, &bytes).map_err(|e| err(format!("cannot write: {e}")))
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Self, ModelFileError> {
        let bytes = std::fs::read(path).map_err(|e| ModelFileError {
            path: path.to_path_buf(),
            reason: format!("cannot read: {e}"),
        })?;
        Self::from_bytes(&bytes, path)
    }
}

/// Sorts `2.weight` before `10.weight`.
fn natural_key(name: &str) -> Vec<(u64, String)> {
    name.split('.')
        .map(|part| match part.parse::<u64>() {
            Ok(n) => (n, String::new()),
            Err(_) => (u64::MAX, part.to_string()),
        })
        .collect()
}

/// The little-endian bytes of f32 values, without copying on little-endian machines.
fn bytemuck_f32(data: &[f32]) -> &[u8] {
    #[cfg(target_endian = "little")]
    {
        // SAFETY: f32 has no padding and every bit pattern is a valid u8; the slice covers
        // exactly the same memory.
        unsafe {
            std::slice::from_raw_parts(data.as_ptr() as *const u8, std::mem::size_of_val(data))
        }
    }
    #[cfg(not(target_endian = "little"))]
    compile_error!("model files are written on little-endian machines only");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ModelFile {
        let mut f = ModelFile::default();
        f.tensors.push(
            NamedTensor::new(
                "0.weight",
                vec![3, 2],
                (0..6).map(|i| i as f32 * 0.5).collect(),
            )
            .unwrap(),
        );
        f.tensors
            .push(NamedTensor::new("0.bias", vec![3], vec![0.1, -0.2, 0.3]).unwrap());
        f.tensors
            .push(NamedTensor::new("2.weight", vec![1, 3], vec![1.0, 2.0, 3.0]).unwrap());
        f.tensors
            .push(NamedTensor::new("10.weight", vec![1], vec![4.0]).unwrap());
        f.metadata.insert("architecture".into(), "2-3-1".into());
        f
    }

    fn load_bytes(bytes: &[u8]) -> Result<ModelFile, String> {
        ModelFile::from_bytes(bytes, Path::new("m.safetensors")).map_err(|e| e.to_string())
    }

    #[test]
    fn round_trip_keeps_tensors_in_natural_order_and_metadata() {
        let f = sample();
        let back = load_bytes(&f.to_bytes().unwrap()).unwrap();
        let names: Vec<&str> = back.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["0.bias", "0.weight", "2.weight", "10.weight"]);
        assert_eq!(back.get("0.weight"), f.get("0.weight"));
        assert_eq!(back.metadata, f.metadata);
    }

    #[test]
    fn the_layout_is_the_safetensors_format() {
        // 8-byte little-endian header length, a JSON header, then the raw f32 data.
        let mut f = ModelFile::default();
        f.tensors
            .push(NamedTensor::new("w", vec![2], vec![1.0, -2.0]).unwrap());
        let bytes = f.to_bytes().unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        assert_eq!(header["w"]["dtype"], "F32");
        assert_eq!(header["w"]["shape"], serde_json::json!([2]));
        assert_eq!(header["w"]["data_offsets"], serde_json::json!([0, 8]));
        let data = &bytes[8 + n..];
        assert_eq!(
            data,
            [1.0f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()
        );
    }

    #[test]
    fn hostile_and_broken_files_are_refused_with_a_reason() {
        let good = sample().to_bytes().unwrap();
        assert!(load_bytes(&[]).unwrap_err().contains("too short"));
        assert!(load_bytes(&good[..good.len() - 3])
            .unwrap_err()
            .contains("truncated"));
        let mut long_header = good.clone();
        long_header[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(load_bytes(&long_header)
            .unwrap_err()
            .contains("header length"));
        let mut past_end = good.clone();
        past_end[..8].copy_from_slice(&((good.len() as u64) + 10).to_le_bytes());
        assert!(load_bytes(&past_end)
            .unwrap_err()
            .contains("larger than the file"));
        let mut bad_json = good.clone();
        bad_json[8] = b'[';
        assert!(load_bytes(&bad_json).unwrap_err().contains("JSON"));
        // A shape whose element count overflows.
        let header =
            br#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#;
        let mut overflow = (header.len() as u64).to_le_bytes().to_vec();
        overflow.extend_from_slice(header);
        overflow.extend_from_slice(&[0; 4]);
        assert!(load_bytes(&overflow).is_err());
        // Overlapping tensors.
        let header = br#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        let mut overlap = (header.len() as u64).to_le_bytes().to_vec();
        overlap.extend_from_slice(header);
        overlap.extend_from_slice(&[0; 4]);
        assert!(load_bytes(&overlap).is_err());
        // An unsupported data type names the tensor.
        let header = br#"{"ids":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#;
        let mut ints = (header.len() as u64).to_le_bytes().to_vec();
        ints.extend_from_slice(header);
        ints.extend_from_slice(&[0; 8]);
        assert!(load_bytes(&ints)
            .unwrap_err()
            .contains("tensor 'ids' holds I32"));
    }

    #[test]
    fn the_same_model_always_gives_the_same_bytes() {
        let mut f = sample();
        for i in 0..20 {
            f.metadata.insert(format!("key{i}"), format!("value {i}"));
        }
        let bytes = f.to_bytes().unwrap();
        let mut shuffled = f.clone();
        shuffled.tensors.reverse();
        assert_eq!(shuffled.to_bytes().unwrap(), bytes);
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0, "the header is padded to 8 bytes");
        assert_eq!(load_bytes(&bytes).unwrap().metadata, f.metadata);
    }

    #[test]
    fn counters_are_64_bit_integers_of_no_dimension_as_in_pytorch() {
        let mut f = ModelFile::default();
        f.tensors
            .push(NamedTensor::count("bn.num_batches_tracked", 70_000));
        f.tensors
            .push(NamedTensor::new("bn.running_mean", vec![1], vec![0.5]).unwrap());
        let bytes = f.to_bytes().unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let t = &header["bn.num_batches_tracked"];
        assert_eq!(t["dtype"], "I64");
        assert_eq!(t["shape"], serde_json::json!([]));
        assert_eq!(t["data_offsets"], serde_json::json!([0, 8]));
        assert_eq!(&bytes[8 + n..8 + n + 8], 70_000i64.to_le_bytes());
        let back = load_bytes(&bytes).unwrap();
        assert_eq!(
            back.get("bn.num_batches_tracked"),
            f.get("bn.num_batches_tracked")
        );
        assert_eq!(back.get("bn.running_mean").unwrap().dtype, ElementType::F32);
    }

    #[test]
    fn a_tensor_must_match_its_shape() {
        assert!(NamedTensor::new("w", vec![2, 2], vec![0.0; 3]).is_err());
        assert!(NamedTensor::new("w", vec![usize::MAX, 2], vec![]).is_err());
    }

    #[test]
    fn saving_is_atomic_and_loading_names_the_file() {
        let dir = std::env::temp_dir().join(format!("chainrule-mf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        sample().save(&path).unwrap();
        assert_eq!(ModelFile::load(&path).unwrap().tensors.len(), 4);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        let missing = ModelFile::load(&dir.join("nope.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("nope.safetensors: cannot read"),
            "{missing}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
