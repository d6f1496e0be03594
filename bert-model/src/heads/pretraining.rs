//! BERT's pretraining heads (Hugging Face `BertForPreTraining`'s `cls.*`):
//! the masked-LM head, whose decoder is tied to the word embeddings, and the
//! next-sentence head on the pooled `[CLS]` output. The other families'
//! masked-LM heads are the same modules under their names (ModernBERT:
//! `head` and `decoder`).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::{PredictionTransform, TaskHead, TransformShape};
use crate::config::{BertConfig, HiddenAct, ModelFamily};
use crate::shared::{BertModelOutput, normal_init};

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
    /// Next-sentence head: `H -> 2` on the pooled output (0: B follows A, 1:
    /// B is random); BERT only.
    pub seq_relationship: Option<Linear>,
}

/// Masked-LM (and, for BERT, next-sentence) heads: BERT's `cls.*`,
/// RoBERTa's, XLM-R's and MPNet's `lm_head.*`, DistilBERT's `vocab_*`,
/// ModernBERT's `head.*` and `decoder.bias`.
#[derive(Module, Debug)]
pub struct PretrainingHead {
    /// Checkpoint prefix `cls` (BERT's names).
    pub cls: PretrainingHeads,
    /// The family whose names the head's weights carry.
    #[module(skip)]
    pub family: ModelFamily,
    /// DeBERTa with `legacy: false`: the weights are `lm_predictions.lm_head.*`
    /// (else BERT's `cls.predictions.*`).
    #[module(skip)]
    pub lm_predictions: bool,
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
    /// The family whose heads to build (next-sentence for BERT only).
    #[config(default = "ModelFamily::Bert")]
    pub family: ModelFamily,
    /// Whether the transform's projection and LayerNorm have biases
    /// (ModernBERT: `classifier_bias`, `norm_bias`).
    #[config(default = "(true, true)")]
    pub biases: (bool, bool),
    /// DeBERTa's non-legacy names (`lm_predictions.lm_head`).
    #[config(default = false)]
    pub lm_predictions: bool,
}

impl PretrainingHeadConfig {
    /// The heads Hugging Face would build for `config` (RoBERTa's LM head
    /// always uses GELU; ModernBERT's is its `head`).
    pub fn for_model(config: &BertConfig) -> Self {
        let activation = match config.model_type {
            ModelFamily::Roberta | ModelFamily::XlmRoberta | ModelFamily::MpNet => HiddenAct::Gelu,
            _ => config.hidden_act,
        };
        let modernbert = TransformShape::modernbert(config);
        let activation = modernbert.map_or(activation, |shape| shape.activation);
        let biases = modernbert.map_or((true, true), |shape| (shape.dense_bias, shape.norm_bias));
        Self::new(config.hidden_size, config.vocab_size, activation)
            .with_layer_norm_eps(config.layer_norm_eps)
            .with_initializer_range(config.initializer_range)
            .with_family(config.model_type)
            .with_biases(biases)
            .with_lm_predictions(
                config
                    .deberta
                    .as_ref()
                    .is_some_and(|settings| !settings.legacy),
            )
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
                    transform: TransformShape {
                        width: self.hidden_size,
                        activation: self.hidden_act,
                        dense_bias: self.biases.0,
                        norm_bias: self.biases.1,
                        layer_norm_eps: self.layer_norm_eps,
                    }
                    .init(self.initializer_range, device),
                    bias: Param::from_tensor(Tensor::zeros([self.vocab_size], device)),
                },
                seq_relationship: (self.family == ModelFamily::Bert).then(|| linear(2)),
            },
            family: self.family,
            lm_predictions: self.lm_predictions,
        }
    }
}

/// What the heads predict before decoding.
pub struct PretrainingHeadOutput {
    /// Transformed hidden states, `[B, T, H]`, to decode at masked positions.
    pub transformed: Tensor<3>,
    /// Next-sentence logits, `[B, 2]` (BERT).
    pub nsp_logits: Option<Tensor<2>>,
}

impl TaskHead for PretrainingHead {
    type Output = PretrainingHeadOutput;

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &[
        "cls",
        "lm_head",
        "vocab_transform",
        "vocab_layer_norm",
        "vocab_projector",
        "head",
        "decoder",
        "lm_predictions",
    ];
    const TASK: Option<&'static str> = Some("MaskedLM");

    fn for_config(config: &BertConfig, device: &Device) -> Self {
        PretrainingHeadConfig::for_model(config).init(device)
    }

    fn forward(&self, encoded: BertModelOutput) -> PretrainingHeadOutput {
        let transformed = self
            .cls
            .predictions
            .transform
            .forward(encoded.last_hidden_state);
        let nsp_logits = self.cls.seq_relationship.as_ref().map(|head| {
            head.forward(
                encoded
                    .pooled_output
                    .expect("the next-sentence head reads BERT's pooler"),
            )
        });
        PretrainingHeadOutput {
            transformed,
            nsp_logits,
        }
    }

    fn checkpoint_names(&self) -> Vec<(&'static str, &'static str)> {
        const TRANSFORM_DENSE: &str = "head.cls.predictions.transform.dense.";
        const TRANSFORM_NORM: &str = "head.cls.predictions.transform.layer_norm.";
        match self.family {
            ModelFamily::Roberta | ModelFamily::XlmRoberta | ModelFamily::MpNet => vec![
                ("^lm_head\\.dense\\.", TRANSFORM_DENSE),
                ("^lm_head\\.layer_norm\\.", TRANSFORM_NORM),
                ("^lm_head\\.bias", "head.cls.predictions.bias"),
                ("^lm_head\\.decoder\\.", "head.cls.predictions.decoder."),
            ],
            ModelFamily::ModernBert => vec![
                ("^head\\.dense\\.", TRANSFORM_DENSE),
                ("^head\\.norm\\.", TRANSFORM_NORM),
                ("^decoder\\.bias", "head.cls.predictions.bias"),
                ("^decoder\\.weight", "head.cls.predictions.decoder.weight"),
            ],
            ModelFamily::DebertaV2 if self.lm_predictions => vec![
                ("^lm_predictions\\.lm_head\\.dense\\.", TRANSFORM_DENSE),
                ("^lm_predictions\\.lm_head\\.LayerNorm\\.", TRANSFORM_NORM),
                (
                    "^lm_predictions\\.lm_head\\.bias",
                    "head.cls.predictions.bias",
                ),
            ],
            ModelFamily::DistilBert => vec![
                ("^vocab_transform\\.", TRANSFORM_DENSE),
                ("^vocab_layer_norm\\.", TRANSFORM_NORM),
                ("^vocab_projector\\.bias", "head.cls.predictions.bias"),
                (
                    "^vocab_projector\\.weight",
                    "head.cls.predictions.decoder.weight",
                ),
            ],
            _ => Vec::new(),
        }
    }

    /// `BertForPreTraining` with the next-sentence head, else `...ForMaskedLM`.
    fn architecture(&self, family: ModelFamily) -> String {
        let task = match self.cls.seq_relationship {
            Some(_) => "PreTraining",
            None => "MaskedLM",
        };
        format!("{}For{task}", family.class_prefix())
    }
}
