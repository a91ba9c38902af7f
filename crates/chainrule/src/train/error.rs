//! The error of training, evaluation and model files.

use std::fmt;

use crate::data::DataError;
use crate::optim::ConfigError;
use crate::tensor::TensorError;

/// Why training, evaluation or loading a model failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainError(pub String);

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TrainError {}

impl From<TensorError> for TrainError {
    fn from(e: TensorError) -> Self {
        TrainError(e.to_string())
    }
}

impl From<ConfigError> for TrainError {
    fn from(e: ConfigError) -> Self {
        TrainError(e.to_string())
    }
}

impl From<DataError> for TrainError {
    fn from(e: DataError) -> Self {
        TrainError(e.to_string())
    }
}
