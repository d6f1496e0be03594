//! Token classification: dropout + linear on every token's hidden state
//! (Hugging Face `BertForTokenClassification`), after ModernBERT's `head`.

use burn::module::Module;
use burn::nn::{Dropout, Linear};
use burn::tensor::{Device, Tensor};

use super::transform::modernbert_names;
use super::{ClassifierHeadConfig, PredictionTransform, TaskHead};
use crate::config::BertConfig;
use crate::dropout::apply_dropout;
use crate::shared::BertModelOutput;

/// Dropout + linear on each token (build it with [`ClassifierHeadConfig::init_token`](super::ClassifierHeadConfig::init_token)).
#[derive(Module, Debug)]
pub struct TokenClassificationHead {
    /// ModernBERT's `head` on every token; none for the other families.
    pub transform: Option<PredictionTransform>,
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

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["classifier", "head"];
    const TASK: Option<&'static str> = Some("TokenClassification");

    fn for_config(config: &BertConfig, device: &Device) -> Self {
        ClassifierHeadConfig::for_model(config, config.labels().len()).init_token(device)
    }

    fn forward(&self, encoded: BertModelOutput) -> Tensor<3> {
        let hidden = match &self.transform {
            Some(transform) => transform.forward(encoded.last_hidden_state),
            None => encoded.last_hidden_state,
        };
        self.classifier
            .forward(apply_dropout(&self.dropout, hidden))
    }

    fn checkpoint_names(&self) -> Vec<(&'static str, &'static str)> {
        match self.transform {
            Some(_) => modernbert_names("head.classifier."),
            None => Vec::new(),
        }
    }
}
