//! [`ClassifierHeadConfig`]: dropout + linear classifier settings, shared by
//! the sequence and the token classification heads (both are Hugging Face's
//! `dropout` + `classifier`).

use burn::config::Config;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::Device;

use super::{SequenceClassificationHead, TokenClassificationHead};
use crate::bert::normal_init;
use crate::config::{BertConfig, ModelFamily};

/// Settings of a dropout + linear classification head.
#[derive(Config, Debug)]
pub struct ClassifierHeadConfig {
    /// Width of the hidden states it reads (`hidden_size`).
    pub hidden_size: usize,
    /// Number of classes or tags (1 for regression).
    pub num_labels: usize,
    /// Dropout before the classifier.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Standard deviation of the classifier's initial weights.
    #[config(default = 0.02)]
    pub initializer_range: f64,
    /// The family whose sequence classification head to build.
    #[config(default = "ModelFamily::Bert")]
    pub family: ModelFamily,
}

impl ClassifierHeadConfig {
    /// The head Hugging Face would build for `config` and `num_labels` outputs.
    pub fn for_model(config: &BertConfig, num_labels: usize) -> Self {
        Self::new(config.hidden_size, num_labels)
            .with_dropout(config.classifier_dropout_prob())
            .with_initializer_range(config.initializer_range)
            .with_family(config.model_type)
    }

    fn linear(&self, d_output: usize, device: &Device) -> Linear {
        LinearConfig::new(self.hidden_size, d_output)
            .with_initializer(normal_init(self.initializer_range))
            .init(device)
    }

    fn layers(&self, device: &Device) -> (Dropout, Linear) {
        (
            DropoutConfig::new(self.dropout).init(),
            self.linear(self.num_labels, device),
        )
    }

    /// A randomly initialised sequence head, as the family builds it: on the
    /// pooled `[CLS]` output (BERT), or a dense layer on the first token first.
    pub fn init(&self, device: &Device) -> SequenceClassificationHead {
        let (dropout, classifier) = self.layers(device);
        SequenceClassificationHead {
            dropout,
            dense: (self.family != ModelFamily::Bert)
                .then(|| self.linear(self.hidden_size, device)),
            classifier,
            family: self.family,
        }
    }

    /// A randomly initialised head on every token.
    pub fn init_token(&self, device: &Device) -> TokenClassificationHead {
        let (dropout, classifier) = self.layers(device);
        TokenClassificationHead {
            dropout,
            classifier,
        }
    }
}
