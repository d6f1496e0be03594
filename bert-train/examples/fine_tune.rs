//! Using bert-train as a library: a whole fine-tuning from `TrainArgs`
//! (parsed from the same flags as `bert-train train`), its report returned
//! as the task's own type.
//!
//! ```text
//! cargo run --release -p bert-train --example fine_tune -- --task sentence-embedding --epochs 1
//! ```

use bert_data::assets::AssetCache;
use bert_train::tasks::classification::ClassificationReport;
use bert_train::tasks::sentence_embedding::EmbeddingReport;
use bert_train::tasks::{Start, TaskKind, TrainArgs, train};
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TrainArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Cli::parse().args;
    let task = args.task;
    let device = bert_train::backend::device()?;
    let report = train(args, Start::New, device, &AssetCache::from_env())?;
    match task {
        TaskKind::Classification => {
            let report: ClassificationReport = report.get()?;
            println!("test accuracy {:.4}", report.accuracy);
        }
        TaskKind::SentenceEmbedding => {
            let report: EmbeddingReport = report.get()?;
            println!("{report:?}");
        }
        _ => println!("{}", report.report),
    }
    Ok(())
}
