//! Extractive question answering: a start and an end score for every token
//! (Hugging Face `BertForQuestionAnswering`, `qa_outputs`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::TaskHead;
use crate::bert::{BertModelOutput, normal_init};
use crate::config::BertConfig;

/// Settings of a [`QuestionAnsweringHead`].
#[derive(Config, Debug)]
pub struct QuestionAnsweringHeadConfig {
    /// Width of the hidden states it reads (`hidden_size`).
    pub hidden_size: usize,
    /// Standard deviation of the initial weights.
    #[config(default = 0.02)]
    pub initializer_range: f64,
}

impl QuestionAnsweringHeadConfig {
    /// The head Hugging Face would build for `config`.
    pub fn for_model(config: &BertConfig) -> Self {
        Self::new(config.hidden_size).with_initializer_range(config.initializer_range)
    }

    /// A randomly initialised head.
    pub fn init(&self, device: &Device) -> QuestionAnsweringHead {
        QuestionAnsweringHead {
            qa_outputs: LinearConfig::new(self.hidden_size, 2)
                .with_initializer(normal_init(self.initializer_range))
                .init(device),
        }
    }
}

/// Linear `H -> 2` over every token: start and end logits.
#[derive(Module, Debug)]
pub struct QuestionAnsweringHead {
    /// Checkpoint name `qa_outputs`, `H -> 2`.
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

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["qa_outputs"];
    const TASK: Option<&'static str> = Some("QuestionAnswering");

    fn for_config(config: &BertConfig, device: &Device) -> Self {
        QuestionAnsweringHeadConfig::for_model(config).init(device)
    }

    fn forward(&self, encoded: BertModelOutput) -> SpanLogits {
        let logits = self.qa_outputs.forward(encoded.last_hidden_state);
        let [batch, seq_len, _] = logits.dims();
        let start = logits.clone().narrow(2, 0, 1).reshape([batch, seq_len]);
        let end = logits.narrow(2, 1, 1).reshape([batch, seq_len]);
        SpanLogits { start, end }
    }
}
