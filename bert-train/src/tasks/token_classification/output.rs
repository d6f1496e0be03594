//! The loss and step output of token classification: cross-entropy over
//! the tokens whose label is not [`IGNORE`], optionally class-weighted.

use bert_data::token_classification::IGNORE;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use burn::train::metric::{AccuracyInput, Adaptor};

/// Loss, per-token logits and labels of a batch.
pub struct TokenOutput {
    /// Mean cross-entropy over labelled tokens.
    pub loss: Tensor<1>,
    /// `[B, T, num_labels]`.
    pub logits: Tensor<3>,
    /// `[B, T]`, [`IGNORE`] where unlabelled.
    pub labels: Tensor<2, Int>,
}

impl TokenOutput {
    /// Scores `logits` against `labels` with [`masked_cross_entropy`]
    /// (class `weights` optional).
    pub fn new(logits: Tensor<3>, labels: Tensor<2, Int>, weights: Option<&[f32]>) -> Self {
        Self {
            loss: masked_cross_entropy(logits.clone(), labels.clone(), weights),
            logits,
            labels,
        }
    }
}

/// Cross-entropy over the positions whose label is not [`IGNORE`]
/// (PyTorch's `ignore_index`): the mean, or with class `weights` the
/// weighted mean `sum(w[y] * nll) / sum(w[y])`, as PyTorch computes it; 0
/// when no position is labelled.
pub fn masked_cross_entropy(
    logits: Tensor<3>,
    labels: Tensor<2, Int>,
    weights: Option<&[f32]>,
) -> Tensor<1> {
    let [batch, seq_len, classes] = logits.dims();
    let labels = labels.reshape([batch * seq_len]);
    let keep = labels.clone().not_equal_elem(IGNORE);
    let safe_labels = labels.mask_fill(keep.clone().bool_not(), 0);
    let log_probs = log_softmax(logits.reshape([batch * seq_len, classes]), 1)
        .gather(1, safe_labels.clone().unsqueeze_dim(1))
        .squeeze_dim::<1>(1);
    let mut keep = keep.float();
    if let Some(weights) = weights {
        let weights = Tensor::<1>::from_floats(weights, &log_probs.device());
        keep = keep * weights.select(0, safe_labels);
    }
    let total = keep.clone().sum().clamp_min(1e-12);
    (log_probs * keep).sum().neg() / total
}

crate::step_output!(TokenOutput { loss, logits, labels }, samples: labels);

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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// Three positions: labelled 1, ignored, labelled 0.
    fn example() -> (Tensor<3>, Tensor<2, Int>) {
        let device = Device::flex();
        let logits = Tensor::<3>::from_data(
            TensorData::new(vec![0.0f32, 2.0, 5.0, -5.0, 1.0, 0.0], [1, 3, 2]),
            &device,
        );
        let labels =
            Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, IGNORE, 0], [1, 3]), &device);
        (logits, labels)
    }

    #[test]
    fn ignored_positions_do_not_count_and_weights_weigh() {
        // -log softmax([0, 2])[1] = log(1 + e^-2); -log softmax([1, 0])[0] = log(1 + e^-1).
        let first = (1.0f32 + (-2.0f32).exp()).ln();
        let third = (1.0f32 + (-1.0f32).exp()).ln();
        let (logits, labels) = example();
        let loss: f32 = masked_cross_entropy(logits, labels, None).into_scalar();
        assert!((loss - (first + third) / 2.0).abs() < 1e-6, "{loss}");
        // Class 1 weighs 3, class 0 weighs 1: (3 * first + third) / 4, as PyTorch.
        let (logits, labels) = example();
        let weighted: f32 = masked_cross_entropy(logits, labels, Some(&[1.0, 3.0])).into_scalar();
        let expected = (3.0 * first + third) / 4.0;
        assert!(
            (weighted - expected).abs() < 1e-6,
            "{weighted} vs {expected}"
        );
    }
}
