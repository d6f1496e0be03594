//! The built-in datasets read their packages completely, with the published
//! sizes and label counts, and split them 80/10/10.

use std::collections::BTreeMap;

use bert_data::assets::AssetCache;
use bert_data::dataset::{BuiltinDataset, DATASETS};

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
    let sizes = [
        splits.train.len(),
        splits.validation.len(),
        splits.test.len(),
    ];
    (counts, sizes)
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
    assert_eq!(DATASETS.len(), expected.len());
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
