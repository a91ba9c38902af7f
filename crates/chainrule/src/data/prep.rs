//! Preparing data for training: standardisation, train/test splits and shuffled mini-batches.

use super::{DataError, Dataset, ImageShape, Targets};
use crate::util::rand::Rng;

/// Per-feature standardisation, `x' = (x - mean) / std`, with the parameters kept so that the
/// same transformation can be applied to new data at prediction time.
///
/// Fit it on the training part only, then apply it to both parts (fitting on all the data would
/// leak the test set's statistics into training). The standard deviation is the population one
/// (dividing by `n`, as scikit-learn's `StandardScaler`); a constant feature gets a standard
/// deviation of 1, so it becomes 0 rather than NaN.
///
/// ```
/// use chainrule::data::{Dataset, Standardizer, Targets};
///
/// let train = Dataset::new(vec![1.0, 10.0, 3.0, 10.0], 2, Targets::Values(vec![0.0, 1.0])).unwrap();
/// let scaler = Standardizer::fit(&train);
/// assert_eq!(scaler.mean, vec![2.0, 10.0]);
/// assert_eq!(scaler.std, vec![1.0, 1.0]); // the second feature is constant
/// let mut x = [4.0, 10.0];
/// scaler.transform_row(&mut x);
/// assert_eq!(x, [2.0, 0.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    /// The mean of each feature over the data it was fitted on.
    pub mean: Vec<f32>,
    /// The standard deviation of each feature (1 where it was 0).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits the means and standard deviations of `data`'s features.
    pub fn fit(data: &Dataset) -> Self {
        Self::fit_features(&data.features, data.n_features)
    }

    /// Fits the means and standard deviations of row-major `features` with `n_features` columns.
    ///
    /// # Panics
    /// If `features.len()` is not a multiple of `n_features`.
    pub fn fit_features(features: &[f32], n_features: usize) -> Self {
        if n_features == 0 {
            return Standardizer {
                mean: vec![],
                std: vec![],
            };
        }
        assert_eq!(
            features.len() % n_features,
            0,
            "features do not divide into rows of {n_features}"
        );
        let n = features.len() / n_features;
        // Accumulate in f64: sums of many f32 lose digits.
        let mut sum = vec![0f64; n_features];
        for row in features.chunks_exact(n_features) {
            for (s, &x) in sum.iter_mut().zip(row) {
                *s += x as f64;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n.max(1) as f64).collect();
        let mut sq = vec![0f64; n_features];
        for row in features.chunks_exact(n_features) {
            for ((s, &x), m) in sq.iter_mut().zip(row).zip(&mean) {
                *s += (x as f64 - m).powi(2);
            }
        }
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let sd = (s / n.max(1) as f64).sqrt();
                // Constant, up to rounding: a spread within f32's precision of the mean.
                let constant = sd == 0.0 || sd <= 10.0 * f32::EPSILON as f64 * m.abs();
                if constant || !sd.is_finite() {
                    1.0
                } else {
                    sd as f32
                }
            })
            .collect();
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// Fits one mean and one standard deviation per channel of images of `shape` (over every
    /// pixel of every image), repeated for each pixel of the channel: the standardisation of
    /// images for convolutional networks, which must treat every position alike (fitting each
    /// pixel apart would give the border pixels, nearly always 0, a huge scale).
    ///
    /// ```
    /// use chainrule::data::{ImageShape, Standardizer};
    ///
    /// // Two 1×1×2 images: one channel of 4 values, mean 2.5 and deviation √1.25.
    /// let s = Standardizer::fit_channels(&[1.0, 2.0, 3.0, 4.0], ImageShape::new(1, 1, 2));
    /// assert_eq!(s.mean, vec![2.5, 2.5]);
    /// assert!((s.std[0] - 1.25f32.sqrt()).abs() < 1e-6 && s.std[0] == s.std[1]);
    /// ```
    ///
    /// # Panics
    /// If `features.len()` is not a multiple of the image's size.
    pub fn fit_channels(features: &[f32], shape: ImageShape) -> Self {
        let (c, plane) = (shape.channels, shape.height * shape.width);
        if shape.is_empty() {
            return Standardizer {
                mean: vec![],
                std: vec![],
            };
        }
        // Each channel's values as one column of a table (one channel: the features as they are).
        let per = if c == 1 {
            Self::fit_features(features, 1)
        } else {
            let mut by_channel = Vec::with_capacity(features.len());
            for image in features.chunks_exact(shape.len()) {
                for p in 0..plane {
                    by_channel.extend((0..c).map(|k| image[k * plane + p]));
                }
            }
            Self::fit_features(&by_channel, c)
        };
        let repeat = |v: &[f32]| -> Vec<f32> {
            v.iter()
                .flat_map(|&x| std::iter::repeat_n(x, plane))
                .collect()
        };
        Standardizer {
            mean: repeat(&per.mean),
            std: repeat(&per.std),
        }
    }

    /// The number of features it was fitted on.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Standardises every row of `data` in place.
    ///
    /// # Panics
    /// If `data` does not have the number of features the standardiser was fitted on.
    pub fn transform(&self, data: &mut Dataset) {
        assert_eq!(
            data.n_features,
            self.n_features(),
            "the standardiser was fitted on {} features, the data has {}",
            self.n_features(),
            data.n_features
        );
        self.transform_features(&mut data.features);
    }

    /// Standardises row-major features in place.
    pub fn transform_features(&self, features: &mut [f32]) {
        if self.n_features() == 0 {
            return;
        }
        for row in features.chunks_exact_mut(self.n_features()) {
            self.transform_row(row);
        }
    }

    /// Standardises one sample in place (as at prediction time).
    pub fn transform_row(&self, row: &mut [f32]) {
        for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *x = (*x - m) / s;
        }
    }

    /// Undoes [`Standardizer::transform_row`].
    pub fn inverse_row(&self, row: &mut [f32]) {
        for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *x = *x * s + m;
        }
    }
}

fn test_count(n: usize, test_fraction: f64) -> Result<usize, DataError> {
    if !(0.0..=1.0).contains(&test_fraction) {
        return Err(DataError::invalid(format!(
            "the test fraction must be between 0 and 1, not {test_fraction}"
        )));
    }
    // As scikit-learn's `train_test_split`: the test part is rounded up.
    Ok(((n as f64 * test_fraction).ceil() as usize).min(n))
}

impl Dataset {
    /// Splits the samples at random into a training part and a test part holding
    /// `ceil(test_fraction · n)` samples; the same seed gives the same split.
    ///
    /// ```
    /// let digits = chainrule::data::digits();
    /// let (train, test) = digits.split(0.25, 42).unwrap();
    /// assert_eq!((train.len(), test.len()), (1347, 450));
    /// ```
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset), DataError> {
        let n_test = test_count(self.n_samples, test_fraction)?;
        let perm = Rng::new(seed).permutation(self.n_samples);
        let (test, train) = perm.split_at(n_test);
        Ok((self.subset(train), self.subset(test)))
    }

    /// Like [`Dataset::split`], but each class keeps (as nearly as whole samples allow) the same
    /// share in both parts. The test part holds `ceil(test_fraction · n)` samples, shared out
    /// among classes by largest remainder. Needs class labels.
    ///
    /// ```
    /// let iris = chainrule::data::iris();
    /// let (train, test) = iris.stratified_split(0.2, 1).unwrap();
    /// assert_eq!(test.class_counts(), vec![10, 10, 10]);
    /// assert_eq!(train.class_counts(), vec![40, 40, 40]);
    /// ```
    pub fn stratified_split(
        &self,
        test_fraction: f64,
        seed: u64,
    ) -> Result<(Dataset, Dataset), DataError> {
        let n_test = test_count(self.n_samples, test_fraction)?;
        let Targets::Classes {
            labels, n_classes, ..
        } = &self.targets
        else {
            return Err(DataError::invalid(
                "a stratified split needs class labels; use `split` for regression",
            ));
        };
        let mut rng = Rng::new(seed);
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); *n_classes];
        for (i, &l) in labels.iter().enumerate() {
            by_class[l].push(i);
        }
        // Share n_test among the classes: floor of each exact share, then the remaining samples
        // to the largest fractional parts.
        let n = self.n_samples.max(1) as f64;
        let exact: Vec<f64> = by_class
            .iter()
            .map(|c| c.len() as f64 * n_test as f64 / n)
            .collect();
        let mut take: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
        let mut order: Vec<usize> = (0..*n_classes).collect();
        order.sort_by(|&a, &b| {
            let (fa, fb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
            fb.total_cmp(&fa).then(a.cmp(&b))
        });
        let mut left = n_test - take.iter().sum::<usize>();
        for &c in order.iter().cycle().take(2 * *n_classes) {
            if left == 0 {
                break;
            }
            if take[c] < by_class[c].len() {
                take[c] += 1;
                left -= 1;
            }
        }
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (members, &k) in by_class.iter_mut().zip(&take) {
            rng.shuffle(members);
            test.extend_from_slice(&members[..k]);
            train.extend_from_slice(&members[k..]);
        }
        rng.shuffle(&mut train);
        rng.shuffle(&mut test);
        Ok((self.subset(&train), self.subset(&test)))
    }

    /// Shuffled mini-batches of sample indices covering every sample once (the last batch may be
    /// smaller); see [`batches`].
    pub fn batches(&self, batch_size: usize, seed: u64) -> Batches {
        batches(self.n_samples, batch_size, seed)
    }
}

/// An iterator over shuffled mini-batches of sample indices: one epoch.
///
/// Made by [`batches`] or [`Batches::with_rng`]; each item is a `Vec` of at most `batch_size`
/// distinct indices, and together the batches cover `0..n_samples` exactly once.
#[derive(Clone, Debug)]
pub struct Batches {
    order: Vec<usize>,
    batch_size: usize,
    next: usize,
}

/// One epoch of shuffled mini-batches over `n_samples` samples; the same seed gives the same
/// batches (use a different seed per epoch, e.g. `seed + epoch`, or [`Batches::with_rng`]).
///
/// # Panics
/// If `batch_size` is 0.
///
/// ```
/// use chainrule::data::batches;
///
/// let all: Vec<Vec<usize>> = batches(10, 4, 3).collect();
/// assert_eq!(all.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
/// let mut seen: Vec<usize> = all.concat();
/// seen.sort();
/// assert_eq!(seen, (0..10).collect::<Vec<_>>());
/// ```
pub fn batches(n_samples: usize, batch_size: usize, seed: u64) -> Batches {
    Batches::with_rng(n_samples, batch_size, &mut Rng::new(seed))
}

impl Batches {
    /// One epoch of batches shuffled by `rng` (which advances, so the next epoch differs).
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn with_rng(n_samples: usize, batch_size: usize, rng: &mut Rng) -> Batches {
        assert!(batch_size > 0, "the batch size must be at least 1");
        Batches {
            order: rng.permutation(n_samples),
            batch_size,
            next: 0,
        }
    }

    /// The shuffled order of the whole epoch.
    pub fn order(&self) -> &[usize] {
        &self.order
    }
}

impl Iterator for Batches {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        if self.next >= self.order.len() {
            return None;
        }
        let end = (self.next + self.batch_size).min(self.order.len());
        let batch = self.order[self.next..end].to_vec();
        self.next = end;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.order.len() - self.next).div_ceil(self.batch_size);
        (n, Some(n))
    }
}

impl ExactSizeIterator for Batches {}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(labels: Vec<usize>, n_classes: usize) -> Dataset {
        let n = labels.len();
        Dataset::new(
            (0..n).map(|i| i as f32).collect(),
            1,
            Targets::Classes {
                labels,
                n_classes,
                names: (0..n_classes).map(|k| k.to_string()).collect(),
            },
        )
        .unwrap()
    }

    #[test]
    fn standardizer_fits_on_train_and_applies_to_both() {
        let train = Dataset::new(
            vec![0.0, 5.0, 2.0, 5.0, 4.0, 5.0],
            2,
            Targets::Values(vec![0.0; 3]),
        )
        .unwrap();
        let s = Standardizer::fit(&train);
        assert_eq!(s.mean, vec![2.0, 5.0]);
        let sd = (8.0f32 / 3.0).sqrt();
        assert!((s.std[0] - sd).abs() < 1e-6);
        assert_eq!(s.std[1], 1.0);
        let mut t = train.clone();
        s.transform(&mut t);
        let col0: Vec<f32> = (0..3).map(|i| t.row(i)[0]).collect();
        assert!(col0.iter().sum::<f32>().abs() < 1e-6);
        assert!((col0.iter().map(|x| x * x).sum::<f32>() / 3.0 - 1.0).abs() < 1e-5);
        // Tiny but real spreads are kept; a spread within rounding of the mean is not.
        let tiny = Standardizer::fit_features(&[1e-7, 3e-7], 1);
        assert!((tiny.std[0] - 1e-7).abs() < 1e-12);
        let rounding =
            Standardizer::fit_features(&[1000.0, f32::from_bits(1000f32.to_bits() + 1)], 1);
        assert_eq!(rounding.std[0], 1.0);
        let mut row = [2.0 + sd, 7.0];
        s.transform_row(&mut row);
        assert!((row[0] - 1.0).abs() < 1e-6 && row[1] == 2.0);
        s.inverse_row(&mut row);
        assert!((row[0] - (2.0 + sd)).abs() < 1e-5 && row[1] == 7.0);
    }

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let d = classes((0..20).map(|i| i % 2).collect(), 2);
        let (a, b) = d.split(0.3, 5).unwrap();
        assert_eq!((a.len(), b.len()), (14, 6));
        let (a2, b2) = d.split(0.3, 5).unwrap();
        assert_eq!((&a, &b), (&a2, &b2));
        let (_, b3) = d.split(0.3, 6).unwrap();
        assert_ne!(b, b3);
        let mut all: Vec<f32> = a.features.iter().chain(&b.features).copied().collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..20).map(|i| i as f32).collect::<Vec<_>>());
        // Each feature still sits beside its own label.
        for part in [&a, &b] {
            for i in 0..part.len() {
                assert_eq!(part.row(i)[0] as usize % 2, part.labels().unwrap()[i]);
            }
        }
        assert!(d.split(1.5, 0).is_err());
        assert!(d.split(f64::NAN, 0).is_err());
        assert_eq!(d.split(0.0, 0).unwrap().1.len(), 0);
        assert_eq!(d.split(1.0, 0).unwrap().0.len(), 0);
    }

    #[test]
    fn stratified_split_keeps_class_shares() {
        // 60 / 30 / 10 samples.
        let labels: Vec<usize> = (0..100)
            .map(|i| {
                if i < 60 {
                    0
                } else if i < 90 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let d = classes(labels, 3);
        let (train, test) = d.stratified_split(0.25, 9).unwrap();
        assert_eq!(test.len(), 25);
        assert_eq!(test.class_counts(), vec![15, 8, 2]);
        assert_eq!(train.class_counts(), vec![45, 22, 8]);
        let (_, t2) = d.stratified_split(0.25, 9).unwrap();
        assert_eq!(test, t2);
        let (_, odd) = d.stratified_split(0.03, 1).unwrap();
        assert_eq!(odd.len(), 3);
        let r = Dataset::new(vec![0.0; 2], 1, Targets::Values(vec![0.0; 2])).unwrap();
        assert!(r.stratified_split(0.5, 0).is_err());
    }

    #[test]
    fn batches_cover_an_epoch_once() {
        let b = batches(103, 10, 1);
        assert_eq!(b.len(), 11);
        let order = b.order().to_vec();
        let all: Vec<Vec<usize>> = b.collect();
        assert_eq!(all.last().unwrap().len(), 3);
        assert_eq!(all.concat(), order);
        let mut seen = all.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..103).collect::<Vec<_>>());
        assert_eq!(batches(103, 10, 1).order(), &order[..]);
        assert_ne!(batches(103, 10, 2).order(), &order[..]);
        let mut rng = Rng::new(0);
        let e1 = Batches::with_rng(50, 7, &mut rng).order().to_vec();
        let e2 = Batches::with_rng(50, 7, &mut rng).order().to_vec();
        assert_ne!(e1, e2);
        assert_eq!(batches(0, 4, 0).count(), 0);
    }
}
