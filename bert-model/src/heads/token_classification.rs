//! Token classification: dropout + linear on every token's hidden state
//! (Hugging Face `BertForTokenClassification`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::TaskHead;
use crate::bert::{BertOutput, normal_init};
use crate::config::BertConfig;

/// Settings of a [`TokenClassificationHead`].
#[derive(Config, Debug)]
pub struct TokenClassificationHeadConfig {
    /// Width of the hidden states it reads (`hidden_size`).
    pub hidden_size: usize,
    /// Number of tags.
    pub num_labels: usize,
    /// Dropout before the classifier.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Standard deviation of the classifier's initial weights.
    #[config(default = 0.02)]
    pub initializer_range: f64,
}

impl TokenClassificationHeadConfig {
    /// The head Hugging Face would build for `config` and `num_labels` tags.
    pub fn for_model(config: &BertConfig, num_labels: usize) -> Self {
        Self::new(config.hidden_size, num_labels)
            .with_dropout(config.classifier_dropout_prob())
            .with_initializer_range(config.initializer_range)
    }

    /// Creates a randomly initialised head.
    pub fn init(&self, device: &Device) -> TokenClassificationHead {
        TokenClassificationHead {
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(self.hidden_size, self.num_labels)
                .with_initializer(normal_init(self.initializer_range))
                .init(device),
        }
    }
}

/// Dropout + linear on each token.
#[derive(Module, Debug)]
pub struct TokenClassificationHead {
    /// Dropout on the hidden states.
    pub dropout: Dropout,
    /// Projection to one logit per tag, `H -> num_labels`.
    pub classifier: Linear,
}

impl TokenClassificationHead {
    /// Number of tags the head predicts.
    pub fn num_labels(&self) -> usize {
        self.classifier.weight.dims()[1]
    }
}

impl TaskHead for TokenClassificationHead {
    /// Logits, `[B, T, num_labels]`.
    type Output = Tensor<3>;

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["classifier"];

    fn forward(&self, encoded: BertOutput) -> Tensor<3> {
        self.classifier
            .forward(self.dropout.forward(encoded.last_hidden_state))
    }
}
