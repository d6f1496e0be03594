//! `--class-weights`: weights per class in the cross-entropy, for
//! imbalanced single-label and token tasks.

use std::str::FromStr;

use anyhow::{Context, Result, bail};
use bert_data::dataset::{DatasetError, LabelVocab};
use serde::{Deserialize, Serialize};
use tracing::info;

/// How to weight each class in the loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ClassWeights {
    /// `n_samples / (n_classes * count)` per class, as scikit-learn's
    /// `compute_class_weight("balanced")`.
    Balanced,
    /// One weight per label name (`spam=5,ham=1`) ...
    ByName(Vec<(String, f32)>),
    /// ... or per class id, in label order (`1,5`).
    InOrder(Vec<f32>),
}

impl FromStr for ClassWeights {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        if text == "balanced" {
            return Ok(Self::Balanced);
        }
        let weight = |value: &str| -> Result<f32> {
            let weight: f32 = value
                .trim()
                .parse()
                .with_context(|| format!("--class-weights: {value:?} is not a number"))?;
            if !(weight.is_finite() && weight > 0.0) {
                bail!("--class-weights: {value:?} must be a positive number");
            }
            Ok(weight)
        };
        let parts: Vec<&str> = text.split(',').collect();
        if parts.iter().all(|part| part.contains('=')) {
            let by_name = parts
                .iter()
                .map(|part| {
                    let (name, value) = part.split_once('=').unwrap_or_default();
                    Ok((name.trim().to_string(), weight(value)?))
                })
                .collect::<Result<_>>()?;
            return Ok(Self::ByName(by_name));
        }
        Ok(Self::InOrder(
            parts.into_iter().map(weight).collect::<Result<_>>()?,
        ))
    }
}

impl From<ClassWeights> for String {
    fn from(weights: ClassWeights) -> String {
        match weights {
            ClassWeights::Balanced => "balanced".into(),
            ClassWeights::ByName(pairs) => pairs
                .iter()
                .map(|(name, weight)| format!("{name}={weight}"))
                .collect::<Vec<_>>()
                .join(","),
            ClassWeights::InOrder(weights) => weights
                .iter()
                .map(f32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

impl TryFrom<String> for ClassWeights {
    type Error = anyhow::Error;

    fn try_from(text: String) -> Result<Self> {
        text.parse()
    }
}

impl ClassWeights {
    /// The weight of every class, in class-id order, for classes `names`
    /// seen `counts` times in the training data.
    pub fn resolve(&self, names: &[String], counts: &[usize]) -> Result<Vec<f32>> {
        match self {
            Self::Balanced => {
                let total: usize = counts.iter().sum();
                if let Some(missing) = counts.iter().position(|&count| count == 0) {
                    bail!(
                        "--class-weights balanced: the training data has no example of {:?}",
                        names[missing]
                    );
                }
                Ok(counts
                    .iter()
                    .map(|&count| total as f32 / (counts.len() * count) as f32)
                    .collect())
            }
            Self::InOrder(weights) => {
                if weights.len() != names.len() {
                    bail!(
                        "--class-weights gives {} weights for {} labels ({})",
                        weights.len(),
                        names.len(),
                        names.join(", ")
                    );
                }
                Ok(weights.clone())
            }
            Self::ByName(pairs) => names
                .iter()
                .map(|name| {
                    pairs
                        .iter()
                        .find(|(given, _)| given == name)
                        .map(|(_, weight)| *weight)
                        .with_context(|| {
                            format!("--class-weights gives no weight for label {name:?}")
                        })
                })
                .collect(),
        }
    }
}

/// The `--class-weights` flag, for tasks whose loss is a cross-entropy over classes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, clap::Args)]
pub struct ClassWeightArgs {
    /// Weights of the classes in the loss: `balanced` (n_samples / (n_classes
    /// x count)), weights in label order (`1,6.5`) or by label (`ham=1,spam=6.5`).
    #[arg(long)]
    #[serde(default)]
    pub class_weights: Option<ClassWeights>,
}

impl ClassWeightArgs {
    /// The weights of `classes` (none without the flag), counted over the
    /// class `ids` of the training data (one per example, or per word);
    /// an error when there are fewer than two classes, named `noun`s.
    pub fn learn(
        &self,
        classes: &LabelVocab,
        noun: &str,
        ids: impl IntoIterator<Item = Result<usize, DatasetError>>,
    ) -> Result<Option<Vec<f32>>> {
        if classes.len() < 2 {
            bail!(
                "the data has {} {noun}(s); at least 2 are needed",
                classes.len()
            );
        }
        let mut counts = vec![0; classes.len()];
        for id in ids {
            counts[id?] += 1;
        }
        self.resolve(classes.names(), &counts)
    }

    /// The resolved weights (none without the flag), printed for the log.
    pub fn resolve(&self, names: &[String], counts: &[usize]) -> Result<Option<Vec<f32>>> {
        let Some(weights) = &self.class_weights else {
            return Ok(None);
        };
        let resolved = weights.resolve(names, counts)?;
        let shown: Vec<String> = names
            .iter()
            .zip(&resolved)
            .map(|(name, weight)| format!("{name} {weight:.3}"))
            .collect();
        info!("class weights: {}", shown.join(", "));
        Ok(Some(resolved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_weights_match_scikit_learn() {
        // compute_class_weight("balanced", classes=[0, 1], y=[0]*6 + [1]*2) = [0.6667, 2.0]
        let weights = ClassWeights::Balanced
            .resolve(&["ham", "spam"].map(String::from), &[6, 2])
            .unwrap();
        assert!((weights[0] - 8.0 / 12.0).abs() < 1e-6);
        assert!((weights[1] - 2.0).abs() < 1e-6);
    }

    #[test]
    fn weights_parse_by_name_and_in_order_and_round_trip() {
        let labels = ["ham", "spam"].map(String::from).to_vec();
        let by_name: ClassWeights = "spam=6.5, ham=1".parse().unwrap();
        assert_eq!(by_name.resolve(&labels, &[1, 1]).unwrap(), [1.0, 6.5]);
        let in_order: ClassWeights = "1,6.5".parse().unwrap();
        assert_eq!(in_order.resolve(&labels, &[1, 1]).unwrap(), [1.0, 6.5]);
        let json = serde_json::to_string(&by_name).unwrap();
        assert_eq!(
            serde_json::from_str::<ClassWeights>(&json).unwrap(),
            by_name
        );
    }

    #[test]
    fn bad_weights_are_explained() {
        let labels = ["ham", "spam"].map(String::from).to_vec();
        let error = |spec: &str| {
            spec.parse::<ClassWeights>()
                .and_then(|w| w.resolve(&labels, &[3, 0]))
                .unwrap_err()
                .to_string()
        };
        assert!(error("1,x").contains("\"x\" is not a number"));
        assert!(error("1,-2").contains("must be a positive number"));
        assert!(error("1,2,3").contains("3 weights for 2 labels"));
        assert!(error("ham=1").contains("no weight for label \"spam\""));
        assert!(error("balanced").contains("no example of \"spam\""));
    }
}
