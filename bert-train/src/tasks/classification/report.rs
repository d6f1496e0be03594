//! The classification report: accuracy, macro-F1, per-class precision,
//! recall and F1, the confusion matrix and its plot.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use anyhow::Result;
use tracing::info;

use super::plot::confusion_matrix_png;
use crate::run::RunDir;
use crate::scores::{ClassScores, mean, ratio, scores_table};
use crate::task::TaskReport;

/// `report.json` of a classification run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Share of correct predictions.
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1.
    pub macro_f1: f64,
    /// Scores by label name.
    pub per_class: BTreeMap<String, ClassScores>,
    /// `confusion_matrix[true][predicted]`, in `labels` order.
    pub confusion_matrix: Vec<Vec<usize>>,
    /// Label names in class-id order.
    pub labels: Vec<String>,
}

impl ClassificationReport {
    /// Scores `predicted` class ids against `truth`.
    pub fn new(labels: &[String], truth: &[usize], predicted: &[usize]) -> Self {
        let n = labels.len();
        let mut confusion_matrix = vec![vec![0usize; n]; n];
        for (&t, &p) in truth.iter().zip(predicted) {
            confusion_matrix[t][p] += 1;
        }
        let correct: usize = (0..n).map(|c| confusion_matrix[c][c]).sum();
        let per_class: BTreeMap<String, ClassScores> = labels
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let support: usize = confusion_matrix[c].iter().sum();
                let predicted_as: usize = confusion_matrix.iter().map(|row| row[c]).sum();
                (
                    name.clone(),
                    ClassScores::from_counts(confusion_matrix[c][c], predicted_as, support),
                )
            })
            .collect();
        let macro_f1 = mean(per_class.values().map(|s| s.f1));
        Self {
            accuracy: ratio(correct, truth.len()),
            macro_f1,
            per_class,
            confusion_matrix,
            labels: labels.to_vec(),
        }
    }
}

impl TaskReport for ClassificationReport {
    fn table(&self) -> String {
        let width = self
            .labels
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(5)
            .max(9);
        let mut out = format!(
            "accuracy {:.4}   macro-F1 {:.4}\n\n",
            self.accuracy, self.macro_f1
        );
        out.push_str(&scores_table(
            "class",
            self.labels
                .iter()
                .map(|label| (label.as_str(), &self.per_class[label])),
        ));
        let _ = writeln!(out, "\nconfusion matrix (rows: true, columns: predicted)");
        let cell = self
            .confusion_matrix
            .iter()
            .flatten()
            .map(|v| v.to_string().len())
            .max()
            .unwrap_or(1)
            .max(self.labels.iter().map(String::len).max().unwrap_or(1));
        let _ = write!(out, "{:width$}", "");
        for label in &self.labels {
            let _ = write!(out, "  {label:>cell$}");
        }
        let _ = writeln!(out);
        for (label, row) in self.labels.iter().zip(&self.confusion_matrix) {
            let _ = write!(out, "{label:width$}");
            for value in row {
                let _ = write!(out, "  {value:>cell$}");
            }
            let _ = writeln!(out);
        }
        out
    }

    fn write_files(&self, run: &RunDir) -> Result<()> {
        run.write_png("confusion_matrix.png", |path| {
            confusion_matrix_png(&self.labels, &self.confusion_matrix, path).map(|()| true)
        })?;
        info!("wrote confusion_matrix.png in {}", run.root().display());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_a_hand_computed_example() {
        let labels = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        // true:      a a a b b c
        // predicted: a a b b c c
        let report = ClassificationReport::new(&labels, &[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2]);
        assert!((report.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(
            report.confusion_matrix,
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
        let a = &report.per_class["a"];
        assert_eq!((a.precision, a.recall, a.support), (1.0, 2.0 / 3.0, 3));
        let b = &report.per_class["b"];
        assert_eq!((b.precision, b.recall), (0.5, 0.5));
        let c = &report.per_class["c"];
        assert_eq!((c.precision, c.recall, c.f1), (0.5, 1.0, 2.0 / 3.0));
        let macro_f1 = (0.8 + 0.5 + 2.0 / 3.0) / 3.0;
        assert!((report.macro_f1 - macro_f1).abs() < 1e-12);
        assert!(report.table().contains("accuracy 0.6667"));
    }

    #[test]
    fn json_has_the_documented_keys() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        let json =
            serde_json::to_value(ClassificationReport::new(&labels, &[0, 1], &[0, 0])).unwrap();
        for key in [
            "accuracy",
            "macro_f1",
            "per_class",
            "confusion_matrix",
            "labels",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
    }
}
