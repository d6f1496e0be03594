//! Extractive question answering: a start and an end score for every token
//! (Hugging Face `BertForQuestionAnswering`, `qa_outputs`).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::TaskHead;
use crate::bert::{BertOutput, normal_init};
use crate::config::BertConfig;

/// Linear `H -> 2` over every token: start and end logits.
#[derive(Module, Debug)]
pub struct QuestionAnsweringHead {
    /// Checkpoint name `qa_outputs`.
    pub qa_outputs: Linear,
}

impl QuestionAnsweringHead {
    /// A randomly initialised head for `config`.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            qa_outputs: LinearConfig::new(config.hidden_size, 2)
                .with_initializer(normal_init(config.initializer_range))
                .init(device),
        }
    }
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

    fn forward(&self, encoded: BertOutput) -> SpanLogits {
        let logits = self.qa_outputs.forward(encoded.last_hidden_state);
        let [batch, seq_len, _] = logits.dims();
        let start = logits.clone().narrow(2, 0, 1).reshape([batch, seq_len]);
        let end = logits.narrow(2, 1, 1).reshape([batch, seq_len]);
        SpanLogits { start, end }
    }
}
