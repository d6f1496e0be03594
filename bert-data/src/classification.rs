//! Text classification items: tokenized once, batched with dynamic padding.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor};

use crate::dataset::{DatasetError, Example, LabelVocab};
use crate::item::encode_rows;
use crate::{BertTokenizer, Encoding, TargetBatch, TextBatcher};

/// One tokenized example and its class id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassificationItem {
    /// `[CLS] text [SEP] (pair [SEP])`, truncated.
    pub encoding: Encoding,
    /// Class id in the [`LabelVocab`].
    pub label: usize,
}

crate::item::text_item!(ClassificationItem => ClassificationBatch);

/// Tokenizes `examples` (pairs as `[CLS] A [SEP] B [SEP]`) and maps their
/// labels; the first failure names its file and line.
pub fn tokenize_examples(
    tokenizer: &BertTokenizer,
    examples: &[Example],
    labels: &LabelVocab,
) -> Result<Vec<ClassificationItem>, DatasetError> {
    encode_rows(tokenizer, examples, |example, encoding| {
        Ok(ClassificationItem {
            encoding,
            label: labels.id(example)?,
        })
    })
}

/// A batch ready for the model, with the class ids, `[B]`, as targets.
pub type ClassificationBatch = TargetBatch<Tensor<1, Int>>;

impl Batcher<ClassificationItem, ClassificationBatch> for TextBatcher {
    fn batch(&self, items: Vec<ClassificationItem>, device: &Device) -> ClassificationBatch {
        let labels: Vec<i64> = items.iter().map(|item| item.label as i64).collect();
        TargetBatch {
            input: self.input(items.iter().map(|item| &item.encoding), device),
            targets: Tensor::from_ints(labels.as_slice(), device),
        }
    }
}
