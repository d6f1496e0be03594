//! The DeBERTa-v2/v3 encoder, module for module as `modeling_deberta_v2.py`
//! names it: embeddings (absolute positions and token types only when the
//! config has them, `embed_proj` when `embedding_size` differs), then
//! post-LayerNorm layers whose self-attention adds disentangled
//! relative-position terms to the content scores: content-to-position
//! (`c2p`: each query against the embedding of its distance to the key) and
//! position-to-content (`p2c`: each key against the embedding of the
//! distance), over relative embeddings shared by every layer, with distances
//! log-bucketed (`position_buckets`) or clamped (`max_relative_positions`).
//!
//! Shapes use `B` = batch, `S` = sequence length, `H` = hidden size,
//! `A` = attention heads, `D` = head size (`H / A`), `W` = the relative
//! embeddings a batch's distances use.

use burn::module::Module;
use burn::nn::{Dropout, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::bert::{
    BertIntermediate, BertOutput, BertSelfOutput, dropout, fused_query_key_value, layer_norm,
    linear,
};
use crate::config::{BertConfig, DebertaSettings};
use crate::dropout::apply_dropout;
use crate::linear::Linear;
use crate::precision::Precision;
use crate::shared::{
    BertInput, BertModelOutput, attention_mask_bias, normal_init, scaled_dot_product,
};
use crate::transfers::{cached, upload};

/// The settings of a DeBERTa config (`DebertaV2Config`'s defaults when the
/// config is of another family).
fn settings(config: &BertConfig) -> DebertaSettings {
    config.deberta.clone().unwrap_or_default()
}

/// Word embeddings, optional absolute positions and token types, optional
/// projection to `H`, LayerNorm, padding zeroed, dropout (`embeddings`).
#[derive(Module, Debug)]
pub struct DebertaV2Embeddings {
    /// One vector per token, `[vocab_size, E]`.
    pub word_embeddings: Embedding,
    /// One vector per position, `[max_position_embeddings, E]`, when
    /// `position_biased_input` (DeBERTa-v2); none in v3.
    pub position_embeddings: Option<Embedding>,
    /// One vector per segment, `[type_vocab_size, E]`, when `type_vocab_size > 0`.
    pub token_type_embeddings: Option<Embedding>,
    /// `E -> H` without bias, when `embedding_size` differs from `H`.
    pub embed_proj: Option<Linear>,
    /// Normalisation of the (projected) embeddings.
    pub layer_norm: LayerNorm,
    /// Dropout on the normalised embeddings.
    pub dropout: Dropout,
}

impl DebertaV2Embeddings {
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
            position_embeddings: settings(config)
                .position_biased_input
                .then(|| embedding(config.max_position_embeddings)),
            token_type_embeddings: (config.type_vocab_size > 0)
                .then(|| embedding(config.type_vocab_size)),
            embed_proj: (width != config.hidden_size).then(|| {
                Linear::new(
                    width,
                    config.hidden_size,
                    false,
                    normal_init(config.initializer_range),
                    device,
                )
            }),
            layer_norm: layer_norm(config, device),
            dropout: dropout(config.hidden_dropout_prob),
        }
    }

    /// `[B, S]` ids, segment ids and mask to `[B, S, H]`; padding positions are zero.
    pub fn forward(&self, input: &BertInput, precision: Precision) -> Tensor<3> {
        let [batch, seq_len] = input.input_ids.dims();
        let mut embeddings = self.word_embeddings.forward(input.input_ids.clone());
        if let Some(positions) = &self.position_embeddings {
            let max_positions = positions.weight.dims()[0];
            assert!(
                seq_len <= max_positions,
                "sequence of {seq_len} tokens is longer than the model's {max_positions} positions"
            );
            let position_ids = Tensor::<1, Int>::arange(0..seq_len as i64, &embeddings.device())
                .unsqueeze::<2>()
                .expand([batch, seq_len]);
            embeddings = embeddings + positions.forward(position_ids);
        }
        if let Some(token_types) = &self.token_type_embeddings {
            embeddings = embeddings + token_types.forward(input.token_type_ids.clone());
        }
        if let Some(project) = &self.embed_proj {
            embeddings = project.forward(embeddings, precision);
        }
        let mask = input
            .attention_mask
            .clone()
            .float()
            .reshape([batch, seq_len, 1]);
        apply_dropout(&self.dropout, self.layer_norm.forward(embeddings) * mask)
    }
}

/// Which entry of the relative embeddings each query-key pair reads, for one
/// sequence length: tables rebased onto the rows `first..first + W` that the
/// length uses.
#[derive(Clone, Debug)]
pub struct RelativePositions {
    /// `[1, 1, S, S]`: for query `i` and key `j`, the row of `i - j` (`c2p`).
    c2p: Tensor<4, Int>,
    /// `[1, 1, S, S]`: for key `j` and query `i`, the row of `j - i` seen
    /// from the key (`p2c`, before its transpose).
    p2c: Tensor<4, Int>,
    /// First row of the relative embeddings used.
    first: usize,
    /// Number of rows used, `W`.
    rows: usize,
}

impl RelativePositions {
    /// The tables of a sequence of `seq_len` tokens: distances bucketed as
    /// `settings` say, shifted by `span` and clamped to `0..2 * span`. Each
    /// entry depends only on the distance, so the tables are built once per
    /// device for a longer length ([`cached`]), sliced to `seq_len` and
    /// rebased on the device.
    pub fn new(
        seq_len: usize,
        span: usize,
        settings: &DebertaSettings,
        max_position_embeddings: usize,
        device: &Device,
    ) -> Self {
        let max_relative = settings.max_relative_positions(max_position_embeddings) as i64;
        let buckets = settings.position_buckets;
        let bucket = move |distance: i64| match buckets {
            buckets if buckets > 0 => log_bucket(distance, buckets, max_relative),
            _ => distance,
        };
        let span = span as i64;
        let row = move |distance: i64| (distance + span).clamp(0, 2 * span - 1);
        // c2p reads row(bucket(i - j)); p2c row(-bucket(j - i)), seen from the key.
        let distances = -(seq_len as i64 - 1)..seq_len as i64;
        let used = distances.flat_map(|d| [row(bucket(d)), row(-bucket(d))]);
        let (first, last) = used.fold((i64::MAX, i64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
        let key = format!("deberta-relative-{span}-{buckets}-{max_relative}");
        let (c2p, p2c) = cached(&key, device, seq_len, |size| {
            let positions = 0..size as i64;
            let table = |of: &dyn Fn(i64, i64) -> i64| -> Tensor<2, Int> {
                let values: Vec<i64> = positions
                    .clone()
                    .flat_map(|a| positions.clone().map(move |b| (a, b)))
                    .map(|(a, b)| of(a, b))
                    .collect();
                upload(TensorData::new(values, [size, size]), device)
            };
            (
                table(&|i, j| row(bucket(i - j))),
                // transformers: clamp(-relative_pos + span) at [key, query], then transposed.
                table(&|j, i| row(-bucket(j - i))),
            )
        });
        let rebased = |table: Tensor<2, Int>| {
            (table.slice([0..seq_len, 0..seq_len]) - first).unsqueeze::<4>()
        };
        Self {
            c2p: rebased(c2p),
            p2c: rebased(p2c),
            first: first as usize,
            rows: (last - first + 1) as usize,
        }
    }
}

/// `make_log_bucket_position` of one relative distance: exact within half
/// the buckets, logarithmic beyond, up to `max_position` (computed in f32,
/// as transformers does).
pub fn log_bucket(distance: i64, buckets: i64, max_position: i64) -> i64 {
    let mid = buckets / 2;
    let magnitude = if distance < mid && distance > -mid {
        mid - 1
    } else {
        distance.abs()
    };
    if magnitude <= mid {
        return distance;
    }
    let ratio = (magnitude as f32 / mid as f32).ln();
    let range = (((max_position - 1) as f64 / mid as f64) as f32).ln();
    let log_position = (ratio / range * (mid - 1) as f32).ceil() + mid as f32;
    distance.signum() * log_position as i64
}

/// Multi-head attention with the disentangled relative terms
/// (`attention.self`, `DisentangledSelfAttention`).
#[derive(Module, Debug)]
pub struct DisentangledSelfAttention {
    /// Query projection, `H -> H`.
    pub query_proj: Linear,
    /// Key projection, `H -> H`.
    pub key_proj: Linear,
    /// Value projection, `H -> H`.
    pub value_proj: Linear,
    /// Keys of the relative embeddings for `c2p` when keys are not shared.
    pub pos_key_proj: Option<Linear>,
    /// Queries of the relative embeddings for `p2c` when keys are not shared.
    pub pos_query_proj: Option<Linear>,
    /// Dropout on the attention probabilities.
    pub dropout: Dropout,
    /// Dropout on the relative embeddings (`pos_dropout`, `hidden_dropout_prob`).
    pub pos_dropout: Dropout,
    /// Number of heads `A`.
    pub num_heads: usize,
    /// Whether the scores get the content-to-position term.
    #[module(skip)]
    pub c2p: bool,
    /// Whether the scores get the position-to-content term.
    #[module(skip)]
    pub p2c: bool,
    /// Float type of the products (see [`Precision`]).
    #[module(skip)]
    pub precision: Precision,
}

impl DisentangledSelfAttention {
    /// Creates randomly initialised projections.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let settings = settings(config);
        let h = config.hidden_size;
        let separate = settings.relative_attention && !settings.share_att_key;
        Self {
            query_proj: linear(h, h, config, device),
            key_proj: linear(h, h, config, device),
            value_proj: linear(h, h, config, device),
            pos_key_proj: (separate && settings.c2p()).then(|| linear(h, h, config, device)),
            pos_query_proj: (separate && settings.p2c()).then(|| linear(h, h, config, device)),
            dropout: dropout(config.attention_probs_dropout_prob),
            pos_dropout: dropout(config.hidden_dropout_prob),
            num_heads: config.num_attention_heads,
            c2p: settings.c2p(),
            p2c: settings.p2c(),
            precision: Precision::F32,
        }
    }

    /// `[B, S, H]` to `[B, S, H]` contexts; `mask_bias` broadcasts to
    /// `[B, A, S, S]`; `relative` gives the relative embeddings the batch
    /// uses (`[W, H]`, normalised) and their tables, when the model has
    /// relative attention.
    pub fn forward(
        &self,
        hidden: Tensor<3>,
        mask_bias: Tensor<4>,
        relative: Option<(&Tensor<2>, &RelativePositions)>,
    ) -> Tensor<3> {
        let [batch, seq_len, width] = hidden.dims();
        let [query, key, value] = fused_query_key_value(
            [&self.query_proj, &self.key_proj, &self.value_proj],
            hidden,
            self.num_heads,
            self.precision,
        );
        let scale_factor = 1 + usize::from(self.c2p) + usize::from(self.p2c);
        let head_size = width / self.num_heads;
        let scale = ((head_size * scale_factor) as f64).sqrt().recip();
        let mut bias = mask_bias;
        let scores = relative.and_then(|(embeddings, positions)| {
            self.relative_scores([&query, &key], embeddings, positions, scale)
        });
        if let Some(scores) = scores {
            bias = bias + scores;
        }
        // The content scores are divided by √(D · scale_factor): the fused
        // attention divides by √D, the queries by the rest.
        let query = query * (scale_factor as f64).sqrt().recip();
        let context = scaled_dot_product([query, key, value], bias, &self.dropout, self.precision);
        context.swap_dims(1, 2).reshape([batch, seq_len, width])
    }

    /// `c2p + p2c`, each divided by √(D · scale_factor) (`scale`), `[B, A, S, S]`;
    /// `None` when `pos_att_type` names neither (transformers then adds no
    /// relative term).
    fn relative_scores(
        &self,
        [query, key]: [&Tensor<4>; 2],
        embeddings: &Tensor<2>,
        positions: &RelativePositions,
        scale: f64,
    ) -> Option<Tensor<4>> {
        let [batch, heads, seq_len, _] = query.dims();
        let embeddings = apply_dropout(&self.pos_dropout, embeddings.clone()).unsqueeze::<3>();
        // `[1, W, H]` through a projection to `[B, A, D, W]` (transposed, broadcast).
        let project = |layer: &Linear| {
            let [_, rows, width] = embeddings.dims();
            let head_size = width / heads;
            layer
                .forward(embeddings.clone(), self.precision)
                .reshape([1, rows, heads, head_size])
                .permute([0, 2, 3, 1])
                .expand([batch, heads, head_size, rows])
        };
        let gathered = |scores: Tensor<4>, table: &Tensor<4, Int>| {
            scores.gather(3, table.clone().expand([batch, heads, seq_len, seq_len]))
        };
        let mut total: Option<Tensor<4>> = None;
        if self.c2p {
            let position_keys = project(self.pos_key_proj.as_ref().unwrap_or(&self.key_proj));
            let scores = self.precision.matmul(query.clone() * scale, position_keys);
            total = Some(gathered(scores, &positions.c2p));
        }
        if self.p2c {
            let position_queries =
                project(self.pos_query_proj.as_ref().unwrap_or(&self.query_proj));
            let scores = self.precision.matmul(key.clone(), position_queries * scale);
            let p2c = gathered(scores, &positions.p2c).swap_dims(2, 3);
            total = Some(match total {
                Some(c2p) => c2p + p2c,
                None => p2c,
            });
        }
        total
    }
}

/// Self-attention followed by its residual output (`attention`).
#[derive(Module, Debug)]
pub struct DebertaV2Attention {
    /// Disentangled self-attention (`attention.self` in checkpoints).
    pub self_attention: DisentangledSelfAttention,
    /// Projection, dropout and residual LayerNorm.
    pub output: BertSelfOutput,
}

/// One post-LayerNorm layer (`encoder.layer.N`).
#[derive(Module, Debug)]
pub struct DebertaV2Layer {
    /// Self-attention block.
    pub attention: DebertaV2Attention,
    /// Feed-forward expansion.
    pub intermediate: BertIntermediate,
    /// Feed-forward projection with residual LayerNorm.
    pub output: BertOutput,
}

impl DebertaV2Layer {
    /// Creates a randomly initialised layer.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            attention: DebertaV2Attention {
                self_attention: DisentangledSelfAttention::new(config, device),
                output: BertSelfOutput::new(config.hidden_size, config, device),
            },
            intermediate: BertIntermediate::new(config, device),
            output: BertOutput::new(config.intermediate_size, config, device),
        }
    }

    /// `[B, S, H]` to `[B, S, H]`.
    pub fn forward(
        &self,
        hidden: Tensor<3>,
        mask_bias: Tensor<4>,
        relative: Option<(&Tensor<2>, &RelativePositions)>,
    ) -> Tensor<3> {
        let context = self
            .attention
            .self_attention
            .forward(hidden.clone(), mask_bias, relative);
        let attended = self.attention.output.forward(context, hidden);
        let expanded = self.intermediate.forward(attended.clone());
        self.output.forward(expanded, attended)
    }
}

/// The layers and the relative embeddings they share (`encoder`).
#[derive(Module, Debug)]
pub struct DebertaV2Encoder {
    /// The layers, applied in order.
    pub layer: Vec<DebertaV2Layer>,
    /// `[2 · span, H]`, row `span + d` for (bucketed) distance `d`; none
    /// without relative attention.
    pub rel_embeddings: Option<Embedding>,
    /// Normalisation of the relative embeddings (`norm_rel_ebd: layer_norm`).
    pub layer_norm: Option<LayerNorm>,
}

/// The DeBERTa-v2/v3 encoder (`DebertaV2Model`).
#[derive(Module, Debug)]
pub struct DebertaV2Model {
    /// Embeddings and their normalisation.
    pub embeddings: DebertaV2Embeddings,
    /// The layers and relative embeddings.
    pub encoder: DebertaV2Encoder,
    /// The config's relative-position settings.
    #[module(skip)]
    pub settings: DebertaSettings,
    /// `max_position_embeddings`, the default relative distance covered.
    #[module(skip)]
    pub max_position_embeddings: usize,
    /// Float type of the embeddings' projection (see [`Precision`]).
    #[module(skip)]
    pub precision: Precision,
}

impl DebertaV2Model {
    /// Creates a randomly initialised model (`pretrained` loads weights).
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let settings = settings(config);
        let span = settings.attention_span(config.max_position_embeddings);
        Self {
            embeddings: DebertaV2Embeddings::new(config, device),
            encoder: DebertaV2Encoder {
                layer: (0..config.num_hidden_layers)
                    .map(|_| DebertaV2Layer::new(config, device))
                    .collect(),
                rel_embeddings: settings.relative_attention.then(|| {
                    EmbeddingConfig::new(2 * span, config.hidden_size)
                        .with_initializer(normal_init(config.initializer_range))
                        .init(device)
                }),
                layer_norm: settings.normalises_relative_embeddings().then(|| {
                    LayerNormConfig::new(config.hidden_size)
                        .with_epsilon(config.layer_norm_eps)
                        .init(device)
                }),
            },
            settings,
            max_position_embeddings: config.max_position_embeddings,
            precision: Precision::F32,
        }
    }

    /// Every linear layer with its module path (`encoder.layer.0.attention.self_attention.query_proj`, ...).
    pub fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        let mut linears: Vec<(String, &mut Linear)> = Vec::new();
        if let Some(project) = &mut self.embeddings.embed_proj {
            linears.push(("embeddings.embed_proj".into(), project));
        }
        for (i, layer) in self.encoder.layer.iter_mut().enumerate() {
            let at = |name: &str| format!("encoder.layer.{i}.{name}");
            let attention = &mut layer.attention.self_attention;
            linears.extend([
                (
                    at("attention.self_attention.query_proj"),
                    &mut attention.query_proj,
                ),
                (
                    at("attention.self_attention.key_proj"),
                    &mut attention.key_proj,
                ),
                (
                    at("attention.self_attention.value_proj"),
                    &mut attention.value_proj,
                ),
            ]);
            if let Some(project) = &mut attention.pos_key_proj {
                linears.push((at("attention.self_attention.pos_key_proj"), project));
            }
            if let Some(project) = &mut attention.pos_query_proj {
                linears.push((at("attention.self_attention.pos_query_proj"), project));
            }
            linears.extend([
                (
                    at("attention.output.dense"),
                    &mut layer.attention.output.dense,
                ),
                (at("intermediate.dense"), &mut layer.intermediate.dense),
                (at("output.dense"), &mut layer.output.dense),
            ]);
        }
        linears
    }

    /// The same model with its matrix products in `precision` (parameters
    /// stay f32; see [`Precision`]).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        for layer in &mut self.encoder.layer {
            layer.attention.self_attention.precision = precision;
            layer.attention.output.precision = precision;
            layer.intermediate.precision = precision;
            layer.output.precision = precision;
        }
        self
    }

    /// Encodes a batch: `[B, S]` ids to `[B, S, H]` hidden states (no pooler).
    ///
    /// Padding (mask 0) never changes the outputs at real tokens.
    pub fn forward(&self, input: BertInput) -> BertModelOutput {
        let [_, seq_len] = input.input_ids.dims();
        let device = input.input_ids.device();
        let mask_bias = attention_mask_bias(input.attention_mask.clone());
        let relative = self.encoder.rel_embeddings.as_ref().map(|table| {
            let span = table.weight.dims()[0] / 2;
            let positions = RelativePositions::new(
                seq_len,
                span,
                &self.settings,
                self.max_position_embeddings,
                &device,
            );
            let rows = table
                .weight
                .val()
                .narrow(0, positions.first, positions.rows);
            let rows = match &self.encoder.layer_norm {
                Some(norm) => norm.forward(rows),
                None => rows,
            };
            (rows, positions)
        });
        let relative = relative.as_ref().map(|(rows, positions)| (rows, positions));
        let hidden = self.embeddings.forward(&input, self.precision);
        let hidden = self.encoder.layer.iter().fold(hidden, |hidden, layer| {
            layer.forward(hidden, mask_bias.clone(), relative)
        });
        BertModelOutput {
            last_hidden_state: hidden,
            pooled_output: None,
            attention_mask: input.attention_mask,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_buckets_are_exact_near_zero_and_odd() {
        // DeBERTa-v3: 256 buckets over 512 positions.
        for distance in -127..=127 {
            assert_eq!(log_bucket(distance, 256, 512), distance);
        }
        for distance in 1..2000 {
            assert_eq!(
                log_bucket(-distance, 256, 512),
                -log_bucket(distance, 256, 512)
            );
        }
        assert!(log_bucket(1000, 256, 512) > 128);
    }

    /// The host-built tables every forward pass used to upload: `c2p` at
    /// `[i, j]` the row of `i - j`, `p2c` at `[j, i]` that of `-(j - i)`,
    /// rebased onto the rows used.
    fn host_tables(seq_len: usize, span: i64, bucket: impl Fn(i64) -> i64) -> (Vec<i64>, Vec<i64>) {
        let row = |distance: i64| (distance + span).clamp(0, 2 * span - 1);
        let n = seq_len as i64;
        let c2p: Vec<i64> = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| row(bucket(i - j)))
            .collect();
        let p2c: Vec<i64> = (0..n)
            .flat_map(|j| (0..n).map(move |i| (j, i)))
            .map(|(j, i)| row(-bucket(j - i)))
            .collect();
        let first = c2p.iter().chain(&p2c).copied().min().unwrap();
        let rebase = |table: Vec<i64>| table.into_iter().map(|r| r - first).collect();
        (rebase(c2p), rebase(p2c))
    }

    #[test]
    fn cached_relative_positions_equal_the_host_built_tables() {
        let device = Device::flex();
        let v3 = DebertaSettings {
            position_buckets: 256,
            ..DebertaSettings::default()
        };
        let v2 = DebertaSettings::default();
        // Longer lengths first, so that the shorter ones are sliced.
        for (settings, span) in [(&v3, 256usize), (&v2, 512)] {
            for seq_len in [300, 7, 1, 64, 65, 129] {
                let positions = RelativePositions::new(seq_len, span, settings, 512, &device);
                let max_relative = settings.max_relative_positions(512) as i64;
                let buckets = settings.position_buckets;
                let bucket = |d: i64| {
                    if buckets > 0 {
                        log_bucket(d, buckets, max_relative)
                    } else {
                        d
                    }
                };
                let (c2p, p2c) = host_tables(seq_len, span as i64, bucket);
                let values = |t: &Tensor<4, Int>| {
                    t.clone()
                        .into_data()
                        .convert::<i64>()
                        .try_to_vec::<i64>()
                        .unwrap()
                };
                assert_eq!(values(&positions.c2p), c2p, "c2p at {seq_len}");
                assert_eq!(values(&positions.p2c), p2c, "p2c at {seq_len}");
                let rows = c2p.iter().chain(&p2c).max().unwrap() + 1;
                assert_eq!(positions.rows as i64, rows);
            }
        }
    }
}
