//! Bar chart of test accuracy per configuration.

use std::iter::once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::{
    clean_sd, finite_min_max, non_degenerate, text_style, text_width, under_title, Bar, DrawResult,
    FONT, GREY,
};

const MIN_WIDTH: u32 = 1000;
const MIN_HEIGHT: u32 = 600;
const LABEL_FONT: f64 = 13.0;
const LABEL_LINE: u32 = 16;
const VALUE_FONT: f64 = 13.0;
const N_FONT: f64 = 12.0;
/// Longest line of a wrapped bar label, in pixels.
const MAX_LINE: u32 = 150;
const MAX_LINES: usize = 4;
const MIN_SLOT: u32 = 84;
/// Horizontal room between neighbouring labels.
const SLOT_PAD: u32 = 14;
const Y_LABEL_AREA: u32 = 88;
const MARGIN: u32 = 15;
const MARGIN_RIGHT: u32 = 25;
/// Label area height at the minimum chart height (three label lines).
const BASE_LABEL_AREA: u32 = label_area(3);
/// Space for the baseline legend under the title.
const LEGEND_BAND: u32 = 24;

const BAR: RGBColor = RGBColor(76, 114, 176);
const BASELINE: RGBColor = RGBColor(221, 132, 82);
const NA: RGBColor = RGBColor(196, 78, 82);

const fn label_area(lines: u32) -> u32 {
    // gap, label lines, "n=…" line, gap
    10 + lines * LABEL_LINE + LABEL_LINE + 8
}

/// Picture size and wrapped labels, computed before the backend is created.
pub(crate) struct Layout {
    pub(crate) width: u32,
    pub(crate) height: u32,
    lines: Vec<Vec<String>>,
    label_area: u32,
}

impl Layout {
    pub(crate) fn new(bars: &[Bar]) -> Layout {
        // Fit the bars into the minimum width when their labels allow, else widen.
        let n = bars.len().max(1) as u32;
        let fixed = Y_LABEL_AREA + MARGIN + MARGIN_RIGHT;
        let even = (MIN_WIDTH - fixed) / n;
        let widest_token = bars
            .iter()
            .flat_map(|b| tokens(&b.label))
            .map(|t| text_width(&t, LABEL_FONT))
            .max()
            .unwrap_or(0);
        let slot = even
            .max(MIN_SLOT)
            .max(widest_token.min(MAX_LINE) + SLOT_PAD);
        let line_max = (slot - SLOT_PAD).min(MAX_LINE);
        let lines: Vec<Vec<String>> = bars.iter().map(|b| wrap(&b.label, line_max)).collect();
        let max_lines = lines.iter().map(Vec::len).max().unwrap_or(1).max(2) as u32;
        let label_area = label_area(max_lines);
        Layout {
            width: MIN_WIDTH.max(fixed + slot * n),
            height: MIN_HEIGHT + label_area.saturating_sub(BASE_LABEL_AREA),
            lines,
            label_area,
        }
    }
}

/// A label's unbreakable pieces: words, also split after `,` `;` `/` `_` (kept).
fn tokens(label: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    for ch in label.chars() {
        if ch == ' ' {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push(ch);
        if matches!(ch, ',' | ';' | '/' | '_') {
            tokens.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    tokens
}

/// Splits a label into lines of at most `max_px` pixels: at spaces, else after `,` `;`
/// `/` `_`, else anywhere; at most [`MAX_LINES`] lines (the last one ends in "…" if cut).
fn wrap(label: &str, max_px: u32) -> Vec<String> {
    let fits = |s: &str| text_width(s, LABEL_FONT) <= max_px;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for token in tokens(label) {
        let joined = if line.is_empty() || line.ends_with([',', ';', '/', '_']) {
            format!("{line}{token}")
        } else {
            format!("{line} {token}")
        };
        if fits(&joined) {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A token too long on its own is cut anywhere.
        for ch in token.chars() {
            let mut next = line.clone();
            next.push(ch);
            if !line.is_empty() && !fits(&next) {
                lines.push(std::mem::take(&mut line));
                line.push(ch);
            } else {
                line = next;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    if lines.len() > MAX_LINES {
        lines.truncate(MAX_LINES);
        let last = &mut lines[MAX_LINES - 1];
        while !last.is_empty() && !fits(&format!("{last}…")) {
            last.pop();
        }
        last.push('…');
    }
    lines
}

/// Decimals for value labels: enough to tell the bars apart.
fn decimals(span: f64, max: f64) -> usize {
    let by_span = if span > 0.0 {
        (2.0 - span.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        3
    };
    if max.abs() <= 1.0 {
        by_span.max(3)
    } else {
        by_span
    }
}

pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    bars: &[Bar],
    layout: &Layout,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let below_title = under_title(root, title)?;
    let (legend_area, plot_area) = below_title.split_vertically(LEGEND_BAND);

    let finite: Vec<&Bar> = bars.iter().filter(|b| b.mean.is_finite()).collect();
    let range = finite_min_max(
        finite
            .iter()
            .flat_map(|b| [b.mean - clean_sd(b.sd), b.mean + clean_sd(b.sd)]),
    );
    let (data_lo, data_hi) = range.unwrap_or((0.0, 1.0));
    let (data_lo, data_hi) = non_degenerate(data_lo, data_hi);
    let span = data_hi - data_lo;
    let mut y0 = data_lo - 0.12 * span;
    if data_lo >= 0.0 {
        y0 = y0.max(0.0);
    }
    let y1 = data_hi + 0.22 * span;
    let max_mean = finite_min_max(finite.iter().map(|b| b.mean)).map_or(1.0, |(_, hi)| hi);
    let prec = decimals(span, max_mean);

    let n = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(MARGIN)
        .margin_right(MARGIN_RIGHT)
        .margin_top(4)
        .margin_bottom(MARGIN)
        .x_label_area_size(layout.label_area)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0f64..n, y0..y1)?;

    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(10)
        .y_desc("test accuracy")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 17))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .draw()?;

    let value_style = text_style(VALUE_FONT, &BLACK, HPos::Center, VPos::Bottom);
    let sd_style = text_style(VALUE_FONT - 1.0, &GREY, HPos::Center, VPos::Bottom);
    let na_style = text_style(VALUE_FONT, &NA, HPos::Center, VPos::Bottom);

    for (i, bar) in bars.iter().enumerate() {
        let x = i as f64;
        let centre = x + 0.5;
        if !bar.mean.is_finite() {
            chart.draw_series(once(
                EmptyElement::at((centre, y0)) + Text::new("n/a", (0, -6), na_style.clone()),
            ))?;
            continue;
        }
        let colour = if bar.highlight { BASELINE } else { BAR };
        chart.draw_series(once(Rectangle::new(
            [(x + 0.18, y0), (x + 0.82, bar.mean)],
            colour.filled(),
        )))?;
        let sd = clean_sd(bar.sd);
        if sd > 0.0 {
            let style = BLACK.stroke_width(1);
            let (l, r) = (centre - 0.07, centre + 0.07);
            let (lo, hi) = (bar.mean - sd, bar.mean + sd);
            chart.draw_series([
                PathElement::new(vec![(centre, lo), (centre, hi)], style),
                PathElement::new(vec![(l, lo), (r, lo)], style),
                PathElement::new(vec![(l, hi), (r, hi)], style),
            ])?;
        }
        // Mean on top, ±sd just above the whisker (or the bar when the sd is not finite).
        let top = (centre, bar.mean + sd);
        let mut mean_offset = -6;
        if bar.sd.is_finite() {
            chart.draw_series(once(
                EmptyElement::at(top)
                    + Text::new(format!("±{:.*}", prec, sd), (0, -6), sd_style.clone()),
            ))?;
            mean_offset -= LABEL_LINE as i32;
        }
        chart.draw_series(once(
            EmptyElement::at(top)
                + Text::new(
                    format!("{:.*}", prec, bar.mean),
                    (0, mean_offset),
                    value_style.clone(),
                ),
        ))?;
    }

    // Labels under the bars, in pixels on the root area (whose origin is the picture's).
    let label_style = text_style(LABEL_FONT, &BLACK, HPos::Center, VPos::Top);
    let n_style = text_style(N_FONT, &GREY, HPos::Center, VPos::Top);
    for (i, (bar, lines)) in bars.iter().zip(&layout.lines).enumerate() {
        let (cx, base) = chart.backend_coord(&(i as f64 + 0.5, y0));
        let mut y = base + 10;
        for line in lines {
            root.draw(&Text::new(line.clone(), (cx, y), label_style.clone()))?;
            y += LABEL_LINE as i32;
        }
        root.draw(&Text::new(
            format!("n={}", bar.n),
            (cx, y + 1),
            n_style.clone(),
        ))?;
    }

    if bars.is_empty() {
        let note = text_style(16.0, &GREY, HPos::Center, VPos::Center);
        chart.draw_series(once(Text::new(
            "no configurations to plot",
            (0.5, (y0 + y1) / 2.0),
            note,
        )))?;
    }

    if bars.iter().any(|b| b.highlight) {
        draw_baseline_key(&legend_area)?;
    }
    Ok(())
}

/// "■ baseline  ■ other configurations" right-aligned under the title.
fn draw_baseline_key<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    let style = text_style(14.0, &BLACK, HPos::Left, VPos::Center);
    let items = [(BASELINE, "baseline"), (BAR, "other configurations")];
    let chip = 14i32;
    let gap = 7i32;
    let spacing = 22i32;
    let total: i32 = items
        .iter()
        .map(|(_, t)| chip + gap + text_width(t, 14.0) as i32)
        .sum::<i32>()
        + spacing * (items.len() as i32 - 1);
    let mut x = w as i32 - MARGIN_RIGHT as i32 - total;
    let y = h as i32 / 2;
    for (colour, text) in items {
        area.draw(&Rectangle::new(
            [(x, y - chip / 2), (x + chip, y + chip / 2)],
            colour.filled(),
        ))?;
        area.draw(&Text::new(text, (x + chip + gap, y), style.clone()))?;
        x += chip + gap + text_width(text, 14.0) as i32 + spacing;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_short_and_long_labels() {
        crate::ensure_fonts().unwrap();
        assert_eq!(wrap("dropout=0.5", MAX_LINE), vec!["dropout=0.5"]);
        let w = wrap("adam lr=0.001 dropout=0.5 width=512 depth=3", MAX_LINE);
        assert!(w.len() >= 2, "{w:?}");
        assert!(w.iter().all(|l| text_width(l, LABEL_FONT) <= MAX_LINE));
        let long = wrap(&"x".repeat(200), MAX_LINE);
        assert_eq!(long.len(), MAX_LINES);
        assert!(long[MAX_LINES - 1].ends_with('…'));
        assert_eq!(wrap("", MAX_LINE), vec![""]);
    }

    #[test]
    fn width_grows_with_count() {
        let bars: Vec<Bar> = (0..40)
            .map(|i| Bar {
                label: format!("adam lr=0.00{i}"),
                mean: 0.9,
                sd: 0.01,
                n: 3,
                highlight: false,
            })
            .collect();
        assert_eq!(Layout::new(&bars[..3]).width, MIN_WIDTH);
        assert!(Layout::new(&bars).width > MIN_WIDTH);
    }

    #[test]
    fn decimals_follow_spread() {
        assert_eq!(decimals(0.05, 0.98), 4);
        assert_eq!(decimals(0.4, 0.98), 3);
        assert_eq!(decimals(5.0, 97.0), 2);
    }
}
