//! The validation metrics of sentence embeddings, over the whole split as
//! sentence-transformers' evaluators compute them: Spearman's correlation
//! of the cosines against the scores, or the retrieval of each anchor's
//! positive among every other text of the split.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use burn::tensor::{Tensor, TensorReadError};
use burn::train::metric::Adaptor;

use super::retrieval::{Embedded, RetrievalScores, retrieval_scores};
use crate::training::BestMetric;
use crate::training::split_metric::{Correlation, SplitMetric, SplitScore};
use crate::training::step::Timed;

/// The name of the cosine-against-score correlation.
pub const SPEARMAN: &str = "Spearman";

/// Spearman's correlation of the pairs' cosines and their scores.
pub fn spearman_metric() -> SplitMetric<Correlation> {
    SplitMetric::new(SPEARMAN, Correlation::Spearman)
}

/// A batch's embeddings per column (anchors, positives, negatives) and the
/// ids of its texts.
pub struct RetrievalInput {
    /// `[B, H]` per column.
    pub embeddings: Vec<Tensor<2>>,
    /// Per column, the id of each row's text.
    pub text_ids: Vec<Vec<u64>>,
}

impl<O: Adaptor<RetrievalInput>> Adaptor<RetrievalInput> for Timed<O> {
    fn adapt(&self) -> RetrievalInput {
        self.output.adapt()
    }
}

/// One retrieval score of [`RetrievalScores`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetrievalMeasure {
    /// NDCG@10.
    Ndcg10,
    /// MRR@10.
    Mrr10,
    /// MAP@100.
    Map100,
    /// Recall@1.
    Recall1,
    /// Recall@10.
    Recall10,
}

impl RetrievalMeasure {
    /// Every measure, with the `--best-metric` that selects by it.
    pub const ALL: [(Self, BestMetric); 5] = [
        (Self::Ndcg10, BestMetric::Ndcg10),
        (Self::Mrr10, BestMetric::Mrr10),
        (Self::Map100, BestMetric::Map100),
        (Self::Recall1, BestMetric::Recall1),
        (Self::Recall10, BestMetric::Recall10),
    ];

    /// The name it is shown and logged under.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ndcg10 => "NDCG@10",
            Self::Mrr10 => "MRR@10",
            Self::Map100 => "MAP@100",
            Self::Recall1 => "Recall@1",
            Self::Recall10 => "Recall@10",
        }
    }

    /// Its value in `scores`.
    pub fn of(self, scores: &RetrievalScores) -> f64 {
        match self {
            Self::Ndcg10 => scores.ndcg_at_10,
            Self::Mrr10 => scores.mrr_at_10,
            Self::Map100 => scores.map_at_100,
            Self::Recall1 => scores.recall_at_1,
            Self::Recall10 => scores.recall_at_10,
        }
    }

    /// The validation metric of this measure.
    pub fn metric(self) -> SplitMetric<Self> {
        SplitMetric::new(self.name(), self)
    }
}

/// The distinct queries (anchors) and documents (the other texts) of the
/// batches so far, their embeddings, and each query's positives.
#[derive(Clone, Debug, Default)]
pub struct RetrievalRows {
    queries: Embeddings,
    documents: Embeddings,
    relevant: BTreeMap<u64, BTreeSet<u64>>,
    /// The queries and documents of the last batch.
    last_batch: (Vec<u64>, Vec<u64>),
}

/// Embeddings by text id, each text once, in the order first seen.
#[derive(Clone, Debug, Default)]
struct Embeddings {
    ids: Vec<u64>,
    vectors: Vec<Vec<f32>>,
    index: HashMap<u64, usize>,
}

impl Embeddings {
    fn add(&mut self, id: u64, vector: &[f32]) {
        if !self.index.contains_key(&id) {
            self.index.insert(id, self.ids.len());
            self.ids.push(id);
            self.vectors.push(vector.to_vec());
        }
    }

    /// The ids (as the ranking's tie-breaking strings) and vectors of
    /// `subset` (all when `None`).
    fn select(&self, subset: Option<&[u64]>) -> (Vec<String>, Vec<Vec<f32>>) {
        let chosen: Vec<usize> = match subset {
            Some(ids) => {
                let mut indices: Vec<usize> = ids.iter().map(|id| self.index[id]).collect();
                indices.sort_unstable();
                indices.dedup();
                indices
            }
            None => (0..self.ids.len()).collect(),
        };
        chosen
            .into_iter()
            .map(|i| (id_name(self.ids[i]), self.vectors[i].clone()))
            .unzip()
    }
}

fn id_name(id: u64) -> String {
    format!("{id:016x}")
}

impl RetrievalMeasure {
    /// The scores of the rows' queries against their documents, or of the
    /// last batch's alone.
    fn scores(rows: &RetrievalRows, last_batch: bool) -> RetrievalScores {
        let (queries, documents) = match last_batch {
            true => (Some(&rows.last_batch.0[..]), Some(&rows.last_batch.1[..])),
            false => (None, None),
        };
        let (query_ids, query_vectors) = rows.queries.select(queries);
        let (document_ids, document_vectors) = rows.documents.select(documents);
        let relevant: BTreeMap<String, BTreeSet<String>> = rows
            .relevant
            .iter()
            .map(|(query, positives)| {
                (
                    id_name(*query),
                    positives.iter().map(|d| id_name(*d)).collect(),
                )
            })
            .collect();
        retrieval_scores(&Embedded {
            queries: (&query_ids, &query_vectors),
            corpus: (&document_ids, &document_vectors),
            relevant: &relevant,
        })
    }
}

impl SplitScore for RetrievalMeasure {
    type Input = RetrievalInput;
    type Rows = RetrievalRows;

    fn accumulate(
        &self,
        rows: &mut RetrievalRows,
        input: &RetrievalInput,
    ) -> Result<(), TensorReadError> {
        let mut columns = Vec::with_capacity(input.embeddings.len());
        for embedding in &input.embeddings {
            let [_, width] = embedding.dims();
            let values = embedding.try_to_vec_as::<f32>()?;
            columns.push((values, width.max(1)));
        }
        let (mut batch_queries, mut batch_documents) = (Vec::new(), Vec::new());
        for (column, ((values, width), ids)) in columns.iter().zip(&input.text_ids).enumerate() {
            for (row, (&id, vector)) in ids.iter().zip(values.chunks(*width)).enumerate() {
                if column == 0 {
                    rows.queries.add(id, vector);
                    batch_queries.push(id);
                } else {
                    rows.documents.add(id, vector);
                    batch_documents.push(id);
                    if column == 1 {
                        rows.relevant
                            .entry(input.text_ids[0][row])
                            .or_default()
                            .insert(id);
                    }
                }
            }
        }
        rows.last_batch = (batch_queries, batch_documents);
        Ok(())
    }

    fn score(&self, rows: &RetrievalRows) -> f64 {
        self.of(&Self::scores(rows, false))
    }

    /// While the split runs, each batch's queries against its own texts
    /// (ranking the whole split so far at every batch would cost its square).
    fn running(&self, rows: &RetrievalRows) -> f64 {
        self.of(&Self::scores(rows, true))
    }
}
