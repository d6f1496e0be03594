//! [`TextClassifier`]: a BERT sequence classifier as burn-train's `Learner` model.

use std::time::Instant;

use bert_data::classification::ClassificationBatch;
use bert_model::BertForSequenceClassification;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::ExecutionError;
use burn::train::metric::{AccuracyInput, Adaptor, ConfusionStatsInput, LossInput};
use burn::train::{ClassificationOutput, InferenceStep, ItemLazy, TrainOutput, TrainStep};

use crate::metrics::ThroughputInput;

/// Wraps the model so that burn-train can train it: cross-entropy on the logits.
#[derive(Module, Debug)]
pub struct TextClassifier {
    /// Encoder and classification head.
    pub model: BertForSequenceClassification,
}

/// Loss, logits and targets of a batch, and when the step ran (for throughput:
/// metrics are computed on another thread, so they cannot time the step themselves).
pub struct ClassifierOutput {
    /// Loss, logits `[B, num_labels]` and targets `[B]`.
    pub classification: ClassificationOutput,
    /// When the step started.
    pub started: Instant,
    /// When the step returned.
    pub finished: Instant,
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

impl TrainStep for TextClassifier {
    type Input = ClassificationBatch;
    type Output = ClassifierOutput;

    fn step(&self, batch: ClassificationBatch) -> TrainOutput<ClassifierOutput> {
        let started = Instant::now();
        let classification = self.forward_classification(batch);
        let grads = classification.loss.backward();
        let output = ClassifierOutput {
            classification,
            started,
            finished: Instant::now(),
        };
        TrainOutput::new(self, grads, output)
    }
}

impl InferenceStep for TextClassifier {
    type Input = ClassificationBatch;
    type Output = ClassifierOutput;

    fn step(&self, batch: ClassificationBatch) -> ClassifierOutput {
        let started = Instant::now();
        let classification = self.forward_classification(batch);
        ClassifierOutput {
            classification,
            started,
            finished: Instant::now(),
        }
    }
}

impl ItemLazy for ClassifierOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        Ok(Self {
            classification: self.classification.sync()?,
            ..self
        })
    }
}

impl Adaptor<AccuracyInput> for ClassifierOutput {
    fn adapt(&self) -> AccuracyInput {
        self.classification.adapt()
    }
}

impl Adaptor<LossInput> for ClassifierOutput {
    fn adapt(&self) -> LossInput {
        self.classification.adapt()
    }
}

impl Adaptor<ConfusionStatsInput> for ClassifierOutput {
    fn adapt(&self) -> ConfusionStatsInput {
        self.classification.adapt()
    }
}

impl Adaptor<ThroughputInput> for ClassifierOutput {
    fn adapt(&self) -> ThroughputInput {
        ThroughputInput {
            samples: self.classification.targets.dims()[0],
            started: self.started,
            finished: self.finished,
        }
    }
}
