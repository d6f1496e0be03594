//! Batched predictions for tokenized items: the library API behind `eval`
//! and `predict`.

use bert_data::TextBatcher;
use bert_data::classification::ClassificationItem;
use bert_model::BertForSequenceClassification;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

/// Runs `forward` on `items` in batches of `batch_size` and returns the rows
/// of its `[B, N]` outputs, in item order.
pub fn batched_rows<I: Clone>(
    items: &[I],
    batch_size: usize,
    forward: impl Fn(Vec<I>) -> Tensor<2>,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut rows = Vec::with_capacity(items.len());
    for chunk in items.chunks(batch_size.max(1)) {
        let output = forward(chunk.to_vec());
        let [_, width] = output.dims();
        let values = output
            .into_data()
            .try_to_vec_as::<f32>()
            .map_err(|e| anyhow::anyhow!("reading predictions: {e:?}"))?;
        rows.extend(values.chunks(width.max(1)).map(<[f32]>::to_vec));
    }
    Ok(rows)
}

/// Softmax probabilities `[num_labels]` for every item, in order.
pub fn predict_probabilities(
    model: &BertForSequenceClassification,
    items: &[ClassificationItem],
    batcher: &TextBatcher,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<Vec<Vec<f32>>> {
    batched_rows(items, batch_size, |chunk| {
        softmax(model.forward(batcher.batch(chunk, device).input), 1)
    })
}

/// Index of the largest value.
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}
