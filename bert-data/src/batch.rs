//! Padding tokenized examples into a rectangular batch for the model.

use bert_model::BertInput;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::Device;

use crate::tokenizer::{BertTokenizer, Encoding};

/// A batch padded to one length, row-major `[batch, seq_len]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaddedBatch {
    /// Word-piece ids, padding with the pad id.
    pub input_ids: Vec<i64>,
    /// Segment ids, 0 at padding.
    pub token_type_ids: Vec<i64>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Number of rows.
    pub batch: usize,
    /// Length of every row.
    pub seq_len: usize,
}

/// The length a batch whose longest encoding has `longest` tokens is padded
/// to: rounded up to a multiple of `multiple_of`, capped at `max_len`.
pub fn padded_len(longest: usize, multiple_of: usize, max_len: usize) -> usize {
    longest
        .div_ceil(multiple_of.max(1))
        .saturating_mul(multiple_of.max(1))
        .min(max_len.max(longest))
}

impl PaddedBatch {
    /// Pads `encodings` to the longest one, rounded up to a multiple of
    /// `multiple_of` (fewer distinct shapes for JIT backends) and capped at `max_len`.
    pub fn pad<'a>(
        encodings: impl IntoIterator<Item = &'a Encoding>,
        pad_id: u32,
        multiple_of: usize,
        max_len: usize,
    ) -> Self {
        let encodings: Vec<&Encoding> = encodings.into_iter().collect();
        let longest = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let seq_len = padded_len(longest, multiple_of, max_len);
        let mut batch = Self {
            input_ids: Vec::with_capacity(encodings.len() * seq_len),
            token_type_ids: Vec::with_capacity(encodings.len() * seq_len),
            attention_mask: Vec::with_capacity(encodings.len() * seq_len),
            batch: encodings.len(),
            seq_len,
        };
        for encoding in encodings {
            let padding = seq_len - encoding.len();
            let widen = |ids: &[u32]| ids.iter().map(|&id| i64::from(id)).collect::<Vec<_>>();
            batch.input_ids.extend(widen(&encoding.input_ids));
            batch
                .input_ids
                .extend(std::iter::repeat_n(i64::from(pad_id), padding));
            batch.token_type_ids.extend(widen(&encoding.token_type_ids));
            batch.token_type_ids.extend(std::iter::repeat_n(0, padding));
            batch
                .attention_mask
                .extend(std::iter::repeat_n(1, encoding.len()));
            batch.attention_mask.extend(std::iter::repeat_n(0, padding));
        }
        batch
    }

    /// Moves the batch to `device` as model input.
    pub fn to_input(&self, device: &Device) -> BertInput {
        BertInput::from_rows(
            self.input_ids.clone(),
            self.token_type_ids.clone(),
            self.attention_mask.clone(),
            [self.batch, self.seq_len],
            device,
        )
    }
}

/// Pads each batch to its longest item, rounded up to a multiple of
/// `pad_multiple` and capped at `max_len`. Every task's batcher is this
/// one, with its own targets.
#[derive(Clone, Debug)]
pub struct TextBatcher {
    /// Id of `[PAD]`.
    pub pad_id: u32,
    /// Sequence lengths are rounded up to a multiple of this.
    pub pad_multiple: usize,
    /// Longest sequence.
    pub max_len: usize,
}

impl TextBatcher {
    /// A batcher matching `tokenizer`: its `[PAD]`, pad multiple and maximum length.
    pub fn for_tokenizer(tokenizer: &BertTokenizer) -> Self {
        Self {
            pad_id: tokenizer.pad_id(),
            pad_multiple: tokenizer.pad_multiple(),
            max_len: tokenizer.max_len(),
        }
    }

    /// Pads `encodings` on the host.
    pub fn pad<'a>(&self, encodings: impl IntoIterator<Item = &'a Encoding>) -> PaddedBatch {
        PaddedBatch::pad(encodings, self.pad_id, self.pad_multiple, self.max_len)
    }

    /// Pads `encodings` and moves them to `device` as model input.
    pub fn input<'a>(
        &self,
        encodings: impl IntoIterator<Item = &'a Encoding>,
        device: &Device,
    ) -> BertInput {
        self.pad(encodings).to_input(device)
    }
}

/// Inputs without targets, for inference.
impl Batcher<Encoding, BertInput> for TextBatcher {
    fn batch(&self, encodings: Vec<Encoding>, device: &Device) -> BertInput {
        self.input(&encodings, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoding(len: usize) -> Encoding {
        Encoding {
            input_ids: (1..=len as u32).collect(),
            token_type_ids: vec![0; len],
        }
    }

    #[test]
    fn pads_to_the_longest_row() {
        let rows = [encoding(2), encoding(3)];
        let batch = PaddedBatch::pad(&rows, 0, 1, 512);
        assert_eq!(batch.seq_len, 3);
        assert_eq!(batch.input_ids, [1, 2, 0, 1, 2, 3]);
        assert_eq!(batch.attention_mask, [1, 1, 0, 1, 1, 1]);
        assert_eq!(batch.token_type_ids, [0; 6]);
    }

    #[test]
    fn rounds_up_to_a_multiple_and_caps_at_max_len() {
        let rows = [encoding(9)];
        assert_eq!(PaddedBatch::pad(&rows, 0, 8, 512).seq_len, 16);
        assert_eq!(PaddedBatch::pad(&rows, 0, 8, 12).seq_len, 12);
    }

    #[test]
    fn the_batcher_pads_to_its_tokenizers_multiple() {
        let tokenizer = crate::tokenizer::tests::tiny_tokenizer(64);
        let rows = [encoding(9)];
        let batcher = TextBatcher::for_tokenizer(&tokenizer);
        assert_eq!(batcher.pad(&rows).seq_len, 16);
        let batcher = TextBatcher::for_tokenizer(&tokenizer.with_pad_multiple(1));
        assert_eq!(batcher.pad(&rows).seq_len, 9);
    }
}
