//! Data preparation before training: the split into training and test parts, and the
//! standardisation fitted on the training part.

use super::TrainError;
use crate::data::{Dataset, ImageShape, Standardizer, Targets};

/// A training and a test part of a dataset, standardised with the training part's statistics.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The training samples.
    pub train: Dataset,
    /// The test samples (empty with a test fraction of 0).
    pub test: Dataset,
    /// The standardisation applied to both, fitted on the training part.
    pub standardizer: Option<Standardizer>,
}

/// How inputs are standardised before training, with statistics of the training part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// The features as they are.
    None,
    /// Each feature by its own mean and deviation ([`Standardizer::fit`]).
    PerFeature,
    /// Each channel of images of this shape by its mean and deviation over every pixel
    /// ([`Standardizer::fit_channels`]), for convolutional networks.
    PerChannel(ImageShape),
}

/// Splits `data` into training and test parts (stratified by class for classification) with
/// `seed`, and standardises both with the training part's means and deviations if asked.
pub fn prepare(
    data: &Dataset,
    test_fraction: f64,
    seed: u64,
    standardize: bool,
) -> Result<Prepared, TrainError> {
    let scaling = if standardize {
        Scaling::PerFeature
    } else {
        Scaling::None
    };
    prepare_with(data, None, test_fraction, seed, scaling)
}

/// [`prepare`] with a fixed test set (then `data` is all for training and `test_fraction` is
/// not used) and a choice of [`Scaling`].
pub fn prepare_with(
    data: &Dataset,
    test: Option<&Dataset>,
    test_fraction: f64,
    seed: u64,
    scaling: Scaling,
) -> Result<Prepared, TrainError> {
    if data.is_empty() {
        return Err(TrainError::invalid("the dataset has no samples"));
    }
    let (mut train, mut test) = match (test, &data.targets) {
        (Some(t), _) => (data.clone(), t.clone()),
        (None, Targets::Classes { .. }) => data.stratified_split(test_fraction, seed)?,
        (None, Targets::Values(_)) => data.split(test_fraction, seed)?,
    };
    if train.is_empty() {
        return Err(TrainError::invalid(format!(
            "a test fraction of {test_fraction} leaves no samples to train on"
        )));
    }
    let fitted = match scaling {
        Scaling::None => None,
        Scaling::PerFeature => Some(Standardizer::fit(&train)),
        Scaling::PerChannel(shape) => Some(Standardizer::fit_channels(&train.features, shape)),
    };
    let standardizer = fitted.inspect(|s| {
        s.transform(&mut train);
        s.transform(&mut test);
    });
    Ok(Prepared {
        train,
        test,
        standardizer,
    })
}
