//! A run's `experiment.log`: every tracing event at INFO and above while it
//! trains, as burn-train's own logger writes it. A program that installs a
//! subscriber adds [`experiment_log_layer`] to it; a program that installs
//! none gets a subscriber with only that layer when training starts, so
//! the library never prints. The log is written while the run trains, and
//! closed after.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use burn::train::ApplicationLoggerInstaller;
use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The log file of the run that trains now, if any.
static CURRENT: Mutex<Option<File>> = Mutex::new(None);

/// Writes into the current run's `experiment.log` (nowhere between runs).
struct CurrentLog;

impl Write for CurrentLog {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match CURRENT.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(file) => file.write(bytes),
            None => Ok(bytes.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match CURRENT.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// The layer that writes INFO and above (wgpu's chatty INFO left out) to
/// the experiment log of the run being trained.
pub fn experiment_log_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(|| CurrentLog)
        .with_filter(LevelFilter::INFO)
        .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
            !(metadata.target().starts_with("wgpu") && *metadata.level() >= tracing::Level::INFO)
        }))
}

/// Stops writing to the run's `experiment.log` (training ended).
pub fn close_experiment_log() {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner()).take();
}

/// burn-train's logger installer for one run: opens its `experiment.log`
/// (appending, so a resumed run keeps its history).
pub struct ExperimentLog {
    /// The log file.
    pub path: PathBuf,
}

impl ApplicationLoggerInstaller for ExperimentLog {
    fn install(&self) -> Result<(), String> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("cannot open {}: {e}", self.path.display()))?;
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
        if !tracing::dispatcher::has_been_set() {
            // Fails only if another thread installed one meanwhile: theirs stays.
            let _ = tracing_subscriber::registry()
                .with(experiment_log_layer())
                .try_init();
        }
        Ok(())
    }
}
