//! The pretraining report: masked-LM loss, perplexity and accuracy, and
//! next-sentence accuracy.

use serde::{Deserialize, Serialize};

use crate::task::TaskReport;

/// `report.json` of a pretraining run.
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

impl TaskReport for PretrainingReport {
    fn table(&self) -> String {
        let mut out = format!(
            "{} sequences, {} masked tokens   MLM loss {:.4}   perplexity {:.2}   masked-token accuracy {:.4}",
            self.examples, self.masked_tokens, self.mlm_loss, self.perplexity, self.mlm_accuracy
        );
        if let Some(nsp) = self.nsp_accuracy {
            out.push_str(&format!("   NSP accuracy {nsp:.4}"));
        }
        out.push('\n');
        out
    }
}
