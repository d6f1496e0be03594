//! `--task reranking`: a cross-encoder, as sentence-transformers'
//! `CrossEncoder` trains one. It reads `[CLS] query [SEP] passage [SEP]`
//! and gives one logit, trained with binary cross-entropy on 0-1 labels
//! (`BinaryCrossEntropyLoss`). Data is (query, passage, label) rows or
//! (query, positive[, negatives...]) rows; negatives can be drawn at random
//! (`--negatives-per-query`) or mined with a bi-encoder
//! (`--mine-negatives-with`, as `mine_hard_negatives`). Each query's
//! candidates are reranked for evaluation (`CrossEncoderRerankingEvaluator`:
//! MRR@10, NDCG@10, MAP). The run is a `...ForSequenceClassification` with
//! one label, which `CrossEncoder(RUN)` opens (its scores the sigmoid of
//! the logit).

mod mining;
mod scores;

pub use mining::{MiningOptions, mine_negatives};
pub use scores::{RELEVANT, RerankInput, RerankMeasure, RerankScores, rerank_scores};

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::{DatasetError, LabelVocab, Splits, TupleColumns, read_tuples};
use bert_data::reranking::{RerankBatch, RerankCandidates, RerankItem};
use bert_model::heads::SequenceClassificationHead;
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use burn::train::metric::Adaptor;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::predict::{Fields, Inputs};
use crate::task::{Items, Model, Prepared, Task, TaskData, TaskModel, TaskReport, TestData};
use crate::training::{BestMetric, DataArgs, TaskMetrics};

/// The flags of `--task reranking`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, clap::Args)]
pub struct RerankOptions {
    /// reranking: negatives drawn at random from the split's other passages
    /// for each query that has none, or the number mined with
    /// `--mine-negatives-with` (default 3).
    #[arg(long)]
    pub negatives_per_query: Option<usize>,
    #[command(flatten)]
    #[serde(flatten)]
    pub mining: MiningOptions,
}

/// A cross-encoder trained to score (query, passage) pairs.
#[derive(Clone, Debug)]
pub struct Reranking {
    /// The task's flags.
    pub options: RerankOptions,
    /// The seed negatives are drawn with.
    pub seed: u64,
    /// The one output, named as transformers names it (`num_labels == 1`).
    pub labels: LabelVocab,
}

impl Reranking {
    /// The task with `options`, drawing with `seed`.
    pub fn new(options: RerankOptions, seed: u64) -> Self {
        Self {
            options,
            seed,
            labels: LabelVocab::from_names(vec!["LABEL_0".to_string()]),
        }
    }

    /// The queries of one split's rows, with negatives added as the flags say.
    fn candidates(
        &self,
        rows: &[bert_data::dataset::TextTuple],
        split: &str,
        cache: &AssetCache,
    ) -> Result<Vec<RerankCandidates>> {
        let mut queries = RerankCandidates::from_rows(rows)?;
        match (
            &self.options.mining.mine_negatives_with,
            self.options.negatives_per_query,
        ) {
            (Some(model), count) => {
                let dir = cache.resolve_model(model)?;
                mine_negatives(&mut queries, &dir, count.unwrap_or(3), &self.options.mining)
                    .with_context(|| {
                        format!("mining negatives for the {split} split with {model}")
                    })?;
            }
            (None, Some(count)) => {
                RerankCandidates::add_random_negatives(&mut queries, count, self.seed)
                    .map_err(|e| anyhow::anyhow!("{split} split: {e}"))?;
            }
            (None, None) if !RerankCandidates::have_negatives(&queries) => bail!(
                "the {split} split has no negative passages: give (query, passage, label) rows, \
                 negatives after each positive, --negatives-per-query N or --mine-negatives-with MODEL"
            ),
            (None, None) => {}
        }
        Ok(queries)
    }
}

/// A batch's loss, logits, labels and queries.
#[derive(Clone, Debug)]
pub struct RerankOutput {
    /// Binary cross-entropy, `[1]`.
    pub loss: Tensor<1>,
    /// `[B, 1]` logits.
    pub logits: Tensor<2>,
    /// `[B, 1]` labels.
    pub targets: Tensor<2>,
    /// The query of each row.
    pub query_ids: Vec<u64>,
}

impl crate::training::step::StepOutput for RerankOutput {
    fn loss(&self) -> Tensor<1> {
        self.loss.clone()
    }

    fn samples(&self) -> usize {
        self.query_ids.len()
    }
}

impl burn::train::ItemLazy for RerankOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            logits: self.logits.without_autodiff(),
            targets: self.targets.without_autodiff(),
            query_ids: self.query_ids,
        })
    }
}

impl Adaptor<RerankInput> for RerankOutput {
    fn adapt(&self) -> RerankInput {
        RerankInput {
            logits: self.logits.clone(),
            labels: self.targets.clone(),
            query_ids: self.query_ids.clone(),
        }
    }
}

/// `mean(max(x, 0) - x·y + log(1 + e^-|x|))`: PyTorch's `BCEWithLogitsLoss`.
pub fn binary_cross_entropy_with_logits(logits: Tensor<2>, labels: Tensor<2>) -> Tensor<1> {
    let positive_part = logits.clone().clamp_min(0.0);
    let softplus = logits.clone().abs().neg().exp().add_scalar(1.0).log();
    (positive_part - logits * labels + softplus).mean()
}

/// `report.json` of a reranking run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RerankReport {
    /// Always `reranking`.
    pub task: String,
    /// The data scored.
    pub split: String,
    /// The queries' candidates reranked.
    pub reranking: RerankScores,
}

impl TaskReport for RerankReport {
    fn table(&self) -> String {
        let s = &self.reranking;
        format!(
            "{} queries, {} candidates   MRR@10 {:.4}   NDCG@10 {:.4}   MAP {:.4}\n",
            s.queries, s.candidates, s.mrr_at_10, s.ndcg_at_10, s.map
        )
    }
}

impl TaskData for Reranking {
    type Example = RerankCandidates;
    type Item = RerankItem;

    /// Rows of (query, passage, label) or (query, positive[, negatives]),
    /// each split's queries with their candidates.
    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<RerankCandidates>> {
        let columns = TupleColumns {
            texts: None,
            score: data.label_column.clone(),
        };
        let rows = data.load_with(
            cache,
            columns.score.as_deref(),
            |path| read_tuples(path, &columns),
            |name| {
                Err(DatasetError::UnknownDataset {
                    name: name.to_string(),
                    known: "none: give reranking data as a file, folder or Hugging Face id".into(),
                })
            },
        )?;
        Ok(Splits::new(
            self.candidates(&rows.train, "training", cache)?,
            self.candidates(&rows.validation, "validation", cache)?,
            self.candidates(&rows.test, "test", cache)?,
        ))
    }

    fn encode(&self, tokenizer: &BertTokenizer, examples: &[RerankCandidates]) -> Items<Self> {
        Ok(RerankItem::encode_all(tokenizer, examples)?)
    }

    fn describe(&self, data: &Prepared<Self>) -> Result<String> {
        let positives = data
            .items
            .train
            .iter()
            .filter(|i| i.label >= RELEVANT)
            .count();
        Ok(format!(
            "{} training queries, {positives} positive and {} negative pairs",
            data.examples.train.len(),
            data.items.train.len() - positives
        ))
    }
}

impl Task for Reranking {
    type Head = SequenceClassificationHead;
    type Output = RerankOutput;
    type Report = RerankReport;

    /// The one output, `LABEL_0`.
    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.labels)
    }

    fn forward(&self, model: &Model<Self>, batch: RerankBatch) -> RerankOutput {
        let logits = model.forward(batch.input);
        RerankOutput {
            loss: binary_cross_entropy_with_logits(logits.clone(), batch.targets.clone()),
            logits,
            targets: batch.targets,
            query_ids: batch.query_ids,
        }
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        RerankMeasure::ALL.iter().fold(
            TaskMetrics::new(BestMetric::Ndcg10),
            |metrics, &(measure, key)| metrics.valid(Some(key), measure.metric()),
        )
    }

    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<RerankReport> {
        let logits = test
            .batches
            .rows(test.items, |batch: RerankBatch| model.forward(batch.input))?;
        let mut queries: BTreeMap<u64, (Vec<f32>, Vec<f32>)> = BTreeMap::new();
        for (item, logit) in test.items.iter().zip(logits) {
            let (labels, scores) = queries.entry(item.query_id).or_default();
            labels.push(item.label);
            scores.push(logit[0]);
        }
        let queries: Vec<(Vec<f32>, Vec<f32>)> = queries.into_values().collect();
        Ok(RerankReport {
            task: "reranking".into(),
            split: test.split.into(),
            reranking: rerank_scores(&queries),
        })
    }

    /// `{"query", "passages": [...]}` → `ranked`: the passages with their
    /// scores (the sigmoid of the logit, as `CrossEncoder.predict`), best first.
    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>> {
        let mut items = Vec::new();
        let mut spans = Vec::new();
        for line in inputs.lines {
            let query = line.field("query")?;
            let passages: Vec<String> = line
                .fields
                .get("passages")
                .and_then(|p| serde_json::from_value(p.clone()).ok())
                .with_context(|| format!("{}: no \"passages\" list of strings", line.place()))?;
            let start = items.len();
            for passage in &passages {
                let encoding = inputs
                    .tokenizer
                    .encode_pair(&query, passage)
                    .with_context(|| line.place())?;
                items.push(RerankItem {
                    encoding,
                    label: 0.0,
                    query_id: 0,
                });
            }
            spans.push((start, passages));
        }
        let batcher = bert_data::TextBatcher::for_tokenizer(inputs.tokenizer);
        let logits = inputs
            .batches(&batcher)
            .rows(&items, |batch: RerankBatch| {
                sigmoid(model.forward(batch.input))
            })?;
        Ok(spans
            .into_iter()
            .map(|(start, passages)| {
                let mut ranked: Vec<(String, f32)> = passages
                    .into_iter()
                    .enumerate()
                    .map(|(i, passage)| (passage, logits[start + i][0]))
                    .collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                let ranked: Vec<serde_json::Value> = ranked
                    .into_iter()
                    .map(|(passage, score)| json!({"passage": passage, "score": score}))
                    .collect();
                Fields::from_iter([("ranked".to_string(), json!(ranked))])
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn binary_cross_entropy_matches_the_formula() {
        let device = Device::flex();
        let logits = Tensor::<1>::from_floats([2.0, -1.0, 0.0], &device).reshape([3, 1]);
        let labels = Tensor::<1>::from_floats([1.0, 0.0, 0.25], &device).reshape([3, 1]);
        let loss = binary_cross_entropy_with_logits(logits, labels).into_scalar::<f32>();
        let expected = |x: f64, y: f64| {
            let p = 1.0 / (1.0 + (-x).exp());
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        };
        let mean = (expected(2.0, 1.0) + expected(-1.0, 0.0) + expected(0.0, 0.25)) / 3.0;
        assert!((f64::from(loss) - mean).abs() < 1e-6, "{loss} vs {mean}");
    }
}
