//! Checkpoints a kill cannot corrupt: burn-train's model, optimiser and
//! scheduler records, each written atomically, the weights of the best
//! epoch so far ([`BestModel`]), and [`EpochProgress`] for a checkpoint
//! saved part-way through an epoch (Ctrl-C).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use bert_model::files::write_atomically;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};
use serde::{Deserialize, Serialize};

use crate::run::checkpoint_record;

/// Saves records to `{directory}/{name}-{epoch}.bpk` atomically.
pub struct AtomicCheckpointer {
    directory: PathBuf,
    name: &'static str,
    written: Arc<WrittenRecords>,
}

impl AtomicCheckpointer {
    /// A checkpointer of the records called `name` in `directory`, which
    /// tells `written` when it is done with each save.
    pub fn new(
        directory: impl Into<PathBuf>,
        name: &'static str,
        written: Arc<WrittenRecords>,
    ) -> Self {
        Self {
            directory: directory.into(),
            name,
            written,
        }
    }

    fn path(&self, epoch: usize) -> PathBuf {
        checkpoint_record(&self.directory, self.name, epoch)
    }
}

impl<R: Checkpoint> Checkpointer<R> for AtomicCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let saved = save_record(&self.path(epoch), record);
        self.written.done(self.name, epoch);
        saved
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let bytes = std::fs::read(self.path(epoch)).map_err(CheckpointerError::IOError)?;
        R::checkpoint_from_bytes(Bytes::from_bytes_vec(bytes)).map_err(CheckpointerError::Record)
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        remove_if_present(&self.path(epoch))
    }
}

/// Writes `record` to `path` atomically.
fn save_record<R: Checkpoint>(path: &Path, record: R) -> Result<(), CheckpointerError> {
    if let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory).map_err(CheckpointerError::IOError)?;
    }
    let bytes = record
        .checkpoint_into_bytes()
        .map_err(CheckpointerError::Record)?;
    write_atomically(path, &bytes).map_err(CheckpointerError::IOError)
}

/// The saves the checkpointers (each on its own thread) are done with, so
/// that the loop can wait until an epoch's checkpoint is written before it
/// records the epoch as complete.
#[derive(Debug, Default)]
pub struct WrittenRecords {
    last: Mutex<HashMap<&'static str, usize>>,
    changed: Condvar,
}

impl WrittenRecords {
    fn done(&self, name: &'static str, epoch: usize) {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, epoch);
        self.changed.notify_all();
    }

    /// Blocks until the saves of `epoch` of every record in `names` are done
    /// (written or failed: the caller checks the files).
    pub fn wait_for(&self, epoch: usize, names: &[&str]) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        while !names
            .iter()
            .all(|name| last.get(name).is_some_and(|&done| done >= epoch))
        {
            last = self.changed.wait(last).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The weights of the best epoch so far, `best-model-{epoch}.bpk` in the
/// checkpoint directory: the model a run ends with, also after a resume.
pub struct BestModel {
    directory: PathBuf,
}

impl BestModel {
    /// The record name of the best weights.
    const NAME: &'static str = "best-model";

    /// The best weights kept in the checkpoint directory `directory`.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        Self {
            directory: directory.into(),
        }
    }

    /// The file of the weights of `epoch`.
    pub fn path(&self, epoch: usize) -> PathBuf {
        checkpoint_record(&self.directory, Self::NAME, epoch)
    }

    /// Saves `record` as the weights of `epoch`, atomically.
    pub fn save(&self, epoch: usize, record: ModuleRecord) -> Result<(), CheckpointerError> {
        save_record(&self.path(epoch), record)
    }

    /// The weights saved for `epoch`.
    pub fn load(&self, epoch: usize) -> Result<ModuleRecord, CheckpointerError> {
        let bytes = std::fs::read(self.path(epoch)).map_err(CheckpointerError::IOError)?;
        ModuleRecord::checkpoint_from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(CheckpointerError::Record)
    }

    /// Removes the saved weights of every epoch but `keep`.
    pub fn remove_others(&self, keep: usize) -> Result<(), CheckpointerError> {
        let Ok(entries) = std::fs::read_dir(&self.directory) else {
            return Ok(());
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let epoch = name
                .strip_prefix(Self::NAME)
                .and_then(|rest| rest.strip_prefix('-')?.strip_suffix(".bpk")?.parse().ok());
            if epoch.is_some_and(|epoch: usize| epoch != keep) {
                remove_if_present(&entry.path())?;
            }
        }
        Ok(())
    }
}

/// How far an interrupted epoch got: its checkpoint holds the state after
/// `steps_done` batches of `epoch`, and resuming continues from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochProgress {
    /// The interrupted epoch (1-based).
    pub epoch: usize,
    /// Batches of it already trained.
    pub steps_done: usize,
}

impl EpochProgress {
    /// The file next to the checkpoints that records an interrupted epoch.
    pub const FILE: &'static str = "progress.json";

    /// Reads the progress file of `directory`, if there is one.
    pub fn read(directory: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(directory.join(Self::FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes it atomically into `directory`.
    pub fn write(&self, directory: &Path) -> Result<(), CheckpointerError> {
        let json = serde_json::to_string(self).expect("two numbers serialise");
        std::fs::create_dir_all(directory)
            .and_then(|()| write_atomically(&directory.join(Self::FILE), json.as_bytes()))
            .map_err(CheckpointerError::IOError)
    }

    /// Removes the progress file of `directory`, if any.
    pub fn clear(directory: &Path) -> Result<(), CheckpointerError> {
        remove_if_present(&directory.join(Self::FILE))
    }
}

fn remove_if_present(path: &Path) -> Result<(), CheckpointerError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(CheckpointerError::IOError(error))
        }
        _ => Ok(()),
    }
}
