//! Datasets: a plain table of features with class labels or regression targets, the loaders that
//! fill it (CSV, IDX), a few built-in datasets, [`open`] to find one by name or path (with the
//! training settings that suit it), and the preparation steps of training (standardisation,
//! train/test split, shuffled mini-batches).
//!
//! A [`Dataset`] is independent of any tensor type: features are a row-major `Vec<f32>`, so any
//! engine can copy a batch of rows into its own storage ([`Dataset::gather_features`]).
//!
//! ```
//! use chainrule::data::{self, Standardizer};
//!
//! let iris = data::iris();
//! assert_eq!((iris.n_samples, iris.n_features, iris.n_classes()), (150, 4, 3));
//!
//! let (mut train, mut test) = iris.stratified_split(0.2, 7).unwrap();
//! let scaler = Standardizer::fit(&train);
//! scaler.transform(&mut train);
//! scaler.transform(&mut test);
//! for batch in train.batches(32, 1) {
//!     assert!(batch.len() <= 32);
//! }
//! ```

mod builtin;
mod csv;
mod error;
mod idx;
mod image;
mod open;
mod prep;
mod text;

pub use builtin::{digits, iris, moons, moons_with_rng, DIGITS_CSV, IRIS_CSV};
pub use csv::{CsvOptions, TargetColumn, TargetKind, DEFAULT_MAX_LINE_BYTES};
pub use error::DataError;
pub use idx::{read_idx, read_idx_pair, read_mnist, IdxArray, MnistPart};
pub use image::ImageShape;
pub use open::{
    open, open_parts, OpenOptions, Opened, TrainingDefaults, FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR, FASHION_MNIST_INSTALL, MOONS, SHIPPED,
};
pub use prep::{batches, Batches, Standardizer};
pub use text::{read_text, CharVocab, Split, TextCorpus, UnknownChars, SHAKESPEARE_TXT};

/// The targets of a dataset: a class per sample, or a number per sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Classification: `labels[i]` is the class of sample `i`, in `0..n_classes`.
    Classes {
        /// One class index per sample.
        labels: Vec<usize>,
        /// The number of classes.
        n_classes: usize,
        /// The original label of each class: `names[k]` is what class `k` was called in the
        /// source (`"setosa"`, `"7"`).
        names: Vec<String>,
    },
    /// Regression: one number per sample.
    Values(Vec<f32>),
}

impl Targets {
    /// The number of samples the targets describe.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values(v) => v.len(),
        }
    }

    /// Whether there are no targets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of the samples `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Targets {
        match self {
            Targets::Classes {
                labels,
                n_classes,
                names,
            } => Targets::Classes {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                n_classes: *n_classes,
                names: names.clone(),
            },
            Targets::Values(v) => Targets::Values(indices.iter().map(|&i| v[i]).collect()),
        }
    }
}

/// A table of samples: `n_samples` rows of `n_features` numbers, and a target per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The features, row-major: sample `i` is `features[i * n_features..(i + 1) * n_features]`.
    pub features: Vec<f32>,
    /// The number of samples (rows).
    pub n_samples: usize,
    /// The number of features (columns, without the target).
    pub n_features: usize,
    /// The name of each feature, when the source names them (a CSV header).
    pub feature_names: Option<Vec<String>>,
    /// The shape of the image each row holds, for image data (IDX files, the digits, a CSV
    /// file given `--image`): what convolutional networks read the rows as.
    pub image: Option<ImageShape>,
    /// The class or value of each sample.
    pub targets: Targets,
}

impl Dataset {
    /// A dataset from its parts, checking that the sizes agree.
    ///
    /// ```
    /// use chainrule::data::{Dataset, Targets};
    ///
    /// let d = Dataset::new(vec![0.0, 1.0, 2.0, 3.0], 2, Targets::Values(vec![1.0, -1.0])).unwrap();
    /// assert_eq!(d.n_samples, 2);
    /// assert_eq!(d.row(1), &[2.0, 3.0]);
    /// ```
    pub fn new(features: Vec<f32>, n_features: usize, targets: Targets) -> Result<Self, DataError> {
        let n_samples = targets.len();
        if features.len() != n_samples * n_features {
            return Err(DataError::invalid(format!(
                "{} feature values do not make {n_samples} rows of {n_features}",
                features.len()
            )));
        }
        if let Targets::Classes {
            labels,
            n_classes,
            names,
        } = &targets
        {
            if names.len() != *n_classes {
                return Err(DataError::invalid(format!(
                    "{n_classes} classes but {} class names",
                    names.len()
                )));
            }
            if let Some(bad) = labels.iter().find(|&&l| l >= *n_classes) {
                return Err(DataError::invalid(format!(
                    "label {bad} is not below the number of classes, {n_classes}"
                )));
            }
        }
        Ok(Dataset {
            features,
            n_samples,
            n_features,
            feature_names: None,
            image: None,
            targets,
        })
    }

    /// The same dataset with feature names.
    pub fn with_feature_names(mut self, names: Vec<String>) -> Self {
        debug_assert_eq!(names.len(), self.n_features);
        self.feature_names = Some(names);
        self
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.n_samples
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.n_samples == 0
    }

    /// The features of sample `i`.
    ///
    /// # Panics
    /// If `i >= n_samples`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.n_features..(i + 1) * self.n_features]
    }

    /// The class labels, for a classification dataset.
    pub fn labels(&self) -> Option<&[usize]> {
        match &self.targets {
            Targets::Classes { labels, .. } => Some(labels),
            Targets::Values(_) => None,
        }
    }

    /// The regression targets, for a regression dataset.
    pub fn values(&self) -> Option<&[f32]> {
        match &self.targets {
            Targets::Values(v) => Some(v),
            Targets::Classes { .. } => None,
        }
    }

    /// The number of classes (0 for a regression dataset).
    pub fn n_classes(&self) -> usize {
        match &self.targets {
            Targets::Classes { n_classes, .. } => *n_classes,
            Targets::Values(_) => 0,
        }
    }

    /// The original names of the classes (empty for a regression dataset).
    pub fn class_names(&self) -> &[String] {
        match &self.targets {
            Targets::Classes { names, .. } => names,
            Targets::Values(_) => &[],
        }
    }

    /// A new dataset of the samples `indices`, in that order (repeats allowed).
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut features = Vec::with_capacity(indices.len() * self.n_features);
        self.gather_features(indices, &mut features);
        Dataset {
            features,
            n_samples: indices.len(),
            n_features: self.n_features,
            feature_names: self.feature_names.clone(),
            image: self.image,
            targets: self.targets.select(indices),
        }
    }

    /// Replaces the contents of `out` with the rows `indices`, row-major: the way to fill a batch
    /// buffer without allocating once `out` has grown to the batch size.
    ///
    /// ```
    /// use chainrule::data;
    ///
    /// let iris = data::iris();
    /// let mut batch = Vec::new();
    /// iris.gather_features(&[0, 149], &mut batch);
    /// assert_eq!(batch.len(), 8);
    /// assert_eq!(&batch[4..], iris.row(149));
    /// ```
    pub fn gather_features(&self, indices: &[usize], out: &mut Vec<f32>) {
        out.clear();
        for &i in indices {
            out.extend_from_slice(self.row(i));
        }
    }

    /// The class labels as one-hot rows (`n_samples × n_classes`, row-major: 1 in the column of
    /// the sample's class, 0 elsewhere), for a classification dataset.
    ///
    /// ```
    /// let iris = chainrule::data::iris();
    /// let y = iris.one_hot().unwrap();
    /// assert_eq!(&y[..3], &[1.0, 0.0, 0.0]); // the first flower is a setosa
    /// ```
    pub fn one_hot(&self) -> Option<Vec<f32>> {
        let Targets::Classes {
            labels, n_classes, ..
        } = &self.targets
        else {
            return None;
        };
        let mut y = vec![0.0; labels.len() * n_classes];
        for (i, &l) in labels.iter().enumerate() {
            y[i * n_classes + l] = 1.0;
        }
        Some(y)
    }

    /// The number of samples of each class (empty for a regression dataset).
    pub fn class_counts(&self) -> Vec<usize> {
        match &self.targets {
            Targets::Classes {
                labels, n_classes, ..
            } => {
                let mut counts = vec![0; *n_classes];
                for &l in labels {
                    counts[l] += 1;
                }
                counts
            }
            Targets::Values(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset::new(
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            2,
            Targets::Classes {
                labels: vec![0, 1, 1],
                n_classes: 2,
                names: vec!["a".into(), "b".into()],
            },
        )
        .unwrap()
    }

    #[test]
    fn rows_subsets_and_gathers() {
        let d = tiny();
        assert_eq!(d.len(), 3);
        assert_eq!(d.row(2), &[5.0, 6.0]);
        let s = d.subset(&[2, 0, 2]);
        assert_eq!(s.features, vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
        assert_eq!(s.labels().unwrap(), &[1, 0, 1]);
        assert_eq!(s.class_names(), &["a".to_string(), "b".to_string()]);
        assert_eq!(d.class_counts(), vec![1, 2]);
        assert_eq!(d.one_hot().unwrap(), vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
        let mut buf = vec![9.0; 10];
        d.gather_features(&[1], &mut buf);
        assert_eq!(buf, vec![3.0, 4.0]);
    }

    #[test]
    fn new_checks_sizes_and_labels() {
        assert!(Dataset::new(vec![1.0; 5], 2, Targets::Values(vec![0.0; 3])).is_err());
        let bad = Targets::Classes {
            labels: vec![0, 2],
            n_classes: 2,
            names: vec!["a".into(), "b".into()],
        };
        assert!(Dataset::new(vec![0.0; 2], 1, bad).is_err());
        let r = Dataset::new(vec![0.0; 2], 1, Targets::Values(vec![1.0, 2.0])).unwrap();
        assert_eq!(r.values().unwrap(), &[1.0, 2.0]);
        assert_eq!(r.n_classes(), 0);
        assert!(r.labels().is_none());
    }
}
