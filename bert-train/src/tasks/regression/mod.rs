//! `--task regression`: one number per text or pair (e.g. STS-B), a
//! one-output head with mean squared error (Hugging Face's
//! `problem_type: "regression"`), Pearson and Spearman correlations.

mod metric;
mod report;

pub use metric::{PearsonInput, PearsonMetric};
pub use report::{RegressionReport, pearson, ranks};

use anyhow::{Result, bail};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::{Example, LabelVocab, Splits};
use bert_data::regression::{RegressionBatch, RegressionItem, tokenize_regression};
use bert_model::heads::{ClassifierHeadConfig, SequenceClassificationHead};
use bert_model::{BertConfig, BertForSequenceClassification, ProblemType};
use burn::nn::loss::{MseLoss, Reduction};
use burn::tensor::Device;
use burn::train::RegressionOutput;
use burn::train::metric::store::Direction;
use serde_json::{Map, Value, json};

use crate::inference::Batches;
use crate::predict::{InputLine, text_rows};
use crate::task::{Split, Task, TaskData, TaskModel, TextBatch};
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

crate::step_output!(RegressionOutput, samples: targets);

/// The first output of every row.
fn values(rows: Vec<Vec<f32>>) -> Vec<f64> {
    rows.iter().map(|row| f64::from(row[0])).collect()
}

impl TextBatch for RegressionItem {
    type Batch = RegressionBatch;
}

impl TaskData for Regression {
    type Example = Example;
    type Item = RegressionItem;

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Example>> {
        data.load_examples(cache, "label")
    }

    fn encode(
        &self,
        tokenizer: &BertTokenizer,
        examples: &[Example],
        _: Split,
    ) -> Result<Vec<RegressionItem>> {
        Ok(tokenize_regression(tokenizer, examples)?)
    }

    fn describe(
        &self,
        _: &Splits<Example>,
        items: &Splits<RegressionItem>,
        _: &BertTokenizer,
    ) -> Result<String> {
        if items.train.len() < 2 {
            bail!("regression needs at least 2 training examples");
        }
        let (low, high) = items
            .train
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), item| {
                (lo.min(item.target), hi.max(item.target))
            });
        Ok(format!("targets {low}..{high}"))
    }
}

impl Task for Regression {
    type Head = SequenceClassificationHead;
    type Output = RegressionOutput;
    type Report = RegressionReport;

    const PROBLEM_TYPE: Option<ProblemType> = Some(ProblemType::Regression);

    fn name(&self) -> &'static str {
        "regression"
    }

    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.labels)
    }

    fn head(&self, config: &BertConfig, device: &Device) -> SequenceClassificationHead {
        ClassifierHeadConfig::for_model(config, 1).init(device)
    }

    fn forward(
        &self,
        model: &BertForSequenceClassification,
        batch: RegressionBatch,
    ) -> RegressionOutput {
        let predictions = model.forward(batch.input);
        let loss =
            MseLoss::new().forward(predictions.clone(), batch.targets.clone(), Reduction::Mean);
        RegressionOutput::new(loss, predictions, batch.targets)
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::new(BestMetric::Pearson).both(
            Some(BestMetric::Pearson),
            PearsonMetric::new(),
            Direction::Highest,
        )
    }

    fn evaluate(
        &self,
        model: &BertForSequenceClassification,
        _: &[Example],
        items: &[RegressionItem],
        batches: &Batches,
        split: &str,
    ) -> Result<RegressionReport> {
        let predicted =
            values(batches.rows(items, |batch: RegressionBatch| model.forward(batch.input))?);
        let truth: Vec<f64> = items.iter().map(|item| f64::from(item.target)).collect();
        Ok(RegressionReport::new(split, &truth, &predicted))
    }

    fn predict(
        &self,
        model: &BertForSequenceClassification,
        tokenizer: &BertTokenizer,
        inputs: &[InputLine],
        batch_size: usize,
        device: &Device,
    ) -> Result<Vec<Map<String, Value>>> {
        let rows = text_rows(tokenizer, inputs, batch_size, device, |input| {
            model.forward(input)
        })?;
        Ok(values(rows)
            .into_iter()
            .map(|score| Map::from_iter([("score".to_string(), json!(score))]))
            .collect())
    }
}
