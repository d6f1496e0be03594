//! Text classification items: tokenized once, batched with dynamic padding.

use bert_model::BertInput;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor};

use crate::dataset::{DatasetError, Example, LabelVocab};
use crate::{BertTokenizer, Encoding, PaddedBatch};

/// One tokenized example and its class id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassificationItem {
    /// `[CLS] text [SEP] (pair [SEP])`, truncated.
    pub encoding: Encoding,
    /// Class id in the [`LabelVocab`].
    pub label: usize,
}

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
            let encoding = match &example.text_pair {
                Some(pair) => tokenizer.encode_pair(&example.text, pair),
                None => tokenizer.encode(&example.text),
            }
            .map_err(|e| DatasetError::Row {
                origin: example.origin.to_string(),
                message: e.to_string(),
            })?;
            Ok(ClassificationItem {
                encoding,
                label: labels.id(example)?,
            })
        })
        .collect()
}

/// A batch ready for the model.
#[derive(Clone, Debug)]
pub struct ClassificationBatch {
    /// Padded token ids, segments and mask.
    pub input: BertInput,
    /// Class ids, `[B]`.
    pub labels: Tensor<1, Int>,
}

/// Pads each batch to its longest item, rounded up to a multiple of
/// `pad_multiple` and capped at `max_len`: few distinct shapes for JIT backends.
#[derive(Clone, Debug)]
pub struct ClassificationBatcher {
    /// Id of `[PAD]`.
    pub pad_id: u32,
    /// Sequence lengths are rounded up to a multiple of this.
    pub pad_multiple: usize,
    /// Longest sequence.
    pub max_len: usize,
}

impl ClassificationBatcher {
    /// A batcher matching `tokenizer`, rounding lengths up to multiples of 8.
    pub fn for_tokenizer(tokenizer: &BertTokenizer) -> Self {
        Self {
            pad_id: tokenizer.pad_id(),
            pad_multiple: 8,
            max_len: tokenizer.max_len(),
        }
    }
}

impl Batcher<ClassificationItem, ClassificationBatch> for ClassificationBatcher {
    fn batch(&self, items: Vec<ClassificationItem>, device: &Device) -> ClassificationBatch {
        let padded = PaddedBatch::pad(
            items.iter().map(|item| &item.encoding),
            self.pad_id,
            self.pad_multiple,
            self.max_len,
        );
        let labels: Vec<i64> = items.iter().map(|item| item.label as i64).collect();
        ClassificationBatch {
            input: padded.to_input(device),
            labels: Tensor::from_ints(labels.as_slice(), device),
        }
    }
}
