//! Question answering: a SQuAD-format file written for the tests maps back to
//! its exact answer characters through overlapping windows, and
//! all-MiniLM-L6-v2 learns to find spans on a generated task (passages of
//! real rotten_tomatoes sentences hiding a code word). Neither is a benchmark.

use std::path::Path;

use bert_burn_tests::{
    assert_png, device, fixture, minilm_dir, reevaluate, rotten_tomatoes_sentences, scratch_dir,
    train_args, train_new,
};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::SplitMix64;
use bert_data::question_answering::{QaWindows, qa_features, read_squad};
use bert_train::run::RunDir;
use bert_train::tasks::predict_run;
use bert_train::tasks::question_answering::QaReport;
use serde_json::json;

#[test]
fn windows_of_a_squad_file_map_back_to_the_exact_answers() {
    let examples = read_squad(&fixture("squad_sample.json")).unwrap();
    assert_eq!(examples.len(), 3);
    assert_eq!(examples[0].answers.len(), 2);
    let tokenizer = BertTokenizer::from_dir(minilm_dir())
        .unwrap()
        .with_max_len(32)
        .unwrap();
    let windows = QaWindows {
        max_question_len: 64,
        doc_stride: 8,
    };
    let features = qa_features(&tokenizer, &examples, windows).unwrap();
    assert!(
        features.len() > examples.len(),
        "long passages get several windows"
    );
    for (index, example) in examples.iter().enumerate() {
        let holding: Vec<_> = features
            .iter()
            .filter(|f| f.example == index && f.target != (0, 0))
            .collect();
        assert!(
            !holding.is_empty(),
            "{}: no window holds the answer",
            example.id
        );
        for feature in holding {
            let (start, end) = feature
                .char_span(feature.target.0, feature.target.1)
                .unwrap();
            let text: String = example
                .context
                .chars()
                .skip(start)
                .take(end - start)
                .collect();
            assert_eq!(text, example.answers[0].text, "{}", example.id);
        }
    }
}

const CODE_WORDS: [&str; 16] = [
    "apple", "river", "window", "garden", "planet", "silver", "forest", "castle", "rocket",
    "island", "winter", "mirror", "thunder", "pepper", "violin", "harbor",
];

/// `n` questions "what is the code word?" about passages of three real
/// sentences with "the code word is X." at a random place, as SQuAD JSON.
fn generated_squad(path: &Path, sentences: &[String], n: usize, rng: &mut SplitMix64) {
    let mut paragraphs = Vec::new();
    for i in 0..n {
        let word = CODE_WORDS[rng.below(CODE_WORDS.len())];
        let mut parts: Vec<String> = (0..3)
            .map(|_| sentences[rng.below(sentences.len())].clone())
            .collect();
        parts.insert(rng.below(4), format!("the code word is {word} ."));
        let context = parts.join(" ");
        let start = context.find(&format!("is {word} .")).unwrap() + 3;
        paragraphs.push(json!({
            "context": context,
            "qas": [{
                "id": format!("gen-{i}"),
                "question": "what is the code word?",
                "answers": [{"text": word, "answer_start": context[..start].chars().count()}],
            }],
        }));
    }
    let squad =
        json!({"version": "1.1", "data": [{"title": "generated", "paragraphs": paragraphs}]});
    std::fs::write(path, squad.to_string()).unwrap();
}

#[test]
fn learns_to_find_spans_on_a_generated_task() {
    let scratch = scratch_dir();
    let root = scratch.path();
    let cache = AssetCache::from_env();
    let sentences: Vec<String> = rotten_tomatoes_sentences()
        .into_iter()
        .filter(|t| t.len() < 120)
        .take(500)
        .collect();
    let mut rng = SplitMix64::new(11);
    let (train_file, test_file) = (root.join("train.json"), root.join("test.json"));
    generated_squad(&train_file, &sentences, 128, &mut rng);
    generated_squad(&test_file, &sentences, 32, &mut rng);
    let (model, run) = (minilm_dir().display().to_string(), root.join("run"));
    let args = train_args(&[
        "--task",
        "question-answering",
        "--model",
        &model,
        "--train-file",
        &train_file.display().to_string(),
        "--validation-file",
        &test_file.display().to_string(),
        "--output-dir",
        &run.display().to_string(),
        "--max-len",
        "64",
        "--doc-stride",
        "16",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--lr",
        "1e-4",
    ]);
    device().seed(2);
    let report: QaReport = train_new(args, device(), &cache);
    assert_png(&run.join("curves.png"));
    assert_eq!(report.examples, 32);
    assert!(
        report.features > 32,
        "passages longer than a window: {} windows",
        report.features
    );
    assert!(
        report.exact_match > 0.8,
        "exact match {}",
        report.exact_match
    );
    // The scores, recomputed here from the run's own answers to the test
    // questions: every gold answer is one lower-case word, so SQuAD's
    // normalisation only drops punctuation and case from the predictions.
    let inputs: String = read_squad(&test_file)
        .unwrap()
        .iter()
        .map(|e| json!({"question": e.question, "context": e.context}).to_string() + "\n")
        .collect();
    let mut answers = Vec::new();
    predict_run(
        &RunDir::new(&run),
        inputs.as_bytes(),
        &mut answers,
        16,
        &device(),
    )
    .unwrap();
    let (mut exact, mut f1) = (0.0, 0.0);
    for (line, example) in String::from_utf8(answers)
        .unwrap()
        .lines()
        .zip(read_squad(&test_file).unwrap())
    {
        let predicted: serde_json::Value = serde_json::from_str(line).unwrap();
        let words: Vec<String> = predicted["answer"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| c.is_ascii_punctuation())
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect();
        let gold = &example.answers[0].text;
        if words == [gold.clone()] {
            exact += 1.0;
        }
        if words.contains(gold) {
            let precision = 1.0 / words.len() as f64;
            f1 += 2.0 * precision / (precision + 1.0);
        }
    }
    assert!(
        (report.exact_match - exact / 32.0).abs() < 1e-9,
        "{report:?}, {exact} exact"
    );
    assert!(
        (report.f1 - f1 / 32.0).abs() < 1e-9,
        "{report:?}, F1 sum {f1}"
    );

    let input = r#"{"question": "what is the code word?", "context": "a fine film . the code word is violin . it drags ."}"#;
    let mut output = Vec::new();
    predict_run(
        &RunDir::new(&run),
        input.as_bytes(),
        &mut output,
        8,
        &device(),
    )
    .unwrap();
    let line: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(line["answer"], "violin");

    let reloaded: QaReport = reevaluate(&run, &device(), &cache);
    assert_eq!(
        (reloaded.exact_match, reloaded.f1),
        (report.exact_match, report.f1)
    );
}
