//! Labelled text data: built-in real datasets, local CSV/TSV/JSONL files
//! (one label or a list of labels per row), fixed seeded splits and the
//! label vocabulary.

mod builtin;
mod error;
mod files;
mod labels;
mod split;
mod tagged;

pub use builtin::{BuiltinDataset, DATASETS, read_utf8};
pub use error::DatasetError;
pub use files::{ColumnSpec, FileFormat, read_file, read_multi_label_file};
pub use labels::LabelVocab;
pub use split::{SplitFractions, SplitMix64, seeded_shuffle, seeded_split};
pub use tagged::{TAGGED_DATASETS, TaggedDataset, TaggedSentence, read_conll};

use std::fmt;
use std::sync::Arc;

/// Where an example came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file it was read from.
    pub file: Arc<str>,
    /// Its 1-based line (or record) number.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One labelled text or text pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// The text (sentence A).
    pub text: String,
    /// Sentence B, for pair tasks.
    pub text_pair: Option<String>,
    /// The label as written in the data.
    pub label: String,
    /// Where it was read.
    pub origin: Origin,
}

/// One text or text pair with zero or more labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiLabelExample {
    /// The text (sentence A).
    pub text: String,
    /// Sentence B, for pair tasks.
    pub text_pair: Option<String>,
    /// The distinct labels as written in the data, in the order first written.
    pub labels: Vec<String>,
    /// Where it was read.
    pub origin: Origin,
}

/// Train, validation and test examples (texts, or tagged sentences).
#[derive(Clone, Debug, Default)]
pub struct Splits<T = Example> {
    /// Examples to learn from.
    pub train: Vec<T>,
    /// Examples to pick the best epoch with.
    pub validation: Vec<T>,
    /// Held-out examples for the final report.
    pub test: Vec<T>,
}

/// The entry of `all` called `name`; an error listing every name otherwise.
fn find_named<T>(
    all: &'static [T],
    name: &str,
    name_of: fn(&T) -> &'static str,
) -> Result<&'static T, DatasetError> {
    all.iter()
        .find(|entry| name_of(entry) == name)
        .ok_or_else(|| DatasetError::UnknownDataset {
            name: name.to_string(),
            known: all.iter().map(name_of).collect::<Vec<_>>().join(", "),
        })
}

impl<T> Splits<T> {
    /// Numbers of train, validation and test examples.
    pub fn lens(&self) -> [usize; 3] {
        [self.train.len(), self.validation.len(), self.test.len()]
    }

    /// Keeps at most `max_train` training and `max_eval` validation and test examples.
    pub fn truncate(mut self, max_train: Option<usize>, max_eval: Option<usize>) -> Self {
        if let Some(n) = max_train {
            self.train.truncate(n);
        }
        if let Some(n) = max_eval {
            self.validation.truncate(n);
            self.test.truncate(n);
        }
        self
    }
}
