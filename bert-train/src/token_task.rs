//! `--task token-classification`: fine-tune a per-token head on BIO-tagged
//! sentences (e.g. twitter_ner) and report entity-level precision, recall and
//! F1 (seqeval rules) and token accuracy, both on each word's first piece.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

use anyhow::{Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::LabelVocab;
use bert_data::token_classification::{IGNORE, TokenBatch, TokenItem, tokenize_tagged};
use bert_model::BertForTokenClassification;
use bert_model::heads::ClassifierHeadConfig;
use bert_model::pretrained;
use burn::module::Module;
use burn::train::metric::store::Direction;
use burn::train::metric::{AccuracyMetric, LossMetric};
use serde::{Deserialize, Serialize};

use crate::entities::{EntityScores, score_entities};
use crate::fit::{RunSetup, Selection};
use crate::inference::Batches;
use crate::run::RunDir;
use crate::tagger::TokenTagger;
use crate::train::BestMetric;

/// `report.json` of a token classification run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenReport {
    /// Always `token-classification`.
    pub task: String,
    /// The data scored.
    pub split: String,
    /// Number of sentences.
    pub examples: usize,
    /// Words scored (those whose first piece survived truncation).
    pub words: usize,
    /// Entity-level precision, micro-averaged.
    pub precision: f64,
    /// Entity-level recall, micro-averaged.
    pub recall: f64,
    /// Entity-level F1, micro-averaged.
    pub f1: f64,
    /// Share of words tagged right (`O` included).
    pub token_accuracy: f64,
    /// Scores by entity type.
    pub per_type: BTreeMap<String, EntityScores>,
}

impl TokenReport {
    /// Scores sentences given as (true tags, predicted tags) per word.
    pub fn new(split: &str, sentences: &[(Vec<String>, Vec<String>)]) -> Self {
        let (overall, per_type) = score_entities(sentences);
        let words: usize = sentences.iter().map(|(t, _)| t.len()).sum();
        let correct: usize = sentences
            .iter()
            .map(|(t, p)| t.iter().zip(p).filter(|(a, b)| a == b).count())
            .sum();
        Self {
            task: "token-classification".into(),
            split: split.into(),
            examples: sentences.len(),
            words,
            precision: overall.precision,
            recall: overall.recall,
            f1: overall.f1,
            token_accuracy: if words == 0 {
                0.0
            } else {
                correct as f64 / words as f64
            },
            per_type,
        }
    }

    /// A readable table.
    pub fn table(&self) -> String {
        let width = self
            .per_type
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(6)
            .max(6);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "entities: precision {:.4}   recall {:.4}   F1 {:.4}   token accuracy {:.4} ({} words)\n",
            self.precision, self.recall, self.f1, self.token_accuracy, self.words
        );
        let _ = writeln!(out, "{:width$}  precision  recall      f1  support", "type");
        for (kind, s) in &self.per_type {
            let _ = writeln!(
                out,
                "{kind:width$}  {:9.4}  {:6.4}  {:6.4}  {:7}",
                s.precision, s.recall, s.f1, s.support
            );
        }
        out
    }
}

/// Predicted tag ids of each item's labelled positions (first word pieces), in order.
pub fn predict_tags(
    model: &BertForTokenClassification,
    items: &[TokenItem],
    batches: &Batches,
) -> Result<Vec<Vec<usize>>> {
    let rows = batches.rows(items, |batch: TokenBatch| {
        let logits = model.forward(batch.input);
        logits.argmax(2).squeeze_dim::<2>(2).float()
    })?;
    Ok(items
        .iter()
        .zip(rows)
        .map(|(item, row)| {
            item.labels
                .iter()
                .zip(row)
                .filter(|(label, _)| **label != IGNORE)
                .map(|(_, tag)| tag as usize)
                .collect()
        })
        .collect())
}

/// Predicts `items`, prints the table and writes `report.json` and `report.txt`.
pub fn evaluate_tagging(
    model: &BertForTokenClassification,
    items: &[TokenItem],
    tags: &LabelVocab,
    batches: &Batches,
    run: &RunDir,
    split: &str,
) -> Result<TokenReport> {
    let predicted = predict_tags(model, items, batches)?;
    let name = |id: usize| tags.names()[id].clone();
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
    let report = TokenReport::new(split, &sentences);
    let table = report.table();
    run.write_report(
        &report,
        &table,
        &format!("{split} set, {} sentences", items.len()),
    )?;
    Ok(report)
}

/// Fine-tunes a token classifier, saves it and writes the test report.
pub fn train_tagger(setup: &RunSetup, cache: &AssetCache) -> Result<TokenReport> {
    let args = &setup.args;
    let splits = args
        .data
        .load_tagged(cache, args.task)?
        .truncate(args.max_train_samples, args.max_eval_samples);
    // The tag inventory of every split: a small training subset may lack a
    // rare tag that validation or test has.
    let tags = LabelVocab::from_labels(
        splits
            .train
            .iter()
            .chain(&splits.validation)
            .chain(&splits.test)
            .flat_map(|s| s.tags.iter().map(String::as_str)),
    );
    if tags.len() < 2 {
        bail!(
            "the training data has {} tag(s); token classification needs at least 2",
            tags.len()
        );
    }
    let started = Instant::now();
    let tokenize = |sentences| tokenize_tagged(&setup.tokenizer, sentences, &tags);
    let (train, validation, test) = (
        tokenize(&splits.train)?,
        tokenize(&splits.validation)?,
        tokenize(&splits.test)?,
    );
    let words: usize = splits.train.iter().map(|s| s.words.len()).sum();
    let kept: usize = train.iter().map(|item| item.words_kept).sum();
    println!(
        "data: {} train / {} validation / {} test sentences, {} tags, tokenized in {:.1}s ({} of {} train words kept within {} tokens)",
        train.len(),
        validation.len(),
        test.len(),
        tags.len(),
        started.elapsed().as_secs_f64(),
        kept,
        words,
        setup.tokenizer.max_len(),
    );
    let device = setup.training_device();
    let head = ClassifierHeadConfig::for_model(&setup.config, tags.len()).init_token(&device);
    let (config, model, _) = pretrained::load_for_task(&setup.model_dir, head, &device)?;
    let accuracy = || AccuracyMetric::new().with_pad_token(tags.len());
    let selection = match args.best_metric() {
        BestMetric::Loss => Selection::by(&LossMetric::new(), Direction::Lowest, args.patience),
        _ => Selection::by(&accuracy(), Direction::Highest, args.patience),
    };
    let trained = setup.fit(
        TokenTagger { model },
        (train, validation),
        (setup.batcher(), setup.batcher()),
        selection,
        |t| {
            t.metric_train_numeric(accuracy())
                .metric_valid_numeric(accuracy())
        },
    )?;
    let model = trained.model.valid();
    setup.save(&model, &config.with_labels(tags.names()))?;
    evaluate_tagging(
        &model,
        &test,
        &tags,
        &Batches::new(&setup.batcher(), args.batch_size, &setup.device),
        &setup.run,
        "test",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn report_counts_entities_and_words() {
        let sentences = vec![(
            tags(&["B-person", "I-person", "O", "B-geo-loc"]),
            tags(&["B-person", "I-person", "O", "O"]),
        )];
        let report = TokenReport::new("test", &sentences);
        assert_eq!((report.precision, report.recall), (1.0, 0.5));
        assert!((report.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((report.words, report.token_accuracy), (4, 0.75));
        assert_eq!(report.per_type["geo-loc"].support, 1);
        assert!(report.table().contains("F1 0.6667"));
    }
}
