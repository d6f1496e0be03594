//! [`Pretrainer`]: BERT with its pre-training heads as burn-train's `Learner`
//! model. The loss is the masked-LM cross-entropy over the chosen tokens,
//! plus the next-sentence cross-entropy when the batch has pairs.

use bert_data::pretraining::PretrainingBatch;
use bert_model::heads::BertForPreTraining;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{ExecutionError, Int, Tensor};
use burn::train::ItemLazy;
use burn::train::metric::{AccuracyInput, Adaptor, LossInput, PerplexityInput};

use crate::step::{Samples, learner_steps};

/// Wraps the model so that burn-train can train it.
#[derive(Module, Debug)]
pub struct Pretrainer {
    /// Encoder, masked-LM and next-sentence heads.
    pub model: BertForPreTraining,
}

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

impl Pretrainer {
    /// Losses and predictions of a masked batch.
    pub fn forward_pretraining(&self, batch: PretrainingBatch) -> PretrainingOutput {
        let sequences = batch.input.input_ids.dims()[0];
        let output = self.model.forward(batch.input);
        let mlm_logits = self
            .model
            .mlm_logits(output.transformed, batch.masked_positions);
        let cross_entropy = CrossEntropyLossConfig::new().init(&mlm_logits.device());
        let mlm_loss = cross_entropy.forward(mlm_logits.clone(), batch.masked_labels.clone());
        let next_sentence = batch
            .next_sentence_labels
            .map(|labels| (output.nsp_logits, labels));
        let loss = match &next_sentence {
            Some((logits, labels)) => {
                mlm_loss.clone() + cross_entropy.forward(logits.clone(), labels.clone())
            }
            None => mlm_loss.clone(),
        };
        PretrainingOutput {
            loss,
            mlm_loss,
            mlm_logits,
            mlm_labels: batch.masked_labels,
            next_sentence,
            sequences,
        }
    }
}

impl Samples for PretrainingOutput {
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

impl Adaptor<LossInput> for PretrainingOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
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

learner_steps!(
    Pretrainer,
    PretrainingBatch,
    PretrainingOutput,
    forward_pretraining
);
