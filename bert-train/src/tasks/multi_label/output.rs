//! The loss and step output of multi-label classification: a sigmoid per
//! label and binary cross-entropy (transformers' `BCEWithLogitsLoss`).

use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use burn::train::metric::{Adaptor, ConfusionStatsInput, HammingScoreInput};

/// Loss, logits and targets of a batch.
pub struct MultiLabelOutput {
    /// Mean binary cross-entropy over every (example, label).
    pub loss: Tensor<1>,
    /// `[B, num_labels]`.
    pub logits: Tensor<2>,
    /// `[B, num_labels]`, 1 where the label applies.
    pub targets: Tensor<2>,
}

impl MultiLabelOutput {
    /// Scores `logits` against multi-hot `targets`.
    pub fn new(logits: Tensor<2>, targets: Tensor<2>) -> Self {
        let loss = BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(&logits.device())
            .forward(logits.clone(), targets.clone().int());
        Self {
            loss,
            logits,
            targets,
        }
    }
}

crate::step_output!(
    MultiLabelOutput { loss, logits, targets },
    samples: targets,
    problem: MultiLabelClassification
);

/// Probabilities and true labels, for micro- and macro-F1 at a threshold.
impl Adaptor<ConfusionStatsInput> for MultiLabelOutput {
    fn adapt(&self) -> ConfusionStatsInput {
        ConfusionStatsInput::new(
            sigmoid(self.logits.clone()),
            self.targets.clone().greater_elem(0.5),
        )
    }
}

/// Logits and labels, for the label accuracy (Hamming score).
impl Adaptor<HammingScoreInput> for MultiLabelOutput {
    fn adapt(&self) -> HammingScoreInput {
        HammingScoreInput::new(self.logits.clone(), self.targets.clone().int())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn loss_is_the_mean_binary_cross_entropy_with_logits() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, -1.0], [1, 2]), &device);
        let targets = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0], [1, 2]), &device);
        let loss: f32 = MultiLabelOutput::new(logits, targets).loss.into_scalar();
        // BCEWithLogitsLoss: mean(log(1 + e^-2), log(1 + e^1)).
        let expected = ((1.0f32 + (-2.0f32).exp()).ln() + (1.0f32 + 1.0f32.exp()).ln()) / 2.0;
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }
}
