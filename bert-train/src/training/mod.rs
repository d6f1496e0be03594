//! What training shares across tasks: the arguments, the data sources, the
//! run set-up and burn-train's `Learner` loop ([`RunSetup::fit`]) with our
//! strategy (accumulation, global clipping, best epoch, data-parallel
//! replicas), optimiser,
//! schedule, renderer and common metrics. Nothing here knows a task.

mod adamw;
mod args;
mod checkpoint;
pub mod class_weights;
mod data;
mod devices;
mod experiment_log;
#[cfg(feature = "flex")]
mod flex;
mod grad_clip;
mod lora;
mod loss_scale;
pub mod metrics;
mod optim;
mod output_dir;
pub mod reads;
mod renderer;
pub mod replicas;
mod setup;
pub mod split_metric;
pub mod step;
mod stop_signal;
mod strategy;
mod task_metrics;
mod train_log;
mod train_results;
mod trainer_state;

pub use args::{BestMetric, TrainingArgs};
pub use checkpoint::EpochProgress;
pub use data::DataArgs;
pub use devices::{DeviceSpec, NamedDevice};
pub use experiment_log::experiment_log_layer;
pub use lora::{LoraArgs, StartingModel};
pub use loss_scale::LossScale;
pub(crate) use optim::adamw;
pub use output_dir::claim_run_dir;
pub use setup::{Interrupted, RunSetup};
pub use task_metrics::{ChosenMetrics, Selection, TaskMetrics};
pub use train_log::ReportTo;
pub use trainer_state::{TrainerState, snake_case};
