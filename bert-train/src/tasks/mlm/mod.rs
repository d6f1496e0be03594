//! `--task mlm [--nsp]`: masked-LM pretraining (or domain adaptation) on
//! raw text, optionally with next-sentence prediction; reports MLM loss,
//! perplexity and masked-token accuracy, and NSP accuracy. The run
//! directory is a model that `train --model RUN` fine-tunes for another task.

mod output;
mod report;

pub use output::PretrainingOutput;
pub use report::PretrainingReport;

use anyhow::{Result, bail};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::table::Table;
use bert_data::dataset::{BuiltinDataset, Example, FileFormat, Splits, read_utf8};
use bert_data::pretraining::{
    MaskingBatcher, PretrainingBatch, PretrainingItem, pretraining_items, split_documents,
};
use bert_model::heads::PretrainingHead;
use bert_model::{BertConfig, ModelFamily};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor};
use burn::train::metric::{AccuracyMetric, PerplexityMetric};
use serde::{Deserialize, Serialize};

use crate::inference::Batches;
use crate::predict::{Fields, Inputs};
use crate::task::{Items, Model, Prepared, Task, TaskData, TaskModel, TestData};
use crate::training::{BestMetric, DataArgs, TaskMetrics};

/// The flags of masked-LM pretraining.
#[derive(Clone, Debug, Default, Serialize, Deserialize, clap::Args)]
pub struct MlmOptions {
    /// With `--task mlm`: train next-sentence prediction too, on sentence pairs
    /// (half true successors, half random sentences of other documents).
    #[arg(long)]
    #[serde(default)]
    pub nsp: bool,
}

/// Masked-LM (and next-sentence) pretraining.
#[derive(Clone, Debug, Default)]
pub struct Mlm {
    /// `--nsp`.
    pub options: MlmOptions,
    /// The run's seed, which draws the sentence pairs.
    pub seed: u64,
}

/// Number of entries where `a` equals `b`.
fn matches(a: Tensor<1, Int>, b: Tensor<1, Int>) -> usize {
    a.equal(b).int().sum().into_scalar::<i64>() as usize
}

impl TaskData for Mlm {
    type Example = Vec<String>;
    type Item = PretrainingItem;

    /// Documents (as sentences): the texts of a built-in dataset, `.txt`
    /// files with one document per paragraph, or the text column of a
    /// Parquet or Arrow table (documents per row, paragraphs apart).
    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Vec<String>>> {
        let column = data.columns("text", "label").text;
        data.load_with(
            cache,
            None,
            |path| match FileFormat::is_table(path) {
                true => Ok(Table::open(path)?
                    .texts(&column)?
                    .iter()
                    .flat_map(|text| split_documents(text))
                    .collect()),
                false => Ok(split_documents(&read_utf8(path)?)),
            },
            |name| {
                let splits = BuiltinDataset::find(name)?.load(cache)?;
                let documents = |examples: Vec<Example>| {
                    examples
                        .iter()
                        .flat_map(|e| split_documents(&e.text))
                        .collect()
                };
                Ok(Splits::new(
                    documents(splits.train),
                    documents(splits.validation),
                    documents(splits.test),
                ))
            },
        )
    }

    /// Sentence pairs drawn with the run's seed, so that `eval` rebuilds the
    /// test pairs that training reported on.
    fn encode(&self, tokenizer: &BertTokenizer, documents: &[Self::Example]) -> Items<Self> {
        let nsp = self.options.nsp;
        Ok(pretraining_items(tokenizer, documents, nsp, self.seed)?)
    }

    fn describe(&self, data: &Prepared<Self>) -> Result<String> {
        let (what, needs) = match self.options.nsp {
            true => (
                "sentence pairs",
                " (--nsp needs documents of two sentences or more)",
            ),
            false => ("sequences", ""),
        };
        if data.items.train.is_empty() {
            bail!("the training documents give no {what}{needs}");
        }
        Ok(format!("items are {what}"))
    }
}

impl Task for Mlm {
    type Head = PretrainingHead;
    type Output = PretrainingOutput;
    type Report = PretrainingReport;

    fn supports(&self, config: &BertConfig) -> Result<()> {
        match config.model_type {
            ModelFamily::Electra => bail!(
                "mlm: ELECTRA discriminator checkpoints have no masked-LM head (supported: bert, roberta, xlm-roberta, distilbert, mpnet, modernbert)"
            ),
            ModelFamily::Bert => Ok(()),
            family if self.options.nsp => bail!(
                "--nsp: {} has no next-sentence head; only BERT checkpoints do",
                family.class_prefix()
            ),
            _ => Ok(()),
        }
    }

    /// Masked-LM cross-entropy at the masked positions, plus next-sentence's.
    fn forward(&self, model: &Model<Self>, batch: PretrainingBatch) -> PretrainingOutput {
        let sequences = batch.input.input_ids.dims()[0];
        let output = model.forward(batch.input);
        let mlm_logits = model.mlm_logits(output.transformed, batch.masked_positions);
        let cross_entropy = CrossEntropyLossConfig::new().init(&mlm_logits.device());
        let mlm_loss = cross_entropy.forward(mlm_logits.clone(), batch.masked_labels.clone());
        // `supports` keeps --nsp to BERT, whose head has next-sentence logits.
        let next_sentence = batch
            .next_sentence_labels
            .zip(output.nsp_logits)
            .map(|(labels, logits)| (logits, labels));
        let loss = match &next_sentence {
            Some((logits, labels)) => {
                mlm_loss.clone() + cross_entropy.forward(logits.clone(), labels.clone())
            }
            None => mlm_loss.clone(),
        };
        PretrainingOutput {
            loss,
            mlm_loss,
            mlm_logits,
            mlm_labels: batch.masked_labels,
            next_sentence,
            sequences,
        }
    }

    /// Masked-token accuracy and perplexity; the loss selects by default.
    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::new(BestMetric::Loss)
            .with(BestMetric::Accuracy, AccuracyMetric::new())
            .logged(PerplexityMetric::new())
    }

    /// Scores with the evaluation masks, drawn afresh from their seed.
    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<PretrainingReport> {
        let batches = &test.batches;
        let batcher = batches.batcher.restarted(MaskingBatcher::EVALUATION_SEED);
        let (mut loss_sum, mut masked, mut correct) = (0.0, 0usize, 0usize);
        let (mut nsp_correct, mut nsp_total) = (0usize, 0usize);
        for batch in Batches::new(&batcher, batches.size, batches.device).of(test.items) {
            let output = self.forward(model, batch);
            let count = output.mlm_labels.dims()[0];
            loss_sum += output.mlm_loss.into_scalar::<f64>() * count as f64;
            masked += count;
            correct += matches(
                output.mlm_logits.argmax(1).squeeze_dim(1),
                output.mlm_labels,
            );
            if let Some((logits, labels)) = output.next_sentence {
                nsp_total += labels.dims()[0];
                nsp_correct += matches(logits.argmax(1).squeeze_dim(1), labels);
            }
        }
        let mlm_loss = loss_sum / masked.max(1) as f64;
        Ok(PretrainingReport {
            task: "mlm".into(),
            split: test.split.into(),
            examples: test.items.len(),
            masked_tokens: masked,
            mlm_loss,
            perplexity: mlm_loss.exp(),
            mlm_accuracy: correct as f64 / masked.max(1) as f64,
            nsp_accuracy: (nsp_total > 0).then(|| nsp_correct as f64 / nsp_total as f64),
        })
    }

    fn predict(&self, _: &Model<Self>, _: &Inputs) -> Result<Vec<Fields>> {
        bail!(
            "an mlm run predicts nothing: fine-tune from it with `train --model RUN` for another task"
        )
    }
}
