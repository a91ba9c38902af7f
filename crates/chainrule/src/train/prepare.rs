//! Data preparation before training: the split into training and test parts, and the
//! standardisation fitted on the training part.

use super::TrainError;
use crate::data::{Dataset, Standardizer, Targets};

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

/// Splits `data` into training and test parts (stratified by class for classification) with
/// `seed`, and standardises both with the training part's means and deviations if asked.
pub fn prepare(
    data: &Dataset,
    test_fraction: f64,
    seed: u64,
    standardize: bool,
) -> Result<Prepared, TrainError> {
    if data.is_empty() {
        return Err(TrainError::invalid("the dataset has no samples"));
    }
    let (mut train, mut test) = match data.targets {
        Targets::Classes { .. } => data.stratified_split(test_fraction, seed)?,
        Targets::Values(_) => data.split(test_fraction, seed)?,
    };
    if train.is_empty() {
        return Err(TrainError::invalid(format!(
            "a test fraction of {test_fraction} leaves no samples to train on"
        )));
    }
    let standardizer = standardize.then(|| {
        let s = Standardizer::fit(&train);
        s.transform(&mut train);
        s.transform(&mut test);
        s
    });
    Ok(Prepared {
        train,
        test,
        standardizer,
    })
}
