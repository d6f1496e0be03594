//! Sequence classification: dropout + linear on the pooled `[CLS]` output
//! (Hugging Face `BertForSequenceClassification`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::TaskHead;
use crate::bert::{BertOutput, normal_init};
use crate::config::BertConfig;

/// Settings of a [`SequenceClassificationHead`].
#[derive(Config, Debug)]
pub struct SequenceClassificationHeadConfig {
    /// Width of the pooled output it reads (`hidden_size`).
    pub hidden_size: usize,
    /// Number of classes (1 for regression).
    pub num_labels: usize,
    /// Dropout before the classifier.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Standard deviation of the classifier's initial weights.
    #[config(default = 0.02)]
    pub initializer_range: f64,
}

impl SequenceClassificationHeadConfig {
    /// The head Hugging Face would build for `config` and `num_labels` classes.
    pub fn for_model(config: &BertConfig, num_labels: usize) -> Self {
        Self::new(config.hidden_size, num_labels)
            .with_dropout(config.classifier_dropout_prob())
            .with_initializer_range(config.initializer_range)
    }

    /// Creates a randomly initialised head.
    pub fn init(&self, device: &Device) -> SequenceClassificationHead {
        SequenceClassificationHead {
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(self.hidden_size, self.num_labels)
                .with_initializer(normal_init(self.initializer_range))
                .init(device),
        }
    }
}

/// Dropout + linear on the pooled output.
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

    fn forward(&self, encoded: BertOutput) -> Tensor<2> {
        self.classifier
            .forward(self.dropout.forward(encoded.pooled_output))
    }
}
