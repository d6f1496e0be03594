//! Masked-LM + next-sentence pretraining end to end with all-MiniLM-L6-v2
//! on a small real subset (imdb reviews): the loss falls, the run reloads and
//! evaluates to the same report, and `train --model RUN` fine-tunes a
//! classifier from it (domain-adaptive pretraining).

use std::path::Path;

use bert_burn_tests::{
    QUICK_RUN, assert_png, device, minilm_dir, reevaluate, scratch_dir, train_args, train_new,
};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::BuiltinDataset;
use bert_data::pretraining::{MaskingBatcher, pretraining_items, split_documents};
use bert_model::heads::PretrainingHeadConfig;
use bert_model::pretrained;
use bert_train::inference::Batches;
use bert_train::run::RunDir;
use bert_train::task::{Task, TestData};
use bert_train::tasks::classification::ClassificationReport;
use bert_train::tasks::mlm::{Mlm, PretrainingReport};
use bert_train::tasks::predict_run;

/// MLM loss of `model_dir` (its heads, or new ones) on `documents`, fixed masks.
fn mlm_loss(model_dir: &Path, documents: &[Vec<String>]) -> f64 {
    let device = device();
    let tokenizer = BertTokenizer::from_dir(model_dir)
        .unwrap()
        .with_max_len(48)
        .unwrap();
    let config = pretrained::load_config(model_dir).unwrap();
    let head = PretrainingHeadConfig::for_model(&config).init(&device);
    let (_, model, _) = pretrained::load_for_task(model_dir, head, &device).unwrap();
    let items = pretraining_items(&tokenizer, documents, true, 5).unwrap();
    let batcher = MaskingBatcher::new(&tokenizer, 0).unwrap();
    let test = TestData::<Mlm> {
        examples: documents,
        items: &items,
        batches: Batches::new(&batcher, 16, &device),
        tokenizer: &tokenizer,
        split: "train",
    };
    let report = Mlm::default().evaluate(&model, &test).unwrap();
    report.mlm_loss
}

#[test]
fn mlm_and_nsp_learn_then_a_classifier_fine_tunes_from_the_run() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let root = scratch.path();
    let run = root.join("run");
    let run_arg = run.display().to_string();
    let minilm = minilm_dir().display().to_string();
    device().seed(1);
    let pretraining = [
        "--task",
        "mlm",
        "--nsp",
        "--model",
        &minilm,
        "--dataset",
        "imdb",
    ];
    let subset = [
        "--max-train-samples",
        "24",
        "--max-eval-samples",
        "8",
        "--epochs",
        "3",
    ];
    let run_dir = ["--output-dir", &run_arg];
    let args = train_args(&[&pretraining[..], &subset, &run_dir, &QUICK_RUN].concat());
    let report: PretrainingReport = train_new(args, device(), &cache);
    assert_png(&run.join("curves.png"));
    assert!(
        report.masked_tokens > 100,
        "{} masked tokens",
        report.masked_tokens
    );
    // On the held-out test reviews too, the trained heads beat new ones.
    let imdb = BuiltinDataset::find("imdb").unwrap().load(&cache).unwrap();
    let test_documents: Vec<Vec<String>> = imdb.test[..8]
        .iter()
        .flat_map(|e| split_documents(&e.text))
        .collect();
    let untrained = mlm_loss(&minilm_dir(), &test_documents);
    assert!(
        report.mlm_loss < untrained * 0.9,
        "test MLM loss {} against {untrained} with new heads",
        report.mlm_loss
    );
    // NSP accuracy counts whole pairs: a share of the test pairs.
    let pairs = report.examples as f64;
    let correct = report.nsp_accuracy.unwrap() * pairs;
    assert!((correct - correct.round()).abs() < 1e-9, "{report:?}");

    // The MLM loss on the training reviews falls from the new heads' level.
    let documents: Vec<Vec<String>> = imdb.train[..24]
        .iter()
        .flat_map(|e| split_documents(&e.text))
        .collect();
    let before = mlm_loss(&minilm_dir(), &documents);
    let after = mlm_loss(&run, &documents);
    println!("training-set MLM loss {before:.3} -> {after:.3}");
    assert!(after < before * 0.8, "MLM loss {before:.3} -> {after:.3}");

    // The run reloads (tied decoder, cls.* heads) to the same test report.
    let reloaded: PretrainingReport = reevaluate(&run, &device(), &cache);
    assert_eq!(reloaded.masked_tokens, report.masked_tokens);
    assert!((reloaded.mlm_loss - report.mlm_loss).abs() < 1e-4);
    assert_eq!(reloaded.nsp_accuracy, report.nsp_accuracy);

    let error = predict_run(
        &RunDir::new(&run),
        "text\n".as_bytes(),
        Vec::new(),
        8,
        &device(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("an mlm run predicts nothing"), "{error}");

    // Domain-adaptive pretraining, then classification from the run.
    let classifier_run = root.join("classifier").display().to_string();
    let args = train_args(&[
        "--model",
        &run_arg,
        "--dataset",
        "rotten_tomatoes",
        "--output-dir",
        &classifier_run,
        "--max-train-samples",
        "32",
        "--max-eval-samples",
        "16",
        "--max-len",
        "32",
    ]);
    let report: ClassificationReport = train_new(args, device(), &cache);
    assert_eq!(report.labels, ["negative", "positive"]);
}
