//! The IDX file format of MNIST and its relatives.
//!
//! An IDX file is a 4-byte magic number (two zero bytes, a type byte, the number of dimensions),
//! then each dimension as a big-endian `u32`, then the elements in row-major order. MNIST's image
//! files are 3-D arrays of unsigned bytes (`count × 28 × 28`, magic `0x00000803`) and its label
//! files 1-D arrays of unsigned bytes (magic `0x00000801`).
//!
//! Files may be gzipped, as MNIST and Fashion-MNIST are distributed; they are read through the
//! `flate2` crate, without a decompressed copy on disk.
//!
//! Sizes are checked against the file's length *before* anything large is allocated, so a header
//! that claims 2^32 images fails at once with a message instead of exhausting memory; so does a
//! gzip file that claims more than its length can decompress to.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::{DataError, Dataset, ImageShape, Targets};

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

    /// Parses an IDX array held in memory, plain or gzipped; `source` names it in errors.
    pub fn parse(bytes: &[u8], source: &str) -> Result<IdxArray, DataError> {
        let len = bytes.len() as u64;
        if is_gzip(bytes) {
            return read_from(&mut MultiGzDecoder::new(bytes), Room::Gzip(len), source);
        }
        let mut reader = bytes;
        read_from(&mut reader, Room::Exactly(len), source)
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

/// The most a gzip file can expand: deflate writes at least one bit per 258 repeated bytes
/// (about 1032 to 1), so a file claiming more data than that for its length is refused from its
/// header, before anything is allocated (a gzip bomb fails there).
const GZIP_MAX_RATIO: u64 = 1032;

/// How much data can follow an IDX header.
#[derive(Clone, Copy)]
enum Room {
    /// A plain file: exactly the bytes after the header.
    Exactly(u64),
    /// A gzip stream of this many compressed bytes: the decompressed length is unknown until
    /// the end, but at most [`GZIP_MAX_RATIO`] times the compressed one.
    Gzip(u64),
}

/// Reads an IDX array from `r`, validating the header against the room there is for data
/// before allocating it.
fn read_from<R: Read>(r: &mut R, room: Room, path: &str) -> Result<IdxArray, DataError> {
    let short = |what: &str| idx_error(path, format!("truncated: the file ends inside {what}"));
    let total_len = match room {
        Room::Exactly(n) => n,
        Room::Gzip(_) => u64::MAX,
    };
    let mut magic = [0u8; 4];
    if total_len < 4 {
        return Err(short("the 4-byte magic number"));
    }
    r.read_exact(&mut magic)
        .map_err(|e| read_error(path, e, "the magic number", room))?;
    if magic[0] == 0x1f && magic[1] == 0x8b {
        return Err(idx_error(
            path,
            "gzip inside gzip: decompress the file once (gunzip) and read that".to_string(),
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
            .map_err(|e| read_error(path, e, "the dimensions", room))?;
        let d = u32::from_be_bytes(d);
        dims.push(d as usize);
        product = product.checked_mul(d as u64).ok_or_else(|| {
            idx_error(path, format!("the dimensions {dims:?}... overflow 64 bits"))
        })?;
    }
    match room {
        Room::Exactly(_) => {
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
        }
        Room::Gzip(compressed) => {
            let most = compressed.saturating_mul(GZIP_MAX_RATIO);
            if product > most {
                return Err(idx_error(
                    path,
                    format!(
                        "the header's dimensions {dims:?} call for {product} bytes of data, but a \
                         gzip file of {compressed} bytes holds at most {most} (a gzip bomb, or a \
                         corrupt header)"
                    ),
                ));
            }
        }
    }
    let len = usize::try_from(product)
        .map_err(|_| idx_error(path, format!("{product} bytes do not fit in memory")))?;
    let data = match room {
        Room::Exactly(_) => {
            let mut data = vec![0u8; len];
            r.read_exact(&mut data)
                .map_err(|e| read_error(path, e, "the data", room))?;
            data
        }
        Room::Gzip(_) => {
            // The buffer grows with the data that actually arrives, never past the header's
            // claim; the stream must then end there (its checksum is verified at the end).
            let mut data = Vec::new();
            let gz = |e: io::Error, got: usize| {
                idx_error(
                    path,
                    format!(
                        "not a valid gzip stream, or truncated: {e} (after {got} of the {product} \
                         bytes of data the header's dimensions {dims:?} call for)"
                    ),
                )
            };
            r.by_ref()
                .take(product)
                .read_to_end(&mut data)
                .map_err(|e| gz(e, 0))?;
            if data.len() < len {
                return Err(idx_error(
                    path,
                    format!(
                        "truncated: the header's dimensions {dims:?} call for {product} bytes of \
                         data, but the decompressed file ends after {}",
                        data.len()
                    ),
                ));
            }
            let mut extra = [0u8; 1];
            match r.read(&mut extra) {
                Ok(0) => {}
                Ok(_) => {
                    return Err(idx_error(
                        path,
                        format!(
                            "the header's dimensions {dims:?} call for {product} bytes of data, \
                             but the decompressed file has more (trailing bytes?)"
                        ),
                    ))
                }
                Err(e) => return Err(gz(e, len)),
            }
            data
        }
    };
    Ok(IdxArray { dims, data })
}

fn read_error(path: &str, e: io::Error, what: &str, room: Room) -> DataError {
    match (e.kind(), room) {
        (io::ErrorKind::UnexpectedEof, Room::Exactly(_)) => {
            idx_error(path, format!("truncated: the file ends inside {what}"))
        }
        (io::ErrorKind::UnexpectedEof, Room::Gzip(_)) => idx_error(
            path,
            format!("truncated: the gzip stream ends inside {what}"),
        ),
        (_, Room::Gzip(_)) => idx_error(
            path,
            format!("not a valid gzip stream, or truncated: {e} (while reading {what})"),
        ),
        _ => DataError::io(path, e),
    }
}

/// Whether `bytes` begin as a gzip file does.
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Reads an IDX file of unsigned bytes (MNIST's images or labels), plain or gzipped (as MNIST
/// and Fashion-MNIST are distributed: `train-images-idx3-ubyte.gz`), which is told by its first
/// bytes, not its name.
///
/// The magic number, the element type and the number of dimensions are checked, and the product
/// of the dimensions must equal the length of the data exactly; all of this before the data is
/// allocated. For a gzipped file the header's claim must also fit in what a gzip file of its
/// length can hold (so a gzip bomb is refused from its header), the data is read up to that
/// claim and no further, and the stream must end there with a valid checksum.
///
/// ```no_run
/// let images = chainrule::data::read_idx("train-images-idx3-ubyte.gz")?;
/// assert_eq!(images.dims, vec![60_000, 28, 28]);
/// # Ok::<(), chainrule::data::DataError>(())
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| DataError::io(&name, e))?;
    let len = file.metadata().map_err(|e| DataError::io(&name, e))?.len();
    let mut reader = io::BufReader::new(file);
    let start = reader.fill_buf().map_err(|e| DataError::io(&name, e))?;
    if is_gzip(start) {
        let mut gz = MultiGzDecoder::new(reader);
        return read_from(&mut gz, Room::Gzip(len), &name);
    }
    read_from(&mut reader, Room::Exactly(len), &name)
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

/// Reads one part of MNIST from a directory holding its IDX files under their usual names,
/// gzipped as distributed (`train-images-idx3-ubyte.gz`) or not (`train-images-idx3-ubyte`, or
/// `train-images.idx3-ubyte` as some mirrors spell it). Pixels are scaled to `[0, 1]`; see
/// [`read_idx_pair`]. Fashion-MNIST has the same layout and names.
///
/// ```no_run
/// use chainrule::data::{read_mnist, MnistPart};
///
/// let test = read_mnist("/usr/share/datasets/fashion-mnist", MnistPart::Test)?;
/// assert_eq!((test.n_samples, test.n_features), (10_000, 784));
/// # Ok::<(), chainrule::data::DataError>(())
/// ```
pub fn read_mnist(dir: impl AsRef<Path>, part: MnistPart) -> Result<Dataset, DataError> {
    let (images, labels) = mnist_files(dir.as_ref(), part)?;
    read_idx_pair(images, labels)
}

/// The image and label files of one part of MNIST in `dir`, as [`read_mnist`] finds them.
pub(crate) fn mnist_files(
    dir: &Path,
    part: MnistPart,
) -> Result<(std::path::PathBuf, std::path::PathBuf), DataError> {
    let prefix = match part {
        MnistPart::Train => "train",
        MnistPart::Test => "t10k",
    };
    let find = |what: &str, dims: u8| -> Result<std::path::PathBuf, DataError> {
        let plain = format!("{prefix}-{what}-idx{dims}-ubyte");
        let names = [
            format!("{plain}.gz"),
            plain.clone(),
            format!("{prefix}-{what}.idx{dims}-ubyte"),
        ];
        for n in &names {
            let p = dir.join(n);
            if p.is_file() {
                return Ok(p);
            }
        }
        Err(DataError::Io {
            path: dir.join(&names[0]).display().to_string(),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no MNIST {what} file (looked for {}, {} and {})",
                    names[0], names[1], names[2]
                ),
            ),
        })
    };
    Ok((find("images", 3)?, find("labels", 1)?))
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
    // Images keep their shape: count × height × width is one channel, count × channels × height
    // × width is several.
    let image = match imgs.dims[1..] {
        [h, w] => Some(ImageShape::new(1, h, w)),
        [c, h, w] => Some(ImageShape::new(c, h, w)),
        _ => None,
    };
    Ok(Dataset {
        features,
        n_samples: labs.count(),
        n_features,
        feature_names: None,
        image,
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
        assert_eq!(
            e,
            "gz: truncated: the gzip stream ends inside the magic number"
        );
        let e = read_idx("/nonexistent/chainrule/file").unwrap_err();
        assert!(matches!(e, DataError::Io { .. }));
    }

    #[test]
    fn mnist_files_are_found_by_their_usual_names() {
        let dir = TempDir::new("mnist");
        let e = read_mnist(&dir.0, MnistPart::Test).unwrap_err().to_string();
        assert!(e.contains("no MNIST images file"), "{e}");
        dir.write(
            "t10k-images-idx3-ubyte",
            &idx_bytes(0x08, &[2, 2, 2], &[0; 8]),
        );
        dir.write("t10k-labels.idx1-ubyte", &idx_bytes(0x08, &[2], &[3, 1]));
        let d = read_mnist(&dir.0, MnistPart::Test).unwrap();
        assert_eq!((d.n_samples, d.n_features, d.n_classes()), (2, 4, 4));
        assert_eq!(d.image, Some(ImageShape::new(1, 2, 2)));
        assert!(read_mnist(&dir.0, MnistPart::Train).is_err());
        // The gzipped file is preferred, as distributed.
        let pixels: Vec<u8> = (0..8).collect();
        dir.write(
            "t10k-images-idx3-ubyte.gz",
            &gzip(&idx_bytes(0x08, &[2, 2, 2], &pixels)),
        );
        let d = read_mnist(&dir.0, MnistPart::Test).unwrap();
        assert_eq!(d.row(1)[3], 7.0 / 255.0);
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzipped_files_are_read_directly_and_checked_as_closely() {
        let dir = TempDir::new("gz");
        let pixels: Vec<u8> = (0..60).map(|i| (i * 3) as u8).collect();
        let plain = idx_bytes(0x08, &[5, 3, 4], &pixels);
        let gz = gzip(&plain);
        let path = dir.write("images.gz", &gz);
        assert_eq!(
            read_idx(&path).unwrap(),
            IdxArray::parse(&plain, "p").unwrap()
        );
        // Truncated: inside the header, inside the data, and just before the checksum.
        for cut in [12, gz.len() / 2, gz.len() - 4] {
            let e = IdxArray::parse(&gz[..cut], "cut.gz")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("cut.gz: truncated") || e.starts_with("cut.gz: not a valid gzip"),
                "cut {cut}: {e}"
            );
        }
        let e = IdxArray::parse(&gz[..gz.len() / 2], "cut.gz")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("of the 60 bytes") || e.contains("call for 60 bytes"),
            "{e}"
        );
        // A corrupt checksum.
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 8] ^= 0xff;
        let e = IdxArray::parse(&bad, "crc.gz").unwrap_err().to_string();
        assert!(e.starts_with("crc.gz: not a valid gzip stream"), "{e}");
        // More data than the header claims.
        let mut long = plain.clone();
        long.push(0);
        let e = IdxArray::parse(&gzip(&long), "long.gz")
            .unwrap_err()
            .to_string();
        assert!(e.contains("(trailing bytes?)"), "{e}");
    }

    #[test]
    fn a_gzip_bomb_is_refused_from_its_header() {
        // 2^32 − 1 images of 28 × 28 (3.4 TB) in a few dozen bytes of gzip: more than any gzip
        // file of that length can hold, so refused before reading any data.
        let bomb = gzip(&idx_bytes(0x08, &[u32::MAX, 28, 28], &[0; 4096]));
        let e = IdxArray::parse(&bomb, "bomb.gz").unwrap_err().to_string();
        assert!(e.contains("a gzip bomb, or a corrupt header"), "{e}");
        assert!(
            e.contains(&format!("call for {} bytes", u32::MAX as u64 * 784)),
            "{e}"
        );
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
