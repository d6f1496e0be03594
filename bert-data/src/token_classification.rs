//! Token classification items: a tagged sentence as word pieces, each word's
//! tag on its first piece and [`IGNORE`] on every other position.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::dataset::{DatasetError, LabelVocab, TaggedSentence};
use crate::{BertTokenizer, Encoding, TargetBatch, TextBatcher};

/// Label of positions that are neither scored nor trained on: specials,
/// padding and continuation word pieces (PyTorch's `ignore_index`).
pub const IGNORE: i64 = -100;

/// One tokenized sentence and its per-token labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenItem {
    /// `[CLS] pieces [SEP]`, truncated.
    pub encoding: Encoding,
    /// Tag id on each word's first piece, [`IGNORE`] elsewhere; as long as `encoding`.
    pub labels: Vec<i64>,
    /// Words whose first piece survived truncation.
    pub words_kept: usize,
}

crate::item::text_item!(TokenItem => TokenBatch);

/// Tokenizes `sentences` and aligns their tags to the first piece of each
/// word; the first failure names its file and line.
pub fn tokenize_tagged(
    tokenizer: &BertTokenizer,
    sentences: &[TaggedSentence],
    tags: &LabelVocab,
) -> Result<Vec<TokenItem>, DatasetError> {
    sentences
        .iter()
        .map(|sentence| {
            let (encoding, word_ids) =
                tokenizer
                    .encode_words(&sentence.words)
                    .map_err(|e| DatasetError::Row {
                        origin: sentence.origin.to_string(),
                        message: e.to_string(),
                    })?;
            let tag_ids = sentence
                .tags
                .iter()
                .map(|tag| tags.id_of(tag, &sentence.origin).map(|id| id as i64))
                .collect::<Result<Vec<_>, _>>()?;
            let labels = first_piece_labels(&word_ids, &tag_ids);
            let words_kept = labels.iter().filter(|&&l| l != IGNORE).count();
            Ok(TokenItem {
                encoding,
                labels,
                words_kept,
            })
        })
        .collect()
}

/// `tag_ids[word]` at the first token of each word, [`IGNORE`] at specials
/// (`None`) and at a word's later pieces.
pub fn first_piece_labels(word_ids: &[Option<u32>], tag_ids: &[i64]) -> Vec<i64> {
    let mut previous = None;
    word_ids
        .iter()
        .map(|&word| {
            let first = word.is_some() && word != previous;
            previous = word;
            match word {
                Some(w) if first => tag_ids[w as usize],
                _ => IGNORE,
            }
        })
        .collect()
}

/// A batch ready for the model, with per-token tag ids as targets,
/// [`IGNORE`] at padding, `[B, T]`.
pub type TokenBatch = TargetBatch<Tensor<2, Int>>;

impl Batcher<TokenItem, TokenBatch> for TextBatcher {
    fn batch(&self, items: Vec<TokenItem>, device: &Device) -> TokenBatch {
        let padded = self.pad(items.iter().map(|item| &item.encoding));
        let labels = padded_labels(&items, padded.seq_len);
        TargetBatch {
            input: padded.to_input(device),
            targets: Tensor::from_data(
                TensorData::new(labels, [padded.batch, padded.seq_len]),
                device,
            ),
        }
    }
}

/// Every item's labels padded with [`IGNORE`] to `seq_len`, row-major.
fn padded_labels(items: &[TokenItem], seq_len: usize) -> Vec<i64> {
    let mut labels = Vec::with_capacity(items.len() * seq_len);
    for item in items {
        labels.extend(&item.labels);
        labels.extend(std::iter::repeat_n(IGNORE, seq_len - item.labels.len()));
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Origin;

    #[test]
    fn tags_go_to_the_first_piece_of_each_word_only() {
        // [CLS] the cat ##s sat [SEP]: "cats" is two pieces of word 1.
        let word_ids = [None, Some(0), Some(1), Some(1), Some(2), None];
        assert_eq!(
            first_piece_labels(&word_ids, &[5, 6, 7]),
            [IGNORE, 5, 6, IGNORE, 7, IGNORE]
        );
    }

    #[test]
    fn aligns_a_real_tokenization_and_reports_truncated_words() {
        let tokenizer = crate::tokenizer::tests::tiny_tokenizer(5);
        let sentence = TaggedSentence {
            words: ["the", "cats", "sat", "on"].map(String::from).to_vec(),
            tags: ["O", "B-animal", "O", "O"].map(String::from).to_vec(),
            origin: Origin::line("ner.txt".into(), 3),
        };
        let tags = LabelVocab::from_labels(["B-animal", "O"]);
        let items = tokenize_tagged(&tokenizer, std::slice::from_ref(&sentence), &tags).unwrap();
        // [CLS] the cat ##s [SEP], truncated to 5 tokens: "sat" and "on" are cut.
        assert_eq!(items[0].encoding.input_ids, [2, 5, 6, 10, 3]);
        assert_eq!(items[0].labels, [IGNORE, 1, 0, IGNORE, IGNORE]);
        assert_eq!(items[0].words_kept, 2);

        let unknown = LabelVocab::from_labels(["O"]);
        let error = tokenize_tagged(&tokenizer, &[sentence], &unknown).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("ner.txt:3: unknown label \"B-animal\"")
        );
    }

    #[test]
    fn pads_labels_with_ignore() {
        let item = |n: usize| TokenItem {
            encoding: Encoding {
                input_ids: vec![7; n],
                token_type_ids: vec![0; n],
            },
            labels: vec![1; n],
            words_kept: n,
        };
        assert_eq!(
            padded_labels(&[item(2), item(3)], 3),
            [1, 1, IGNORE, 1, 1, 1]
        );
    }
}
