//! The error of training, evaluation, model files and run settings: one value per kind of
//! failure, so that a caller can tell an anomaly (a NaN in a step) from bad input without
//! reading the message.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::anomaly::{Anomaly, Phase};
use crate::data::DataError;
use crate::model_file::ModelFileError;
use crate::nn::SpecError;
use crate::optim::ConfigError;
use crate::tensor::TensorError;

/// Why training, evaluation, loading a model or settling a run's settings failed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TrainError {
    /// Anomaly detection found the first NaN or infinity of a step (see
    /// [`Trainer::set_detect_anomaly`](super::Trainer::set_detect_anomaly)): one of the forward
    /// pass, or one the backward sweep found (whose message, as the tape's backward gives it,
    /// begins `backward:`).
    Anomaly(Anomaly),
    /// Tensors that do not fit together (shapes).
    Tensor(TensorError),
    /// An optimizer setting out of range, or an unknown optimizer.
    Config(ConfigError),
    /// Data that cannot be read or split (shared, since the error of a file holds the
    /// operating system's error, which cannot be copied).
    Data(Arc<DataError>),
    /// Layer widths that cannot describe a network.
    Spec(SpecError),
    /// A model file or checkpoint that cannot be read, written or used, naming the file.
    File(ModelFileError),
    /// A setting given for a resumed run that differs from the checkpoint's.
    Conflict {
        /// The command-line flag, e.g. `--model`.
        flag: String,
        /// The value given.
        given: String,
        /// The checkpoint's value.
        recorded: String,
        /// The checkpoint.
        checkpoint: PathBuf,
    },
    /// Settings or data that do not fit the network or each other.
    Invalid(String),
}

impl TrainError {
    /// An error about the file at `path`: `path: reason`.
    pub fn file(path: &Path, reason: impl Into<String>) -> Self {
        TrainError::File(ModelFileError {
            path: path.to_path_buf(),
            reason: reason.into(),
        })
    }

    /// An error about settings or data, with this message.
    pub fn invalid(message: impl Into<String>) -> Self {
        TrainError::Invalid(message.into())
    }
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Anomaly(a) => match a.phase {
                Phase::Forward => write!(f, "anomaly detected: {a}"),
                Phase::Backward => write!(f, "backward: {a}"),
            },
            TrainError::Tensor(e) => e.fmt(f),
            TrainError::Config(e) => e.fmt(f),
            TrainError::Data(e) => e.fmt(f),
            TrainError::Spec(e) => e.fmt(f),
            TrainError::File(e) => e.fmt(f),
            TrainError::Conflict {
                flag,
                given,
                recorded,
                checkpoint,
            } => write!(
                f,
                "{flag} {given}, but the checkpoint {} was made with {flag} {recorded}: leave \
                 {flag} out to continue with the checkpoint's, or start a new run without --resume",
                checkpoint.display()
            ),
            TrainError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Anomaly(_) | TrainError::Conflict { .. } | TrainError::Invalid(_) => None,
            TrainError::Tensor(e) => Some(e),
            TrainError::Config(e) => Some(e),
            TrainError::Data(e) => Some(e.as_ref()),
            TrainError::Spec(e) => Some(e),
            TrainError::File(e) => Some(e),
        }
    }
}

impl PartialEq for TrainError {
    /// Equal when of the same kind with equal contents; data errors, which hold an operating
    /// system error, compare by their messages.
    fn eq(&self, other: &Self) -> bool {
        use TrainError::*;
        match (self, other) {
            (Anomaly(a), Anomaly(b)) => a == b,
            (Tensor(a), Tensor(b)) => a == b,
            (Config(a), Config(b)) => a == b,
            (Data(a), Data(b)) => a.to_string() == b.to_string(),
            (Spec(a), Spec(b)) => a == b,
            (File(a), File(b)) => a == b,
            (Invalid(a), Invalid(b)) => a == b,
            (
                Conflict {
                    flag,
                    given,
                    recorded,
                    checkpoint,
                },
                Conflict {
                    flag: f,
                    given: g,
                    recorded: r,
                    checkpoint: c,
                },
            ) => (flag, given, recorded, checkpoint) == (f, g, r, c),
            _ => false,
        }
    }
}

impl From<Anomaly> for TrainError {
    fn from(a: Anomaly) -> Self {
        TrainError::Anomaly(a)
    }
}

impl From<TensorError> for TrainError {
    fn from(e: TensorError) -> Self {
        TrainError::Tensor(e)
    }
}

impl From<ConfigError> for TrainError {
    fn from(e: ConfigError) -> Self {
        TrainError::Config(e)
    }
}

impl From<DataError> for TrainError {
    fn from(e: DataError) -> Self {
        TrainError::Data(Arc::new(e))
    }
}

impl From<ModelFileError> for TrainError {
    fn from(e: ModelFileError) -> Self {
        TrainError::File(e)
    }
}

impl From<SpecError> for TrainError {
    fn from(e: SpecError) -> Self {
        TrainError::Spec(e)
    }
}
