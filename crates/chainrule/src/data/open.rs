//! A dataset by name or path, as a person names it: one of the shipped datasets (`digits`,
//! `iris`, `moons`), Fashion-MNIST as Debian installs it (`fashion-mnist`), a CSV file with the
//! column to predict, or an IDX image file with its label file; the test set that comes with it
//! or is given; and the training settings that suit each known dataset.

use std::path::{Path, PathBuf};

use super::{CsvOptions, DataError, Dataset, ImageShape, MnistPart, TargetColumn, Targets};
use crate::optim::ScheduleKind;

/// The datasets shipped with the library, by the names [`open`] knows.
pub const SHIPPED: [&str; 3] = ["digits", "iris", "moons"];

/// The number of points of the shipped `moons`, and the standard deviation of their noise.
pub const MOONS: (usize, f64) = (200, 0.1);

/// Where Debian's `dataset-fashion-mnist` package puts Fashion-MNIST's four gzipped IDX files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The command that installs Fashion-MNIST on Debian and its derivatives.
pub const FASHION_MNIST_INSTALL: &str = "sudo apt-get install dataset-fashion-mnist";

/// The ten classes of Fashion-MNIST, by their labels 0–9.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// How to read a file given to [`open`]; the shipped datasets need none of it but the seed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpenOptions {
    /// The CSV column to predict: a name, or a 0-based index.
    pub target: Option<String>,
    /// The IDX label file of an IDX image file.
    pub labels: Option<PathBuf>,
    /// Read the CSV target as a number to predict rather than a class.
    pub regression: bool,
    /// The seed of `moons`.
    pub seed: u64,
    /// The folder of Fashion-MNIST's files (default [`FASHION_MNIST_DIR`]).
    pub data_dir: Option<PathBuf>,
    /// The shape of the images the rows hold (for a CSV file; others know theirs).
    pub image: Option<ImageShape>,
    /// A test set to use instead of a random split (read as the data is: a CSV file with the
    /// same target column, or an IDX image file with [`OpenOptions::test_labels`]).
    pub test_data: Option<PathBuf>,
    /// The IDX label file of [`OpenOptions::test_data`].
    pub test_labels: Option<PathBuf>,
}

/// A dataset as [`open_parts`] finds it: the samples to train on, and a fixed test set when
/// the data comes with one (Fashion-MNIST's official 10,000) or one was given
/// ([`OpenOptions::test_data`]); without one, training splits the samples at random.
#[derive(Clone, Debug, PartialEq)]
pub struct Opened {
    /// The samples (all of them, or the training part of a dataset with its own test set).
    pub data: Dataset,
    /// The fixed test set, with the same features and classes as `data`.
    pub test: Option<Dataset>,
}

/// The dataset called `name`: a shipped one, else the file at that path (a CSV file with
/// [`OpenOptions::target`], or an IDX image file with [`OpenOptions::labels`]). For data with
/// a test set of its own, the training part; see [`open_parts`] for both.
///
/// ```
/// use chainrule::data::{open, OpenOptions};
///
/// let iris = open("iris", &OpenOptions::default()).unwrap();
/// assert_eq!(iris.n_samples, 150);
/// let err = open("nope", &OpenOptions::default()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "--data: 'nope' is neither a known dataset (digits, iris, moons, fashion-mnist) nor a file"
/// );
/// ```
pub fn open(name: &str, options: &OpenOptions) -> Result<Dataset, DataError> {
    open_parts(name, options).map(|o| o.data)
}

/// The dataset called `name` (as [`open`]) and its fixed test set, if any: Fashion-MNIST's
/// official one, or [`OpenOptions::test_data`], read like the data and checked against it (the
/// same number of features, and classes the data has, numbered as the data numbers them).
///
/// `fashion-mnist` reads the four IDX files from [`OpenOptions::data_dir`], or from
/// [`FASHION_MNIST_DIR`]; when they are not there, the error says how to install them.
///
/// ```no_run
/// use chainrule::data::{open_parts, OpenOptions};
///
/// let fashion = open_parts("fashion-mnist", &OpenOptions::default())?;
/// assert_eq!(fashion.data.n_samples, 60_000);
/// assert_eq!(fashion.test.unwrap().n_samples, 10_000);
/// # Ok::<(), chainrule::data::DataError>(())
/// ```
pub fn open_parts(name: &str, options: &OpenOptions) -> Result<Opened, DataError> {
    if options.data_dir.is_some() && name != "fashion-mnist" {
        return Err(DataError::invalid(format!(
            "--data-dir is the folder of fashion-mnist's files; --data {name} does not use one"
        )));
    }
    if options.test_labels.is_some() && options.test_data.is_none() {
        return Err(DataError::invalid(
            "--test-labels goes with --test-data (the IDX image file they label)",
        ));
    }
    let (data, test) = match name {
        "fashion-mnist" => {
            if options.target.is_some() || options.labels.is_some() {
                return Err(DataError::NotAFile {
                    name: name.to_string(),
                });
            }
            let (train, test) = fashion_mnist(options.data_dir.as_deref())?;
            (train, Some(test))
        }
        _ => (open_one(name, options)?, None),
    };
    let data = match options.image {
        Some(shape) => data
            .with_image(shape)
            .map_err(|e| DataError::invalid(format!("--image {shape}: {e}")))?,
        None => data,
    };
    let test = match &options.test_data {
        Some(path) => {
            let idx = name == "fashion-mnist" || options.labels.is_some();
            Some(open_test(path, options, &data, idx)?)
        }
        None => test,
    };
    Ok(Opened { data, test })
}

/// One dataset by name or path, without a test set.
fn open_one(name: &str, options: &OpenOptions) -> Result<Dataset, DataError> {
    let shipped = match name {
        "digits" => Some(super::digits()),
        "iris" => Some(super::iris()),
        "moons" => Some(super::moons(MOONS.0, MOONS.1, options.seed)),
        _ => None,
    };
    if let Some(d) = shipped {
        // A target column may name the test file's (the shipped data knows its own).
        if options.labels.is_some() || (options.target.is_some() && options.test_data.is_none()) {
            return Err(DataError::NotAFile {
                name: name.to_string(),
            });
        }
        return Ok(d);
    }
    let path = Path::new(name);
    if !path.exists() {
        return Err(DataError::UnknownDataset {
            name: name.to_string(),
        });
    }
    read_file(path, options.labels.as_deref(), options)
}

/// A CSV file with the options' target column, or an IDX image file with `labels`.
fn read_file(
    path: &Path,
    labels: Option<&Path>,
    options: &OpenOptions,
) -> Result<Dataset, DataError> {
    if let Some(labels) = labels {
        return super::read_idx_pair(path, labels);
    }
    let Some(col) = &options.target else {
        return Err(DataError::NoTarget {
            name: path.display().to_string(),
        });
    };
    let col: TargetColumn = match col.parse::<usize>() {
        Ok(i) => i.into(),
        Err(_) => col.as_str().into(),
    };
    let csv = if options.regression {
        CsvOptions::regression(col)
    } else {
        CsvOptions::classes(col)
    };
    Dataset::from_csv(path, &csv)
}

/// Fashion-MNIST's training and test parts, from `dir` or [`FASHION_MNIST_DIR`].
fn fashion_mnist(dir: Option<&Path>) -> Result<(Dataset, Dataset), DataError> {
    let folder = dir.unwrap_or(Path::new(FASHION_MNIST_DIR));
    let find = |part| {
        super::idx::mnist_files(folder, part).map_err(|e| DataError::NotInstalled {
            name: "fashion-mnist".into(),
            folder: folder.display().to_string(),
            reason: match e {
                DataError::Io { source, .. } => source.to_string(),
                other => other.to_string(),
            },
            install: FASHION_MNIST_INSTALL.into(),
        })
    };
    let named = |mut d: Dataset| {
        if let Targets::Classes {
            n_classes, names, ..
        } = &mut d.targets
        {
            if *n_classes == FASHION_MNIST_CLASSES.len() {
                *names = FASHION_MNIST_CLASSES
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
            }
        }
        d
    };
    let (train_images, train_labels) = find(MnistPart::Train)?;
    let (test_images, test_labels) = find(MnistPart::Test)?;
    let train = super::read_idx_pair(train_images, train_labels)?;
    let test = super::read_idx_pair(test_images, test_labels)?;
    Ok((named(train), named(test)))
}

/// The test file of [`OpenOptions::test_data`] (IDX images with labels when the data is IDX,
/// else CSV), checked against the data and numbered as it.
fn open_test(
    path: &Path,
    options: &OpenOptions,
    data: &Dataset,
    idx: bool,
) -> Result<Dataset, DataError> {
    let at = |msg: String| DataError::invalid(format!("--test-data {}: {msg}", path.display()));
    if !path.exists() {
        return Err(DataError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file (--test-data)"),
        });
    }
    let test = match &options.test_labels {
        Some(labels) => super::read_idx_pair(path, labels)?,
        None if idx => {
            return Err(at(
                "the data is read from IDX files, so the test images need their labels: give \
                 them with --test-labels FILE"
                    .into(),
            ))
        }
        None => read_file(path, None, options)?,
    };
    if test.n_features != data.n_features {
        return Err(at(format!(
            "{} features per sample, but the training data has {}",
            test.n_features, data.n_features
        )));
    }
    let test = match data.image {
        Some(shape) => test.with_image(shape).map_err(|e| at(e.to_string()))?,
        None => test,
    };
    test.numbered_like(data).map_err(|e| at(e.to_string()))
}

impl Dataset {
    /// The same samples with their classes numbered as in `other` (by name), so that a test set
    /// read from another file agrees with the training data on what class 3 is.
    ///
    /// ```
    /// use chainrule::data::{CsvOptions, Dataset};
    ///
    /// let train = Dataset::from_csv_str("x,y\n1,a\n2,b\n3,c\n", "train", &CsvOptions::classes("y")).unwrap();
    /// let test = Dataset::from_csv_str("x,y\n4,c\n5,a\n", "test", &CsvOptions::classes("y")).unwrap();
    /// let test = test.numbered_like(&train).unwrap();
    /// assert_eq!(test.labels().unwrap(), &[2, 0]);
    /// assert_eq!(test.class_names(), train.class_names());
    /// ```
    pub fn numbered_like(mut self, other: &Dataset) -> Result<Dataset, DataError> {
        match (&mut self.targets, &other.targets) {
            (
                Targets::Classes { labels, names, .. },
                Targets::Classes {
                    names: theirs,
                    n_classes,
                    ..
                },
            ) => {
                let map = names
                    .iter()
                    .map(|n| {
                        theirs.iter().position(|t| t == n).ok_or_else(|| {
                            DataError::invalid(format!(
                                "class '{n}' is not among the training data's classes ({})",
                                theirs.join(", ")
                            ))
                        })
                    })
                    .collect::<Result<Vec<usize>, DataError>>()?;
                for l in labels.iter_mut() {
                    *l = map[*l];
                }
                *names = theirs.clone();
                let n = *n_classes;
                if let Targets::Classes { n_classes, .. } = &mut self.targets {
                    *n_classes = n;
                }
                Ok(self)
            }
            (Targets::Values(_), Targets::Values(_)) => Ok(self),
            _ => Err(DataError::invalid(
                "one of the two has classes and the other numbers to predict",
            )),
        }
    }
}

/// The training settings that suit a dataset, used where a run does not give its own: the
/// hidden layer widths (of a perceptron), the learning rate (of Adam), the epochs, the batch size
/// and the learning-rate schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingDefaults {
    /// The widths of the hidden layers (the input and output widths follow the data).
    pub hidden: Vec<usize>,
    /// The learning rate.
    pub lr: f64,
    /// The number of passes over the training data.
    pub epochs: usize,
    /// The number of samples per step.
    pub batch: usize,
    /// How the learning rate changes over the run.
    pub schedule: ScheduleKind,
    /// The steps of linear warm-up of the learning rate.
    pub warmup: u64,
}

impl TrainingDefaults {
    /// The settings of a perceptron for the dataset called `name`: tuned for each known
    /// dataset, and one hidden layer of 64 with 30 epochs of batches of 64 for any file; a
    /// constant learning rate.
    ///
    /// ```
    /// use chainrule::data::TrainingDefaults;
    ///
    /// assert_eq!(TrainingDefaults::for_data("moons").hidden, [16, 16]);
    /// assert_eq!(TrainingDefaults::for_data("my.csv").epochs, 30);
    /// assert_eq!(TrainingDefaults::for_data("fashion-mnist").hidden, [256, 128]);
    /// ```
    pub fn for_data(name: &str) -> Self {
        let (hidden, lr, epochs, batch) = match name {
            "iris" => (vec![16], 0.01, 100, 16),
            "moons" => (vec![16, 16], 0.01, 200, 32),
            "digits" => (vec![128], 1e-3, 30, 64),
            "fashion-mnist" => (vec![256, 128], 1e-3, 10, 64),
            _ => (vec![64], 1e-3, 30, 64),
        };
        TrainingDefaults {
            hidden,
            lr,
            epochs,
            batch,
            schedule: ScheduleKind::Constant,
            warmup: 0,
        }
    }

    /// The settings of a convolutional network (`--model cnn` or layers) for the dataset called
    /// `name`: Adam with a short warm-up and cosine annealing, which reach the accuracies of
    /// the README in the fewest epochs.
    ///
    /// ```
    /// use chainrule::data::TrainingDefaults;
    /// use chainrule::optim::ScheduleKind;
    ///
    /// let d = TrainingDefaults::for_cnn("fashion-mnist");
    /// assert_eq!((d.batch, d.schedule), (128, ScheduleKind::Cosine));
    /// ```
    pub fn for_cnn(name: &str) -> Self {
        let (lr, epochs, batch, warmup) = match name {
            "fashion-mnist" => (2e-3, 10, 128, 100),
            "digits" => (2e-3, 30, 32, 50),
            _ => (1e-3, 10, 64, 100),
        };
        TrainingDefaults {
            hidden: Vec::new(),
            lr,
            epochs,
            batch,
            schedule: ScheduleKind::Cosine,
            warmup,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_datasets_open_by_name_and_refuse_file_options() {
        let moons = open(
            "moons",
            &OpenOptions {
                seed: 3,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(moons, crate::data::moons(200, 0.1, 3));
        let with_target = OpenOptions {
            target: Some("y".into()),
            ..Default::default()
        };
        assert_eq!(
            open("digits", &with_target).unwrap_err().to_string(),
            "--target and --labels are for files; 'digits' is a known dataset"
        );
    }

    #[test]
    fn files_need_their_target_and_name_the_line_of_a_problem() {
        let dir = std::env::temp_dir().join(format!("chainrule-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("d.csv");
        std::fs::write(&csv, "a,b,y\n1,2,x\n3,oops,z\n").unwrap();
        let name = csv.to_str().unwrap();
        let err = open(name, &OpenOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::NoTarget { .. }), "{err}");
        assert!(err.to_string().contains("--target COLUMN"), "{err}");
        let by_index = OpenOptions {
            target: Some("2".into()),
            ..Default::default()
        };
        let err = open(name, &by_index).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{name}:3, column 'b' (2): 'oops' is not a number")
        );
        std::fs::write(&csv, "a,b,y\n1,2,0.5\n3,4,1.5\n").unwrap();
        let regression = OpenOptions {
            target: Some("y".into()),
            regression: true,
            ..Default::default()
        };
        assert_eq!(
            open(name, &regression).unwrap().values(),
            Some(&[0.5, 1.5][..])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn idx(type_dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, type_dims.len() as u8];
        for d in type_dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn fashion_mnist_is_found_in_its_folder_or_the_install_command_is_given() {
        let dir = std::env::temp_dir().join(format!("chainrule-fashion-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let options = OpenOptions {
            data_dir: Some(dir.clone()),
            ..Default::default()
        };
        let err = open_parts("fashion-mnist", &options)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "--data fashion-mnist: not found in {}",
                dir.display()
            )),
            "{err}"
        );
        assert!(
            err.contains("install it with `sudo apt-get install dataset-fashion-mnist`"),
            "{err}"
        );
        for (part, n) in [("train", 3u8), ("t10k", 2)] {
            let pixels: Vec<u8> = (0..n as usize * 4).map(|i| i as u8).collect();
            let labels: Vec<u8> = (0..n).map(|i| i * 4).collect();
            std::fs::write(
                dir.join(format!("{part}-images-idx3-ubyte.gz")),
                idx(&[n as u32, 2, 2], &pixels),
            )
            .unwrap();
            std::fs::write(
                dir.join(format!("{part}-labels-idx1-ubyte.gz")),
                idx(&[n as u32], &labels),
            )
            .unwrap();
        }
        let o = open_parts("fashion-mnist", &options).unwrap();
        let test = o.test.unwrap();
        assert_eq!((o.data.n_samples, test.n_samples), (3, 2));
        assert_eq!(o.data.image, Some(ImageShape::new(1, 2, 2)));
        assert_eq!(
            o.data.class_names()[8],
            "8",
            "9 classes are not Fashion-MNIST's 10"
        );
        let err = open_parts("iris", &options).unwrap_err().to_string();
        assert!(
            err.starts_with("--data-dir is the folder of fashion-mnist"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_test_file_is_read_like_the_data_and_checked_against_it() {
        let dir = std::env::temp_dir().join(format!("chainrule-testdata-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let train = dir.join("train.csv");
        let test = dir.join("test.csv");
        std::fs::write(&train, "a,b,y\n1,2,x\n3,4,z\n5,6,x\n").unwrap();
        std::fs::write(&test, "a,b,y\n1,2,z\n").unwrap();
        let options = OpenOptions {
            target: Some("y".into()),
            test_data: Some(test.clone()),
            ..Default::default()
        };
        let o = open_parts(train.to_str().unwrap(), &options).unwrap();
        assert_eq!(o.test.unwrap().labels().unwrap(), &[1]);
        std::fs::write(&test, "a,b,y\n1,2,w\n").unwrap();
        let err = open_parts(train.to_str().unwrap(), &options)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "--test-data {}: class 'w' is not among the training data's classes (x, z)",
                test.display()
            )
        );
        std::fs::write(&test, "a,y\n1,x\n").unwrap();
        let err = open_parts(train.to_str().unwrap(), &options)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("1 features per sample, but the training data has 2"),
            "{err}"
        );
        // Images: --image must fit the features.
        let image = OpenOptions {
            image: Some(ImageShape::new(1, 2, 2)),
            ..options.clone()
        };
        let err = open_parts(train.to_str().unwrap(), &image)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--image 1x2x2: images of 1x2x2 hold 4 values, but the data has 2 features per sample"
        );
        let image = OpenOptions {
            image: Some(ImageShape::new(1, 1, 2)),
            test_data: None,
            ..options
        };
        let d = open(train.to_str().unwrap(), &image).unwrap();
        assert_eq!(d.image, Some(ImageShape::new(1, 1, 2)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
