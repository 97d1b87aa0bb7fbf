//! Confusion matrix: true class down, predicted class across, each cell shaded by the share
//! of its true class and labelled with its count.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::{text_style, under_title, DrawResult};

/// Pixels per cell.
pub(crate) const CELL: u32 = 56;
/// Room for the class names on the left and at the top.
pub(crate) const LABELS: u32 = 120;

/// Chart size for `n` classes.
pub(crate) fn size(n: usize) -> (u32, u32) {
    let side = LABELS + CELL * n as u32 + 30;
    (side.max(400), side.max(400) + 40)
}

pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    classes: &[String],
    counts: &[Vec<u64>],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let area = under_title(root, title)?;
    let n = classes.len();
    let top = 60i32;
    let left = LABELS as i32;
    let cell = CELL as i32;
    for (t, row) in counts.iter().enumerate() {
        let total: u64 = row.iter().sum::<u64>().max(1);
        for (p, &c) in row.iter().enumerate() {
            let share = c as f64 / total as f64;
            let level = (255.0 * (1.0 - share)).round() as u8;
            let colour = if t == p {
                RGBColor(level, (level / 2).saturating_add(128), level)
            } else {
                RGBColor(255, level, level)
            };
            let (x, y) = (left + p as i32 * cell, top + t as i32 * cell);
            area.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                colour.filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                BLACK.mix(0.2),
            ))?;
            let ink = if share > 0.6 { &WHITE } else { &BLACK };
            area.draw(&Text::new(
                c.to_string(),
                (x + cell / 2, y + cell / 2),
                text_style(13.0, ink, HPos::Center, VPos::Center),
            ))?;
        }
    }
    for (i, name) in classes.iter().enumerate() {
        let short: String = name.chars().take(14).collect();
        area.draw(&Text::new(
            short.clone(),
            (left - 8, top + i as i32 * cell + cell / 2),
            text_style(12.0, &BLACK, HPos::Right, VPos::Center),
        ))?;
        area.draw(&Text::new(
            i.to_string(),
            (left + i as i32 * cell + cell / 2, top - 10),
            text_style(12.0, &BLACK, HPos::Center, VPos::Bottom),
        ))?;
    }
    area.draw(&Text::new(
        "true class (rows) / predicted class (columns, by index)",
        (left, top + n as i32 * cell + 12),
        text_style(12.0, &BLACK, HPos::Left, VPos::Top),
    ))?;
    Ok(())
}
