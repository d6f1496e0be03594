//! `eval`: score a fine-tuned classifier and write `report.json`.

use anyhow::Result;
use bert_data::assets::AssetCache;
use bert_data::classification::{ClassificationBatcher, ClassificationItem, tokenize_examples};
use bert_data::dataset::LabelVocab;
use bert_model::BertForSequenceClassification;
use burn::tensor::Device;

use crate::data::DataArgs;
use crate::inference::{argmax, predict_probabilities};
use crate::plots::{confusion_matrix_png, curves_png};
use crate::report::Report;
use crate::run::RunDir;
use crate::train::TrainArgs;

/// Predicts `items`, prints the report table and writes `report.json` and
/// `report.txt` into the run.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_and_report(
    model: &BertForSequenceClassification,
    items: &[ClassificationItem],
    labels: &LabelVocab,
    batcher: &ClassificationBatcher,
    batch_size: usize,
    device: &Device,
    run: &RunDir,
    split: &str,
) -> Result<Report> {
    let probabilities = predict_probabilities(model, items, batcher, batch_size, device)?;
    let predicted: Vec<usize> = probabilities.iter().map(|p| argmax(p)).collect();
    let truth: Vec<usize> = items.iter().map(|item| item.label).collect();
    let report = Report::new(labels.names(), &truth, &predicted);
    let table = report.table();
    println!("\n{split} set, {} examples\n{table}", items.len());
    run.write_json("report.json", &report)?;
    std::fs::write(run.file("report.txt"), &table)?;
    confusion_matrix_png(&report, &run.file("confusion_matrix.png"))?;
    let curves = curves_png(run, &run.file("curves.png"))?;
    println!(
        "wrote report.json, report.txt, confusion_matrix.png{} in {}",
        if curves { ", curves.png" } else { "" },
        run.root().display()
    );
    Ok(report)
}

/// Evaluates the run's model on the test split of its own data, or of
/// `dataset` (a built-in name or a file, read with the run's column settings).
pub fn evaluate_run(
    run: &RunDir,
    dataset: Option<&str>,
    batch_size: usize,
    device: &Device,
    cache: &AssetCache,
) -> Result<Report> {
    let args: TrainArgs = run.read_json("training_args.json")?;
    let classifier = run.load_classifier(args.max_len, device)?;
    let data = match dataset {
        Some(dataset) => DataArgs {
            dataset: dataset.to_string(),
            train_file: None,
            validation_file: None,
            test_file: None,
            ..args.data
        },
        None => args.data,
    };
    // The run's own test split is cut as training cut it, so the reports agree.
    let max_eval = if dataset.is_none() {
        args.max_eval_samples
    } else {
        None
    };
    let test = data.load(cache)?.truncate(None, max_eval).test;
    let items = tokenize_examples(&classifier.tokenizer, &test, &classifier.labels)?;
    let batcher = ClassificationBatcher::for_tokenizer(&classifier.tokenizer);
    evaluate_and_report(
        &classifier.model,
        &items,
        &classifier.labels,
        &batcher,
        batch_size,
        device,
        run,
        &data.describe(),
    )
}
