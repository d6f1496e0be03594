//! PNG plots of a run: the per-epoch loss and accuracy curves (read back
//! from burn-train's metric logs), and what every plot shares.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use super::RunDir;

/// The font family every plot uses.
pub(crate) const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once).
pub(crate) fn ensure_font() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        // The embedded font is a valid TrueType file: registration cannot fail.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// A plotting failure as an error.
pub(crate) fn plot_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("plotting failed: {error}")
}

/// `(epoch, value)` points, by epoch.
pub type History = Vec<(usize, f64)>;

/// Final per-epoch values of `metric` in the run's `split` logs, by epoch.
pub fn epoch_history(run: &RunDir, split: &str, metric: &str) -> History {
    let file_name = format!("{}.log", metric.replace(' ', "_"));
    let mut history: History = std::fs::read_dir(run.file(split))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let epoch = entry
                .file_name()
                .to_string_lossy()
                .strip_prefix("epoch-")?
                .parse()
                .ok()?;
            let log = std::fs::read_to_string(entry.path().join(&file_name)).ok()?;
            let last = log.lines().rev().find(|line| line.ends_with(",final"))?;
            Some((epoch, last.strip_suffix(",final")?.parse().ok()?))
        })
        .collect();
    history.sort_by_key(|(epoch, _)| *epoch);
    history
}

/// Draws train and validation loss and accuracy per epoch; `false` if the
/// run has no epoch logs.
pub fn curves_png(run: &RunDir, path: &Path) -> Result<bool> {
    ensure_font();
    let panels = [("Loss", "loss"), ("Accuracy", "accuracy (%)")];
    let series: Vec<Vec<(&str, History)>> = panels
        .iter()
        .map(|(metric, _)| {
            ["train", "valid"]
                .into_iter()
                .map(|split| (split, epoch_history(run, split, metric)))
                .collect()
        })
        .collect();
    if series.iter().flatten().all(|(_, points)| points.is_empty()) {
        return Ok(false);
    }
    let root = BitMapBackend::new(path, (960, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    for (area, ((_, axis), lines)) in root
        .split_evenly((1, 2))
        .iter()
        .zip(panels.iter().zip(&series))
    {
        let points = lines.iter().flat_map(|(_, p)| p.iter());
        let last_epoch = points.clone().map(|(e, _)| *e).max().unwrap_or(1).max(2);
        let (low, high) = points.fold((f64::MAX, f64::MIN), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
        let pad = ((high - low) * 0.1).max(1e-3);
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{axis} per epoch"), (FONT, 18))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(1..last_epoch, (low - pad)..(high + pad))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .label_style((FONT, 13))
            .draw()
            .map_err(plot_error)?;
        for ((split, points), color) in lines.iter().zip([BLUE, RED]) {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(plot_error)?
                .label(*split)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 13))
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(true)
}
