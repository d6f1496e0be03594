//! What every encoder family shares: its input batch, its output, the
//! additive attention mask, attention itself and the weight initialisation.

use burn::nn::{Dropout, Initializer};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::dropout::apply_dropout;
use crate::precision::Precision;

/// Added to the attention scores of padding keys. Large enough that their
/// softmax weight is exactly zero in f32, small enough for f16 and bf16.
pub(crate) const MASKED_SCORE: f32 = -10_000.0;

/// The token ids of a batch and what goes with them.
#[derive(Clone, Debug)]
pub struct BertInput {
    /// Word-piece ids, `[B, S]`.
    pub input_ids: Tensor<2, Int>,
    /// Segment ids (0 for sentence A, 1 for sentence B), `[B, S]`.
    pub token_type_ids: Tensor<2, Int>,
    /// 1 for real tokens, 0 for padding, `[B, S]`.
    pub attention_mask: Tensor<2, Int>,
}

impl BertInput {
    /// Builds a batch from row-major `[batch, seq_len]` vectors.
    pub fn from_rows(
        input_ids: Vec<i64>,
        token_type_ids: Vec<i64>,
        attention_mask: Vec<i64>,
        [batch, seq_len]: [usize; 2],
        device: &Device,
    ) -> Self {
        let tensor = |values: Vec<i64>| {
            crate::transfers::upload(TensorData::new(values, [batch, seq_len]), device)
        };
        Self {
            input_ids: tensor(input_ids),
            token_type_ids: tensor(token_type_ids),
            attention_mask: tensor(attention_mask),
        }
    }
}

/// What an encoder returns (see [`Encoder::forward`](crate::Encoder::forward)).
#[derive(Clone, Debug)]
pub struct BertModelOutput {
    /// Hidden state of every token after the last layer, `[B, S, H]`.
    pub last_hidden_state: Tensor<3>,
    /// `tanh(dense(last_hidden_state[:, 0]))`, `[B, H]`, for a model with a
    /// pooler (BERT).
    pub pooled_output: Option<Tensor<2>>,
    /// The input's mask, 1 for real tokens, `[B, S]`: a head that pools over
    /// the tokens (ModernBERT's mean pooling) reads it.
    pub attention_mask: Tensor<2, Int>,
}

/// The families' weight initialisation: normal with `initializer_range` std.
pub(crate) fn normal_init(std: f64) -> Initializer {
    Initializer::Normal { mean: 0.0, std }
}

/// The hidden state of each sequence's first token (`[CLS]`, `<s>`), `[B, S, H]` to `[B, H]`.
pub fn first_token(hidden: Tensor<3>) -> Tensor<2> {
    let [batch, _, width] = hidden.dims();
    hidden.slice([0..batch, 0..1]).reshape([batch, width])
}

/// `[B, S]` 1/0 mask to the `[B, 1, 1, S]` bias added to attention scores:
/// 0 for real keys, [`MASKED_SCORE`] for padding.
pub(crate) fn attention_mask_bias(attention_mask: Tensor<2, Int>) -> Tensor<4> {
    let [batch, seq_len] = attention_mask.dims();
    let padding = attention_mask.equal_elem(0).float();
    (padding * MASKED_SCORE).reshape([batch, 1, 1, seq_len])
}

/// `softmax(Q·Kᵀ/√D + bias)·V` over `[B, A, S, D]` queries, keys and values;
/// `mask_bias` broadcasts to `[B, A, S, S]`.
///
/// Outside autodiff (inference) or without attention dropout, the backend's
/// fused attention computes it; training keeps the explicit path, with
/// dropout on the probabilities.
pub(crate) fn scaled_dot_product(
    [query, key, value]: [Tensor<4>; 3],
    mask_bias: Tensor<4>,
    dropout: &Dropout,
    precision: Precision,
) -> Tensor<4> {
    let [batch, heads, seq_len, head_size] = query.dims();
    if dropout.prob == 0.0 || !query.is_autodiff() {
        let bias = mask_bias.expand([batch, heads, seq_len, seq_len]);
        return precision.attention(query, key, value, bias);
    }
    // Scaling the queries rather than the scores: S/head_size times fewer elements.
    let query = query * (head_size as f64).sqrt().recip();
    let scores = precision.matmul(query, key.swap_dims(2, 3)) + mask_bias;
    let probs = apply_dropout(dropout, softmax(scores, 3));
    precision.matmul(probs, value)
}
