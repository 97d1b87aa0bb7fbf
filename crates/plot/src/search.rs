//! Charts of an adaptive search: the optimization history (each trial's objective and the
//! best so far against the epochs trained) and one chart per searched parameter (its value
//! against the objective).

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{finite_min_max, non_degenerate, under_title, DrawResult, FONT, GREY, PALETTE};

/// Size of both charts.
pub(crate) const SIZE: (u32, u32) = (1000, 600);

/// One trial of a search, as the charts show it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPoint {
    /// Epochs trained by the whole search when this trial ended (the compute spent).
    pub epochs: f64,
    /// The trial's objective at its last epoch (its last value, for a pruned trial).
    pub value: f64,
    /// Whether the pruner stopped it.
    pub pruned: bool,
}

/// One searched parameter's values, for [`crate::parameter_chart`].
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValues {
    /// A number per trial; `log` draws the axis in log scale.
    Numeric {
        /// The value of each point, in [`SearchPoint`] order.
        values: Vec<f64>,
        /// Log-scale axis (for `log_uniform` parameters).
        log: bool,
    },
    /// A category per trial: indices into `names`.
    Categorical {
        /// The category names, axis order.
        names: Vec<String>,
        /// The category of each point.
        values: Vec<usize>,
    },
}

const COMPLETE: RGBColor = PALETTE[0];
const PRUNED: RGBColor = RGBColor(170, 170, 170);
const BEST: RGBColor = PALETTE[3];

/// The y range of the objective over the finite points, padded.
fn value_range(points: &[SearchPoint]) -> (f64, f64) {
    let (lo, hi) = finite_min_max(points.iter().map(|p| p.value)).unwrap_or((0.0, 1.0));
    let (lo, hi) = non_degenerate(lo, hi);
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// The legend under the title: complete, pruned, best so far.
fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, with_best: bool) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let style = (FONT, 14).into_font().color(&GREY);
    let mut x = 100;
    let mut items = vec![("complete", COMPLETE), ("pruned", PRUNED)];
    if with_best {
        items.push(("best so far (complete trials)", BEST));
    }
    for (name, colour) in items {
        area.draw(&Circle::new((x, 10), 5, colour.filled()))?;
        area.draw(&Text::new(name, (x + 10, 3), style.clone()))?;
        x += 40 + crate::text_width(name, 14.0) as i32;
    }
    Ok(())
}

pub(crate) fn draw_history<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    metric: &str,
    maximize: bool,
    points: &[SearchPoint],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let below = under_title(root, title)?;
    let (legend_area, plot) = below.split_vertically(24);
    legend(&legend_area, true)?;
    let x_max = points
        .iter()
        .map(|p| p.epochs)
        .filter(|x| x.is_finite())
        .fold(1.0, f64::max);
    let (y0, y1) = value_range(points);
    let mut chart = ChartBuilder::on(&plot)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max * 1.02, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("epochs trained by the search")
        .y_desc(metric)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;
    for p in points.iter().filter(|p| p.value.is_finite()) {
        let colour = if p.pruned { PRUNED } else { COMPLETE };
        chart.draw_series(std::iter::once(Circle::new(
            (p.epochs, p.value),
            4,
            colour.filled(),
        )))?;
    }
    // The best complete value so far, as a step line.
    let mut best: Option<f64> = None;
    let mut steps = Vec::new();
    for p in points.iter().filter(|p| !p.pruned && p.value.is_finite()) {
        let better = best.is_none_or(|b| if maximize { p.value > b } else { p.value < b });
        if better {
            if let Some(b) = best {
                steps.push((p.epochs, b));
            }
            best = Some(p.value);
            steps.push((p.epochs, p.value));
        }
    }
    if let Some(b) = best {
        steps.push((x_max * 1.02, b));
    }
    chart.draw_series(LineSeries::new(steps, BEST.stroke_width(2)))?;
    Ok(())
}

pub(crate) fn draw_parameter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    name: &str,
    metric: &str,
    points: &[SearchPoint],
    values: &ParamValues,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let below = under_title(root, title)?;
    let (legend_area, plot) = below.split_vertically(24);
    legend(&legend_area, false)?;
    let (y0, y1) = value_range(points);
    let colour = |p: &SearchPoint| if p.pruned { PRUNED } else { COMPLETE };
    match values {
        ParamValues::Numeric { values, log } => {
            let (lo, hi) = finite_min_max(values.iter().copied().filter(|v| !*log || *v > 0.0))
                .unwrap_or((0.0, 1.0));
            let pts = points
                .iter()
                .zip(values)
                .filter(|(p, v)| p.value.is_finite() && v.is_finite() && (!*log || **v > 0.0));
            if *log {
                let (lo, hi) = if hi > lo {
                    (lo, hi)
                } else {
                    (lo / 2.0, hi * 2.0)
                };
                let mut chart = ChartBuilder::on(&plot)
                    .margin(15)
                    .x_label_area_size(45)
                    .y_label_area_size(70)
                    .build_cartesian_2d((lo / 1.2..hi * 1.2).log_scale(), y0..y1)?;
                chart
                    .configure_mesh()
                    .x_desc(format!("{name} (log scale)"))
                    .y_desc(metric)
                    .label_style((FONT, 14))
                    .axis_desc_style((FONT, 16))
                    .draw()?;
                chart.draw_series(
                    pts.map(|(p, v)| Circle::new((*v, p.value), 4, colour(p).filled())),
                )?;
            } else {
                let (lo, hi) = non_degenerate(lo, hi);
                let pad = (hi - lo) * 0.05;
                let mut chart = ChartBuilder::on(&plot)
                    .margin(15)
                    .x_label_area_size(45)
                    .y_label_area_size(70)
                    .build_cartesian_2d(lo - pad..hi + pad, y0..y1)?;
                chart
                    .configure_mesh()
                    .x_desc(name)
                    .y_desc(metric)
                    .label_style((FONT, 14))
                    .axis_desc_style((FONT, 16))
                    .draw()?;
                chart.draw_series(
                    pts.map(|(p, v)| Circle::new((*v, p.value), 4, colour(p).filled())),
                )?;
            }
        }
        ParamValues::Categorical { names, values } => {
            let n = names.len().max(1);
            let mut chart = ChartBuilder::on(&plot)
                .margin(15)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d(-0.5f64..n as f64 - 0.5, y0..y1)?;
            chart
                .configure_mesh()
                .x_desc(name)
                .y_desc(metric)
                .x_labels(n)
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 {
                        names.get(i as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 16))
                .draw()?;
            // Points of one category spread a little sideways, so that they do not hide
            // each other.
            let mut seen = vec![0usize; n];
            let mut circles = Vec::new();
            for (p, &c) in points.iter().zip(values) {
                if !p.value.is_finite() || c >= n {
                    continue;
                }
                let k = seen[c];
                seen[c] += 1;
                let jitter = ((k % 7) as f64 - 3.0) * 0.04;
                circles.push(Circle::new(
                    (c as f64 + jitter, p.value),
                    4,
                    colour(p).filled(),
                ));
            }
            chart.draw_series(circles)?;
        }
    }
    Ok(())
}
