//! Entity-level scores for BIO tags, by the rules of `conlleval` and
//! `seqeval`'s default mode: an entity starts at `B-X`, or at `I-X` after `O`
//! or after another type, and ends before the next tag that does not continue it.

use std::collections::{BTreeMap, BTreeSet};

use crate::scores::ClassScores;

/// One entity: its type and the half-open range of words it covers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entity {
    /// The type, e.g. `person` for `B-person`.
    pub kind: String,
    /// First word.
    pub start: usize,
    /// One past the last word.
    pub end: usize,
}

fn split_tag(tag: &str) -> (char, &str) {
    match tag.split_once('-') {
        Some((prefix, kind)) => (prefix.chars().next().unwrap_or('O'), kind),
        None => (if tag == "O" { 'O' } else { 'B' }, tag),
    }
}

/// The entities of one sentence's tags.
pub fn entities(tags: &[impl AsRef<str>]) -> Vec<Entity> {
    let mut found = Vec::new();
    let mut open: Option<(String, usize)> = None;
    for (index, tag) in tags.iter().map(AsRef::as_ref).chain(["O"]).enumerate() {
        let (prefix, kind) = split_tag(tag);
        let continues = prefix == 'I' && open.as_ref().is_some_and(|(k, _)| k == kind);
        if !continues {
            if let Some((kind, start)) = open.take() {
                found.push(Entity {
                    kind,
                    start,
                    end: index,
                });
            }
            if prefix != 'O' {
                open = Some((kind.to_string(), index));
            }
        }
    }
    found
}

/// Micro-averaged scores over all entities and scores per entity type, for
/// sentences given as (true tags, predicted tags).
pub fn score_entities<S: AsRef<str>>(
    sentences: &[(Vec<S>, Vec<S>)],
) -> (ClassScores, BTreeMap<String, ClassScores>) {
    let mut counts: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for (truth, predicted) in sentences {
        let truth: BTreeSet<Entity> = entities(truth).into_iter().collect();
        let predicted: BTreeSet<Entity> = entities(predicted).into_iter().collect();
        for entity in &truth {
            counts.entry(entity.kind.clone()).or_default()[2] += 1;
        }
        for entity in &predicted {
            let count = counts.entry(entity.kind.clone()).or_default();
            count[1] += 1;
            if truth.contains(entity) {
                count[0] += 1;
            }
        }
    }
    let total = counts.values().fold([0; 3], |acc, c| {
        [acc[0] + c[0], acc[1] + c[1], acc[2] + c[2]]
    });
    let per_type = counts
        .into_iter()
        .map(|(kind, [c, p, s])| (kind, ClassScores::from_counts(c, p, s)))
        .collect();
    (
        ClassScores::from_counts(total[0], total[1], total[2]),
        per_type,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(kind: &str, start: usize, end: usize) -> Entity {
        Entity {
            kind: kind.into(),
            start,
            end,
        }
    }

    #[test]
    fn finds_entities_by_conlleval_rules() {
        let tags = [
            "B-per", "I-per", "O", "I-loc", "I-loc", "B-loc", "I-per", "B-org",
        ];
        assert_eq!(
            entities(&tags),
            [
                entity("per", 0, 2),
                // I- after O starts an entity.
                entity("loc", 3, 5),
                entity("loc", 5, 6),
                // I- of another type starts a new one.
                entity("per", 6, 7),
                entity("org", 7, 8),
            ]
        );
    }

    #[test]
    fn scores_match_seqeval_on_its_documented_example() {
        // seqeval's README: f1_score = 0.50, precision = 0.50, recall = 0.50.
        let truth = vec![
            vec!["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"],
            vec!["B-PER", "I-PER", "O"],
        ];
        let predicted = vec![
            vec!["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"],
            vec!["B-PER", "I-PER", "O"],
        ];
        let sentences: Vec<_> = truth.into_iter().zip(predicted).collect();
        let (overall, per_type) = score_entities(&sentences);
        assert_eq!(
            (overall.precision, overall.recall, overall.f1),
            (0.5, 0.5, 0.5)
        );
        assert_eq!(per_type["PER"].f1, 1.0);
        assert_eq!((per_type["MISC"].f1, per_type["MISC"].support), (0.0, 1));
    }
}
