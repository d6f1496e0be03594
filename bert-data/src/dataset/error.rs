//! [`DatasetError`]: what can be wrong with data, always with where.

use crate::assets::AssetError;

/// Why data could not be read or used.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A row that cannot be used; `origin` is `file:line`.
    #[error("{origin}: {message}")]
    Row {
        /// `file:line` of the row.
        origin: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A file that cannot be read at all.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A label that the training split did not have.
    #[error("{origin}: unknown label {label:?}: the training data has {known}")]
    UnknownLabel {
        /// `file:line` of the row.
        origin: String,
        /// The label found.
        label: String,
        /// The labels of the training split.
        known: String,
    },
    /// A label with fewer examples than a draw of so many per class needs.
    #[error(
        "label {label:?} has {found} training examples, fewer than the {wanted} per class asked for"
    )]
    TooFewExamples {
        /// The label.
        label: String,
        /// Its number of examples.
        found: usize,
        /// The number asked for.
        wanted: usize,
    },
    /// A name that is neither a built-in dataset nor a file.
    #[error(
        "unknown dataset {name:?}: expected one of {known}, a data file or folder, or a Hugging Face dataset id (org/name[:config])"
    )]
    UnknownDataset {
        /// The name given.
        name: String,
        /// The built-in names.
        known: String,
    },
    /// A Hugging Face dataset that was not found, or not usable.
    #[error("dataset {id}: {message}")]
    Hub {
        /// The dataset id, `org/name[:config]`.
        id: String,
        /// Where it was looked for, and why it was not used.
        message: String,
    },
    /// Installing the dataset's package failed.
    #[error(transparent)]
    Asset(#[from] AssetError),
}
