//! `--task few-shot`: text classification from a few labelled examples per
//! class, SetFit's recipe (Tunstall et al. 2022). The sentence encoder is
//! fine-tuned on contrastive pairs drawn from the examples (same label:
//! cosine 1, different labels: 0; sentence-transformers'
//! `CosineSimilarityLoss`), then a logistic-regression head is fitted on the
//! frozen embeddings of the examples. The run is a sentence-transformers
//! model with the head beside it (`model_head.safetensors`,
//! `config_setfit.json`), and opens in transformers as a sequence classifier
//! (`trust_remote_code`, `modeling_setfit.py`).

mod lbfgs;
mod logistic;
mod transformers_files;

pub use logistic::{HEAD_FILE, LogisticHead};
pub use transformers_files::MODELING_FILE;

use std::path::Path;

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{Example, LabelVocab, Split, Splits};
use bert_data::few_shot::{PairCount, contrastive_pairs};
use bert_data::sentence_embedding::{SentenceItem, text_id};
use bert_data::{BertTokenizer, Encoding, TextBatcher};
use bert_model::BertConfig;
use bert_model::heads::NoHead;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::classification::ClassificationReport;
use super::sentence_embedding::{
    EmbeddingLoss, EmbeddingOptions, EmbeddingOutput, SentenceEmbedding, spearman_metric,
};
use crate::inference::{Batches, argmax};
use crate::predict::{Fields, Inputs, by_label};
use crate::run::RunDir;
use crate::task::{
    Items, Model, Prepared, Task, TaskBatch, TaskData, TaskModel, TestData, TextBatches,
};
use crate::training::{BestMetric, DataArgs, TaskMetrics, TrainingArgs};

/// SetFit's model settings, read by `SetFitModel.from_pretrained`.
const SETFIT_CONFIG: &str = "config_setfit.json";

/// The flags of `--task few-shot`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, clap::Args)]
pub struct FewShotOptions {
    /// few-shot: positive and negative pairs drawn per training example
    /// (SetFit's `num_iterations`); default: as many of each kind as there
    /// are pairs of the more frequent kind (SetFit's `oversampling`).
    #[arg(long)]
    #[serde(default)]
    pub num_iterations: Option<usize>,
}

/// A SetFit classifier: a sentence encoder tuned on pairs, and a
/// logistic-regression head.
#[derive(Clone, Debug)]
pub struct FewShot {
    /// The task's flags.
    pub options: FewShotOptions,
    /// The labels, learnt from the training split or read from a run.
    pub labels: LabelVocab,
    /// The encoder's task: pooling, and the cosine loss on pairs.
    pub body: SentenceEmbedding,
    /// The head, once fitted or read from a run.
    pub head: Option<LogisticHead>,
    /// Seeds the pairs' draw.
    seed: u64,
}

impl FewShot {
    /// The task with `options`; pooling and normalisation come from the
    /// sentence-embedding flags (`--pooling`, `--normalize`) or the model.
    pub fn new(
        options: FewShotOptions,
        embedding: &EmbeddingOptions,
        args: &TrainingArgs,
    ) -> Result<Self> {
        let body = SentenceEmbedding::new(
            EmbeddingOptions {
                loss: EmbeddingLoss::Cosine,
                pooling: embedding.pooling,
                normalize: embedding.normalize,
                ..EmbeddingOptions::default()
            },
            args,
        )?;
        Ok(Self {
            options,
            labels: LabelVocab::from_names(Vec::new()),
            body,
            head: None,
            seed: args.seed,
        })
    }

    /// The pairs drawn from `examples` (training: `--num-iterations`;
    /// validation: one of each kind per example), as items scored 1 or 0.
    fn pairs(&self, tokenizer: &BertTokenizer, split: Split, examples: &[Example]) -> Items<Self> {
        if examples.is_empty() {
            return Ok(Vec::new());
        }
        let labels = examples
            .iter()
            .map(|example| self.labels.id(example))
            .collect::<Result<Vec<_>, _>>()?;
        let count = match (split, self.options.num_iterations) {
            (Split::Train, Some(iterations)) => PairCount::PerExample(iterations),
            (Split::Train, None) => PairCount::Oversampling,
            _ => PairCount::PerExample(1),
        };
        let name = if split == Split::Train {
            "training"
        } else {
            "validation"
        };
        let pairs = contrastive_pairs(&labels, count, self.seed)
            .with_context(|| format!("drawing the {name} pairs"))?;
        let singles = self.encode(tokenizer, examples)?;
        Ok(pairs
            .into_iter()
            .map(|pair| {
                let [first, second] = [pair.first, pair.second].map(|i| &singles[i]);
                SentenceItem {
                    encodings: vec![first.encodings[0].clone(), second.encodings[0].clone()],
                    score: Some(if pair.positive { 1.0 } else { 0.0 }),
                    text_ids: vec![first.text_ids[0], second.text_ids[0]],
                }
            })
            .collect())
    }

    /// The head, which a run trained for the task has.
    fn fitted_head(&self) -> Result<&LogisticHead> {
        self.head
            .as_ref()
            .with_context(|| format!("the run has no {HEAD_FILE}: train it with --task few-shot"))
    }

    /// The class probabilities of every encoded text.
    fn probabilities(
        &self,
        model: &Model<Self>,
        encodings: &[Encoding],
        batches: &Batches<TextBatcher>,
    ) -> Result<Vec<Vec<f32>>> {
        let head = self.fitted_head()?;
        let embeddings = self.body.embed_encodings(model, encodings, batches)?;
        Ok(embeddings.iter().map(|e| head.probabilities(e)).collect())
    }
}

impl TaskData for FewShot {
    type Example = Example;
    type Item = SentenceItem;

    /// Labelled single texts, as for classification (`--samples-per-class`
    /// draws a few of each label).
    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Example>> {
        let splits = data.sample_per_class(data.load_examples(cache, "label")?)?;
        if let Some(pair) = splits.train.iter().find(|e| e.text_pair.is_some()) {
            bail!(
                "{}: few-shot classifies single texts; --text-pair-column is for pair-classification",
                pair.origin
            );
        }
        Ok(splits)
    }

    fn learn(&mut self, examples: &Splits<Example>) -> Result<()> {
        let declared = examples.label_names.as_deref();
        self.labels =
            LabelVocab::declared_or(declared, || LabelVocab::from_examples(&examples.train));
        if let Some(missing) = self
            .labels
            .names()
            .iter()
            .find(|label| !examples.train.iter().any(|e| &e.label == *label))
        {
            bail!(
                "label {missing:?} has no training example: the few-shot head can only learn labels it is shown"
            );
        }
        Ok(())
    }

    /// Each text alone (what reports and the head read).
    fn encode(&self, tokenizer: &BertTokenizer, examples: &[Example]) -> Items<Self> {
        examples
            .iter()
            .map(|example| {
                let encoding = tokenizer
                    .encode(&example.text)
                    .with_context(|| example.origin.to_string())?;
                Ok(SentenceItem {
                    encodings: vec![encoding],
                    score: None,
                    text_ids: vec![text_id(&example.text)],
                })
            })
            .collect()
    }

    /// Training and validation: contrastive pairs; test: texts.
    fn encode_split(
        &self,
        tokenizer: &BertTokenizer,
        split: Split,
        examples: &[Example],
    ) -> Items<Self> {
        match split {
            Split::Test => self.encode(tokenizer, examples),
            _ => self.pairs(tokenizer, split, examples),
        }
    }

    fn describe(&self, data: &Prepared<Self>) -> Result<String> {
        let train = &data.examples.train;
        let per_label: Vec<String> = self
            .labels
            .names()
            .iter()
            .map(|label| {
                let count = train.iter().filter(|e| &e.label == label).count();
                format!("{label}: {count}")
            })
            .collect();
        let positive = data
            .items
            .train
            .iter()
            .filter(|i| i.score == Some(1.0))
            .count();
        Ok(format!(
            "labels [{}], {positive} positive and {} negative training pairs, {} pooling{}",
            per_label.join(", "),
            data.items.train.len() - positive,
            self.body.pooling.pooling,
            if self.body.pooling.normalize {
                " + normalise"
            } else {
                ""
            },
        ))
    }
}

impl Task for FewShot {
    type Head = NoHead;
    type Output = EmbeddingOutput;
    type Report = ClassificationReport;

    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.labels)
    }

    /// The encoder's pooling, and a run's head.
    fn read_model_files(&mut self, dir: &Path) -> Result<()> {
        self.body.read_model_files(dir)?;
        let head = dir.join(HEAD_FILE);
        self.head = head
            .is_file()
            .then(|| LogisticHead::read(&head))
            .transpose()?;
        Ok(())
    }

    fn forward(&self, model: &Model<Self>, batch: TaskBatch<Self>) -> EmbeddingOutput {
        self.body.forward(model, batch)
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::new(BestMetric::Spearman).valid(Some(BestMetric::Spearman), spearman_metric())
    }

    /// The head, fitted on the training texts' embeddings.
    fn fit_after_training(
        &mut self,
        model: &Model<Self>,
        train: &[Example],
        texts: &TextBatches,
    ) -> Result<()> {
        let items = self.encode(texts.tokenizer, train)?;
        let encodings: Vec<Encoding> = items.into_iter().map(|i| i.encodings[0].clone()).collect();
        let embeddings = self
            .body
            .embed_encodings(model, &encodings, &texts.batches)?;
        let labels = train
            .iter()
            .map(|example| self.labels.id(example))
            .collect::<Result<Vec<_>, _>>()?;
        self.head = Some(LogisticHead::fit(&embeddings, &labels, self.labels.len())?);
        Ok(())
    }

    /// The sentence-transformers files, the head, SetFit's config and
    /// transformers' remote code.
    fn write_model_files(
        &self,
        run: &RunDir,
        tokenizer: &BertTokenizer,
        config: &BertConfig,
    ) -> Result<()> {
        self.body.write_model_files(run, tokenizer, config)?;
        run.write_file(HEAD_FILE, &self.fitted_head()?.to_bytes()?)?;
        run.write_json(
            SETFIT_CONFIG,
            &json!({"labels": self.labels.names(), "normalize_embeddings": false}),
        )?;
        transformers_files::write(run, config, &self.body.pooling)
    }

    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<ClassificationReport> {
        let batcher = TextBatcher::for_tokenizer(test.tokenizer);
        let batches = Batches::new(&batcher, test.batches.size, test.batches.device);
        let encodings: Vec<Encoding> = test.items.iter().map(|i| i.encodings[0].clone()).collect();
        let probabilities = self.probabilities(model, &encodings, &batches)?;
        let predicted: Vec<usize> = probabilities.iter().map(|p| argmax(p)).collect();
        let truth = test
            .examples
            .iter()
            .map(|example| self.labels.id(example))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClassificationReport::new(
            self.labels.names(),
            &truth,
            &predicted,
        ))
    }

    /// `label` and `probs` (per label) of each line's `text`.
    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>> {
        let head = self.fitted_head()?;
        let embeddings = inputs.text_rows(|input| self.body.embed(model, input))?;
        let probabilities: Vec<Vec<f32>> =
            embeddings.iter().map(|e| head.probabilities(e)).collect();
        let names = self.labels.names();
        Ok(probabilities
            .iter()
            .map(|probs| {
                Fields::from_iter([
                    ("label".to_string(), json!(names[argmax(probs)])),
                    ("probs".to_string(), by_label(names, probs)),
                ])
            })
            .collect())
    }
}
