//! What a sentence-embedding step returns: the loss and the batch's
//! embeddings, which the validation metrics score.

use burn::tensor::{ExecutionError, Tensor};
use burn::train::ItemLazy;
use burn::train::metric::Adaptor;

use super::losses::pairwise_cosine;
use super::metrics::RetrievalInput;
use crate::training::split_metric::CorrelationInput;
use crate::training::step::StepOutput;

/// A batch's loss and embeddings.
#[derive(Clone, Debug)]
pub struct EmbeddingOutput {
    /// The loss, `[1]`.
    pub loss: Tensor<1>,
    /// `[B, H]` embeddings of each column (anchors, positives, ...).
    pub embeddings: Vec<Tensor<2>>,
    /// `[B]` scores of scored rows.
    pub scores: Option<Tensor<1>>,
    /// Per column, the id of each row's text.
    pub text_ids: Vec<Vec<u64>>,
}

impl StepOutput for EmbeddingOutput {
    fn loss(&self) -> Tensor<1> {
        self.loss.clone()
    }

    fn samples(&self) -> usize {
        self.text_ids.first().map_or(0, Vec::len)
    }
}

impl ItemLazy for EmbeddingOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            embeddings: self
                .embeddings
                .into_iter()
                .map(Tensor::without_autodiff)
                .collect(),
            scores: self.scores.map(Tensor::without_autodiff),
            text_ids: self.text_ids,
        })
    }
}

/// The cosine of each pair against its score (no scores: against zeros;
/// the metric is registered for scored data only).
impl Adaptor<CorrelationInput> for EmbeddingOutput {
    fn adapt(&self) -> CorrelationInput {
        let predictions = pairwise_cosine(&self.embeddings[0], &self.embeddings[1]);
        let targets = self
            .scores
            .clone()
            .unwrap_or_else(|| predictions.zeros_like());
        CorrelationInput {
            predictions,
            targets,
        }
    }
}

impl Adaptor<RetrievalInput> for EmbeddingOutput {
    fn adapt(&self) -> RetrievalInput {
        RetrievalInput {
            embeddings: self.embeddings.clone(),
            text_ids: self.text_ids.clone(),
        }
    }
}
