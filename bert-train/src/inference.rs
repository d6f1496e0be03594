//! Batched forward passes over items, in order: what `eval` and `predict`
//! share across tasks.

use bert_data::TextBatcher;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor};

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
    /// `[B, N]` outputs, in item order.
    pub fn rows<I: Clone, O>(
        &self,
        items: &[I],
        forward: impl Fn(O) -> Tensor<2>,
    ) -> anyhow::Result<Vec<Vec<f32>>>
    where
        Bt: Batcher<I, O>,
    {
        let mut rows = Vec::with_capacity(items.len());
        for batch in self.of(items) {
            let output = forward(batch);
            let [_, width] = output.dims();
            let values = output
                .into_data()
                .try_to_vec_as::<f32>()
                .map_err(|e| anyhow::anyhow!("reading predictions: {e:?}"))?;
            rows.extend(values.chunks(width.max(1)).map(<[f32]>::to_vec));
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
