//! `eval`: score a finished run on test data and write `report.json`.

use anyhow::Result;
use bert_data::TextBatcher;
use bert_data::assets::AssetCache;
use bert_data::classification::{ClassificationItem, tokenize_examples};
use bert_data::dataset::LabelVocab;
use bert_model::BertForSequenceClassification;
use burn::tensor::Device;

use bert_data::pretraining::{MaskingBatcher, pretraining_items};
use bert_data::question_answering::qa_features;
use bert_data::regression::tokenize_regression;
use bert_data::token_classification::tokenize_tagged;
use bert_model::heads::{ClassifierHeadConfig, PreTrainingHead, QuestionAnsweringHead};

use crate::data::DataArgs;
use crate::inference::{Batches, argmax, predict_probabilities};
use crate::plots::{confusion_matrix_png, curves_png};
use crate::pretrain_task::{evaluate_pretraining, test_pairing_seed};
use crate::pretrainer::Pretrainer;
use crate::qa_task::{evaluate_qa, windows};
use crate::regression_task::evaluate_regression;
use crate::report::Report;
use crate::run::RunDir;
use crate::task::Task;
use crate::token_task::evaluate_tagging;
use crate::train::{RunReport, TrainArgs};

/// Predicts `items`, prints the report table and writes `report.json` and
/// `report.txt` into the run.
pub fn evaluate_and_report(
    model: &BertForSequenceClassification,
    items: &[ClassificationItem],
    labels: &LabelVocab,
    batches: &Batches,
    run: &RunDir,
    split: &str,
) -> Result<Report> {
    let probabilities = predict_probabilities(model, items, batches)?;
    let predicted: Vec<usize> = probabilities.iter().map(|p| argmax(p)).collect();
    let truth: Vec<usize> = items.iter().map(|item| item.label).collect();
    let report = Report::new(labels.names(), &truth, &predicted);
    let table = report.table();
    run.write_report(
        &report,
        &table,
        &format!("{split} set, {} examples", items.len()),
    )?;
    confusion_matrix_png(&report, &run.file("confusion_matrix.png"))?;
    let curves = curves_png(run, &run.file("curves.png"))?;
    println!(
        "wrote confusion_matrix.png{} in {}",
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
) -> Result<RunReport> {
    let args: TrainArgs = run.read_json("training_args.json")?;
    let data = match dataset {
        Some(dataset) => DataArgs {
            dataset: Some(dataset.to_string()),
            train_file: None,
            validation_file: None,
            test_file: None,
            ..args.data.clone()
        },
        None => args.data.clone(),
    };
    // The run's own test split is cut as training cut it, so the reports agree.
    let max_eval = if dataset.is_none() {
        args.max_eval_samples
    } else {
        None
    };
    let split = data.describe(args.task);
    Ok(match args.task {
        Task::Classification | Task::PairClassification => {
            let classifier = run.load_classifier(args.max_len, device)?;
            let test = data.load(cache, args.task)?.truncate(None, max_eval).test;
            let items = tokenize_examples(&classifier.tokenizer, &test, &classifier.labels)?;
            RunReport::Classification(evaluate_and_report(
                &classifier.model,
                &items,
                &classifier.labels,
                &Batches::new(
                    &TextBatcher::for_tokenizer(&classifier.tokenizer),
                    batch_size,
                    device,
                ),
                run,
                &split,
            )?)
        }
        Task::Regression => {
            let regressor = run.load_classifier(args.max_len, device)?;
            let test = data.load(cache, args.task)?.truncate(None, max_eval).test;
            let items = tokenize_regression(&regressor.tokenizer, &test)?;
            RunReport::Regression(evaluate_regression(
                &regressor.model,
                &items,
                &Batches::new(
                    &TextBatcher::for_tokenizer(&regressor.tokenizer),
                    batch_size,
                    device,
                ),
                run,
                &split,
            )?)
        }
        Task::QuestionAnswering => {
            let answerer = run.load_model(args.max_len, device, |config, _| {
                QuestionAnsweringHead::new(config, device)
            })?;
            let examples = data
                .load_questions(args.task)?
                .truncate(None, max_eval)
                .test;
            let features = qa_features(&answerer.tokenizer, &examples, windows(&args))?;
            RunReport::QuestionAnswering(evaluate_qa(
                &answerer.model,
                &examples,
                &features,
                args.max_answer_len,
                &Batches::new(
                    &TextBatcher::for_tokenizer(&answerer.tokenizer),
                    batch_size,
                    device,
                ),
                run,
                &split,
            )?)
        }
        Task::Mlm => {
            let trained = run.load_model(args.max_len, device, |config, _| {
                PreTrainingHead::new(config, device)
            })?;
            let documents = data
                .load_documents(cache, args.task)?
                .truncate(None, max_eval)
                .test;
            let items = pretraining_items(
                &trained.tokenizer,
                &documents,
                args.nsp,
                test_pairing_seed(args.seed),
            )?;
            RunReport::Pretraining(evaluate_pretraining(
                &Pretrainer {
                    model: trained.model,
                },
                &items,
                &Batches::new(
                    &MaskingBatcher::new(&trained.tokenizer, args.seed)?,
                    batch_size,
                    device,
                ),
                run,
                &split,
            )?)
        }
        Task::TokenClassification => {
            let tagger = run.load_model(args.max_len, device, |config, tags| {
                ClassifierHeadConfig::for_model(config, tags).init_token(device)
            })?;
            let test = data
                .load_tagged(cache, args.task)?
                .truncate(None, max_eval)
                .test;
            let items = tokenize_tagged(&tagger.tokenizer, &test, &tagger.labels)?;
            RunReport::TokenClassification(evaluate_tagging(
                &tagger.model,
                &items,
                &tagger.labels,
                &Batches::new(
                    &TextBatcher::for_tokenizer(&tagger.tokenizer),
                    batch_size,
                    device,
                ),
                run,
                &split,
            )?)
        }
    })
}
