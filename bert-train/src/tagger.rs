//! [`TokenTagger`]: a BERT token classifier as burn-train's `Learner` model:
//! cross-entropy over the tokens whose label is not [`IGNORE`].

use bert_data::token_classification::{IGNORE, TokenBatch};
use bert_model::BertForTokenClassification;
use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{ExecutionError, Int, Tensor};
use burn::train::ItemLazy;
use burn::train::metric::{AccuracyInput, Adaptor, LossInput};

use crate::step::{Samples, learner_steps};

/// Wraps the model so that burn-train can train it.
#[derive(Module, Debug)]
pub struct TokenTagger {
    /// Encoder and token classification head.
    pub model: BertForTokenClassification,
}

/// Loss, per-token logits and labels of a batch.
pub struct TokenOutput {
    /// Mean cross-entropy over labelled tokens.
    pub loss: Tensor<1>,
    /// `[B, T, num_labels]`.
    pub logits: Tensor<3>,
    /// `[B, T]`, [`IGNORE`] where unlabelled.
    pub labels: Tensor<2, Int>,
}

impl TokenTagger {
    /// Logits, loss and labels of a batch.
    pub fn forward_tokens(&self, batch: TokenBatch) -> TokenOutput {
        let logits = self.model.forward(batch.input);
        TokenOutput {
            loss: masked_cross_entropy(logits.clone(), batch.labels.clone()),
            logits,
            labels: batch.labels,
        }
    }
}

/// Mean cross-entropy over the positions whose label is not [`IGNORE`]
/// (PyTorch's `ignore_index`); 0 when there are none.
pub fn masked_cross_entropy(logits: Tensor<3>, labels: Tensor<2, Int>) -> Tensor<1> {
    let [batch, seq_len, classes] = logits.dims();
    let labels = labels.reshape([batch * seq_len]);
    let keep = labels.clone().not_equal_elem(IGNORE);
    let safe_labels = labels.mask_fill(keep.clone().bool_not(), 0);
    let log_probs = log_softmax(logits.reshape([batch * seq_len, classes]), 1)
        .gather(1, safe_labels.unsqueeze_dim(1))
        .squeeze_dim::<1>(1);
    let keep = keep.float();
    let count = keep.clone().sum().clamp_min(1.0);
    (log_probs * keep).sum().neg() / count
}

impl TokenOutput {
    /// Number of tags.
    pub fn num_labels(&self) -> usize {
        self.logits.dims()[2]
    }
}

impl Samples for TokenOutput {
    fn samples(&self) -> usize {
        self.labels.dims()[0]
    }
}

impl ItemLazy for TokenOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            logits: self.logits.without_autodiff(),
            labels: self.labels.without_autodiff(),
        })
    }
}

impl Adaptor<LossInput> for TokenOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

/// Token accuracy over labelled tokens: unlabelled ones get the class id
/// `num_labels`, which `AccuracyMetric::with_pad_token(num_labels)` skips.
impl Adaptor<AccuracyInput> for TokenOutput {
    fn adapt(&self) -> AccuracyInput {
        let [batch, seq_len, classes] = self.logits.dims();
        let labels = self.labels.clone().reshape([batch * seq_len]);
        let targets = labels
            .clone()
            .mask_fill(labels.lower_elem(0), classes as i64);
        AccuracyInput::new(
            self.logits.clone().reshape([batch * seq_len, classes]),
            targets,
        )
    }
}

learner_steps!(TokenTagger, TokenBatch, TokenOutput, forward_tokens);

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn ignored_positions_do_not_count() {
        let device = Device::flex();
        // Two positions: the first labelled 1, the second ignored.
        let logits = Tensor::<3>::from_data(
            TensorData::new(vec![0.0f32, 2.0, 5.0, -5.0], [1, 2, 2]),
            &device,
        );
        let labels =
            Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, IGNORE], [1, 2]), &device);
        let loss: f32 = masked_cross_entropy(logits, labels).into_scalar();
        // -log softmax([0, 2])[1] = log(1 + e^-2).
        let expected = (1.0f32 + (-2.0f32).exp()).ln();
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }
}
