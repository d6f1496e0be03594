//! [`BertForTask`]: the encoder and one swappable task head, as one module.

use burn::module::Module;

use crate::bert::{BertInput, BertModel};
use crate::heads::{
    QuestionAnsweringHead, SequenceClassificationHead, TaskHead, TokenClassificationHead,
};
use crate::precision::Precision;

/// A [`BertModel`] with a task head on top; trained, saved and loaded as one module.
#[derive(Module, Debug)]
pub struct BertForTask<H> {
    /// The shared encoder (`bert.*` in Hugging Face checkpoints).
    pub bert: BertModel,
    /// The task-specific head.
    pub head: H,
}

impl<H: TaskHead> BertForTask<H> {
    /// The same model with its encoder's matrix products in `precision`.
    pub fn with_precision(self, precision: Precision) -> Self {
        Self {
            bert: self.bert.with_precision(precision),
            ..self
        }
    }

    /// Encodes the batch and applies the head.
    pub fn forward(&self, input: BertInput) -> H::Output {
        self.head.forward(self.bert.forward(input))
    }
}

/// Hugging Face's `BertForSequenceClassification`.
pub type BertForSequenceClassification = BertForTask<SequenceClassificationHead>;

/// Hugging Face's `BertForTokenClassification`.
pub type BertForTokenClassification = BertForTask<TokenClassificationHead>;

/// Hugging Face's `BertForQuestionAnswering`.
pub type BertForQuestionAnswering = BertForTask<QuestionAnsweringHead>;
