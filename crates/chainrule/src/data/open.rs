//! A dataset by name or path, as a person names it: one of the shipped datasets (`digits`,
//! `iris`, `moons`), a CSV file with the column to predict, or an IDX image file with its label
//! file; and the training settings that suit each shipped dataset.

use std::path::{Path, PathBuf};

use super::{CsvOptions, DataError, Dataset, TargetColumn};

/// The datasets shipped with the library, by the names [`open`] knows.
pub const SHIPPED: [&str; 3] = ["digits", "iris", "moons"];

/// The number of points of the shipped `moons`, and the standard deviation of their noise.
pub const MOONS: (usize, f64) = (200, 0.1);

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
}

/// The dataset called `name`: a shipped one, else the file at that path (a CSV file with
/// [`OpenOptions::target`], or an IDX image file with [`OpenOptions::labels`]).
///
/// ```
/// use chainrule::data::{open, OpenOptions};
///
/// let iris = open("iris", &OpenOptions::default()).unwrap();
/// assert_eq!(iris.n_samples, 150);
/// let err = open("nope", &OpenOptions::default()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "--data: 'nope' is neither a shipped dataset (digits, iris, moons) nor a file"
/// );
/// ```
pub fn open(name: &str, options: &OpenOptions) -> Result<Dataset, DataError> {
    let shipped = match name {
        "digits" => Some(super::digits()),
        "iris" => Some(super::iris()),
        "moons" => Some(super::moons(MOONS.0, MOONS.1, options.seed)),
        _ => None,
    };
    if let Some(d) = shipped {
        if options.target.is_some() || options.labels.is_some() {
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
    if let Some(labels) = &options.labels {
        return super::read_idx_pair(path, labels);
    }
    let Some(col) = &options.target else {
        return Err(DataError::NoTarget {
            name: name.to_string(),
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

/// The training settings that suit a dataset, used where a run does not give its own: the
/// hidden layer widths, the learning rate (of Adam), the epochs and the batch size.
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
}

impl TrainingDefaults {
    /// The settings for the dataset called `name`: tuned for each shipped dataset, and one
    /// hidden layer of 64 with 30 epochs of batches of 64 for any file.
    ///
    /// ```
    /// use chainrule::data::TrainingDefaults;
    ///
    /// assert_eq!(TrainingDefaults::for_data("moons").hidden, [16, 16]);
    /// assert_eq!(TrainingDefaults::for_data("my.csv").epochs, 30);
    /// ```
    pub fn for_data(name: &str) -> Self {
        let (hidden, lr, epochs, batch) = match name {
            "iris" => (vec![16], 0.01, 100, 16),
            "moons" => (vec![16, 16], 0.01, 200, 32),
            "digits" => (vec![128], 1e-3, 30, 64),
            _ => (vec![64], 1e-3, 30, 64),
        };
        TrainingDefaults {
            hidden,
            lr,
            epochs,
            batch,
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
            "--target and --labels are for files; 'digits' is a shipped dataset"
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
}
