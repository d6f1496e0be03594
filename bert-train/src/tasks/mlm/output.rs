//! The step output of masked-LM (and next-sentence) pretraining.

use burn::tensor::{ExecutionError, Int, Tensor};
use burn::train::ItemLazy;
use burn::train::metric::{AccuracyInput, Adaptor, PerplexityInput};

use crate::training::step::StepOutput;

/// Losses and predictions of a batch.
pub struct PretrainingOutput {
    /// Masked-LM loss, plus next-sentence loss when present.
    pub loss: Tensor<1>,
    /// Masked-LM loss alone.
    pub mlm_loss: Tensor<1>,
    /// Vocabulary logits at the chosen positions, `[M, vocab_size]`.
    pub mlm_logits: Tensor<2>,
    /// Original ids at the chosen positions, `[M]`.
    pub mlm_labels: Tensor<1, Int>,
    /// Next-sentence logits `[B, 2]` and labels `[B]`, for pair batches.
    pub next_sentence: Option<(Tensor<2>, Tensor<1, Int>)>,
    /// Sequences in the batch.
    pub sequences: usize,
}

impl StepOutput for PretrainingOutput {
    fn loss(&self) -> Tensor<1> {
        self.loss.clone()
    }

    fn samples(&self) -> usize {
        self.sequences
    }
}

impl ItemLazy for PretrainingOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            mlm_loss: self.mlm_loss.without_autodiff(),
            mlm_logits: self.mlm_logits.without_autodiff(),
            mlm_labels: self.mlm_labels.without_autodiff(),
            next_sentence: self
                .next_sentence
                .map(|(logits, labels)| (logits.without_autodiff(), labels.without_autodiff())),
            sequences: self.sequences,
        })
    }
}

/// Masked-token accuracy.
impl Adaptor<AccuracyInput> for PretrainingOutput {
    fn adapt(&self) -> AccuracyInput {
        AccuracyInput::new(self.mlm_logits.clone(), self.mlm_labels.clone())
    }
}

/// Masked-LM perplexity.
impl Adaptor<PerplexityInput> for PretrainingOutput {
    fn adapt(&self) -> PerplexityInput {
        PerplexityInput::new(self.mlm_logits.clone(), self.mlm_labels.clone())
    }
}
