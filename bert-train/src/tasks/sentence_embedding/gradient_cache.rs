//! GradCache (Gao et al. 2021), as sentence-transformers'
//! `CachedMultipleNegativesRankingLoss` computes it: the loss and gradients
//! of a large batch with only a mini-batch's activations alive at a time.
//!
//! 1. Every mini-batch of every column is embedded and its graph dropped.
//! 2. The loss is computed on those embeddings, and its gradient with
//!    respect to each embedding kept.
//! 3. Every mini-batch is embedded again, with the same dropout masks
//!    ([`with_masks_from`]), and its embeddings' cached gradient
//!    back-propagated into the weights; the mini-batches' weight gradients
//!    add up to the batch's.

use std::ops::Range;
use std::time::Instant;

use bert_data::dataset::SplitMix64;
use bert_data::sentence_embedding::SentenceBatch;
use bert_model::BertInput;
use bert_model::dropout::with_masks_from;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Tensor;
use burn::train::TrainOutput;

use super::SentenceEmbedding;
use super::output::EmbeddingOutput;
use crate::task::TaskModel;
use crate::training::step::Timed;

/// Some rows of a column, cut to their own longest text.
struct MiniBatch {
    rows: Range<usize>,
    input: BertInput,
}

/// The mini-batches of `size` rows of a column's `input`, whose rows have
/// `lengths` tokens: each keeps the columns up to its longest row (rounded
/// up to `multiple`), as sentence-transformers trims them.
fn mini_batches(
    input: &BertInput,
    lengths: &[usize],
    size: usize,
    multiple: usize,
) -> Vec<MiniBatch> {
    let [rows, width] = input.input_ids.dims();
    (0..rows)
        .step_by(size.max(1))
        .map(|start| {
            let range = start..(start + size).min(rows);
            let longest = lengths[range.clone()].iter().copied().max().unwrap_or(1);
            let cut = longest.next_multiple_of(multiple.max(1)).min(width);
            let slice = |t: &burn::tensor::Tensor<2, burn::tensor::Int>| {
                t.clone().slice([range.clone(), 0..cut])
            };
            MiniBatch {
                input: BertInput {
                    input_ids: slice(&input.input_ids),
                    token_type_ids: slice(&input.token_type_ids),
                    attention_mask: slice(&input.attention_mask),
                },
                rows: range,
            }
        })
        .collect()
}

/// The dropout seed of mini-batch `index` of `column` in the step seeded
/// `step` (a run's steps are seeded `--seed`, `--seed + 1`, ...).
pub fn mini_batch_seed(step: u64, column: usize, index: usize) -> u64 {
    let mut rng = SplitMix64::new(step ^ ((column as u64) << 32) ^ index as u64);
    rng.next_u64()
}

/// A training step of `task` with the gradient cache: the loss of `batch`
/// and its gradients, embedded `task`'s mini-batch size rows at a time.
pub fn cached_step(
    task: &SentenceEmbedding,
    model: &TaskModel<SentenceEmbedding>,
    batch: SentenceBatch,
) -> TrainOutput<Timed<EmbeddingOutput>> {
    let started = Instant::now();
    let step = task.next_step_seed();
    let multiple = crate::backend::pad_multiple().unwrap_or(1);
    let columns: Vec<Vec<MiniBatch>> = batch
        .columns
        .iter()
        .zip(&batch.lengths)
        .map(|(input, lengths)| {
            mini_batches(input, lengths, task.options.mini_batch_size, multiple)
        })
        .collect();
    let embed = |column: usize, index: usize, mini: &MiniBatch| {
        let device = mini.input.input_ids.device();
        with_masks_from(&device, mini_batch_seed(step, column, index), || {
            task.embed(&model.model, mini.input.clone())
        })
    };
    let leaves: Vec<Tensor<2>> = columns
        .iter()
        .enumerate()
        .map(|(column, minis)| {
            let embedded = minis
                .iter()
                .enumerate()
                .map(|(index, mini)| embed(column, index, mini).detach())
                .collect();
            Tensor::cat(embedded, 0).require_grad()
        })
        .collect();
    let loss = task.loss().compute(&leaves, batch.scores.as_ref());
    let scale = model.loss_scale.factor();
    let gradients = match scale == 1.0 {
        true => loss.backward(),
        false => (loss.clone() * scale).backward(),
    };
    let mut accumulator = GradientsAccumulator::new();
    for (column, minis) in columns.iter().enumerate() {
        // A column the loss does not read has no gradient to pass on.
        let Some(cached) = leaves[column].grad(&gradients) else {
            continue;
        };
        let width = cached.dims()[1];
        for (index, mini) in minis.iter().enumerate() {
            let upstream = cached.clone().slice([mini.rows.clone(), 0..width]);
            let weights = (embed(column, index, mini) * upstream).sum().backward();
            accumulator.accumulate(model, GradientsParams::from_grads(weights, model));
        }
    }
    let output = EmbeddingOutput {
        loss: loss.detach(),
        embeddings: leaves.into_iter().map(Tensor::detach).collect(),
        scores: batch.scores,
        text_ids: batch.text_ids,
    };
    TrainOutput {
        grads: accumulator.grads(),
        item: Timed {
            output,
            started,
            finished: Instant::now(),
        },
    }
}
