//! Writing files so that a crash at any moment leaves either the previous
//! file or the complete new one, never a half-written file.
//!
//! The content goes to a temporary file beside the target ([`temporary_path`]),
//! is flushed to disk, and is then renamed over the target, which the file
//! system does atomically.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Fault injection for tests (the `fault-injection` feature, which only the
/// tests turn on): when this variable names a file (e.g. `optim-2.bpk`),
/// writing that file stops the process with `abort()` half-way through its
/// temporary file, as `kill -9` during the write would.
#[cfg(feature = "fault-injection")]
pub const ABORT_WHILE_WRITING_VAR: &str = "BERT_BURN_ABORT_WHILE_WRITING";

/// Writes `bytes` to `path` atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically_with(path, |temporary| {
        let mut file = File::create(temporary)?;
        file.write_all(bytes)?;
        file.sync_all()
    })
}

/// Lets `write` create the file at the temporary path it is given, then
/// renames that file to `path`. A failed `write` leaves `path` untouched.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let temporary = temporary_path(path);
    if let Err(error) = write(&temporary) {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    #[cfg(feature = "fault-injection")]
    abort_if_injected(path, &temporary)?;
    File::open(&temporary)?.sync_all()?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

/// The temporary file `path` is written to before the rename: hidden, with
/// the same extension (`model.safetensors` -> `.model.partial.safetensors`).
pub fn temporary_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(extension) => format!(".{stem}.partial.{}", extension.to_string_lossy()),
        None => format!(".{stem}.partial"),
    };
    path.with_file_name(name)
}

/// Cuts the temporary file to half and aborts when [`ABORT_WHILE_WRITING_VAR`]
/// names `path`'s file.
#[cfg(feature = "fault-injection")]
fn abort_if_injected(path: &Path, temporary: &Path) -> io::Result<()> {
    let target = std::env::var_os(ABORT_WHILE_WRITING_VAR);
    if target.is_some_and(|name| path.file_name() == Some(name.as_os_str())) {
        let file = File::options().write(true).open(temporary)?;
        file.set_len(file.metadata()?.len() / 2)?;
        file.sync_all()?;
        tracing::error!(
            "{ABORT_WHILE_WRITING_VAR}: aborting while writing {}",
            path.display()
        );
        std::process::abort();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("bert-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!temporary_path(&path).exists());
        assert_eq!(temporary_path(&path), dir.join(".config.partial.json"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = std::env::temp_dir().join(format!("bert-files-fail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.safetensors");
        write_atomically(&path, b"good").unwrap();
        let result = write_atomically_with(&path, |temporary| {
            std::fs::write(temporary, b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert_eq!(result.unwrap_err().to_string(), "disk full");
        assert_eq!(std::fs::read(&path).unwrap(), b"good");
        assert!(!temporary_path(&path).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
