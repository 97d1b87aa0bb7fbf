//! Learning-curve chart: loss on the left axis, accuracy on the right axis.

use std::iter::once;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::{
    clean_sd, finite_min_max, non_degenerate, text_style, text_width, under_title, CurveSeries,
    DrawResult, FONT, GREY, PALETTE,
};

const WIDTH: u32 = 1000;
const MIN_HEIGHT: u32 = 600;
/// Height of everything but the legend when the chart is at its minimum height.
const HEIGHT_WITHOUT_LEGEND: u32 = 510;
const LEGEND_FONT: f64 = 14.0;
const LEGEND_ROW: u32 = 22;
const LEGEND_PAD: u32 = 8;
const LEGEND_GAP: u32 = 26;
const SWATCH_LINE: u32 = 32;
const SWATCH_CHIP: u32 = 14;
const SWATCH_GAP: u32 = 7;
const DASH: u32 = 8;
const DASH_GAP: u32 = 5;
const BAND_ALPHA: f64 = 0.15;

/// Colour of series `i`; the baseline is black so it stands out from the palette.
fn colour(series: &[CurveSeries], i: usize) -> RGBColor {
    if series[i].highlight {
        return BLACK;
    }
    let rank = series[..i].iter().filter(|s| !s.highlight).count();
    PALETTE[rank % PALETTE.len()]
}

fn stroke(s: &CurveSeries) -> u32 {
    if s.highlight {
        3
    } else {
        2
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Swatch {
    Solid,
    Dashed,
    Chip,
}

#[derive(Debug, Clone)]
struct LegendItem {
    text: String,
    swatch: Swatch,
    colour: RGBColor,
    /// Horizontal offset within its row, and the row.
    x: u32,
    row: u32,
}

impl LegendItem {
    fn swatch_width(&self) -> u32 {
        match self.swatch {
            Swatch::Solid | Swatch::Dashed => SWATCH_LINE,
            Swatch::Chip => SWATCH_CHIP,
        }
    }

    fn width(&self) -> u32 {
        self.swatch_width() + SWATCH_GAP + text_width(&self.text, LEGEND_FONT)
    }
}

/// Picture size and legend placement, computed before the backend is created.
pub(crate) struct Layout {
    pub(crate) width: u32,
    pub(crate) height: u32,
    legend_height: u32,
    legend: Vec<LegendItem>,
    /// Width of each legend row, for centring.
    row_widths: Vec<u32>,
}

impl Layout {
    pub(crate) fn new(series: &[CurveSeries]) -> Layout {
        let key = [
            ("training loss (solid, left axis)", Swatch::Solid),
            ("validation accuracy (dashed, right axis)", Swatch::Dashed),
        ];
        let mut items: Vec<LegendItem> = key
            .iter()
            .map(|&(text, swatch)| LegendItem {
                text: text.to_string(),
                swatch,
                colour: GREY,
                x: 0,
                row: 0,
            })
            .collect();
        let first_series = items.len();
        for (i, s) in series.iter().enumerate() {
            let mut text = s.label.clone();
            if s.highlight && !text.to_lowercase().contains("baseline") {
                text.push_str(" (baseline)");
            }
            items.push(LegendItem {
                text,
                swatch: Swatch::Chip,
                colour: colour(series, i),
                x: 0,
                row: 0,
            });
        }

        // Flow layout: the key on its own row, then the series wrapped to the width.
        let max_row = WIDTH - 2 * LEGEND_PAD;
        let mut row_widths = vec![0u32];
        for (idx, item) in items.iter_mut().enumerate() {
            let w = item.width();
            let row = row_widths.len() - 1;
            let cur = row_widths[row];
            let starts_series = idx == first_series;
            if cur > 0 && (starts_series || cur + LEGEND_GAP + w > max_row) {
                row_widths.push(w);
                item.row = row as u32 + 1;
                item.x = 0;
            } else {
                let x = if cur == 0 { 0 } else { cur + LEGEND_GAP };
                item.x = x;
                item.row = row as u32;
                row_widths[row] = x + w;
            }
        }
        let rows = row_widths.len() as u32;
        let legend_height = 2 * LEGEND_PAD + rows * LEGEND_ROW;
        Layout {
            width: WIDTH,
            height: MIN_HEIGHT.max(HEIGHT_WITHOUT_LEGEND + legend_height),
            legend_height,
            legend: items,
            row_widths,
        }
    }
}

/// One contiguous run of finite points: (epoch, mean, sd ≥ 0).
type Segment = Vec<(f64, f64, f64)>;

/// Splits a curve at non-finite means; a non-finite SD counts as 0.
fn segments(epochs: &[usize], values: &[(f64, f64)]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut cur = Segment::new();
    for (&e, &(m, s)) in epochs.iter().zip(values) {
        if m.is_finite() {
            cur.push((e as f64, m, clean_sd(s)));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The loss axis range, and whether it clips outliers (diverging runs) at the top.
fn loss_range(all: &[Vec<Segment>]) -> (f64, f64, bool) {
    let points = || all.iter().flatten().flatten();
    let Some((lo, mut hi)) = finite_min_max(points().flat_map(|p| [p.1 - p.2, p.1 + p.2])) else {
        return (0.0, 1.0, false);
    };
    let lo = if points().all(|p| p.1 >= 0.0) {
        lo.max(0.0)
    } else {
        lo
    };
    // Cap at twice the (lower) median of the per-series maxima, so that one diverging run
    // does not flatten every other curve against the axis.
    let mut maxima: Vec<f64> = all
        .iter()
        .filter_map(|segs| finite_min_max(segs.iter().flatten().map(|p| p.1 + p.2)))
        .map(|(_, hi)| hi)
        .collect();
    maxima.sort_by(f64::total_cmp);
    let mut clipped = false;
    if maxima.len() >= 2 {
        let median = maxima[(maxima.len() - 1) / 2];
        let cap = lo + 2.0 * (median - lo);
        if cap > lo && hi > cap {
            hi = cap;
            clipped = true;
        }
    }
    let (lo, hi) = non_degenerate(lo, hi);
    let margin = 0.05 * (hi - lo);
    let lo_m = if lo >= 0.0 {
        (lo - margin).max(0.0)
    } else {
        lo - margin
    };
    (lo_m, hi + if clipped { 0.0 } else { margin }, clipped)
}

/// The accuracy axis range: the data with a margin, kept within [0, 1] when the data is.
fn acc_range(all: &[Vec<Segment>]) -> (f64, f64) {
    let points = || all.iter().flatten().flatten();
    let Some((lo, hi)) = finite_min_max(points().flat_map(|p| [p.1 - p.2, p.1 + p.2])) else {
        return (0.0, 1.0);
    };
    let (lo, hi) = non_degenerate(lo, hi);
    let margin = 0.05 * (hi - lo);
    let (mut lo_m, mut hi_m) = (lo - margin, hi + margin);
    if points().all(|p| (0.0..=1.0).contains(&p.1)) {
        lo_m = lo_m.max(0.0);
        hi_m = hi_m.min(1.0);
        if hi_m - lo_m < 1e-9 {
            (lo_m, hi_m) = (lo_m.min(0.9), 1.0);
        }
    }
    (lo_m, hi_m)
}

/// Epoch axis range and the number of x labels to ask for. Plotters steps f64 ticks by
/// 1, 2 or 5 × 10^k; asking for at most `span + 1` labels keeps the step ≥ 1, so every tick
/// is a whole epoch.
fn epoch_axis(series: &[CurveSeries]) -> (f64, f64, usize) {
    let (mut x0, mut x1) = series
        .iter()
        .flat_map(|s| s.epochs.iter().copied())
        .fold((usize::MAX, 0), |(lo, hi), e| (lo.min(e), hi.max(e)));
    if x0 > x1 {
        (x0, x1) = (0, 1);
    }
    if x0 == x1 {
        (x0, x1) = (x0.saturating_sub(1), x1 + 1);
    }
    (x0 as f64, x1 as f64, (x1 - x0 + 1).min(12))
}

/// Keeps the part of a polygon on one side of a horizontal line (Sutherland–Hodgman).
fn clip_polygon_half(poly: &[(f64, f64)], y: f64, keep_below: bool) -> Vec<(f64, f64)> {
    let inside = |p: &(f64, f64)| if keep_below { p.1 <= y } else { p.1 >= y };
    let cross = |a: &(f64, f64), b: &(f64, f64)| {
        let t = (y - a.1) / (b.1 - a.1);
        (a.0 + t * (b.0 - a.0), y)
    };
    let mut out = Vec::with_capacity(poly.len() + 4);
    for (i, cur) in poly.iter().enumerate() {
        let prev = &poly[(i + poly.len() - 1) % poly.len()];
        match (inside(prev), inside(cur)) {
            (true, true) => out.push(*cur),
            (true, false) => out.push(cross(prev, cur)),
            (false, true) => {
                out.push(cross(prev, cur));
                out.push(*cur);
            }
            (false, false) => {}
        }
    }
    out
}

/// Clips a polygon to the band lo ≤ y ≤ hi.
fn clip_polygon(poly: &[(f64, f64)], lo: f64, hi: f64) -> Vec<(f64, f64)> {
    clip_polygon_half(&clip_polygon_half(poly, hi, true), lo, false)
}

/// Clips a polyline to the band lo ≤ y ≤ hi; the parts inside, each a polyline.
fn clip_polyline(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let inside = |p: &(f64, f64)| p.1 >= lo && p.1 <= hi;
    // The point where segment a→b crosses the band's edge (the one on b's side if b is
    // outside, else the one on a's side).
    let cross = |a: &(f64, f64), b: &(f64, f64), toward_b: bool| {
        let outer = if toward_b { b } else { a };
        let y = if outer.1 > hi { hi } else { lo };
        let t = (y - a.1) / (b.1 - a.1);
        (a.0 + t * (b.0 - a.0), y)
    };
    let mut runs = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let prev = if i > 0 { Some(&points[i - 1]) } else { None };
        match (prev, inside(p)) {
            (_, true) => {
                if let Some(a) = prev.filter(|a| !inside(a)) {
                    run.push(cross(a, p, false));
                }
                run.push(*p);
            }
            (Some(a), false) => {
                if inside(a) {
                    run.push(cross(a, p, true));
                    runs.push(std::mem::take(&mut run));
                } else if (a.1 > hi && p.1 < lo) || (a.1 < lo && p.1 > hi) {
                    // Passes right through the band.
                    runs.push(vec![cross(p, a, true), cross(a, p, true)]);
                }
            }
            (None, false) => {}
        }
    }
    if run.len() >= 2 {
        runs.push(run);
    }
    runs.retain(|r| r.len() >= 2);
    runs
}

/// Upper band edge forward, lower edge backward: the ±SD area as one polygon.
fn band(seg: &Segment) -> Vec<(f64, f64)> {
    seg.iter()
        .map(|p| (p.0, p.1 + p.2))
        .chain(seg.iter().rev().map(|p| (p.0, p.1 - p.2)))
        .collect()
}

pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    series: &[CurveSeries],
    layout: &Layout,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (top, legend_area) = root.split_vertically(layout.height - layout.legend_height);
    let plot_area = under_title(&top, title)?;

    let loss: Vec<Vec<Segment>> = series
        .iter()
        .map(|s| segments(&s.epochs, &s.train_loss))
        .collect();
    let acc: Vec<Vec<Segment>> = series
        .iter()
        .map(|s| segments(&s.epochs, &s.val_acc))
        .collect();

    let (x0, x1, x_labels) = epoch_axis(series);
    let (l0, l1, clipped) = loss_range(&loss);
    let (a0, a1) = acc_range(&acc);

    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(10)
        .margin_right(10)
        .margin_top(5)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .right_y_label_area_size(82)
        .build_cartesian_2d(x0..x1, l0..l1)?
        .set_secondary_coord(x0..x1, a0..a1);

    let epoch_label = |v: &f64| format!("{v:.0}");
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("training loss")
        .x_label_formatter(&epoch_label)
        .x_labels(x_labels)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 17))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .y_labels(10)
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("validation accuracy")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 17))
        .y_labels(10)
        .draw()?;

    // Baseline last so it is on top.
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by_key(|&i| series[i].highlight);

    // Bands first, under every line.
    for &i in &order {
        let fill = colour(series, i).mix(BAND_ALPHA).filled();
        for seg in loss[i].iter().filter(|s| s.len() >= 2) {
            let poly = clip_polygon(&band(seg), l0, l1);
            if poly.len() >= 3 {
                chart.draw_series(once(Polygon::new(poly, fill)))?;
            }
        }
        for seg in acc[i].iter().filter(|s| s.len() >= 2) {
            let poly = clip_polygon(&band(seg), a0, a1);
            if poly.len() >= 3 {
                chart.draw_secondary_series(once(Polygon::new(poly, fill)))?;
            }
        }
    }

    let in_range = |v: f64, lo: f64, hi: f64| v >= lo && v <= hi;
    let cap_w = (x1 - x0) * 0.008;
    for &i in &order {
        let c = colour(series, i);
        let line = c.stroke_width(stroke(&series[i]));
        for seg in &loss[i] {
            if seg.len() >= 2 {
                let means: Vec<(f64, f64)> = seg.iter().map(|p| (p.0, p.1)).collect();
                for run in clip_polyline(&means, l0, l1) {
                    chart.draw_series(LineSeries::new(run, line))?;
                }
            } else {
                for &(e, m, s) in seg.iter().filter(|p| in_range(p.1, l0, l1)) {
                    if s > 0.0 {
                        chart.draw_series(whisker(e, m - s, m + s, cap_w, c))?;
                    }
                    chart.draw_series(once(Circle::new((e, m), 4, c.filled())))?;
                }
            }
        }
        for seg in &acc[i] {
            if seg.len() >= 2 {
                let means: Vec<(f64, f64)> = seg.iter().map(|p| (p.0, p.1)).collect();
                for run in clip_polyline(&means, a0, a1) {
                    chart
                        .draw_secondary_series(DashedLineSeries::new(run, DASH, DASH_GAP, line))?;
                }
            } else {
                for &(e, m, s) in seg.iter().filter(|p| in_range(p.1, a0, a1)) {
                    if s > 0.0 {
                        chart.draw_secondary_series(whisker(e, m - s, m + s, cap_w, c))?;
                    }
                    chart.draw_secondary_series(once(Circle::new((e, m), 4, WHITE.filled())))?;
                    chart.draw_secondary_series(once(Circle::new((e, m), 4, c.stroke_width(2))))?;
                }
            }
        }
    }

    let no_data = loss.iter().chain(&acc).all(|segs| segs.is_empty());
    let note_style = text_style(13.0, &GREY, HPos::Left, VPos::Top);
    let note = if no_data {
        Some("no finite data to plot".to_string())
    } else if clipped {
        Some(format!("loss axis clipped at {}", short(l1)))
    } else {
        None
    };
    if let Some(note) = note {
        chart.draw_series(once(
            EmptyElement::at((x0, l1)) + Text::new(note, (8, 6), note_style.clone()),
        ))?;
    }

    draw_legend(&legend_area, layout)
}

/// A vertical ±SD whisker with caps (for single-epoch points, which have no band).
fn whisker(x: f64, lo: f64, hi: f64, w: f64, c: RGBColor) -> Vec<PathElement<(f64, f64)>> {
    let style = c.stroke_width(1);
    vec![
        PathElement::new(vec![(x, lo), (x, hi)], style),
        PathElement::new(vec![(x - w, lo), (x + w, lo)], style),
        PathElement::new(vec![(x - w, hi), (x + w, hi)], style),
    ]
}

/// A compact rendering of an axis value for notes.
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, layout: &Layout) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (w, _) = area.dim_in_pixel();
    let legend_style = text_style(LEGEND_FONT, &BLACK, HPos::Left, VPos::Center);
    for item in &layout.legend {
        let row_w = layout.row_widths[item.row as usize];
        let left = (w.saturating_sub(row_w) / 2) as i32 + item.x as i32;
        let y = (LEGEND_PAD + item.row * LEGEND_ROW + LEGEND_ROW / 2) as i32;
        let sw = item.swatch_width() as i32;
        match item.swatch {
            Swatch::Solid => {
                area.draw(&PathElement::new(
                    vec![(left, y), (left + sw, y)],
                    item.colour.stroke_width(2),
                ))?;
            }
            Swatch::Dashed => {
                area.draw(&DashedPathElement::new(
                    vec![(left, y), (left + sw, y)],
                    DASH,
                    DASH_GAP,
                    item.colour.stroke_width(2),
                ))?;
            }
            Swatch::Chip => {
                let half = (SWATCH_CHIP / 2) as i32;
                area.draw(&Rectangle::new(
                    [(left, y - half), (left + sw, y + half)],
                    item.colour.filled(),
                ))?;
            }
        }
        area.draw(&Text::new(
            item.text.clone(),
            (left + sw + SWATCH_GAP as i32, y),
            legend_style.clone(),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, n: usize, highlight: bool) -> CurveSeries {
        CurveSeries {
            label: label.into(),
            epochs: (1..=n).collect(),
            train_loss: (0..n).map(|i| (1.0 / (i as f64 + 1.0), 0.05)).collect(),
            val_acc: (0..n).map(|i| (0.5 + 0.04 * i as f64, 0.02)).collect(),
            highlight,
        }
    }

    #[test]
    fn segments_split_at_nan() {
        let segs = segments(
            &[1, 2, 3, 4, 5],
            &[
                (1.0, 0.1),
                (f64::NAN, 0.1),
                (0.5, f64::NAN),
                (0.4, 0.1),
                (f64::INFINITY, 0.0),
            ],
        );
        assert_eq!(
            segs,
            vec![
                vec![(1.0, 1.0, 0.1)],
                vec![(3.0, 0.5, 0.0), (4.0, 0.4, 0.1)]
            ]
        );
    }

    #[test]
    fn loss_axis_clips_a_diverging_run() {
        let mut bad = series("lr=10", 5, false);
        bad.train_loss = vec![
            (2.0, 0.0),
            (50.0, 0.0),
            (1e6, 0.0),
            (f64::NAN, 0.0),
            (0.0, 0.0),
        ];
        let all: Vec<Vec<Segment>> = [series("a", 5, false), series("b", 5, false), bad]
            .iter()
            .map(|s| segments(&s.epochs, &s.train_loss))
            .collect();
        let (lo, hi, clipped) = loss_range(&all);
        assert!(clipped);
        assert_eq!(lo, 0.0);
        assert!(hi < 5.0, "hi {hi}");
    }

    #[test]
    fn accuracy_axis_stays_within_unit_interval() {
        let all = vec![segments(&[1, 2], &[(0.99, 0.02), (0.995, 0.01)])];
        let (lo, hi) = acc_range(&all);
        assert!(lo > 0.9 && lo < 0.99 && hi == 1.0, "{lo} {hi}");
    }

    #[test]
    fn clipping_lines_and_polygons() {
        // Up through the cap and back down: two runs ending/starting on the cap.
        let runs = clip_polyline(&[(0.0, 1.0), (1.0, 3.0), (2.0, 1.0)], 0.0, 2.0);
        assert_eq!(
            runs,
            vec![vec![(0.0, 1.0), (0.5, 2.0)], vec![(1.5, 2.0), (2.0, 1.0)]]
        );
        // Entirely inside: unchanged; entirely above: nothing.
        let inside = [(0.0, 1.0), (1.0, 1.5)];
        assert_eq!(clip_polyline(&inside, 0.0, 2.0), vec![inside.to_vec()]);
        assert!(clip_polyline(&[(0.0, 5.0), (1.0, 6.0)], 0.0, 2.0).is_empty());
        // Straight through the band from above to below.
        let through = clip_polyline(&[(0.0, 4.0), (4.0, -4.0)], -1.0, 1.0);
        assert_eq!(through, vec![vec![(1.5, 1.0), (2.5, -1.0)]]);

        let square = [(0.0, 0.0), (2.0, 0.0), (2.0, 4.0), (0.0, 4.0)];
        let clipped = clip_polygon(&square, 1.0, 3.0);
        assert_eq!(clipped.len(), 4);
        assert!(clipped.iter().all(|p| (1.0..=3.0).contains(&p.1)));
        assert!(clip_polygon(&square, 5.0, 6.0).is_empty());
    }

    #[test]
    fn epoch_ticks_are_whole_and_few() {
        let s = |n| vec![series("a", n, false)];
        assert_eq!(epoch_axis(&s(1)), (0.0, 2.0, 3));
        assert_eq!(epoch_axis(&s(5)), (1.0, 5.0, 5));
        assert_eq!(epoch_axis(&s(500)), (1.0, 500.0, 12));
    }

    #[test]
    fn legend_grows_with_series() {
        let few: Vec<_> = (0..3).map(|i| series(&format!("s{i}"), 3, false)).collect();
        assert_eq!(Layout::new(&few).height, MIN_HEIGHT);
        let many: Vec<_> = (0..40)
            .map(|i| series(&format!("adam lr=0.00{i} dropout=0.5"), 3, i == 0))
            .collect();
        let layout = Layout::new(&many);
        assert!(layout.height > MIN_HEIGHT);
        assert!(layout
            .row_widths
            .iter()
            .all(|&w| w <= WIDTH - 2 * LEGEND_PAD));
        assert!(layout.legend[2].text.ends_with("(baseline)"));
    }
}
