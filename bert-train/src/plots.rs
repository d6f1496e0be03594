//! PNG plots of a run: the confusion matrix and the per-epoch loss and
//! accuracy curves (read back from burn-train's metric logs).

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::report::Report;
use crate::run::RunDir;

const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once).
fn ensure_font() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        // The embedded font is a valid TrueType file: registration cannot fail.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn plot_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("plotting failed: {error}")
}

/// Draws `report`'s confusion matrix: counts in cells shaded by their
/// share of the true class, true classes as rows.
pub fn confusion_matrix_png(report: &Report, path: &Path) -> Result<()> {
    ensure_font();
    let n = report.labels.len().max(1) as i32;
    let (left, top, cell) = (130, 60, (480 / n).clamp(40, 120));
    let size = ((left + cell * n + 30) as u32, (top + cell * n + 70) as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let text = |value: String, at: (i32, i32), size: i32, color: &RGBColor| {
        root.draw(&Text::new(value, at, (FONT, size).into_font().color(color)))
            .map_err(plot_error)
    };
    text("confusion matrix".into(), (10, 10), 20, &BLACK)?;
    text(
        "rows: true class, columns: predicted".into(),
        (10, 34),
        14,
        &BLACK,
    )?;
    for (t, row) in report.confusion_matrix.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        let y = top + cell * t as i32;
        text(report.labels[t].clone(), (10, y + cell / 2 - 8), 15, &BLACK)?;
        for (p, &count) in row.iter().enumerate() {
            let x = left + cell * p as i32;
            let share = count as f64 / total;
            let shade = RGBColor(
                255 - (200.0 * share) as u8,
                255 - (130.0 * share) as u8,
                255,
            );
            root.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                shade.filled(),
            ))
            .map_err(plot_error)?;
            root.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                BLACK.stroke_width(1),
            ))
            .map_err(plot_error)?;
            let color = if share > 0.6 { WHITE } else { BLACK };
            text(count.to_string(), (x + 8, y + cell / 2 - 10), 20, &color)?;
        }
    }
    for (p, label) in report.labels.iter().enumerate() {
        let x = left + cell * p as i32;
        text(label.clone(), (x + 4, top + cell * n + 10), 14, &BLACK)?;
    }
    root.present().map_err(plot_error)
}

/// `(epoch, value)` points, by epoch.
type History = Vec<(usize, f64)>;

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
