//! Sentence-embedding items: every text of a row encoded alone
//! (`[CLS] text [SEP]`), for a bi-encoder that embeds each text on its own;
//! their batches, one padded input per column; and training batches that
//! hold no text twice (sentence-transformers' `NO_DUPLICATES` sampler).

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use bert_model::BertInput;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor, TensorData};

use crate::dataset::{DatasetError, TextTuple, seeded_shuffle};
use crate::length_groups::{Encoded, MEGABATCH_BATCHES};
use crate::{BertTokenizer, Encoding, TextBatcher};

/// A row's texts, each encoded alone, and its score.
#[derive(Clone, Debug, PartialEq)]
pub struct SentenceItem {
    /// One encoding per text, in column order.
    pub encodings: Vec<Encoding>,
    /// The row's score, if the data has scores.
    pub score: Option<f32>,
    /// Each text's identity (a hash of the text): equal texts, equal ids.
    pub text_ids: Vec<u64>,
}

/// The identity of a text within a run: equal texts have equal ids.
pub fn text_id(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl SentenceItem {
    /// Encodes every text of `row` alone, truncated; `score` is the row's
    /// parsed score. A text the tokenizer refuses is an error naming the row.
    pub fn encode(
        tokenizer: &BertTokenizer,
        row: &TextTuple,
        score: Option<f32>,
    ) -> Result<Self, DatasetError> {
        let encodings = row
            .texts
            .iter()
            .map(|text| tokenizer.encode(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DatasetError::Row {
                origin: row.origin.to_string(),
                message: e.to_string(),
            })?;
        Ok(Self {
            encodings,
            score,
            text_ids: row.texts.iter().map(|text| text_id(text)).collect(),
        })
    }
}

/// Grouped by the length of the row's longest text.
impl Encoded for SentenceItem {
    fn encoding(&self) -> &Encoding {
        self.encodings
            .iter()
            .max_by_key(|encoding| encoding.len())
            .expect("a row has at least one text")
    }
}

impl crate::item::TextItem for SentenceItem {
    type Batch = SentenceBatch;
}

/// A batch of rows: one padded input per column (anchors, positives, ...),
/// the scores, and the texts' ids per column.
#[derive(Clone, Debug)]
pub struct SentenceBatch {
    /// `[B, S_c]` input of column `c`, each padded to its own longest text.
    pub columns: Vec<BertInput>,
    /// `[B]` scores, for scored data.
    pub scores: Option<Tensor<1>>,
    /// Per column, the id of each row's text ([`text_id`]).
    pub text_ids: Vec<Vec<u64>>,
    /// Per column, each row's number of tokens (its padding excluded).
    pub lengths: Vec<Vec<usize>>,
}

impl Batcher<SentenceItem, SentenceBatch> for TextBatcher {
    fn batch(&self, items: Vec<SentenceItem>, device: &Device) -> SentenceBatch {
        let width = items.first().map_or(0, |item| item.encodings.len());
        let columns = (0..width)
            .map(|column| self.input(items.iter().map(|item| &item.encodings[column]), device))
            .collect();
        let scores: Option<Vec<f32>> = items.iter().map(|item| item.score).collect();
        SentenceBatch {
            columns,
            scores: scores
                .map(|scores| Tensor::from_data(TensorData::new(scores, [items.len()]), device)),
            text_ids: (0..width)
                .map(|column| items.iter().map(|item| item.text_ids[column]).collect())
                .collect(),
            lengths: (0..width)
                .map(|column| {
                    items
                        .iter()
                        .map(|item| item.encodings[column].len())
                        .collect()
                })
                .collect(),
        }
    }
}

/// Why rows cannot be cut into batches without a repeated text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepeatedText {
    /// A row holding the text.
    pub row: usize,
    /// Its column in that row.
    pub column: usize,
    /// Rows holding the text.
    pub rows: usize,
    /// Batches the rows make.
    pub batches: usize,
}

/// Cuts `items` into batches of `batch_size` in which no text occurs in two
/// rows, as sentence-transformers' `NO_DUPLICATES` sampler does (a repeated
/// text would be its own in-batch negative): the rows shuffled with `seed`
/// (with `by_length`, then sorted longest first within megabatches of
/// [`MEGABATCH_BATCHES`] batches, as [`group_by_length`](crate::length_groups::group_by_length)
/// does), then each batch filled from the front of the remaining rows,
/// passing over a row whose texts the batch already holds. The last
/// batches may be short. Returns indices into `items`; an error when a
/// text is in more rows than there are batches, so that some batch would
/// have to hold it twice.
pub fn distinct_batches(
    items: &[SentenceItem],
    batch_size: usize,
    seed: u64,
    by_length: bool,
) -> Result<Vec<Vec<usize>>, RepeatedText> {
    let batch_size = batch_size.max(1);
    let batches = items.len().div_ceil(batch_size);
    if let Some(repeated) = most_repeated(items).filter(|r| r.rows > batches) {
        return Err(RepeatedText {
            batches,
            ..repeated
        });
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    seeded_shuffle(&mut order, seed);
    if by_length {
        for megabatch in order.chunks_mut(MEGABATCH_BATCHES * batch_size) {
            megabatch.sort_by_key(|&i| std::cmp::Reverse(items[i].encoding().len()));
        }
    }
    // Rows passed over wait, in order, ahead of the rows not yet reached
    // (sentence-transformers keeps one linked list for both).
    let mut waiting: Vec<usize> = Vec::new();
    let mut unreached = order.into_iter().peekable();
    let mut cut = Vec::with_capacity(batches);
    while !waiting.is_empty() || unreached.peek().is_some() {
        let mut batch = Batch::new(batch_size);
        let mut earlier = std::mem::take(&mut waiting).into_iter();
        let full = earlier.by_ref().any(|index| batch.offer(index, items));
        if full {
            batch.passed_over.extend(earlier);
        } else {
            unreached.by_ref().any(|index| batch.offer(index, items));
        }
        waiting = batch.passed_over;
        cut.push(batch.rows);
    }
    Ok(cut)
}

/// A batch being filled without repeated texts.
struct Batch {
    rows: Vec<usize>,
    size: usize,
    held: HashSet<u64>,
    passed_over: Vec<usize>,
}

impl Batch {
    fn new(size: usize) -> Self {
        Self {
            rows: Vec::with_capacity(size),
            size,
            held: HashSet::new(),
            passed_over: Vec::new(),
        }
    }

    /// Takes row `index` unless the batch holds one of its texts (then it
    /// is passed over); returns whether the batch is full.
    fn offer(&mut self, index: usize, items: &[SentenceItem]) -> bool {
        let ids = &items[index].text_ids;
        if ids.iter().any(|id| self.held.contains(id)) {
            self.passed_over.push(index);
        } else {
            self.held.extend(ids);
            self.rows.push(index);
        }
        self.rows.len() == self.size
    }
}

/// The text in the most rows (each row counted once), with where it first is.
fn most_repeated(items: &[SentenceItem]) -> Option<RepeatedText> {
    let mut counts: HashMap<u64, (usize, usize, usize)> = HashMap::new();
    for (row, item) in items.iter().enumerate() {
        let mut seen = HashSet::new();
        for (column, &id) in item.text_ids.iter().enumerate() {
            if seen.insert(id) {
                counts.entry(id).or_insert((0, row, column)).0 += 1;
            }
        }
    }
    counts
        .into_values()
        .max_by_key(|&(rows, row, column)| (rows, std::cmp::Reverse((row, column))))
        .map(|(rows, row, column)| RepeatedText {
            row,
            column,
            rows,
            batches: 0,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(texts: &[&str], len: usize) -> SentenceItem {
        SentenceItem {
            encodings: vec![
                Encoding {
                    input_ids: vec![1; len],
                    token_type_ids: vec![0; len],
                };
                texts.len()
            ],
            score: None,
            text_ids: texts.iter().map(|t| text_id(t)).collect(),
        }
    }

    fn texts_of(batch: &[usize], items: &[SentenceItem]) -> Vec<u64> {
        batch
            .iter()
            .flat_map(|&i| items[i].text_ids.clone())
            .collect()
    }

    #[test]
    fn batches_hold_every_row_once_and_no_text_twice() {
        // Twelve rows whose anchors repeat in pairs: random batches of four
        // would often hold an anchor twice.
        let items: Vec<SentenceItem> = (0..12)
            .map(|i| item(&[&format!("q{}", i / 2), &format!("p{i}")], 3 + i % 5))
            .collect();
        for by_length in [false, true] {
            for seed in 0..20 {
                let batches = distinct_batches(&items, 4, seed, by_length).unwrap();
                let mut all: Vec<usize> = batches.concat();
                all.sort_unstable();
                assert_eq!(all, (0..12).collect::<Vec<_>>());
                for batch in &batches {
                    let ids = texts_of(batch, &items);
                    let distinct: HashSet<&u64> = ids.iter().collect();
                    assert_eq!(distinct.len(), ids.len(), "{batch:?}");
                }
                assert!(batches.iter().filter(|b| b.len() == 4).count() >= 2);
            }
        }
    }

    #[test]
    fn the_shuffle_follows_the_seed_and_lengths_group() {
        let items: Vec<SentenceItem> = (0..64)
            .map(|i| item(&[&format!("a{i}"), &format!("b{i}")], 1 + i % 32))
            .collect();
        let a = distinct_batches(&items, 8, 1, true).unwrap();
        assert_eq!(a, distinct_batches(&items, 8, 1, true).unwrap());
        assert_ne!(a, distinct_batches(&items, 8, 2, true).unwrap());
        // All in one megabatch: sorted longest first.
        let longest: Vec<usize> = a.iter().map(|b| items[b[0]].encoding().len()).collect();
        assert!(longest.windows(2).all(|w| w[0] >= w[1]), "{longest:?}");
        let random = distinct_batches(&items, 8, 1, false).unwrap();
        let firsts: Vec<usize> = random
            .iter()
            .map(|b| items[b[0]].encoding().len())
            .collect();
        assert!(firsts.windows(2).any(|w| w[0] < w[1]), "{firsts:?}");
    }

    #[test]
    fn a_text_in_more_rows_than_batches_is_refused() {
        let mut items: Vec<SentenceItem> = (0..8)
            .map(|i| item(&[&format!("q{i}"), &format!("p{i}")], 4))
            .collect();
        items.extend((0..3).map(|i| item(&["same", &format!("x{i}")], 4)));
        // 11 rows make 2 batches of 8; "same" is in 3 rows.
        let err = distinct_batches(&items, 8, 0, false).unwrap_err();
        assert_eq!(
            err,
            RepeatedText {
                row: 8,
                column: 0,
                rows: 3,
                batches: 2
            }
        );
        // In batches of 4 (three of them) it fits.
        assert!(distinct_batches(&items, 4, 0, false).is_ok());
    }

    #[test]
    fn the_batcher_pads_each_column_alone() {
        let tokenizer = crate::tokenizer::tests::tiny_tokenizer(64).with_pad_multiple(1);
        let row = TextTuple {
            texts: vec!["ab".into(), "abc abc abc".into()],
            score: Some("0.5".into()),
            origin: crate::dataset::Origin::line("t.csv".into(), 2),
        };
        let items = vec![
            SentenceItem::encode(&tokenizer, &row, Some(0.5)).unwrap(),
            SentenceItem::encode(&tokenizer, &row, Some(0.25)).unwrap(),
        ];
        let batch = TextBatcher::for_tokenizer(&tokenizer).batch(items.clone(), &Device::flex());
        assert_eq!(batch.columns.len(), 2);
        let widths: Vec<usize> = batch
            .columns
            .iter()
            .map(|c| c.input_ids.dims()[1])
            .collect();
        assert_eq!(
            widths,
            [items[0].encodings[0].len(), items[0].encodings[1].len()]
        );
        assert!(widths[0] < widths[1]);
        let scores = batch
            .scores
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(scores, [0.5, 0.25]);
        assert_eq!(batch.text_ids[1], [text_id("abc abc abc"); 2]);
    }
}
