//! The confusion matrix of a classification report, as a PNG.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use crate::run::{FONT, ensure_font, plot_error};

/// Draws the confusion `matrix` (`[true][predicted]`, in `labels` order):
/// counts in cells shaded by their share of the true class, true classes as rows.
pub fn confusion_matrix_png(labels: &[String], matrix: &[Vec<usize>], path: &Path) -> Result<()> {
    ensure_font();
    let n = labels.len().max(1) as i32;
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
    for (t, row) in matrix.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        let y = top + cell * t as i32;
        text(labels[t].clone(), (10, y + cell / 2 - 8), 15, &BLACK)?;
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
    for (p, label) in labels.iter().enumerate() {
        let x = left + cell * p as i32;
        text(label.clone(), (x + 4, top + cell * n + 10), 14, &BLACK)?;
    }
    root.present().map_err(plot_error)
}
