//! [`BertForTask`]: an encoder of any family and one swappable task head, as one module.

use burn::module::Module;

use crate::encoder::Encoder;
use crate::heads::{
    QuestionAnsweringHead, SequenceClassificationHead, TaskHead, TokenClassificationHead,
};
use crate::precision::Precision;
use crate::shared::BertInput;

/// An [`Encoder`] with a task head on top; trained, saved and loaded as one module.
#[derive(Module, Debug)]
pub struct BertForTask<H> {
    /// The encoder, of any family (`bert.*`, `roberta.*`, `model.*`, ... in
    /// Hugging Face checkpoints).
    pub bert: Encoder,
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
