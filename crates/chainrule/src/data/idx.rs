//! The IDX file format of MNIST and its relatives.
//!
//! An IDX file is a 4-byte magic number (two zero bytes, a type byte, the number of dimensions),
//! then each dimension as a big-endian `u32`, then the elements in row-major order. MNIST's image
//! files are 3-D arrays of unsigned bytes (`count × 28 × 28`, magic `0x00000803`) and its label
//! files 1-D arrays of unsigned bytes (magic `0x00000801`).
//!
//! Sizes are checked against the file's length *before* anything large is allocated, so a header
//! that claims 2^32 images fails at once with a message instead of exhausting memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::{DataError, Dataset, Targets};

/// The type byte of unsigned bytes, the only element type read here.
const TYPE_U8: u8 = 0x08;

/// An n-dimensional array of bytes read from an IDX file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The size of each dimension, outermost first (`[60000, 28, 28]` for MNIST's images).
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// The number of items along the first dimension (images, labels).
    pub fn count(&self) -> usize {
        self.dims.first().copied().unwrap_or(0)
    }

    /// The number of bytes per item (the product of all but the first dimension).
    pub fn item_len(&self) -> usize {
        self.dims.iter().skip(1).product()
    }

    /// Parses an IDX array held in memory; `source` names it in errors.
    pub fn parse(bytes: &[u8], source: &str) -> Result<IdxArray, DataError> {
        let mut reader = bytes;
        read_from(&mut reader, bytes.len() as u64, source)
    }
}

fn idx_error(path: &str, message: String) -> DataError {
    DataError::Idx {
        path: path.to_string(),
        message,
    }
}

fn type_name(t: u8) -> &'static str {
    match t {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => "unknown type",
    }
}

/// Reads an IDX array of `total_len` bytes from `r`, validating the header against the length.
fn read_from<R: Read>(r: &mut R, total_len: u64, path: &str) -> Result<IdxArray, DataError> {
    let short = |what: &str| idx_error(path, format!("truncated: the file ends inside {what}"));
    let mut magic = [0u8; 4];
    if total_len < 4 {
        return Err(short("the 4-byte magic number"));
    }
    r.read_exact(&mut magic)
        .map_err(|e| read_error(path, e, "the magic number"))?;
    if magic[0] == 0x1f && magic[1] == 0x8b {
        return Err(idx_error(
            path,
            "this is a gzip file; decompress it first (gunzip)".to_string(),
        ));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(idx_error(
            path,
            format!(
                "not an IDX file: the magic number 0x{:02x}{:02x}{:02x}{:02x} does not start with two zero bytes",
                magic[0], magic[1], magic[2], magic[3]
            ),
        ));
    }
    if magic[2] != TYPE_U8 {
        return Err(idx_error(
            path,
            format!(
                "element type 0x{:02x} ({}) is not supported; only unsigned bytes (0x08) are",
                magic[2],
                type_name(magic[2])
            ),
        ));
    }
    let n_dims = magic[3] as usize;
    if n_dims == 0 {
        return Err(idx_error(
            path,
            "the header declares 0 dimensions".to_string(),
        ));
    }
    let header_len = 4 + 4 * n_dims as u64;
    if total_len < header_len {
        return Err(short(&format!("the header of {n_dims} dimensions")));
    }
    let mut dims = Vec::with_capacity(n_dims);
    let mut product: u64 = 1;
    for _ in 0..n_dims {
        let mut d = [0u8; 4];
        r.read_exact(&mut d)
            .map_err(|e| read_error(path, e, "the dimensions"))?;
        let d = u32::from_be_bytes(d);
        dims.push(d as usize);
        product = product.checked_mul(d as u64).ok_or_else(|| {
            idx_error(path, format!("the dimensions {dims:?}... overflow 64 bits"))
        })?;
    }
    let data_len = total_len - header_len;
    if product != data_len {
        return Err(idx_error(
            path,
            format!(
                "the header's dimensions {dims:?} call for {product} bytes of data, but the file has {data_len}{}",
                if product > data_len { " (truncated?)" } else { " (trailing bytes?)" }
            ),
        ));
    }
    let len = usize::try_from(product)
        .map_err(|_| idx_error(path, format!("{product} bytes do not fit in memory")))?;
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)
        .map_err(|e| read_error(path, e, "the data"))?;
    Ok(IdxArray { dims, data })
}

fn read_error(path: &str, e: io::Error, what: &str) -> DataError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        idx_error(path, format!("truncated: the file ends inside {what}"))
    } else {
        DataError::io(path, e)
    }
}

/// Reads an IDX file of unsigned bytes (MNIST's images or labels).
///
/// The magic number, the element type and the number of dimensions are checked, and the product
/// of the dimensions must equal the length of the data exactly; all of this before the data is
/// allocated.
///
/// ```no_run
/// let images = chainrule::data::read_idx("train-images-idx3-ubyte")?;
/// assert_eq!(images.dims, vec![60_000, 28, 28]);
/// # Ok::<(), chainrule::data::DataError>(())
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| DataError::io(&name, e))?;
    let len = file.metadata().map_err(|e| DataError::io(&name, e))?.len();
    let mut reader = io::BufReader::new(file);
    read_from(&mut reader, len, &name)
}

/// Reads an IDX image file and its label file into a classification dataset.
///
/// The image file must have at least two dimensions (`count × ...`; each image is flattened
/// into one row, its bytes scaled to `[0, 1]` by dividing by 255), the label file exactly one,
/// and both the same count. Classes are `0..=max label`, named by their number.
///
/// ```no_run
/// let train = chainrule::data::read_idx_pair(
///     "mnist/train-images-idx3-ubyte",
///     "mnist/train-labels-idx1-ubyte",
/// )?;
/// assert_eq!((train.n_samples, train.n_features, train.n_classes()), (60_000, 784, 10));
/// # Ok::<(), chainrule::data::DataError>(())
/// ```
pub fn read_idx_pair(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
) -> Result<Dataset, DataError> {
    let (ipath, lpath) = (images.as_ref(), labels.as_ref());
    let imgs = read_idx(ipath)?;
    let labs = read_idx(lpath)?;
    pair(
        imgs,
        labs,
        &ipath.display().to_string(),
        &lpath.display().to_string(),
    )
}

/// Which half of MNIST (or of a dataset in the same layout, such as Fashion-MNIST) to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MnistPart {
    /// The 60,000 training images (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`).
    Train,
    /// The 10,000 test images (`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`).
    Test,
}

/// Reads one part of MNIST from a directory holding the four decompressed IDX files, under
/// their usual names (`train-images-idx3-ubyte`, or `train-images.idx3-ubyte` as some mirrors
/// spell it). Pixels are scaled to `[0, 1]`; see [`read_idx_pair`].
///
/// The files are not shipped: download them (about 11 MB gzipped) and `gunzip` them first.
///
/// ```no_run
/// use chainrule::data::{read_mnist, MnistPart};
///
/// let test = read_mnist("mnist", MnistPart::Test)?;
/// assert_eq!((test.n_samples, test.n_features), (10_000, 784));
/// # Ok::<(), chainrule::data::DataError>(())
/// ```
pub fn read_mnist(dir: impl AsRef<Path>, part: MnistPart) -> Result<Dataset, DataError> {
    let dir = dir.as_ref();
    let prefix = match part {
        MnistPart::Train => "train",
        MnistPart::Test => "t10k",
    };
    let find = |what: &str, dims: u8| -> Result<std::path::PathBuf, DataError> {
        let names = [
            format!("{prefix}-{what}-idx{dims}-ubyte"),
            format!("{prefix}-{what}.idx{dims}-ubyte"),
        ];
        for n in &names {
            let p = dir.join(n);
            if p.is_file() {
                return Ok(p);
            }
        }
        let gz = dir.join(format!("{}.gz", names[0]));
        let hint = if gz.is_file() {
            format!("; {} is there: decompress it first (gunzip)", gz.display())
        } else {
            String::new()
        };
        Err(DataError::Io {
            path: dir.join(&names[0]).display().to_string(),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no MNIST {what} file (looked for {} and {}){hint}",
                    names[0], names[1]
                ),
            ),
        })
    };
    let images = find("images", 3)?;
    let labels = find("labels", 1)?;
    read_idx_pair(images, labels)
}

fn pair(imgs: IdxArray, labs: IdxArray, ipath: &str, lpath: &str) -> Result<Dataset, DataError> {
    if imgs.dims.len() < 2 {
        return Err(idx_error(
            ipath,
            format!(
                "an image file needs at least 2 dimensions (count × pixels), this one has {:?}",
                imgs.dims
            ),
        ));
    }
    if labs.dims.len() != 1 {
        return Err(idx_error(
            lpath,
            format!("a label file has 1 dimension, this one has {:?}", labs.dims),
        ));
    }
    if imgs.count() != labs.count() {
        return Err(DataError::Mismatch {
            message: format!(
                "{ipath} holds {} images but {lpath} holds {} labels",
                imgs.count(),
                labs.count()
            ),
        });
    }
    let n_features = imgs.item_len();
    let n_classes = labs
        .data
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m as usize + 1);
    let features = imgs.data.iter().map(|&b| b as f32 / 255.0).collect();
    Ok(Dataset {
        features,
        n_samples: labs.count(),
        n_features,
        feature_names: None,
        targets: Targets::Classes {
            labels: labs.data.iter().map(|&l| l as usize).collect(),
            n_classes,
            names: (0..n_classes).map(|k| k.to_string()).collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn idx_bytes(type_byte: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, type_byte, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("chainrule-idx-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
        fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn reads_images_and_labels_into_a_dataset() {
        let dir = TempDir::new("good");
        let pixels: Vec<u8> = (0..3 * 2 * 2).map(|i| (i * 20) as u8).collect();
        let images = dir.write("images", &idx_bytes(0x08, &[3, 2, 2], &pixels));
        let labels = dir.write("labels", &idx_bytes(0x08, &[3], &[7, 0, 2]));
        let a = read_idx(&images).unwrap();
        assert_eq!(a.dims, vec![3, 2, 2]);
        assert_eq!((a.count(), a.item_len()), (3, 4));
        assert_eq!(a.data, pixels);
        let d = read_idx_pair(&images, &labels).unwrap();
        assert_eq!((d.n_samples, d.n_features, d.n_classes()), (3, 4, 8));
        assert_eq!(d.labels().unwrap(), &[7, 0, 2]);
        assert_eq!(d.row(1)[0], 80.0 / 255.0);
        assert_eq!(d.class_names()[7], "7");
    }

    #[test]
    fn truncated_files_are_refused() {
        let full = idx_bytes(0x08, &[2, 3], &[1, 2, 3, 4, 5, 6]);
        for cut in [0, 2, 4, 7, 11, 12, 13] {
            let e = IdxArray::parse(&full[..cut], "t.idx")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("t.idx: truncated") || e.contains("(truncated?)"),
                "cut {cut}: {e}"
            );
        }
        let mut long = full.clone();
        long.push(0);
        let e = IdxArray::parse(&long, "t.idx").unwrap_err().to_string();
        assert!(
            e.contains("call for 6 bytes of data, but the file has 7 (trailing bytes?)"),
            "{e}"
        );
        assert!(IdxArray::parse(&full, "t.idx").is_ok());
    }

    #[test]
    fn hostile_headers_fail_without_allocating() {
        let dir = TempDir::new("hostile");
        // 2^32 - 1 images of 28 × 28 in a 16-byte file: refused from the header alone.
        let huge = dir.write("huge", &idx_bytes(0x08, &[u32::MAX, 28, 28], &[]));
        let e = read_idx(&huge).unwrap_err().to_string();
        let claimed = u32::MAX as u64 * 28 * 28;
        assert!(
            e.contains(&format!(
                "call for {claimed} bytes of data, but the file has 0"
            )),
            "{e}"
        );
        // Dimensions whose product overflows 64 bits.
        let over = idx_bytes(0x08, &[u32::MAX; 3], &[]);
        let e = IdxArray::parse(&over, "o").unwrap_err().to_string();
        assert!(e.contains("overflow"), "{e}");
        // 255 dimensions declared, file too short for the header.
        let e = IdxArray::parse(&[0, 0, 8, 255, 0, 0], "d")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("truncated: the file ends inside the header of 255 dimensions"),
            "{e}"
        );
        let e = IdxArray::parse(&[0, 0, 8, 0], "z").unwrap_err().to_string();
        assert!(e.contains("0 dimensions"), "{e}");
    }

    #[test]
    fn bad_magic_types_and_gzip_are_named() {
        let e = IdxArray::parse(&idx_bytes(0x0D, &[1], &[0, 0, 0, 0]), "f").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f: element type 0x0d (32-bit float) is not supported; only unsigned bytes (0x08) are"
        );
        let e = IdxArray::parse(b"PK\x03\x04rest", "zip")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an IDX file"), "{e}");
        let e = IdxArray::parse(&[0x1f, 0x8b, 8, 0, 0], "gz")
            .unwrap_err()
            .to_string();
        assert!(e.contains("gzip"), "{e}");
        let e = read_idx("/nonexistent/chainrule/file").unwrap_err();
        assert!(matches!(e, DataError::Io { .. }));
    }

    #[test]
    fn mnist_files_are_found_by_their_usual_names() {
        let dir = TempDir::new("mnist");
        let e = read_mnist(&dir.0, MnistPart::Test).unwrap_err().to_string();
        assert!(e.contains("no MNIST images file"), "{e}");
        dir.write("t10k-images-idx3-ubyte.gz", &[0x1f, 0x8b]);
        let e = read_mnist(&dir.0, MnistPart::Test).unwrap_err().to_string();
        assert!(e.contains("gunzip"), "{e}");
        dir.write(
            "t10k-images-idx3-ubyte",
            &idx_bytes(0x08, &[2, 2, 2], &[0; 8]),
        );
        dir.write("t10k-labels.idx1-ubyte", &idx_bytes(0x08, &[2], &[3, 1]));
        let d = read_mnist(&dir.0, MnistPart::Test).unwrap();
        assert_eq!((d.n_samples, d.n_features, d.n_classes()), (2, 4, 4));
        assert!(read_mnist(&dir.0, MnistPart::Train).is_err());
    }

    #[test]
    fn pairs_must_agree() {
        let dir = TempDir::new("pair");
        let images = dir.write("images", &idx_bytes(0x08, &[2, 2], &[0, 1, 2, 3]));
        let labels3 = dir.write("labels3", &idx_bytes(0x08, &[3], &[0, 1, 2]));
        let e = read_idx_pair(&images, &labels3).unwrap_err().to_string();
        assert!(
            e.ends_with("holds 2 images but ") || e.contains("holds 2 images but"),
            "{e}"
        );
        assert!(e.contains("holds 3 labels"), "{e}");
        let flat = dir.write("flat", &idx_bytes(0x08, &[2], &[0, 1]));
        assert!(read_idx_pair(&flat, &flat)
            .unwrap_err()
            .to_string()
            .contains("at least 2"));
        let labels2d = dir.write("labels2d", &idx_bytes(0x08, &[2, 1], &[0, 1]));
        assert!(read_idx_pair(&images, &labels2d)
            .unwrap_err()
            .to_string()
            .contains("a label file has 1 dimension"));
    }
}
