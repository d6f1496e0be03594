//! Sentence embeddings from token hidden states.

use burn::tensor::{Int, Tensor};

use crate::shared::BertModelOutput;

/// How a sentence embedding is read off the encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// Average of the real tokens' hidden states (sentence-transformers).
    Mean,
    /// Hidden state of the `[CLS]` token.
    Cls,
}

impl std::str::FromStr for Pooling {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "mean" => Ok(Self::Mean),
            "cls" => Ok(Self::Cls),
            other => Err(format!("unknown pooling {other:?}: expected mean or cls")),
        }
    }
}

impl Pooling {
    /// `[B, S, H]` hidden states and `[B, S]` mask to L2-normalised `[B, H]` embeddings.
    pub fn embed(self, encoded: &BertModelOutput, attention_mask: Tensor<2, Int>) -> Tensor<2> {
        let hidden = encoded.last_hidden_state.clone();
        let pooled = match self {
            Self::Mean => mean_pool(hidden, attention_mask),
            Self::Cls => {
                let [batch, _, width] = hidden.dims();
                hidden.slice([0..batch, 0..1]).reshape([batch, width])
            }
        };
        l2_normalize(pooled)
    }
}

/// Mean of `[B, S, H]` hidden states over the positions where the `[B, S]` mask is 1.
pub fn mean_pool(hidden: Tensor<3>, attention_mask: Tensor<2, Int>) -> Tensor<2> {
    let [batch, seq_len, width] = hidden.dims();
    let mask = attention_mask.float().reshape([batch, seq_len, 1]);
    let summed = (hidden * mask.clone()).sum_dim(1).reshape([batch, width]);
    let counts = mask.sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
    summed / counts
}

/// Scales each row of `[B, H]` to unit L2 norm (rows of zeros stay zero).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norms = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    x / norms
}
