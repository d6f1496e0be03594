//! Using bert-train as a library: apply a finished run (of any task) to
//! texts, as `bert-train predict` does, and print its JSON lines.
//!
//! ```text
//! cargo run -p bert-train --example predict_with_run -- runs/rotten_tomatoes "a gorgeous film" "dull"
//! ```

use anyhow::Context;
use bert_train::run::RunDir;
use bert_train::tasks::predict_run;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let run = args
        .next()
        .context("usage: predict_with_run RUN_DIR TEXT...")?;
    // One text per line, as `predict --input` reads a file.
    let lines: String = args.map(|text| text + "\n").collect();
    let device = bert_train::backend::device()?;
    let written = predict_run(
        &RunDir::new(run),
        lines.as_bytes(),
        std::io::stdout(),
        32,
        &device,
    )?;
    eprintln!("{written} predictions");
    Ok(())
}
