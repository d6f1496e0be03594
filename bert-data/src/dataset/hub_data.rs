//! Hugging Face datasets named by id (`org/name`, `org/name:config`): the
//! data files of each split, found by file name in a folder (a hub
//! snapshot, a `datasets` cache folder, or any local folder), looked up in
//! the hub cache, then the `datasets` library's cache, else downloaded.
//!
//! A hub repository keeps its splits as `data/<split>-0000N-of-0000M.parquet`
//! or `<config>/<split>-...parquet` (every dataset also has a
//! `refs/convert/parquet` revision, `<config>/<split>/0000.parquet`); the
//! `datasets` cache as `<org>___<name>/<config>/<version>/<hash>/<name>-<split>.arrow`.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};
use tracing::info;

use super::DatasetError;
use super::table::Table;
use crate::hub::HubCache;

/// Data file extensions, in order of preference when a split has several.
const DATA_EXTENSIONS: [&str; 6] = ["parquet", "arrow", "jsonl", "json", "csv", "tsv"];

/// The words that name each split in a file's path, as `datasets` reads them.
const SPLIT_WORDS: [(Split, &[&str]); 3] = [
    (Split::Train, &["train", "training"]),
    (Split::Validation, &["validation", "valid", "val", "dev"]),
    (Split::Test, &["test", "testing", "eval", "evaluation"]),
];

/// The revision every hub dataset is also converted to, as Parquet.
const PARQUET_REVISION: &str = "refs/convert/parquet";

/// A dataset on the Hugging Face hub: `org/name`, with an optional `:config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetId {
    /// `org/name`.
    pub repo: String,
    /// The configuration (subset), e.g. `sst2` of `nyu-mll/glue`.
    pub config: Option<String>,
}

impl DatasetId {
    /// Parses `org/name` or `org/name:config`; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        let (repo, config) = match name.split_once(':') {
            Some((repo, config)) => (repo, Some(config)),
            None => (name, None),
        };
        let word = |part: &str| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        let (org, dataset) = repo.split_once('/')?;
        (word(org) && word(dataset) && config.is_none_or(word)).then(|| Self {
            repo: repo.to_string(),
            config: config.map(str::to_string),
        })
    }

    /// The dataset's name without its organisation, and its config: a run's
    /// default folder name (`rotten_tomatoes`, `glue-sst2`).
    pub fn short_name(&self) -> String {
        let name = self.repo.rsplit('/').next().unwrap_or(&self.repo);
        match &self.config {
            Some(config) => format!("{name}-{config}"),
            None => name.to_string(),
        }
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.config {
            Some(config) => write!(f, "{}:{config}", self.repo),
            None => write!(f, "{}", self.repo),
        }
    }
}

/// A split of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Split {
    Train,
    Validation,
    Test,
}

/// The data files of each split, in name order (shards of one split follow
/// each other); validation and test may be empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SplitFiles {
    /// Training files (at least one).
    pub train: Vec<PathBuf>,
    /// Validation files.
    pub validation: Vec<PathBuf>,
    /// Test files.
    pub test: Vec<PathBuf>,
    /// Where they were found, for the log.
    pub found_in: String,
}

/// The split files in the folder `dir` (searched recursively), of `config`
/// when the folder has several.
pub fn split_files(dir: &Path, config: Option<&str>) -> Result<SplitFiles, DatasetError> {
    let mut relative = Vec::new();
    list_files(dir, dir, &mut relative).map_err(|e| DatasetError::File {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let chosen = choose_files(&relative, config).map_err(|message| DatasetError::File {
        path: dir.display().to_string(),
        message,
    })?;
    Ok(chosen.resolve(|name| dir.join(name), dir.display().to_string()))
}

/// The relative paths (with `/`) of the files under `dir`, hidden ones left out.
fn list_files(root: &Path, dir: &Path, found: &mut Vec<String>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_none_or(|n| n.starts_with('.')) {
            continue;
        }
        // Hub snapshots hold symlinks into blobs/: follow them.
        if path.is_dir() {
            list_files(root, &path, found)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let parts: Vec<_> = relative.iter().map(|p| p.to_string_lossy()).collect();
            found.push(parts.join("/"));
        }
    }
    Ok(())
}

/// Split files chosen among relative names.
#[derive(Debug, Default, PartialEq)]
struct Chosen {
    train: Vec<String>,
    validation: Vec<String>,
    test: Vec<String>,
}

impl Chosen {
    fn all(&self) -> impl Iterator<Item = &String> {
        self.train.iter().chain(&self.validation).chain(&self.test)
    }

    fn resolve(self, path: impl Fn(&str) -> PathBuf, found_in: String) -> SplitFiles {
        let paths = |names: Vec<String>| names.iter().map(|n| path(n)).collect();
        SplitFiles {
            train: paths(self.train),
            validation: paths(self.validation),
            test: paths(self.test),
            found_in,
        }
    }
}

/// The extension of a data file, if `name` is one.
fn data_extension(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    DATA_EXTENSIONS.into_iter().find(|e| *e == extension)
}

/// The split a path names: its last word (split at `/`, `-`, `_`, `.`, and
/// spaces) that is a split word.
fn split_of(name: &str) -> Option<Split> {
    name.rsplit(['/', '-', '_', '.', ' '])
        .map(str::to_ascii_lowercase)
        .find_map(|word| {
            SPLIT_WORDS
                .iter()
                .find(|(_, words)| words.contains(&word.as_str()))
                .map(|(split, _)| *split)
        })
}

/// The data files of `config` among `names` (relative paths), by split: the
/// configs are the top folders other than `data`; one format (the first of
/// [`DATA_EXTENSIONS`] the training split has) for every split.
fn choose_files(names: &[String], config: Option<&str>) -> Result<Chosen, String> {
    let data: Vec<&String> = names
        .iter()
        .filter(|n| data_extension(n).is_some())
        .collect();
    let configs: BTreeSet<&str> = data
        .iter()
        .filter_map(|n| n.split_once('/').map(|(top, _)| top))
        .filter(|top| *top != "data")
        .collect();
    let listed = || configs.iter().copied().collect::<Vec<_>>().join(", ");
    let in_config: Vec<&String> = match config {
        Some(config) => {
            let prefix = format!("{config}/");
            let kept: Vec<&String> = data
                .into_iter()
                .filter(|n| n.starts_with(&prefix))
                .collect();
            if kept.is_empty() {
                return Err(match configs.is_empty() {
                    true => format!("no config {config:?}: the dataset has no configs"),
                    false => format!("no config {config:?}; the configs are {}", listed()),
                });
            }
            kept
        }
        None if configs.len() > 1 => {
            return Err(format!(
                "several configs ({}): name one as org/name:CONFIG",
                listed()
            ));
        }
        None => data,
    };
    let mut chosen = Chosen::default();
    let format = in_config
        .iter()
        .filter(|n| split_of(n) == Some(Split::Train))
        .filter_map(|n| data_extension(n))
        .min_by_key(|e| DATA_EXTENSIONS.iter().position(|d| d == e));
    let Some(format) = format else {
        let shown: Vec<&str> = in_config.iter().take(10).map(|n| n.as_str()).collect();
        return Err(format!(
            "no training split: no data file is named for it (train, training); found {}",
            match shown.is_empty() {
                true => format!("no data file ({})", DATA_EXTENSIONS.join(", ")),
                false => shown.join(", "),
            }
        ));
    };
    for name in in_config {
        if data_extension(name) != Some(format) {
            continue;
        }
        match split_of(name) {
            Some(Split::Train) => chosen.train.push(name.clone()),
            Some(Split::Validation) => chosen.validation.push(name.clone()),
            Some(Split::Test) => chosen.test.push(name.clone()),
            None => {}
        }
    }
    for files in [&mut chosen.train, &mut chosen.validation, &mut chosen.test] {
        files.sort();
    }
    Ok(chosen)
}

/// Whether every row of the table `files` has no value in `column` (null, or
/// a `ClassLabel`'s -1): an unlabelled split, as the test splits of GLUE.
pub fn unlabelled(files: &[PathBuf], column: &str) -> Result<bool, DatasetError> {
    for file in files {
        let table = Table::open(file)?;
        if !table.columns().contains(&column) {
            return Ok(false);
        }
        let rows = table.rows(Some(&[column]))?;
        if rows.iter().any(|row| !row.values[column].is_null()) {
            return Ok(false);
        }
    }
    Ok(!files.is_empty())
}

/// The split files of dataset `id`: from the hub cache (its `main` snapshot,
/// else its Parquet conversion), else the `datasets` cache, else downloaded
/// into the hub cache (not when `hub` is offline).
pub fn find_dataset(hub: &HubCache, id: &DatasetId) -> Result<SplitFiles, DatasetError> {
    let error = |message: String| DatasetError::Hub {
        id: id.to_string(),
        message,
    };
    let config = id.config.as_deref();
    let mut misses = Vec::new();
    match cached_snapshot(hub.dir(), &id.repo) {
        Some(snapshots) => {
            let mut last = None;
            for snapshot in snapshots {
                match split_files(&snapshot, config) {
                    Ok(files) => return Ok(files),
                    Err(e) => last = Some(e),
                }
            }
            misses.extend(last.map(|e| e.to_string()));
        }
        None => misses.push(format!(
            "not in the Hugging Face cache (looked in {})",
            hub.dir().join(repo_folder(&id.repo)).display()
        )),
    }
    match datasets_cache_folder(hub.datasets_dir(), id) {
        Ok(folder) => return split_files(&folder, None),
        Err(miss) => misses.push(miss),
    }
    if hub.offline() {
        misses.push("not downloaded: HF_HUB_OFFLINE is set".into());
        return Err(error(misses.join("; ")));
    }
    download(hub.dir(), id).map_err(|e| {
        misses.push(format!("download failed: {e}"));
        error(misses.join("; "))
    })
}

/// The hub cache's folder of dataset `repo`.
fn repo_folder(repo: &str) -> String {
    format!("datasets--{}", repo.replace('/', "--"))
}

/// The snapshots of dataset `repo` in the hub cache, to try in order: the
/// one `refs/main` names, the one `refs/convert/parquet` names, then the
/// others, newest first; `None` when it has none.
fn cached_snapshot(hub_dir: &Path, repo: &str) -> Option<Vec<PathBuf>> {
    let folder = hub_dir.join(repo_folder(repo));
    let snapshots = folder.join("snapshots");
    let by_ref = |name: &str| {
        let commit = fs::read_to_string(folder.join("refs").join(name)).ok()?;
        Some(snapshots.join(commit.trim())).filter(|s| s.is_dir())
    };
    let mut others: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(&snapshots)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            metadata
                .is_dir()
                .then(|| Some((metadata.modified().ok()?, entry.path())))?
        })
        .collect();
    others.sort_by(|a, b| b.cmp(a));
    let mut ordered: Vec<PathBuf> = Vec::new();
    let candidates = [by_ref("main"), by_ref(PARQUET_REVISION)];
    for snapshot in candidates
        .into_iter()
        .flatten()
        .chain(others.into_iter().map(|(_, p)| p))
    {
        if !ordered.contains(&snapshot) {
            ordered.push(snapshot);
        }
    }
    (!ordered.is_empty()).then_some(ordered)
}

/// The folder of `id`'s Arrow files in the `datasets` cache `dir`:
/// `<org>___<name>/<config>/<version>/<hash>/`, the newest; the config is
/// the one given, else the only one.
fn datasets_cache_folder(dir: &Path, id: &DatasetId) -> Result<PathBuf, String> {
    let root = dir.join(id.repo.replace('/', "___"));
    let miss = || format!("not in the datasets cache (looked in {})", root.display());
    let configs = subfolders(&root);
    let config = match (&id.config, configs.as_slice()) {
        (Some(config), _) => root.join(config),
        (None, [only]) => only.clone(),
        (None, []) => return Err(miss()),
        (None, several) => {
            let names: Vec<String> = several
                .iter()
                .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
                .collect();
            return Err(format!(
                "the datasets cache has several configs ({}): name one as org/name:CONFIG",
                names.join(", ")
            ));
        }
    };
    let has_arrow = |folder: &PathBuf| {
        fs::read_dir(folder).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "arrow"))
        })
    };
    subfolders(&config)
        .iter()
        .flat_map(|version| subfolders(version))
        .filter(has_arrow)
        .filter_map(|folder| Some((fs::metadata(&folder).ok()?.modified().ok()?, folder)))
        .max()
        .map(|(_, folder)| folder)
        .ok_or_else(miss)
}

/// The folders in `dir`, by name (none if it cannot be read).
fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    folders.sort();
    folders
}

/// Downloads the split files of `id` into the hub cache at `hub_dir`: those
/// of its `main` revision, else of its Parquet conversion.
fn download(hub_dir: &Path, id: &DatasetId) -> Result<SplitFiles, String> {
    let api = ApiBuilder::from_cache(Cache::new(hub_dir.to_path_buf()))
        .build()
        .map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for revision in ["main", PARQUET_REVISION] {
        let repo = api.repo(Repo::with_revision(
            id.repo.clone(),
            RepoType::Dataset,
            revision.to_string(),
        ));
        let listed = match repo.info() {
            Ok(info) => info
                .siblings
                .into_iter()
                .map(|s| s.rfilename)
                .collect::<Vec<_>>(),
            Err(e) => {
                problems.push(format!("{revision}: {e}"));
                continue;
            }
        };
        let chosen = match choose_files(&listed, id.config.as_deref()) {
            Ok(chosen) => chosen,
            Err(e) => {
                problems.push(format!("{revision}: {e}"));
                continue;
            }
        };
        info!(
            "downloading {} files of {id} ({revision}) from the Hugging Face hub into {}",
            chosen.all().count(),
            hub_dir.display()
        );
        let mut local = std::collections::HashMap::new();
        for name in chosen.all() {
            let path = repo.get(name).map_err(|e| format!("{name}: {e}"))?;
            local.insert(name.clone(), path);
        }
        let found_in = format!("{id} ({revision}), downloaded");
        return Ok(chosen.resolve(|name| local[name].clone(), found_in));
    }
    Err(problems.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn ids_are_org_slash_name_with_an_optional_config() {
        let id = DatasetId::parse("nyu-mll/glue:sst2").unwrap();
        assert_eq!(
            (id.repo.as_str(), id.config.as_deref()),
            ("nyu-mll/glue", Some("sst2"))
        );
        assert_eq!(id.short_name(), "glue-sst2");
        assert_eq!(id.to_string(), "nyu-mll/glue:sst2");
        let plain = DatasetId::parse("cornell-movie-review-data/rotten_tomatoes").unwrap();
        assert_eq!(
            (plain.short_name(), plain.config),
            ("rotten_tomatoes".into(), None)
        );
        for not_an_id in [
            "imdb",
            "a/b/c",
            "org/",
            "/name",
            "org/name:",
            "../x",
            "org/na me",
            "data.csv",
        ] {
            assert!(DatasetId::parse(not_an_id).is_none(), "{not_an_id}");
        }
    }

    #[test]
    fn splits_are_found_by_the_words_of_their_paths() {
        let layouts: [(&[&str], Split); 8] = [
            (&["data/train-00000-of-00001.parquet"], Split::Train),
            (&["default/train/0000.parquet"], Split::Train),
            (
                &["plain_text/validation-00000-of-00001.parquet"],
                Split::Validation,
            ),
            (&["dev.csv"], Split::Validation),
            (&["rotten_tomatoes-test.arrow"], Split::Test),
            (&["test_set-train.arrow"], Split::Train),
            (&["data/my_valid_split.jsonl"], Split::Validation),
            (&["eval.tsv"], Split::Test),
        ];
        for (paths, split) in layouts {
            assert_eq!(split_of(paths[0]), Some(split), "{}", paths[0]);
        }
        assert_eq!(split_of("data/contest.parquet"), None);
    }

    #[test]
    fn the_hub_layout_gives_every_split_with_its_shards_in_order() {
        let chosen = choose_files(
            &names(&[
                "README.md",
                ".gitattributes",
                "data/train-00001-of-00002.parquet",
                "data/test-00000-of-00001.parquet",
                "data/train-00000-of-00002.parquet",
                "data/validation-00000-of-00001.parquet",
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            chosen,
            Chosen {
                train: names(&[
                    "data/train-00000-of-00002.parquet",
                    "data/train-00001-of-00002.parquet"
                ]),
                validation: names(&["data/validation-00000-of-00001.parquet"]),
                test: names(&["data/test-00000-of-00001.parquet"]),
            }
        );
    }

    #[test]
    fn configs_are_top_folders_and_must_be_named_when_several() {
        let files = names(&[
            "ner/train-00000-of-00001.parquet",
            "ner/test-00000-of-00001.parquet",
            "topics/train-00000-of-00001.parquet",
        ]);
        let ner = choose_files(&files, Some("ner")).unwrap();
        assert_eq!(ner.train, names(&["ner/train-00000-of-00001.parquet"]));
        assert_eq!(ner.test, names(&["ner/test-00000-of-00001.parquet"]));
        assert_eq!(
            choose_files(&files, None).unwrap_err(),
            "several configs (ner, topics): name one as org/name:CONFIG"
        );
        assert_eq!(
            choose_files(&files, Some("sst2")).unwrap_err(),
            "no config \"sst2\"; the configs are ner, topics"
        );
    }

    #[test]
    fn one_format_per_dataset_and_a_training_split_required() {
        let both = names(&["train.csv", "train.parquet", "test.csv", "test.parquet"]);
        let chosen = choose_files(&both, None).unwrap();
        assert_eq!(
            (chosen.train, chosen.test),
            (names(&["train.parquet"]), names(&["test.parquet"]))
        );
        let error = choose_files(&names(&["README.md", "data/test.parquet"]), None).unwrap_err();
        assert_eq!(
            error,
            "no training split: no data file is named for it (train, training); found data/test.parquet"
        );
    }
}
