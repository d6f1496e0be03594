//! Extractive question answering: a start and an end score for every token
//! (Hugging Face `BertForQuestionAnswering`, `qa_outputs`; ModernBERT's
//! `head`, dropout and `classifier`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::transform::modernbert_names;
use super::{PredictionTransform, TaskHead, TransformShape};
use crate::config::BertConfig;
use crate::dropout::apply_dropout;
use crate::shared::{BertModelOutput, normal_init};

/// Settings of a [`QuestionAnsweringHead`].
#[derive(Config, Debug)]
pub struct QuestionAnsweringHeadConfig {
    /// Width of the hidden states it reads (`hidden_size`).
    pub hidden_size: usize,
    /// Standard deviation of the initial weights.
    #[config(default = 0.02)]
    pub initializer_range: f64,
    /// ModernBERT's `head` and the dropout after it (`classifier_dropout`);
    /// `None` for the other families.
    #[config(default = "None")]
    pub transform: Option<(TransformShape, f64)>,
}

impl QuestionAnsweringHeadConfig {
    /// The head Hugging Face would build for `config`.
    pub fn for_model(config: &BertConfig) -> Self {
        Self::new(config.hidden_size)
            .with_initializer_range(config.initializer_range)
            .with_transform(
                TransformShape::modernbert(config)
                    .map(|shape| (shape, config.classifier_dropout_prob())),
            )
    }

    /// A randomly initialised head.
    pub fn init(&self, device: &Device) -> QuestionAnsweringHead {
        QuestionAnsweringHead {
            transform: self
                .transform
                .map(|(shape, _)| shape.init(self.initializer_range, device)),
            dropout: self
                .transform
                .map(|(_, prob)| DropoutConfig::new(prob).init()),
            qa_outputs: LinearConfig::new(self.hidden_size, 2)
                .with_initializer(normal_init(self.initializer_range))
                .init(device),
        }
    }
}

/// Linear `H -> 2` over every token: start and end logits.
#[derive(Module, Debug)]
pub struct QuestionAnsweringHead {
    /// ModernBERT's `head` on every token; none for the other families.
    pub transform: Option<PredictionTransform>,
    /// ModernBERT's dropout after its `head`.
    pub dropout: Option<Dropout>,
    /// Checkpoint name `qa_outputs` (ModernBERT: `classifier`), `H -> 2`.
    pub qa_outputs: Linear,
}

/// Start and end logits, each `[B, T]`.
pub struct SpanLogits {
    /// Score of each token as the answer's first token.
    pub start: Tensor<2>,
    /// Score of each token as the answer's last token.
    pub end: Tensor<2>,
}

impl TaskHead for QuestionAnsweringHead {
    type Output = SpanLogits;

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["qa_outputs", "head", "classifier"];
    const TASK: Option<&'static str> = Some("QuestionAnswering");

    fn for_config(config: &BertConfig, device: &Device) -> Self {
        QuestionAnsweringHeadConfig::for_model(config).init(device)
    }

    fn forward(&self, encoded: BertModelOutput) -> SpanLogits {
        let mut hidden = encoded.last_hidden_state;
        if let Some(transform) = &self.transform {
            hidden = transform.forward(hidden);
        }
        if let Some(dropout) = &self.dropout {
            hidden = apply_dropout(dropout, hidden);
        }
        let logits = self.qa_outputs.forward(hidden);
        let [batch, seq_len, _] = logits.dims();
        let start = logits.clone().narrow(2, 0, 1).reshape([batch, seq_len]);
        let end = logits.narrow(2, 1, 1).reshape([batch, seq_len]);
        SpanLogits { start, end }
    }

    fn checkpoint_names(&self) -> Vec<(&'static str, &'static str)> {
        match self.transform {
            Some(_) => modernbert_names("head.qa_outputs."),
            None => Vec::new(),
        }
    }
}
