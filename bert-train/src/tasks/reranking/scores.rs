//! Reranking scores, as sentence-transformers' `CrossEncoderRerankingEvaluator`
//! computes them: each query's candidates ranked by the model's score;
//! MRR@10, NDCG@10 (binary relevance) and MAP, averaged over the queries.

use std::collections::BTreeMap;

use burn::tensor::{Tensor, TensorReadError};
use burn::train::metric::Adaptor;
use serde::{Deserialize, Serialize};

use crate::scores::mean;
use crate::training::BestMetric;
use crate::training::split_metric::{SplitMetric, SplitScore};
use crate::training::step::Timed;

/// A label at or above this makes a candidate relevant (labels are 0-1).
pub const RELEVANT: f32 = 0.5;

/// The scores of reranking every query's candidates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RerankScores {
    /// Queries ranked.
    pub queries: usize,
    /// Candidates ranked, over all queries.
    pub candidates: usize,
    /// Mean reciprocal rank of the first relevant candidate in the top 10.
    #[serde(rename = "mrr@10")]
    pub mrr_at_10: f64,
    /// Normalised discounted cumulative gain of the top 10.
    #[serde(rename = "ndcg@10")]
    pub ndcg_at_10: f64,
    /// Mean average precision over all candidates.
    pub map: f64,
}

/// Scores the rankings of `queries`: per query, its candidates' labels and
/// the model's scores.
pub fn rerank_scores(queries: &[(Vec<f32>, Vec<f32>)]) -> RerankScores {
    let per_query: Vec<[f64; 3]> = queries
        .iter()
        .map(|(labels, scores)| query_scores(labels, scores))
        .collect();
    let column = |i: usize| mean(per_query.iter().map(|scores| scores[i]));
    RerankScores {
        queries: queries.len(),
        candidates: queries.iter().map(|(labels, _)| labels.len()).sum(),
        mrr_at_10: column(0),
        ndcg_at_10: column(1),
        map: column(2),
    }
}

/// MRR@10, NDCG@10 and AP of one query (0 each without a relevant candidate).
fn query_scores(labels: &[f32], scores: &[f32]) -> [f64; 3] {
    let relevant = labels.iter().filter(|&&l| l >= RELEVANT).count();
    if relevant == 0 {
        return [0.0; 3];
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let hits: Vec<bool> = order.iter().map(|&i| labels[i] >= RELEVANT).collect();
    let reciprocal_rank = hits
        .iter()
        .take(10)
        .position(|&hit| hit)
        .map_or(0.0, |rank| 1.0 / (rank + 1) as f64);
    let gain = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let dcg: f64 = hits
        .iter()
        .take(10)
        .enumerate()
        .filter(|(_, h)| **h)
        .map(|(r, _)| gain(r))
        .sum();
    let ideal: f64 = (0..relevant.min(10)).map(gain).sum();
    let mut found = 0;
    let mut precisions = 0.0;
    for (rank, _) in hits.iter().enumerate().filter(|(_, h)| **h) {
        found += 1;
        precisions += found as f64 / (rank + 1) as f64;
    }
    [reciprocal_rank, dcg / ideal, precisions / relevant as f64]
}

/// A batch's logits, labels and queries.
pub struct RerankInput {
    /// `[B, 1]` logits.
    pub logits: Tensor<2>,
    /// `[B, 1]` labels.
    pub labels: Tensor<2>,
    /// The query of each row.
    pub query_ids: Vec<u64>,
}

impl<O: Adaptor<RerankInput>> Adaptor<RerankInput> for Timed<O> {
    fn adapt(&self) -> RerankInput {
        self.output.adapt()
    }
}

/// One of [`RerankScores`], as a validation metric over the whole split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RerankMeasure {
    /// NDCG@10.
    Ndcg10,
    /// MRR@10.
    Mrr10,
    /// MAP.
    Map,
}

impl RerankMeasure {
    /// Every measure, with the `--best-metric` that selects by it.
    pub const ALL: [(Self, BestMetric); 3] = [
        (Self::Ndcg10, BestMetric::Ndcg10),
        (Self::Mrr10, BestMetric::Mrr10),
        (Self::Map, BestMetric::Map),
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Ndcg10 => "NDCG@10",
            Self::Mrr10 => "MRR@10",
            Self::Map => "MAP",
        }
    }

    fn of(self, scores: &RerankScores) -> f64 {
        match self {
            Self::Ndcg10 => scores.ndcg_at_10,
            Self::Mrr10 => scores.mrr_at_10,
            Self::Map => scores.map,
        }
    }

    /// The validation metric of this measure.
    pub fn metric(self) -> SplitMetric<Self> {
        SplitMetric::new(self.name(), self)
    }
}

impl SplitScore for RerankMeasure {
    type Input = RerankInput;
    /// Each query's (labels, scores), in the order met.
    type Rows = BTreeMap<u64, (Vec<f32>, Vec<f32>)>;

    fn accumulate(
        &self,
        rows: &mut Self::Rows,
        input: &RerankInput,
    ) -> Result<(), TensorReadError> {
        let logits = input.logits.try_to_vec_as::<f32>()?;
        let labels = input.labels.try_to_vec_as::<f32>()?;
        for ((query, logit), label) in input.query_ids.iter().zip(logits).zip(labels) {
            let (labels, scores) = rows.entry(*query).or_default();
            labels.push(label);
            scores.push(logit);
        }
        Ok(())
    }

    fn score(&self, rows: &Self::Rows) -> f64 {
        let queries: Vec<(Vec<f32>, Vec<f32>)> = rows.values().cloned().collect();
        self.of(&rerank_scores(&queries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_scored_by_hand() {
        // Ranked: n(0.9), p(0.8), n(0.5), p(0.1): relevant at ranks 2 and 4.
        let labels = [0.0, 1.0, 0.0, 1.0];
        let scores = [0.9, 0.8, 0.5, 0.1];
        let [mrr, ndcg, ap] = query_scores(&labels, &scores);
        assert_eq!(mrr, 0.5);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        assert!((ndcg - dcg / (1.0 + 1.0 / 3f64.log2())).abs() < 1e-12);
        assert!((ap - (0.5 + 0.5) / 2.0).abs() < 1e-12);
        assert_eq!(
            query_scores(&[0.0, 0.25], &[0.1, 0.2]),
            [0.0; 3],
            "no relevant candidate"
        );
        let all = rerank_scores(&[(labels.to_vec(), scores.to_vec()), (vec![1.0], vec![0.3])]);
        assert_eq!((all.queries, all.candidates), (2, 5));
        assert!((all.mrr_at_10 - 0.75).abs() < 1e-12);
    }
}
