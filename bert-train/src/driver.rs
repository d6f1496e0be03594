//! The generic driver: trains, evaluates and applies any [`Task`], the
//! same way for every task.

use std::time::Instant;

use anyhow::Result;
use bert_data::assets::AssetCache;
use bert_data::dataset::Split;
use bert_data::{BatchedItem, BertTokenizer, TextBatcher};
use bert_model::pretrained::{self, HeadStatus};
use bert_model::{Precision, TaskHead};
use burn::module::Module;
use burn::tensor::Device;
use tracing::info;

use crate::inference::Batches;
use crate::predict::{Fields, InputLine, Inputs};
use crate::run::RunDir;
use crate::task::{
    Model, Prepared, Task, TaskModel, TaskReport, TestData, TextBatches, restore, saved_config,
};
use crate::training::{BestMetric, DataArgs, RunSetup};

/// Fine-tunes `task` as `setup` says, saves the run and writes (and returns)
/// the report on the test split, then the run's `curves.png`.
pub fn train_task<T: Task>(setup: &RunSetup, mut task: T, cache: &AssetCache) -> Result<T::Report> {
    let args = &setup.args;
    task.supports(&setup.config)?;
    task.read_model_files(&setup.model_dir)?;
    let examples = task
        .read(&args.data, cache)?
        .truncate(args.max_train_samples, args.max_eval_samples);
    task.learn(&examples)?;
    let metrics = task.metrics().select(args.best_metric, args.patience)?;
    let selected_by = metrics.selection.metric().to_string();
    let started = Instant::now();
    let tokenizer = &setup.tokenizer;
    let items =
        examples.try_map_split(|split, examples| task.encode_split(tokenizer, split, examples))?;
    let [train, validation, test] = examples.lens();
    let prepared = Prepared {
        examples: &examples,
        items: &items,
        max_len: tokenizer.max_len(),
    };
    info!(
        "data: {train} / {validation} / {test} train / validation / test examples -> {} / {} / {} items, {}, prepared in {:.1}s",
        items.train.len(),
        items.validation.len(),
        items.test.len(),
        task.describe(&prepared)?,
        started.elapsed().as_secs_f64(),
    );

    let device = setup.training_device();
    // The head is built as transformers builds it: from the config that
    // will be saved, with the task's labels.
    let config = saved_config(&mut task, setup.config.clone());
    let head = T::Head::for_config(&config, &device);
    let (_, model, status) = pretrained::load_for_task(&setup.model_dir, head, &device)?;
    if let HeadStatus::Initialised { .. } = status {
        info!("model: {} with a new head", setup.model_dir.display());
    }
    let model = setup
        .start
        .adapt(model, setup.lora.as_ref(), config.model_type)?;
    let batches = task.training_batches(&prepared, args)?;
    let trained = setup.fit(
        TaskModel {
            model: model.with_precision(setup.args.precision),
            task: task.clone(),
            loss_scale: setup.loss_scale.clone(),
        },
        (items.train, items.validation),
        (
            T::Item::batcher(tokenizer, Some(args.seed))?,
            T::Item::batcher(tokenizer, None)?,
        ),
        metrics,
        batches,
    )?;
    // Reported as saved, and as `eval` reloads it: in f32.
    let model = setup.save(
        trained.valid().model.with_precision(Precision::F32),
        &config,
    )?;
    let text_batcher = TextBatcher::for_tokenizer(tokenizer);
    let texts = TextBatches {
        batches: Batches::new(&text_batcher, args.batch_size, &setup.device),
        tokenizer,
    };
    task.fit_after_training(&model, &examples.train, &texts)?;
    task.write_model_files(&setup.run, tokenizer, &config)?;
    let test = Reported {
        examples: &examples.test,
        items: &items.test,
        split: "test",
        batch_size: args.batch_size,
    };
    let report = report(
        &task,
        &model,
        tokenizer,
        test,
        &setup.device,
        &setup.run,
        &selected_by,
    )?;
    setup.run.write_model_card()?;
    Ok(report)
}

/// The examples a report is on, encoded, the name of their data and the
/// batch size.
struct Reported<'a, T: Task> {
    examples: &'a [T::Example],
    items: &'a [T::Item],
    split: &'a str,
    batch_size: usize,
}

/// The one report path of `train` and `eval`: scores `model` on `test`,
/// prints the table, writes the report files and the run's `curves.png`
/// (loss and the `selected_by` metric).
fn report<T: Task>(
    task: &T,
    model: &Model<T>,
    tokenizer: &BertTokenizer,
    test: Reported<T>,
    device: &Device,
    run: &RunDir,
    selected_by: &str,
) -> Result<T::Report> {
    let batcher = T::Item::batcher(tokenizer, None)?;
    let data = TestData {
        examples: test.examples,
        items: test.items,
        batches: Batches::new(&batcher, test.batch_size, device),
        tokenizer,
        split: test.split,
    };
    let report = task.evaluate(model, &data)?;
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
    task.read_model_files(run.root())?;
    let metrics = task.metrics().select(evaluation.best_metric, None)?;
    let trained = run.load_model::<T::Head>(evaluation.max_len, device)?;
    let examples = task
        .read(evaluation.data, cache)?
        .truncate(None, evaluation.max_eval)
        .test;
    let items = task.encode_split(&trained.tokenizer, Split::Test, &examples)?;
    let test = Reported {
        examples: &examples,
        items: &items,
        split: &evaluation.split,
        batch_size: evaluation.batch_size,
    };
    let selected_by = metrics.selection.metric();
    report(
        &task,
        &trained.model,
        &trained.tokenizer,
        test,
        device,
        run,
        selected_by,
    )
}

/// Loads the model of `run` (trained for `task`) and returns the result
/// fields of every input line.
pub fn predict_task<T: Task>(
    run: &RunDir,
    mut task: T,
    lines: &[InputLine],
    max_len: usize,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<Fields>> {
    restore(&mut task, &run.config()?)?;
    task.read_model_files(run.root())?;
    let trained = run.load_model::<T::Head>(max_len, device)?;
    let inputs = Inputs {
        lines,
        tokenizer: &trained.tokenizer,
        batch_size,
        device,
    };
    task.predict(&trained.model, &inputs)
}
