//! BERT's pre-training heads (Hugging Face `BertForPreTraining`'s `cls.*`):
//! the masked-LM head, whose decoder is tied to the word embeddings, and the
//! next-sentence head on the pooled `[CLS]` output.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};

use super::TaskHead;
use crate::bert::{BertOutput, layer_norm, normal_init};
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
pub struct PreTrainingHeads {
    /// Masked-LM head.
    pub predictions: LmPredictionHead,
    /// Next-sentence head: `H -> 2` on the pooled output (0: B follows A, 1: B is random).
    pub seq_relationship: Linear,
}

/// Masked-LM and next-sentence heads.
#[derive(Module, Debug)]
pub struct PreTrainingHead {
    /// Checkpoint prefix `cls`.
    pub cls: PreTrainingHeads,
}

impl PreTrainingHead {
    /// Randomly initialised heads for `config` (zero decoder bias, as Hugging Face).
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let linear = |out| {
            LinearConfig::new(config.hidden_size, out)
                .with_initializer(normal_init(config.initializer_range))
                .init(device)
        };
        Self {
            cls: PreTrainingHeads {
                predictions: LmPredictionHead {
                    transform: PredictionTransform {
                        dense: linear(config.hidden_size),
                        activation: config.hidden_act,
                        layer_norm: layer_norm(config, device),
                    },
                    bias: Param::from_tensor(Tensor::zeros([config.vocab_size], device)),
                },
                seq_relationship: linear(2),
            },
        }
    }
}

/// What the heads predict before decoding.
pub struct PreTrainingOutput {
    /// Transformed hidden states, `[B, T, H]`, to decode at masked positions.
    pub transformed: Tensor<3>,
    /// Next-sentence logits, `[B, 2]`.
    pub nsp_logits: Tensor<2>,
}

impl TaskHead for PreTrainingHead {
    type Output = PreTrainingOutput;

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["cls"];

    fn forward(&self, encoded: BertOutput) -> PreTrainingOutput {
        let transform = &self.cls.predictions.transform;
        let hidden = transform
            .activation
            .apply(transform.dense.forward(encoded.last_hidden_state));
        PreTrainingOutput {
            transformed: transform.layer_norm.forward(hidden),
            nsp_logits: self.cls.seq_relationship.forward(encoded.pooled_output),
        }
    }
}

/// Hugging Face's `BertForPreTraining`.
pub type BertForPreTraining = BertForTask<PreTrainingHead>;

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
