//! BERT's pretraining heads (Hugging Face `BertForPreTraining`'s `cls.*`):
//! the masked-LM head, whose decoder is tied to the word embeddings, and the
//! next-sentence head on the pooled `[CLS]` output.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};

use super::TaskHead;
use crate::bert::{BertModelOutput, normal_init};
use crate::config::{BertConfig, HiddenAct};
use crate::task::BertForTask;

/// `cls.predictions.transform`: dense, activation, LayerNorm.
#[derive(Module, Debug)]
pub struct PredictionTransform {
    /// `H -> H` projection.
    pub dense: Linear,
    /// The model's activation.
    #[module(skip)]
    pub activation: HiddenAct,
    /// Normalisation after the activation.
    pub layer_norm: LayerNorm,
}

/// `cls.predictions`: the transform and the output bias of the tied decoder.
#[derive(Module, Debug)]
pub struct LmPredictionHead {
    /// Hidden state to decoder input.
    pub transform: PredictionTransform,
    /// One bias per vocabulary entry, `[vocab_size]`.
    pub bias: Param<Tensor<1>>,
}

/// The two heads under Hugging Face's `cls.` prefix.
#[derive(Module, Debug)]
pub struct PretrainingHeads {
    /// Masked-LM head.
    pub predictions: LmPredictionHead,
    /// Next-sentence head: `H -> 2` on the pooled output (0: B follows A, 1: B is random).
    pub seq_relationship: Linear,
}

/// Masked-LM and next-sentence heads.
#[derive(Module, Debug)]
pub struct PretrainingHead {
    /// Checkpoint prefix `cls`.
    pub cls: PretrainingHeads,
}

/// Settings of a [`PretrainingHead`].
#[derive(Config, Debug)]
pub struct PretrainingHeadConfig {
    /// Width of the hidden states it reads (`hidden_size`).
    pub hidden_size: usize,
    /// Size of the vocabulary the decoder predicts (`vocab_size`).
    pub vocab_size: usize,
    /// Activation of the masked-LM transform (`hidden_act`).
    pub hidden_act: HiddenAct,
    /// Epsilon of the transform's LayerNorm.
    #[config(default = 1e-12)]
    pub layer_norm_eps: f64,
    /// Standard deviation of the initial weights.
    #[config(default = 0.02)]
    pub initializer_range: f64,
}

impl PretrainingHeadConfig {
    /// The heads Hugging Face would build for `config`.
    pub fn for_model(config: &BertConfig) -> Self {
        Self::new(config.hidden_size, config.vocab_size, config.hidden_act)
            .with_layer_norm_eps(config.layer_norm_eps)
            .with_initializer_range(config.initializer_range)
    }

    /// Randomly initialised heads (zero decoder bias, as Hugging Face).
    pub fn init(&self, device: &Device) -> PretrainingHead {
        let linear = |out| {
            LinearConfig::new(self.hidden_size, out)
                .with_initializer(normal_init(self.initializer_range))
                .init(device)
        };
        PretrainingHead {
            cls: PretrainingHeads {
                predictions: LmPredictionHead {
                    transform: PredictionTransform {
                        dense: linear(self.hidden_size),
                        activation: self.hidden_act,
                        layer_norm: LayerNormConfig::new(self.hidden_size)
                            .with_epsilon(self.layer_norm_eps)
                            .init(device),
                    },
                    bias: Param::from_tensor(Tensor::zeros([self.vocab_size], device)),
                },
                seq_relationship: linear(2),
            },
        }
    }
}

/// What the heads predict before decoding.
pub struct PretrainingHeadOutput {
    /// Transformed hidden states, `[B, T, H]`, to decode at masked positions.
    pub transformed: Tensor<3>,
    /// Next-sentence logits, `[B, 2]`.
    pub nsp_logits: Tensor<2>,
}

impl TaskHead for PretrainingHead {
    type Output = PretrainingHeadOutput;

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["cls"];
    const ARCHITECTURE: &'static str = "BertForPreTraining";

    fn forward(&self, encoded: BertModelOutput) -> PretrainingHeadOutput {
        let transform = &self.cls.predictions.transform;
        let hidden = transform
            .activation
            .apply(transform.dense.forward(encoded.last_hidden_state));
        PretrainingHeadOutput {
            transformed: transform.layer_norm.forward(hidden),
            nsp_logits: self.cls.seq_relationship.forward(encoded.pooled_output),
        }
    }
}

/// Hugging Face's `BertForPreTraining`.
pub type BertForPreTraining = BertForTask<PretrainingHead>;

impl BertForPreTraining {
    /// Vocabulary logits `[M, vocab_size]` at the flat positions
    /// `positions` (`[M]`, indices into `B * T`) of `transformed`, through the
    /// decoder tied to the word embeddings.
    pub fn mlm_logits(&self, transformed: Tensor<3>, positions: Tensor<1, Int>) -> Tensor<2> {
        let [batch, seq_len, hidden] = transformed.dims();
        let selected = transformed
            .reshape([batch * seq_len, hidden])
            .select(0, positions);
        let embeddings = self.bert.embeddings.word_embeddings.weight.val();
        selected.matmul(embeddings.transpose()) + self.head.cls.predictions.bias.val().unsqueeze()
    }
}
