//! [`SpanExtractor`]: BERT with a start/end head as burn-train's `Learner`
//! model: the mean of the start and end cross-entropies (Hugging Face's loss).

use bert_data::question_answering::QaBatch;
use bert_model::BertForQuestionAnswering;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{ExecutionError, Int, Tensor};
use burn::train::ItemLazy;
use burn::train::metric::{AccuracyInput, Adaptor, LossInput};

use crate::step::{Samples, learner_steps};

/// Wraps the model so that burn-train can train it.
#[derive(Module, Debug)]
pub struct SpanExtractor {
    /// Encoder and `qa_outputs` head.
    pub model: BertForQuestionAnswering,
}

/// Loss and start predictions of a batch.
pub struct SpanOutput {
    /// Mean of the start and end cross-entropies.
    pub loss: Tensor<1>,
    /// Start logits, `[B, T]`.
    pub start_logits: Tensor<2>,
    /// Gold start positions, `[B]`.
    pub start_positions: Tensor<1, Int>,
}

impl SpanExtractor {
    /// Loss and start predictions of a batch.
    pub fn forward_spans(&self, batch: QaBatch) -> SpanOutput {
        let logits = self.model.forward(batch.input);
        let cross_entropy = CrossEntropyLossConfig::new().init(&logits.start.device());
        let start_loss = cross_entropy.forward(logits.start.clone(), batch.start_positions.clone());
        let end_loss = cross_entropy.forward(logits.end, batch.end_positions);
        SpanOutput {
            loss: (start_loss + end_loss) / 2.0,
            start_logits: logits.start,
            start_positions: batch.start_positions,
        }
    }
}

impl Samples for SpanOutput {
    fn samples(&self) -> usize {
        self.start_positions.dims()[0]
    }
}

impl ItemLazy for SpanOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            start_logits: self.start_logits.without_autodiff(),
            start_positions: self.start_positions.without_autodiff(),
        })
    }
}

impl Adaptor<LossInput> for SpanOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

/// Share of windows whose start token is predicted exactly.
impl Adaptor<AccuracyInput> for SpanOutput {
    fn adapt(&self) -> AccuracyInput {
        AccuracyInput::new(self.start_logits.clone(), self.start_positions.clone())
    }
}

learner_steps!(SpanExtractor, QaBatch, SpanOutput, forward_spans);
