//! Precision, recall and F1 from counts: what every task's report shares.

use serde::{Deserialize, Serialize};

/// `numerator / denominator`, 0 when the denominator is 0.
pub fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// The mean of `values`, 0 when there are none (never NaN or negative zero).
pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0usize), |(sum, count), value| {
            (sum + value, count + 1)
        });
    if count == 0 { 0.0 } else { sum / count as f64 }
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

/// Spearman's rank correlation: Pearson's of the ranks (ties share their
/// average rank, as scipy's `spearmanr`).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Scores of one class (label, tag or entity type).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Of the predictions of this class, the share that are right.
    pub precision: f64,
    /// Of the true instances of this class, the share predicted.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// True instances of this class.
    pub support: usize,
}

impl ClassScores {
    /// Scores from `correct` right predictions out of `predicted`, with `support` true instances.
    pub fn from_counts(correct: usize, predicted: usize, support: usize) -> Self {
        let precision = ratio(correct, predicted);
        let recall = ratio(correct, support);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            precision,
            recall,
            f1,
            support,
        }
    }
}

/// A `name  precision  recall  f1  support` table, one row per class, names padded to `width`.
pub fn scores_table<'a>(
    heading: &str,
    rows: impl IntoIterator<Item = (&'a str, &'a ClassScores)>,
) -> String {
    let rows: Vec<(&str, &ClassScores)> = rows.into_iter().collect();
    let width = rows
        .iter()
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0)
        .max(heading.len())
        .max(9);
    let mut out = format!("{heading:width$}  precision  recall      f1  support\n");
    for (name, s) in rows {
        out.push_str(&format!(
            "{name:width$}  {:9.4}  {:6.4}  {:6.4}  {:7}\n",
            s.precision, s.recall, s.f1, s.support
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tied_values_share_their_average_rank() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 5.0]), [2.5, 4.0, 2.5, 1.0]);
    }

    #[test]
    fn scores_from_counts() {
        let scores = ClassScores::from_counts(2, 4, 3);
        assert_eq!((scores.precision, scores.recall), (0.5, 2.0 / 3.0));
        assert!((scores.f1 - 4.0 / 7.0).abs() < 1e-12);
        assert_eq!(ClassScores::from_counts(0, 0, 5).f1, 0.0);
        let table = scores_table("class", [("spam", &scores)]);
        assert!(
            table.contains("spam          0.5000  0.6667  0.5714        3"),
            "{table}"
        );
    }
}
