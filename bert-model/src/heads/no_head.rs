//! [`NoHead`]: the encoder alone, for tasks that read its token states
//! themselves (sentence embeddings pool them).

use burn::module::Module;
use burn::tensor::Device;

use super::TaskHead;
use crate::config::BertConfig;
use crate::shared::BertModelOutput;

/// No head: the encoder's output as it is. A model with it is saved as
/// transformers saves a base model (`BertModel`, weights without the
/// `bert.` prefix).
#[derive(Module, Debug, Default)]
pub struct NoHead;

impl TaskHead for NoHead {
    /// The encoder's output.
    type Output = BertModelOutput;

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &[];
    const TASK: Option<&'static str> = None;

    fn for_config(_: &BertConfig, _: &Device) -> Self {
        Self
    }

    fn forward(&self, encoded: BertModelOutput) -> BertModelOutput {
        encoded
    }
}
