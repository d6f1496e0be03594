//! Pretraining data: raw documents to `[CLS] A [SEP] B [SEP]` items for
//! next-sentence prediction (or packed single segments for masked LM alone),
//! and BERT's masking, drawn afresh for every batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bert_model::BertInput;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::dataset::SplitMix64;
use crate::token_classification::IGNORE;
use crate::{BertTokenizer, Encoding, SpecialToken, TextBatcher, TokenizerError};

/// Share of (non-special) tokens chosen for prediction.
pub const MASK_PROBABILITY: f64 = 0.15;

/// Splits a text into documents at blank lines, each document into
/// sentences after `.`, `!` or `?` followed by whitespace. HTML line breaks
/// (`<br />`) count as spaces.
pub fn split_documents(text: &str) -> Vec<Vec<String>> {
    text.replace("<br />", " ")
        .split("\n\n")
        .map(split_sentences)
        .filter(|sentences| !sentences.is_empty())
        .collect()
}

/// The sentences of one document.
pub fn split_sentences(document: &str) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut current = String::new();
    let mut chars = document.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(if c.is_whitespace() { ' ' } else { c });
        let ends = matches!(c, '.' | '!' | '?') && chars.peek().is_some_and(|n| n.is_whitespace());
        if ends {
            sentences.extend(non_empty(&current));
            current.clear();
        }
    }
    sentences.extend(non_empty(&current));
    sentences
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!trimmed.is_empty()).then_some(trimmed)
}

/// One pretraining example before masking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PretrainingItem {
    /// `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`.
    pub encoding: Encoding,
    /// For pairs: whether B is a random sentence (1) rather than A's successor (0).
    pub is_random_next: Option<bool>,
}

impl crate::length_groups::Encoded for PretrainingItem {
    fn encoding(&self) -> &Encoding {
        &self.encoding
    }
}

/// Training masks are drawn from the run's seed, evaluation's from
/// [`MaskingBatcher::EVALUATION_SEED`]: the same on every evaluation.
impl crate::item::BatchedItem for PretrainingItem {
    type Batch = PretrainingBatch;
    type Batcher = MaskingBatcher;

    fn batcher(
        tokenizer: &BertTokenizer,
        seed: Option<u64>,
    ) -> Result<MaskingBatcher, TokenizerError> {
        MaskingBatcher::new(tokenizer, seed.unwrap_or(MaskingBatcher::EVALUATION_SEED))
    }
}

/// Builds items from tokenized documents (sentences of word-piece ids).
struct ItemBuilder {
    cls: u32,
    sep: u32,
    max_len: usize,
}

impl ItemBuilder {
    fn single(&self, ids: &[u32]) -> PretrainingItem {
        let ids = &ids[..ids.len().min(self.max_len - 2)];
        let input_ids = [&[self.cls], ids, &[self.sep]].concat();
        PretrainingItem {
            encoding: Encoding {
                token_type_ids: vec![0; input_ids.len()],
                input_ids,
            },
            is_random_next: None,
        }
    }

    /// `[CLS] a [SEP] b [SEP]`, the longer side truncated first.
    fn pair(&self, a: &[u32], b: &[u32], is_random_next: bool) -> PretrainingItem {
        let (mut a_len, mut b_len) = (a.len(), b.len());
        while a_len + b_len > self.max_len - 3 {
            if a_len >= b_len {
                a_len -= 1;
            } else {
                b_len -= 1;
            }
        }
        let input_ids = [
            &[self.cls],
            &a[..a_len],
            &[self.sep],
            &b[..b_len],
            &[self.sep],
        ]
        .concat();
        let token_type_ids = [vec![0; a_len + 2], vec![1; b_len + 1]].concat();
        PretrainingItem {
            encoding: Encoding {
                input_ids,
                token_type_ids,
            },
            is_random_next: Some(is_random_next),
        }
    }
}

/// Tokenizes `documents` into pretraining items. With `next_sentence`, each
/// sentence followed by another in its document becomes a pair, whose B is
/// that successor half of the time and a sentence of another document
/// otherwise (seeded by `seed`); without, each document's sentences are packed
/// into segments of at most `max_len` tokens.
pub fn pretraining_items(
    tokenizer: &BertTokenizer,
    documents: &[Vec<String>],
    next_sentence: bool,
    seed: u64,
) -> Result<Vec<PretrainingItem>, TokenizerError> {
    let builder = ItemBuilder {
        cls: tokenizer.special_id(SpecialToken::Cls)?,
        sep: tokenizer.special_id(SpecialToken::Sep)?,
        max_len: tokenizer.max_len(),
    };
    let tokenized: Vec<Vec<Vec<u32>>> = documents
        .iter()
        .map(|sentences| {
            sentences
                .iter()
                .map(|s| tokenizer.word_piece_ids(s))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;
    let mut items = Vec::new();
    if !next_sentence {
        for sentences in &tokenized {
            let mut segment: Vec<u32> = Vec::new();
            for sentence in sentences {
                if !segment.is_empty() && segment.len() + sentence.len() > builder.max_len - 2 {
                    items.push(builder.single(&segment));
                    segment.clear();
                }
                segment.extend(sentence);
            }
            if !segment.is_empty() {
                items.push(builder.single(&segment));
            }
        }
        return Ok(items);
    }
    let mut rng = SplitMix64::new(seed);
    for (d, sentences) in tokenized.iter().enumerate() {
        for i in 0..sentences.len().saturating_sub(1) {
            let random = tokenized.len() > 1 && rng.next_f64() < 0.5;
            let b = if random {
                let mut other = rng.below(tokenized.len() - 1);
                if other >= d {
                    other += 1;
                }
                let sentences = &tokenized[other];
                &sentences[rng.below(sentences.len())]
            } else {
                &sentences[i + 1]
            };
            items.push(builder.pair(&sentences[i], b, random));
        }
    }
    Ok(items)
}

/// What masking does to one sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Masked {
    /// The ids after masking.
    pub input_ids: Vec<u32>,
    /// The original id at chosen positions, [`IGNORE`] elsewhere.
    pub labels: Vec<i64>,
}

/// BERT's masking: each non-special token is chosen with probability
/// [`MASK_PROBABILITY`]; a chosen token becomes `[MASK]` 80% of the time, a
/// uniformly random vocabulary id 10%, and stays unchanged 10%.
pub fn mask_tokens(
    input_ids: &[u32],
    special: &[bool],
    mask_id: u32,
    vocab_size: usize,
    rng: &mut SplitMix64,
) -> Masked {
    let mut masked = Masked {
        input_ids: input_ids.to_vec(),
        labels: vec![IGNORE; input_ids.len()],
    };
    for (i, &id) in input_ids.iter().enumerate() {
        if special[i] || rng.next_f64() >= MASK_PROBABILITY {
            continue;
        }
        masked.labels[i] = i64::from(id);
        let action = rng.next_f64();
        if action < 0.8 {
            masked.input_ids[i] = mask_id;
        } else if action < 0.9 {
            masked.input_ids[i] = rng.below(vocab_size) as u32;
        }
    }
    masked
}

/// A masked batch ready for the model.
#[derive(Clone, Debug)]
pub struct PretrainingBatch {
    /// Masked token ids, segments and padding mask.
    pub input: BertInput,
    /// Flat indices (into `B * T`) of the chosen positions, `[M]`.
    pub masked_positions: Tensor<1, Int>,
    /// Original ids at those positions, `[M]`.
    pub masked_labels: Tensor<1, Int>,
    /// 0 where B follows A, 1 where it is random, `[B]`; `None` without pairs.
    pub next_sentence_labels: Option<Tensor<1, Int>>,
}

/// Pads and masks pretraining items; every batch draws new masks from a
/// seeded generator (the same sequence of batches on every run).
#[derive(Clone, Debug)]
pub struct MaskingBatcher {
    /// Padding.
    pub text: TextBatcher,
    /// Id of `[MASK]`.
    pub mask_id: u32,
    /// Ids never chosen: `[CLS]`, `[SEP]`, `[PAD]`.
    pub special_ids: Vec<u32>,
    /// Vocabulary size, for random replacements.
    pub vocab_size: usize,
    seed: u64,
    batches: Arc<AtomicU64>,
}

impl MaskingBatcher {
    /// The seed of the masks of evaluation batches.
    pub const EVALUATION_SEED: u64 = 1234;

    /// A batcher for `tokenizer`'s vocabulary; `seed` fixes the masks.
    pub fn new(tokenizer: &BertTokenizer, seed: u64) -> Result<Self, TokenizerError> {
        Ok(Self {
            text: TextBatcher::for_tokenizer(tokenizer),
            mask_id: tokenizer.special_id(SpecialToken::Mask)?,
            special_ids: vec![
                tokenizer.special_id(SpecialToken::Cls)?,
                tokenizer.special_id(SpecialToken::Sep)?,
                tokenizer.pad_id(),
            ],
            vocab_size: tokenizer.vocab_size(),
            seed,
            batches: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The same batcher, drawing masks from the start of `seed`'s sequence
    /// (for evaluation: the same masks every time).
    pub fn restarted(&self, seed: u64) -> Self {
        Self {
            seed,
            batches: Arc::new(AtomicU64::new(0)),
            ..self.clone()
        }
    }
}

impl Batcher<PretrainingItem, PretrainingBatch> for MaskingBatcher {
    fn batch(&self, items: Vec<PretrainingItem>, device: &Device) -> PretrainingBatch {
        let index = self.batches.fetch_add(1, Ordering::Relaxed);
        let mut rng = SplitMix64::new(self.seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut padded = self.text.pad(items.iter().map(|item| &item.encoding));
        let mut positions = Vec::new();
        let mut labels = Vec::new();
        for row in 0..padded.batch {
            let span = row * padded.seq_len..(row + 1) * padded.seq_len;
            let ids: Vec<u32> = padded.input_ids[span.clone()]
                .iter()
                .map(|&id| id as u32)
                .collect();
            let special: Vec<bool> = ids.iter().map(|id| self.special_ids.contains(id)).collect();
            let masked = mask_tokens(&ids, &special, self.mask_id, self.vocab_size, &mut rng);
            for (offset, (&id, &label)) in masked.input_ids.iter().zip(&masked.labels).enumerate() {
                padded.input_ids[span.start + offset] = i64::from(id);
                if label != IGNORE {
                    positions.push((span.start + offset) as i64);
                    labels.push(label);
                }
            }
        }
        if positions.is_empty() {
            // A batch needs one prediction for a defined loss: take its first real token.
            let first = padded
                .input_ids
                .iter()
                .position(|&id| !self.special_ids.contains(&(id as u32)));
            if let Some(first) = first {
                labels.push(padded.input_ids[first]);
                padded.input_ids[first] = i64::from(self.mask_id);
                positions.push(first as i64);
            }
        }
        let next_sentence_labels = items
            .iter()
            .map(|item| item.is_random_next.map(i64::from))
            .collect::<Option<Vec<i64>>>()
            .map(|labels| Tensor::from_data(TensorData::new(labels, [items.len()]), device));
        let count = positions.len();
        PretrainingBatch {
            input: padded.to_input(device),
            masked_positions: Tensor::from_data(TensorData::new(positions, [count]), device),
            masked_labels: Tensor::from_data(TensorData::new(labels, [count]), device),
            next_sentence_labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_follows_the_15_percent_and_80_10_10_rules() {
        let n = 200_000;
        let ids: Vec<u32> = (0..n).map(|i| 100 + (i % 1000) as u32).collect();
        // Every tenth position is special and must never be chosen.
        let special: Vec<bool> = (0..n).map(|i| i % 10 == 0).collect();
        let mut rng = SplitMix64::new(7);
        let masked = mask_tokens(&ids, &special, 4, 30_000, &mut rng);
        let candidates = special.iter().filter(|s| !**s).count() as f64;
        let mut chosen = 0.0;
        let (mut as_mask, mut random, mut kept) = (0.0, 0.0, 0.0);
        for i in 0..n {
            if masked.labels[i] == IGNORE {
                assert_eq!(masked.input_ids[i], ids[i], "unchosen token {i} changed");
                continue;
            }
            assert!(!special[i], "special token {i} chosen");
            assert_eq!(masked.labels[i], i64::from(ids[i]));
            chosen += 1.0;
            match masked.input_ids[i] {
                4 => as_mask += 1.0,
                id if id == ids[i] => kept += 1.0,
                _ => random += 1.0,
            }
        }
        let share = chosen / candidates;
        assert!((share - 0.15).abs() < 0.01, "chosen {share}");
        // A random replacement can draw the original id or [MASK] (1 in 30,000): negligible.
        assert!(
            (as_mask / chosen - 0.8).abs() < 0.02,
            "[MASK] {}",
            as_mask / chosen
        );
        assert!(
            (random / chosen - 0.1).abs() < 0.02,
            "random {}",
            random / chosen
        );
        assert!((kept / chosen - 0.1).abs() < 0.02, "kept {}", kept / chosen);
    }

    #[test]
    fn splits_documents_and_sentences() {
        let text = "It was good. Really good!<br />Ten/10?\n\nSecond doc. e.g.x stays\n\n\n";
        assert_eq!(
            split_documents(text),
            [
                vec!["It was good.", "Really good!", "Ten/10?"],
                vec!["Second doc.", "e.g.x stays"],
            ]
        );
    }

    #[test]
    fn pairs_keep_segments_and_truncate_the_longer_side() {
        let builder = ItemBuilder {
            cls: 2,
            sep: 3,
            max_len: 8,
        };
        let item = builder.pair(&[10, 11, 12, 13], &[20, 21], true);
        assert_eq!(item.encoding.input_ids, [2, 10, 11, 12, 3, 20, 21, 3]);
        assert_eq!(item.encoding.token_type_ids, [0, 0, 0, 0, 0, 1, 1, 1]);
        assert_eq!(item.is_random_next, Some(true));
    }

    #[test]
    fn half_of_the_pairs_take_a_random_next_sentence() {
        let tokenizer = crate::tokenizer::tests::tiny_tokenizer(16);
        let documents: Vec<Vec<String>> = (0..200)
            .map(|_| {
                vec![
                    "the cat sat.".into(),
                    "on the mat.".into(),
                    "hello world.".into(),
                ]
            })
            .collect();
        let items = pretraining_items(&tokenizer, &documents, true, 3).unwrap();
        assert_eq!(items.len(), 400);
        let random = items
            .iter()
            .filter(|i| i.is_random_next == Some(true))
            .count();
        assert!(
            (random as f64 / 400.0 - 0.5).abs() < 0.08,
            "{random} random of 400"
        );
        let packed = pretraining_items(&tokenizer, &documents[..1], false, 3).unwrap();
        // [CLS] the cat sat . on the mat . hello world . [SEP]
        assert_eq!(packed.len(), 1);
        assert_eq!(
            packed[0].encoding.input_ids,
            [2, 5, 6, 7, 11, 8, 5, 9, 11, 12, 13, 11, 3]
        );
    }
}
