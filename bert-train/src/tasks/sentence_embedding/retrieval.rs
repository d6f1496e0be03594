//! Ranking a corpus for each query by cosine similarity and scoring the
//! ranking as sentence-transformers' `InformationRetrievalEvaluator` does:
//! MRR@10, NDCG@10 (binary relevance), recall@1 and @10, MAP@100; ties in
//! score ranked by document id.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::scores::mean;

/// The scores of ranking a corpus for each query (those with a relevant
/// document; the others are left out, as sentence-transformers does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetrievalScores {
    /// Queries ranked for.
    pub queries: usize,
    /// Documents ranked.
    pub corpus: usize,
    /// Mean reciprocal rank of the first relevant document in the top 10.
    #[serde(rename = "mrr@10")]
    pub mrr_at_10: f64,
    /// Normalised discounted cumulative gain of the top 10.
    #[serde(rename = "ndcg@10")]
    pub ndcg_at_10: f64,
    /// Share of a query's relevant documents ranked first.
    #[serde(rename = "recall@1")]
    pub recall_at_1: f64,
    /// Share of a query's relevant documents in the top 10.
    #[serde(rename = "recall@10")]
    pub recall_at_10: f64,
    /// Mean average precision of the top 100.
    #[serde(rename = "map@100")]
    pub map_at_100: f64,
}

/// Queries and documents embedded, with their ids and which documents are
/// relevant to which query.
pub struct Embedded<'a> {
    /// Query ids and `[H]` embeddings.
    pub queries: (&'a [String], &'a [Vec<f32>]),
    /// Document ids and embeddings.
    pub corpus: (&'a [String], &'a [Vec<f32>]),
    /// Query id to its relevant document ids.
    pub relevant: &'a BTreeMap<String, BTreeSet<String>>,
}

/// The deepest cut-off the scores read.
const MAX_K: usize = 100;

/// Scores the ranking of the corpus for every query with relevant documents.
pub fn retrieval_scores(data: &Embedded) -> RetrievalScores {
    let (query_ids, queries) = data.queries;
    let (corpus_ids, corpus) = data.corpus;
    let corpus: Vec<Vec<f32>> = corpus.iter().map(|v| unit(v)).collect();
    let mut per_query: Vec<[f64; 5]> = Vec::new();
    for (id, query) in query_ids.iter().zip(queries) {
        let Some(relevant) = data.relevant.get(id).filter(|r| !r.is_empty()) else {
            continue;
        };
        let query = unit(query);
        let mut ranked: Vec<(f32, usize)> = corpus
            .iter()
            .enumerate()
            .map(|(index, document)| (dot(&query, document), index))
            .collect();
        let by_rank = |a: &(f32, usize), b: &(f32, usize)| {
            b.0.total_cmp(&a.0)
                .then_with(|| corpus_ids[a.1].cmp(&corpus_ids[b.1]))
        };
        if ranked.len() > MAX_K {
            ranked.select_nth_unstable_by(MAX_K - 1, by_rank);
            ranked.truncate(MAX_K);
        }
        ranked.sort_by(by_rank);
        let hits: Vec<bool> = ranked
            .iter()
            .map(|&(_, index)| relevant.contains(&corpus_ids[index]))
            .collect();
        per_query.push(query_scores(&hits, relevant.len()));
    }
    let column = |i: usize| mean(per_query.iter().map(|scores| scores[i]));
    RetrievalScores {
        queries: per_query.len(),
        corpus: corpus_ids.len(),
        mrr_at_10: column(0),
        ndcg_at_10: column(1),
        recall_at_1: column(2),
        recall_at_10: column(3),
        map_at_100: column(4),
    }
}

/// MRR@10, NDCG@10, recall@1, recall@10 and MAP@100 of one query whose
/// ranked documents are `hits` (relevant or not), with `relevant` relevant
/// documents in all.
fn query_scores(hits: &[bool], relevant: usize) -> [f64; 5] {
    let top = |k: usize| &hits[..k.min(hits.len())];
    let reciprocal_rank = top(10)
        .iter()
        .position(|&hit| hit)
        .map_or(0.0, |rank| 1.0 / (rank + 1) as f64);
    let dcg = |relevances: &mut dyn Iterator<Item = bool>| -> f64 {
        relevances
            .take(10)
            .enumerate()
            .map(|(i, hit)| f64::from(u8::from(hit)) / ((i + 2) as f64).log2())
            .sum()
    };
    let ndcg = dcg(&mut top(10).iter().copied()) / dcg(&mut std::iter::repeat_n(true, relevant));
    let recall = |k: usize| top(k).iter().filter(|&&hit| hit).count() as f64 / relevant as f64;
    let mut correct = 0;
    let mut precisions = 0.0;
    for (rank, _) in top(MAX_K).iter().enumerate().filter(|(_, hit)| **hit) {
        correct += 1;
        precisions += correct as f64 / (rank + 1) as f64;
    }
    let average_precision = precisions / relevant.min(MAX_K) as f64;
    [
        reciprocal_rank,
        ndcg,
        recall(1),
        recall(10),
        average_precision,
    ]
}

/// `v` scaled to unit length (zero stays zero).
fn unit(v: &[f32]) -> Vec<f32> {
    let norm = dot(v, v).sqrt().max(1e-12);
    v.iter().map(|x| x / norm).collect()
}

/// Dot product, eight lanes at a time (vectorised by the compiler).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_scored_by_hand() {
        // Relevant documents ranked 2nd and 4th of 12, three relevant in all.
        let mut hits = vec![false; 12];
        hits[1] = true;
        hits[3] = true;
        let [mrr, ndcg, r1, r10, map] = query_scores(&hits, 3);
        assert_eq!(mrr, 0.5);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let ideal = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((ndcg - dcg / ideal).abs() < 1e-12);
        assert_eq!((r1, r10), (0.0, 2.0 / 3.0));
        assert!((map - (0.5 + 0.5) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ties_rank_by_document_id_and_queries_without_relevant_documents_are_left_out() {
        let ids = |names: &[&str]| -> Vec<String> { names.iter().map(|s| s.to_string()).collect() };
        let (query_ids, corpus_ids) = (ids(&["q1", "q2"]), ids(&["b", "a", "c"]));
        let queries = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        // "b" and "a" tie for q1; "a" ranks first by id.
        let corpus = vec![vec![2.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0]];
        let relevant: BTreeMap<String, BTreeSet<String>> =
            [("q1".to_string(), ["b".to_string()].into())].into();
        let scores = retrieval_scores(&Embedded {
            queries: (&query_ids, &queries),
            corpus: (&corpus_ids, &corpus),
            relevant: &relevant,
        });
        assert_eq!((scores.queries, scores.corpus), (1, 3));
        assert_eq!((scores.mrr_at_10, scores.recall_at_1), (0.5, 0.0));
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
    }
}
