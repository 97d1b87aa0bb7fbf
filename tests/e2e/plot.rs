//! `fcnsweep plot` draws valid PNG and SVG charts from a stored sweep, and `baseline svd`
//! stores its rows beside the networks.

use std::fs;
use std::path::Path;

use crate::common::{self, heavy, real_data, s, small_sweep, tempdir, SMALL_CONFIGS};

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR", "{}", path.display());
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn plot_writes_curves_overlays_and_bars_as_png_and_svg() {
    let Some(real) = real_data("plot") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep("e2e-plot", 2, 1000)).unwrap();
    let db = dir.path().join("plot.sqlite");
    let (db_s, real_s) = (s(&db).to_string(), s(&real).to_string());
    common::run(
        dir.path(),
        &[
            "sweep",
            "run",
            s(&spec),
            "--db",
            &db_s,
            "-j",
            "2",
            "--data-dir",
            &real_s,
        ],
    )
    .ok();
    let out = dir.path().join("charts");
    let listed = common::run(
        dir.path(),
        &["plot", "e2e-plot", "--db", &db_s, "--out", s(&out)],
    )
    .ok()
    .stdout;
    let files: Vec<_> = listed.lines().map(|l| Path::new(l).to_path_buf()).collect();
    // One curve chart per configuration, at least one overlay, one bar chart; in 2 formats.
    let pngs: Vec<_> = files
        .iter()
        .filter(|f| f.extension().unwrap() == "png")
        .collect();
    let svgs: Vec<_> = files
        .iter()
        .filter(|f| f.extension().unwrap() == "svg")
        .collect();
    assert_eq!(pngs.len(), svgs.len());
    assert!(pngs.len() >= SMALL_CONFIGS + 2, "{listed}");
    for png in &pngs {
        let (w, h) = png_size(png);
        assert!(w >= 800 && h >= 500, "{}: {w}x{h}", png.display());
        assert!(
            fs::metadata(png).unwrap().len() > 10_000,
            "{}",
            png.display()
        );
    }
    for svg in &svgs {
        let text = fs::read_to_string(svg).unwrap();
        assert!(text.contains("<svg") && text.trim_end().ends_with("</svg>"));
        assert!(text.len() > 5_000, "{}", svg.display());
    }
    let bars = fs::read_to_string(out.join("test-accuracy.svg")).unwrap();
    assert!(bars.contains("test accuracy"));
    assert!(files.iter().any(|f| s(f).contains("overlay-")), "{listed}");
    common::run(dir.path(), &["plot", "missing", "--db", &db_s])
        .code(1)
        .stderr_has(&["no sweep named 'missing'", "e2e-plot"]);
}
