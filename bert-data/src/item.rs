//! [`BatchedItem`]: a task's model input, and how items of its kind are
//! batched (and into what), so that a task names only its item type.

use burn::data::dataloader::batcher::Batcher;

use crate::length_groups::Encoded;
use crate::{BertTokenizer, TextBatcher, TokenizerError};

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
