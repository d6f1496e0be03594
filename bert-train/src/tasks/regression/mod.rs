//! `--task regression`: one number per text or pair (e.g. STS-B), a
//! one-output head with mean squared error (Hugging Face's
//! `problem_type: "regression"`), Pearson and Spearman correlations.

mod metric;
mod report;

pub use metric::{PearsonInput, PearsonMetric};
pub use report::{RegressionReport, pearson, ranks};

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{Example, Splits};
use bert_data::regression::{RegressionBatch, RegressionItem, tokenize_regression};
use bert_data::{BertTokenizer, TextBatcher};
use bert_model::heads::{ClassifierHeadConfig, SequenceClassificationHead};
use bert_model::{BertConfig, BertForSequenceClassification, ProblemType};
use burn::nn::loss::{MseLoss, Reduction};
use burn::tensor::{Device, Tensor};
use burn::train::metric::LossMetric;
use burn::train::metric::store::Direction;
use burn::train::{RegressionOutput, SupervisedTraining};
use serde_json::{Map, Value, json};

use crate::inference::Batches;
use crate::predict::{InputLine, encode_texts};
use crate::task::{Split, Task, TaskModel};
use crate::training::step::StepOutput;
use crate::training::{BestMetric, DataArgs, Selection};

/// Regression on texts or pairs.
#[derive(Clone, Debug, Default)]
pub struct Regression;

impl StepOutput for RegressionOutput {
    fn loss(&self) -> Tensor<1> {
        self.loss.clone()
    }

    fn samples(&self) -> usize {
        self.targets.dims()[0]
    }
}

/// The first output of every row.
fn values(rows: Vec<Vec<f32>>) -> Vec<f64> {
    rows.iter().map(|row| f64::from(row[0])).collect()
}

impl Task for Regression {
    type Example = Example;
    type Item = RegressionItem;
    type Batch = RegressionBatch;
    type Batcher = TextBatcher;
    type Head = SequenceClassificationHead;
    type Output = RegressionOutput;
    type Report = RegressionReport;

    fn name(&self) -> &'static str {
        "regression"
    }

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Example>> {
        data.load_examples(cache, "label")
    }

    /// One output, named as transformers names it (`num_labels == 1`).
    fn config(&self, config: BertConfig) -> BertConfig {
        config
            .with_labels(&["LABEL_0".to_string()])
            .with_problem_type(ProblemType::Regression)
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

    fn batcher(&self, tokenizer: &BertTokenizer, _: Split) -> Result<TextBatcher> {
        Ok(TextBatcher::for_tokenizer(tokenizer))
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

    fn selection(&self, best: Option<BestMetric>, patience: Option<usize>) -> Result<Selection> {
        Ok(match best.unwrap_or(BestMetric::Pearson) {
            BestMetric::Pearson => {
                Selection::by(&PearsonMetric::new(), Direction::Highest, patience)
            }
            BestMetric::Loss => Selection::by(&LossMetric::new(), Direction::Lowest, patience),
            other => bail!("--best-metric {other:?} does not apply to --task regression"),
        })
    }

    fn metrics(
        &self,
        training: SupervisedTraining<TaskModel<Self>>,
    ) -> SupervisedTraining<TaskModel<Self>> {
        training
            .metric_train_numeric(PearsonMetric::new())
            .metric_valid_numeric(PearsonMetric::new())
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
        let encodings = encode_texts(tokenizer, inputs)?;
        let batcher = TextBatcher::for_tokenizer(tokenizer);
        let rows = Batches::new(&batcher, batch_size, device)
            .rows(&encodings, |input| model.forward(input))
            .context("predicting")?;
        Ok(values(rows)
            .into_iter()
            .map(|score| Map::from_iter([("score".to_string(), json!(score))]))
            .collect())
    }
}
