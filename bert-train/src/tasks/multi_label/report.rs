//! The multi-label report: micro- and macro-F1, per-label precision, recall
//! and F1, subset accuracy and Hamming loss.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::scores::{ClassScores, mean, ratio, scores_table};
use crate::task::TaskReport;

/// `report.json` of a multi-label run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MultiLabelReport {
    /// Always `multi-label`.
    pub task: String,
    /// The data scored.
    pub split: String,
    /// Number of examples.
    pub examples: usize,
    /// A label is predicted when its probability is above this.
    pub threshold: f64,
    /// F1 over all (example, label) decisions pooled.
    pub micro_f1: f64,
    /// Precision over all decisions pooled.
    pub micro_precision: f64,
    /// Recall over all decisions pooled.
    pub micro_recall: f64,
    /// Unweighted mean of the per-label F1.
    pub macro_f1: f64,
    /// Share of examples whose predicted label set is exactly the true one.
    pub subset_accuracy: f64,
    /// Share of (example, label) decisions that are wrong.
    pub hamming_loss: f64,
    /// Scores by label name.
    pub per_label: BTreeMap<String, ClassScores>,
    /// Label names in class-id order.
    pub labels: Vec<String>,
}

impl MultiLabelReport {
    /// Scores predicted label sets against true ones, both as one
    /// `bool` per label for every example.
    pub fn new(
        split: &str,
        labels: &[String],
        threshold: f64,
        truth: &[Vec<bool>],
        predicted: &[Vec<bool>],
    ) -> Self {
        let mut counts = vec![[0usize; 3]; labels.len()]; // correct, predicted, support
        let (mut exact, mut wrong) = (0, 0);
        for (truth, predicted) in truth.iter().zip(predicted) {
            exact += usize::from(truth == predicted);
            for (label, (&t, &p)) in truth.iter().zip(predicted).enumerate() {
                counts[label][0] += usize::from(t && p);
                counts[label][1] += usize::from(p);
                counts[label][2] += usize::from(t);
                wrong += usize::from(t != p);
            }
        }
        let per_label: BTreeMap<String, ClassScores> = labels
            .iter()
            .zip(&counts)
            .map(|(name, &[c, p, s])| (name.clone(), ClassScores::from_counts(c, p, s)))
            .collect();
        let pooled = counts.iter().fold([0; 3], |acc, c| {
            [acc[0] + c[0], acc[1] + c[1], acc[2] + c[2]]
        });
        let micro = ClassScores::from_counts(pooled[0], pooled[1], pooled[2]);
        Self {
            task: "multi-label".into(),
            split: split.into(),
            examples: truth.len(),
            threshold,
            micro_f1: micro.f1,
            micro_precision: micro.precision,
            micro_recall: micro.recall,
            macro_f1: mean(per_label.values().map(|s| s.f1)),
            subset_accuracy: ratio(exact, truth.len()),
            hamming_loss: ratio(wrong, truth.len() * labels.len()),
            per_label,
            labels: labels.to_vec(),
        }
    }
}

impl TaskReport for MultiLabelReport {
    fn table(&self) -> String {
        let mut out = format!(
            "micro-F1 {:.4} (precision {:.4}, recall {:.4})   macro-F1 {:.4}   subset accuracy {:.4}   Hamming loss {:.4}   (threshold {})\n\n",
            self.micro_f1,
            self.micro_precision,
            self.micro_recall,
            self.macro_f1,
            self.subset_accuracy,
            self.hamming_loss,
            self.threshold
        );
        out.push_str(&scores_table(
            "label",
            self.labels
                .iter()
                .map(|label| (label.as_str(), &self.per_label[label])),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_scikit_learn_on_a_hand_checked_example() {
        let labels = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        // y_true = [[1,0,1],[0,1,0],[1,1,0]], y_pred = [[1,0,0],[0,1,0],[1,0,1]]
        let truth = vec![
            vec![true, false, true],
            vec![false, true, false],
            vec![true, true, false],
        ];
        let predicted = vec![
            vec![true, false, false],
            vec![false, true, false],
            vec![true, false, true],
        ];
        let report = MultiLabelReport::new("test", &labels, 0.5, &truth, &predicted);
        // f1_score(average="micro") = 2*3 / (4 + 5) = 0.6667
        assert!((report.micro_f1 - 6.0 / 9.0).abs() < 1e-12);
        // per label F1: a 1.0, b 0.6667, c 0.0 -> macro 0.5556
        assert!((report.macro_f1 - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        // accuracy_score = 1/3, hamming_loss = 3/9
        assert!((report.subset_accuracy - 1.0 / 3.0).abs() < 1e-12);
        assert!((report.hamming_loss - 3.0 / 9.0).abs() < 1e-12);
        assert_eq!(report.per_label["b"].support, 2);
        assert!(report.table().contains("micro-F1 0.6667"));
    }
}
