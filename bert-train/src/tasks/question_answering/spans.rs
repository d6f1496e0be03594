//! Decoding answers: the best valid span of each window, and of each
//! question over all its windows.

use anyhow::Result;
use bert_data::question_answering::{QaBatch, QaExample, QaFeature};
use bert_model::BertForQuestionAnswering;
use burn::tensor::Tensor;

use crate::inference::Batches;

/// The best span `(score, first, last)` of one window: passage tokens only,
/// `last >= first`, at most `max_answer_len` tokens.
pub fn best_span(
    start: &[f32],
    end: &[f32],
    passage: std::ops::Range<usize>,
    max_answer_len: usize,
) -> Option<(f32, usize, usize)> {
    let mut best: Option<(f32, usize, usize)> = None;
    for first in passage.clone() {
        let limit = passage.end.min(first + max_answer_len);
        for (last, end_score) in end.iter().enumerate().take(limit).skip(first) {
            let score = start[first] + end_score;
            if best.is_none_or(|(b, _, _)| score > b) {
                best = Some((score, first, last));
            }
        }
    }
    best
}

/// The predicted answer text of every example: its best span over all its windows.
pub fn predict_answers(
    model: &BertForQuestionAnswering,
    examples: &[QaExample],
    features: &[QaFeature],
    max_answer_len: usize,
    batches: &Batches,
) -> Result<Vec<String>> {
    let rows = batches.rows(features, |batch: QaBatch| {
        let logits = model.forward(batch.input);
        Tensor::cat(vec![logits.start, logits.end], 1)
    })?;
    let mut best: Vec<Option<(f32, usize, usize, usize)>> = vec![None; examples.len()];
    for (index, (feature, row)) in features.iter().zip(&rows).enumerate() {
        let (start, end) = row.split_at(row.len() / 2);
        let passage = feature.context_start..feature.context_start + feature.char_spans.len();
        if let Some((score, first, last)) = best_span(start, end, passage, max_answer_len) {
            let slot = &mut best[feature.example];
            if slot.is_none_or(|(b, ..)| score > b) {
                *slot = Some((score, index, first, last));
            }
        }
    }
    Ok(examples
        .iter()
        .zip(best)
        .map(|(example, best)| {
            best.and_then(|(_, index, first, last)| features[index].char_span(first, last))
                .map(|(s, e)| example.context.chars().skip(s).take(e - s).collect())
                .unwrap_or_default()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_span_is_valid_and_bounded() {
        let start = [9.0, 0.0, 1.0, 5.0, 0.0];
        let end = [9.0, 4.0, 0.0, 0.0, 3.0];
        // [CLS] (position 0) is outside the passage 1..5.
        assert_eq!(best_span(&start, &end, 1..5, 30), Some((8.0, 3, 4)));
        // Spans of one token only: the end cannot come before the start.
        assert_eq!(best_span(&start, &end, 1..5, 1), Some((5.0, 3, 3)));
    }
}
