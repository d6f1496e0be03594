//! The built-in datasets read their packages completely, with the published
//! sizes and label counts, and split them 80/10/10 (STS-B keeps its own
//! train/dev/test).

use std::collections::BTreeMap;

use bert_data::assets::AssetCache;
use bert_data::dataset::{BuiltinDataset, DATASETS, TaggedDataset};

fn label_counts(name: &str) -> (BTreeMap<String, usize>, [usize; 3]) {
    let splits = BuiltinDataset::find(name)
        .unwrap()
        .load(&AssetCache::from_env())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut counts = BTreeMap::new();
    for example in splits
        .train
        .iter()
        .chain(&splits.validation)
        .chain(&splits.test)
    {
        assert!(
            !example.text.is_empty(),
            "{name}: empty text at {}",
            example.origin
        );
        *counts.entry(example.label.clone()).or_insert(0) += 1;
    }
    (counts, splits.lens())
}

#[test]
fn every_builtin_dataset_has_its_published_size_and_labels() {
    let expected: [(&str, &[(&str, usize)]); 5] = [
        ("rotten_tomatoes", &[("negative", 4265), ("positive", 4265)]),
        ("imdb", &[("negative", 12500), ("positive", 12500)]),
        (
            "bbc_news",
            &[
                ("business", 510),
                ("entertainment", 386),
                ("politics", 417),
                ("sports", 511),
                ("tech", 401),
            ],
        ),
        (
            "tweet_sentiment",
            &[("negative", 16186), ("neutral", 15018), ("positive", 6954)],
        ),
        ("sms_spam", &[("ham", 4220), ("spam", 642)]),
    ];
    // sts_b, the regression set, is checked below.
    assert_eq!(DATASETS.len(), expected.len() + 1);
    for (name, labels) in expected {
        let (counts, [train, validation, test]) = label_counts(name);
        let expected: BTreeMap<String, usize> =
            labels.iter().map(|(l, n)| (l.to_string(), *n)).collect();
        assert_eq!(counts, expected, "{name}");
        let total: usize = labels.iter().map(|(_, n)| n).sum();
        assert_eq!(train + validation + test, total, "{name}");
        assert_eq!(test, (total as f64 * 0.1).round() as usize, "{name}");
        assert_eq!(validation, test, "{name}");
    }
}

#[test]
fn sts_b_keeps_its_official_splits_of_scored_pairs() {
    let splits = BuiltinDataset::find("sts_b")
        .unwrap()
        .load(&AssetCache::from_env())
        .unwrap();
    assert_eq!(splits.lens(), [5749, 1500, 1379]);
    let first = &splits.validation[0];
    assert_eq!(
        (
            first.text.as_str(),
            first.text_pair.as_deref(),
            first.label.as_str()
        ),
        (
            "A man with a hard hat is dancing.",
            Some("A man wearing a hard hat is dancing."),
            "5.000"
        )
    );
    let scores: Vec<f64> = splits
        .train
        .iter()
        .chain(&splits.validation)
        .chain(&splits.test)
        .map(|e| {
            assert!(e.text_pair.is_some(), "{}: no second sentence", e.origin);
            e.label.parse().unwrap()
        })
        .collect();
    assert!(scores.iter().all(|s| (0.0..=5.0).contains(s)));
    let train_mean = scores[..5749].iter().sum::<f64>() / 5749.0;
    assert!((train_mean - 2.701).abs() < 1e-3, "train mean {train_mean}");
}

#[test]
fn twitter_ner_has_every_sentence_and_tag() {
    let splits = TaggedDataset::find("twitter_ner")
        .unwrap()
        .load(&AssetCache::from_env())
        .unwrap();
    assert_eq!(splits.lens(), [1916, 239, 239]);
    let mut tags: BTreeMap<&str, usize> = BTreeMap::new();
    for sentence in splits
        .train
        .iter()
        .chain(&splits.validation)
        .chain(&splits.test)
    {
        assert_eq!(sentence.words.len(), sentence.tags.len());
        for tag in &sentence.tags {
            *tags.entry(tag.as_str()).or_default() += 1;
        }
    }
    assert_eq!(tags.values().sum::<usize>(), 46469);
    assert_eq!(tags.len(), 21);
    assert_eq!(
        (tags["O"], tags["B-person"], tags["I-person"]),
        (44007, 449, 215)
    );
}
