//! The one error type of the runtime.

use std::path::PathBuf;

/// Every run-time failure of `dl`: bad input sizes, bad files, bad numbers.
///
/// Messages are lowercase and name what was expected and what was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A buffer or batch whose length does not fit the declared per-sample shape.
    #[error("{what}: expected {expected}, found {found}")]
    Size {
        /// What was being checked (`"batch of [3, 32, 32] samples"`).
        what: String,
        /// What was expected, in words and numbers.
        expected: String,
        /// What came.
        found: String,
    },
    /// A class label outside `0..classes`.
    #[error("label {label} at position {index} is out of range: the model has {classes} classes")]
    LabelOutOfRange {
        /// The offending label.
        label: usize,
        /// Its index in the batch or data set.
        index: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A value that is NaN or infinite where a finite number is needed.
    #[error("{what} is not finite ({value})")]
    NotFinite {
        /// What was being computed.
        what: String,
        /// The value found.
        value: f32,
    },
    /// An invalid hyper-parameter or configuration value.
    #[error("invalid {what}: {why}")]
    Config {
        /// The setting.
        what: String,
        /// Why it is rejected.
        why: String,
    },
    /// An I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file whose content is not what its format requires.
    #[error("{path}: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the offending position where known.
        why: String,
    },
    /// A checkpoint that does not fit the model: every mismatch, one per line.
    #[error("checkpoint does not match the model:\n{}", .0.join("\n"))]
    StateDict(Vec<String>),
    /// The training loss became NaN or infinite; epoch and batch count from 1.
    #[error(
        "training loss is {value} at epoch {epoch}, batch {batch}: lower the learning rate or check the data"
    )]
    NonFiniteLoss {
        /// The epoch, counted from 1.
        epoch: usize,
        /// The batch within the epoch, counted from 1.
        batch: usize,
        /// The loss found (NaN or ±inf).
        value: f32,
    },
    /// Training was stopped by a callback with a reason (for example a NaN loss).
    #[error("training stopped: {0}")]
    Stopped(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A size mismatch, with the three parts of its message.
    pub fn size(what: impl Into<String>, expected: impl ToString, found: impl ToString) -> Self {
        Error::Size {
            what: what.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// An invalid configuration value.
    pub fn config(what: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Config {
            what: what.into(),
            why: why.into(),
        }
    }

    /// A format error in a named file.
    pub fn format(path: impl Into<PathBuf>, why: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            why: why.into(),
        }
    }

    /// An I/O error on a named file.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
