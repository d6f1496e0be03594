//! Token classification: dropout + linear on every token's hidden state
//! (Hugging Face `BertForTokenClassification`).

use burn::module::Module;
use burn::nn::{Dropout, Linear};
use burn::tensor::{Device, Tensor};

use super::{ClassifierHeadConfig, TaskHead};
use crate::bert::BertModelOutput;
use crate::config::BertConfig;
use crate::dropout::apply_dropout;

/// Dropout + linear on each token (build it with [`ClassifierHeadConfig::init_token`](super::ClassifierHeadConfig::init_token)).
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
    const TASK: Option<&'static str> = Some("TokenClassification");

    fn for_config(config: &BertConfig, device: &Device) -> Self {
        ClassifierHeadConfig::for_model(config, config.labels().len()).init_token(device)
    }

    fn forward(&self, encoded: BertModelOutput) -> Tensor<3> {
        self.classifier
            .forward(apply_dropout(&self.dropout, encoded.last_hidden_state))
    }
}
