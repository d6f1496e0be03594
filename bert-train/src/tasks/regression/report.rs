//! The regression report: Pearson and Spearman correlations and the mean
//! squared error.

use serde::{Deserialize, Serialize};

use crate::scores::mean;
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
            spearman: pearson(&ranks(truth), &ranks(predicted)),
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

/// Pearson correlation; 0 when either side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n == 0 {
        return 0.0;
    }
    let mean = |v: &[f64]| v[..n].iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x[..n].iter().zip(&y[..n]) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// 1-based ranks, ties sharing their average rank.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end + 1) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = average;
        }
        start = end;
    }
    ranks
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

    #[test]
    fn tied_values_share_their_average_rank() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 5.0]), [2.5, 4.0, 2.5, 1.0]);
    }
}
