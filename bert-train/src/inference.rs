//! Batched forward passes over items, in order: what `eval` and `predict`
//! share across tasks.

use bert_data::TextBatcher;
use bert_data::length_groups::{Encoded, longest_first};
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor};

use crate::polling::Polling;

/// How inference feeds items to a model: `batcher` makes batches of at
/// most `size` items on `device`.
pub struct Batches<'a, Bt = TextBatcher> {
    /// Turns items into a batch.
    pub batcher: &'a Bt,
    /// Items per batch.
    pub size: usize,
    /// Where the batches go.
    pub device: &'a Device,
}

impl<'a, Bt> Batches<'a, Bt> {
    /// Batches of at most `size` items made by `batcher` on `device`.
    pub fn new(batcher: &'a Bt, size: usize, device: &'a Device) -> Self {
        Self {
            batcher,
            size,
            device,
        }
    }

    /// Batches of `items`, in order.
    pub fn of<I: Clone, O>(&self, items: &[I]) -> impl Iterator<Item = O>
    where
        Bt: Batcher<I, O>,
    {
        items
            .chunks(self.size.max(1))
            .map(|chunk| self.batcher.batch(chunk.to_vec(), self.device))
    }

    /// Runs `forward` on every batch of `items` and returns the rows of its
    /// `[B, N]` outputs, in item order. The batches are cut from the items
    /// sorted longest first, so that each holds items of similar lengths and
    /// little padding is computed; rows come back in the items' order.
    /// The CPU's threads poll for work through each batch ([`Polling`]).
    pub fn rows<I: Encoded + Clone, O>(
        &self,
        items: &[I],
        forward: impl Fn(O) -> Tensor<2>,
    ) -> anyhow::Result<Vec<Vec<f32>>>
    where
        Bt: Batcher<I, O>,
    {
        let mut rows = vec![Vec::new(); items.len()];
        for indices in longest_first(items).chunks(self.size.max(1)) {
            let batch: Vec<I> = indices.iter().map(|&i| items[i].clone()).collect();
            let _polling = Polling::start(self.device);
            let output = forward(self.batcher.batch(batch, self.device));
            let [_, width] = output.dims();
            let values = output
                .into_data()
                .try_to_vec_as::<f32>()
                .map_err(|e| anyhow::anyhow!("reading predictions: {e:?}"))?;
            for (&i, row) in indices.iter().zip(values.chunks(width.max(1))) {
                rows[i] = row.to_vec();
            }
        }
        Ok(rows)
    }
}

/// Index of the largest value.
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use bert_data::Encoding;

    use super::*;

    /// Batches each encoding as `[its length, the longest in its batch]`.
    struct LengthBatcher;

    impl Batcher<Encoding, Tensor<2>> for LengthBatcher {
        fn batch(&self, items: Vec<Encoding>, device: &Device) -> Tensor<2> {
            let longest = items.iter().map(Encoding::len).max().unwrap_or(0);
            let values: Vec<f32> = items
                .iter()
                .flat_map(|item| [item.len() as f32, longest as f32])
                .collect();
            Tensor::<1>::from_floats(values.as_slice(), device).reshape([items.len(), 2])
        }
    }

    fn encoding(len: usize) -> Encoding {
        Encoding {
            input_ids: vec![7; len],
            token_type_ids: vec![0; len],
        }
    }

    /// Rows come back in item order, each computed in a batch of items of
    /// similar length (in item order, the 3-token item would share a batch
    /// with the 9-token one).
    #[test]
    fn rows_batch_by_length_and_keep_item_order() {
        let items = [3, 9, 4, 12].map(encoding);
        let device = Device::flex();
        let rows = Batches::new(&LengthBatcher, 2, &device)
            .rows(&items, |output| output)
            .unwrap();
        let expected = [[3.0, 4.0], [9.0, 12.0], [4.0, 4.0], [12.0, 12.0]];
        assert_eq!(rows, expected.map(|row| row.to_vec()));
    }
}
