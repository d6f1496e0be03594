//! [`BertForTask`]: an encoder of any family and one swappable task head, as one module.

use burn::module::Module;
use burn::tensor::{Int, Tensor};

use crate::config::ModelFamily;
use crate::encoder::Encoder;
use crate::heads::{
    PretrainingHead, QuestionAnsweringHead, SequenceClassificationHead, TaskHead,
    TokenClassificationHead,
};
use crate::lora::{LoraConfig, LoraError};
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

    /// The same model with its encoder frozen and LoRA adapters on the
    /// layers `config` targets; the head trains in full (peft's
    /// `modules_to_save`).
    pub fn with_lora(self, config: &LoraConfig, family: ModelFamily) -> Result<Self, LoraError> {
        Ok(Self {
            bert: self.bert.with_lora(config, family)?,
            head: self.head,
        })
    }

    /// The same model with its adapters folded into the encoder's weights.
    pub fn merge_lora(self) -> Self {
        Self {
            bert: self.bert.merge_lora(),
            head: self.head,
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

/// Hugging Face's `BertForPreTraining`.
pub type BertForPreTraining = BertForTask<PretrainingHead>;

impl BertForPreTraining {
    /// Vocabulary logits `[M, vocab_size]` at the flat positions
    /// `positions` (`[M]`, indices into `B * T`) of `transformed`, through the
    /// decoder tied to the word embeddings.
    pub fn mlm_logits(&self, transformed: Tensor<3>, positions: Tensor<1, Int>) -> Tensor<2> {
        let [batch, seq_len, hidden] = transformed.dims();
        let selected = transformed
            .reshape([batch * seq_len, hidden])
            .select(0, positions);
        let embeddings = self.bert.word_embeddings();
        selected.matmul(embeddings.transpose()) + self.head.cls.predictions.bias.val().unsqueeze()
    }
}
