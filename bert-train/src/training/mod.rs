//! What training shares across tasks: the arguments, the data sources, the
//! run set-up and burn-train's `Learner` loop ([`RunSetup::fit`]) with our
//! strategy (accumulation, global clipping, best epoch), optimiser,
//! schedule, renderer and common metrics. Nothing here knows a task.

mod args;
pub mod class_weights;
mod data;
mod grad_clip;
pub mod metrics;
mod optim;
mod renderer;
mod setup;
pub mod step;
mod strategy;

pub use args::{BestMetric, TrainingArgs};
pub use data::DataArgs;
pub(crate) use optim::adamw;
pub use setup::{RunSetup, Selection};
