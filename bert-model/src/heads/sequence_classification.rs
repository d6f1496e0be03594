//! Sequence classification as each family's `...ForSequenceClassification`
//! does it: BERT reads the pooled `[CLS]` output (dropout + `classifier`);
//! RoBERTa, XLM-R and ELECTRA put `classifier.dense` + tanh (GELU for
//! ELECTRA) + `classifier.out_proj` on the first token; DistilBERT
//! `pre_classifier` + ReLU + `classifier`; ModernBERT pools the first token
//! or the mean of the real tokens (`classifier_pooling`), then `head`
//! (dense, GELU, LayerNorm), dropout and `classifier`; DeBERTa its
//! `pooler` (dropout, dense, `pooler_hidden_act`) on the first token, then
//! dropout and `classifier`.

use burn::module::Module;
use burn::nn::{Dropout, Linear};
use burn::tensor::activation::{gelu, relu, tanh};
use burn::tensor::{Device, Tensor};

use super::transform::modernbert_names;
use super::{ClassifierHeadConfig, PredictionTransform, TaskHead};
use crate::config::{BertConfig, ClassifierPooling, HiddenAct, ModelFamily};
use crate::dropout::apply_dropout;
use crate::pooling::mean_pool;
use crate::shared::{BertModelOutput, first_token};

/// A classification head over the whole sequence (build it with
/// [`ClassifierHeadConfig::init`](super::ClassifierHeadConfig::init)).
#[derive(Module, Debug)]
pub struct SequenceClassificationHead {
    /// Dropout before each projection.
    pub dropout: Dropout,
    /// The first token's `H -> H` projection (RoBERTa, XLM-R, ELECTRA:
    /// `classifier.dense`; DistilBERT: `pre_classifier`); none for BERT and
    /// ModernBERT.
    pub dense: Option<Linear>,
    /// ModernBERT's `head` on the pooled tokens; none for the other families.
    pub transform: Option<PredictionTransform>,
    /// Projection to one logit per class, `H -> num_labels` (`classifier`;
    /// `classifier.out_proj` for RoBERTa, XLM-R and ELECTRA).
    pub classifier: Linear,
    /// DeBERTa's dropout on the first token before its pooler's `dense`
    /// (`pooler_dropout`); none for the other families.
    pub pooler_dropout: Option<Dropout>,
    /// DeBERTa's pooler activation (`pooler_hidden_act`); unused by the other families.
    #[module(skip)]
    pub pooler_activation: HiddenAct,
    /// The family whose head this is.
    #[module(skip)]
    pub family: ModelFamily,
    /// How ModernBERT's head pools the tokens.
    #[module(skip)]
    pub pooling: ClassifierPooling,
}

impl SequenceClassificationHead {
    /// Number of classes the head predicts.
    pub fn num_labels(&self) -> usize {
        self.classifier.weight.dims()[1]
    }
}

impl TaskHead for SequenceClassificationHead {
    /// Logits, `[B, num_labels]`.
    type Output = Tensor<2>;

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["classifier", "pre_classifier", "head"];
    const TASK: Option<&'static str> = Some("SequenceClassification");

    fn for_config(config: &BertConfig, device: &Device) -> Self {
        ClassifierHeadConfig::for_model(config, config.labels().len()).init(device)
    }

    fn forward(&self, encoded: BertModelOutput) -> Tensor<2> {
        if let Some(transform) = &self.transform {
            let pooled = match self.pooling {
                ClassifierPooling::Cls => first_token(encoded.last_hidden_state),
                ClassifierPooling::Mean => {
                    mean_pool(encoded.last_hidden_state, encoded.attention_mask)
                }
            };
            let hidden = apply_dropout(&self.dropout, transform.forward(pooled));
            return self.classifier.forward(hidden);
        }
        let Some(dense) = &self.dense else {
            let pooled = encoded
                .pooled_output
                .expect("a BERT classification head reads the pooler");
            return self
                .classifier
                .forward(apply_dropout(&self.dropout, pooled));
        };
        let first = first_token(encoded.last_hidden_state);
        let hidden = match self.family {
            ModelFamily::DistilBert => relu(dense.forward(first)),
            ModelFamily::DebertaV2 => {
                let first = match &self.pooler_dropout {
                    Some(dropout) => apply_dropout(dropout, first),
                    None => first,
                };
                self.pooler_activation.apply(dense.forward(first))
            }
            ModelFamily::Electra => gelu(dense.forward(apply_dropout(&self.dropout, first))),
            _ => tanh(dense.forward(apply_dropout(&self.dropout, first))),
        };
        self.classifier
            .forward(apply_dropout(&self.dropout, hidden))
    }

    fn checkpoint_names(&self) -> Vec<(&'static str, &'static str)> {
        match self.family {
            ModelFamily::Bert => vec![("^classifier\\.", "head.classifier.")],
            ModelFamily::ModernBert => modernbert_names("head.classifier."),
            ModelFamily::DistilBert => vec![
                ("^pre_classifier\\.", "head.dense."),
                ("^classifier\\.", "head.classifier."),
            ],
            ModelFamily::DebertaV2 => vec![
                ("^pooler\\.dense\\.", "head.dense."),
                ("^classifier\\.", "head.classifier."),
            ],
            _ => vec![
                ("^classifier\\.dense\\.", "head.dense."),
                ("^classifier\\.out_proj\\.", "head.classifier."),
            ],
        }
    }
}
