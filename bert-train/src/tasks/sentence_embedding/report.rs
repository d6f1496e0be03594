//! The sentence-embedding report, as sentence-transformers' evaluators
//! score a model: the cosine of each scored pair against its score
//! (`EmbeddingSimilarityEvaluator`), the retrieval of each anchor's
//! positive among the split's texts and of BEIR-style files' relevant
//! documents (`InformationRetrievalEvaluator`).

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::retrieval::RetrievalScores;
use crate::task::TaskReport;

/// Pearson and Spearman correlations of cosines and scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimilarityScores {
    /// Pearson's correlation.
    pub pearson: f64,
    /// Spearman's correlation.
    pub spearman: f64,
}

/// `report.json` of a sentence-embedding run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingReport {
    /// Always `sentence-embedding`.
    pub task: String,
    /// The data scored.
    pub split: String,
    /// Rows scored.
    pub examples: usize,
    /// For scored pairs: the cosines against the scores.
    pub similarity: Option<SimilarityScores>,
    /// For (anchor, positive[, negatives]) rows: each distinct anchor a
    /// query over every distinct other text of the split.
    pub retrieval: Option<RetrievalScores>,
    /// On the `--ir-queries`, `--ir-corpus` and `--ir-qrels` files.
    pub ir_files: Option<RetrievalScores>,
}

impl EmbeddingReport {
    /// An empty report on `split`, of `examples` rows.
    pub fn new(split: &str, examples: usize) -> Self {
        Self {
            task: "sentence-embedding".into(),
            split: split.into(),
            examples,
            similarity: None,
            retrieval: None,
            ir_files: None,
        }
    }
}

fn retrieval_line(heading: &str, scores: &RetrievalScores) -> String {
    format!(
        "{heading}: {} queries, {} documents   MRR@10 {:.4}   NDCG@10 {:.4}   Recall@1 {:.4}   Recall@10 {:.4}   MAP@100 {:.4}\n",
        scores.queries,
        scores.corpus,
        scores.mrr_at_10,
        scores.ndcg_at_10,
        scores.recall_at_1,
        scores.recall_at_10,
        scores.map_at_100
    )
}

impl TaskReport for EmbeddingReport {
    fn table(&self) -> String {
        let mut table = String::new();
        if let Some(similarity) = &self.similarity {
            let _ = writeln!(
                table,
                "{} pairs   cosine vs score: Pearson {:.4}   Spearman {:.4}",
                self.examples, similarity.pearson, similarity.spearman
            );
        }
        if let Some(retrieval) = &self.retrieval {
            table.push_str(&retrieval_line("retrieval in the split", retrieval));
        }
        if let Some(files) = &self.ir_files {
            table.push_str(&retrieval_line("retrieval on the IR files", files));
        }
        table
    }
}
