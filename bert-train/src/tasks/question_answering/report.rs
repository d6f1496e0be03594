//! The question-answering report: exact match and F1 as SQuAD's script
//! defines them.

use std::collections::HashMap;

use bert_data::question_answering::QaExample;
use serde::{Deserialize, Serialize};

use crate::scores::mean;
use crate::task::TaskReport;

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
        let mean_of = |score: &dyn Fn(&str, &str) -> f64| {
            mean(
                examples
                    .iter()
                    .zip(predictions)
                    .map(|(e, p)| best(score, e, p)),
            )
        };
        Self {
            task: "question-answering".into(),
            split: split.into(),
            examples: examples.len(),
            features,
            exact_match: mean_of(&exact),
            f1: mean_of(&answer_f1),
        }
    }
}

impl TaskReport for QaReport {
    fn table(&self) -> String {
        format!(
            "{} questions ({} windows)   exact match {:.2}%   F1 {:.2}%\n",
            self.examples,
            self.features,
            100.0 * self.exact_match,
            100.0 * self.f1
        )
    }
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
}
