//! The generic driver: trains, evaluates and applies any [`Task`], the
//! same way for every task.

use std::time::Instant;

use anyhow::Result;
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::Splits;
use bert_model::pretrained::{self, HeadStatus};
use bert_model::{BertForTask, Precision};
use burn::module::Module;
use burn::tensor::Device;
use serde_json::{Map, Value};
use tracing::info;

use crate::inference::Batches;
use crate::predict::InputLine;
use crate::run::RunDir;
use crate::task::{Split, Task, TaskItem, TaskModel, TaskReport, restore, saved_config};
use crate::training::{BestMetric, DataArgs, RunSetup};

/// Fine-tunes `task` as `setup` says, saves the run and writes (and returns)
/// the report on the test split, then the run's `curves.png`.
pub fn train_task<T: Task>(setup: &RunSetup, mut task: T, cache: &AssetCache) -> Result<T::Report> {
    let args = &setup.args;
    task.supports(&setup.config)?;
    let examples = task
        .read(&args.data, cache)?
        .truncate(args.max_train_samples, args.max_eval_samples);
    task.learn(&examples)?;
    let metrics = task
        .metrics()
        .select(args.best_metric, args.patience, task.name())?;
    let selected_by = metrics.selection.metric().to_string();
    let started = Instant::now();
    let tokenizer = &setup.tokenizer;
    let encode = |examples, split| task.encode(tokenizer, examples, split);
    let items = Splits {
        train: encode(&examples.train, Split::Train)?,
        validation: encode(&examples.validation, Split::Validation)?,
        test: encode(&examples.test, Split::Test)?,
    };
    let [train, validation, test] = examples.lens();
    info!(
        "data: {train} / {validation} / {test} train / validation / test examples -> {} / {} / {} items, {}, prepared in {:.1}s",
        items.train.len(),
        items.validation.len(),
        items.test.len(),
        task.describe(&examples, &items, tokenizer)?,
        started.elapsed().as_secs_f64(),
    );

    let device = setup.training_device();
    let head = task.head(&setup.config, &device);
    let (config, model, status) = pretrained::load_for_task(&setup.model_dir, head, &device)?;
    if let HeadStatus::Initialised { .. } = status {
        info!(
            "model: {} with a new {} head",
            setup.model_dir.display(),
            task.name()
        );
    }
    let trained = setup.fit(
        TaskModel {
            model: model.with_precision(setup.args.precision),
            task: task.clone(),
            loss_scale: setup.loss_scale.clone(),
        },
        (items.train, items.validation),
        (
            T::Item::batcher(tokenizer, Split::Train, args.seed)?,
            T::Item::batcher(tokenizer, Split::Validation, args.seed)?,
        ),
        metrics,
    )?;
    // Reported as saved, and as `eval` reloads it: in f32.
    let model = trained.valid().model.with_precision(Precision::F32);
    setup.save(&model, &saved_config(&mut task, config))?;
    let test = TestData {
        examples: &examples.test,
        items: &items.test,
        split: "test",
        seed: args.seed,
    };
    let batching = (args.batch_size, &setup.device);
    report(
        &task,
        &model,
        tokenizer,
        test,
        batching,
        &setup.run,
        &selected_by,
    )
}

/// The examples a report is on, encoded, the name of their split and the
/// run's seed (for the batcher).
struct TestData<'a, T: Task> {
    examples: &'a [T::Example],
    items: &'a [T::Item],
    split: &'a str,
    seed: u64,
}

/// The one report path of `train` and `eval`: scores `model` on `test` in
/// batches of `batch_size` on `device`, prints the table, writes the report
/// files and the run's `curves.png` (loss and the `selected_by` metric).
fn report<T: Task>(
    task: &T,
    model: &BertForTask<T::Head>,
    tokenizer: &BertTokenizer,
    test: TestData<T>,
    (batch_size, device): (usize, &Device),
    run: &RunDir,
    selected_by: &str,
) -> Result<T::Report> {
    let batcher = T::Item::batcher(tokenizer, Split::Test, test.seed)?;
    let batches = Batches::new(&batcher, batch_size, device);
    let report = task.evaluate(model, test.examples, test.items, &batches, test.split)?;
    run.write_report(
        &report,
        &report.table(),
        &format!("{} set, {} examples", test.split, test.examples.len()),
    )?;
    report.write_files(run)?;
    run.write_curves(selected_by)?;
    Ok(report)
}

/// How a saved run is evaluated: on the test split of `data` (the first
/// `max_eval` examples), named `split` in the report, in batches of `batch_size`.
pub struct Evaluation<'a> {
    /// Where the examples come from.
    pub data: &'a DataArgs,
    /// Keep only the first N test examples.
    pub max_eval: Option<usize>,
    /// Name of the data in the report.
    pub split: String,
    /// Truncation length.
    pub max_len: usize,
    /// Examples per forward pass.
    pub batch_size: usize,
    /// The metric the run was trained to select by (`None`: the task's
    /// default), drawn in `curves.png`.
    pub best_metric: Option<BestMetric>,
    /// The run's seed (the masks of masked-LM evaluation derive from it).
    pub seed: u64,
}

/// Loads the model of `run` (trained for `task`) and writes its report on
/// the test split that `evaluation` names, and the run's `curves.png`.
pub fn evaluate_task<T: Task>(
    run: &RunDir,
    mut task: T,
    evaluation: &Evaluation,
    device: &Device,
    cache: &AssetCache,
) -> Result<T::Report> {
    restore(&mut task, &run.config()?)?;
    let metrics = task
        .metrics()
        .select(evaluation.best_metric, None, task.name())?;
    let trained = run.load_model(evaluation.max_len, device, |config| {
        task.head(config, device)
    })?;
    let examples = task
        .read(evaluation.data, cache)?
        .truncate(None, evaluation.max_eval)
        .test;
    let items = task.encode(&trained.tokenizer, &examples, Split::Test)?;
    let test = TestData {
        examples: &examples,
        items: &items,
        split: &evaluation.split,
        seed: evaluation.seed,
    };
    report(
        &task,
        &trained.model,
        &trained.tokenizer,
        test,
        (evaluation.batch_size, device),
        run,
        metrics.selection.metric(),
    )
}

/// Loads the model of `run` (trained for `task`) and returns the result
/// fields of every input line.
pub fn predict_task<T: Task>(
    run: &RunDir,
    mut task: T,
    inputs: &[InputLine],
    max_len: usize,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<Map<String, Value>>> {
    restore(&mut task, &run.config()?)?;
    let trained = run.load_model(max_len, device, |config| task.head(config, device))?;
    task.predict(
        &trained.model,
        &trained.tokenizer,
        inputs,
        batch_size,
        device,
    )
}
