//! Hard negatives mined with a bi-encoder, as sentence-transformers'
//! `mine_hard_negatives` (its `top` sampling) mines them: every passage of
//! the split and every query embedded, each query's passages ranked by
//! cosine, and its best-ranked passages that are not its own taken as
//! negatives, within `range_min..range_max` and skipping the likely false
//! negatives (`max_score`, or a `margin` below the query's positive).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Result, bail};
use bert_data::reranking::RerankCandidates;
use serde::{Deserialize, Serialize};
use tracing::info;

use super::RELEVANT;
use crate::embed::SentenceEmbedder;

/// The flags of negative mining.
#[derive(Clone, Debug, Default, Serialize, Deserialize, clap::Args)]
pub struct MiningOptions {
    /// reranking: mine each query's negatives with this bi-encoder (`minilm`,
    /// a sentence-transformers directory, a `sentence-embedding` run).
    #[arg(long)]
    pub mine_negatives_with: Option<String>,
    /// reranking, mining: skip the first N ranked passages (likely positives).
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub mine_range_min: usize,
    /// reranking, mining: consider only the first N ranked passages.
    #[arg(long)]
    pub mine_range_max: Option<usize>,
    /// reranking, mining: skip passages whose cosine to the query is above this.
    #[arg(long)]
    pub mine_max_score: Option<f32>,
    /// reranking, mining: skip passages within this margin below the
    /// cosine of the query's positive.
    #[arg(long)]
    pub mine_margin: Option<f32>,
}

/// Texts embedded at a time.
const EMBED_BATCH: usize = 64;

/// Cosine of two unit vectors.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = dot(&v, &v).sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// Adds up to `count` mined negatives to each of `queries` that has none, embedded with
/// the bi-encoder in `model_dir`; an error when the settings leave a query
/// with no passage to take.
pub fn mine_negatives(
    queries: &mut [RerankCandidates],
    model_dir: &Path,
    count: usize,
    options: &MiningOptions,
) -> Result<()> {
    let device = crate::backend::device()?;
    let embedder = SentenceEmbedder::load(model_dir, (None, None), None, device)?;
    let mut seen = HashSet::new();
    let corpus: Vec<String> = queries
        .iter()
        .flat_map(|q| q.passages.iter().map(|(p, _)| p.clone()))
        .filter(|p| seen.insert(p.clone()))
        .collect();
    let embed = |texts: &[String]| -> Result<Vec<Vec<f32>>> {
        let mut vectors = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(EMBED_BATCH) {
            vectors.extend(embedder.embed(chunk)?.into_iter().map(unit));
        }
        Ok(vectors)
    };
    info!(
        "mining negatives: embedding {} passages and {} queries",
        corpus.len(),
        queries.len()
    );
    let passages = embed(&corpus)?;
    let index: HashMap<&str, usize> = corpus
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let query_texts: Vec<String> = queries.iter().map(|q| q.query.clone()).collect();
    let query_vectors = embed(&query_texts)?;
    let mut added = 0;
    for (query, vector) in queries.iter_mut().zip(&query_vectors) {
        if query.has_negative() {
            continue;
        }
        let scores: Vec<f32> = passages.iter().map(|p| dot(vector, p)).collect();
        let own: HashSet<usize> = query
            .passages
            .iter()
            .map(|(p, _)| index[p.as_str()])
            .collect();
        let positive_score = query
            .passages
            .iter()
            .filter(|(_, label)| *label >= RELEVANT)
            .map(|(p, _)| scores[index[p.as_str()]])
            .fold(f32::MIN, f32::max);
        let mut ranked: Vec<usize> = (0..corpus.len()).collect();
        ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let range_max = options
            .mine_range_max
            .unwrap_or(ranked.len())
            .min(ranked.len());
        let mined: Vec<usize> = ranked[options.mine_range_min.min(range_max)..range_max]
            .iter()
            .copied()
            .filter(|i| !own.contains(i))
            .filter(|&i| options.mine_max_score.is_none_or(|max| scores[i] <= max))
            .filter(|&i| {
                options
                    .mine_margin
                    .is_none_or(|m| scores[i] <= positive_score - m)
            })
            .take(count)
            .collect();
        if mined.is_empty() && count > 0 {
            bail!(
                "{}: no passage left to mine for the query {:?} (--mine-range-min/-max, --mine-max-score, --mine-margin leave none)",
                query.origin,
                query.query
            );
        }
        added += mined.len();
        query
            .passages
            .extend(mined.into_iter().map(|i| (corpus[i].clone(), 0.0)));
    }
    info!("mined {added} negatives for {} queries", queries.len());
    Ok(())
}
