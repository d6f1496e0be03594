//! Reranking (cross-encoder) items: a query and one passage read together
//! (`[CLS] query [SEP] passage [SEP]`) with a relevance label in [0, 1],
//! and the groups of a query's candidates that reranking metrics score.
//! Rows come as (query, passage, label), or as (query, positive[,
//! negatives...]) that [`RerankCandidates`] turns into labelled pairs.

use std::collections::{BTreeMap, HashSet};

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor, TensorData};

use crate::dataset::{DatasetError, Origin, SplitMix64, TextTuple};
use crate::sentence_embedding::text_id;
use bert_model::BertInput;

use crate::{BertTokenizer, Encoding, TextBatcher};

/// One query's candidate passages with their relevance (1 positive, 0
/// negative, or a grade in between).
#[derive(Clone, Debug, PartialEq)]
pub struct RerankCandidates {
    /// The query.
    pub query: String,
    /// `(passage, relevance)` in the order given.
    pub passages: Vec<(String, f32)>,
    /// Where the query's first row was read.
    pub origin: Origin,
}

impl RerankCandidates {
    /// The queries of `rows`, in order of first appearance: a row with a
    /// label is one (query, passage, label) pair, a row without one a
    /// query, its positive and its negatives; a query's rows are merged
    /// (a passage once, with its highest label). A label must be a number
    /// in [0, 1]; a query with no positive is an error naming its row.
    pub fn from_rows(rows: &[TextTuple]) -> Result<Vec<Self>, DatasetError> {
        let mut queries: Vec<Self> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for row in rows {
            let error = |message: String| DatasetError::Row {
                origin: row.origin.to_string(),
                message,
            };
            let (query, passages) = row
                .texts
                .split_first()
                .ok_or_else(|| error("no query".into()))?;
            if passages.is_empty() {
                return Err(error("a query needs at least one passage".into()));
            }
            let labelled: Vec<(String, f32)> = match &row.score {
                Some(label) => {
                    if passages.len() != 1 {
                        return Err(error(format!(
                            "a labelled row is (query, passage, label); this one has {} passages",
                            passages.len()
                        )));
                    }
                    let value = label
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|v| (0.0..=1.0).contains(v))
                        .ok_or_else(|| {
                            error(format!("the label {label:?} is not a number in [0, 1]"))
                        })?;
                    vec![(passages[0].clone(), value)]
                }
                None => passages
                    .iter()
                    .enumerate()
                    .map(|(i, passage)| (passage.clone(), if i == 0 { 1.0 } else { 0.0 }))
                    .collect(),
            };
            let slot = *index.entry(query.clone()).or_insert_with(|| {
                queries.push(Self {
                    query: query.clone(),
                    passages: Vec::new(),
                    origin: row.origin.clone(),
                });
                queries.len() - 1
            });
            for (passage, relevance) in labelled {
                let candidates = &mut queries[slot].passages;
                match candidates.iter_mut().find(|(p, _)| *p == passage) {
                    Some((_, kept)) => *kept = kept.max(relevance),
                    None => candidates.push((passage, relevance)),
                }
            }
        }
        if let Some(without) = queries
            .iter()
            .find(|q| q.passages.iter().all(|(_, r)| *r <= 0.0))
        {
            return Err(DatasetError::Row {
                origin: without.origin.to_string(),
                message: format!("the query {:?} has no positive passage", without.query),
            });
        }
        Ok(queries)
    }

    /// Whether any query has a negative passage.
    pub fn have_negatives(queries: &[Self]) -> bool {
        queries.iter().any(Self::has_negative)
    }

    /// Whether the query has a negative candidate.
    pub fn has_negative(&self) -> bool {
        self.passages.iter().any(|(_, relevance)| *relevance <= 0.0)
    }

    /// Adds `count` negatives to each query that has none, drawn with
    /// `seed` from the other queries' passages (none of its own); an error
    /// when there are too few passages to draw from.
    pub fn add_random_negatives(
        queries: &mut [Self],
        count: usize,
        seed: u64,
    ) -> Result<(), String> {
        let pool: Vec<String> = {
            let mut seen = HashSet::new();
            queries
                .iter()
                .flat_map(|q| q.passages.iter().map(|(p, _)| p.clone()))
                .filter(|p| seen.insert(p.clone()))
                .collect()
        };
        let mut rng = SplitMix64::new(seed);
        for query in queries.iter_mut().filter(|q| !q.has_negative()) {
            let own: HashSet<&String> = query.passages.iter().map(|(p, _)| p).collect();
            let candidates: Vec<&String> = pool.iter().filter(|p| !own.contains(p)).collect();
            if candidates.len() < count {
                return Err(format!(
                    "--negatives-per-query {count}: the query {:?} has only {} other passages to draw from",
                    query.query,
                    candidates.len()
                ));
            }
            let mut drawn: Vec<String> = Vec::with_capacity(count);
            while drawn.len() < count {
                let pick = candidates[(rng.next_u64() % candidates.len() as u64) as usize];
                if !drawn.contains(pick) {
                    drawn.push(pick.clone());
                }
            }
            query.passages.extend(drawn.into_iter().map(|p| (p, 0.0)));
        }
        Ok(())
    }
}

/// A query and one of its passages, encoded together, with its relevance.
#[derive(Clone, Debug, PartialEq)]
pub struct RerankItem {
    /// `[CLS] query [SEP] passage [SEP]`, truncated (the longer side first).
    pub encoding: Encoding,
    /// The relevance, in [0, 1].
    pub label: f32,
    /// The query's identity: a ranking groups the items of one query.
    pub query_id: u64,
}

crate::item::text_item!(RerankItem => RerankBatch);

impl RerankItem {
    /// The items of `queries`, one per candidate passage.
    pub fn encode_all(
        tokenizer: &BertTokenizer,
        queries: &[RerankCandidates],
    ) -> Result<Vec<Self>, DatasetError> {
        let mut items = Vec::new();
        for query in queries {
            for (passage, label) in &query.passages {
                let encoding = tokenizer.encode_pair(&query.query, passage).map_err(|e| {
                    DatasetError::Row {
                        origin: query.origin.to_string(),
                        message: e.to_string(),
                    }
                })?;
                items.push(Self {
                    encoding,
                    label: *label,
                    query_id: text_id(&query.query),
                });
            }
        }
        Ok(items)
    }
}

/// A batch of (query, passage) pairs: the input, `[B, 1]` labels, and
/// each row's query.
#[derive(Clone, Debug)]
pub struct RerankBatch {
    /// Padded pairs.
    pub input: BertInput,
    /// Relevance labels, `[B, 1]`.
    pub targets: Tensor<2>,
    /// The query of each row.
    pub query_ids: Vec<u64>,
}

impl Batcher<RerankItem, RerankBatch> for TextBatcher {
    fn batch(&self, items: Vec<RerankItem>, device: &Device) -> RerankBatch {
        let labels: Vec<f32> = items.iter().map(|item| item.label).collect();
        RerankBatch {
            input: self.input(items.iter().map(|item| &item.encoding), device),
            targets: Tensor::from_data(TensorData::new(labels, [items.len(), 1]), device),
            query_ids: items.iter().map(|item| item.query_id).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(texts: &[&str], score: Option<&str>, line: usize) -> TextTuple {
        TextTuple {
            texts: texts.iter().map(|t| t.to_string()).collect(),
            score: score.map(String::from),
            origin: Origin::line("r.tsv".into(), line),
        }
    }

    #[test]
    fn rows_become_queries_with_labelled_candidates() {
        let queries = RerankCandidates::from_rows(&[
            row(&["q1", "p1", "n1", "n2"], None, 2),
            row(&["q2", "p2"], Some("1"), 3),
            row(&["q2", "x"], Some("0.25"), 4),
            row(&["q1", "n1"], None, 5),
        ])
        .unwrap();
        assert_eq!(queries.len(), 2);
        assert_eq!(
            queries[0].passages,
            [("p1".into(), 1.0), ("n1".into(), 1.0), ("n2".into(), 0.0)],
            "a passage once, with its highest label"
        );
        assert_eq!(
            queries[1].passages,
            [("p2".into(), 1.0), ("x".into(), 0.25)]
        );
        assert!(RerankCandidates::have_negatives(&queries));
    }

    #[test]
    fn bad_rows_name_their_line() {
        let error = |rows: &[TextTuple]| RerankCandidates::from_rows(rows).unwrap_err().to_string();
        assert!(
            error(&[row(&["q", "p"], Some("2"), 7)])
                .contains("r.tsv:7: the label \"2\" is not a number in [0, 1]")
        );
        let none = error(&[
            row(&["q", "p"], Some("0"), 3),
            row(&["q", "n"], Some("0"), 4),
        ]);
        assert!(
            none.contains("r.tsv:3: the query \"q\" has no positive passage"),
            "{none}"
        );
        assert!(
            error(&[row(&["q"], None, 2)]).contains("r.tsv:2: a query needs at least one passage")
        );
    }

    #[test]
    fn random_negatives_come_from_other_queries() {
        let mut queries = RerankCandidates::from_rows(&[
            row(&["q1", "p1"], None, 2),
            row(&["q2", "p2"], None, 3),
            row(&["q3", "p3"], None, 4),
        ])
        .unwrap();
        assert!(!RerankCandidates::have_negatives(&queries));
        RerankCandidates::add_random_negatives(&mut queries, 2, 7).unwrap();
        let before = queries.clone();
        RerankCandidates::add_random_negatives(&mut queries, 2, 8).unwrap();
        assert_eq!(queries, before, "queries with negatives get no more");
        for query in &queries {
            assert_eq!(query.passages.len(), 3);
            let own = &query.passages[0].0;
            assert!(
                query.passages[1..]
                    .iter()
                    .all(|(p, r)| p != own && *r == 0.0)
            );
        }
        let mut fresh = RerankCandidates::from_rows(&[
            row(&["q1", "p1"], None, 2),
            row(&["q2", "p2"], None, 3),
        ])
        .unwrap();
        let err = RerankCandidates::add_random_negatives(&mut fresh, 5, 7).unwrap_err();
        assert!(err.contains("has only"), "{err}");
    }
}
