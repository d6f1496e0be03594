//! `--task token-classification`: one BIO tag per word (e.g. twitter_ner),
//! predicted on its first word piece, cross-entropy over those pieces
//! (optionally class-weighted), entity-level scores by seqeval's rules.

mod entities;
mod output;
mod report;

pub use entities::{Entity, entities, score_entities};
pub use output::{TokenOutput, masked_cross_entropy};
pub use report::TokenReport;

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{LabelVocab, Splits, TaggedDataset, TaggedSentence, read_conll};
use bert_data::token_classification::{
    IGNORE, TokenBatch, TokenItem, first_piece_labels, tokenize_tagged,
};
use bert_data::{BertTokenizer, Encoding, TextBatcher};
use bert_model::heads::{ClassifierHeadConfig, TokenClassificationHead};
use bert_model::{BertConfig, BertForTokenClassification, BertInput};
use burn::tensor::Device;
use burn::train::metric::AccuracyMetric;
use burn::train::metric::store::Direction;
use serde_json::{Map, Value, json};

use crate::inference::Batches;
use crate::predict::InputLine;
use crate::task::{Split, Task, TaskData, TaskModel, TextBatch};
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

impl TextBatch for TokenItem {
    type Batch = TokenBatch;
}

impl TaskData for TokenClassification {
    type Example = TaggedSentence;
    type Item = TokenItem;

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<TaggedSentence>> {
        data.load_with(read_conll, |name| TaggedDataset::find(name)?.load(cache))
    }

    fn learn(&mut self, examples: &Splits<TaggedSentence>) -> Result<()> {
        // The tag inventory of every split: a small training subset may lack
        // a rare tag that validation or test has.
        self.tags = LabelVocab::from_labels(
            [&examples.train, &examples.validation, &examples.test]
                .into_iter()
                .flatten()
                .flat_map(|s| s.tags.iter().map(String::as_str)),
        );
        if self.tags.len() < 2 {
            bail!(
                "the data has {} tag(s); token classification needs at least 2",
                self.tags.len()
            );
        }
        let mut counts = vec![0; self.tags.len()];
        for sentence in &examples.train {
            for tag in &sentence.tags {
                counts[self.tags.id_of(tag, &sentence.origin)?] += 1;
            }
        }
        self.class_weights = self.weights.resolve(self.tags.names(), &counts)?;
        Ok(())
    }

    fn encode(
        &self,
        tokenizer: &BertTokenizer,
        sentences: &[TaggedSentence],
        _: Split,
    ) -> Result<Vec<TokenItem>> {
        Ok(tokenize_tagged(tokenizer, sentences, &self.tags)?)
    }

    fn describe(
        &self,
        examples: &Splits<TaggedSentence>,
        items: &Splits<TokenItem>,
        tokenizer: &BertTokenizer,
    ) -> Result<String> {
        let words: usize = examples.train.iter().map(|s| s.words.len()).sum();
        let kept: usize = items.train.iter().map(|item| item.words_kept).sum();
        Ok(format!(
            "{} tags, {kept} of {words} train words kept within {} tokens",
            self.tags.len(),
            tokenizer.max_len()
        ))
    }
}

impl Task for TokenClassification {
    type Head = TokenClassificationHead;
    type Output = TokenOutput;
    type Report = TokenReport;

    fn name(&self) -> &'static str {
        "token-classification"
    }

    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.tags)
    }

    fn head(&self, config: &BertConfig, device: &Device) -> TokenClassificationHead {
        ClassifierHeadConfig::for_model(config, self.tags.len()).init_token(device)
    }

    fn forward(&self, model: &BertForTokenClassification, batch: TokenBatch) -> TokenOutput {
        let logits = model.forward(batch.input);
        TokenOutput {
            loss: masked_cross_entropy(
                logits.clone(),
                batch.labels.clone(),
                self.class_weights.as_deref(),
            ),
            logits,
            labels: batch.labels,
        }
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::new(BestMetric::Accuracy).both(
            Some(BestMetric::Accuracy),
            self.accuracy(),
            Direction::Highest,
        )
    }

    fn evaluate(
        &self,
        model: &BertForTokenClassification,
        _: &[TaggedSentence],
        items: &[TokenItem],
        batches: &Batches,
        split: &str,
    ) -> Result<TokenReport> {
        let encodings: Vec<Encoding> = items.iter().map(|item| item.encoding.clone()).collect();
        let markers: Vec<&[i64]> = items.iter().map(|item| item.labels.as_slice()).collect();
        let predicted = first_piece_tags(model, &encodings, &markers, batches)?;
        let name = |id: usize| self.tags.names()[id].clone();
        let sentences: Vec<(Vec<String>, Vec<String>)> = items
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
        Ok(TokenReport::new(split, &sentences))
    }

    /// Input: `{"words": [...]}`, or a text split at whitespace; output:
    /// `words` and `tags` (words cut by `--max-len` get no tag).
    fn predict(
        &self,
        model: &BertForTokenClassification,
        tokenizer: &BertTokenizer,
        inputs: &[InputLine],
        batch_size: usize,
        device: &Device,
    ) -> Result<Vec<Map<String, Value>>> {
        let mut words = Vec::with_capacity(inputs.len());
        let mut encodings = Vec::with_capacity(inputs.len());
        let mut markers = Vec::with_capacity(inputs.len());
        for input in inputs {
            let line_words: Vec<String> = match input.fields.get("words") {
                Some(list) => serde_json::from_value(list.clone()).with_context(|| {
                    format!("line {}: \"words\" must be a list of strings", input.number)
                })?,
                None => input
                    .field("text")?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            };
            let (encoding, word_ids) = tokenizer
                .encode_words(&line_words)
                .with_context(|| format!("line {}", input.number))?;
            let positions: Vec<i64> = (0..line_words.len() as i64).collect();
            markers.push(first_piece_labels(&word_ids, &positions));
            encodings.push(encoding);
            words.push(line_words);
        }
        let markers: Vec<&[i64]> = markers.iter().map(Vec::as_slice).collect();
        let batcher = TextBatcher::for_tokenizer(tokenizer);
        let tags = first_piece_tags(
            model,
            &encodings,
            &markers,
            &Batches::new(&batcher, batch_size, device),
        )?;
        Ok(words
            .into_iter()
            .zip(tags)
            .map(|(words, tags)| {
                let names: Vec<&str> = tags
                    .iter()
                    .map(|&t| self.tags.names()[t].as_str())
                    .collect();
                Map::from_iter([
                    ("words".to_string(), json!(words)),
                    ("tags".to_string(), json!(names)),
                ])
            })
            .collect())
    }
}
