//! `--task question-answering`: fine-tune start/end vectors over passage
//! tokens on SQuAD v1.1 files, decode the best valid span over all windows
//! of a passage, and report exact match and F1 as SQuAD's script defines them.

use std::collections::HashMap;
use std::fmt::Write;
use std::time::Instant;

use anyhow::{Result, bail};
use bert_data::question_answering::{QaBatch, QaExample, QaFeature, QaWindows, qa_features};
use bert_model::BertForQuestionAnswering;
use bert_model::heads::QuestionAnsweringHead;
use bert_model::pretrained;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::train::metric::store::Direction;
use burn::train::metric::{AccuracyMetric, LossMetric};
use serde::{Deserialize, Serialize};

use crate::fit::{RunSetup, Selection};
use crate::inference::Batches;
use crate::run::RunDir;
use crate::span_extractor::SpanExtractor;
use crate::train::{BestMetric, TrainArgs};

/// Longest question kept, in word pieces (Hugging Face's `max_query_length`).
const MAX_QUESTION_LEN: usize = 64;

/// `report.json` of a question-answering run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QaReport {
    /// Always `question-answering`.
    pub task: String,
    /// The data scored.
    pub split: String,
    /// Number of questions.
    pub examples: usize,
    /// Passage windows the model read.
    pub features: usize,
    /// Share of questions whose normalised prediction equals a gold answer.
    pub exact_match: f64,
    /// Mean over questions of the best token-overlap F1 with a gold answer.
    pub f1: f64,
}

/// SQuAD's `normalize_answer`: lower case, no ASCII punctuation, no
/// articles (a, an, the), single spaces.
pub fn normalize_answer(text: &str) -> String {
    let lower: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    lower
        .split_whitespace()
        .filter(|word| !matches!(*word, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// SQuAD's token-level F1 of a prediction against one gold answer.
pub fn answer_f1(prediction: &str, gold: &str) -> f64 {
    let prediction = normalize_answer(prediction);
    let gold = normalize_answer(gold);
    let predicted: Vec<&str> = prediction.split_whitespace().collect();
    let expected: Vec<&str> = gold.split_whitespace().collect();
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for word in &expected {
        *counts.entry(word).or_default() += 1;
    }
    let mut common = 0;
    for word in &predicted {
        if let Some(count) = counts.get_mut(word).filter(|c| **c > 0) {
            *count -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / predicted.len() as f64;
    let recall = common as f64 / expected.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

impl QaReport {
    /// Scores one predicted answer per example against its gold answers.
    pub fn new(
        split: &str,
        examples: &[QaExample],
        predictions: &[String],
        features: usize,
    ) -> Self {
        let best = |score: &dyn Fn(&str, &str) -> f64, example: &QaExample, prediction: &str| {
            example
                .answers
                .iter()
                .map(|gold| score(prediction, &gold.text))
                .fold(0.0, f64::max)
        };
        let exact =
            |p: &str, g: &str| f64::from(u8::from(normalize_answer(p) == normalize_answer(g)));
        let n = examples.len().max(1) as f64;
        let mean = |score: &dyn Fn(&str, &str) -> f64| {
            examples
                .iter()
                .zip(predictions)
                .map(|(e, p)| best(score, e, p))
                .sum::<f64>()
                / n
        };
        Self {
            task: "question-answering".into(),
            split: split.into(),
            examples: examples.len(),
            features,
            exact_match: mean(&exact),
            f1: mean(&answer_f1),
        }
    }

    /// A readable summary.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} questions ({} windows)   exact match {:.2}%   F1 {:.2}%",
            self.examples,
            self.features,
            100.0 * self.exact_match,
            100.0 * self.f1
        );
        out
    }
}

/// The best span `(score, first, last)` of one window: passage tokens only,
/// `last >= first`, at most `max_answer_len` tokens.
pub fn best_span(
    start: &[f32],
    end: &[f32],
    passage: std::ops::Range<usize>,
    max_answer_len: usize,
) -> Option<(f32, usize, usize)> {
    let mut best: Option<(f32, usize, usize)> = None;
    for first in passage.clone() {
        let limit = passage.end.min(first + max_answer_len);
        for (last, end_score) in end.iter().enumerate().take(limit).skip(first) {
            let score = start[first] + end_score;
            if best.is_none_or(|(b, _, _)| score > b) {
                best = Some((score, first, last));
            }
        }
    }
    best
}

/// The predicted answer text of every example: its best span over all its windows.
pub fn predict_answers(
    model: &BertForQuestionAnswering,
    examples: &[QaExample],
    features: &[QaFeature],
    max_answer_len: usize,
    batches: &Batches,
) -> Result<Vec<String>> {
    let rows = batches.rows(features, |batch: QaBatch| {
        let logits = model.forward(batch.input);
        Tensor::cat(vec![logits.start, logits.end], 1)
    })?;
    let mut best: Vec<Option<(f32, usize, usize, usize)>> = vec![None; examples.len()];
    for (index, (feature, row)) in features.iter().zip(&rows).enumerate() {
        let (start, end) = row.split_at(row.len() / 2);
        let passage = feature.context_start..feature.context_start + feature.char_spans.len();
        if let Some((score, first, last)) = best_span(start, end, passage, max_answer_len) {
            let slot = &mut best[feature.example];
            if slot.is_none_or(|(b, ..)| score > b) {
                *slot = Some((score, index, first, last));
            }
        }
    }
    Ok(examples
        .iter()
        .zip(best)
        .map(|(example, best)| {
            best.and_then(|(_, index, first, last)| features[index].char_span(first, last))
                .map(|(s, e)| example.context.chars().skip(s).take(e - s).collect())
                .unwrap_or_default()
        })
        .collect())
}

/// Windows of a run's arguments.
pub fn windows(args: &TrainArgs) -> QaWindows {
    QaWindows {
        max_question_len: MAX_QUESTION_LEN,
        doc_stride: args.doc_stride,
    }
}

/// Predicts answers, prints the summary and writes `report.json` and `report.txt`.
pub fn evaluate_qa(
    model: &BertForQuestionAnswering,
    examples: &[QaExample],
    features: &[QaFeature],
    max_answer_len: usize,
    batches: &Batches,
    run: &RunDir,
    split: &str,
) -> Result<QaReport> {
    let predictions = predict_answers(model, examples, features, max_answer_len, batches)?;
    let report = QaReport::new(split, examples, &predictions, features.len());
    let table = report.table();
    run.write_report(&report, &table, &format!("{split} set"))?;
    Ok(report)
}

/// Fine-tunes a span extractor, saves it and writes the test report.
pub fn train_answerer(setup: &RunSetup) -> Result<QaReport> {
    let args = &setup.args;
    let splits = args
        .data
        .load_questions(args.task)?
        .truncate(args.max_train_samples, args.max_eval_samples);
    let started = Instant::now();
    let features = |examples| qa_features(&setup.tokenizer, examples, windows(args));
    let (train, validation, test) = (
        features(&splits.train)?,
        features(&splits.validation)?,
        features(&splits.test)?,
    );
    let answerable = train.iter().filter(|f| f.target != (0, 0)).count();
    if answerable == 0 {
        bail!("no training window holds its answer: raise --max-len or --doc-stride");
    }
    println!(
        "data: {} / {} / {} train / validation / test questions -> {} / {} / {} windows ({answerable} train windows hold their answer), built in {:.1}s",
        splits.train.len(),
        splits.validation.len(),
        splits.test.len(),
        train.len(),
        validation.len(),
        test.len(),
        started.elapsed().as_secs_f64(),
    );
    let device = setup.training_device();
    let head = QuestionAnsweringHead::new(&setup.config, &device);
    let (config, model, _) = pretrained::load_for_task(&setup.model_dir, head, &device)?;
    let selection = match args.best_metric() {
        BestMetric::Loss => Selection::by(&LossMetric::new(), Direction::Lowest, args.patience),
        _ => Selection::by(&AccuracyMetric::new(), Direction::Highest, args.patience),
    };
    let trained = setup.fit(
        SpanExtractor { model },
        (train, validation),
        (setup.batcher(), setup.batcher()),
        selection,
        |t| {
            t.metric_train_numeric(AccuracyMetric::new())
                .metric_valid_numeric(AccuracyMetric::new())
        },
    )?;
    let model = trained.model.valid();
    setup.save(&model, &config)?;
    evaluate_qa(
        &model,
        &splits.test,
        &test,
        args.max_answer_len,
        &Batches::new(&setup.batcher(), args.batch_size, &setup.device),
        &setup.run,
        "test",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bert_data::question_answering::Answer;

    #[test]
    fn squad_normalisation_and_f1() {
        assert_eq!(normalize_answer("The  Eiffel Tower!"), "eiffel tower");
        assert_eq!(
            answer_f1("the Eiffel Tower", "Eiffel Tower in Paris"),
            2.0 * 0.5 / 1.5
        );
        assert_eq!(answer_f1("Paris", "London"), 0.0);
        let example = QaExample {
            id: "q".into(),
            question: "where?".into(),
            context: "in Paris".into(),
            answers: vec![
                Answer {
                    text: "London".into(),
                    start: 0,
                },
                Answer {
                    text: "Paris".into(),
                    start: 3,
                },
            ],
        };
        // The best of the gold answers counts.
        let report = QaReport::new("test", &[example], &["paris.".into()], 1);
        assert_eq!((report.exact_match, report.f1), (1.0, 1.0));
    }

    #[test]
    fn best_span_is_valid_and_bounded() {
        let start = [9.0, 0.0, 1.0, 5.0, 0.0];
        let end = [9.0, 4.0, 0.0, 0.0, 3.0];
        // [CLS] (position 0) is outside the passage 1..5.
        assert_eq!(best_span(&start, &end, 1..5, 30), Some((8.0, 3, 4)));
        // Spans of one token only: the end cannot come before the start.
        assert_eq!(best_span(&start, &end, 1..5, 1), Some((5.0, 3, 3)));
    }
}
