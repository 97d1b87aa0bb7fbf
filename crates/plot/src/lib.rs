//! Charts for fcnsweep reports: learning curves (training loss and validation accuracy per
//! epoch, mean across seeds with a ±SD band) and bar charts of test accuracy per
//! configuration, written as PNG or SVG.
//!
//! Text is rendered with DejaVu Sans, embedded in the library (see `assets/`), so charts
//! render identically on machines without system fonts or fontconfig. The font is
//! registered with plotters on first use.
//!
//! Non-finite values (diverged runs) are skipped, never drawn and never a panic.

use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontDesc, FontFamily, FontStyle};

mod bars;
mod confusion;
mod curves;
mod search;

pub use search::{ParamValues, SearchPoint};

/// One line of a learning-curve chart: a configuration's per-epoch mean across seeds with
/// its SD.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CurveSeries {
    /// Name shown in the legend.
    pub label: String,
    /// Epoch numbers, ascending; `train_loss[i]` and `val_acc[i]` belong to `epochs[i]`.
    pub epochs: Vec<usize>,
    /// Training loss per epoch as (mean, sd) across seeds.
    pub train_loss: Vec<(f64, f64)>,
    /// Validation accuracy per epoch as (mean, sd) across seeds.
    pub val_acc: Vec<(f64, f64)>,
    /// Whether this is the baseline: drawn thicker, on top, and marked in the legend.
    pub highlight: bool,
}

/// One bar: a configuration's mean test accuracy with SD error bar.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bar {
    /// Configuration name shown under the bar (wrapped when long).
    pub label: String,
    /// Mean test accuracy across seeds.
    pub mean: f64,
    /// Standard deviation across seeds (drawn as an error bar of ±sd).
    pub sd: f64,
    /// Number of seeds the mean is over (shown under the label).
    pub n: usize,
    /// Whether this is the baseline: drawn in a distinct colour.
    pub highlight: bool,
}

/// Output file format of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Raster image, PNG.
    Png,
    /// Vector image, SVG (text is kept as text, font family `sans-serif`).
    Svg,
}

impl Format {
    /// The usual file extension for this format, without the dot: `"png"` or `"svg"`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }

    /// The format for a file extension (`"png"`, `"svg"`, any case), if known.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "png" => Some(Format::Png),
            "svg" => Some(Format::Svg),
            _ => None,
        }
    }
}

/// A chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write chart {}: {message}", path.display())]
pub struct ChartError {
    /// The output file the chart was meant for.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl ChartError {
    fn new(path: &Path, message: impl std::fmt::Display) -> Self {
        ChartError {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

/// Draws one chart into `path` as PNG or SVG and evaluates to `Result<(), ChartError>`:
/// the embedded fonts are registered, then `$draw` (an expression over the drawing area
/// `$root`) is expanded once per backend, because the drawing code is generic over it; the
/// area is cleared to white first and presented (written) when drawing succeeded. PNG charts
/// are drawn into an RGB buffer and encoded by [`write_png`].
macro_rules! render {
    ($path:expr, $format:expr, $size:expr, |$root:ident| $draw:expr) => {{
        let path: &Path = $path;
        let drawn: DrawResult = ensure_fonts()
            .map_err(Into::into)
            .and_then(|()| match $format {
                Format::Png => {
                    let mut pixels = vec![0u8; $size.0 as usize * $size.1 as usize * 3];
                    {
                        let $root =
                            BitMapBackend::with_buffer(&mut pixels, $size).into_drawing_area();
                        clear(&$root)
                            .and_then(|()| $draw)
                            .and_then(|()| present(&$root))
                    }
                    .and_then(|()| write_png(path, &pixels, $size))
                }
                Format::Svg => {
                    let $root = SVGBackend::new(path, $size).into_drawing_area();
                    clear(&$root)
                        .and_then(|()| $draw)
                        .and_then(|()| present(&$root))
                }
            });
        drawn.map_err(|e| ChartError::new(path, e))
    }};
}

/// Learning curves: training loss (solid lines, left y axis) and validation accuracy
/// (dashed lines, right y axis) per epoch, mean across seeds with a translucent ±SD band,
/// one colour per series, legend naming each series below the plot; title given.
///
/// The chart is 1000×600 px (taller when the legend needs more than three rows). Loss
/// values far above the bulk of the data (diverging runs) are clipped at the top of the
/// loss axis, with a note in the plot; non-finite points are skipped.
pub fn learning_curves(
    path: &Path,
    format: Format,
    title: &str,
    series: &[CurveSeries],
) -> Result<(), ChartError> {
    let layout = curves::Layout::new(series);
    let size = (layout.width, layout.height);
    render!(path, format, size, |root| curves::draw(
        &root, title, series, &layout
    ))
}

/// Bar chart of test accuracy per configuration, in the caller's order, with ±SD error
/// bars, the highlighted bar (baseline) in a distinct colour, value labels (mean and ±sd)
/// above each bar and the seed count under each label; title given.
///
/// The y axis is zoomed to the data (it does not start at 0) so differences are visible.
/// The chart is at least 1000×600 px; it grows wider with the number of bars and taller
/// when labels wrap onto more lines. A bar with a non-finite mean is shown as "n/a".
pub fn accuracy_bars(
    path: &Path,
    format: Format,
    title: &str,
    bars: &[Bar],
) -> Result<(), ChartError> {
    // The layout measures the labels, so the embedded fonts must be registered first (else
    // the first chart of a process is laid out with the fallback width estimate).
    ensure_fonts().map_err(|e| ChartError::new(path, e))?;
    let layout = bars::Layout::new(bars);
    let size = (layout.width, layout.height);
    render!(path, format, size, |root| bars::draw(
        &root, title, bars, &layout
    ))
}

/// A confusion matrix of a classifier: `counts[true][predicted]`, classes named by
/// `classes` (rows labelled by name, columns by index), cells shaded by the share of their
/// row; title given.
pub fn confusion_matrix(
    path: &Path,
    format: Format,
    title: &str,
    classes: &[String],
    counts: &[Vec<u64>],
) -> Result<(), ChartError> {
    let size = confusion::size(classes.len());
    render!(path, format, size, |root| confusion::draw(
        &root, title, classes, counts
    ))
}

/// The optimization history of a search: each trial's objective (`metric`; pruned trials
/// grey, at their last value) against the epochs the whole search had trained when it ended,
/// and the best complete value so far as a step line (`maximize` says which way is better).
/// 1000×600 px; non-finite values are skipped.
pub fn optimization_history(
    path: &Path,
    format: Format,
    title: &str,
    metric: &str,
    maximize: bool,
    points: &[SearchPoint],
) -> Result<(), ChartError> {
    render!(path, format, search::SIZE, |root| search::draw_history(
        &root, title, metric, maximize, points
    ))
}

/// One searched parameter against the objective: a point per trial (pruned ones grey), the
/// parameter on the x axis (log scale, or one slot per category), `metric` on the y axis.
/// `values` holds one value per point, in the same order. 1000×600 px.
pub fn parameter_chart(
    path: &Path,
    format: Format,
    title: &str,
    name: &str,
    metric: &str,
    points: &[SearchPoint],
    values: &ParamValues,
) -> Result<(), ChartError> {
    render!(path, format, search::SIZE, |root| search::draw_parameter(
        &root, title, name, metric, points, values
    ))
}

/// Error type of the drawing code (plotters errors are generic over the backend).
type DrawResult = Result<(), Box<dyn Error>>;

/// Fills a chart's whole area with its white background.
fn clear<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    Ok(())
}

/// Writes a drawn chart out.
fn present<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.present()?;
    Ok(())
}

/// Writes a drawn RGB buffer of `width × height` pixels as the PNG file `path`, encoded as
/// plotters' own PNG output was (the `image` crate's defaults: fast compression, adaptive
/// filtering), without pulling in `image` and its other codecs.
fn write_png(path: &Path, pixels: &[u8], (width, height): (u32, u32)) -> DrawResult {
    let mut file = BufWriter::new(File::create(path)?);
    let mut encoder = png::Encoder::new(&mut file, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::FilterType::Sub);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    file.flush()?;
    Ok(())
}

/// The part of `area` below a chart title (24 px, 8 px from the top), with the title drawn.
fn under_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    Ok(area
        .margin(8, 0, 0, 0)
        .titled(title, (FONT, 24).into_font().color(&BLACK))?)
}

/// A text style of the chart font: `size` px in `colour`, anchored at (`h`, `v`).
fn text_style(size: f64, colour: &RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(colour).pos(Pos::new(h, v))
}

/// The embedded font: DejaVu Sans 2.37 (Bitstream Vera / Arev licence, see `assets/`).
static FONT_TTF: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Font family used for all text.
const FONT: &str = "sans-serif";

/// Registers the embedded font with plotters (once per process) under the generic family
/// names, so that no text lookup ever falls through to a missing system font.
fn ensure_fonts() -> Result<(), &'static str> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        ["sans-serif", "serif", "monospace"]
            .iter()
            .all(|name| register_font(name, FontStyle::Normal, FONT_TTF).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded font could not be loaded")
    }
}

/// Width in pixels of `text` in the chart font at `size` px.
fn text_width(text: &str, size: f64) -> u32 {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or_else(|_| (text.chars().count() as f64 * size * 0.6).ceil() as u32)
}

/// Colours for series, matplotlib's "tab10" (distinguishable, colour-blind friendlier than
/// plotters' default palette).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Text colour for labels and notes that should not compete with the data.
const GREY: RGBColor = RGBColor(90, 90, 90);

/// Lowest and highest of `values`, ignoring non-finite ones; `None` when none is finite.
fn finite_min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// An SD usable for drawing: its absolute value, or 0 when not finite.
fn clean_sd(sd: f64) -> f64 {
    if sd.is_finite() {
        sd.abs()
    } else {
        0.0
    }
}

/// Widen a degenerate (empty or zero-width) range so that axes can be built from it.
fn non_degenerate(lo: f64, hi: f64) -> (f64, f64) {
    if hi - lo > 1e-12 * hi.abs().max(lo.abs()).max(1e-300) {
        (lo, hi)
    } else {
        let pad = (hi.abs() * 0.05).max(0.05);
        (lo - pad, hi + pad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_registers_and_measures() {
        ensure_fonts().unwrap();
        let w = text_width("validation accuracy", 16.0);
        assert!(w > 100 && w < 250, "width {w}");
    }

    #[test]
    fn format_extensions() {
        assert_eq!(Format::Png.extension(), "png");
        assert_eq!(Format::Svg.extension(), "svg");
        assert_eq!(Format::from_extension("SVG"), Some(Format::Svg));
        assert_eq!(Format::from_extension("jpg"), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(
            finite_min_max([f64::NAN, 2.0, -1.0, f64::INFINITY]),
            Some((-1.0, 2.0))
        );
        assert_eq!(finite_min_max([f64::NAN]), None);
        let (lo, hi) = non_degenerate(0.5, 0.5);
        assert!(lo < 0.5 && hi > 0.5);
        assert_eq!(non_degenerate(0.0, 1.0), (0.0, 1.0));
    }
}
