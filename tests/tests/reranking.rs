//! `--task reranking` against sentence-transformers
//! (`tests/reference/make_rerank_fixtures.py` wrote the fixtures): a run
//! that `CrossEncoder(RUN)` opens with our scores and transformers with our
//! logits, the reranking metrics on fixed scores, the task end to end with
//! random and mined negatives, and its refusals of bad input.

use bert_burn_tests::{fixture, max_abs_diff, read_json, scratch_dir, train_args, write_data_file};
use bert_data::assets::AssetCache;
use bert_train::run::RunDir;
use bert_train::tasks::reranking::{RerankReport, rerank_scores};
use bert_train::tasks::{Start, evaluate_run, predict_run, train};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Expected {
    cross_encoder: CrossEncoderOutput,
    metrics: Vec<Ranking>,
}

#[derive(Deserialize)]
struct CrossEncoderOutput {
    pairs: Vec<(String, String)>,
    scores: Vec<f32>,
    logits: Vec<f32>,
    class: String,
}

#[derive(Deserialize)]
struct Ranking {
    labels: Vec<f32>,
    scores: Vec<f32>,
    #[serde(rename = "mrr@10_ndcg@10_ap")]
    values: [f64; 3],
}

fn expected() -> Expected {
    read_json("rerank/expected.json")
}

#[test]
fn the_run_opens_in_cross_encoder_with_our_scores() {
    let expected = expected().cross_encoder;
    let run = RunDir::new(fixture("rerank/run"));
    let config: Value = run.read_json("config.json").unwrap();
    assert_eq!(config["architectures"][0], expected.class.as_str());
    let lines: String = expected
        .pairs
        .iter()
        .map(|(query, passage)| {
            serde_json::json!({"query": query, "passages": [passage]}).to_string() + "\n"
        })
        .collect();
    let mut output = Vec::new();
    predict_run(
        &run,
        lines.as_bytes(),
        &mut output,
        8,
        &bert_burn_tests::device(),
    )
    .unwrap();
    let ours: Vec<f32> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            value["ranked"][0]["score"].as_f64().unwrap() as f32
        })
        .collect();
    let max = max_abs_diff(&ours, &expected.scores);
    assert!(
        max <= 1e-5,
        "CrossEncoder scores: max |diff| {max}: {ours:?} vs {:?}",
        expected.scores
    );
    // CrossEncoder's score is the sigmoid of transformers' logit.
    let sigmoid: Vec<f32> = expected
        .logits
        .iter()
        .map(|x| 1.0 / (1.0 + (-x).exp()))
        .collect();
    assert!(max_abs_diff(&ours, &sigmoid) <= 1e-5);
}

#[test]
fn reranking_scores_match_sentence_transformers() {
    for ranking in expected().metrics {
        let scores = rerank_scores(&[(ranking.labels.clone(), ranking.scores.clone())]);
        let ours = [scores.mrr_at_10, scores.ndcg_at_10, scores.map];
        for (ours, theirs) in ours.iter().zip(ranking.values) {
            assert!(
                (ours - theirs).abs() < 1e-9,
                "{:?}: {ours} vs {theirs}",
                ranking.labels
            );
        }
    }
}

fn flags<'a>(data: &'a str, output: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut flags = vec![
        "--task",
        "reranking",
        "--dataset",
        data,
        "--output-dir",
        output,
        "--batch-size",
        "16",
        "--max-len",
        "64",
        "--lr",
        "1e-3",
        "--epochs",
        "1",
    ];
    flags.extend(extra);
    flags
}

/// Random and mined negatives, each run reporting, reloaded and applied.
#[test]
fn trains_with_random_and_mined_negatives() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let model = fixture("tiny-bert-base");
    let model = model.to_str().unwrap();
    let data = fixture("sentence/pairs");
    let data = data.to_str().unwrap();
    for (name, extra) in [
        (
            "random",
            vec!["--model", model, "--negatives-per-query", "2"],
        ),
        (
            "mined",
            vec![
                "--model",
                model,
                "--mine-negatives-with",
                model,
                "--negatives-per-query",
                "3",
                "--mine-range-min",
                "1",
            ],
        ),
    ] {
        let run = scratch.path().join(name);
        let report: RerankReport = train(
            train_args(&flags(data, run.to_str().unwrap(), &extra)),
            Start::New,
            bert_burn_tests::device(),
            &cache,
        )
        .unwrap()
        .get()
        .unwrap();
        let per_query = if name == "random" { 3 } else { 4 };
        let test_rows = std::fs::read_to_string(fixture("sentence/pairs/test.tsv"))
            .unwrap()
            .lines()
            .count()
            - 1;
        assert_eq!(report.reranking.queries, test_rows, "{name}");
        assert_eq!(
            report.reranking.candidates,
            test_rows * per_query,
            "{name}: positive + negatives"
        );
        assert!(report.reranking.mrr_at_10 > 0.0, "{name}: {report:?}");
        let again: RerankReport = evaluate_run(
            &RunDir::new(&run),
            None,
            None,
            &bert_burn_tests::device(),
            &cache,
        )
        .unwrap()
        .get()
        .unwrap();
        assert_eq!(again.reranking, report.reranking, "{name}");
    }
}

/// Bad input is a clear error before anything is written.
#[test]
fn bad_input_is_refused_before_the_run_is_written() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let root = scratch.path();
    let model = fixture("tiny-bert-base");
    let model = model.to_str().unwrap();
    let write = |name: &str, body: String| write_data_file(root, name, &body);
    let rows =
        |n: usize| -> String { (0..n).map(|i| format!("query {i}\tanswer {i}\n")).collect() };
    // A positive and a negative row per query, but query 7 has only a negative.
    let labelled: String = (0..30)
        .map(|i| match i {
            7 => format!("q {i}\tn {i}\t0\n"),
            _ => format!("q {i}\tp {i}\t1\nq {i}\tn {i}\t0\n"),
        })
        .collect();
    let no_positive = write("labelled.tsv", format!("query\tpassage\tlabel\n{labelled}"));
    let pairs = write("pairs.tsv", format!("query\tpositive\n{}", rows(30)));
    // 30 rows split 24/3/3: a validation query has 2 other passages.
    let few = write("few.tsv", format!("query\tpositive\n{}", rows(30)));
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (no_positive.as_str(), vec![], "has no positive passage"),
        (pairs.as_str(), vec![], "has no negative passages: give"),
        (
            few.as_str(),
            vec!["--negatives-per-query", "5"],
            "--negatives-per-query 5: the query",
        ),
    ];
    for (data, extra, expected) in cases {
        let output = root.join("run");
        let mut all = vec!["--model", model];
        all.extend(extra);
        let error = match train(
            train_args(&flags(data, output.to_str().unwrap(), &all)),
            Start::New,
            bert_burn_tests::device(),
            &cache,
        ) {
            Ok(_) => panic!("{data} trained"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(expected), "{data}: {error}");
        assert!(!output.exists(), "{data}: the run directory was written");
    }
}
