//! Checkpoints a kill cannot corrupt: burn-train's model, optimiser and
//! scheduler records, each written atomically, and [`EpochProgress`] for a
//! checkpoint saved part-way through an epoch (Ctrl-C).

use std::path::{Path, PathBuf};

use bert_model::files::write_atomically;
use burn::tensor::Bytes;
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};
use serde::{Deserialize, Serialize};

use crate::run::checkpoint_record;

/// Saves records to `{directory}/{name}-{epoch}.bpk` atomically.
pub struct AtomicCheckpointer {
    directory: PathBuf,
    name: &'static str,
}

impl AtomicCheckpointer {
    /// A checkpointer of the records called `name` in `directory`.
    pub fn new(directory: impl Into<PathBuf>, name: &'static str) -> Self {
        Self {
            directory: directory.into(),
            name,
        }
    }

    fn path(&self, epoch: usize) -> PathBuf {
        checkpoint_record(&self.directory, self.name, epoch)
    }
}

impl<R: Checkpoint> Checkpointer<R> for AtomicCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        std::fs::create_dir_all(&self.directory).map_err(CheckpointerError::IOError)?;
        let bytes = record
            .checkpoint_into_bytes()
            .map_err(CheckpointerError::Record)?;
        write_atomically(&self.path(epoch), &bytes).map_err(CheckpointerError::IOError)
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let bytes = std::fs::read(self.path(epoch)).map_err(CheckpointerError::IOError)?;
        R::checkpoint_from_bytes(Bytes::from_bytes_vec(bytes)).map_err(CheckpointerError::Record)
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        remove_if_present(&self.path(epoch))
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
