//! The token classification report: entity-level precision, recall and F1
//! (seqeval rules), per entity type, and token accuracy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::entities::score_entities;
use crate::scores::{ClassScores, ratio, scores_table};
use crate::task::TaskReport;

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
    pub per_type: BTreeMap<String, ClassScores>,
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
            token_accuracy: ratio(correct, words),
            per_type,
        }
    }
}

impl TaskReport for TokenReport {
    fn table(&self) -> String {
        let mut out = format!(
            "entities: precision {:.4}   recall {:.4}   F1 {:.4}   token accuracy {:.4} ({} words)\n\n",
            self.precision, self.recall, self.f1, self.token_accuracy, self.words
        );
        out.push_str(&scores_table(
            "type",
            self.per_type.iter().map(|(kind, s)| (kind.as_str(), s)),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_entities_and_words() {
        let sentences = vec![(
            ["B-person", "I-person", "O", "B-geo-loc"]
                .map(String::from)
                .to_vec(),
            ["B-person", "I-person", "O", "O"]
                .map(String::from)
                .to_vec(),
        )];
        let report = TokenReport::new("test", &sentences);
        assert_eq!((report.precision, report.recall), (1.0, 0.5));
        assert!((report.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((report.words, report.token_accuracy), (4, 0.75));
        assert_eq!(report.per_type["geo-loc"].support, 1);
        assert!(report.table().contains("F1 0.6667"));
    }
}
