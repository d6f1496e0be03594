//! Task heads: small modules that turn the encoder's output into a task's prediction.
//!
//! A head implements [`TaskHead`]; [`BertForTask`](crate::BertForTask) pairs it with
//! an [`Encoder`](crate::Encoder) of any family, so adding a task means adding a head.

mod classifier_config;
mod no_head;
mod pretraining;
mod question_answering;
mod sequence_classification;
mod token_classification;
mod transform;

pub use classifier_config::{ClassifierHeadConfig, ContextPoolerShape};
pub use no_head::NoHead;
pub use pretraining::{
    LmPredictionHead, PretrainingHead, PretrainingHeadConfig, PretrainingHeadOutput,
    PretrainingHeads,
};
pub use question_answering::{QuestionAnsweringHead, QuestionAnsweringHeadConfig, SpanLogits};
pub use sequence_classification::SequenceClassificationHead;
pub use token_classification::TokenClassificationHead;
pub use transform::{PredictionTransform, TransformShape};

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Device;

use crate::config::{BertConfig, ModelFamily};
use crate::shared::BertModelOutput;

/// A swappable layer on top of an [`Encoder`](crate::Encoder).
pub trait TaskHead: Module + ModuleDisplay {
    /// What the head predicts, e.g. `[B, num_labels]` logits.
    type Output;

    /// Top-level names of this head's weights in Hugging Face checkpoints,
    /// e.g. `["classifier"]` for `classifier.weight` and `classifier.bias`.
    const CHECKPOINT_PREFIXES: &'static [&'static str];

    /// The task part of the transformers class that opens a checkpoint with
    /// this head, e.g. `SequenceClassification` for
    /// `BertForSequenceClassification` (see [`Self::architecture`]); `None` for a
    /// head transformers has no class for (it opens the encoder).
    const TASK: Option<&'static str>;

    /// `(checkpoint name pattern, module path)` pairs that map the head's
    /// checkpoint names to its fields under `head.`; by default each prefix
    /// keeps its name (`classifier.*` to `head.classifier.*`).
    fn checkpoint_names(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    /// The transformers class of `family` with this head, e.g.
    /// `RobertaForTokenClassification` (`RobertaModel` without a [`Self::TASK`]).
    fn architecture(&self, family: ModelFamily) -> String {
        match Self::TASK {
            Some(task) => format!("{}For{task}", family.class_prefix()),
            None => format!("{}Model", family.class_prefix()),
        }
    }

    /// A randomly initialised head for a model of `config`, as transformers
    /// builds it from the config: a classifier has one output per label of
    /// its `id2label` (`num_labels`).
    fn for_config(config: &BertConfig, device: &Device) -> Self;

    /// Predicts from the encoder's output.
    fn forward(&self, encoded: BertModelOutput) -> Self::Output;
}

/// Prefixes of every head this crate knows, so that loading an encoder from a
/// checkpoint made for another task can tell a foreign head from a wrong tensor.
pub const KNOWN_HEAD_PREFIXES: &[&str] = &[
    "classifier",
    "pre_classifier",
    "qa_outputs",
    "cls",
    "lm_head",
    "vocab_transform",
    "vocab_layer_norm",
    "vocab_projector",
    "discriminator_predictions",
    "generator_predictions",
    "generator_lm_head",
    "head",
    "decoder",
    "lm_predictions",
    "mask_predictions",
];
