//! The regression report: Pearson and Spearman correlations and the mean
//! squared error.

use serde::{Deserialize, Serialize};

use crate::scores::{mean, pearson, spearman};
use crate::task::TaskReport;

/// `report.json` of a regression run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegressionReport {
    /// Always `regression`.
    pub task: String,
    /// The data scored.
    pub split: String,
    /// Number of examples.
    pub examples: usize,
    /// Pearson correlation of predictions and targets.
    pub pearson: f64,
    /// Spearman rank correlation (ties get their average rank).
    pub spearman: f64,
    /// Mean squared error.
    pub mse: f64,
}

impl RegressionReport {
    /// Scores `predicted` against `truth`.
    pub fn new(split: &str, truth: &[f64], predicted: &[f64]) -> Self {
        Self {
            task: "regression".into(),
            split: split.into(),
            examples: truth.len(),
            pearson: pearson(truth, predicted),
            spearman: spearman(truth, predicted),
            mse: mean(truth.iter().zip(predicted).map(|(t, p)| (t - p).powi(2))),
        }
    }
}

impl TaskReport for RegressionReport {
    fn table(&self) -> String {
        format!(
            "{} examples   Pearson {:.4}   Spearman {:.4}   MSE {:.4}\n",
            self.examples, self.pearson, self.spearman, self.mse
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlations_match_hand_computed_values() {
        // Perfect rank agreement, imperfect linear fit.
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 4.0, 9.0, 16.0];
        assert!((pearson(&x, &y) - 0.984_374_038_697_974_4).abs() < 1e-12);
        let report = RegressionReport::new("test", &x, &y);
        assert_eq!(report.spearman, 1.0);
        assert_eq!(report.mse, (0.0 + 4.0 + 36.0 + 144.0) / 4.0);
        assert_eq!(pearson(&x, &[2.0; 4]), 0.0);
    }
}
