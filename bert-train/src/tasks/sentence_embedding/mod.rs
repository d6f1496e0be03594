//! `--task sentence-embedding`: a bi-encoder, as sentence-transformers
//! trains one. Each text is embedded alone (the encoder's token states
//! pooled, then normalised if the model says so; no head), and the loss
//! compares the embeddings of a batch's rows: in-batch negatives
//! (`mnrl`, `cached-mnrl`) for (anchor, positive[, negatives]) rows, or the
//! cosine of scored pairs (`cosent`, `cosine`). The run is a
//! sentence-transformers model (`modules.json`, pooling, normalisation).

mod gradient_cache;
mod losses;
mod metrics;
mod output;
mod report;
mod retrieval;

pub use gradient_cache::mini_batch_seed;
pub use losses::{
    EmbeddingLoss, LossSettings, cos_sim, cosent, cosine_mse, multiple_negatives_ranking,
};
pub use metrics::{RetrievalMeasure, SPEARMAN, spearman_metric};
pub use output::EmbeddingOutput;
pub use report::{EmbeddingReport, SimilarityScores};
pub use retrieval::RetrievalScores;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{
    BuiltinDataset, DatasetError, RetrievalSet, Splits, TextTuple, TupleColumns, read_tuples,
};
use bert_data::sentence_embedding::{SentenceBatch, SentenceItem, distinct_batches, text_id};
use bert_data::{BertTokenizer, Encoding, TextBatcher};
use bert_model::heads::NoHead;
use bert_model::sentence_transformers::SentenceTransformerConfig;
use bert_model::{BertConfig, BertInput, Pooling, SentencePooling};
use burn::tensor::Tensor;
use burn::train::TrainOutput;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::info;

use crate::inference::Batches;
use crate::predict::{Fields, Inputs};
use crate::run::RunDir;
use crate::scores::{pearson, spearman};
use crate::task::{Items, Model, Prepared, Task, TaskBatch, TaskData, TaskModel, TestData};
use crate::training::step::Timed;
use crate::training::{BestMetric, DataArgs, TaskMetrics, TrainingArgs};
use retrieval::{Embedded, retrieval_scores};

/// The flags of `--task sentence-embedding`.
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct EmbeddingOptions {
    /// sentence-embedding: the loss. `mnrl` and `cached-mnrl` take
    /// (anchor, positive[, negatives...]) rows, `cosent` and `cosine`
    /// (text, text, score) rows.
    #[arg(long, value_enum, default_value = "cosent")]
    #[serde(default)]
    pub loss: EmbeddingLoss,
    /// sentence-embedding: cosines are multiplied by this in `mnrl`,
    /// `cached-mnrl` and `cosent` (1 / temperature).
    #[arg(long, default_value_t = 20.0)]
    #[serde(default = "default_scale")]
    pub scale: f64,
    /// sentence-embedding, `mnrl`/`cached-mnrl`: also rank each positive's
    /// anchor among the batch's anchors (the symmetric loss).
    #[arg(long)]
    #[serde(default)]
    pub symmetric: bool,
    /// sentence-embedding, `cached-mnrl`: rows embedded at a time; memory
    /// follows it, while the negatives are the whole batch's.
    #[arg(long, default_value_t = 32)]
    #[serde(default = "default_mini_batch_size")]
    pub mini_batch_size: usize,
    /// sentence-embedding: MatryoshkaLoss, the loss summed over the
    /// embeddings cut to each of these sizes (e.g. `384,256,128,64`).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub matryoshka_dims: Vec<usize>,
    /// sentence-embedding, few-shot: pooling of the token states, `mean`, `cls` or
    /// `max` (default: the model's sentence-transformers pooling, else mean).
    #[arg(long)]
    pub pooling: Option<Pooling>,
    /// sentence-embedding, few-shot: L2-normalise the embeddings (default: as the
    /// model does, i.e. if it has a `Normalize` module).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub normalize: Option<bool>,
    /// sentence-embedding: the text columns in order (anchor, positive,
    /// negatives; or the two texts of a pair). Default: every column but
    /// the score (`--label-column`, else `score` or `label`), in the file's order.
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub text_columns: Vec<String>,
    /// sentence-embedding: scores are divided by this (default: 5 for
    /// `sts_b`, whose scores are 0-5; else 1).
    #[arg(long)]
    pub score_scale: Option<f64>,
    /// sentence-embedding: BEIR queries (`queries.jsonl`) of a retrieval
    /// evaluation in the test report, with `--ir-corpus` and `--ir-qrels`.
    #[arg(long, requires_all = ["ir_corpus", "ir_qrels"])]
    pub ir_queries: Option<PathBuf>,
    /// sentence-embedding: BEIR corpus (`corpus.jsonl`).
    #[arg(long, requires = "ir_queries")]
    pub ir_corpus: Option<PathBuf>,
    /// sentence-embedding: BEIR relevance judgements (`qrels/test.tsv`).
    #[arg(long, requires = "ir_queries")]
    pub ir_qrels: Option<PathBuf>,
}

fn default_scale() -> f64 {
    20.0
}

fn default_mini_batch_size() -> usize {
    32
}

impl Default for EmbeddingOptions {
    fn default() -> Self {
        Self {
            loss: EmbeddingLoss::default(),
            scale: default_scale(),
            symmetric: false,
            mini_batch_size: default_mini_batch_size(),
            matryoshka_dims: Vec::new(),
            pooling: None,
            normalize: None,
            text_columns: Vec::new(),
            score_scale: None,
            ir_queries: None,
            ir_corpus: None,
            ir_qrels: None,
        }
    }
}

/// A bi-encoder trained with a sentence-transformers loss.
#[derive(Clone, Debug)]
pub struct SentenceEmbedding {
    /// The task's flags.
    pub options: EmbeddingOptions,
    /// How token states become an embedding: the flags', else the model's.
    pub pooling: SentencePooling,
    /// Where the dropout seeds of the gradient cache's steps come from.
    step_seeds: Arc<AtomicU64>,
}

impl SentenceEmbedding {
    /// The task with `options`, checked against the run's `args`; pooling
    /// is settled when the model's files are read.
    pub fn new(options: EmbeddingOptions, args: &TrainingArgs) -> Result<Self> {
        let loss = options.loss;
        if options.symmetric && !loss.uses_in_batch_negatives() {
            bail!("--symmetric applies to --loss mnrl and cached-mnrl, not {loss:?}");
        }
        if loss == EmbeddingLoss::CachedMnrl {
            let mini = options.mini_batch_size;
            if mini == 0 || mini > args.batch_size {
                bail!(
                    "--mini-batch-size {mini} must be between 1 and --batch-size ({}): the gradient cache embeds a batch that many rows at a time",
                    args.batch_size
                );
            }
        }
        if !(options.scale.is_finite() && options.scale > 0.0) {
            bail!("--scale must be a positive number, got {}", options.scale);
        }
        if let Some(scale) = options.score_scale.filter(|s| !(s.is_finite() && *s > 0.0)) {
            bail!("--score-scale must be a positive number, got {scale}");
        }
        if options.matryoshka_dims.contains(&0) {
            bail!("--matryoshka-dims must be sizes of at least 1");
        }
        Ok(Self {
            pooling: SentencePooling {
                pooling: options.pooling.unwrap_or_default(),
                normalize: options.normalize.unwrap_or(false),
            },
            options,
            step_seeds: Arc::new(AtomicU64::new(args.seed)),
        })
    }

    /// The loss with its settings.
    pub fn loss(&self) -> LossSettings {
        LossSettings {
            loss: self.options.loss,
            scale: self.options.scale,
            symmetric: self.options.symmetric,
            matryoshka_dims: self.options.matryoshka_dims.clone(),
        }
    }

    /// `[B, H]` embeddings of a batch of texts.
    pub fn embed(&self, model: &Model<Self>, input: BertInput) -> Tensor<2> {
        self.pooling.embed(model.forward(input))
    }

    /// A new seed for the dropout masks of a gradient-cache step.
    fn next_step_seed(&self) -> u64 {
        self.step_seeds.fetch_add(1, Ordering::Relaxed)
    }

    /// The score of `row` as the loss reads it: a number, divided by the
    /// score scale, within `[-1, 1]` for `cosine`.
    fn parse_score(&self, row: &TextTuple, scale: f64) -> Result<f64, DatasetError> {
        let error = |message: String| DatasetError::Row {
            origin: row.origin.to_string(),
            message,
        };
        let written = row.score.as_deref().unwrap_or_default();
        let value = written
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| error(format!("expected a number as the score, found {written:?}")))?
            / scale;
        if self.options.loss == EmbeddingLoss::Cosine && !(-1.0..=1.0).contains(&value) {
            return Err(error(format!(
                "score {written} (/ {scale} = {value}) is outside [-1, 1], the range of a cosine; \
                 give --score-scale to rescale (sts_b: 5)"
            )));
        }
        Ok(value)
    }

    /// Checks that every row has the texts (and score) the loss reads.
    fn check_rows(&self, split: &str, rows: &[TextTuple]) -> Result<()> {
        let loss = self.options.loss;
        let Some(first) = rows.first() else {
            return Ok(());
        };
        for row in rows {
            let texts = row.texts.len();
            let problem = if texts != first.texts.len() {
                Some(format!(
                    "{texts} texts where the first row ({}) has {}",
                    first.origin,
                    first.texts.len()
                ))
            } else if loss.is_scored() && texts != 2 {
                Some(format!(
                    "--loss {loss:?} compares 2 texts, the row has {texts}"
                ))
            } else if loss.is_scored() && row.score.is_none() {
                Some(format!(
                    "--loss {loss:?} needs a score column (--label-column, or one named score or label); \
                     for (anchor, positive) rows use --loss mnrl"
                ))
            } else if !loss.is_scored() && texts < 2 {
                Some(format!(
                    "--loss {loss:?} needs an anchor and a positive, the row has {texts} text"
                ))
            } else if !loss.is_scored() && row.score.is_some() {
                Some(format!(
                    "--loss {loss:?} takes (anchor, positive[, negatives]) rows without a score; \
                     the data has a score column: use --loss cosent or cosine, or name the text columns with --text-columns"
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                bail!("{} ({split} split): {problem}", row.origin);
            }
        }
        Ok(())
    }

    /// The embedding of every distinct text of `encodings` (by id), in
    /// batches of similar lengths.
    fn embed_texts(
        &self,
        model: &Model<Self>,
        texts: Vec<(u64, Encoding)>,
        tokenizer: &BertTokenizer,
        batches: &Batches<TextBatcher>,
    ) -> Result<HashMap<u64, Vec<f32>>> {
        let batcher = TextBatcher::for_tokenizer(tokenizer);
        let (ids, encodings): (Vec<u64>, Vec<Encoding>) = texts.into_iter().unzip();
        let batches = Batches::new(&batcher, batches.size, batches.device);
        let rows = self.embed_encodings(model, &encodings, &batches)?;
        Ok(ids.into_iter().zip(rows).collect())
    }

    /// The embedding of every encoded text, in order.
    pub fn embed_encodings(
        &self,
        model: &Model<Self>,
        encodings: &[Encoding],
        batches: &Batches<TextBatcher>,
    ) -> Result<Vec<Vec<f32>>> {
        batches
            .rows(encodings, |input: BertInput| self.embed(model, input))
            .context("embedding")
    }

    /// Each distinct text of `items`, with its encoding.
    fn distinct_texts(items: &[SentenceItem]) -> Vec<(u64, Encoding)> {
        let mut seen = HashMap::new();
        for item in items {
            for (id, encoding) in item.text_ids.iter().zip(&item.encodings) {
                seen.entry(*id).or_insert_with(|| encoding.clone());
            }
        }
        seen.into_iter().collect()
    }

    /// The retrieval scores of `set`, its texts embedded by `model`.
    fn retrieval(
        &self,
        model: &Model<Self>,
        set: &RetrievalSet,
        tokenizer: &BertTokenizer,
        batches: &Batches<TextBatcher>,
    ) -> Result<RetrievalScores> {
        let texts: Vec<(u64, Encoding)> = set
            .queries
            .iter()
            .chain(&set.corpus)
            .map(|(_, text)| Ok((text_id(text), tokenizer.encode(text)?)))
            .collect::<Result<_>>()?;
        let embedded = self.embed_texts(model, texts, tokenizer, batches)?;
        let split = |items: &[(String, String)]| -> (Vec<String>, Vec<Vec<f32>>) {
            items
                .iter()
                .map(|(id, text)| (id.clone(), embedded[&text_id(text)].clone()))
                .unzip()
        };
        let (query_ids, queries) = split(&set.queries);
        let (corpus_ids, corpus) = split(&set.corpus);
        Ok(retrieval_scores(&Embedded {
            queries: (&query_ids, &queries),
            corpus: (&corpus_ids, &corpus),
            relevant: &set.relevant,
        }))
    }
}

impl TaskData for SentenceEmbedding {
    type Example = TextTuple;
    type Item = SentenceItem;

    /// Rows of texts (and scores) from files, a Hugging Face dataset or
    /// `sts_b`; scores are checked and divided by the score scale.
    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<TextTuple>> {
        let columns = TupleColumns {
            texts: (!self.options.text_columns.is_empty())
                .then(|| self.options.text_columns.clone()),
            score: data.label_column.clone(),
        };
        let splits = data.load_with(
            cache,
            columns.score.as_deref(),
            |path| read_tuples(path, &columns),
            |name| {
                let splits = BuiltinDataset::find(name)?.load(cache)?;
                splits.try_map(|examples| {
                    Ok::<_, DatasetError>(examples.iter().cloned().map(TextTuple::from).collect())
                })
            },
        )?;
        let builtin_sts = data.train_file.is_none() && data.dataset.as_deref() == Some("sts_b");
        let scale = self
            .options
            .score_scale
            .unwrap_or(if builtin_sts { 5.0 } else { 1.0 });
        let scored = |rows: &[TextTuple]| -> Result<Vec<TextTuple>, DatasetError> {
            rows.iter()
                .map(|row| {
                    let mut row = row.clone();
                    if row.score.is_some() && self.options.loss.is_scored() {
                        row.score = Some(self.parse_score(&row, scale)?.to_string());
                    }
                    Ok(row)
                })
                .collect()
        };
        Ok(splits.try_map(scored)?)
    }

    fn learn(&mut self, examples: &Splits<TextTuple>) -> Result<()> {
        for (split, rows) in [
            ("training", &examples.train),
            ("validation", &examples.validation),
            ("test", &examples.test),
        ] {
            self.check_rows(split, rows)?;
        }
        Ok(())
    }

    fn encode(&self, tokenizer: &BertTokenizer, examples: &[TextTuple]) -> Items<Self> {
        examples
            .iter()
            .map(|row| {
                let score = match self.options.loss.is_scored() {
                    true => row.score.as_deref().and_then(|s| s.parse::<f32>().ok()),
                    false => None,
                };
                Ok(SentenceItem::encode(tokenizer, row, score)?)
            })
            .collect()
    }

    fn describe(&self, data: &Prepared<Self>) -> Result<String> {
        let texts = data.examples.train.first().map_or(0, |row| row.texts.len());
        let truncated = data
            .items
            .train
            .iter()
            .filter(|item| item.encodings.iter().any(|e| e.len() >= data.max_len))
            .count();
        Ok(format!(
            "{texts} texts per row, {} loss, {} pooling{}, {truncated} training rows with a text at the {}-token limit",
            self.options.loss.class_name(),
            self.pooling.pooling,
            if self.pooling.normalize {
                " + normalise"
            } else {
                ""
            },
            data.max_len
        ))
    }

    /// For in-batch negatives: batches without a text twice.
    fn training_batches(
        &self,
        data: &Prepared<Self>,
        args: &TrainingArgs,
    ) -> Result<Option<Vec<Vec<usize>>>> {
        if !self.options.loss.uses_in_batch_negatives() {
            return Ok(None);
        }
        let batches = distinct_batches(&data.items.train, args.batch_size, args.seed, args.group_by_length)
            .map_err(|repeated| {
                let row = &data.examples.train[repeated.row];
                anyhow::anyhow!(
                    "{}: the text {:?} is in {} training rows, which make {} batches of {}: some batch would hold it twice, \
                     a false negative for --loss {:?}; remove the repeated rows or use a smaller --batch-size",
                    row.origin,
                    row.texts[repeated.column],
                    repeated.rows,
                    repeated.batches,
                    args.batch_size,
                    self.options.loss
                )
            })?;
        let short = batches.iter().filter(|b| b.len() < args.batch_size).count();
        if short > 1 {
            info!(
                "{short} of {} training batches are short: rows that repeat a text wait for a batch without it",
                batches.len()
            );
        }
        Ok(Some(batches))
    }
}

impl Task for SentenceEmbedding {
    type Head = NoHead;
    type Output = EmbeddingOutput;
    type Report = EmbeddingReport;

    /// MatryoshkaLoss cannot cut embeddings to more than the model's width.
    fn supports(&self, config: &BertConfig) -> Result<()> {
        let width = config.hidden_size;
        if let Some(dim) = self.options.matryoshka_dims.iter().find(|&&d| d > width) {
            bail!("--matryoshka-dims {dim} is more than the model's embedding size, {width}");
        }
        Ok(())
    }

    fn read_model_files(&mut self, dir: &Path) -> Result<()> {
        self.pooling = SentenceTransformerConfig::pooling_of(
            dir,
            self.options.pooling,
            self.options.normalize,
        )?;
        Ok(())
    }

    fn forward(&self, model: &Model<Self>, batch: SentenceBatch) -> EmbeddingOutput {
        let embeddings: Vec<Tensor<2>> = batch
            .columns
            .into_iter()
            .map(|input| self.embed(model, input))
            .collect();
        let loss = self.loss().compute(&embeddings, batch.scores.as_ref());
        EmbeddingOutput {
            loss,
            embeddings,
            scores: batch.scores,
            text_ids: batch.text_ids,
        }
    }

    fn train_step(
        &self,
        model: &TaskModel<Self>,
        batch: TaskBatch<Self>,
    ) -> TrainOutput<Timed<EmbeddingOutput>> {
        match self.options.loss {
            EmbeddingLoss::CachedMnrl => gradient_cache::cached_step(self, model, batch),
            _ => crate::training::step::train_step(model, model.loss_scale.factor(), || {
                self.forward(&model.model, batch)
            }),
        }
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        if self.options.loss.is_scored() {
            return TaskMetrics::new(BestMetric::Spearman)
                .valid(Some(BestMetric::Spearman), metrics::spearman_metric());
        }
        RetrievalMeasure::ALL.iter().fold(
            TaskMetrics::new(BestMetric::Ndcg10),
            |metrics, &(measure, key)| metrics.valid(Some(key), measure.metric()),
        )
    }

    fn write_model_files(
        &self,
        run: &RunDir,
        tokenizer: &BertTokenizer,
        config: &BertConfig,
    ) -> Result<()> {
        SentenceTransformerConfig {
            pooling: self.pooling,
            max_seq_length: Some(tokenizer.max_len()),
        }
        .write(run.root(), config.hidden_size)
        .with_context(|| {
            format!(
                "cannot write the sentence-transformers files of {}",
                run.root().display()
            )
        })
    }

    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<EmbeddingReport> {
        self.check_rows(test.split, test.examples)?;
        let mut report = EmbeddingReport::new(test.split, test.items.len());
        let texts = Self::distinct_texts(test.items);
        let embedded = self.embed_texts(model, texts, test.tokenizer, &test.batches)?;
        if self.options.loss.is_scored() {
            let cosines: Vec<f64> = test
                .items
                .iter()
                .map(|item| {
                    let vector = |column: usize| &embedded[&item.text_ids[column]];
                    cosine(vector(0), vector(1))
                })
                .collect();
            let scores: Vec<f64> = test
                .items
                .iter()
                .map(|item| f64::from(item.score.unwrap_or_default()))
                .collect();
            report.similarity = Some(SimilarityScores {
                pearson: pearson(&cosines, &scores),
                spearman: spearman(&cosines, &scores),
            });
        } else {
            let set = RetrievalSet::from_tuples(test.examples);
            report.retrieval = Some(self.retrieval(model, &set, test.tokenizer, &test.batches)?);
        }
        if let (Some(queries), Some(corpus), Some(qrels)) = (
            &self.options.ir_queries,
            &self.options.ir_corpus,
            &self.options.ir_qrels,
        ) {
            let set = RetrievalSet::read_beir(queries, corpus, qrels)?;
            report.ir_files = Some(self.retrieval(model, &set, test.tokenizer, &test.batches)?);
        }
        Ok(report)
    }

    /// The `embedding` of each line's `text`.
    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>> {
        let encodings = inputs
            .lines
            .iter()
            .map(|line| {
                inputs
                    .tokenizer
                    .encode(&line.field("text")?)
                    .with_context(|| line.place())
            })
            .collect::<Result<Vec<_>>>()?;
        let batcher = TextBatcher::for_tokenizer(inputs.tokenizer);
        let rows = inputs
            .batches(&batcher)
            .rows(&encodings, |input: BertInput| self.embed(model, input))?;
        Ok(rows
            .into_iter()
            .map(|embedding| Fields::from_iter([("embedding".to_string(), json!(embedding))]))
            .collect())
    }
}

/// Cosine of two vectors (0 when either is zero).
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot = f64::from(retrieval::dot(a, b));
    let norms = f64::from(retrieval::dot(a, a)).sqrt() * f64::from(retrieval::dot(b, b)).sqrt();
    if norms == 0.0 { 0.0 } else { dot / norms }
}
