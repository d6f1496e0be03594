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
use bert_data::dataset::{BuiltinDataset, Example, Splits, read_utf8};
use bert_data::pretraining::{
    MaskingBatcher, PretrainingBatch, PretrainingItem, pretraining_items, split_documents,
};
use bert_model::heads::{BertForPreTraining, PretrainingHead, PretrainingHeadConfig};
use bert_model::{BertConfig, ModelFamily};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor};
use burn::train::metric::store::Direction;
use burn::train::metric::{AccuracyMetric, PerplexityMetric};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::inference::Batches;
use crate::predict::InputLine;
use crate::task::{Split, Task, TaskData, TaskItem, TaskModel};
use crate::training::{BestMetric, DataArgs, TaskMetrics};

/// Seed of the masks drawn for evaluation: the same masks on every evaluation.
const EVAL_MASK_SEED: u64 = 1234;

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
    /// The run's seed: masks while training, sentence pairing per split.
    pub seed: u64,
}

impl Mlm {
    /// The seed of the sentence pairing of `split`: `eval` rebuilds the
    /// same test pairs as training did.
    fn pairing_seed(&self, split: Split) -> u64 {
        match split {
            Split::Train => self.seed,
            Split::Validation => self.seed + 1,
            Split::Test => self.seed + 2,
        }
    }
}

/// Number of entries where `a` equals `b`.
fn matches(a: Tensor<1, Int>, b: Tensor<1, Int>) -> usize {
    a.equal(b).int().sum().into_scalar::<i64>() as usize
}

/// Training masks are drawn from the run's seed; evaluation's afresh from
/// [`EVAL_MASK_SEED`], the same on every evaluation.
impl TaskItem for PretrainingItem {
    type Batch = PretrainingBatch;
    type Batcher = MaskingBatcher;

    fn batcher(tokenizer: &BertTokenizer, split: Split, seed: u64) -> Result<MaskingBatcher> {
        let batcher = MaskingBatcher::new(tokenizer, seed)?;
        Ok(match split {
            Split::Train => batcher,
            Split::Validation | Split::Test => batcher.restarted(EVAL_MASK_SEED),
        })
    }
}

impl TaskData for Mlm {
    type Example = Vec<String>;
    type Item = PretrainingItem;

    /// Documents (as sentences): the texts of a built-in dataset, or `.txt`
    /// files with one document per paragraph.
    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Vec<String>>> {
        data.load_with(
            |path| Ok(split_documents(&read_utf8(path)?)),
            |name| {
                let splits = BuiltinDataset::find(name)?.load(cache)?;
                let documents = |examples: Vec<Example>| {
                    examples
                        .iter()
                        .flat_map(|e| split_documents(&e.text))
                        .collect()
                };
                Ok(Splits {
                    train: documents(splits.train),
                    validation: documents(splits.validation),
                    test: documents(splits.test),
                })
            },
        )
    }

    fn encode(
        &self,
        tokenizer: &BertTokenizer,
        documents: &[Vec<String>],
        split: Split,
    ) -> Result<Vec<PretrainingItem>> {
        Ok(pretraining_items(
            tokenizer,
            documents,
            self.options.nsp,
            self.pairing_seed(split),
        )?)
    }

    fn describe(
        &self,
        _: &Splits<Vec<String>>,
        items: &Splits<PretrainingItem>,
        _: &BertTokenizer,
    ) -> Result<String> {
        let what = if self.options.nsp {
            "sentence pairs"
        } else {
            "sequences"
        };
        if items.train.is_empty() {
            bail!(
                "the training documents give no {what}{}",
                if self.options.nsp {
                    " (--nsp needs documents of two sentences or more)"
                } else {
                    ""
                }
            );
        }
        Ok(format!("items are {what}"))
    }
}

impl Task for Mlm {
    type Head = PretrainingHead;
    type Output = PretrainingOutput;
    type Report = PretrainingReport;

    fn name(&self) -> &'static str {
        "mlm"
    }

    fn supports(&self, config: &BertConfig) -> Result<()> {
        match config.model_type {
            ModelFamily::Electra => bail!(
                "mlm: ELECTRA discriminator checkpoints have no masked-LM head (supported: bert, roberta, xlm-roberta, distilbert)"
            ),
            ModelFamily::Bert => Ok(()),
            family if self.options.nsp => bail!(
                "--nsp: {} has no next-sentence head; only BERT checkpoints do",
                family.class_prefix()
            ),
            _ => Ok(()),
        }
    }

    fn head(&self, config: &BertConfig, device: &Device) -> PretrainingHead {
        PretrainingHeadConfig::for_model(config).init(device)
    }

    fn forward(&self, model: &BertForPreTraining, batch: PretrainingBatch) -> PretrainingOutput {
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
            .both(
                Some(BestMetric::Accuracy),
                AccuracyMetric::new(),
                Direction::Highest,
            )
            .both(None, PerplexityMetric::new(), Direction::Lowest)
    }

    /// Scores with the evaluation masks, drawn afresh from their seed.
    fn evaluate(
        &self,
        model: &BertForPreTraining,
        _: &[Vec<String>],
        items: &[PretrainingItem],
        batches: &Batches<MaskingBatcher>,
        split: &str,
    ) -> Result<PretrainingReport> {
        let batcher = batches.batcher.restarted(EVAL_MASK_SEED);
        let (mut loss_sum, mut masked, mut correct) = (0.0, 0usize, 0usize);
        let (mut nsp_correct, mut nsp_total) = (0usize, 0usize);
        for batch in Batches::new(&batcher, batches.size, batches.device).of(items) {
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
            split: split.into(),
            examples: items.len(),
            masked_tokens: masked,
            mlm_loss,
            perplexity: mlm_loss.exp(),
            mlm_accuracy: correct as f64 / masked.max(1) as f64,
            nsp_accuracy: (nsp_total > 0).then(|| nsp_correct as f64 / nsp_total as f64),
        })
    }

    fn predict(
        &self,
        _: &BertForPreTraining,
        _: &BertTokenizer,
        _: &[InputLine],
        _: usize,
        _: &Device,
    ) -> Result<Vec<Map<String, Value>>> {
        bail!(
            "an mlm run predicts nothing: fine-tune from it with `train --model RUN` for another task"
        )
    }
}
