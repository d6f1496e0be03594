//! [`ClassifierHeadConfig`]: dropout + linear classifier settings, shared by
//! the sequence and the token classification heads (both are Hugging Face's
//! `dropout` + `classifier`, after ModernBERT's `head`).

use burn::config::Config;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::Device;

use super::{SequenceClassificationHead, TokenClassificationHead, TransformShape};
use crate::config::{BertConfig, ClassifierPooling, HiddenAct, ModelFamily};
use crate::shared::normal_init;

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
    /// ModernBERT's `head` before the classifier; `None` for the other families.
    #[config(default = "None")]
    pub transform: Option<TransformShape>,
    /// How ModernBERT's sequence head pools the tokens (`classifier_pooling`).
    #[config(default = "ClassifierPooling::Cls")]
    pub pooling: ClassifierPooling,
    /// DeBERTa's `ContextPooler` before the sequence classifier; `None` for
    /// the other families.
    #[config(default = "None")]
    pub context_pooler: Option<ContextPoolerShape>,
}

/// DeBERTa's `ContextPooler` (dropout, dense, activation on the first token)
/// and the dropout after it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContextPoolerShape {
    /// Dropout on the first token (`pooler_dropout`).
    pub pooler_dropout: f64,
    /// Activation after the dense layer (`pooler_hidden_act`).
    pub activation: HiddenAct,
    /// Dropout before the classifier (`cls_dropout`, else `hidden_dropout_prob`).
    pub classifier_dropout: f64,
}

impl ContextPoolerShape {
    /// DeBERTa's pooler of `config`, or `None` for the other families.
    pub fn deberta(config: &BertConfig) -> Option<Self> {
        config.deberta.as_ref().map(|settings| Self {
            pooler_dropout: settings.pooler_dropout,
            activation: settings.pooler_hidden_act,
            classifier_dropout: settings.cls_dropout.unwrap_or(config.hidden_dropout_prob),
        })
    }
}

impl ClassifierHeadConfig {
    /// The head Hugging Face would build for `config` and `num_labels` outputs.
    pub fn for_model(config: &BertConfig, num_labels: usize) -> Self {
        Self::new(config.hidden_size, num_labels)
            .with_dropout(config.classifier_dropout_prob())
            .with_initializer_range(config.initializer_range)
            .with_family(config.model_type)
            .with_transform(TransformShape::modernbert(config))
            .with_pooling(
                config
                    .modernbert
                    .as_ref()
                    .map_or_else(Default::default, |settings| settings.classifier_pooling),
            )
            .with_context_pooler(ContextPoolerShape::deberta(config))
    }

    fn transform(&self, device: &Device) -> Option<super::PredictionTransform> {
        self.transform
            .map(|shape| shape.init(self.initializer_range, device))
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
    /// pooled `[CLS]` output (BERT), a dense layer on the first token first,
    /// or ModernBERT's pooling and `head`.
    pub fn init(&self, device: &Device) -> SequenceClassificationHead {
        let (mut dropout, classifier) = self.layers(device);
        let has_dense = !matches!(self.family, ModelFamily::Bert | ModelFamily::ModernBert);
        if let Some(pooler) = self.context_pooler {
            dropout = DropoutConfig::new(pooler.classifier_dropout).init();
        }
        SequenceClassificationHead {
            dropout,
            dense: has_dense.then(|| self.linear(self.hidden_size, device)),
            transform: self.transform(device),
            classifier,
            pooler_dropout: self
                .context_pooler
                .map(|pooler| DropoutConfig::new(pooler.pooler_dropout).init()),
            pooler_activation: self
                .context_pooler
                .map_or(HiddenAct::Tanh, |pooler| pooler.activation),
            family: self.family,
            pooling: self.pooling,
        }
    }

    /// A randomly initialised head on every token.
    pub fn init_token(&self, device: &Device) -> TokenClassificationHead {
        let (dropout, classifier) = self.layers(device);
        TokenClassificationHead {
            transform: self.transform(device),
            dropout,
            classifier,
        }
    }
}
