//! `--task mlm [--nsp]`: masked-LM pre-training or domain adaptation on raw
//! text, optionally with next-sentence prediction; reports MLM loss,
//! perplexity and masked-token accuracy, and NSP accuracy. The run directory
//! is a model that `train --model RUN` fine-tunes for another task.

use std::fmt::Write;
use std::time::Instant;

use anyhow::{Result, bail};
use bert_data::assets::AssetCache;
use bert_data::pretraining::{MaskingBatcher, PretrainingItem, pretraining_items};
use bert_model::heads::PreTrainingHead;
use bert_model::pretrained::{self, HeadStatus};
use burn::module::Module;
use burn::tensor::{Int, Tensor};
use burn::train::metric::store::Direction;
use burn::train::metric::{AccuracyMetric, LossMetric, PerplexityMetric};
use serde::{Deserialize, Serialize};

use crate::fit::{RunSetup, Selection};
use crate::inference::Batches;
use crate::pretrainer::Pretrainer;
use crate::run::RunDir;
use crate::train::BestMetric;

/// Seed of the masks drawn for evaluation: the same masks on every evaluation.
const EVAL_MASK_SEED: u64 = 1234;

/// Seed of the sentence pairing of the test split (training uses `seed`,
/// validation `seed + 1`): `eval` rebuilds the same test pairs.
pub fn test_pairing_seed(seed: u64) -> u64 {
    seed + 2
}

/// `report.json` of a pre-training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PretrainingReport {
    /// Always `mlm`.
    pub task: String,
    /// The data scored.
    pub split: String,
    /// Number of sequences.
    pub examples: usize,
    /// Tokens chosen for prediction.
    pub masked_tokens: usize,
    /// Mean cross-entropy over the chosen tokens.
    pub mlm_loss: f64,
    /// `exp(mlm_loss)`.
    pub perplexity: f64,
    /// Share of chosen tokens predicted exactly.
    pub mlm_accuracy: f64,
    /// Share of pairs whose next-sentence label is predicted (with `--nsp`).
    pub nsp_accuracy: Option<f64>,
}

impl PretrainingReport {
    /// A readable summary.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "{} sequences, {} masked tokens   MLM loss {:.4}   perplexity {:.2}   masked-token accuracy {:.4}",
            self.examples, self.masked_tokens, self.mlm_loss, self.perplexity, self.mlm_accuracy
        );
        if let Some(nsp) = self.nsp_accuracy {
            let _ = write!(out, "   NSP accuracy {nsp:.4}");
        }
        out.push('\n');
        out
    }
}

/// Number of entries where `a` equals `b`.
fn matches(a: Tensor<1, Int>, b: Tensor<1, Int>) -> usize {
    a.equal(b).int().sum().into_scalar::<i64>() as usize
}

/// Scores `model` on `items` with fixed masks, prints the summary and writes
/// `report.json` and `report.txt`.
pub fn evaluate_pretraining(
    model: &Pretrainer,
    items: &[PretrainingItem],
    batches: &Batches<MaskingBatcher>,
    run: &RunDir,
    split: &str,
) -> Result<PretrainingReport> {
    let batcher = batches.batcher.restarted(EVAL_MASK_SEED);
    let (mut loss_sum, mut masked, mut correct) = (0.0, 0usize, 0usize);
    let (mut nsp_correct, mut nsp_total) = (0usize, 0usize);
    for batch in Batches::new(&batcher, batches.size, batches.device).of(items) {
        let output = model.forward_pretraining(batch);
        let count = output.mlm_labels.dims()[0];
        loss_sum += output.mlm_loss.into_scalar::<f64>() * count as f64;
        masked += count;
        correct += matches(
            output.mlm_logits.argmax(1).squeeze_dim(1),
            output.mlm_labels,
        );
        if let Some((logits, labels)) = output.next_sentence {
            nsp_total += labels.dims()[0];
            nsp_correct += matches(logits.argmax(1).squeeze_dim(1), labels);
        }
    }
    let mlm_loss = loss_sum / masked.max(1) as f64;
    let report = PretrainingReport {
        task: "mlm".into(),
        split: split.into(),
        examples: items.len(),
        masked_tokens: masked,
        mlm_loss,
        perplexity: mlm_loss.exp(),
        mlm_accuracy: correct as f64 / masked.max(1) as f64,
        nsp_accuracy: (nsp_total > 0).then(|| nsp_correct as f64 / nsp_total as f64),
    };
    let table = report.table();
    run.write_report(&report, &table, &format!("{split} set"))?;
    Ok(report)
}

/// Pre-trains (continues pre-training) the model, saves it and writes the test report.
pub fn train_pretraining(setup: &RunSetup, cache: &AssetCache) -> Result<PretrainingReport> {
    let args = &setup.args;
    let splits = args
        .data
        .load_documents(cache, args.task)?
        .truncate(args.max_train_samples, args.max_eval_samples);
    let started = Instant::now();
    let items = |documents: &[Vec<String>], seed| {
        pretraining_items(&setup.tokenizer, documents, args.nsp, seed)
    };
    let (train, validation, test) = (
        items(&splits.train, args.seed)?,
        items(&splits.validation, args.seed + 1)?,
        items(&splits.test, test_pairing_seed(args.seed))?,
    );
    if train.is_empty() {
        bail!(
            "the training documents give no {}",
            if args.nsp {
                "sentence pairs (--nsp needs documents of two sentences or more)"
            } else {
                "sequences"
            }
        );
    }
    println!(
        "data: {} / {} / {} train / validation / test documents -> {} / {} / {} {}, built in {:.1}s",
        splits.train.len(),
        splits.validation.len(),
        splits.test.len(),
        train.len(),
        validation.len(),
        test.len(),
        if args.nsp {
            "sentence pairs"
        } else {
            "sequences"
        },
        started.elapsed().as_secs_f64(),
    );
    let device = setup.training_device();
    let head = PreTrainingHead::new(&setup.config, &device);
    let (config, model, status) = pretrained::load_for_task(&setup.model_dir, head, &device)?;
    if let HeadStatus::Initialised { .. } = status {
        println!(
            "model: {} has no pre-training heads: new ones (decoder tied to the word embeddings)",
            setup.model_dir.display()
        );
    }
    let batcher = MaskingBatcher::new(&setup.tokenizer, args.seed)?;
    let selection = match args.best_metric() {
        BestMetric::Accuracy => {
            Selection::by(&AccuracyMetric::new(), Direction::Highest, args.patience)
        }
        _ => Selection::by(&LossMetric::new(), Direction::Lowest, args.patience),
    };
    let trained = setup.fit(
        Pretrainer { model },
        (train, validation),
        (batcher.clone(), batcher.restarted(EVAL_MASK_SEED)),
        selection,
        |t| {
            t.metric_train_numeric(AccuracyMetric::new())
                .metric_valid_numeric(AccuracyMetric::new())
                .metric_train_numeric(PerplexityMetric::new())
                .metric_valid_numeric(PerplexityMetric::new())
        },
    )?;
    let trained = trained.valid();
    setup.save(&trained.model, &config)?;
    evaluate_pretraining(
        &trained,
        &test,
        &Batches::new(&batcher, args.batch_size, &setup.device),
        &setup.run,
        "test",
    )
}
