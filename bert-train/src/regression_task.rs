//! `--task regression`: fine-tune a one-output head with MSE (e.g. on STS-B
//! sentence pairs) and report Pearson and Spearman correlations.

use std::fmt::Write;
use std::time::Instant;

use anyhow::{Result, bail};
use bert_data::assets::AssetCache;
use bert_data::regression::{RegressionBatch, RegressionItem, tokenize_regression};
use bert_model::BertForSequenceClassification;
use bert_model::heads::ClassifierHeadConfig;
use bert_model::pretrained;
use burn::module::Module;
use burn::train::metric::LossMetric;
use burn::train::metric::store::Direction;
use serde::{Deserialize, Serialize};

use crate::fit::{RunSetup, Selection};
use crate::inference::Batches;
use crate::metrics::PearsonMetric;
use crate::regressor::TextRegressor;
use crate::run::RunDir;
use crate::train::BestMetric;

/// The one "label" a regression run's `config.json` carries.
pub const REGRESSION_LABEL: &str = "score";

/// `report.json` of a regression run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegressionReport {
    /// Always `regression`.
    pub task: String,
    /// The data scored.
    pub split: String,
    /// Number of examples.
    pub examples: usize,
    /// Pearson correlation of predictions and targets.
    pub pearson: f64,
    /// Spearman rank correlation (ties get their average rank).
    pub spearman: f64,
    /// Mean squared error.
    pub mse: f64,
}

impl RegressionReport {
    /// Scores `predicted` against `truth`.
    pub fn new(split: &str, truth: &[f64], predicted: &[f64]) -> Self {
        let n = truth.len().max(1) as f64;
        Self {
            task: "regression".into(),
            split: split.into(),
            examples: truth.len(),
            pearson: pearson(truth, predicted),
            spearman: pearson(&ranks(truth), &ranks(predicted)),
            mse: truth
                .iter()
                .zip(predicted)
                .map(|(t, p)| (t - p).powi(2))
                .sum::<f64>()
                / n,
        }
    }

    /// A readable summary.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} examples   Pearson {:.4}   Spearman {:.4}   MSE {:.4}",
            self.examples, self.pearson, self.spearman, self.mse
        );
        out
    }
}

/// Pearson correlation; 0 when either side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n == 0 {
        return 0.0;
    }
    let mean = |v: &[f64]| v[..n].iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x[..n].iter().zip(&y[..n]) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// 1-based ranks, ties sharing their average rank.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end + 1) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = average;
        }
        start = end;
    }
    ranks
}

/// Predicted values of `items`, in order.
pub fn predict_values(
    model: &BertForSequenceClassification,
    items: &[RegressionItem],
    batches: &Batches,
) -> Result<Vec<f64>> {
    let rows = batches.rows(items, |batch: RegressionBatch| model.forward(batch.input))?;
    Ok(rows.iter().map(|row| f64::from(row[0])).collect())
}

/// Predicts `items`, prints the summary and writes `report.json` and `report.txt`.
pub fn evaluate_regression(
    model: &BertForSequenceClassification,
    items: &[RegressionItem],
    batches: &Batches,
    run: &RunDir,
    split: &str,
) -> Result<RegressionReport> {
    let predicted = predict_values(model, items, batches)?;
    let truth: Vec<f64> = items.iter().map(|item| f64::from(item.target)).collect();
    let report = RegressionReport::new(split, &truth, &predicted);
    let table = report.table();
    run.write_report(&report, &table, &format!("{split} set"))?;
    Ok(report)
}

/// Fine-tunes a regressor, saves it and writes the test report.
pub fn train_regressor(setup: &RunSetup, cache: &AssetCache) -> Result<RegressionReport> {
    let args = &setup.args;
    let splits = args
        .data
        .load(cache, args.task)?
        .truncate(args.max_train_samples, args.max_eval_samples);
    let started = Instant::now();
    let tokenize = |examples| tokenize_regression(&setup.tokenizer, examples);
    let (train, validation, test) = (
        tokenize(&splits.train)?,
        tokenize(&splits.validation)?,
        tokenize(&splits.test)?,
    );
    if train.len() < 2 {
        bail!("regression needs at least 2 training examples");
    }
    let (low, high) = train.iter().fold((f32::MAX, f32::MIN), |(lo, hi), item| {
        (lo.min(item.target), hi.max(item.target))
    });
    println!(
        "data: {} train / {} validation / {} test examples, targets {low}..{high}, tokenized in {:.1}s",
        train.len(),
        validation.len(),
        test.len(),
        started.elapsed().as_secs_f64()
    );
    let device = setup.training_device();
    let head = ClassifierHeadConfig::for_model(&setup.config, 1).init(&device);
    let (config, model, _) = pretrained::load_for_task(&setup.model_dir, head, &device)?;
    let selection = match args.best_metric() {
        BestMetric::Pearson => {
            Selection::by(&PearsonMetric::new(), Direction::Highest, args.patience)
        }
        _ => Selection::by(&LossMetric::new(), Direction::Lowest, args.patience),
    };
    let trained = setup.fit(
        TextRegressor { model },
        (train, validation),
        (setup.batcher(), setup.batcher()),
        selection,
        |t| {
            t.metric_train_numeric(PearsonMetric::new())
                .metric_valid_numeric(PearsonMetric::new())
        },
    )?;
    let model = trained.model.valid();
    setup.save(&model, &config.with_labels(&[REGRESSION_LABEL.to_string()]))?;
    evaluate_regression(
        &model,
        &test,
        &Batches::new(&setup.batcher(), args.batch_size, &setup.device),
        &setup.run,
        "test",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlations_match_hand_computed_values() {
        // Perfect rank agreement, imperfect linear fit.
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 4.0, 9.0, 16.0];
        assert!((pearson(&x, &y) - 0.984_374_038_697_974_4).abs() < 1e-12);
        let report = RegressionReport::new("test", &x, &y);
        assert_eq!(report.spearman, 1.0);
        assert_eq!(report.mse, (0.0 + 4.0 + 36.0 + 144.0) / 4.0);
        assert_eq!(pearson(&x, &[2.0; 4]), 0.0);
    }

    #[test]
    fn tied_values_share_their_average_rank() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 5.0]), [2.5, 4.0, 2.5, 1.0]);
    }
}
