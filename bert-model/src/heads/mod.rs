//! Task heads: small modules that turn the encoder's output into a task's prediction.
//!
//! A head implements [`TaskHead`]; [`BertForTask`](crate::BertForTask) pairs it with
//! a [`BertModel`](crate::BertModel), so adding a task means adding a head.

mod classifier_config;
mod pretraining;
mod question_answering;
mod sequence_classification;
mod token_classification;

pub use classifier_config::ClassifierHeadConfig;
pub use pretraining::{
    BertForPreTraining, LmPredictionHead, PredictionTransform, PretrainingHead,
    PretrainingHeadConfig, PretrainingHeadOutput, PretrainingHeads,
};
pub use question_answering::{QuestionAnsweringHead, QuestionAnsweringHeadConfig, SpanLogits};
pub use sequence_classification::SequenceClassificationHead;
pub use token_classification::TokenClassificationHead;

use burn::module::{Module, ModuleDisplay};

use crate::bert::BertModelOutput;

/// A swappable layer on top of [`BertModel`](crate::BertModel).
pub trait TaskHead: Module + ModuleDisplay {
    /// What the head predicts, e.g. `[B, num_labels]` logits.
    type Output;

    /// Top-level names of this head's weights in Hugging Face checkpoints,
    /// e.g. `["classifier"]` for `classifier.weight` and `classifier.bias`.
    /// The head's own fields carry the same names.
    const CHECKPOINT_PREFIXES: &'static [&'static str];

    /// The transformers class that opens a checkpoint with this head
    /// (`architectures` in `config.json`), e.g. `BertForSequenceClassification`.
    const ARCHITECTURE: &'static str;

    /// Predicts from the encoder's output.
    fn forward(&self, encoded: BertModelOutput) -> Self::Output;
}

/// Prefixes of every head this crate knows, so that loading an encoder from a
/// checkpoint made for another task can tell a foreign head from a wrong tensor.
pub const KNOWN_HEAD_PREFIXES: &[&str] = &["classifier", "qa_outputs", "cls"];
