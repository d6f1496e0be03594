//! The training loop: burn-train's single-device loop plus what Hugging
//! Face fine-tuning does and burn's does not: gradients averaged over
//! accumulated micro-batches and clipped by their global norm, and the model
//! of the best validation epoch kept and returned.

use std::sync::Arc;

use burn::data::dataloader::{DataLoader, Progress};
use burn::optim::GradientsAccumulator;
use burn::tensor::Device;
use burn::train::metric::store::{Aggregate, Split};
use burn::train::{
    EventProcessorTraining, InferenceStep, Interrupter, Learner, LearnerEvent, LearnerModel,
    SupervisedLearningStrategy, SupervisedTrainingEventProcessor, TrainLoader, TrainingComponents,
    TrainingItem, ValidLoader,
};

use super::grad_clip::average_and_clip;

/// The validation metric that picks the best epoch.
#[derive(Clone, Debug)]
pub struct BestBy {
    /// Metric name as registered (e.g. `Accuracy`).
    pub metric: String,
    /// Whether higher values are better (accuracy) or lower (loss).
    pub higher_is_better: bool,
}

/// Single-device fine-tuning with accumulation, global clipping and best-epoch selection.
pub struct FineTuningStrategy {
    /// Where the model trains.
    pub device: Device,
    /// Micro-batches per optimiser step.
    pub accumulation: usize,
    /// Global gradient-norm limit.
    pub max_grad_norm: Option<f64>,
    /// How the returned model is chosen.
    pub best_by: BestBy,
}

impl<M: LearnerModel> SupervisedLearningStrategy<M> for FineTuningStrategy {
    fn fit(
        &self,
        components: TrainingComponents<M>,
        mut learner: Learner<M>,
        dataloader_train: TrainLoader<M>,
        dataloader_valid: ValidLoader<M>,
        starting_epoch: usize,
    ) -> (M, SupervisedTrainingEventProcessor<M>) {
        let dataloader_train = dataloader_train.to_device(&self.device);
        let dataloader_valid = dataloader_valid.to_device(&self.device.clone().inner());
        learner.fork(&self.device);
        let interrupter = components.interrupter.clone();
        let mut processor = components.event_processor;
        let mut checkpointer = components.checkpointer;
        let mut early_stopping = components.early_stopping;
        let mut best: Option<(f64, M)> = None;

        for epoch in starting_epoch..=components.num_epochs {
            interrupter.fail_on_error(processor.process_train(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: dataloader_train.num_items(),
            }));
            self.train_epoch(
                &mut learner,
                &dataloader_train,
                &mut processor,
                &interrupter,
            );
            interrupter.fail_on_error(processor.process_train(LearnerEvent::EndSplit(epoch)));
            if interrupter.should_stop() {
                break;
            }

            interrupter.fail_on_error(processor.process_valid(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: dataloader_valid.num_items(),
            }));
            valid_epoch(&learner, &dataloader_valid, &mut processor, &interrupter);
            interrupter.fail_on_error(processor.process_valid(LearnerEvent::EndSplit(epoch)));
            interrupter.fail_on_error(processor.process_train(LearnerEvent::EndEpoch(epoch)));
            interrupter.fail_on_error(processor.flush());
            if interrupter.should_stop() {
                break;
            }

            if let Some(value) = components.event_store.find_metric(
                &self.best_by.metric,
                epoch,
                Aggregate::Mean,
                &Split::Valid,
            ) && best
                .as_ref()
                .is_none_or(|(best_value, _)| self.is_better(value, *best_value))
            {
                best = Some((value, learner.model()));
            }
            if let Some(checkpointer) = &mut checkpointer {
                checkpointer.checkpoint(&learner, epoch, &components.event_store);
            }
            if let Some(early_stopping) = &mut early_stopping
                && early_stopping.should_stop(epoch, &components.event_store)
            {
                break;
            }
        }
        let model = best.map_or_else(|| learner.model(), |(_, model)| model);
        (model, processor)
    }
}

impl FineTuningStrategy {
    fn is_better(&self, value: f64, best: f64) -> bool {
        if self.best_by.higher_is_better {
            value > best
        } else {
            value < best
        }
    }

    fn train_epoch<M: LearnerModel>(
        &self,
        learner: &mut Learner<M>,
        dataloader: &TrainLoader<M>,
        processor: &mut SupervisedTrainingEventProcessor<M>,
        interrupter: &Interrupter,
    ) {
        let mut accumulator = GradientsAccumulator::<M>::new();
        let mut accumulated = 0;
        for_each_batch(dataloader, interrupter, |batch, progress, iteration| {
            let output = learner.train_step(batch);
            accumulator.accumulate(&learner.model(), output.grads);
            accumulated += 1;
            if accumulated == self.accumulation || progress.is_completed() {
                let grads = average_and_clip(
                    &learner.model(),
                    accumulator.grads(),
                    accumulated,
                    self.max_grad_norm,
                );
                learner.lr_step();
                learner.optimizer_step(grads);
                accumulated = 0;
            }
            let item = TrainingItem::new(
                output.item,
                progress,
                Some(iteration),
                Some(learner.lr_current()),
            );
            interrupter.fail_on_error(processor.process_train(LearnerEvent::ProcessedItem(item)));
        });
    }
}

fn valid_epoch<M: LearnerModel>(
    learner: &Learner<M>,
    dataloader: &ValidLoader<M>,
    processor: &mut SupervisedTrainingEventProcessor<M>,
    interrupter: &Interrupter,
) {
    let model = learner.model().valid();
    for_each_batch(dataloader, interrupter, |batch, progress, iteration| {
        let output = InferenceStep::step(&model, batch);
        let item = TrainingItem::new(output, progress, Some(iteration), None);
        interrupter.fail_on_error(processor.process_valid(LearnerEvent::ProcessedItem(item)));
    });
}

/// Calls `step(batch, progress, iteration)` for every batch until the data
/// ends, a batch cannot be loaded (a training failure) or training is stopped.
fn for_each_batch<I>(
    dataloader: &Arc<dyn DataLoader<I>>,
    interrupter: &Interrupter,
    mut step: impl FnMut(I, Progress, usize),
) {
    let mut iterator = dataloader.iter();
    let mut iteration = 0;
    while let Some(batch) = iterator.next() {
        let batch = match batch {
            Ok(batch) => batch,
            Err(err) => {
                interrupter.fail(err);
                break;
            }
        };
        iteration += 1;
        step(batch, iterator.progress(), iteration);
        if interrupter.should_stop() {
            break;
        }
    }
}
