//! `--task few-shot` against scikit-learn and SetFit
//! (`tests/reference/make_few_shot_fixtures.py` wrote the fixtures): the
//! logistic-regression head against scikit-learn's on fixed embeddings; a
//! run opened as a SetFit model, and in transformers as a sequence
//! classifier, gives our probabilities; the task end to
//! end on the tiny model, and its refusals of bad input.

use std::path::Path;

use bert_burn_tests::{
    assert_close, device, fixture, max_abs_diff, read_json, scratch_dir, tiny_run_flags, train_args,
};
use bert_data::assets::AssetCache;
use bert_train::embed::SentenceEmbedder;
use bert_train::run::RunDir;
use bert_train::tasks::classification::ClassificationReport;
use bert_train::tasks::few_shot::{HEAD_FILE, LogisticHead, MODELING_FILE};
use bert_train::tasks::{Start, evaluate_run, predict_run, train};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct LogisticCase {
    name: String,
    classes: usize,
    embeddings: Vec<Vec<f32>>,
    labels: Vec<usize>,
    coef: Vec<Vec<f64>>,
    intercept: Vec<f64>,
    probes: Vec<Vec<f32>>,
    probabilities: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct LogisticFixture {
    cases: Vec<LogisticCase>,
}

#[test]
fn the_head_is_scikit_learns_logistic_regression() {
    let fixture: LogisticFixture = read_json("few-shot/logistic.json");
    for case in &fixture.cases {
        let head = LogisticHead::fit(&case.embeddings, &case.labels, case.classes).unwrap();
        let flat =
            |rows: &[Vec<f64>]| -> Vec<f32> { rows.concat().iter().map(|&v| v as f32).collect() };
        let (ours, theirs) = (flat(&head.coef), flat(&case.coef));
        let coef_diff = max_abs_diff(&ours, &theirs);
        let intercept: Vec<f32> = head.intercept.iter().map(|&v| v as f32).collect();
        let reference: Vec<f32> = case.intercept.iter().map(|&v| v as f32).collect();
        let intercept_diff = max_abs_diff(&intercept, &reference);
        eprintln!(
            "{}: coef {coef_diff:e}, intercept {intercept_diff:e}",
            case.name
        );
        assert!(coef_diff <= 1e-5 && intercept_diff <= 1e-5, "{}", case.name);
        for (probe, expected) in case.probes.iter().zip(&case.probabilities) {
            assert_close(&case.name, &head.probabilities(probe), expected);
        }
    }
}

#[derive(Deserialize)]
struct SetFitOutput {
    texts: Vec<String>,
    probabilities: Vec<Vec<f32>>,
    labels: Vec<String>,
    /// `AutoModelForSequenceClassification`'s softmax on the same texts.
    transformers_probabilities: Vec<Vec<f32>>,
}

/// One JSON line per text.
fn text_lines(texts: &[String]) -> String {
    texts
        .iter()
        .map(|text| format!("{}\n", serde_json::json!({ "text": text })))
        .collect()
}

/// `predict`'s (label, probabilities) of each text, labels in `order`.
fn predicted(run: &Path, texts: &[String], order: &[&str]) -> Vec<(String, Vec<f32>)> {
    let mut output = Vec::new();
    predict_run(
        &RunDir::new(run),
        text_lines(texts).as_bytes(),
        &mut output,
        8,
        &device(),
    )
    .unwrap();
    String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|line| {
            let fields: Value = serde_json::from_str(line).unwrap();
            let probs = order
                .iter()
                .map(|label| fields["probs"][label].as_f64().unwrap() as f32)
                .collect();
            (fields["label"].as_str().unwrap().to_string(), probs)
        })
        .collect()
}

#[test]
fn runs_open_in_setfit_and_transformers_with_our_probabilities() {
    let expected: SetFitOutput = read_json("few-shot/expected.json");
    let ours = predicted(
        &fixture("few-shot/run"),
        &expected.texts,
        &["negative", "positive"],
    );
    assert_eq!(ours.len(), expected.texts.len());
    for (((label, probs), setfit_probs), (setfit_label, transformers_probs)) in
        ours.iter().zip(&expected.probabilities).zip(
            expected
                .labels
                .iter()
                .zip(&expected.transformers_probabilities),
        )
    {
        assert_close("SetFit's probabilities", probs, setfit_probs);
        assert_close("transformers' probabilities", probs, transformers_probs);
        assert_eq!(label, setfit_label);
    }
}

fn few_shot_flags<'a>(
    task: &'a str,
    model: &'a str,
    data: &'a str,
    output: &'a str,
) -> Vec<&'a str> {
    let mut flags = tiny_run_flags(task, model, data, output);
    flags.extend(["--report-to", "none", "--epochs", "1"]);
    flags
}

/// Four examples per class: pairs as SetFit counts them, a head in the
/// run, reports that `eval` repeats, and `predict`'s probabilities equal to
/// the saved head applied to `embed`'s embeddings.
#[test]
fn trains_end_to_end_and_predicts_with_its_head() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let run = scratch.path().join("run");
    let (model, data) = (fixture("tiny-bert-base"), fixture("few-shot/data"));
    let mut flags = few_shot_flags(
        "few-shot",
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        run.to_str().unwrap(),
    );
    flags.extend(["--samples-per-class", "4"]);
    let report: ClassificationReport = train(train_args(&flags), Start::New, device(), &cache)
        .unwrap()
        .get()
        .unwrap();
    let test_rows = std::fs::read_to_string(data.join("test.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let counted: usize = report.confusion_matrix.iter().flatten().sum();
    assert_eq!(counted, test_rows);

    // 8 examples of 2 labels: 36 pairs (i <= j), 2 x 10 positive and 16
    // negative; oversampling draws 20 of each, 40 pairs in batches of 16.
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("trainer_state.json")).unwrap())
            .unwrap();
    assert_eq!(state["max_steps"], 3, "{state}");
    for file in [HEAD_FILE, "config_setfit.json", "modules.json"] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let setfit: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config_setfit.json")).unwrap())
            .unwrap();
    assert_eq!(
        setfit["labels"],
        serde_json::json!(["negative", "positive"])
    );
    // The remote code and config keys that transformers opened in the
    // fixture run (`runs_open_in_setfit_and_transformers_...`).
    let fixture_run = fixture("few-shot/run");
    let read = |dir: &Path, file: &str| std::fs::read_to_string(dir.join(file)).unwrap();
    assert_eq!(read(&run, MODELING_FILE), read(&fixture_run, MODELING_FILE));
    let config = |dir: &Path| -> Value { serde_json::from_str(&read(dir, "config.json")).unwrap() };
    for key in ["auto_map", "setfit_pooling", "setfit_normalize"] {
        assert_eq!(config(&run)[key], config(&fixture_run)[key], "{key}");
    }

    let again: ClassificationReport =
        evaluate_run(&RunDir::new(&run), None, None, &device(), &cache)
            .unwrap()
            .get()
            .unwrap();
    assert_eq!(again.accuracy, report.accuracy);

    let texts: Vec<String> = ["a gripping , funny film", "dull and far too long"]
        .map(String::from)
        .to_vec();
    let head = LogisticHead::read(&run.join(HEAD_FILE)).unwrap();
    let embedder = SentenceEmbedder::load(&run, (None, None), None, device()).unwrap();
    let embeddings = embedder.embed(&texts).unwrap();
    for ((label, probs), embedding) in predicted(&run, &texts, &["negative", "positive"])
        .iter()
        .zip(&embeddings)
    {
        let expected = head.probabilities(embedding);
        assert_close("predict vs head(embed)", probs, &expected);
        let best = if expected[1] > expected[0] {
            "positive"
        } else {
            "negative"
        };
        assert_eq!(label, best);
    }
}

#[test]
fn bad_input_is_refused_before_the_run_is_written() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let root = scratch.path();
    let (model, data) = (fixture("tiny-bert-base"), fixture("few-shot/data"));
    let (model, data) = (model.to_str().unwrap(), data.to_str().unwrap());
    let one_class = root.join("one-class.csv");
    let rows: String = (0..10).map(|i| format!("text {i},positive\n")).collect();
    std::fs::write(&one_class, format!("text,label\n{rows}")).unwrap();
    let one_class = one_class.to_str().unwrap();
    let cases: [(&str, &str, &[&str], &str); 4] = [
        (
            "few-shot",
            data,
            &["--samples-per-class", "13"],
            "--samples-per-class 13: label \"negative\" has 12 training examples",
        ),
        (
            "few-shot",
            data,
            &["--samples-per-class", "0"],
            "--samples-per-class must be at least 1",
        ),
        (
            "few-shot",
            one_class,
            &[],
            "contrastive pairs need at least two classes",
        ),
        (
            "regression",
            data,
            &["--samples-per-class", "2"],
            "--samples-per-class draws examples per label",
        ),
    ];
    for (task, data, extra, expected) in cases {
        let output = root.join("run");
        let mut flags = few_shot_flags(task, model, data, output.to_str().unwrap());
        flags.extend(extra.iter().copied());
        let error = match train(train_args(&flags), Start::New, device(), &cache) {
            Ok(_) => panic!("{task} {extra:?} on {data} trained"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(expected), "{extra:?}: {error}");
        assert!(!output.exists(), "{extra:?}: the run directory was written");
    }
}
