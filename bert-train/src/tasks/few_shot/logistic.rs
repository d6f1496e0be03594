//! The few-shot classifier's head: scikit-learn's default
//! `LogisticRegression()` (L2 penalty `1/2 |W|^2`, `C = 1` on the summed
//! log-loss, intercepts not penalised; one row for two classes, whose
//! logit is class 1's, else a softmax row per class), fitted to
//! convergence on frozen embeddings. Saved as `model_head.safetensors`
//! (`coef` `[rows, width]` and `intercept` `[rows]`, f64: scikit-learn's
//! `coef_` and `intercept_`).

use std::path::Path;

use anyhow::{Context, Result, bail};
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView, serialize};
use tracing::{info, warn};

use super::lbfgs::minimize;

/// The head's file in a run.
pub const HEAD_FILE: &str = "model_head.safetensors";

/// Inverse regularisation strength: scikit-learn's default `C`.
const C: f64 = 1.0;

/// Largest gradient component at which the fit has converged.
const TOLERANCE: f64 = 1e-9;

/// A linear classifier on sentence embeddings.
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticHead {
    /// `[rows, width]` coefficients.
    pub coef: Vec<Vec<f64>>,
    /// `[rows]` intercepts.
    pub intercept: Vec<f64>,
}

/// `ln(1 + e^z)`, without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// The penalised log-loss of the parameters `w` (`rows x (width + 1)`, each
/// row's intercept last) and its gradient.
fn objective(w: &[f64], x: &[Vec<f64>], labels: &[usize], rows: usize) -> (f64, Vec<f64>) {
    let stride = w.len() / rows;
    let width = stride - 1;
    let mut value = 0.0;
    let mut gradient = vec![0.0; w.len()];
    let mut logits = vec![0.0; rows];
    let mut residuals = vec![0.0; rows];
    for (features, &label) in x.iter().zip(labels) {
        for (r, logit) in logits.iter_mut().enumerate() {
            let row = &w[r * stride..(r + 1) * stride];
            *logit = row[width]
                + row[..width]
                    .iter()
                    .zip(features)
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
        }
        if rows == 1 {
            let (z, y) = (logits[0], label as f64);
            value += C * (softplus(z) - y * z);
            residuals[0] = 1.0 / (1.0 + (-z).exp()) - y;
        } else {
            let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = logits.iter().map(|z| (z - top).exp()).sum();
            value += C * (top + sum.ln() - logits[label]);
            for (r, residual) in residuals.iter_mut().enumerate() {
                *residual = (logits[r] - top).exp() / sum - f64::from(u8::from(r == label));
            }
        }
        for (r, residual) in residuals.iter().enumerate() {
            let row = &mut gradient[r * stride..(r + 1) * stride];
            row[..width]
                .iter_mut()
                .zip(features)
                .for_each(|(g, f)| *g += C * residual * f);
            row[width] += C * residual;
        }
    }
    for r in 0..rows {
        let coefficients = r * stride..r * stride + width;
        value += 0.5 * w[coefficients.clone()].iter().map(|a| a * a).sum::<f64>();
        gradient[coefficients.clone()]
            .iter_mut()
            .zip(&w[coefficients])
            .for_each(|(g, a)| *g += a);
    }
    (value, gradient)
}

impl LogisticHead {
    /// Fits the head on `embeddings` labelled with class ids `labels`
    /// (`0..classes`, each at least once).
    pub fn fit(embeddings: &[Vec<f32>], labels: &[usize], classes: usize) -> Result<Self> {
        if classes < 2 {
            bail!("a classifier needs at least two classes, the labels have {classes}");
        }
        if let Some(missing) = (0..classes).find(|class| !labels.contains(class)) {
            bail!("class {missing} has no training example: the head cannot learn it");
        }
        let width = embeddings.first().map_or(0, Vec::len);
        let x: Vec<Vec<f64>> = embeddings
            .iter()
            .map(|e| e.iter().map(|&v| f64::from(v)).collect())
            .collect();
        let rows = if classes == 2 { 1 } else { classes };
        let start = vec![0.0; rows * (width + 1)];
        let minimum = minimize(start, |w| objective(w, &x, labels, rows), TOLERANCE, 10_000);
        if minimum.gradient_max > TOLERANCE {
            warn!(
                "the logistic regression stopped after {} iterations with a gradient of {:.2e}",
                minimum.iterations, minimum.gradient_max
            );
        }
        info!(
            "head: logistic regression on {} embeddings of {width} values, {classes} classes, converged in {} iterations (loss {:.6})",
            x.len(),
            minimum.iterations,
            minimum.value
        );
        let (coef, intercept) = minimum
            .x
            .chunks(width + 1)
            .map(|row| (row[..width].to_vec(), row[width]))
            .unzip();
        Ok(Self { coef, intercept })
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        if self.coef.len() == 1 {
            2
        } else {
            self.coef.len()
        }
    }

    /// The class probabilities of one embedding.
    pub fn probabilities(&self, embedding: &[f32]) -> Vec<f32> {
        let logits: Vec<f64> = self
            .coef
            .iter()
            .zip(&self.intercept)
            .map(|(row, b)| {
                b + row
                    .iter()
                    .zip(embedding)
                    .map(|(a, &x)| a * f64::from(x))
                    .sum::<f64>()
            })
            .collect();
        if let [z] = logits[..] {
            let p = 1.0 / (1.0 + (-z).exp());
            return vec![(1.0 - p) as f32, p as f32];
        }
        let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = logits.iter().map(|z| (z - top).exp()).collect();
        let sum: f64 = exps.iter().sum();
        exps.iter().map(|e| (e / sum) as f32).collect()
    }

    /// The head as `model_head.safetensors` bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let width = self.coef.first().map_or(0, Vec::len);
        let little_endian = |values: &mut dyn Iterator<Item = &f64>| -> Vec<u8> {
            values.flat_map(|v| v.to_le_bytes()).collect()
        };
        let coef = little_endian(&mut self.coef.iter().flatten());
        let intercept = little_endian(&mut self.intercept.iter());
        let tensors = [
            (
                "coef",
                TensorView::new(Dtype::F64, vec![self.coef.len(), width], &coef)?,
            ),
            (
                "intercept",
                TensorView::new(Dtype::F64, vec![self.intercept.len()], &intercept)?,
            ),
        ];
        Ok(serialize(tensors, None)?)
    }

    /// Reads the head of `path`, a `model_head.safetensors`.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let tensors = SafeTensors::deserialize(&bytes)
            .with_context(|| format!("{}: not a safetensors file", path.display()))?;
        let values = |name: &str| -> Result<(Vec<usize>, Vec<f64>)> {
            let tensor = tensors
                .tensor(name)
                .with_context(|| format!("{}: no tensor {name:?}", path.display()))?;
            if tensor.dtype() != Dtype::F64 {
                bail!(
                    "{}: {name} is {:?}, expected F64",
                    path.display(),
                    tensor.dtype()
                );
            }
            let data = tensor
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            Ok((tensor.shape().to_vec(), data))
        };
        let (shape, coef) = values("coef")?;
        let (_, intercept) = values("intercept")?;
        let [rows, width] = shape[..] else {
            bail!(
                "{}: coef has shape {shape:?}, expected [rows, width]",
                path.display()
            );
        };
        if intercept.len() != rows || rows == 0 {
            bail!(
                "{}: {} intercepts for {rows} coefficient rows",
                path.display(),
                intercept.len()
            );
        }
        Ok(Self {
            coef: coef.chunks(width.max(1)).map(<[f64]>::to_vec).collect(),
            intercept,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The objective's gradient against central differences.
    #[test]
    fn the_gradient_is_the_objectives() {
        let x = vec![
            vec![0.5, -1.0],
            vec![1.5, 0.25],
            vec![-0.75, 2.0],
            vec![0.1, 0.2],
        ];
        for (labels, rows) in [(vec![0, 1, 1, 0], 1), (vec![0, 1, 2, 1], 3)] {
            let w: Vec<f64> = (0..rows * 3).map(|i| 0.3 * i as f64 - 0.4).collect();
            let (_, gradient) = objective(&w, &x, &labels, rows);
            for i in 0..w.len() {
                let moved = |by: f64| {
                    let mut v = w.clone();
                    v[i] += by;
                    objective(&v, &x, &labels, rows).0
                };
                let numeric = (moved(1e-6) - moved(-1e-6)) / 2e-6;
                assert!(
                    (numeric - gradient[i]).abs() < 1e-6,
                    "{i}: {numeric} vs {}",
                    gradient[i]
                );
            }
        }
    }

    #[test]
    fn the_file_round_trips() {
        let head = LogisticHead {
            coef: vec![vec![0.25, -1.5, 3.0], vec![1.0, 2.0, -0.125]],
            intercept: vec![0.5, -0.5],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEAD_FILE);
        std::fs::write(&path, head.to_bytes().unwrap()).unwrap();
        assert_eq!(LogisticHead::read(&path).unwrap(), head);
    }

    #[test]
    fn a_class_without_examples_is_refused() {
        let embeddings = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let error = LogisticHead::fit(&embeddings, &[0, 2], 3).unwrap_err();
        assert!(error.to_string().contains("class 1"), "{error}");
    }
}
