//! Text classification items: tokenized once, batched with dynamic padding.

use bert_model::BertInput;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor};

use crate::dataset::{DatasetError, Example, LabelVocab, Origin};
use crate::{BertTokenizer, Encoding, TextBatcher};

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
    examples
        .iter()
        .map(|example| {
            Ok(ClassificationItem {
                encoding: encode_row(
                    tokenizer,
                    &example.text,
                    example.text_pair.as_deref(),
                    &example.origin,
                )?,
                label: labels.id(example)?,
            })
        })
        .collect()
}

/// Encodes `text` (and `pair`) read at `origin`; a failure names its file and line.
pub(crate) fn encode_row(
    tokenizer: &BertTokenizer,
    text: &str,
    pair: Option<&str>,
    origin: &Origin,
) -> Result<Encoding, DatasetError> {
    tokenizer
        .encode_text(text, pair)
        .map_err(|e| DatasetError::Row {
            origin: origin.to_string(),
            message: e.to_string(),
        })
}

/// A batch ready for the model.
#[derive(Clone, Debug)]
pub struct ClassificationBatch {
    /// Padded token ids, segments and mask.
    pub input: BertInput,
    /// Class ids, `[B]`.
    pub labels: Tensor<1, Int>,
}

impl Batcher<ClassificationItem, ClassificationBatch> for TextBatcher {
    fn batch(&self, items: Vec<ClassificationItem>, device: &Device) -> ClassificationBatch {
        let labels: Vec<i64> = items.iter().map(|item| item.label as i64).collect();
        ClassificationBatch {
            input: self.input(items.iter().map(|item| &item.encoding), device),
            labels: Tensor::from_ints(labels.as_slice(), device),
        }
    }
}
