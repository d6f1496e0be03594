//! Length-grouped batches (transformers' `group_by_length`): batches of
//! examples of similar length, so that fewer padding tokens are computed.

use crate::Encoding;
use crate::batch::padded_len;
use crate::dataset::seeded_shuffle;

/// An item built around one encoding; its length decides its group.
pub trait Encoded {
    /// The item's tokens.
    fn encoding(&self) -> &Encoding;
}

impl Encoded for Encoding {
    fn encoding(&self) -> &Encoding {
        self
    }
}

/// The indices of `items`, longest first (ties in their order): batches cut
/// from this order hold items of similar lengths, so an evaluation pass,
/// whose order does not matter, computes little padding.
pub fn longest_first<I: Encoded>(items: &[I]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(items[i].encoding().len()));
    order
}

/// Batches per megabatch, the pool sorted by length (as transformers'
/// `LengthGroupedSampler`).
pub const MEGABATCH_BATCHES: usize = 50;

/// Cuts `items` into batches of `batch_size` (the last may be smaller) of
/// similar lengths: shuffled with `seed`, cut into megabatches of
/// [`MEGABATCH_BATCHES`] batches, each sorted longest first and cut into
/// batches. Which batch comes when is left to the data loader's shuffle.
pub fn group_by_length<I: Encoded>(mut items: Vec<I>, batch_size: usize, seed: u64) -> Vec<Vec<I>> {
    let batch_size = batch_size.max(1);
    seeded_shuffle(&mut items, seed);
    let mut batches = Vec::with_capacity(items.len().div_ceil(batch_size));
    let mut rest = items.into_iter().peekable();
    while rest.peek().is_some() {
        let mut megabatch: Vec<I> = rest.by_ref().take(MEGABATCH_BATCHES * batch_size).collect();
        megabatch.sort_by_key(|item| std::cmp::Reverse(item.encoding().len()));
        let mut megabatch = megabatch.into_iter().peekable();
        while megabatch.peek().is_some() {
            batches.push(megabatch.by_ref().take(batch_size).collect());
        }
    }
    batches
}

/// Keeps the groups of exactly `batch_size` items (for backends that compile
/// a kernel per shape); returns them with the number of items left out.
pub fn full_batches<I>(groups: Vec<Vec<I>>, batch_size: usize) -> (Vec<Vec<I>>, usize) {
    let (full, short): (Vec<Vec<I>>, Vec<Vec<I>>) = groups
        .into_iter()
        .partition(|group| group.len() == batch_size);
    (full, short.iter().map(Vec::len).sum())
}

/// The distinct `[batch, length]` shapes of `batches`, padded as
/// [`TextBatcher`](crate::TextBatcher) pads them.
pub fn batch_shapes<'a, I: Encoded + 'a>(
    batches: impl IntoIterator<Item = &'a [I]>,
    multiple_of: usize,
    max_len: usize,
) -> std::collections::BTreeSet<[usize; 2]> {
    batches
        .into_iter()
        .map(|batch| {
            let longest = batch
                .iter()
                .map(|item| item.encoding().len())
                .max()
                .unwrap_or(0);
            [batch.len(), padded_len(longest, multiple_of, max_len)]
        })
        .collect()
}

/// The share of padding among the tokens of `batches`, padded as
/// [`TextBatcher`](crate::TextBatcher) pads them (to the longest, rounded
/// up to `multiple_of`, capped at `max_len`).
pub fn padding_share<'a, I: Encoded + 'a>(
    batches: impl IntoIterator<Item = &'a [I]>,
    multiple_of: usize,
    max_len: usize,
) -> f64 {
    let (padded, real) = batches
        .into_iter()
        .fold((0usize, 0usize), |(padded, real), batch| {
            let lengths = batch.iter().map(|item| item.encoding().len());
            let longest = lengths.clone().max().unwrap_or(0);
            let width = padded_len(longest, multiple_of, max_len);
            (padded + width * batch.len(), real + lengths.sum::<usize>())
        });
    if padded == 0 {
        0.0
    } else {
        (padded - real) as f64 / padded as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Item(Encoding);

    impl Encoded for Item {
        fn encoding(&self) -> &Encoding {
            &self.0
        }
    }

    fn item(len: usize) -> Item {
        Item(Encoding {
            input_ids: vec![7; len],
            token_type_ids: vec![0; len],
        })
    }

    #[test]
    fn groups_keep_every_item_and_sort_each_megabatch() {
        let items: Vec<Item> = (0..1000).map(|i| item(1 + (i * 37) % 60)).collect();
        let batches = group_by_length(items.clone(), 4, 3);
        assert_eq!(batches.len(), 250);
        let mut lengths: Vec<usize> = batches.iter().flatten().map(|i| i.0.len()).collect();
        let mut expected: Vec<usize> = items.iter().map(|i| i.0.len()).collect();
        lengths.sort();
        expected.sort();
        assert_eq!(lengths, expected);
        // Within the first megabatch (50 batches of 4) lengths never rise.
        let first: Vec<usize> = batches[..50].iter().flatten().map(|i| i.0.len()).collect();
        assert!(first.windows(2).all(|pair| pair[0] >= pair[1]), "{first:?}");
        assert_eq!(group_by_length(items.clone(), 4, 3), batches);
        assert_ne!(group_by_length(items, 4, 4), batches);
    }

    /// With lengths padded to multiples of 32 and only full batches, an
    /// epoch's training batches come in at most `max_len / 32` shapes, one
    /// batch size (the bound a GPU backend compiles kernels for).
    #[test]
    fn full_batches_in_steps_of_32_make_few_shapes() {
        let items: Vec<Item> = (0..1003).map(|i| item(3 + (i * 37) % 126)).collect();
        let groups = group_by_length(items, 32, 5);
        let lengths = |groups: &[Vec<Item>]| batch_shapes(groups.iter().map(Vec::as_slice), 1, 128);
        assert!(
            lengths(&groups).len() > 10,
            "unpadded, batches come in many shapes"
        );
        let (full, left_out) = full_batches(groups, 32);
        assert_eq!((full.len(), left_out), (31, 11));
        let shapes = batch_shapes(full.iter().map(Vec::as_slice), 32, 128);
        assert!(shapes.len() <= 128 / 32, "{shapes:?}");
        assert!(shapes.iter().all(|[batch, _]| *batch == 32));
    }

    #[test]
    fn padding_share_counts_what_the_batcher_pads() {
        // Padded to 8 each: (8 - 3) + (8 - 8) of 16 tokens, and 2 of 8.
        let batches = [vec![item(3), item(8)], vec![item(6), item(6)]];
        let share = padding_share(batches.iter().map(Vec::as_slice), 8, 64);
        assert!((share - 9.0 / 32.0).abs() < 1e-12, "{share}");
        assert_eq!(padding_share::<Item>([], 8, 64), 0.0);
    }

    #[test]
    fn longest_first_orders_by_length_keeping_ties_in_place() {
        let items = [item(3), item(9), item(3), item(12), item(9)];
        assert_eq!(longest_first(&items), [3, 1, 4, 0, 2]);
        assert!(longest_first::<Item>(&[]).is_empty());
    }
}
