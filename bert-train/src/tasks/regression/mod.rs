//! `--task regression`: one number per text or pair (e.g. STS-B), a
//! one-output head with mean squared error (Hugging Face's
//! `problem_type: "regression"`), Pearson and Spearman correlations.

mod metric;
mod report;

pub use metric::{PEARSON, pearson_metric};
pub use report::RegressionReport;

use anyhow::{Result, bail};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::{Example, LabelVocab, Splits};
use bert_data::regression::{RegressionBatch, RegressionItem, tokenize_regression};
use bert_model::heads::SequenceClassificationHead;
use burn::nn::loss::{MseLoss, Reduction};
use burn::train::RegressionOutput;
use serde_json::json;

use crate::predict::{Fields, Inputs};
use crate::task::{Items, Model, Prepared, Task, TaskData, TaskModel, TestData};
use crate::training::{BestMetric, DataArgs, TaskMetrics};

/// Regression on texts or pairs.
#[derive(Clone, Debug)]
pub struct Regression {
    /// The one output, named as transformers names it (`num_labels == 1`).
    pub labels: LabelVocab,
}

impl Default for Regression {
    fn default() -> Self {
        Self {
            labels: LabelVocab::from_names(vec!["LABEL_0".to_string()]),
        }
    }
}

crate::step_output!(RegressionOutput, samples: targets, problem: Regression);

/// The first output of every row.
fn values(rows: Vec<Vec<f32>>) -> Vec<f64> {
    rows.iter().map(|row| f64::from(row[0])).collect()
}

impl TaskData for Regression {
    type Example = Example;
    type Item = RegressionItem;

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Example>> {
        data.load_examples(cache, "label")
    }

    fn encode(&self, tokenizer: &BertTokenizer, examples: &[Self::Example]) -> Items<Self> {
        Ok(tokenize_regression(tokenizer, examples)?)
    }

    fn describe(&self, data: &Prepared<Self>) -> Result<String> {
        let targets = data.items.train.iter().map(|item| item.target);
        if targets.len() < 2 {
            bail!("regression needs at least 2 training examples");
        }
        let (low, high) = targets.fold((f32::MAX, f32::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        Ok(format!("targets {low}..{high}"))
    }
}

impl Task for Regression {
    type Head = SequenceClassificationHead;
    type Output = RegressionOutput;
    type Report = RegressionReport;

    /// The one output, `LABEL_0`.
    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.labels)
    }

    /// Mean squared error of the one output.
    fn forward(&self, model: &Model<Self>, batch: RegressionBatch) -> RegressionOutput {
        let predictions = model.forward(batch.input);
        let loss =
            MseLoss::new().forward(predictions.clone(), batch.targets.clone(), Reduction::Mean);
        RegressionOutput::new(loss, predictions, batch.targets)
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::by(BestMetric::Pearson, pearson_metric())
    }

    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<RegressionReport> {
        let rows = test.batches.rows(test.items, |batch: RegressionBatch| {
            model.forward(batch.input)
        })?;
        let truth: Vec<f64> = test
            .items
            .iter()
            .map(|item| f64::from(item.target))
            .collect();
        Ok(RegressionReport::new(test.split, &truth, &values(rows)))
    }

    /// The `score` of each text or pair.
    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>> {
        let scores = values(inputs.text_rows(|input| model.forward(input))?);
        let fields = |score| Fields::from_iter([("score".to_string(), json!(score))]);
        Ok(scores.into_iter().map(fields).collect())
    }
}
