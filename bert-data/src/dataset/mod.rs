//! Labelled text data: built-in real datasets, local CSV/TSV/JSONL files
//! and Parquet/Arrow tables (one label or a list of labels per row, or
//! several texts and a score), Hugging
//! Face datasets by id ([`hub_data`]), fixed seeded splits and the label
//! vocabulary.

mod builtin;
mod error;
pub mod features;
mod files;
pub mod hub_data;
mod labels;
mod retrieval;
mod split;
pub mod table;
mod tagged;
mod text_tuples;

pub use builtin::{BuiltinDataset, DATASETS, read_utf8};
pub use error::DatasetError;
pub use files::{
    ColumnSpec, EXTENSIONS, FileFormat, declared_labels, read_file, read_multi_label_file,
};
pub use labels::LabelVocab;
pub use retrieval::RetrievalSet;
pub use split::{SplitFractions, SplitMix64, seeded_shuffle, seeded_split};
pub use tagged::{TAGGED_DATASETS, TaggedDataset, TaggedSentence, read_conll, read_tagged};
pub use text_tuples::{SCORE_COLUMNS, TextTuple, TupleColumns, read_tuples};

use std::fmt;
use std::sync::Arc;

/// What the number of an [`Origin`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// A line of a text file (`file:12`).
    Line,
    /// A row of a table: Parquet or Arrow (`file, row 12`).
    Row,
}

/// Where an example came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file it was read from.
    pub file: Arc<str>,
    /// Its 1-based line (or row) number.
    pub line: usize,
    /// Whether `line` counts lines or rows.
    pub record: Record,
}

impl Origin {
    /// Line `line` (1-based) of the text file `file`.
    pub fn line(file: Arc<str>, line: usize) -> Self {
        Self {
            file,
            line,
            record: Record::Line,
        }
    }

    /// Row `row` (1-based) of the table file `file`.
    pub fn row(file: Arc<str>, row: usize) -> Self {
        Self {
            file,
            line: row,
            record: Record::Row,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.record {
            Record::Line => write!(f, "{}:{}", self.file, self.line),
            Record::Row => write!(f, "{}, row {}", self.file, self.line),
        }
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

/// One of the three splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Examples to learn from.
    Train,
    /// Examples to pick the best epoch with.
    Validation,
    /// Held-out examples for the final report.
    Test,
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
    /// The label names the data declares, in class-id order (a Hugging Face
    /// `ClassLabel`), which then hold even for labels no example uses;
    /// `None` when the labels come from the examples.
    pub label_names: Option<Vec<String>>,
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
    /// The splits `train`, `validation` and `test`, no label names declared.
    pub fn new(train: Vec<T>, validation: Vec<T>, test: Vec<T>) -> Self {
        Self {
            train,
            validation,
            test,
            label_names: None,
        }
    }

    /// Each split through `f`, the label names kept.
    pub fn try_map<U, E>(&self, f: impl Fn(&[T]) -> Result<Vec<U>, E>) -> Result<Splits<U>, E> {
        self.try_map_split(|_, examples| f(examples))
    }

    /// Each split through `f`, which is told which split it has, the label
    /// names kept.
    pub fn try_map_split<U, E>(
        &self,
        f: impl Fn(Split, &[T]) -> Result<Vec<U>, E>,
    ) -> Result<Splits<U>, E> {
        Ok(Splits {
            train: f(Split::Train, &self.train)?,
            validation: f(Split::Validation, &self.validation)?,
            test: f(Split::Test, &self.test)?,
            label_names: self.label_names.clone(),
        })
    }

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
