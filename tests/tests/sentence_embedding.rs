//! `--task sentence-embedding` against sentence-transformers
//! (`tests/reference/make_sentence_fixtures.py` wrote the fixtures):
//! each loss and its gradients on fixed embeddings; runs that
//! `SentenceTransformer(run)` opens with our embeddings and evaluators'
//! scores; the gradient cache's gradients equal the plain loss's; and the
//! task end to end on the tiny model, with its refusals of bad input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bert_burn_tests::{
    assert_close, device, fixture, max_abs_diff, minilm_dir, read_json, scratch_dir,
    tiny_run_flags, train_args, values, write_data_file,
};
use bert_data::assets::AssetCache;
use bert_data::dataset::{Origin, TextTuple, TupleColumns, read_tuples};
use bert_data::sentence_embedding::{SentenceBatch, SentenceItem};
use bert_data::{BertTokenizer, TextBatcher};
use bert_model::dropout::with_masks_from;
use bert_model::heads::NoHead;
use bert_model::sentence_transformers::SentenceTransformerConfig;
use bert_model::{Precision, pretrained};
use bert_train::embed::SentenceEmbedder;
use bert_train::inference::Batches;
use bert_train::run::RunDir;
use bert_train::task::{Task, TaskData, TaskModel, TestData};
use bert_train::tasks::sentence_embedding::{
    EmbeddingLoss, EmbeddingOptions, EmbeddingReport, LossSettings, SentenceEmbedding,
    mini_batch_seed,
};
use bert_train::tasks::{Start, evaluate_run, train};
use bert_train::training::LossScale;
use burn::data::dataloader::batcher::Batcher;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Deserialize;

/// Largest difference from sentence-transformers on the tiny fixtures.
const TINY: f32 = 1e-5;

fn sentence_fixture(name: &str) -> PathBuf {
    fixture(&format!("sentence/{name}"))
}

#[derive(Deserialize)]
struct LossFixture {
    embeddings: Vec<Vec<Vec<f32>>>,
    scores: Vec<f32>,
    cases: Vec<LossCase>,
}

#[derive(Deserialize)]
struct LossCase {
    name: String,
    columns: usize,
    matryoshka_dims: Vec<usize>,
    loss: f32,
    gradients: Vec<Vec<f32>>,
}

fn matrix(rows: &[Vec<f32>], device: &Device) -> Tensor<2> {
    let width = rows[0].len();
    let flat: Vec<f32> = rows.concat();
    Tensor::from_data(TensorData::new(flat, [rows.len(), width]), device)
}

#[test]
fn each_loss_and_its_gradients_match_sentence_transformers() {
    let fixture: LossFixture = read_json("sentence/losses.json");
    let device = device().autodiff();
    for case in &fixture.cases {
        let (loss, symmetric) = match case.name.trim_start_matches("matryoshka-") {
            "mnrl" | "mnrl-pairs" => (EmbeddingLoss::Mnrl, false),
            "mnrl-symmetric" => (EmbeddingLoss::Mnrl, true),
            "cosent" => (EmbeddingLoss::Cosent, false),
            "cosine" => (EmbeddingLoss::Cosine, false),
            other => panic!("unknown case {other}"),
        };
        let settings = LossSettings {
            loss,
            scale: 20.0,
            symmetric,
            matryoshka_dims: case.matryoshka_dims.clone(),
        };
        let embeddings: Vec<Tensor<2>> = fixture.embeddings[..case.columns]
            .iter()
            .map(|rows| matrix(rows, &device).require_grad())
            .collect();
        let scores = Tensor::<1>::from_floats(fixture.scores.as_slice(), &device);
        let computed = settings.compute(&embeddings, Some(&scores));
        assert_close(&case.name, &values(computed.clone()), &[case.loss]);
        let grads = computed.backward();
        for (column, (embedding, expected)) in embeddings.iter().zip(&case.gradients).enumerate() {
            let gradient = embedding.grad(&grads).expect("every column is in the loss");
            let max = max_abs_diff(&values(gradient), expected);
            assert!(
                max <= TINY,
                "{}: column {column}: max |diff| {max}",
                case.name
            );
        }
    }
}

#[derive(Deserialize)]
struct Expected {
    runs: BTreeMap<String, ExpectedRun>,
    /// sentence-transformers' evaluators with all-MiniLM-L6-v2 on the
    /// scored test pairs, as pairs ("similarity") and as (anchor,
    /// positive) rows ("retrieval").
    minilm: BTreeMap<String, BTreeMap<String, f64>>,
}

#[derive(Deserialize)]
struct ExpectedRun {
    modules: Vec<String>,
    max_seq_length: usize,
    texts: Vec<String>,
    embeddings: Vec<Vec<f32>>,
}

fn expected() -> Expected {
    read_json("sentence/expected.json")
}

#[test]
fn runs_open_in_sentence_transformers_with_our_embeddings() {
    for (name, run) in expected().runs {
        let dir = sentence_fixture(&format!("runs/{name}"));
        let embedder = SentenceEmbedder::load(&dir, (None, None), None, device()).unwrap();
        assert_eq!(embedder.tokenizer.max_len(), run.max_seq_length, "{name}");
        assert_eq!(
            run.modules.last().map(String::as_str) == Some("Normalize"),
            embedder.pooling.normalize,
            "{name}: {:?}",
            run.modules
        );
        for (i, ours) in embedder.embed(&run.texts).unwrap().iter().enumerate() {
            let max = max_abs_diff(ours, &run.embeddings[i]);
            assert!(max <= TINY, "{name}: text {i}: max |diff| {max}");
        }
    }
}

#[test]
fn saving_writes_the_sentence_transformers_files_of_the_fixture_runs() {
    for name in expected().runs.keys() {
        let dir = sentence_fixture(&format!("runs/{name}"));
        let saved = SentenceTransformerConfig::read(&dir).unwrap().unwrap();
        let written = scratch_dir();
        let config = pretrained::load_config(&dir).unwrap();
        saved.write(written.path(), config.hidden_size).unwrap();
        for file in [
            "modules.json",
            "sentence_bert_config.json",
            "1_Pooling/config.json",
            "config_sentence_transformers.json",
        ] {
            let read = |root: &Path| std::fs::read_to_string(root.join(file)).unwrap();
            assert_eq!(read(written.path()), read(&dir), "{name}: {file}");
        }
        // The model is saved as transformers saves a base model: its class,
        // and its weights without the family's prefix.
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let class = saved["architectures"][0].as_str().unwrap();
        assert!(
            class == "BertModel" || class == "MPNetModel",
            "{name}: {class}"
        );
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let weights = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let names = weights.names();
        let unprefixed = ["embeddings.", "encoder.", "pooler."];
        assert!(
            !names.is_empty()
                && names
                    .iter()
                    .all(|n| unprefixed.iter().any(|p| n.starts_with(p))),
            "{name}: {names:?}"
        );
    }
}

/// A copy of the directory `source` in `target` (evaluation writes its
/// report into the run: the fixtures stay as committed).
fn copy_dir(source: &Path, target: &Path) {
    std::fs::create_dir_all(target).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let to = target.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &to);
        } else {
            std::fs::copy(&path, &to).unwrap();
        }
    }
}

/// Reports equal sentence-transformers' evaluators on the same model and
/// rows: all-MiniLM-L6-v2 on the scored test pairs, as scored pairs and as
/// (anchor, positive) rows.
#[test]
fn reports_match_sentence_transformers_evaluators() {
    let expected = expected().minilm;
    let dir = minilm_dir();
    let device = device();
    let tokenizer = BertTokenizer::from_dir(&dir)
        .unwrap()
        .with_max_len(256)
        .unwrap();
    let (_, model, _) = pretrained::load_for_task(&dir, NoHead, &device).unwrap();
    let scored = read_tuples(
        &sentence_fixture("scored/test.tsv"),
        &TupleColumns::default(),
    )
    .unwrap();
    for (evaluation, loss) in [
        ("similarity", EmbeddingLoss::Cosent),
        ("retrieval", EmbeddingLoss::Mnrl),
    ] {
        let mut task =
            SentenceEmbedding::new(options(loss, 32), &train_args(&[]).training).unwrap();
        task.read_model_files(&dir).unwrap();
        let examples: Vec<TextTuple> = scored
            .iter()
            .map(|row| TextTuple {
                score: row.score.clone().filter(|_| loss.is_scored()),
                ..row.clone()
            })
            .collect();
        let items = task.encode(&tokenizer, &examples).unwrap();
        let batcher = TextBatcher::for_tokenizer(&tokenizer);
        let test = TestData::<SentenceEmbedding> {
            examples: &examples,
            items: &items,
            batches: Batches::new(&batcher, 8, &device),
            tokenizer: &tokenizer,
            split: "test",
        };
        let report = task.evaluate(&model, &test).unwrap();
        let ours = match evaluation {
            "similarity" => serde_json::to_value(report.similarity.unwrap()).unwrap(),
            _ => serde_json::to_value(report.retrieval.unwrap()).unwrap(),
        };
        for (key, theirs) in &expected[evaluation] {
            let ours = ours[key].as_f64().unwrap();
            assert!(
                (ours - theirs).abs() < 1e-5,
                "{evaluation}: {key} {ours} vs {theirs}"
            );
        }
    }
}

/// The tiny fixture model with every dropout off (or on), in `root/model`.
fn tiny_model(root: &Path, dropout: bool) -> PathBuf {
    let dir = root.join("model");
    copy_dir(&fixture("tiny-bert-base"), &dir);
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let probability = if dropout { 0.3 } else { 0.0 };
    for key in ["hidden_dropout_prob", "attention_probs_dropout_prob"] {
        config[key] = probability.into();
    }
    std::fs::write(&path, config.to_string()).unwrap();
    dir
}

/// Every parameter's gradient, in the module's order.
struct Gradients<'a> {
    grads: &'a GradientsParams,
    collected: Vec<Vec<f32>>,
}

impl ModuleVisitor for Gradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            self.collected.push(values(grad));
        }
    }
}

/// The task `options` give, the tiny model in `model_dir` with it, and a
/// batch of the first 12 (anchor, positive) rows of the pairs fixture with a
/// third column of negatives (the next rows' positives).
fn step_setup(
    model_dir: &Path,
    options: EmbeddingOptions,
) -> (
    SentenceEmbedding,
    TaskModel<SentenceEmbedding>,
    SentenceBatch,
) {
    let device = device().autodiff();
    let tokenizer = BertTokenizer::from_dir(model_dir)
        .unwrap()
        .with_max_len(32)
        .unwrap();
    let args = train_args(&["--batch-size", "12"]).training;
    let mut task = SentenceEmbedding::new(options, &args).unwrap();
    task.read_model_files(model_dir).unwrap();
    let lines = std::fs::read_to_string(sentence_fixture("pairs/train.tsv")).unwrap();
    let pairs: Vec<Vec<String>> = lines
        .lines()
        .skip(1)
        .map(|line| line.split('\t').map(String::from).collect())
        .collect();
    let items: Vec<SentenceItem> = (0..12)
        .map(|i| {
            let row = TextTuple {
                texts: vec![
                    pairs[i][0].clone(),
                    pairs[i][1].clone(),
                    pairs[i + 12][1].clone(),
                ],
                score: None,
                origin: Origin::line("pairs".into(), i + 2),
            };
            SentenceItem::encode(&tokenizer, &row, None).unwrap()
        })
        .collect();
    let batch = TextBatcher::for_tokenizer(&tokenizer.with_pad_multiple(1)).batch(items, &device);
    let (_, model, _) = pretrained::load_for_task(model_dir, NoHead, &device).unwrap();
    let model = TaskModel {
        model,
        task: task.clone(),
        loss_scale: LossScale::for_precision(Precision::F32),
    };
    (task, model, batch)
}

/// Every parameter's gradient in `grads`, in `model`'s order.
fn collected(model: &TaskModel<SentenceEmbedding>, grads: &GradientsParams) -> Vec<Vec<f32>> {
    let mut visitor = Gradients {
        grads,
        collected: Vec::new(),
    };
    model.visit(&mut visitor);
    visitor.collected
}

/// The gradients of one training step of the task `options` give.
fn step_gradients(model_dir: &Path, options: EmbeddingOptions) -> Vec<Vec<f32>> {
    let (task, model, batch) = step_setup(model_dir, options);
    let output = task.train_step(&model, batch);
    collected(&model, &output.grads)
}

/// The plain loss's gradients with each column embedded on the masks the
/// gradient cache draws for it as one mini-batch in a run's first step.
fn replayed_plain_gradients(model_dir: &Path) -> Vec<Vec<f32>> {
    let (task, model, batch) = step_setup(model_dir, options(EmbeddingLoss::Mnrl, 12));
    let seed = train_args(&[]).training.seed;
    let embeddings: Vec<Tensor<2>> = batch
        .columns
        .into_iter()
        .enumerate()
        .map(|(column, input)| {
            let device = input.input_ids.device();
            with_masks_from(&device, mini_batch_seed(seed, column, 0), || {
                task.embed(&model.model, input)
            })
        })
        .collect();
    let loss = task.loss().compute(&embeddings, None);
    collected(
        &model,
        &GradientsParams::from_grads(loss.backward(), &model),
    )
}

fn largest_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| max_abs_diff(x, y))
        .fold(0.0, f32::max)
}

fn options(loss: EmbeddingLoss, mini_batch_size: usize) -> EmbeddingOptions {
    EmbeddingOptions {
        loss,
        mini_batch_size,
        ..EmbeddingOptions::default()
    }
}

/// GradCache: the same gradients as the plain loss, whatever the
/// mini-batch size (dropout off: a step is then a function of its batch).
#[test]
fn cached_mnrl_gives_the_gradients_of_mnrl() {
    let scratch = scratch_dir();
    let model = tiny_model(scratch.path(), false);
    let plain = step_gradients(&model, options(EmbeddingLoss::Mnrl, 12));
    assert!(
        plain.iter().flatten().any(|g| g.abs() > 1e-4),
        "no gradient at all"
    );
    for mini_batch_size in [1, 5, 12] {
        let cached = step_gradients(&model, options(EmbeddingLoss::CachedMnrl, mini_batch_size));
        let max = largest_difference(&plain, &cached);
        assert!(
            max <= TINY,
            "mini-batches of {mini_batch_size}: max |diff| {max}"
        );
    }
}

/// With dropout on, the second embedding of each mini-batch draws the
/// first's masks: the cached gradients are those of the loss on the
/// embeddings they were computed for, so they do not depend on how the
/// batch is cut only through the masks (each mini-batch its own), and one
/// mini-batch per column gives exactly the plain loss's gradients on the
/// same masks. A replay that drew new masks would fail both.
#[test]
fn the_gradient_cache_replays_dropout() {
    let scratch = scratch_dir();
    let model = tiny_model(scratch.path(), true);
    bert_model::dropout::use_host_masks(3);
    let first = step_gradients(&model, options(EmbeddingLoss::CachedMnrl, 12));
    let again = step_gradients(&model, options(EmbeddingLoss::CachedMnrl, 12));
    assert_eq!(first, again, "a step is a function of its batch and seed");
    let cut = step_gradients(&model, options(EmbeddingLoss::CachedMnrl, 4));
    assert!(
        largest_difference(&first, &cut) > 1e-3,
        "other cuts draw other masks"
    );
    let reference = replayed_plain_gradients(&model);
    let max = largest_difference(&first, &reference);
    assert!(max <= TINY, "max |diff| {max}");
}

fn run_flags<'a>(
    model: &'a str,
    data: &'a str,
    output: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut flags = tiny_run_flags("sentence-embedding", model, data, output);
    flags.extend(extra);
    flags
}

/// cached-mnrl on (anchor, positive) pairs, two epochs: the run reports
/// retrieval, keeps its best epoch by NDCG@10, is a sentence-transformers
/// model that `eval`, `predict` and `embed` read, and starts a regression.
#[test]
fn trains_on_pairs_end_to_end() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let model = fixture("tiny-bert-base");
    let run = scratch.path().join("run");
    let (model, data, output) = (
        model.to_str().unwrap(),
        sentence_fixture("pairs"),
        run.to_str().unwrap(),
    );
    let extra = [
        "--loss",
        "cached-mnrl",
        "--mini-batch-size",
        "4",
        "--epochs",
        "2",
    ];
    let flags = run_flags(model, data.to_str().unwrap(), output, &extra);
    let report: EmbeddingReport = train(train_args(&flags), Start::New, device(), &cache)
        .unwrap()
        .get()
        .unwrap();
    let retrieval = report
        .retrieval
        .clone()
        .expect("pairs are scored by retrieval");
    let test_rows = std::fs::read_to_string(data.join("test.tsv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(
        (retrieval.queries, retrieval.corpus),
        (test_rows, test_rows)
    );
    assert!(
        retrieval.mrr_at_10 > 0.0 && retrieval.mrr_at_10 <= 1.0,
        "{retrieval:?}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("trainer_state.json")).unwrap())
            .unwrap();
    assert_eq!(state["metric_for_best_model"], "eval_ndcg@10", "{state}");
    let saved = SentenceTransformerConfig::read(&run).unwrap().unwrap();
    assert_eq!(saved.max_seq_length, Some(32));
    assert!(
        !saved.pooling.normalize,
        "the tiny model has no Normalize module"
    );

    let again: EmbeddingReport = evaluate_run(&RunDir::new(&run), None, None, &device(), &cache)
        .unwrap()
        .get()
        .unwrap();
    assert_eq!(
        again.retrieval, report.retrieval,
        "eval gives the scores train reported"
    );

    let mut predicted = Vec::new();
    bert_train::tasks::predict_run(
        &RunDir::new(&run),
        "a man plays a guitar\n{\"text\": \"a dog runs\"}\n".as_bytes(),
        &mut predicted,
        8,
        &device(),
    )
    .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(predicted)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let embedder = SentenceEmbedder::load(&run, (None, None), None, device()).unwrap();
    let embedded = embedder.embed(&["a dog runs".to_string()]).unwrap();
    let predicted: Vec<f32> = serde_json::from_value(lines[1]["embedding"].clone()).unwrap();
    assert_eq!(predicted.len(), 16);
    assert!(max_abs_diff(&predicted, &embedded[0]) < 1e-5);

    let regression = scratch.path().join("regression");
    let scored = sentence_fixture("scored");
    let flags = [
        "--task",
        "regression",
        "--model",
        output,
        "--dataset",
        scored.to_str().unwrap(),
        "--text-column",
        "sentence1",
        "--text-pair-column",
        "sentence2",
        "--label-column",
        "score",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--max-len",
        "32",
        "--output-dir",
        regression.to_str().unwrap(),
    ];
    train(train_args(&flags), Start::New, device(), &cache).unwrap();
    assert!(regression.join("model.safetensors").is_file());
}

/// Bad input is a clear error before anything is written.
#[test]
fn bad_input_is_refused_before_the_run_is_written() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let root = scratch.path();
    let model = fixture("tiny-bert-base");
    let model = model.to_str().unwrap();
    let write = |name: &str, body: String| write_data_file(root, name, &body);
    let pairs = |rows: usize| -> String {
        (0..rows)
            .map(|i| format!("query {i}\tanswer {i}\n"))
            .collect()
    };
    let missing = write(
        "missing.tsv",
        format!("anchor\tpositive\n{}lonely query\t \n", pairs(30)),
    );
    let repeated = write(
        "repeated.tsv",
        format!(
            "anchor\tpositive\n{}{}",
            pairs(30),
            (0..30)
                .map(|i| format!("same query\tother {i}\n"))
                .collect::<String>()
        ),
    );
    let scored = sentence_fixture("scored");
    let scored = scored.to_str().unwrap();
    let five = write(
        "five.tsv",
        format!(
            "a\tb\tscore\n{}",
            (0..40)
                .map(|i| format!("x {i}\ty {i}\t{}\n", i % 6))
                .collect::<String>()
        ),
    );
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            missing.as_str(),
            vec!["--loss", "mnrl"],
            "missing.tsv:32: empty \"positive\"",
        ),
        (
            five.as_str(),
            vec!["--loss", "cosine"],
            "is outside [-1, 1], the range of a cosine",
        ),
        (
            scored,
            vec!["--loss", "cached-mnrl", "--mini-batch-size", "20"],
            "--mini-batch-size 20 must be between 1 and --batch-size (16)",
        ),
        (
            scored,
            vec!["--matryoshka-dims", "32,8"],
            "--matryoshka-dims 32 is more than the model's embedding size, 16",
        ),
        (
            repeated.as_str(),
            vec!["--loss", "mnrl"],
            "the text \"same query\" is in",
        ),
        (
            scored,
            vec!["--loss", "mnrl"],
            "takes (anchor, positive[, negatives]) rows without a score",
        ),
        (
            scored,
            vec!["--symmetric"],
            "--symmetric applies to --loss mnrl and cached-mnrl",
        ),
    ];
    for (data, extra, expected) in cases {
        let output = root.join("run");
        let flags = run_flags(model, data, output.to_str().unwrap(), &extra);
        let error = match train(train_args(&flags), Start::New, device(), &cache) {
            Ok(_) => panic!("{extra:?} on {data} trained"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(expected), "{extra:?}: {error}");
        assert!(!output.exists(), "{extra:?}: the run directory was written");
    }
}
