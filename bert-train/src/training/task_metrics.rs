//! [`TaskMetrics`]: the metrics a task registers, and the choice among them
//! of the one that picks the kept epoch. Selection and registration come
//! from the same list, so the selected metric is always computed.

use anyhow::{Result, bail};
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{Adaptor, LossInput, LossMetric, Metric, MetricAttributes, Numeric};
use burn::train::{
    InferenceStep, LearnerModel, MetricEarlyStoppingStrategy, StoppingCondition,
    SupervisedTraining, TrainStep,
};
use clap::ValueEnum;

use super::args::BestMetric;
use super::strategy::BestBy;
use super::trainer_state::{LoggedMetric, snake_case};

/// The validation metric that picks the returned epoch, and early stopping on it.
pub struct Selection {
    pub(super) best_by: BestBy,
    pub(super) early_stopping: Option<MetricEarlyStoppingStrategy>,
}

impl Selection {
    /// Selects by validation `metric` (`Highest` or `Lowest` is best); stops
    /// after `patience` epochs without improvement, if given.
    pub fn by<Me: Metric>(metric: &Me, direction: Direction, patience: Option<usize>) -> Self {
        Self {
            best_by: BestBy {
                metric: metric.name().to_string(),
                higher_is_better: matches!(direction, Direction::Highest),
            },
            early_stopping: patience.map(|n_epochs| {
                MetricEarlyStoppingStrategy::new(
                    metric,
                    Aggregate::Mean,
                    direction,
                    Split::Valid,
                    StoppingCondition::NoImprovementSince { n_epochs },
                )
            }),
        }
    }

    /// The name of the metric it selects by (e.g. `Accuracy`).
    pub fn metric(&self) -> &str {
        &self.best_by.metric
    }
}

/// Registers one metric.
pub(super) type Registration<M> = Box<dyn FnOnce(SupervisedTraining<M>) -> SupervisedTraining<M>>;

/// A selectable metric: its `--best-metric` name and how it selects.
struct Choice {
    key: BestMetric,
    selection: Box<dyn Fn(Option<usize>) -> Selection>,
}

/// The metrics of a task's training and validation (the loss always among
/// them), some of them selectable with `--best-metric`, one the default.
pub struct TaskMetrics<M: LearnerModel> {
    default: BestMetric,
    registrations: Vec<Registration<M>>,
    logged: Vec<LoggedMetric>,
    choices: Vec<Choice>,
}

/// The metrics chosen for a run: what picks the kept epoch, and every
/// metric to register.
pub struct ChosenMetrics<M: LearnerModel> {
    /// The validation metric that picks the kept epoch (and early stopping).
    pub selection: Selection,
    pub(super) registrations: Vec<Registration<M>>,
    /// The validation metrics, as `trainer_state.json` logs them.
    pub(super) logged: Vec<LoggedMetric>,
}

impl<M: LearnerModel> TaskMetrics<M> {
    /// The loss on training and validation batches, selectable as `loss`;
    /// `default` selects when `--best-metric` is not given (add it below
    /// unless it is `loss`).
    pub fn new(default: BestMetric) -> Self
    where
        <M as TrainStep>::Output: Adaptor<LossInput>,
        <M as InferenceStep>::Output: Adaptor<LossInput>,
    {
        Self {
            default,
            registrations: Vec::new(),
            logged: Vec::new(),
            choices: Vec::new(),
        }
        .with(BestMetric::Loss, LossMetric::new())
    }

    /// The loss and `metric` on training and validation batches, `metric`
    /// selecting by default as `key`.
    pub fn by<Me>(key: BestMetric, metric: Me) -> Self
    where
        Me: Metric + Numeric + 'static,
        <M as TrainStep>::Output: Adaptor<Me::Input> + Adaptor<LossInput>,
        <M as InferenceStep>::Output: Adaptor<Me::Input> + Adaptor<LossInput>,
    {
        Self::new(key).with(key, metric)
    }

    /// `metric` on training and validation batches, selectable as `key`.
    pub fn with<Me>(self, key: BestMetric, metric: Me) -> Self
    where
        Me: Metric + Numeric + 'static,
        <M as TrainStep>::Output: Adaptor<Me::Input>,
        <M as InferenceStep>::Output: Adaptor<Me::Input>,
    {
        self.train(metric.clone()).valid(Some(key), metric)
    }

    /// `metric` on training and validation batches, logged, not selectable.
    pub fn logged<Me>(self, metric: Me) -> Self
    where
        Me: Metric + Numeric + 'static,
        <M as TrainStep>::Output: Adaptor<Me::Input>,
        <M as InferenceStep>::Output: Adaptor<Me::Input>,
    {
        self.train(metric.clone()).valid(None, metric)
    }

    fn train<Me>(mut self, metric: Me) -> Self
    where
        Me: Metric + Numeric + 'static,
        <M as TrainStep>::Output: Adaptor<Me::Input>,
    {
        self.registrations.push(Box::new(move |training| {
            training.metric_train_numeric(metric)
        }));
        self
    }

    /// `metric` on validation batches only; selectable as `key` (`None`:
    /// logged only).
    pub fn valid<Me>(mut self, key: Option<BestMetric>, metric: Me) -> Self
    where
        Me: Metric + Numeric + 'static,
        <M as InferenceStep>::Output: Adaptor<Me::Input>,
    {
        self.logged.push(LoggedMetric {
            name: metric.name().to_string(),
            key: key.map_or_else(|| snake_case(&metric.name()), BestMetric::trainer_key),
            divisor: match metric.attributes() {
                MetricAttributes::Numeric(numeric) if numeric.unit.as_deref() == Some("%") => 100.0,
                _ => 1.0,
            },
        });
        if let Some(key) = key {
            let selecting = metric.clone();
            self.choices.push(Choice {
                key,
                selection: Box::new(move |patience| {
                    Selection::by(&selecting, key.direction(), patience)
                }),
            });
        }
        self.registrations.push(Box::new(move |training| {
            training.metric_valid_numeric(metric)
        }));
        self
    }

    /// The metrics with `best` (or the default) selecting, early stopping
    /// after `patience` epochs without improvement; an error naming the
    /// choices if `best` is not one of them.
    pub fn select(
        self,
        best: Option<BestMetric>,
        patience: Option<usize>,
    ) -> Result<ChosenMetrics<M>> {
        let key = best.unwrap_or(self.default);
        let Some(choice) = self.choices.iter().find(|choice| choice.key == key) else {
            let names: Vec<String> = self.choices.iter().map(|c| name(c.key)).collect();
            bail!(
                "--best-metric {} does not apply to this task: choose {}",
                name(key),
                names.join(", ")
            );
        };
        Ok(ChosenMetrics {
            selection: (choice.selection)(patience),
            registrations: self.registrations,
            logged: self.logged,
        })
    }
}

/// The command-line name of `metric` (`macro-f1`).
fn name(metric: BestMetric) -> String {
    metric
        .to_possible_value()
        .map(|value| value.get_name().to_string())
        .unwrap_or_default()
}
