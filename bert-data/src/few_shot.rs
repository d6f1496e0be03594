//! Few-shot data, as SetFit draws it: a few labelled examples per class
//! ([`sample_per_class`]) and the contrastive pairs a sentence encoder is
//! fine-tuned on ([`contrastive_pairs`]): two examples with the same label
//! are a positive pair (target cosine 1), two with different labels a
//! negative one (target 0).

use std::collections::HashMap;

use crate::dataset::{DatasetError, Example, seeded_shuffle};

/// The most examples pairs are drawn from: every pair of them is listed
/// (`n (n + 1) / 2`), as SetFit lists them, and 4,096 examples already make
/// 8.4 million.
pub const MAX_PAIRED_EXAMPLES: usize = 4096;

/// `per_class` examples of every label, drawn with `seed` (the same draw on
/// every platform), in a shuffled order; an error naming the first label
/// with fewer examples.
pub fn sample_per_class(
    examples: &[Example],
    per_class: usize,
    seed: u64,
) -> Result<Vec<Example>, DatasetError> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for example in examples {
        match counts.iter_mut().find(|(label, _)| *label == example.label) {
            Some((_, count)) => *count += 1,
            None => counts.push((&example.label, 1)),
        }
    }
    if let Some((label, found)) = counts.iter().find(|(_, count)| *count < per_class) {
        return Err(DatasetError::TooFewExamples {
            label: label.to_string(),
            found: *found,
            wanted: per_class,
        });
    }
    Ok(sample_at_most_per_class(examples, per_class, seed))
}

/// At most `per_class` examples of every label (all of a label that has
/// fewer), drawn with `seed`, in a shuffled order.
pub fn sample_at_most_per_class(examples: &[Example], per_class: usize, seed: u64) -> Vec<Example> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    seeded_shuffle(&mut order, seed);
    let mut taken: HashMap<&str, usize> = HashMap::new();
    order
        .into_iter()
        .filter(|&i| {
            let count = taken.entry(&examples[i].label).or_default();
            *count += 1;
            *count <= per_class
        })
        .map(|i| examples[i].clone())
        .collect()
}

/// How many pairs of each kind (positive, negative) are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairCount {
    /// `n` per example, `n x examples` of each kind (SetFit's `num_iterations`).
    PerExample(usize),
    /// As many of each kind as there are of the more frequent kind, the
    /// other kind repeated (SetFit's default, `oversampling`).
    Oversampling,
}

/// One pair of examples (indices) and whether they share a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContrastivePair {
    /// The first example.
    pub first: usize,
    /// The second example (may be the first: SetFit pairs an example with itself too).
    pub second: usize,
    /// Same label: a positive pair.
    pub positive: bool,
}

/// Why no pairs can be drawn.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    /// Every example has the same label: there is no negative pair.
    #[error("every example has the same label: contrastive pairs need at least two classes")]
    OneClass,
    /// Too many examples to list every pair of.
    #[error(
        "{0} examples would make {pairs} pairs to draw from; few-shot training takes at most {MAX_PAIRED_EXAMPLES} examples",
        pairs = .0 * (.0 + 1) / 2
    )]
    TooMany(usize),
}

/// The pairs of the examples whose class ids are `labels`, as SetFit's
/// `ContrastiveDataset` draws them: every pair `(i, j)`, `i <= j`, in an
/// order shuffled with `seed`, split into positive and negative pairs; each
/// kind taken in that order (from the start again when it runs out) up to
/// `count`; positive and negative pairs alternating.
pub fn contrastive_pairs(
    labels: &[usize],
    count: PairCount,
    seed: u64,
) -> Result<Vec<ContrastivePair>, PairError> {
    let n = labels.len();
    if n > MAX_PAIRED_EXAMPLES {
        return Err(PairError::TooMany(n));
    }
    let mut all: Vec<(u32, u32)> = (0..n as u32)
        .flat_map(|i| (i..n as u32).map(move |j| (i, j)))
        .collect();
    seeded_shuffle(&mut all, seed);
    let (positive, negative): (Vec<ContrastivePair>, Vec<ContrastivePair>) = all
        .into_iter()
        .map(|(i, j)| ContrastivePair {
            first: i as usize,
            second: j as usize,
            positive: labels[i as usize] == labels[j as usize],
        })
        .partition(|pair| pair.positive);
    if negative.is_empty() {
        return Err(PairError::OneClass);
    }
    let per_kind = match count {
        PairCount::PerExample(iterations) => iterations * n,
        PairCount::Oversampling => positive.len().max(negative.len()),
    };
    let positive = positive.iter().copied().cycle().take(per_kind);
    let negative = negative.iter().copied().cycle().take(per_kind);
    Ok(positive.zip(negative).flat_map(|(p, q)| [p, q]).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::dataset::Origin;

    fn examples(labels: &[&str]) -> Vec<Example> {
        labels
            .iter()
            .enumerate()
            .map(|(i, label)| Example {
                text: format!("text {i}"),
                text_pair: None,
                label: label.to_string(),
                origin: Origin::line(Arc::from("data.csv"), i + 2),
            })
            .collect()
    }

    #[test]
    fn sampling_takes_k_of_every_label_and_is_seeded() {
        let all = examples(&["a", "b", "a", "c", "b", "a", "c", "b", "a", "c"]);
        let drawn = sample_per_class(&all, 2, 7).unwrap();
        for label in ["a", "b", "c"] {
            assert_eq!(drawn.iter().filter(|e| e.label == label).count(), 2);
        }
        let distinct: std::collections::HashSet<&str> =
            drawn.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(distinct.len(), 6, "no example twice");
        assert_eq!(drawn, sample_per_class(&all, 2, 7).unwrap());
        let others: Vec<Vec<Example>> = (0..8)
            .map(|seed| sample_per_class(&all, 2, seed).unwrap())
            .collect();
        assert!(
            others.iter().any(|other| *other != drawn),
            "the seed matters"
        );
    }

    #[test]
    fn sampling_more_than_a_label_has_names_the_label() {
        let all = examples(&["a", "b", "a", "a"]);
        let error = sample_per_class(&all, 2, 1).unwrap_err().to_string();
        assert!(error.contains("\"b\"") && error.contains('1'), "{error}");
        let drawn = sample_at_most_per_class(&all, 2, 1);
        let count = |label: &str| drawn.iter().filter(|e| e.label == label).count();
        assert_eq!((count("a"), count("b")), (2, 1));
    }

    /// Positive and negative pairs counted from the labels independently.
    fn kinds(labels: &[usize]) -> (usize, usize) {
        let mut counts = (0, 0);
        for i in 0..labels.len() {
            for j in i..labels.len() {
                match labels[i] == labels[j] {
                    true => counts.0 += 1,
                    false => counts.1 += 1,
                }
            }
        }
        counts
    }

    #[test]
    fn pairs_alternate_and_are_labelled_by_their_examples() {
        let labels = [0, 1, 0, 2, 1, 0];
        let (positives, negatives) = kinds(&labels);
        let pairs = contrastive_pairs(&labels, PairCount::Oversampling, 3).unwrap();
        assert_eq!(pairs.len(), 2 * positives.max(negatives));
        for (k, pair) in pairs.iter().enumerate() {
            assert!(pair.first <= pair.second);
            assert_eq!(pair.positive, labels[pair.first] == labels[pair.second]);
            assert_eq!(pair.positive, k % 2 == 0, "positive first, then negative");
        }
        let distinct: std::collections::HashSet<(usize, usize)> =
            pairs.iter().map(|pair| (pair.first, pair.second)).collect();
        assert_eq!(distinct.len(), positives + negatives, "every pair drawn");
    }

    #[test]
    fn pairs_per_example_repeat_the_smaller_kind() {
        let labels = [0, 0, 1];
        let pairs = contrastive_pairs(&labels, PairCount::PerExample(5), 1).unwrap();
        assert_eq!(pairs.len(), 2 * 5 * labels.len());
        let negatives: Vec<&ContrastivePair> = pairs.iter().filter(|p| !p.positive).collect();
        assert_eq!(negatives.len(), 15);
        assert_eq!(
            negatives[0], negatives[2],
            "2 negative pairs, cycled: {negatives:?}"
        );
        assert_eq!(
            pairs,
            contrastive_pairs(&labels, PairCount::PerExample(5), 1).unwrap()
        );
    }

    #[test]
    fn one_class_or_too_many_examples_are_refused() {
        assert_eq!(
            contrastive_pairs(&[3, 3, 3], PairCount::Oversampling, 0),
            Err(PairError::OneClass)
        );
        let many = vec![0; MAX_PAIRED_EXAMPLES + 1];
        assert_eq!(
            contrastive_pairs(&many, PairCount::Oversampling, 0),
            Err(PairError::TooMany(MAX_PAIRED_EXAMPLES + 1))
        );
    }
}
