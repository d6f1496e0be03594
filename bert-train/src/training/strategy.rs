//! The training loop: burn-train's single-device loop plus what Hugging
//! Face fine-tuning does and burn's does not: gradients averaged over
//! accumulated micro-batches and clipped by their global norm, the best
//! validation epoch kept (its weights and `trainer_state.json` saved with
//! each checkpoint, so the best is over all epochs, also across resumes)
//! and returned, and a stop (Ctrl-C, the dashboard's quit) that saves a
//! checkpoint part-way through an epoch. With several replicas
//! ([`Replicas`]), each step trains one batch per replica and their
//! gradients count as micro-batches of one optimiser step; everything else
//! (validation, checkpoints, the best epoch, stops) runs on the main device.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::data::dataloader::{DataLoader, Progress};
use burn::optim::GradientsAccumulator;
use burn::tensor::Device;
use burn::train::checkpoint::CheckpointerError;
use burn::train::metric::store::{Aggregate, EventStoreClient, Split};
use burn::train::{
    EventProcessorTraining, InferenceStep, Interrupter, Learner, LearnerEvent, LearnerModel,
    LearningCheckpointer, SupervisedLearningStrategy, SupervisedTrainingEventProcessor,
    TrainLoader, TrainStep, TrainingComponents, TrainingItem, ValidLoader,
};

use super::checkpoint::{BestModel, EpochProgress, WrittenRecords};
use super::grad_clip::{StepGradients, average_and_clip};
use super::loss_scale::LossScale;
use super::reads;
use super::replicas::Replicas;
use super::step::StepLoss;
use super::train_log::TrainLog;
use super::train_results::TrainResults;
use super::trainer_state::{EpochLog, LoggedMetric, TrainerState};
use crate::polling::Polling;
use crate::run::{CHECKPOINT_RECORDS, RunDir};

/// The validation metric that picks the best epoch.
#[derive(Clone, Debug)]
pub struct BestBy {
    /// Metric name as registered (e.g. `Accuracy`).
    pub metric: String,
    /// Whether higher values are better (accuracy) or lower (loss).
    pub higher_is_better: bool,
}

/// Fine-tuning with accumulation, global clipping and best-epoch selection,
/// on one device or data-parallel replicas.
pub struct FineTuningStrategy {
    /// Where the model trains: the main device and any other replicas.
    pub replicas: Replicas,
    /// Steps of every replica per optimiser step.
    pub accumulation: usize,
    /// Global gradient-norm limit.
    pub max_grad_norm: Option<f64>,
    /// How the returned model is chosen.
    pub best_by: BestBy,
    /// The validation metrics `trainer_state.json` logs, as it names them.
    pub logged: Vec<LoggedMetric>,
    /// Optimiser steps per training log entry (`--logging-steps`).
    pub logging_steps: usize,
    /// Optimiser steps per epoch.
    pub steps_per_epoch: usize,
    /// Where TensorBoard files go (`--report-to tensorboard`), if anywhere.
    pub tensorboard: Option<PathBuf>,
    /// The run directory: its checkpoints and `trainer_state.json`.
    pub run: RunDir,
    /// The state to continue from (a new one for a new run).
    pub state: TrainerState,
    /// The interrupted epoch the resumed checkpoint stopped in, if any.
    pub resume_within: Option<EpochProgress>,
    /// Which checkpoint records are written.
    pub written: Arc<WrittenRecords>,
    /// Set when a stop request ended training part-way, with its checkpoint saved.
    pub interrupted: Arc<Mutex<Option<EpochProgress>>>,
    /// The loss scale the training step applied (f16), shared with it.
    pub loss_scale: LossScale,
    /// When the run started, for `train_results.json`'s time to the first step.
    pub run_started: Instant,
}

impl<M: LearnerModel> SupervisedLearningStrategy<M> for FineTuningStrategy
where
    <M as TrainStep>::Output: StepLoss,
{
    fn fit(
        &self,
        components: TrainingComponents<M>,
        mut learner: Learner<M>,
        dataloader_train: TrainLoader<M>,
        dataloader_valid: ValidLoader<M>,
        starting_epoch: usize,
    ) -> (M, SupervisedTrainingEventProcessor<M>) {
        let shards = self.replicas.shard(&dataloader_train);
        let train_items = shards.iter().map(|shard| shard.num_items()).sum();
        let dataloader_valid = dataloader_valid.to_device(&self.replicas.main().clone().inner());
        learner.fork(self.replicas.main());
        let interrupter = components.interrupter.clone();
        let mut processor = components.event_processor;
        let mut checkpointer = components.checkpointer;
        let mut early_stopping = components.early_stopping;
        let mut state = self.state.clone();
        // A checkpoint saved part-way through epoch E is numbered E, so burn
        // resumes at E + 1: go back to E and skip the batches already trained.
        let (first_epoch, mut skip) = match self.resume_within {
            Some(progress) if progress.epoch + 1 == starting_epoch => {
                (progress.epoch, progress.steps_done)
            }
            _ => (starting_epoch, 0),
        };
        let mut global_step = state.global_step + skip / self.accumulation;
        let loop_started = Instant::now();
        let first_global_step = global_step;
        let mut log = TrainLog::new(
            self.logging_steps,
            self.steps_per_epoch,
            self.tensorboard.as_deref(),
        );

        for epoch in first_epoch..=components.num_epochs {
            interrupter.fail_on_error(processor.process_train(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: train_items,
            }));
            let (steps_done, optimizer_steps) = self.train_epoch(
                &mut learner,
                &shards,
                (&mut processor, &mut log, &mut state),
                &interrupter,
                (global_step, std::mem::take(&mut skip)),
            );
            global_step += optimizer_steps;
            interrupter.fail_on_error(processor.process_train(LearnerEvent::EndSplit(epoch)));
            if !interrupter.should_stop() {
                interrupter.fail_on_error(processor.process_valid(LearnerEvent::StartSplit {
                    epoch_number: epoch,
                    total_items: dataloader_valid.num_items(),
                }));
                valid_epoch(
                    &learner,
                    &dataloader_valid,
                    (self.replicas.main(), self.logging_steps),
                    &mut processor,
                    &interrupter,
                );
                interrupter.fail_on_error(processor.process_valid(LearnerEvent::EndSplit(epoch)));
                interrupter.fail_on_error(processor.process_train(LearnerEvent::EndEpoch(epoch)));
                interrupter.fail_on_error(processor.flush());
            }
            if interrupter.should_stop() {
                let progress = EpochProgress { epoch, steps_done };
                self.save_partial(
                    progress,
                    &learner,
                    &mut checkpointer,
                    &components.event_store,
                    &interrupter,
                );
                break;
            }
            let epoch_log = self.epoch_log(epoch, &components.event_store);
            log.eval(global_step, &epoch_log.valid);
            self.end_epoch(
                epoch_log,
                global_step,
                &mut state,
                &learner,
                &mut checkpointer,
                &components.event_store,
                &interrupter,
            );
            if interrupter.should_stop() {
                break;
            }
            if let Some(early_stopping) = &mut early_stopping
                && early_stopping.should_stop(epoch, &components.event_store)
            {
                break;
            }
        }
        if !interrupter.should_stop() {
            let train_runtime = loop_started.elapsed().as_secs_f64();
            let results = TrainResults {
                epoch: state.epoch,
                global_step,
                train_runtime,
                train_steps_per_second: (global_step - first_global_step) as f64 / train_runtime,
                seconds_to_first_step: log
                    .first_step_done()
                    .map(|done| done.duration_since(self.run_started).as_secs_f64()),
            };
            let written = results.write(self.run.root());
            interrupter.fail_on_error(written.map_err(CheckpointerError::IOError));
        }
        if let Some(epoch) = state.best_epoch
            && !interrupter.should_stop()
        {
            match BestModel::new(self.run.checkpoint_dir()).load(epoch) {
                Ok(record) => learner.load_model(record),
                Err(error) => interrupter.fail(error),
            }
        }
        (learner.model(), processor)
    }
}

impl FineTuningStrategy {
    /// After a stop request (not a failure), saves the state reached in
    /// `progress.epoch` as its checkpoint, with the progress beside it.
    fn save_partial<M: LearnerModel>(
        &self,
        progress: EpochProgress,
        learner: &Learner<M>,
        checkpointer: &mut Option<LearningCheckpointer<M>>,
        event_store: &EventStoreClient,
        interrupter: &Interrupter,
    ) {
        let Some(checkpointer) = checkpointer else {
            return;
        };
        if interrupter.error().is_some() {
            return;
        }
        // Written before the records: a kill between the two leaves an
        // incomplete checkpoint of this epoch, which resuming never uses.
        interrupter.fail_on_error(progress.write(&self.run.checkpoint_dir()));
        checkpointer.checkpoint(learner, progress.epoch, event_store);
        *self.interrupted.lock().expect("not poisoned") = Some(progress);
    }

    /// The epoch's validation metrics, read back from the event store, in
    /// `Trainer`'s keys and scales.
    fn epoch_log(&self, epoch: usize, store: &EventStoreClient) -> EpochLog {
        let value = |metric: &LoggedMetric| {
            let raw = store.find_metric(&metric.name, epoch, Aggregate::Mean, &Split::Valid)?;
            Some(metric.value(raw))
        };
        let selected = self
            .logged
            .iter()
            .find(|metric| metric.name == self.best_by.metric)
            .and_then(value);
        EpochLog {
            epoch,
            valid: self
                .logged
                .iter()
                .filter_map(|metric| Some((metric.key.clone(), value(metric)?)))
                .collect(),
            selected,
        }
    }

    /// After a complete epoch: its weights if they are the best so far, its
    /// checkpoint, then (once the checkpoint is written) the trainer state
    /// that records the epoch, so a resume never sees an epoch as done
    /// whose checkpoint is not.
    #[allow(clippy::too_many_arguments)]
    fn end_epoch<M: LearnerModel>(
        &self,
        log: EpochLog,
        global_step: usize,
        state: &mut TrainerState,
        learner: &Learner<M>,
        checkpointer: &mut Option<LearningCheckpointer<M>>,
        event_store: &EventStoreClient,
        interrupter: &Interrupter,
    ) {
        let epoch = log.epoch;
        let best = BestModel::new(self.run.checkpoint_dir());
        if state.is_improvement(log.selected) {
            interrupter.fail_on_error(best.save(epoch, learner.model().into_record()));
        }
        if let Some(checkpointer) = checkpointer {
            // This epoch's complete checkpoint replaces any partial one.
            interrupter.fail_on_error(EpochProgress::clear(&self.run.checkpoint_dir()));
            checkpointer.checkpoint(learner, epoch, event_store);
            self.written.wait_for(epoch, &CHECKPOINT_RECORDS);
            if !self.run.has_checkpoint(epoch) {
                // The failed save has reported its error to the interrupter.
                return;
            }
        }
        let checkpoint = best.path(epoch).display().to_string();
        state.record(log, global_step, &checkpoint);
        let saved = state
            .write(self.run.root())
            .map_err(CheckpointerError::IOError)
            .and_then(|()| match state.best_epoch {
                Some(epoch) => best.remove_others(epoch),
                None => Ok(()),
            });
        interrupter.fail_on_error(saved);
    }

    /// Trains one epoch on the replicas' shards, skipping the first `skip`
    /// steps of each (trained before an interruption); returns the number of
    /// steps done per replica, skipped included, and of optimiser steps taken.
    /// A stop request takes effect after an optimiser step.
    fn train_epoch<M: LearnerModel>(
        &self,
        learner: &mut Learner<M>,
        shards: &[TrainLoader<M>],
        (processor, log, state): (
            &mut SupervisedTrainingEventProcessor<M>,
            &mut TrainLog,
            &mut TrainerState,
        ),
        interrupter: &Interrupter,
        (steps_before, skip): (usize, usize),
    ) -> (usize, usize)
    where
        <M as TrainStep>::Output: StepLoss,
    {
        let mut accumulator = GradientsAccumulator::<M>::new();
        let mut accumulated = 0;
        let mut micro_batches = 0;
        let mut optimizer_steps = 0;
        let mut pending = Vec::new();
        let main = self.replicas.main();
        let steps = for_each_step(
            shards,
            main,
            interrupter,
            skip,
            |batches, progress, step| {
                let model = learner.model();
                let outputs = match self.replicas.step(&model, batches) {
                    Ok(outputs) => outputs,
                    Err(failure) => {
                        interrupter.fail(failure);
                        return true;
                    }
                };
                let (items, grads): (Vec<_>, Vec<_>) = outputs
                    .into_iter()
                    .map(|output| (output.item, output.grads))
                    .unzip();
                for item in &items {
                    log.add_loss(item.step_loss());
                }
                micro_batches += self.replicas.accumulate(&model, &mut accumulator, grads);
                accumulated += 1;
                let mut logged = false;
                if accumulated == self.accumulation || progress.is_completed() {
                    let grads = StepGradients::new(&model, accumulator.grads());
                    let finite = !self.loss_scale.is_dynamic() || grads.all_finite();
                    let divisor = micro_batches as f64 * self.loss_scale.factor();
                    // An overflowed f16 step is skipped, schedule included (as Hugging Face does).
                    if self.loss_scale.update(finite) {
                        let (grads, norm) =
                            average_and_clip(&model, grads, divisor, self.max_grad_norm);
                        log.set_grad_norm(norm);
                        learner.lr_step();
                        learner.optimizer_step(grads);
                    }
                    accumulated = 0;
                    micro_batches = 0;
                    optimizer_steps += 1;
                    let step = steps_before + optimizer_steps;
                    if let Some(entry) = log.after_step(step, learner.lr_current().base()) {
                        state.log_step(entry);
                        logged = true;
                    }
                }
                let replicas = items.len();
                for (replica, item) in items.into_iter().enumerate() {
                    pending.push(TrainingItem::new(
                        item,
                        progress.clone(),
                        Some((step - 1) * replicas + replica + 1),
                        Some(learner.lr_current()),
                    ));
                }
                // The metrics read their outputs: at logging steps, right
                // after the log's read has waited for the device.
                if logged || progress.is_completed() || interrupter.should_stop() {
                    let counted = !logged;
                    flush(&mut pending, counted, |item| {
                        interrupter.fail_on_error(
                            processor.process_train(LearnerEvent::ProcessedItem(item)),
                        )
                    });
                }
                accumulated == 0
            },
        );
        flush(&mut pending, true, |item| {
            interrupter.fail_on_error(processor.process_train(LearnerEvent::ProcessedItem(item)))
        });
        (steps, optimizer_steps)
    }
}

/// Hands the deferred `pending` items to `process`, in order; `counted`:
/// the first of their reads waits for the device ([`reads::count`]),
/// unless a counted read just did.
fn flush<T>(pending: &mut Vec<T>, counted: bool, mut process: impl FnMut(T)) {
    if pending.is_empty() {
        return;
    }
    if counted {
        reads::count();
    }
    pending.drain(..).for_each(&mut process);
}

/// Validates on `dataloader`; the metrics read the outputs every
/// `logging_steps` batches (deferred, as in training) and at the end.
fn valid_epoch<M: LearnerModel>(
    learner: &Learner<M>,
    dataloader: &ValidLoader<M>,
    (device, logging_steps): (&Device, usize),
    processor: &mut SupervisedTrainingEventProcessor<M>,
    interrupter: &Interrupter,
) {
    let model = learner.model().valid();
    let loaders = std::slice::from_ref(dataloader);
    let mut pending = Vec::new();
    let mut process = |item| {
        interrupter.fail_on_error(processor.process_valid(LearnerEvent::ProcessedItem(item)))
    };
    for_each_step(
        loaders,
        device,
        interrupter,
        0,
        |batches, progress, iteration| {
            for batch in batches {
                let output = InferenceStep::step(&model, batch);
                pending.push(TrainingItem::new(
                    output,
                    progress.clone(),
                    Some(iteration),
                    None,
                ));
            }
            if iteration.is_multiple_of(logging_steps) {
                flush(&mut pending, true, &mut process);
            }
            true
        },
    );
    flush(&mut pending, true, process);
}

/// Calls `step(batches, progress, number)` with the next batch of every
/// loader (shards of equal length), for every step after the first `skip`,
/// until the data ends, a batch cannot be loaded (a training failure) or
/// training is stopped where `step` says it may stop (returns `true`).
/// Each step keeps the CPU's threads polling where it computes on them
/// (`device`, the main device). Returns the number of steps done, skipped
/// included.
fn for_each_step<I>(
    loaders: &[Arc<dyn DataLoader<I>>],
    device: &Device,
    interrupter: &Interrupter,
    skip: usize,
    mut step: impl FnMut(Vec<I>, Progress, usize) -> bool,
) -> usize {
    let mut iterators: Vec<_> = loaders.iter().map(|loader| loader.iter()).collect();
    let mut steps = 0;
    loop {
        let mut batches = Vec::with_capacity(iterators.len());
        for iterator in &mut iterators {
            match iterator.next() {
                Some(Ok(batch)) => batches.push(batch),
                Some(Err(err)) => {
                    interrupter.fail(err);
                    return steps;
                }
                None => return steps,
            }
        }
        steps += 1;
        if steps <= skip {
            continue;
        }
        let progress = Progress::new(
            iterators
                .iter()
                .map(|it| it.progress().items_processed)
                .sum(),
            iterators.iter().map(|it| it.progress().items_total).sum(),
            iterators[0].progress().unit,
        );
        let polling = Polling::start(device);
        let may_stop = step(batches, progress, steps);
        drop(polling);
        if interrupter.error().is_some() || (may_stop && interrupter.should_stop()) {
            return steps;
        }
    }
}
