//! [`RunSetup`]: a run about to train (resuming, the pretrained model and its
//! tokenizer), and [`RunSetup::fit`], burn-train's `Learner` with our loop,
//! optimiser, schedule, common metrics, checkpoints and renderer.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::seeded_shuffle;
use bert_data::length_groups::{
    Encoded, full_batches, group_by_length, longest_first, padding_share,
};
use bert_model::pretrained;
use bert_model::{BertConfig, BertForTask, LoraConfig, TaskHead};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::tensor::Device;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::{Adaptor, LearningRateMetric};
use burn::train::renderer::default_renderer;
use burn::train::{
    InferenceStep, Learner, LearnerModel, SupervisedTraining, TrainStep, TrainingStrategy,
};
use tracing::info;

use super::args::TrainingArgs;
use super::checkpoint::{AtomicCheckpointer, EpochProgress, WrittenRecords};
use super::experiment_log::{ExperimentLog, close_experiment_log};
use super::lora::{StartingModel, save_adapter};
use super::loss_scale::LossScale;
use super::metrics::{ThroughputInput, ThroughputMetric};
use super::optim::{WarmupLinearDecay, adamw};
use super::renderer::PlainRenderer;
use super::replicas::Replicas;
use super::step::StepLoss;
use super::stop_signal::stop_on_signal;
use super::strategy::{BestBy, FineTuningStrategy};
use super::task_metrics::{ChosenMetrics, Selection};
use super::train_log::{ReportTo, tensorboard_dir};
use super::trainer_state::{LoggedMetric, TrainerState, TrainingPlan};
use crate::run::{CHECKPOINT_RECORDS, RunDir};

/// Batches a group of items made beforehand (a "batch" of one group).
#[derive(Clone)]
struct Grouped<Bt>(Bt);

impl<I, O, Bt: Batcher<I, O>> Batcher<Vec<I>, O> for Grouped<Bt> {
    fn batch(&self, groups: Vec<Vec<I>>, device: &Device) -> O {
        self.0.batch(groups.into_iter().flatten().collect(), device)
    }
}

/// The training items, cut into fixed groups (a batch each) or left to be
/// batched at random each epoch.
enum Batching<I> {
    /// Batches made beforehand: by length, or by the task.
    Groups(Vec<Vec<I>>),
    /// Items batched at random.
    Random(Vec<I>),
}

impl<I: Clone> Batching<I> {
    /// What the loader holds: groups or items.
    fn loader_items(&self) -> usize {
        self.loader_items_described().0
    }

    /// What the loader holds, and what it is.
    fn loader_items_described(&self) -> (usize, &'static str) {
        match self {
            Self::Groups(groups) => (groups.len(), "batches"),
            Self::Random(items) => (items.len(), "examples"),
        }
    }
}

/// Training stopped on request (Ctrl-C, the dashboard's quit) part-way, with
/// a checkpoint saved: the run continues with `train --resume --output-dir RUN`.
#[derive(Debug, thiserror::Error)]
#[error(
    "training stopped after step {} of epoch {}; its checkpoint is saved in {}",
    progress.steps_done,
    progress.epoch,
    run.checkpoint_dir().display()
)]
pub struct Interrupted {
    /// The run.
    pub run: RunDir,
    /// Where training stopped.
    pub progress: EpochProgress,
}

/// Where a run continues: the epoch of its last complete checkpoint, the
/// progress within the next epoch if a stop cut it short, and the run's
/// state after that epoch. A checkpoint written after the last recorded
/// epoch (a kill between the two) is passed over for the recorded one.
fn resume_point(run: &RunDir) -> Result<(usize, Option<EpochProgress>, Option<TrainerState>)> {
    let last = run
        .last_checkpoint()
        .with_context(|| format!("{} has no checkpoint to resume from", run.root().display()))?;
    let within = EpochProgress::read(&run.checkpoint_dir()).filter(|p| p.epoch == last);
    let state = TrainerState::read(run.root())?;
    let epoch = match &state {
        Some(state)
            if within.is_none()
                && state.epochs_done() < last
                && run.has_checkpoint(state.epochs_done()) =>
        {
            state.epochs_done()
        }
        _ => last,
    };
    Ok((epoch, within, state))
}

/// A run about to train: its arguments, directory, pretrained model and tokenizer.
pub struct RunSetup {
    /// The run's task-independent arguments.
    pub args: TrainingArgs,
    /// Everything the run was started with, saved as `training_args.json`.
    record: serde_json::Value,
    /// The run directory.
    pub run: RunDir,
    /// The epoch to resume after, if resuming.
    pub resume_epoch: Option<usize>,
    /// With `resume_epoch`, the epoch its checkpoint stopped part-way through, if so.
    resume_within: Option<EpochProgress>,
    /// With `resume_epoch`, the run's state after it (`trainer_state.json`).
    resume_state: Option<TrainerState>,
    /// The device (without autodiff).
    pub device: Device,
    /// The replicas `--devices` names, the first on `device`.
    replicas: Replicas,
    /// The pretrained model's directory (an adapter's base model).
    pub model_dir: PathBuf,
    /// What `--model` names: a model, or an adapter and its base.
    pub start: StartingModel,
    /// The LoRA adapter the run trains, if any.
    pub lora: Option<LoraConfig>,
    /// Its config.
    pub config: BertConfig,
    /// Its tokenizer, truncating to `--max-len`.
    pub tokenizer: BertTokenizer,
    /// The loss scale of `--precision f16` (none otherwise), shared by the
    /// training step and the loop.
    pub loss_scale: LossScale,
    /// When the run started (before its model and data were loaded).
    pub started: Instant,
}

impl RunSetup {
    /// Checks `args`, seeds the device and loads the pretrained model's
    /// config and tokenizer. `record` (all the run's arguments) is saved as
    /// `training_args.json` when training starts; with `resume`, training
    /// continues after the last checkpoint of the run directory.
    pub fn new(
        args: TrainingArgs,
        record: &impl serde::Serialize,
        resume: bool,
        device: Device,
        cache: &AssetCache,
    ) -> Result<Self> {
        let started = Instant::now();
        args.validate()?;
        let run = args.run_dir();
        let (resume_epoch, resume_within, resume_state) = if resume {
            let (epoch, within, state) = resume_point(&run)?;
            (Some(epoch), within, state)
        } else {
            (None, None, None)
        };
        crate::backend::check_precision(args.precision)?;
        crate::backend::seed(&device, args.seed)?;
        let replicas = args.devices.replicas(&device)?;
        let start = StartingModel::resolve(cache, &args.model)?;
        let model_dir = start.dir.clone();
        let config = pretrained::load_config(&model_dir)?;
        let lora = start.lora(&args.lora, config.model_type)?;
        let tokenizer = crate::backend::model_tokenizer(&model_dir, &config, args.max_len)?;
        Ok(Self {
            started,
            loss_scale: LossScale::for_precision(args.precision),
            record: serde_json::to_value(record)?,
            args,
            run,
            resume_epoch,
            resume_within,
            resume_state,
            device,
            replicas,
            model_dir,
            start,
            lora,
            config,
            tokenizer,
        })
    }

    /// The device training runs on.
    pub fn training_device(&self) -> Device {
        self.device.clone().autodiff()
    }

    /// Saves the trained `model` with `config` and this run's tokenizer into
    /// the run directory, and says where; a LoRA run saves its adapter too,
    /// and the model with the adapter merged. Returns the model as saved.
    pub fn save<H: TaskHead>(
        &self,
        model: BertForTask<H>,
        config: &BertConfig,
    ) -> Result<BertForTask<H>> {
        let model = match &self.lora {
            Some(lora) => save_adapter(
                model,
                config,
                lora,
                &self.start.base_name,
                &self.run.adapter_dir(),
            )?,
            None => model,
        };
        self.run.save(&model, config, &self.tokenizer)?;
        info!("saved {}", self.run.root().display());
        Ok(model)
    }

    /// Trains `model` on `train`, validating on `valid` after each epoch, and
    /// returns the model of the epoch that `metrics` selects. `batchers` make
    /// the training and the validation batches; `batches`, when the task cut
    /// the training items into batches itself (indices into `train`), are
    /// used as they are, in a new order each epoch. `metrics` are the task's
    /// (the loss among them); learning rate and throughput are always there.
    pub fn fit<M, I, Bt>(
        &self,
        model: M,
        (train, valid): (Vec<I>, Vec<I>),
        (train_batcher, valid_batcher): (Bt, Bt),
        metrics: ChosenMetrics<M>,
        batches: Option<Vec<Vec<usize>>>,
    ) -> Result<M>
    where
        M: LearnerModel,
        I: Encoded + Clone + Send + Sync + std::fmt::Debug + 'static,
        Bt: Batcher<I, <M as TrainStep>::Input>
            + Batcher<I, <M as InferenceStep>::Input>
            + Clone
            + 'static,
        <M as TrainStep>::Input: Clone + Send + std::fmt::Debug + 'static,
        <M as InferenceStep>::Input: Clone + Send + std::fmt::Debug + 'static,
        <M as TrainStep>::Output: Adaptor<ThroughputInput> + Adaptor<()> + StepLoss,
        <M as InferenceStep>::Output: Adaptor<ThroughputInput>,
    {
        let args = &self.args;
        let num_train = train.len();
        let batching = self.batching(train, batches);
        let steps_per_epoch = self.steps_per_epoch(&batching)?;
        self.write_training_args()?;
        let left_out = self.left_out(&batching);
        let train_loader = self.train_loader(batching, train_batcher);
        let valid_loader = self.valid_loader(valid, valid_batcher);
        let ChosenMetrics {
            selection:
                Selection {
                    best_by,
                    early_stopping,
                },
            registrations,
            logged,
        } = metrics;
        let written = Arc::new(WrittenRecords::default());
        let interrupted = Arc::new(Mutex::new(None));
        let strategy = self.strategy(
            steps_per_epoch,
            (best_by, logged),
            (written.clone(), interrupted.clone()),
        )?;
        let training = SupervisedTraining::new(self.run.root(), train_loader, valid_loader);
        let mut training = registrations
            .into_iter()
            .fold(training, |training, register| register(training));
        if let Some(early_stopping) = early_stopping {
            training = training.early_stopping(early_stopping);
        }
        let training = self.configured(training, strategy, written);
        info!(
            "training {} on {}: {} epochs x {} steps (batch {}), {} examples/epoch",
            args.model,
            args.data.describe(),
            args.epochs,
            steps_per_epoch,
            self.describe_batch(),
            num_train,
        );
        if let Some(left_out) = left_out {
            info!(
                "{left_out} left out of each epoch, so that every replica takes the same number of steps"
            );
        }
        let learner = Learner::new(
            model,
            adamw(args.weight_decay, args.adam_epsilon),
            WarmupLinearDecay::new(args.lr, steps_per_epoch * args.epochs, args.warmup_ratio),
        );
        self.launch(training, learner, &interrupted)
    }

    /// The optimiser steps of an epoch; an error when the data makes none.
    fn steps_per_epoch<I: Clone>(&self, batching: &Batching<I>) -> Result<usize> {
        let steps_per_epoch = self
            .batches_per_replica(batching)
            .div_ceil(self.args.grad_accumulation);
        if steps_per_epoch == 0 {
            let (items, unit) = batching.loader_items_described();
            bail!(
                "the training data makes {items} {unit}, fewer than the {} devices (--devices) that each need one per step: \
                 no optimiser step could be taken; give more training examples, a smaller --batch-size or fewer --devices",
                self.replicas.count()
            );
        }
        Ok(steps_per_epoch)
    }

    /// Saves `training_args.json`: every argument, and the data-parallel
    /// world and global batch sizes.
    fn write_training_args(&self) -> Result<()> {
        let mut record = self.record.clone();
        record["world_size"] = self.replicas.count().into();
        record["global_batch_size"] = self.global_batch().into();
        self.run.write_json("training_args.json", &record)
    }

    /// The validation loader: batches of similar lengths (its scores do not
    /// depend on the order), longest first.
    fn valid_loader<I, O, Bt>(&self, valid: Vec<I>, batcher: Bt) -> Arc<dyn DataLoader<O>>
    where
        I: Encoded + Clone + Send + Sync + std::fmt::Debug + 'static,
        O: Clone + Send + std::fmt::Debug + 'static,
        Bt: Batcher<I, O> + Clone + 'static,
    {
        let valid = longest_first(&valid)
            .into_iter()
            .map(|i| valid[i].clone())
            .collect();
        DataLoaderBuilder::new(batcher)
            .batch_size(self.args.batch_size)
            .num_workers(1)
            .build(InMemDataset::new(valid))
    }

    /// The training loop: `steps_per_epoch`, how the best epoch is chosen
    /// and which metrics are logged, the state it starts from (a resumed
    /// run's, else a new one), and the records shared with the checkpointers
    /// and the stop request.
    fn strategy(
        &self,
        steps_per_epoch: usize,
        (best_by, logged): (BestBy, Vec<LoggedMetric>),
        (written, interrupted): (Arc<WrittenRecords>, Arc<Mutex<Option<EpochProgress>>>),
    ) -> Result<FineTuningStrategy> {
        let args = &self.args;
        let plan = TrainingPlan {
            num_train_epochs: args.epochs,
            max_steps: steps_per_epoch * args.epochs,
            logging_steps: args.logging_steps,
            train_batch_size: args.batch_size,
        };
        let selecting = logged
            .iter()
            .find(|metric| metric.name == best_by.metric)
            .context("the selecting metric is among the validation metrics")?;
        let state = match self.resume_state.clone() {
            Some(state) => state.upgraded(&logged, plan),
            None => TrainerState::new(plan, selecting, best_by.higher_is_better),
        };
        Ok(FineTuningStrategy {
            replicas: self.replicas.clone(),
            accumulation: args.grad_accumulation,
            max_grad_norm: (args.max_grad_norm > 0.0).then_some(args.max_grad_norm),
            best_by,
            logged,
            logging_steps: args.logging_steps,
            steps_per_epoch,
            tensorboard: (args.report_to == ReportTo::Tensorboard)
                .then(|| tensorboard_dir(self.run.root())),
            run: self.run.clone(),
            state,
            resume_within: self.resume_within,
            written,
            interrupted,
            loss_scale: self.loss_scale.clone(),
            run_started: self.started,
        })
    }

    /// burn-train's training with the run's loop (`strategy`), learning
    /// rate and throughput metrics, atomic checkpointers, the experiment
    /// log, a dashboard (or plain lines off a terminal), Ctrl-C, and the
    /// checkpoint to resume from.
    fn configured<M>(
        &self,
        training: SupervisedTraining<M>,
        strategy: FineTuningStrategy,
        written: Arc<WrittenRecords>,
    ) -> SupervisedTraining<M>
    where
        M: LearnerModel,
        <M as TrainStep>::Output: Adaptor<ThroughputInput> + Adaptor<()> + StepLoss,
        <M as InferenceStep>::Output: Adaptor<ThroughputInput>,
    {
        let checkpointer =
            |name| AtomicCheckpointer::new(self.run.checkpoint_dir(), name, written.clone());
        let [model_records, optim_records, scheduler_records] = CHECKPOINT_RECORDS;
        let mut training = training
            .metric_train_numeric(LearningRateMetric::new())
            .metric_train_numeric(ThroughputMetric::new())
            .metric_valid_numeric(ThroughputMetric::new())
            .with_custom_checkpointers(
                checkpointer(model_records),
                checkpointer(optim_records),
                checkpointer(scheduler_records),
            )
            // Two: the three records are written by separate threads, so while
            // epoch N's are written, epoch N - 1's must stay whole.
            .with_checkpointing_strategy(KeepLastNCheckpoints::new(2))
            .with_application_logger(Some(Box::new(ExperimentLog {
                path: self.run.file("experiment.log"),
            })))
            .with_training_strategy(TrainingStrategy::Custom(Arc::new(strategy)))
            .num_epochs(self.args.epochs);
        stop_on_signal(&training.interrupter());
        training = if std::io::stdout().is_terminal() {
            let interrupter = training.interrupter();
            training.renderer(default_renderer(interrupter, self.resume_epoch))
        } else {
            training.renderer(Box::new(PlainRenderer::new()))
        };
        if let Some(epoch) = self.resume_epoch {
            match self.resume_within {
                Some(progress) => info!(
                    "resuming {} in epoch {epoch} after step {}",
                    self.run.root().display(),
                    progress.steps_done
                ),
                None => info!("resuming {} after epoch {epoch}", self.run.root().display()),
            }
            training = training.checkpoint(epoch);
        }
        training
    }

    /// Runs `training` from `learner`: the model it returns, or why there
    /// is none (a failure, or a stop request that `interrupted` recorded).
    fn launch<M: LearnerModel>(
        &self,
        training: SupervisedTraining<M>,
        learner: Learner<M>,
        interrupted: &Mutex<Option<EpochProgress>>,
    ) -> Result<M> {
        let started = Instant::now();
        let result = training.launch(learner);
        close_experiment_log();
        if let Some(error) = result.error {
            bail!("training failed: {error}");
        }
        if let Some(progress) = interrupted.lock().expect("not poisoned").take() {
            return Err(Interrupted {
                run: self.run.clone(),
                progress,
            }
            .into());
        }
        info!("trained in {:.0} s", started.elapsed().as_secs_f64());
        if let Some(summary) = self.loss_scale.summary() {
            info!("{summary}");
        }
        Ok(result.model)
    }

    /// How the training items are cut into batches: the task's `batches`,
    /// else with `--group-by-length` (the default) fixed groups of similar
    /// lengths, else random batches each epoch. Logs the share of padding
    /// tokens of each way.
    fn batching<I: Encoded + Clone>(
        &self,
        train: Vec<I>,
        batches: Option<Vec<Vec<usize>>>,
    ) -> Batching<I> {
        let args = &self.args;
        let (multiple, max_len) = (self.tokenizer.pad_multiple(), self.tokenizer.max_len());
        if let Some(batches) = batches {
            let mut slots: Vec<Option<I>> = train.into_iter().map(Some).collect();
            let groups: Vec<Vec<I>> = batches
                .iter()
                .map(|batch| batch.iter().filter_map(|&i| slots[i].take()).collect())
                .collect();
            let share = padding_share(groups.iter().map(Vec::as_slice), multiple, max_len);
            info!(
                "padding: {:.0}% of the training tokens in the task's {} batches",
                100.0 * share,
                groups.len()
            );
            return Batching::Groups(self.fixed_shapes(groups));
        }
        let mut shuffled = train.clone();
        seeded_shuffle(&mut shuffled, args.seed);
        let random = padding_share(shuffled.chunks(args.batch_size), multiple, max_len);
        let groups = group_by_length(train.clone(), args.batch_size, args.seed);
        let grouped = padding_share(groups.iter().map(Vec::as_slice), multiple, max_len);
        info!(
            "padding: {:.0}% of the training tokens in random batches, {:.0}% grouped by length (--group-by-length {})",
            100.0 * random,
            100.0 * grouped,
            args.group_by_length
        );
        match args.group_by_length {
            true => Batching::Groups(self.fixed_shapes(groups)),
            false => Batching::Random(train),
        }
    }

    /// On a backend that compiles a kernel per shape, only full batches:
    /// an epoch then has one batch size (and lengths in steps of the pad
    /// multiple); the items left out are logged.
    fn fixed_shapes<I>(&self, groups: Vec<Vec<I>>) -> Vec<Vec<I>> {
        if !crate::backend::fixed_shapes().unwrap_or(false) {
            return groups;
        }
        let (full, left_out) = full_batches(groups, self.args.batch_size);
        if left_out > 0 {
            info!(
                "{left_out} training examples of a short batch left out each epoch: on this backend every batch has {} rows, so that few kernels are compiled",
                self.args.batch_size
            );
        }
        full
    }

    /// The training loader of `batching`: its groups (or its items batched
    /// at random) in a new order each epoch.
    fn train_loader<I, O, Bt>(&self, batching: Batching<I>, batcher: Bt) -> Arc<dyn DataLoader<O>>
    where
        I: Encoded + Clone + Send + Sync + std::fmt::Debug + 'static,
        O: Clone + Send + std::fmt::Debug + 'static,
        Bt: Batcher<I, O> + Clone + 'static,
    {
        let seed = self.args.seed;
        match batching {
            Batching::Groups(groups) => DataLoaderBuilder::new(Grouped(batcher))
                .batch_size(1)
                .shuffle(seed)
                .num_workers(1)
                .build(InMemDataset::new(groups)),
            Batching::Random(train) => DataLoaderBuilder::new(batcher)
                .batch_size(self.args.batch_size)
                .shuffle(seed)
                .num_workers(1)
                .build(InMemDataset::new(train)),
        }
    }

    /// The batches each replica trains per epoch: the loader's items (the
    /// groups, or the examples) are shared out equally
    /// ([`Replicas::shard_len`]), then batched.
    fn batches_per_replica<I: Clone>(&self, batching: &Batching<I>) -> usize {
        let shard = self.replicas.shard_len(batching.loader_items());
        match batching {
            Batching::Groups(_) => shard,
            Batching::Random(_) => shard.div_ceil(self.args.batch_size),
        }
    }

    /// What the replicas' equal shards leave out of the loader's items
    /// (fewer items than there are replicas), if anything.
    fn left_out<I: Clone>(&self, batching: &Batching<I>) -> Option<String> {
        let (items, unit) = batching.loader_items_described();
        let left = items - self.replicas.shard_len(items) * self.replicas.count();
        (left > 0).then(|| format!("{left} {unit}"))
    }

    /// Examples per optimiser step, as transformers counts them: batch size
    /// x devices x accumulation.
    fn global_batch(&self) -> usize {
        self.args.batch_size * self.replicas.count() * self.args.grad_accumulation
    }

    /// The batch as the plan line gives it: per device, devices, accumulation, global.
    fn describe_batch(&self) -> String {
        let args = &self.args;
        let replicas = self.replicas.count();
        if replicas == 1 && args.grad_accumulation == 1 {
            return args.batch_size.to_string();
        }
        let kind = if self.replicas.all_reduces() {
            "all-reduced"
        } else {
            "gathered"
        };
        format!(
            "{} per device x {replicas} devices ({kind}) x {} accumulated = {} global",
            args.batch_size,
            args.grad_accumulation,
            self.global_batch()
        )
    }
}
