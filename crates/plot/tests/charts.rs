//! Renders both charts in both formats and checks the files.

use std::path::{Path, PathBuf};

use fcnsweep_plot::{accuracy_bars, learning_curves, Bar, CurveSeries, Format};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Checks the PNG signature and returns (width, height) from the IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() > 5_000,
        "{} is only {} bytes",
        path.display(),
        bytes.len()
    );
    assert_eq!(bytes[..8], PNG_SIGNATURE, "not a PNG: {}", path.display());
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Reads an SVG and checks it is one, with every text given.
fn svg_text(path: &Path, texts: &[&str]) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("<svg"), "not an SVG: {}", path.display());
    assert!(text.trim_end().ends_with("</svg>"));
    for t in texts {
        assert!(text.contains(t), "{} lacks {t:?}", path.display());
    }
    text
}

/// A plausible learning curve: loss decays, accuracy saturates; `k` varies the shape.
fn curve(label: &str, epochs: usize, k: f64, highlight: bool) -> CurveSeries {
    let e: Vec<usize> = (1..=epochs).collect();
    let train_loss = e
        .iter()
        .map(|&i| {
            let t = i as f64;
            (
                0.08 + 2.2 * (-t / (3.0 * k)).exp(),
                0.02 + 0.1 * (-t / 6.0).exp(),
            )
        })
        .collect();
    let val_acc = e
        .iter()
        .map(|&i| {
            let t = i as f64;
            (
                0.97 - 0.05 * k - 0.75 * (-t / (2.5 * k)).exp(),
                0.004 + 0.04 * (-t / 5.0).exp(),
            )
        })
        .collect();
    CurveSeries {
        label: label.into(),
        epochs: e,
        train_loss,
        val_acc,
        highlight,
    }
}

fn sample_curves() -> Vec<CurveSeries> {
    vec![
        curve("baseline (sgd lr=0.01)", 30, 1.6, true),
        curve("adam lr=0.001", 30, 0.8, false),
        curve("adam lr=0.0003", 30, 1.2, false),
        curve("dropout=0.5", 30, 1.0, false),
        curve("width=1024 depth=3", 30, 0.6, false),
    ]
}

fn sample_bars() -> Vec<Bar> {
    let data = [
        ("adam lr=0.001", 0.9812, 0.0011, false),
        ("width=1024 depth=3", 0.9795, 0.0018, false),
        ("dropout=0.5", 0.9781, 0.0009, false),
        ("adam lr=0.0003", 0.9764, 0.0021, false),
        ("baseline", 0.9702, 0.0015, true),
        ("sgd momentum=0.9 nesterov", 0.9688, 0.0032, false),
        ("batch_size=512", 0.9641, 0.0027, false),
        ("lr=0.1", 0.9512, 0.0094, false),
    ];
    data.iter()
        .map(|&(label, mean, sd, highlight)| Bar {
            label: label.into(),
            mean,
            sd,
            n: 5,
            highlight,
        })
        .collect()
}

fn out(dir: &tempfile::TempDir, name: &str, format: Format) -> PathBuf {
    dir.path().join(format!("{name}.{}", format.extension()))
}

#[test]
fn learning_curves_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "curves", Format::Png);
    learning_curves(&path, Format::Png, "Learning curves", &sample_curves()).unwrap();
    assert_eq!(png_size(&path), (1000, 600));
}

#[test]
fn learning_curves_svg() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "curves", Format::Svg);
    let series = sample_curves();
    learning_curves(&path, Format::Svg, "Learning curves", &series).unwrap();
    let mut texts: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
    texts.extend([
        "Learning curves",
        "epoch",
        "training loss",
        "validation accuracy",
    ]);
    let svg = svg_text(&path, &texts);
    assert!(svg.contains("width=\"1000\"") && svg.contains("height=\"600\""));
}

#[test]
fn accuracy_bars_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "bars", Format::Png);
    accuracy_bars(&path, Format::Png, "Test accuracy", &sample_bars()).unwrap();
    assert_eq!(png_size(&path), (1000, 600));
}

#[test]
fn accuracy_bars_svg() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "bars", Format::Svg);
    let bars = sample_bars();
    accuracy_bars(&path, Format::Svg, "Test accuracy", &bars).unwrap();
    // Long labels are wrapped, so check the short ones whole and the value labels.
    svg_text(
        &path,
        &[
            "Test accuracy",
            "test accuracy",
            "adam lr=0.001",
            "dropout=0.5",
            "baseline",
            "0.9812",
            "±0.0011",
            "n=5",
        ],
    );
}

#[test]
fn many_bars_make_a_wider_chart() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "wide", Format::Png);
    let bars: Vec<Bar> = (0..24)
        .map(|i| Bar {
            label: format!("adam lr={:.3} dropout=0.{}", 0.001 * (i + 1) as f64, i % 10),
            mean: 0.9 + 0.002 * i as f64,
            sd: 0.003,
            n: 3,
            highlight: i == 7,
        })
        .collect();
    accuracy_bars(&path, Format::Png, "Many configurations", &bars).unwrap();
    let (w, h) = png_size(&path);
    assert!(w > 1000, "width {w}");
    assert!(h >= 600);
}

#[test]
fn single_epoch_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let series = vec![
        curve("one epoch", 1, 1.0, false),
        curve("base", 1, 1.2, true),
    ];
    for format in [Format::Png, Format::Svg] {
        let path = out(&dir, "single", format);
        learning_curves(&path, format, "Single epoch", &series).unwrap();
        assert!(path.exists());
    }
    let bar = vec![Bar {
        label: "only".into(),
        mean: 0.95,
        sd: 0.0,
        n: 1,
        highlight: true,
    }];
    for format in [Format::Png, Format::Svg] {
        let path = out(&dir, "single-bar", format);
        accuracy_bars(&path, format, "One bar", &bar).unwrap();
        assert!(path.exists());
    }
    assert_eq!(png_size(&out(&dir, "single", Format::Png)), (1000, 600));
}

#[test]
fn nan_values_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut diverged = curve("lr=1.0 (diverged)", 30, 1.0, false);
    for i in 3..30 {
        diverged.train_loss[i] = if i < 6 {
            (10f64.powi(i as i32), f64::NAN)
        } else {
            (f64::NAN, f64::NAN)
        };
        diverged.val_acc[i] = if i < 6 {
            (0.1, f64::INFINITY)
        } else {
            (f64::NAN, 0.0)
        };
    }
    let mut series = sample_curves();
    series.push(diverged);
    series.push(CurveSeries {
        label: "all NaN".into(),
        epochs: vec![1, 2],
        train_loss: vec![(f64::NAN, f64::NAN); 2],
        val_acc: vec![(f64::NAN, f64::NAN); 2],
        highlight: false,
    });
    let mut bars = sample_bars();
    bars.push(Bar {
        label: "lr=1.0".into(),
        mean: f64::NAN,
        sd: f64::NAN,
        n: 5,
        highlight: false,
    });
    bars[0].sd = f64::NAN;
    for format in [Format::Png, Format::Svg] {
        let path = out(&dir, "nan-curves", format);
        learning_curves(&path, format, "With NaN", &series).unwrap();
        let path = out(&dir, "nan-bars", format);
        accuracy_bars(&path, format, "With NaN", &bars).unwrap();
    }
    assert_eq!(png_size(&out(&dir, "nan-curves", Format::Png)), (1000, 600));
    svg_text(
        &out(&dir, "nan-curves", Format::Svg),
        &["lr=1.0 (diverged)", "clipped"],
    );
    svg_text(&out(&dir, "nan-bars", Format::Svg), &["n/a"]);
}

#[test]
fn empty_input_draws_an_empty_chart() {
    let dir = tempfile::tempdir().unwrap();
    for format in [Format::Png, Format::Svg] {
        learning_curves(&out(&dir, "empty-curves", format), format, "Empty", &[]).unwrap();
        accuracy_bars(&out(&dir, "empty-bars", format), format, "Empty", &[]).unwrap();
    }
    svg_text(
        &out(&dir, "empty-bars", Format::Svg),
        &["no configurations to plot"],
    );
}

#[test]
fn unwritable_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("chart.png");
    let err = learning_curves(&path, Format::Png, "x", &sample_curves()).unwrap_err();
    assert_eq!(err.path, path);
    assert!(err.to_string().contains("chart.png"), "{err}");
    let path = dir.path().join("missing-dir").join("chart.svg");
    let err = accuracy_bars(&path, Format::Svg, "x", &sample_bars()).unwrap_err();
    assert_eq!(err.path, path);
}

/// Writes sample charts to `/tmp/plot-samples/` for looking at; only when `PLOT_SAMPLES`
/// is set.
#[test]
fn write_samples() {
    if std::env::var_os("PLOT_SAMPLES").is_none() {
        return;
    }
    let dir = Path::new("/tmp/plot-samples");
    std::fs::create_dir_all(dir).unwrap();
    let title = "MNIST, 3-layer FCN: learning curves (mean ± SD over 5 seeds)";
    for format in [Format::Png, Format::Svg] {
        let ext = format.extension();
        learning_curves(
            &dir.join(format!("curves.{ext}")),
            format,
            title,
            &sample_curves(),
        )
        .unwrap();
        accuracy_bars(
            &dir.join(format!("bars.{ext}")),
            format,
            "MNIST, 3-layer FCN: test accuracy (mean ± SD over 5 seeds)",
            &sample_bars(),
        )
        .unwrap();
    }
    let mut diverged = curve("lr=1.0 (diverged)", 30, 1.0, false);
    for i in 3..30 {
        diverged.train_loss[i] = if i < 6 {
            (3.0 * 4f64.powi(i as i32), 1.0)
        } else {
            (f64::NAN, f64::NAN)
        };
        diverged.val_acc[i] = if i < 6 { (0.1, 0.02) } else { (f64::NAN, 0.0) };
    }
    let mut series = sample_curves();
    series.push(diverged);
    learning_curves(
        &dir.join("curves-nan.png"),
        Format::Png,
        "With a diverged run",
        &series,
    )
    .unwrap();
    let single = vec![
        curve("one epoch", 1, 1.0, false),
        curve("base", 1, 1.2, true),
    ];
    learning_curves(
        &dir.join("curves-single.png"),
        Format::Png,
        "Single epoch",
        &single,
    )
    .unwrap();
    let bars: Vec<Bar> = (0..24)
        .map(|i| Bar {
            label: format!("adam lr={:.3} dropout=0.{}", 0.001 * (i + 1) as f64, i % 10),
            mean: 0.9 + 0.002 * i as f64 + if i == 5 { f64::NAN } else { 0.0 },
            sd: 0.003,
            n: 3,
            highlight: i == 7,
        })
        .collect();
    accuracy_bars(
        &dir.join("bars-wide.png"),
        Format::Png,
        "Many configurations",
        &bars,
    )
    .unwrap();
}

#[test]
fn svg_escapes_markup_in_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "escape", Format::Svg);
    let bars = vec![Bar {
        label: "lr<0.01 & wd".into(),
        mean: 0.9,
        sd: 0.01,
        n: 2,
        highlight: false,
    }];
    accuracy_bars(&path, Format::Svg, "a < b & c", &bars).unwrap();
    let svg = svg_text(&path, &["a &lt; b &amp; c", "lr&lt;0.01 &amp; wd"]);
    assert!(!svg.contains("a < b"));
}

/// A search of 12 trials: every third pruned, the objective rising with noise, one NaN.
fn search_points() -> Vec<fcnsweep_plot::SearchPoint> {
    (0..12)
        .map(|i| fcnsweep_plot::SearchPoint {
            epochs: (i * 3 + 1) as f64,
            value: if i == 5 {
                f64::NAN
            } else {
                0.6 + 0.02 * i as f64 - 0.05 * ((i * 7) % 3) as f64
            },
            pruned: i % 3 == 1,
        })
        .collect()
}

#[test]
fn search_history_and_parameter_charts_in_both_formats() {
    use fcnsweep_plot::{optimization_history, parameter_chart, ParamValues};
    let dir = tempfile::tempdir().unwrap();
    let points = search_points();
    let lr = ParamValues::Numeric {
        values: (0..12).map(|i| 1e-4 * 2f64.powi(i)).collect(),
        log: true,
    };
    let optimizer = ParamValues::Categorical {
        names: vec!["sgd".into(), "adam".into()],
        values: (0..12).map(|i| i % 2).collect(),
    };
    let dropout = ParamValues::Numeric {
        values: (0..12).map(|i| i as f64 / 24.0).collect(),
        log: false,
    };
    for format in [Format::Png, Format::Svg] {
        let history = out(&dir, "history", format);
        optimization_history(
            &history,
            format,
            "t: optimization history",
            "val_acc",
            true,
            &points,
        )
        .unwrap();
        let mut charts = vec![history.clone()];
        for (name, values) in [
            ("lr", &lr),
            ("optimizer", &optimizer),
            ("dropout", &dropout),
        ] {
            let path = out(&dir, &format!("param-{name}"), format);
            parameter_chart(
                &path,
                format,
                &format!("t: {name}"),
                name,
                "val_acc",
                &points,
                values,
            )
            .unwrap();
            charts.push(path);
        }
        for path in &charts {
            match format {
                Format::Png => assert_eq!(png_size(path), (1000, 600)),
                Format::Svg => {
                    svg_text(path, &["val_acc", "complete", "pruned"]);
                }
            }
        }
        if format == Format::Svg {
            svg_text(&history, &["epochs trained by the search", "best so far"]);
            svg_text(&charts[1], &["lr (log scale)"]);
            svg_text(&charts[2], &["sgd", "adam"]);
        }
    }
    // Nothing finite at all still draws (an empty frame), and never panics.
    let nan = vec![fcnsweep_plot::SearchPoint {
        epochs: f64::NAN,
        value: f64::NAN,
        pruned: false,
    }];
    let path = out(&dir, "empty-history", Format::Png);
    optimization_history(&path, Format::Png, "empty", "val_loss", false, &nan).unwrap();
}
