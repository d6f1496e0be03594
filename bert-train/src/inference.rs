//! Batched class probabilities for tokenized examples: the library API
//! behind `eval` and `predict`.

use bert_data::classification::{ClassificationBatcher, ClassificationItem};
use bert_model::BertForSequenceClassification;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::Device;
use burn::tensor::activation::softmax;

/// Softmax probabilities `[num_labels]` for every item, in order.
pub fn predict_probabilities(
    model: &BertForSequenceClassification,
    items: &[ClassificationItem],
    batcher: &ClassificationBatcher,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut probabilities = Vec::with_capacity(items.len());
    for chunk in items.chunks(batch_size.max(1)) {
        let batch = batcher.batch(chunk.to_vec(), device);
        let probs = softmax(model.forward(batch.input), 1);
        let [_, classes] = probs.dims();
        let values = probs
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading probabilities: {e:?}"))?;
        probabilities.extend(values.chunks(classes).map(<[f32]>::to_vec));
    }
    Ok(probabilities)
}

/// Index of the largest value.
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}
