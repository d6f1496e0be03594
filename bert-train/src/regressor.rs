//! [`TextRegressor`]: a BERT with a one-output head trained with mean squared
//! error (Hugging Face's `num_labels == 1` regression).

use bert_data::regression::RegressionBatch;
use bert_model::BertForSequenceClassification;
use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::train::RegressionOutput;

use crate::step::{Samples, learner_steps};

/// Wraps the model so that burn-train can train it: MSE on the single output.
#[derive(Module, Debug)]
pub struct TextRegressor {
    /// Encoder and one-output head.
    pub model: BertForSequenceClassification,
}

impl TextRegressor {
    /// Predictions `[B, 1]`, mean squared error and targets of a batch.
    pub fn forward_regression(&self, batch: RegressionBatch) -> RegressionOutput {
        let predictions = self.model.forward(batch.input);
        let loss =
            MseLoss::new().forward(predictions.clone(), batch.targets.clone(), Reduction::Mean);
        RegressionOutput::new(loss, predictions, batch.targets)
    }
}

impl Samples for RegressionOutput {
    fn samples(&self) -> usize {
        self.targets.dims()[0]
    }
}

learner_steps!(
    TextRegressor,
    RegressionBatch,
    RegressionOutput,
    forward_regression
);
