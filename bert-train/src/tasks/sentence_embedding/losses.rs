//! The losses of sentence-transformers, computed from a batch's embeddings
//! as its `compute_loss_from_embeddings` does: `MultipleNegativesRankingLoss`
//! (and its symmetric form), `CoSENTLoss`, `CosineSimilarityLoss`, and
//! `MatryoshkaLoss` around any of them.

use bert_model::l2_normalize;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

/// What the embeddings are trained to (`--loss`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EmbeddingLoss {
    /// MultipleNegativesRankingLoss: (anchor, positive[, negatives...])
    /// rows; each anchor's positive against every other text of the batch.
    Mnrl,
    /// CachedMultipleNegativesRankingLoss (GradCache): `mnrl`'s loss and
    /// gradients with the batch embedded in mini-batches.
    CachedMnrl,
    /// CoSENTLoss: (text, text, score) rows; the pairs' cosines ranked as
    /// their scores.
    #[default]
    Cosent,
    /// CosineSimilarityLoss: (text, text, score) rows; mean squared error of
    /// the cosine against the score.
    Cosine,
}

impl EmbeddingLoss {
    /// Whether the loss reads a score per row (else rows are anchor,
    /// positive and negatives).
    pub fn is_scored(self) -> bool {
        matches!(self, Self::Cosent | Self::Cosine)
    }

    /// Whether the loss ranks each anchor's positive among the batch's
    /// texts (whose duplicates would be false negatives).
    pub fn uses_in_batch_negatives(self) -> bool {
        matches!(self, Self::Mnrl | Self::CachedMnrl)
    }

    /// The name sentence-transformers gives the loss.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Mnrl => "MultipleNegativesRankingLoss",
            Self::CachedMnrl => "CachedMultipleNegativesRankingLoss",
            Self::Cosent => "CoSENTLoss",
            Self::Cosine => "CosineSimilarityLoss",
        }
    }
}

/// A loss with its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LossSettings {
    /// The loss.
    pub loss: EmbeddingLoss,
    /// Cosines are multiplied by this (`mnrl`, `cosent`).
    pub scale: f64,
    /// `mnrl` also ranks each positive's anchor among the batch's anchors
    /// (`directions=("query_to_doc", "doc_to_query")`, `per_direction`).
    pub symmetric: bool,
    /// MatryoshkaLoss: the loss summed over the embeddings cut to each of
    /// these sizes (and normalised); empty: the full embeddings only.
    pub matryoshka_dims: Vec<usize>,
}

impl LossSettings {
    /// The loss of a batch whose columns embed to `embeddings` (`[B, H]`
    /// each), with the rows' `scores` for a scored loss, `[1]`.
    pub fn compute(&self, embeddings: &[Tensor<2>], scores: Option<&Tensor<1>>) -> Tensor<1> {
        if self.matryoshka_dims.is_empty() {
            return self.base_loss(embeddings, scores);
        }
        self.matryoshka_dims
            .iter()
            .map(|&dim| {
                let truncated: Vec<Tensor<2>> = embeddings
                    .iter()
                    .map(|embedding| {
                        let rows = embedding.dims()[0];
                        l2_normalize(embedding.clone().slice([0..rows, 0..dim]))
                    })
                    .collect();
                self.base_loss(&truncated, scores)
            })
            .reduce(|total, loss| total + loss)
            .expect("matryoshka dims are not empty")
    }

    fn base_loss(&self, embeddings: &[Tensor<2>], scores: Option<&Tensor<1>>) -> Tensor<1> {
        let score = || scores.expect("a scored loss gets scores").clone();
        match self.loss {
            EmbeddingLoss::Mnrl | EmbeddingLoss::CachedMnrl => {
                multiple_negatives_ranking(embeddings, self.scale, self.symmetric)
            }
            EmbeddingLoss::Cosent => cosent(&embeddings[0], &embeddings[1], score(), self.scale),
            EmbeddingLoss::Cosine => cosine_mse(&embeddings[0], &embeddings[1], score()),
        }
    }
}

/// `[N, M]` cosine similarities of the rows of `a` (`[N, H]`) and `b` (`[M, H]`).
pub fn cos_sim(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    l2_normalize(a).matmul(l2_normalize(b).transpose())
}

/// `[N]` cosines of the rows of `a` and `b` pairwise.
pub fn pairwise_cosine(a: &Tensor<2>, b: &Tensor<2>) -> Tensor<1> {
    let rows = a.dims()[0];
    (l2_normalize(a.clone()) * l2_normalize(b.clone()))
        .sum_dim(1)
        .reshape([rows])
}

/// `log Σ_j exp(x[i, j])` of each row of `[R, C]`, `[R]` (shifted by the
/// row's maximum, which the gradient does not depend on).
fn log_sum_exp(x: Tensor<2>) -> Tensor<1> {
    let rows = x.dims()[0];
    let max = x.clone().detach().max_dim(1);
    ((x - max.clone()).exp().sum_dim(1).log() + max).reshape([rows])
}

/// Element `[i, i]` of each row `i` of `[B, C]` (`C >= B`), `[B]`.
fn diagonal(x: Tensor<2>) -> Tensor<1> {
    let rows = x.dims()[0];
    let device = x.device();
    let columns = Tensor::<1, Int>::arange(0..rows as i64, &device).reshape([rows, 1]);
    x.gather(1, columns).reshape([rows])
}

/// MultipleNegativesRankingLoss: `embeddings` are the anchors, the
/// positives, then any negatives; each anchor's scaled cosines to every
/// positive and negative of the batch, cross-entropy on its own positive.
/// `symmetric` averages the log-partition with that of each positive
/// against every anchor.
pub fn multiple_negatives_ranking(
    embeddings: &[Tensor<2>],
    scale: f64,
    symmetric: bool,
) -> Tensor<1> {
    let anchors = embeddings[0].clone();
    let rows = anchors.dims()[0];
    let documents = Tensor::cat(embeddings[1..].to_vec(), 0);
    let scores = cos_sim(anchors, documents) * scale;
    let own = scores.clone().slice([0..rows, 0..rows]);
    let positive = diagonal(own.clone());
    let mut log_z = log_sum_exp(scores);
    if symmetric {
        log_z = (log_z + log_sum_exp(own.transpose())) / 2.0;
    }
    (log_z - positive).mean()
}

/// CoSENTLoss: `log(1 + Σ exp(s_i - s_j))` over the pairs `(i, j)` with
/// `score_i < score_j`, `s` the pairs' scaled cosines.
pub fn cosent(a: &Tensor<2>, b: &Tensor<2>, scores: Tensor<1>, scale: f64) -> Tensor<1> {
    let rows = a.dims()[0];
    let device = a.device();
    let cosines = pairwise_cosine(a, b) * scale;
    let differences = cosines.clone().reshape([rows, 1]) - cosines.reshape([1, rows]);
    let ranked_lower = scores
        .clone()
        .reshape([rows, 1])
        .lower(scores.reshape([1, rows]))
        .float();
    // Pairs not ranked lower drop out of the sum (exp(-1e12) is 0).
    let kept = differences + (ranked_lower - 1.0) * 1e12;
    let terms = Tensor::cat(
        vec![Tensor::zeros([1], &device), kept.reshape([rows * rows])],
        0,
    );
    log_sum_exp(terms.reshape([1, rows * rows + 1]))
}

/// CosineSimilarityLoss: mean squared error of the pairs' cosines against
/// their scores.
pub fn cosine_mse(a: &Tensor<2>, b: &Tensor<2>, scores: Tensor<1>) -> Tensor<1> {
    (pairwise_cosine(a, b) - scores).powf_scalar(2.0).mean()
}
