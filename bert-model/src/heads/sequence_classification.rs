//! Sequence classification: dropout + linear on the pooled `[CLS]` output
//! (Hugging Face `BertForSequenceClassification`).

use burn::module::Module;
use burn::nn::{Dropout, Linear};
use burn::tensor::Tensor;

use super::TaskHead;
use crate::bert::BertModelOutput;

/// Dropout + linear on the pooled output (build it with [`ClassifierHeadConfig::init`](super::ClassifierHeadConfig::init)).
#[derive(Module, Debug)]
pub struct SequenceClassificationHead {
    /// Dropout on the pooled output.
    pub dropout: Dropout,
    /// Projection to one logit per class, `H -> num_labels`.
    pub classifier: Linear,
}

impl SequenceClassificationHead {
    /// Number of classes the head predicts.
    pub fn num_labels(&self) -> usize {
        self.classifier.weight.dims()[1]
    }
}

impl TaskHead for SequenceClassificationHead {
    /// Logits, `[B, num_labels]`.
    type Output = Tensor<2>;

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["classifier"];
    const ARCHITECTURE: &'static str = "BertForSequenceClassification";

    fn forward(&self, encoded: BertModelOutput) -> Tensor<2> {
        self.classifier
            .forward(self.dropout.forward(encoded.pooled_output))
    }
}
