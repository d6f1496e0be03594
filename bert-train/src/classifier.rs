//! [`TextClassifier`]: a BERT sequence classifier as burn-train's `Learner` model.

use bert_data::classification::ClassificationBatch;
use bert_model::BertForSequenceClassification;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::train::ClassificationOutput;

use crate::step::{Samples, learner_steps};

/// Wraps the model so that burn-train can train it: cross-entropy on the logits.
#[derive(Module, Debug)]
pub struct TextClassifier {
    /// Encoder and classification head.
    pub model: BertForSequenceClassification,
}

impl TextClassifier {
    /// Logits, mean cross-entropy loss and targets of a batch.
    pub fn forward_classification(&self, batch: ClassificationBatch) -> ClassificationOutput {
        let logits = self.model.forward(batch.input);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.labels.clone());
        ClassificationOutput::new(loss, logits, batch.labels)
    }
}

impl Samples for ClassificationOutput {
    fn samples(&self) -> usize {
        self.targets.dims()[0]
    }
}

learner_steps!(
    TextClassifier,
    ClassificationBatch,
    ClassificationOutput,
    forward_classification
);
