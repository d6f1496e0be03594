//! The ModernBERT encoder, module for module as `modeling_modernbert.py`
//! names it (its eager / SDPA path on padded batches): token embeddings and
//! LayerNorm without positions, pre-norm layers with rotary positions
//! (rotate-half), a fused bias-free `Wqkv`, a GeGLU MLP, sliding-window
//! attention on every layer that is not a multiple of
//! `global_attn_every_n_layers`, and a final LayerNorm.
//!
//! Shapes use `B` = batch, `S` = sequence length, `H` = hidden size,
//! `A` = attention heads, `D` = head size (`H / A`).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Float, Int, Tensor, TensorData};

use crate::config::{BertConfig, HiddenAct, ModernBertSettings};
use crate::dropout::apply_dropout;
use crate::linear::Linear;
use crate::precision::Precision;
use crate::shared::{
    BertInput, BertModelOutput, MASKED_SCORE, attention_mask_bias, normal_init, scaled_dot_product,
};
use crate::transfers::{cached, upload};

/// The settings of a ModernBERT config (those of `ModernBertConfig` when the
/// config is of another family).
fn settings(config: &BertConfig) -> ModernBertSettings {
    config.modernbert.clone().unwrap_or_default()
}

fn linear(
    d_input: usize,
    d_output: usize,
    bias: bool,
    config: &BertConfig,
    device: &Device,
) -> Linear {
    Linear::new(
        d_input,
        d_output,
        bias,
        normal_init(config.initializer_range),
        device,
    )
}

/// A LayerNorm of width `H`, with a bias only when `norm_bias` says so.
pub(crate) fn norm(config: &BertConfig, device: &Device) -> LayerNorm {
    LayerNormConfig::new(config.hidden_size)
        .with_epsilon(config.layer_norm_eps)
        .with_bias(settings(config).norm_bias)
        .init(device)
}

/// Token embeddings, LayerNorm and dropout (`embeddings`).
#[derive(Module, Debug)]
pub struct ModernBertEmbeddings {
    /// One vector per token, `[vocab_size, H]`.
    pub tok_embeddings: Embedding,
    /// Normalisation of the embeddings.
    pub norm: LayerNorm,
    /// Dropout on the normalised embeddings (`embedding_dropout`).
    pub drop: Dropout,
}

impl ModernBertEmbeddings {
    /// `[B, S]` ids to `[B, S, H]`.
    pub fn forward(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        let embedded = self.tok_embeddings.forward(input_ids);
        apply_dropout(&self.drop, self.norm.forward(embedded))
    }
}

/// The rotary tables of one base for positions `0..S`: `cos` and `sin` of
/// `position · θ^(-2i/D)`, each frequency twice (`[1, 1, S, D]`), in f32 as
/// `ModernBertRotaryEmbedding` computes them.
#[derive(Clone, Debug)]
pub struct RotaryTables {
    cos: Tensor<4>,
    sin: Tensor<4>,
}

impl RotaryTables {
    /// The tables of base `theta` for `seq_len` positions and heads of
    /// `head_size`: the first rows of tables built once per device for a
    /// longer length ([`cached`]).
    pub fn new(theta: f64, seq_len: usize, head_size: usize, device: &Device) -> Self {
        let key = format!("rotary-{theta}-{head_size}");
        let tables = cached(&key, device, seq_len, |size| {
            Self::build(theta, size, head_size, device)
        });
        let rows = |table: Tensor<4>| table.narrow(2, 0, seq_len);
        Self {
            cos: rows(tables.cos),
            sin: rows(tables.sin),
        }
    }

    /// The tables for `seq_len` positions, computed on the host.
    fn build(theta: f64, seq_len: usize, head_size: usize, device: &Device) -> Self {
        let half = head_size / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_size as f32))
            .collect();
        let angles: Vec<f32> = (0..seq_len)
            .flat_map(|position| {
                let inv_freq = &inv_freq;
                (0..head_size).map(move |i| position as f32 * inv_freq[i % half])
            })
            .collect();
        let table = |values: Vec<f32>| {
            upload::<2, Float>(TensorData::new(values, [seq_len, head_size]), device)
                .unsqueeze::<4>()
        };
        Self {
            cos: table(angles.iter().map(|a| a.cos()).collect()),
            sin: table(angles.iter().map(|a| a.sin()).collect()),
        }
    }

    /// `x · cos + rotate_half(x) · sin` for `[B, A, S, D]` queries or keys,
    /// where `rotate_half` of halves `(x₁, x₂)` is `(-x₂, x₁)`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let half = x.dims()[3] / 2;
        let first = x.clone().narrow(3, 0, half);
        let second = x.clone().narrow(3, half, half);
        let rotated = Tensor::cat(vec![second.neg(), first], 3);
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

/// Self-attention with rotary positions (`attn`).
#[derive(Module, Debug)]
pub struct ModernBertAttention {
    /// Queries, keys and values side by side, `H -> 3H` (`Wqkv`).
    pub wqkv: Linear,
    /// Output projection `H -> H` (`Wo`).
    pub wo: Linear,
    /// Dropout on the attention probabilities (`attention_dropout`).
    pub dropout: Dropout,
    /// Dropout on the output projection (`out_drop`, also `attention_dropout`).
    pub out_drop: Dropout,
    /// Number of heads `A`.
    pub num_heads: usize,
    /// Whether the layer attends to every token; else to its window.
    #[module(skip)]
    pub global: bool,
    /// Float type of the products (see [`Precision`]).
    #[module(skip)]
    pub precision: Precision,
}

impl ModernBertAttention {
    /// `[B, S, H]` to `[B, S, H]`; `mask_bias` broadcasts to `[B, A, S, S]`.
    pub fn forward(
        &self,
        hidden: Tensor<3>,
        mask_bias: Tensor<4>,
        rotary: &RotaryTables,
    ) -> Tensor<3> {
        let [batch, seq_len, width] = hidden.dims();
        let heads = self.num_heads;
        // `Wqkv`'s outputs are [3, A, D]: queries, then keys, then values.
        let all_heads = self
            .wqkv
            .forward(hidden, self.precision)
            .reshape([batch, seq_len, 3 * heads, width / heads])
            .swap_dims(1, 2);
        let [query, key, value] = [0, 1, 2].map(|i| all_heads.clone().narrow(1, i * heads, heads));
        let context = scaled_dot_product(
            [rotary.apply(query), rotary.apply(key), value],
            mask_bias,
            &self.dropout,
            self.precision,
        );
        let context = context.swap_dims(1, 2).reshape([batch, seq_len, width]);
        apply_dropout(&self.out_drop, self.wo.forward(context, self.precision))
    }
}

/// The gated feed-forward block (`mlp`): `Wo(act(input) · gate)` where
/// `Wi` gives `input` and `gate` side by side.
#[derive(Module, Debug)]
pub struct ModernBertMlp {
    /// `H -> 2 · intermediate_size` (`Wi`).
    pub wi: Linear,
    /// `intermediate_size -> H` (`Wo`).
    pub wo: Linear,
    /// Dropout before `Wo` (`mlp_dropout`).
    pub drop: Dropout,
    /// Activation of the input half (`hidden_activation`).
    #[module(skip)]
    pub activation: HiddenAct,
    /// Float type of the products (see [`Precision`]).
    #[module(skip)]
    pub precision: Precision,
}

impl ModernBertMlp {
    /// `[B, S, H]` to `[B, S, H]`.
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        let expanded = self.wi.forward(hidden, self.precision);
        let width = expanded.dims()[2] / 2;
        let input = expanded.clone().narrow(2, 0, width);
        let gate = expanded.narrow(2, width, width);
        let gated = apply_dropout(&self.drop, self.activation.apply(input) * gate);
        self.wo.forward(gated, self.precision)
    }
}

/// One pre-norm layer (`layers.N`).
#[derive(Module, Debug)]
pub struct ModernBertEncoderLayer {
    /// Normalisation before attention; none on layer 0 (the embeddings are
    /// normalised already).
    pub attn_norm: Option<LayerNorm>,
    /// Self-attention.
    pub attn: ModernBertAttention,
    /// Normalisation before the MLP.
    pub mlp_norm: LayerNorm,
    /// Gated feed-forward block.
    pub mlp: ModernBertMlp,
}

impl ModernBertEncoderLayer {
    /// Creates randomly initialised layer `index`.
    pub fn new(index: usize, config: &BertConfig, device: &Device) -> Self {
        let settings = settings(config);
        let h = config.hidden_size;
        let dropout = |prob| DropoutConfig::new(prob).init();
        Self {
            attn_norm: (index > 0).then(|| norm(config, device)),
            attn: ModernBertAttention {
                wqkv: linear(h, 3 * h, settings.attention_bias, config, device),
                wo: linear(h, h, settings.attention_bias, config, device),
                dropout: dropout(config.attention_probs_dropout_prob),
                out_drop: dropout(config.attention_probs_dropout_prob),
                num_heads: config.num_attention_heads,
                global: settings.is_global_layer(index),
                precision: Precision::F32,
            },
            mlp_norm: norm(config, device),
            mlp: ModernBertMlp {
                wi: linear(
                    h,
                    2 * config.intermediate_size,
                    settings.mlp_bias,
                    config,
                    device,
                ),
                wo: linear(
                    config.intermediate_size,
                    h,
                    settings.mlp_bias,
                    config,
                    device,
                ),
                drop: dropout(settings.mlp_dropout),
                activation: config.hidden_act,
                precision: Precision::F32,
            },
        }
    }

    /// `[B, S, H]` to `[B, S, H]`.
    pub fn forward(
        &self,
        hidden: Tensor<3>,
        mask_bias: Tensor<4>,
        rotary: &RotaryTables,
    ) -> Tensor<3> {
        let normed = match &self.attn_norm {
            Some(norm) => norm.forward(hidden.clone()),
            None => hidden.clone(),
        };
        let hidden = hidden + self.attn.forward(normed, mask_bias, rotary);
        let expanded = self.mlp.forward(self.mlp_norm.forward(hidden.clone()));
        hidden + expanded
    }
}

/// The ModernBERT encoder (`ModernBertModel`).
#[derive(Module, Debug)]
pub struct ModernBertModel {
    /// Token embeddings and their normalisation.
    pub embeddings: ModernBertEmbeddings,
    /// The layers, applied in order.
    pub layers: Vec<ModernBertEncoderLayer>,
    /// Normalisation of the last layer's output.
    pub final_norm: LayerNorm,
    /// Rotary base of the global layers.
    #[module(skip)]
    pub global_rope_theta: f64,
    /// Rotary base of the sliding-window layers.
    #[module(skip)]
    pub local_rope_theta: f64,
    /// A sliding-window layer's query sees the keys at most this far away
    /// (`local_attention / 2`).
    #[module(skip)]
    pub window_reach: usize,
}

impl ModernBertModel {
    /// Creates a randomly initialised model (`pretrained` loads weights).
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let settings = settings(config);
        Self {
            embeddings: ModernBertEmbeddings {
                tok_embeddings: EmbeddingConfig::new(config.vocab_size, config.hidden_size)
                    .with_initializer(normal_init(config.initializer_range))
                    .init(device),
                norm: norm(config, device),
                drop: DropoutConfig::new(settings.embedding_dropout).init(),
            },
            layers: (0..config.num_hidden_layers)
                .map(|index| ModernBertEncoderLayer::new(index, config, device))
                .collect(),
            final_norm: norm(config, device),
            global_rope_theta: settings.rope_theta(true),
            local_rope_theta: settings.rope_theta(false),
            window_reach: settings.local_attention / 2,
        }
    }

    /// Every linear layer with its module path (`layers.0.attn.wqkv`, ...).
    pub fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        let mut linears: Vec<(String, &mut Linear)> = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let at = |name: &str| format!("layers.{i}.{name}");
            linears.extend([
                (at("attn.wqkv"), &mut layer.attn.wqkv),
                (at("attn.wo"), &mut layer.attn.wo),
                (at("mlp.wi"), &mut layer.mlp.wi),
                (at("mlp.wo"), &mut layer.mlp.wo),
            ]);
        }
        linears
    }

    /// The same model with its matrix products in `precision` (parameters
    /// stay f32; see [`Precision`]).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        for layer in &mut self.layers {
            layer.attn.precision = precision;
            layer.mlp.precision = precision;
        }
        self
    }

    /// Encodes a batch: `[B, S]` ids to `[B, S, H]` hidden states (no
    /// pooler; token types are ignored, as ModernBERT has none).
    ///
    /// Padding (mask 0) never changes the outputs at real tokens.
    pub fn forward(&self, input: BertInput) -> BertModelOutput {
        let [_, seq_len] = input.input_ids.dims();
        let device = input.input_ids.device();
        let head_size = self.final_norm.gamma.dims()[0] / self.num_heads();
        let global_bias = attention_mask_bias(input.attention_mask.clone());
        // A window that spans the whole sequence masks nothing: no [B, 1, S, S] bias.
        let local_bias = if seq_len > self.window_reach + 1 {
            global_bias.clone() + window_bias(seq_len, self.window_reach, &device)
        } else {
            global_bias.clone()
        };
        let global_rotary = RotaryTables::new(self.global_rope_theta, seq_len, head_size, &device);
        let local_rotary = RotaryTables::new(self.local_rope_theta, seq_len, head_size, &device);
        let hidden = self.embeddings.forward(input.input_ids);
        let hidden = self.layers.iter().fold(hidden, |hidden, layer| {
            if layer.attn.global {
                layer.forward(hidden, global_bias.clone(), &global_rotary)
            } else {
                layer.forward(hidden, local_bias.clone(), &local_rotary)
            }
        });
        BertModelOutput {
            last_hidden_state: self.final_norm.forward(hidden),
            pooled_output: None,
            attention_mask: input.attention_mask,
        }
    }

    fn num_heads(&self) -> usize {
        self.layers.first().map_or(1, |layer| layer.attn.num_heads)
    }
}

/// `[1, 1, S, S]`: 0 where query and key are at most `reach` apart,
/// [`MASKED_SCORE`] elsewhere (`create_bidirectional_sliding_window_mask`),
/// made on the device.
pub fn window_bias(seq_len: usize, reach: usize, device: &Device) -> Tensor<4> {
    let positions = Tensor::<1, Int>::arange(0..seq_len as i64, device);
    let queries = positions.clone().reshape([seq_len, 1]);
    let keys = positions.reshape([1, seq_len]);
    let outside = (queries - keys).abs().greater_elem(reach as i64);
    Tensor::<2>::zeros([seq_len, seq_len], device)
        .mask_fill(outside, MASKED_SCORE)
        .unsqueeze::<4>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotary_tables_sliced_from_longer_ones_equal_those_built_for_the_length() {
        let device = Device::flex();
        for seq_len in [300, 5, 64, 65, 1] {
            let sliced = RotaryTables::new(10_000.0, seq_len, 16, &device);
            let built = RotaryTables::build(10_000.0, seq_len, 16, &device);
            sliced
                .cos
                .into_data()
                .assert_eq(&built.cos.into_data(), true);
            sliced
                .sin
                .into_data()
                .assert_eq(&built.sin.into_data(), true);
        }
    }

    #[test]
    fn the_window_bias_made_on_the_device_equals_the_host_loop() {
        let device = Device::flex();
        for (seq_len, reach) in [(1, 0), (9, 2), (70, 64)] {
            let host: Vec<f32> = (0..seq_len)
                .flat_map(|q: usize| {
                    (0..seq_len).map(move |k: usize| {
                        if q.abs_diff(k) <= reach {
                            0.0
                        } else {
                            MASKED_SCORE
                        }
                    })
                })
                .collect();
            let expected = TensorData::new(host, [1, 1, seq_len, seq_len]);
            window_bias(seq_len, reach, &device)
                .into_data()
                .assert_eq(&expected, true);
        }
    }
}
