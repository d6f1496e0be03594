//! PNG plots of a run: the training curves (read back from burn-train's
//! per-iteration metric logs), and what every plot shares.

use std::ops::Range;
use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

/// One epoch's aggregate of a metric: the `value,final` line of its log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochValue {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The last step of the epoch in its split's log (steps as in [`MetricLog::steps`]).
    pub last_step: usize,
    /// The aggregate over the epoch.
    pub value: f64,
}

/// One metric of one split (`train` or `valid`) as burn-train logged it in
/// `RUN/<split>/epoch-N/<Metric>.log` (spaces in the name as `_`): a
/// `value,…` line per batch, then `value,final`, the epoch's aggregate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricLog {
    /// `(step, value)` for every logged batch; steps count from 1 on across
    /// epochs (a training step is one batch, not one optimiser update when
    /// gradients are accumulated). Non-finite values are left out but count.
    pub steps: Vec<(usize, f64)>,
    /// Every epoch's aggregate, by epoch.
    pub epochs: Vec<EpochValue>,
}

impl MetricLog {
    /// Reads `metric` of `split` over every epoch of `run`; empty where
    /// nothing is logged.
    pub fn read(run: &RunDir, split: &str, metric: &str) -> Self {
        let file_name = format!("{}.log", metric.replace(' ', "_"));
        let mut epochs: Vec<(usize, std::path::PathBuf)> = std::fs::read_dir(run.file(split))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name();
                let epoch = name.to_str()?.strip_prefix("epoch-")?.parse().ok()?;
                Some((epoch, entry.path().join(&file_name)))
            })
            .collect();
        epochs.sort();
        let mut log = Self::default();
        let mut step = 0;
        for (epoch, path) in epochs {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            for line in text.lines().filter(|line| !line.is_empty()) {
                let (value, tag) = line.split_once(',').unwrap_or((line, ""));
                let value = value.parse::<f64>().ok().filter(|v| v.is_finite());
                if tag == "final" {
                    if let Some(value) = value {
                        log.epochs.push(EpochValue {
                            epoch,
                            last_step: step,
                            value,
                        });
                    }
                } else {
                    step += 1;
                    log.steps.extend(value.map(|value| (step, value)));
                }
            }
        }
        log
    }
}

/// The span (in steps) of the moving average over `steps` logged steps:
/// a tenth of them, at least 1 and at most 100.
fn smoothing_span(steps: usize) -> usize {
    steps.div_ceil(10).clamp(1, 100)
}

/// The exponential moving average of `values` over a span of `span` steps:
/// weights decay by `1 - 2 / (span + 1)` per step, and each average is the
/// weighted mean of the values so far (pandas' `ewm(span=span, adjust=True)`),
/// so the start is neither pulled towards 0 nor held at the first value.
fn ema(values: &[f64], span: usize) -> Vec<f64> {
    let decay = 1.0 - 2.0 / (span as f64 + 1.0);
    let (mut sum, mut weight) = (0.0, 0.0);
    values
        .iter()
        .map(|value| {
            sum = decay * sum + value;
            weight = decay * weight + 1.0;
            sum / weight
        })
        .collect()
}

/// What one panel of the curves draws.
struct Panel {
    /// The metric's name (as registered, shown on the y axis).
    metric: String,
    /// Training values per step.
    train: Vec<(usize, f64)>,
    /// Their moving average.
    smoothed: Vec<(usize, f64)>,
    /// Validation aggregates, at the training step where their epoch ended.
    valid: Vec<(usize, f64)>,
}

impl Panel {
    /// The panel of `metric`; `epoch_ends` maps epochs to training steps.
    fn read(run: &RunDir, metric: &str, epoch_ends: &[EpochValue], span: usize) -> Self {
        let train = MetricLog::read(run, "train", metric).steps;
        let values: Vec<f64> = train.iter().map(|&(_, value)| value).collect();
        let smoothed = train
            .iter()
            .zip(ema(&values, span))
            .map(|(&(step, _), value)| (step, value))
            .collect();
        let valid = MetricLog::read(run, "valid", metric)
            .epochs
            .iter()
            .filter_map(|valid| {
                let end = epoch_ends.iter().find(|end| end.epoch == valid.epoch)?;
                Some((end.last_step, valid.value))
            })
            .collect();
        Self {
            metric: metric.to_string(),
            train,
            smoothed,
            valid,
        }
    }

    /// The value range drawn, with a margin.
    fn value_range(&self) -> Range<f64> {
        let (low, high) = self
            .train
            .iter()
            .chain(&self.valid)
            .fold((f64::MAX, f64::MIN), |(low, high), &(_, value)| {
                (low.min(value), high.max(value))
            });
        let pad = ((high - low) * 0.08).max(1e-3);
        (low - pad)..(high + pad)
    }

    /// Draws the panel on `area`: steps `0..=last_step`, epochs ending at
    /// `boundaries`.
    fn draw(
        &self,
        area: &DrawingArea<BitMapBackend, Shift>,
        last_step: usize,
        boundaries: &[usize],
    ) -> Result<()> {
        let values = self.value_range();
        let mut chart = ChartBuilder::on(area)
            .caption(&self.metric, (FONT, 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0..last_step + last_step.div_ceil(40), values.clone())
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(&self.metric)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .bold_line_style(BLACK.mix(0.1))
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(boundaries.iter().map(|&step| {
                DashedPathElement::new(
                    [(step, values.start), (step, values.end)],
                    6,
                    4,
                    Series::EpochEnd.style(),
                )
            }))
            .map_err(plot_error)?;
        for (points, series) in [
            (&self.train, Series::Train),
            (&self.smoothed, Series::Smoothed),
            (&self.valid, Series::Validation),
        ] {
            chart
                .draw_series(LineSeries::new(points.iter().copied(), series.style()))
                .map_err(plot_error)?;
        }
        chart
            .draw_series(
                self.valid
                    .iter()
                    .map(|&point| Circle::new(point, 5, Series::Validation.style().filled())),
            )
            .map_err(plot_error)?;
        Ok(())
    }
}

/// The kinds of line a panel draws, each with its style and legend entry.
#[derive(Clone, Copy)]
enum Series {
    /// Training values per step.
    Train,
    /// Their moving average.
    Smoothed,
    /// Validation per epoch: circles joined by a thin line.
    Validation,
    /// Where an epoch ends: a dashed vertical line.
    EpochEnd,
}

impl Series {
    fn style(self) -> ShapeStyle {
        match self {
            Self::Train => BLUE.mix(0.3).stroke_width(1),
            Self::Smoothed => BLUE.stroke_width(2),
            Self::Validation => RED.stroke_width(1),
            Self::EpochEnd => BLACK.mix(0.5).stroke_width(1),
        }
    }

    /// Its legend entry, the moving average's span being `span` steps.
    fn label(self, span: usize) -> String {
        match self {
            Self::Train => "training, per step".into(),
            Self::Smoothed => format!("training, smoothed (EMA, span {span} steps)"),
            Self::Validation => "validation, per epoch".into(),
            Self::EpochEnd => "epoch end".into(),
        }
    }
}

/// Draws the legend of `series` across the top of `area`, in centred rows
/// no wider than `area`; returns the height it takes.
fn draw_legend(
    area: &DrawingArea<BitMapBackend, Shift>,
    series: &[Series],
    span: usize,
) -> Result<u32> {
    const MARK: i32 = 22;
    const GAP: i32 = 28;
    const ROW: i32 = 24;
    let font = TextStyle::from((FONT, 14)).pos(Pos::new(HPos::Left, VPos::Center));
    let width = area.dim_in_pixel().0 as i32;
    let mut rows: Vec<Vec<(Series, String, i32)>> = Vec::new();
    let mut row_width = 0;
    for &series in series {
        let label = series.label(span);
        let (text, _) = area.estimate_text_size(&label, &font).map_err(plot_error)?;
        let entry_width = MARK + 6 + text as i32 + GAP;
        match rows.last_mut() {
            Some(row) if row_width + entry_width <= width => row.push((series, label, entry_width)),
            _ => {
                rows.push(vec![(series, label, entry_width)]);
                row_width = 0;
            }
        }
        row_width += entry_width;
    }
    for (row_number, row) in rows.iter().enumerate() {
        let total: i32 = row.iter().map(|(_, _, entry_width)| entry_width).sum();
        let (mut x, y) = (
            (width - total + GAP) / 2,
            6 + ROW * row_number as i32 + ROW / 2,
        );
        for (series, label, entry_width) in row {
            let style = series.style();
            let middle = x + MARK / 2;
            match series {
                Series::Validation => area.draw(&Circle::new((middle, y), 5, style.filled())),
                Series::EpochEnd => area.draw(&DashedPathElement::new(
                    [(middle, y - 10), (middle, y + 10)],
                    6,
                    4,
                    style,
                )),
                _ => area.draw(&PathElement::new([(x, y), (x + MARK, y)], style)),
            }
            .map_err(plot_error)?;
            area.draw(&Text::new(label.as_str(), (x + MARK + 6, y), font.clone()))
                .map_err(plot_error)?;
            x += entry_width;
        }
    }
    Ok((12 + ROW * rows.len() as i32) as u32)
}

/// Draws the training curves of `run` to `path`: the loss and, unless it
/// is the loss or has no per-step training log, `metric` (the one that
/// picks the best epoch), each as training values per step (faint), their
/// exponential moving average (over a tenth of the steps, 1 to 100), and
/// validation aggregates per epoch (circles at the step where the epoch
/// ended), epochs parted by light vertical lines. `false` (and no file) if
/// the run has no per-step training loss.
pub fn curves_png(run: &RunDir, metric: &str, path: &Path) -> Result<bool> {
    let loss = MetricLog::read(run, "train", "Loss");
    let Some(&(last_step, _)) = loss.steps.last() else {
        return Ok(false);
    };
    let span = smoothing_span(loss.steps.len());
    let mut panels = vec![Panel::read(run, "Loss", &loss.epochs, span)];
    if metric != "Loss" {
        let panel = Panel::read(run, metric, &loss.epochs, span);
        if !panel.train.is_empty() {
            panels.push(panel);
        }
    }
    let boundaries: Vec<usize> = loss
        .epochs
        .iter()
        .map(|end| end.last_step)
        .filter(|&step| step < last_step)
        .collect();
    let mut legend = vec![Series::Train, Series::Smoothed, Series::Validation];
    if !boundaries.is_empty() {
        legend.push(Series::EpochEnd);
    }

    ensure_font();
    let width = 580 * panels.len() as u32;
    let root = BitMapBackend::new(path, (width, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (_, body) = root.split_vertically(draw_legend(&root, &legend, span)?);
    for (area, panel) in body.split_evenly((1, panels.len())).iter().zip(&panels) {
        panel.draw(area, last_step, &boundaries)?;
    }
    root.present().map_err(plot_error)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `lines` as `RUN/<split>/epoch-<epoch>/<file>`.
    fn write_log(run: &RunDir, split: &str, epoch: usize, file: &str, lines: &[String]) {
        let dir = run.file(split).join(format!("epoch-{epoch}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), lines.join("\n") + "\n").unwrap();
    }

    /// A fake run of `epochs` epochs of 10 training and 3 validation steps,
    /// logging `Loss` and `Accuracy` (spaces as `_`: `Top_1`) as training does.
    fn fake_run(epochs: usize) -> (tempfile::TempDir, RunDir) {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        for epoch in 1..=epochs {
            for (split, steps) in [("train", 10), ("valid", 3)] {
                let step = |i: usize| (epoch - 1) * steps + i;
                let loss = |i: usize| 2.0 / (1.0 + step(i) as f64 / 5.0);
                let accuracy = |i: usize| 50.0 + step(i) as f64;
                for (file, value) in [
                    ("Loss.log", &loss as &dyn Fn(usize) -> f64),
                    ("Top_1.log", &accuracy),
                ] {
                    let mut lines: Vec<String> =
                        (1..=steps).map(|i| format!("{},16", value(i))).collect();
                    lines.push(format!("{},final", value(steps) + 0.5));
                    write_log(&run, split, epoch, file, &lines);
                }
            }
        }
        (dir, run)
    }

    #[test]
    fn steps_run_on_across_epochs_and_final_lines_are_epoch_values() {
        for epochs in [1, 3] {
            let (_dir, run) = fake_run(epochs);
            let train = MetricLog::read(&run, "train", "Loss");
            let steps: Vec<usize> = train.steps.iter().map(|&(step, _)| step).collect();
            assert_eq!(steps, (1..=10 * epochs).collect::<Vec<_>>());
            assert_eq!(
                train.steps[10 * epochs - 1].1,
                2.0 / (1.0 + 2.0 * epochs as f64)
            );
            let ends: Vec<(usize, usize)> = train
                .epochs
                .iter()
                .map(|e| (e.epoch, e.last_step))
                .collect();
            assert_eq!(ends, (1..=epochs).map(|e| (e, 10 * e)).collect::<Vec<_>>());
            let valid = MetricLog::read(&run, "valid", "Top 1");
            assert_eq!(valid.steps.len(), 3 * epochs);
            let values: Vec<f64> = valid.epochs.iter().map(|e| e.value).collect();
            let expected: Vec<f64> = (1..=epochs).map(|e| 50.0 + 3.0 * e as f64 + 0.5).collect();
            assert_eq!(values, expected);
        }
    }

    #[test]
    fn epochs_sort_by_number_and_bad_values_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let lines = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        write_log(&run, "train", 10, "Loss.log", &lines(&["3,1", "3,final"]));
        write_log(
            &run,
            "train",
            2,
            "Loss.log",
            &lines(&["2,1", "NaN,1", "2,final"]),
        );
        let log = MetricLog::read(&run, "train", "Loss");
        assert_eq!(log.steps, vec![(1, 2.0), (3, 3.0)]);
        let ends: Vec<(usize, usize)> = log.epochs.iter().map(|e| (e.epoch, e.last_step)).collect();
        assert_eq!(ends, vec![(2, 2), (10, 3)]);
        assert_eq!(MetricLog::read(&run, "valid", "Loss"), MetricLog::default());
    }

    #[test]
    fn moving_average_weights_decay_by_the_span() {
        // span 3: decay 1 - 2/4 = 0.5.
        let smoothed = ema(&[1.0, 2.0, 3.0, 3.0], 3);
        let expected = [1.0, 2.5 / 1.5, 4.25 / 1.75, 5.125 / 1.875];
        for (got, want) in smoothed.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{smoothed:?}");
        }
        // Span 1 does not smooth.
        assert_eq!(ema(&[4.0, 1.0, 7.0], 1), vec![4.0, 1.0, 7.0]);
        assert_eq!([1, 10, 11, 63, 5000].map(smoothing_span), [1, 1, 2, 7, 100]);
    }

    #[test]
    fn curves_are_drawn_for_one_and_for_several_epochs() {
        for (epochs, metric) in [(1, "Top 1"), (3, "Top 1"), (3, "Loss"), (3, "Missing")] {
            let (dir, run) = fake_run(epochs);
            let path = dir.path().join("curves.png");
            assert!(curves_png(&run, metric, &path).unwrap());
            let bytes = std::fs::read(&path).unwrap();
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000);
        }
    }

    #[test]
    fn a_run_without_logs_draws_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        assert!(!curves_png(&RunDir::new(dir.path()), "Accuracy", &path).unwrap());
        assert!(!path.exists());
    }
}
