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
    give_default_mode(&temporary)?;
    File::open(&temporary)?.sync_all()?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

/// Gives `path` the mode a new file gets from `File::create` (0666 less
/// the umask, typically 0644): writers that go through a private temporary
/// file of their own (safetensors' is 0600) would leave the file unreadable
/// to other users.
#[cfg(unix)]
fn give_default_mode(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    static MODE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let mode = match MODE.get() {
        Some(mode) => *mode,
        None => {
            let probe = tempfile_probe(path);
            File::create(&probe)?;
            let mode = std::fs::metadata(&probe)?.permissions().mode() & 0o777;
            std::fs::remove_file(&probe)?;
            *MODE.get_or_init(|| mode)
        }
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn give_default_mode(_: &Path) -> io::Result<()> {
    Ok(())
}

/// A name beside `path` for a file that shows the default mode.
#[cfg(unix)]
fn tempfile_probe(path: &Path) -> PathBuf {
    let name = format!(".mode-probe-{}", std::process::id());
    path.with_file_name(name)
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

    /// A writer that makes a private file (as safetensors does) still
    /// leaves a file with the mode `File::create` gives.
    #[cfg(unix)]
    #[test]
    fn written_files_get_the_default_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        File::create(&plain).unwrap();
        let default = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        let path = dir.path().join("model.safetensors");
        write_atomically_with(&path, |temporary| {
            File::create(temporary)?;
            std::fs::set_permissions(temporary, std::fs::Permissions::from_mode(0o600))
        })
        .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, default);
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
