//! Models named by a Hugging Face id (`bert-base-uncased`,
//! `sentence-transformers/all-MiniLM-L6-v2`): found in the local Hugging Face
//! cache, or downloaded into it.
//!
//! The cache has the layout `huggingface_hub` writes:
//! `models--{org}--{name}/refs/main` holds a commit hash and
//! `models--{org}--{name}/snapshots/{commit}/` the files, often symlinks into
//! `blobs/`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use hf_hub::Cache;
use hf_hub::api::sync::ApiBuilder;
use tracing::info;

/// The file every model needs besides its weights.
const CONFIG: &str = "config.json";
/// Weights files, in order of preference.
const WEIGHTS: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];
/// Files downloaded with the model when its repository has them.
const OPTIONAL: [&str; 6] = [
    "tokenizer.json",
    "vocab.txt",
    "spm.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentence_bert_config.json",
];

/// Why a model id was not found in the cache.
#[derive(Debug)]
pub enum CacheMiss {
    /// The model has no snapshot.
    Absent {
        /// The snapshots folder that was looked in.
        looked_in: PathBuf,
    },
    /// The chosen snapshot lacks required files.
    Incomplete {
        /// The snapshot.
        snapshot: PathBuf,
        /// What it lacks, e.g. `model.safetensors or pytorch_model.bin`.
        missing: String,
    },
}

impl fmt::Display for CacheMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absent { looked_in } => write!(
                f,
                "not in the Hugging Face cache (looked in {})",
                looked_in.display()
            ),
            Self::Incomplete { snapshot, missing } => write!(
                f,
                "not complete in the Hugging Face cache ({} has no {missing})",
                snapshot.display()
            ),
        }
    }
}

/// Why a model id could not be resolved to a directory.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The name cannot be a Hugging Face model id.
    #[error("not a Hugging Face model id (`name` or `org/name`)")]
    InvalidId,
    /// Neither in the cache nor downloaded.
    #[error("{cache}; {download}")]
    NotFound {
        /// Why the cache did not have it.
        cache: CacheMiss,
        /// Why it was not downloaded: offline, or the download's error.
        download: String,
    },
}

/// A local Hugging Face hub cache, and whether models missing from it may be downloaded.
#[derive(Clone, Debug)]
pub struct HubCache {
    dir: PathBuf,
    datasets_dir: PathBuf,
    offline: bool,
}

impl HubCache {
    /// The cache `huggingface_hub` uses: `$HF_HUB_CACHE`, else `$HF_HOME/hub`,
    /// else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`;
    /// offline when `HF_HUB_OFFLINE` is `1`, `on`, `yes` or `true`. The
    /// `datasets` library's cache beside it: `$HF_DATASETS_CACHE`, else
    /// `$HF_HOME/datasets`, else `~/.cache/huggingface/datasets`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        let offline = var("HF_HUB_OFFLINE").is_some_and(|value| {
            ["1", "on", "yes", "true"]
                .iter()
                .any(|truthy| value.eq_ignore_ascii_case(truthy))
        });
        let datasets_dir = datasets_dir(&var);
        Self::new(hub_dir(var), offline).with_datasets_dir(datasets_dir)
    }

    /// The cache at `dir`; `offline` forbids downloads. The `datasets` cache
    /// is `datasets` beside `dir`, as under `$HF_HOME`.
    pub fn new(dir: impl Into<PathBuf>, offline: bool) -> Self {
        let dir = dir.into();
        Self {
            datasets_dir: dir.with_file_name("datasets"),
            dir,
            offline,
        }
    }

    /// The same cache, with the `datasets` library's cache at `dir`.
    pub fn with_datasets_dir(self, dir: impl Into<PathBuf>) -> Self {
        Self {
            datasets_dir: dir.into(),
            ..self
        }
    }

    /// The cache folder (the one holding `models--*` folders).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `datasets` library's cache folder (Arrow files of loaded datasets).
    pub fn datasets_dir(&self) -> &Path {
        &self.datasets_dir
    }

    /// Whether downloads are forbidden.
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// The directory of model `id`: its cached snapshot, else downloaded into
    /// the cache (unless offline), with progress on stderr.
    pub fn model(&self, id: &str) -> Result<PathBuf, HubError> {
        if !is_model_id(id) {
            return Err(HubError::InvalidId);
        }
        let cache = match cached_snapshot(&self.dir, id) {
            Ok(snapshot) => return Ok(snapshot),
            Err(miss) => miss,
        };
        let download = if self.offline {
            "not downloaded: HF_HUB_OFFLINE is set".to_string()
        } else {
            match self.download(id) {
                Ok(snapshot) => return Ok(snapshot),
                Err(message) => format!("download failed: {message}"),
            }
        };
        Err(HubError::NotFound { cache, download })
    }

    /// Downloads config, weights and the tokenizer files the repository has;
    /// returns the snapshot.
    fn download(&self, id: &str) -> Result<PathBuf, String> {
        info!(
            "downloading {id} from the Hugging Face hub into {}",
            self.dir.display()
        );
        let api = ApiBuilder::from_cache(Cache::new(self.dir.clone()))
            .build()
            .map_err(|e| e.to_string())?;
        let repo = api.model(id.to_string());
        let info = repo.info().map_err(|e| e.to_string())?;
        let listed: BTreeSet<&str> = info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
        let missing = missing_files(|name| listed.contains(name));
        if !missing.is_empty() {
            return Err(format!("the repository has no {missing}"));
        }
        let weights = WEIGHTS.iter().find(|name| listed.contains(*name));
        let optional = OPTIONAL.iter().filter(|name| listed.contains(*name));
        for name in [&CONFIG].into_iter().chain(weights).chain(optional) {
            repo.get(name).map_err(|e| format!("{name}: {e}"))?;
        }
        let snapshot = cached_snapshot(&self.dir, id).map_err(|miss| miss.to_string())?;
        info!("downloaded {id} into {}", snapshot.display());
        Ok(snapshot)
    }
}

/// The hub cache folder, from environment variables read through `var`.
fn hub_dir(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    if let Some(dir) = var("HF_HUB_CACHE") {
        return PathBuf::from(dir);
    }
    hf_home(&var).join("hub")
}

/// The `datasets` cache folder, from environment variables read through `var`.
fn datasets_dir(var: &impl Fn(&str) -> Option<OsString>) -> PathBuf {
    if let Some(dir) = var("HF_DATASETS_CACHE") {
        return PathBuf::from(dir);
    }
    hf_home(var).join("datasets")
}

/// `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
fn hf_home(var: &impl Fn(&str) -> Option<OsString>) -> PathBuf {
    var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
        var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("huggingface")
    })
}

/// Whether `name` has the shape of a model id: `name` or `org/name`, of
/// letters, digits, `-`, `_` and `.` (and not `.` or `..`).
fn is_model_id(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() <= 2
        && parts.iter().all(|part| {
            !part.is_empty()
                && *part != "."
                && *part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
}

/// What a model folder lacks of `config.json` and a weights file, given
/// which files it has; empty when nothing.
fn missing_files(has: impl Fn(&str) -> bool) -> String {
    let mut missing = Vec::new();
    if !has(CONFIG) {
        missing.push(CONFIG.to_string());
    }
    if !WEIGHTS.iter().any(|name| has(name)) {
        missing.push(WEIGHTS.join(" or "));
    }
    missing.join(" and ")
}

/// The snapshot of model `id` in the hub cache `hub_dir`: the one
/// `refs/main` names when it exists, else the most recently modified one. It
/// must have `config.json` and `model.safetensors` or `pytorch_model.bin`.
pub fn cached_snapshot(hub_dir: &Path, id: &str) -> Result<PathBuf, CacheMiss> {
    let repo = hub_dir.join(format!("models--{}", id.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    let from_ref = fs::read_to_string(repo.join("refs/main"))
        .ok()
        .map(|commit| snapshots.join(commit.trim()))
        .filter(|snapshot| snapshot.is_dir());
    let snapshot = from_ref
        .or_else(|| newest_subdir(&snapshots))
        .ok_or_else(|| CacheMiss::Absent {
            looked_in: snapshots.clone(),
        })?;
    let missing = missing_files(|name| snapshot.join(name).is_file());
    if missing.is_empty() {
        Ok(snapshot)
    } else {
        Err(CacheMiss::Incomplete { snapshot, missing })
    }
}

/// The most recently modified folder in `dir`, if any.
fn newest_subdir(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            let modified = metadata.modified().ok()?;
            metadata.is_dir().then(|| (modified, entry.path()))
        })
        .max()
        .map(|(_, path)| path)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// Makes a snapshot folder of `repo` holding `files` (empty files).
    fn snapshot(repo: &Path, commit: &str, files: &[&str]) -> PathBuf {
        let dir = repo.join("snapshots").join(commit);
        fs::create_dir_all(&dir).unwrap();
        for name in files {
            fs::write(dir.join(name), name.as_bytes()).unwrap();
        }
        dir
    }

    fn set_modified(dir: &Path, seconds_ago: u64) {
        let time = SystemTime::now() - Duration::from_secs(seconds_ago);
        fs::File::open(dir).unwrap().set_modified(time).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refs_main_picks_the_snapshot_with_symlinked_blobs() {
        let hub = tempfile::tempdir().unwrap();
        let repo = hub.path().join("models--org--name");
        fs::create_dir_all(repo.join("blobs")).unwrap();
        fs::create_dir_all(repo.join("refs")).unwrap();
        let current = snapshot(&repo, "abc123", &[]);
        for (blob, name) in [("b1", "config.json"), ("b2", "model.safetensors")] {
            fs::write(repo.join("blobs").join(blob), blob).unwrap();
            std::os::unix::fs::symlink(format!("../../blobs/{blob}"), current.join(name)).unwrap();
        }
        fs::write(repo.join("refs/main"), "abc123\n").unwrap();
        // A stale snapshot, complete and more recently modified.
        let stale = snapshot(&repo, "old999", &["config.json", "pytorch_model.bin"]);
        set_modified(&current, 3600);
        set_modified(&stale, 0);

        assert_eq!(cached_snapshot(hub.path(), "org/name").unwrap(), current);
        assert_eq!(
            fs::read_to_string(current.join("config.json")).unwrap(),
            "b1"
        );
    }

    #[test]
    fn without_refs_main_the_newest_snapshot_is_used() {
        let hub = tempfile::tempdir().unwrap();
        let repo = hub.path().join("models--bert-base-uncased");
        let old = snapshot(&repo, "old", &["config.json", "model.safetensors"]);
        let new = snapshot(&repo, "new", &["config.json", "pytorch_model.bin"]);
        set_modified(&old, 0);
        set_modified(&new, 60);
        assert_eq!(
            cached_snapshot(hub.path(), "bert-base-uncased").unwrap(),
            old
        );
        set_modified(&new, 0);
        set_modified(&old, 60);
        assert_eq!(
            cached_snapshot(hub.path(), "bert-base-uncased").unwrap(),
            new
        );
    }

    #[test]
    fn a_snapshot_without_weights_says_what_it_lacks() {
        let hub = tempfile::tempdir().unwrap();
        let repo = hub.path().join("models--org--name");
        let partial = snapshot(&repo, "abc", &["config.json", "tokenizer.json"]);
        let err = cached_snapshot(hub.path(), "org/name")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "not complete in the Hugging Face cache ({} has no model.safetensors or pytorch_model.bin)",
                partial.display()
            )
        );
    }

    #[test]
    fn an_absent_model_names_where_it_was_looked_for() {
        let hub = tempfile::tempdir().unwrap();
        let err = cached_snapshot(hub.path(), "org/missing")
            .unwrap_err()
            .to_string();
        let looked_in = hub.path().join("models--org--missing/snapshots");
        assert!(err.contains(&looked_in.display().to_string()), "{err}");
    }

    #[test]
    fn offline_a_missing_model_is_not_downloaded() {
        let hub = tempfile::tempdir().unwrap();
        let err = HubCache::new(hub.path(), true)
            .model("org/missing")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("not in the Hugging Face cache"), "{err}");
        assert!(
            err.ends_with("; not downloaded: HF_HUB_OFFLINE is set"),
            "{err}"
        );
    }

    #[test]
    fn model_ids_are_one_or_two_plain_names() {
        for id in [
            "bert-base-uncased",
            "sentence-transformers/all-MiniLM-L6-v2",
            "a_b/c.d",
        ] {
            assert!(is_model_id(id), "{id}");
        }
        for name in ["", "/abs/dir", "a/b/c", "../x", "org/", "a b", "./model"] {
            assert!(!is_model_id(name), "{name}");
        }
    }

    #[test]
    fn hub_dir_follows_huggingface_hub_precedence() {
        fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
            move |name| {
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| OsString::from(value))
            }
        }
        let all = [
            ("HF_HUB_CACHE", "/c"),
            ("HF_HOME", "/h"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(hub_dir(env(&all[..])), PathBuf::from("/c"));
        assert_eq!(hub_dir(env(&all[1..])), PathBuf::from("/h/hub"));
        assert_eq!(hub_dir(env(&all[2..])), PathBuf::from("/x/huggingface/hub"));
        assert_eq!(
            hub_dir(env(&all[3..])),
            PathBuf::from("/home/u/.cache/huggingface/hub")
        );
        let datasets = [
            ("HF_DATASETS_CACHE", "/d"),
            ("HF_HOME", "/h"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(datasets_dir(&env(&datasets[..])), PathBuf::from("/d"));
        assert_eq!(
            datasets_dir(&env(&datasets[1..])),
            PathBuf::from("/h/datasets")
        );
        assert_eq!(
            datasets_dir(&env(&datasets[2..])),
            PathBuf::from("/home/u/.cache/huggingface/datasets")
        );
    }
}
