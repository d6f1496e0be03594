//! The BERT encoder, module for module as `modeling_bert.py` names it.
//!
//! Shapes use `B` = batch, `S` = sequence length, `H` = hidden size,
//! `A` = attention heads, `D` = head size (`H / A`).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::activation::{gelu, gelu_approximate, relu, tanh};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::config::{BertConfig, HiddenAct};
use crate::dropout::apply_dropout;
use crate::linear::Linear;
use crate::precision::Precision;
use crate::shared::{
    BertInput, BertModelOutput, attention_mask_bias, first_token, normal_init, scaled_dot_product,
};
use crate::transfers::{cached, upload};

pub(crate) fn linear(
    d_input: usize,
    d_output: usize,
    config: &BertConfig,
    device: &Device,
) -> Linear {
    Linear::new(
        d_input,
        d_output,
        true,
        normal_init(config.initializer_range),
        device,
    )
}

impl HiddenAct {
    /// Applies the activation.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Gelu => gelu(x),
            Self::GeluTanh => gelu_approximate(x),
            Self::Relu => relu(x),
            Self::Tanh => tanh(x),
        }
    }
}

pub(crate) fn layer_norm(config: &BertConfig, device: &Device) -> LayerNorm {
    LayerNormConfig::new(config.hidden_size)
        .with_epsilon(config.layer_norm_eps)
        .init(device)
}

pub(crate) fn dropout(prob: f64) -> Dropout {
    DropoutConfig::new(prob).init()
}

/// Word + position + token-type embeddings, then LayerNorm and dropout.
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    /// One vector per word-piece, `[vocab_size, E]` (`E` = embedding width).
    pub word_embeddings: Embedding,
    /// One vector per position, `[max_position_embeddings, E]`.
    pub position_embeddings: Embedding,
    /// One vector per segment, `[type_vocab_size, E]`; none in DistilBERT.
    pub token_type_embeddings: Option<Embedding>,
    /// Normalisation of the summed embeddings.
    pub layer_norm: LayerNorm,
    /// Dropout on the normalised embeddings.
    pub dropout: Dropout,
    /// RoBERTa's padding index: positions count from it + 1 over real
    /// tokens, and padding takes position `padding_idx`.
    #[module(skip)]
    pub padding_idx: Option<usize>,
}

impl BertEmbeddings {
    /// Creates randomly initialised embeddings.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let width = config.embedding_width();
        let embedding = |n| {
            EmbeddingConfig::new(n, width)
                .with_initializer(normal_init(config.initializer_range))
                .init(device)
        };
        Self {
            word_embeddings: embedding(config.vocab_size),
            position_embeddings: embedding(config.max_position_embeddings),
            token_type_embeddings: (config.type_vocab_size > 0)
                .then(|| embedding(config.type_vocab_size)),
            layer_norm: LayerNormConfig::new(width)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            dropout: dropout(config.hidden_dropout_prob),
            padding_idx: config
                .model_type
                .position_padding_index(config.pad_token_id),
        }
    }

    /// `[B, S]` ids and segment ids to `[B, S, E]` embeddings. Positions are
    /// `0..S` (RoBERTa: see [`Self::padding_idx`]); with a single token type
    /// the segment ids are ignored, as transformers' tokenizers give none.
    pub fn forward(&self, input_ids: Tensor<2, Int>, token_type_ids: Tensor<2, Int>) -> Tensor<3> {
        let seq_len = input_ids.dims()[1];
        let max_positions = self.position_embeddings.weight.dims()[0];
        // The largest position id a sequence of this length can take, known
        // on the host (no device read in the forward pass).
        let last_position = seq_len - 1 + self.padding_idx.map_or(0, |padding| padding + 1);
        assert!(
            last_position < max_positions,
            "sequence of {seq_len} tokens is longer than the model's {max_positions} positions"
        );
        let position_ids = self.position_ids(&input_ids);
        let mut embeddings = self.word_embeddings.forward(input_ids)
            + self.position_embeddings.forward(position_ids);
        if let Some(token_types) = &self.token_type_embeddings {
            let token_type_ids = if token_types.weight.dims()[0] == 1 {
                token_type_ids.zeros_like()
            } else {
                token_type_ids
            };
            embeddings = embeddings + token_types.forward(token_type_ids);
        }
        apply_dropout(&self.dropout, self.layer_norm.forward(embeddings))
    }

    fn position_ids(&self, input_ids: &Tensor<2, Int>) -> Tensor<2, Int> {
        let [batch, seq_len] = input_ids.dims();
        match self.padding_idx {
            None => Tensor::<1, Int>::arange(0..seq_len as i64, &input_ids.device())
                .unsqueeze::<2>()
                .expand([batch, seq_len]),
            Some(padding_idx) => {
                // transformers' create_position_ids_from_input_ids.
                let real = input_ids.clone().not_equal_elem(padding_idx as i64).int();
                real.clone().cumsum(1) * real + padding_idx as i64
            }
        }
    }
}

/// Multi-head scaled dot-product self-attention (`attention.self`).
#[derive(Module, Debug)]
pub struct BertSelfAttention {
    /// Query projection, `H -> H`.
    pub query: Linear,
    /// Key projection, `H -> H`.
    pub key: Linear,
    /// Value projection, `H -> H`.
    pub value: Linear,
    /// Dropout on the attention probabilities.
    pub dropout: Dropout,
    /// Number of heads `A`.
    pub num_heads: usize,
    /// Float type of the products (see [`Precision`]).
    #[module(skip)]
    pub precision: Precision,
}

impl BertSelfAttention {
    /// Creates randomly initialised projections.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let h = config.hidden_size;
        Self {
            query: linear(h, h, config, device),
            key: linear(h, h, config, device),
            value: linear(h, h, config, device),
            dropout: dropout(config.attention_probs_dropout_prob),
            num_heads: config.num_attention_heads,
            precision: Precision::F32,
        }
    }

    /// `[B, S, H]` hidden states and a `[B, 1, 1, S]` additive mask to `[B, S, H]` contexts.
    pub fn forward(&self, hidden: Tensor<3>, mask_bias: Tensor<4>) -> Tensor<3> {
        let [batch, seq_len, width] = hidden.dims();
        let [query, key, value] = self.query_key_value(hidden);
        let context = scaled_dot_product(
            [query, key, value],
            mask_bias,
            &self.dropout,
            self.precision,
        );
        context.swap_dims(1, 2).reshape([batch, seq_len, width])
    }

    /// Queries, keys and values in one product: `[B, S, H]` to three `[B, A, S, D]`.
    pub fn query_key_value(&self, hidden: Tensor<3>) -> [Tensor<4>; 3] {
        fused_query_key_value(
            [&self.query, &self.key, &self.value],
            hidden,
            self.num_heads,
            self.precision,
        )
    }
}

/// Queries, keys and values of `heads` heads in one product, the three
/// projections side by side (with their LoRA updates): `[B, S, H]` to three
/// `[B, A, S, D]`.
pub(crate) fn fused_query_key_value(
    projections: [&Linear; 3],
    hidden: Tensor<3>,
    heads: usize,
    precision: Precision,
) -> [Tensor<4>; 3] {
    let [batch, seq_len, width] = hidden.dims();
    let weight = Tensor::cat(projections.map(|p| p.weight.val()).to_vec(), 1);
    // A projection without a bias adds zeros, so the three stay aligned.
    let bias = projections.map(|p| match &p.bias {
        Some(bias) => bias.val(),
        None => Tensor::zeros([width], &hidden.device()),
    });
    let bias = Tensor::cat(bias.to_vec(), 0);
    let updates = projections.map(|p| p.lora_update(hidden.clone(), precision));
    let mut projected = precision.linear(hidden, weight, Some(bias));
    if updates.iter().any(Option::is_some) {
        // LoRA updates side by side as the projections are (zero where none).
        let updates = updates.map(|update| {
            update.unwrap_or_else(|| Tensor::zeros([batch, seq_len, width], &projected.device()))
        });
        projected = projected + Tensor::cat(updates.to_vec(), 2);
    }
    let all_heads = projected
        .reshape([batch, seq_len, 3 * heads, width / heads])
        .swap_dims(1, 2);
    [0, 1, 2].map(|i| all_heads.clone().narrow(1, i * heads, heads))
}

/// Dense + dropout + residual LayerNorm after self-attention
/// (`attention.output`, Hugging Face's `BertSelfOutput`).
#[derive(Module, Debug)]
pub struct BertSelfOutput {
    /// Projection back to `H`.
    pub dense: Linear,
    /// Normalisation of projection + residual.
    pub layer_norm: LayerNorm,
    /// Dropout on the projection.
    pub dropout: Dropout,
    /// Float type of the projection (see [`Precision`]).
    #[module(skip)]
    pub precision: Precision,
}

/// The same block after the feed-forward expansion, projecting
/// `intermediate_size -> H` (`output`, Hugging Face's `BertOutput`).
pub type BertOutput = BertSelfOutput;

impl BertSelfOutput {
    /// Creates a randomly initialised block projecting `d_input -> H`.
    pub fn new(d_input: usize, config: &BertConfig, device: &Device) -> Self {
        Self {
            dense: linear(d_input, config.hidden_size, config, device),
            layer_norm: layer_norm(config, device),
            dropout: dropout(config.hidden_dropout_prob),
            precision: Precision::F32,
        }
    }

    /// `LayerNorm(dropout(dense(hidden)) + residual)`, `[B, S, _]` to `[B, S, H]`.
    pub fn forward(&self, hidden: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        let projected = apply_dropout(&self.dropout, self.dense.forward(hidden, self.precision));
        self.layer_norm.forward(projected + residual)
    }
}

/// Self-attention followed by its residual output (`attention`).
#[derive(Module, Debug)]
pub struct BertAttention {
    /// Multi-head self-attention (`attention.self` in Hugging Face checkpoints).
    pub self_attention: BertSelfAttention,
    /// Projection, dropout and residual LayerNorm.
    pub output: BertSelfOutput,
}

impl BertAttention {
    /// `[B, S, H]` to `[B, S, H]`, padding keys masked out.
    pub fn forward(&self, hidden: Tensor<3>, mask_bias: Tensor<4>) -> Tensor<3> {
        let context = self.self_attention.forward(hidden.clone(), mask_bias);
        self.output.forward(context, hidden)
    }
}

/// The feed-forward expansion `H -> intermediate_size` and its activation (`intermediate`).
#[derive(Module, Debug)]
pub struct BertIntermediate {
    /// Expansion projection.
    pub dense: Linear,
    /// Activation after the expansion.
    #[module(skip)]
    pub activation: HiddenAct,
    /// Float type of the expansion (see [`Precision`]).
    #[module(skip)]
    pub precision: Precision,
}

impl BertIntermediate {
    /// Creates a randomly initialised expansion `H -> intermediate_size`.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            dense: linear(config.hidden_size, config.intermediate_size, config, device),
            activation: config.hidden_act,
            precision: Precision::F32,
        }
    }

    /// `[B, S, H]` to `[B, S, intermediate_size]`.
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.activation
            .apply(self.dense.forward(hidden, self.precision))
    }
}

/// One post-LayerNorm transformer layer (`encoder.layer.N`).
#[derive(Module, Debug)]
pub struct BertLayer {
    /// Self-attention block.
    pub attention: BertAttention,
    /// Feed-forward expansion.
    pub intermediate: BertIntermediate,
    /// Feed-forward projection with residual LayerNorm.
    pub output: BertOutput,
}

impl BertLayer {
    /// Creates a randomly initialised layer.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            attention: BertAttention {
                self_attention: BertSelfAttention::new(config, device),
                output: BertSelfOutput::new(config.hidden_size, config, device),
            },
            intermediate: BertIntermediate::new(config, device),
            output: BertOutput::new(config.intermediate_size, config, device),
        }
    }

    /// The same layer with its matrix products in `precision`.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.attention.self_attention.precision = precision;
        self.attention.output.precision = precision;
        self.intermediate.precision = precision;
        self.output.precision = precision;
        self
    }

    /// `[B, S, H]` to `[B, S, H]`.
    pub fn forward(&self, hidden: Tensor<3>, mask_bias: Tensor<4>) -> Tensor<3> {
        let attended = self.attention.forward(hidden, mask_bias);
        let expanded = self.intermediate.forward(attended.clone());
        self.output.forward(expanded, attended)
    }
}

/// The stack of layers (`encoder`).
#[derive(Module, Debug)]
pub struct BertEncoder {
    /// `num_hidden_layers` layers, applied in order.
    pub layer: Vec<BertLayer>,
    /// MPNet's relative position bias, one value per bucket and head,
    /// `[relative_attention_num_buckets, A]`, added to every layer's scores.
    pub relative_attention_bias: Option<Embedding>,
}

impl BertEncoder {
    /// Creates a randomly initialised stack.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            layer: (0..config.num_hidden_layers)
                .map(|_| BertLayer::new(config, device))
                .collect(),
            relative_attention_bias: config.relative_attention_num_buckets.map(|buckets| {
                EmbeddingConfig::new(buckets, config.num_attention_heads)
                    .with_initializer(normal_init(config.initializer_range))
                    .init(device)
            }),
        }
    }

    /// `[B, S, H]` to `[B, S, H]`; `mask_bias` is `[B, 1, 1, S]`.
    pub fn forward(&self, hidden: Tensor<3>, mask_bias: Tensor<4>) -> Tensor<3> {
        let mask_bias = match &self.relative_attention_bias {
            Some(bias) => mask_bias + relative_position_bias(bias, hidden.dims()[1]),
            None => mask_bias,
        };
        self.layer.iter().fold(hidden, |hidden, layer| {
            layer.forward(hidden, mask_bias.clone())
        })
    }
}

/// MPNet's largest distinguished distance between query and key.
const RELATIVE_MAX_DISTANCE: usize = 128;

/// The buckets MPNet's positions are sorted into: transformers'
/// `compute_position_bias` always uses 32, whatever the config's count of
/// bias rows (`relative_attention_num_buckets`) is.
const RELATIVE_BUCKETS: usize = 32;

/// The `[S, S]` bucket of every query-key pair of `0..S`.
pub fn relative_position_buckets(seq_len: usize, device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = (0..seq_len)
        .flat_map(|query| {
            (0..seq_len).map(move |key| {
                relative_position_bucket(
                    key as i64 - query as i64,
                    RELATIVE_BUCKETS,
                    RELATIVE_MAX_DISTANCE,
                ) as i64
            })
        })
        .collect();
    upload(TensorData::new(ids, [seq_len, seq_len]), device)
}

/// The `[1, A, S, S]` bias of every query-key pair, looked up by bucket
/// (`MPNetEncoder.compute_position_bias`); the buckets are built once per
/// device ([`cached`]) and sliced.
fn relative_position_bias(bias: &Embedding, seq_len: usize) -> Tensor<4> {
    let device = bias.weight.device();
    let ids = cached("mpnet-relative-buckets", &device, seq_len, |size| {
        relative_position_buckets(size, &device)
    })
    .slice([0..seq_len, 0..seq_len]);
    bias.forward(ids).permute([2, 0, 1]).unsqueeze::<4>()
}

/// T5's bucket of `relative_position` (key minus query), as MPNet computes
/// it: half the buckets per direction, exact up to a quarter of them, then
/// logarithmic up to `max_distance`, in f32 as PyTorch does.
pub fn relative_position_bucket(
    relative_position: i64,
    num_buckets: usize,
    max_distance: usize,
) -> usize {
    let half = num_buckets / 2;
    let direction = if relative_position > 0 { half } else { 0 };
    let distance = relative_position.unsigned_abs() as usize;
    let max_exact = half / 2;
    if distance < max_exact {
        return direction + distance;
    }
    let log_ratio =
        (distance as f32 / max_exact as f32).ln() / (max_distance as f32 / max_exact as f32).ln();
    let large = max_exact + (log_ratio * (half - max_exact) as f32) as usize;
    direction + large.min(half - 1)
}

/// Dense + tanh on the `[CLS]` hidden state (`pooler`).
#[derive(Module, Debug)]
pub struct BertPooler {
    /// Projection `H -> H`.
    pub dense: Linear,
}

impl BertPooler {
    /// `[B, S, H]` to `[B, H]`.
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<2> {
        tanh(self.dense.forward(first_token(hidden), Precision::F32))
    }
}

/// The BERT encoder: embeddings, transformer layers and pooler (`BertModel`),
/// also the encoder of RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA and MPNet
/// (BERT's layers plus a relative position bias in [`BertEncoder`]).
#[derive(Module, Debug)]
pub struct BertModel {
    /// Token, position and segment embeddings.
    pub embeddings: BertEmbeddings,
    /// ELECTRA's projection of the embeddings to `hidden_size`, when it differs.
    pub embeddings_project: Option<Linear>,
    /// Transformer layers.
    pub encoder: BertEncoder,
    /// `[CLS]` pooler (BERT only).
    pub pooler: Option<BertPooler>,
}

impl BertModel {
    /// Creates a randomly initialised model (`pretrained` loads weights).
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let width = config.embedding_width();
        Self {
            embeddings: BertEmbeddings::new(config, device),
            embeddings_project: (width != config.hidden_size)
                .then(|| linear(width, config.hidden_size, config, device)),
            encoder: BertEncoder::new(config, device),
            pooler: config.model_type.has_pooler().then(|| BertPooler {
                dense: linear(config.hidden_size, config.hidden_size, config, device),
            }),
        }
    }

    /// The same model with its encoder's matrix products in `precision`
    /// (parameters stay f32; see [`Precision`]).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.encoder.layer = std::mem::take(&mut self.encoder.layer)
            .into_iter()
            .map(|layer| layer.with_precision(precision))
            .collect();
        self
    }

    /// Every linear layer with its module path (`encoder.layer.0.attention.self_attention.query`, ...).
    pub fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        let mut layers: Vec<(String, &mut Linear)> = Vec::new();
        if let Some(project) = &mut self.embeddings_project {
            layers.push(("embeddings_project".into(), project));
        }
        for (i, layer) in self.encoder.layer.iter_mut().enumerate() {
            let at = |name: &str| format!("encoder.layer.{i}.{name}");
            let attention = &mut layer.attention.self_attention;
            layers.extend([
                (at("attention.self_attention.query"), &mut attention.query),
                (at("attention.self_attention.key"), &mut attention.key),
                (at("attention.self_attention.value"), &mut attention.value),
                (
                    at("attention.output.dense"),
                    &mut layer.attention.output.dense,
                ),
                (at("intermediate.dense"), &mut layer.intermediate.dense),
                (at("output.dense"), &mut layer.output.dense),
            ]);
        }
        if let Some(pooler) = &mut self.pooler {
            layers.push(("pooler.dense".into(), &mut pooler.dense));
        }
        layers
    }

    /// Encodes a batch: `[B, S]` ids to `[B, S, H]` hidden states and, with a
    /// pooler, the `[B, H]` pooled output.
    ///
    /// Padding (mask 0) never changes the outputs at real tokens.
    pub fn forward(&self, input: BertInput) -> BertModelOutput {
        let mask_bias = attention_mask_bias(input.attention_mask.clone());
        let mut embedded = self
            .embeddings
            .forward(input.input_ids, input.token_type_ids);
        if let Some(project) = &self.embeddings_project {
            embedded = project.forward(embedded, Precision::F32);
        }
        let last_hidden_state = self.encoder.forward(embedded, mask_bias);
        let pooled_output = self
            .pooler
            .as_ref()
            .map(|pooler| pooler.forward(last_hidden_state.clone()));
        BertModelOutput {
            last_hidden_state,
            pooled_output,
            attention_mask: input.attention_mask,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_relative_buckets_equal_those_built_for_the_length() {
        let device = Device::flex();
        let bias = EmbeddingConfig::new(RELATIVE_BUCKETS, 2).init(&device);
        for seq_len in [200, 3, 64, 65, 1] {
            let direct = bias
                .forward(relative_position_buckets(seq_len, &device))
                .permute([2, 0, 1])
                .unsqueeze::<4>();
            relative_position_bias(&bias, seq_len)
                .into_data()
                .assert_eq(&direct.into_data(), true);
        }
    }
}
