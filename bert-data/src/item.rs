//! [`BatchedItem`]: a task's model input, and how items of its kind are
//! batched (and into what), so that a task names only its item type.

use bert_model::BertInput;
use burn::data::dataloader::batcher::Batcher;

use crate::dataset::{DatasetError, Example, MultiLabelExample, Origin};
use crate::length_groups::Encoded;
use crate::{BertTokenizer, Encoding, TextBatcher, TokenizerError};

/// An encoded item of a task, with the batch its batcher makes.
pub trait BatchedItem: Encoded + Clone + Send + Sync + std::fmt::Debug + 'static {
    /// A batch of such items on a device.
    type Batch: Clone + Send + Sync + std::fmt::Debug + 'static;
    /// What makes the batches.
    type Batcher: Batcher<Self, Self::Batch> + Clone + 'static;

    /// The batcher of `tokenizer`'s items: for training with `Some(seed)`
    /// (items with random parts, masked-LM masks, draw them from it), else
    /// for evaluation (the same batches every time).
    fn batcher(
        tokenizer: &BertTokenizer,
        seed: Option<u64>,
    ) -> Result<Self::Batcher, TokenizerError>;
}

/// An item that [`TextBatcher`] batches, padding its encodings, and the
/// batch it makes of such items.
pub trait TextItem: Encoded + Clone + Send + Sync + std::fmt::Debug + 'static {
    /// The batch of such items.
    type Batch: Clone + Send + Sync + std::fmt::Debug + 'static;
}

impl<I: TextItem> BatchedItem for I
where
    TextBatcher: Batcher<I, I::Batch>,
{
    type Batch = I::Batch;
    type Batcher = TextBatcher;

    fn batcher(tokenizer: &BertTokenizer, _: Option<u64>) -> Result<TextBatcher, TokenizerError> {
        Ok(TextBatcher::for_tokenizer(tokenizer))
    }
}

/// Implements [`Encoded`] (through the item's `encoding` field) and
/// [`TextItem`] for an item that [`TextBatcher`] batches into `$batch`.
macro_rules! text_item {
    ($item:ty => $batch:ty) => {
        impl $crate::length_groups::Encoded for $item {
            fn encoding(&self) -> &$crate::Encoding {
                &self.encoding
            }
        }

        impl $crate::item::TextItem for $item {
            type Batch = $batch;
        }
    };
}

pub(crate) use text_item;

/// A labelled text (or pair) as read from a file.
pub(crate) trait TextRow {
    /// Sentence A, sentence B (pair tasks) and where the row was read.
    fn text_parts(&self) -> (&str, Option<&str>, &Origin);
}

impl TextRow for Example {
    fn text_parts(&self) -> (&str, Option<&str>, &Origin) {
        (&self.text, self.text_pair.as_deref(), &self.origin)
    }
}

impl TextRow for MultiLabelExample {
    fn text_parts(&self) -> (&str, Option<&str>, &Origin) {
        (&self.text, self.text_pair.as_deref(), &self.origin)
    }
}

/// Encodes every row as `[CLS] A [SEP] (B [SEP])` and makes its item with
/// `item` (which reads the row's label); the first failure names its file and line.
pub(crate) fn encode_rows<R: TextRow, I>(
    tokenizer: &BertTokenizer,
    rows: &[R],
    item: impl Fn(&R, Encoding) -> Result<I, DatasetError>,
) -> Result<Vec<I>, DatasetError> {
    rows.iter()
        .map(|row| {
            let (text, pair, origin) = row.text_parts();
            let encoding = tokenizer
                .encode_text(text, pair)
                .map_err(|e| DatasetError::Row {
                    origin: origin.to_string(),
                    message: e.to_string(),
                })?;
            item(row, encoding)
        })
        .collect()
}

/// A batch ready for the model: padded input and what it should predict
/// (class ids, targets or tags, by task).
#[derive(Clone, Debug)]
pub struct TargetBatch<T> {
    /// Padded token ids, segments and mask.
    pub input: BertInput,
    /// What the model should predict for each row.
    pub targets: T,
}
