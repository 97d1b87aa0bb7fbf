//! `fcnsweep plot`: the study's figures from a stored sweep.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use fcnsweep_plot::{accuracy_bars, learning_curves, Bar, CurveSeries, Format};
use fcnsweep_search::results::{epoch_summaries, label, overlays, sort, summarize, SortKey};
use fcnsweep_search::stats::Summary;
use fcnsweep_search::{short_hash, varying_axes};

use crate::cli::DbArg;

fn pair(s: &Option<Summary>) -> (f64, f64) {
    s.as_ref()
        .map_or((f64::NAN, 0.0), |s| (s.mean, s.sd.unwrap_or(0.0)))
}

/// Draws per-configuration curves, block overlays and the accuracy bar chart.
pub fn run(name: &str, out: &Path, format: &str, db: &DbArg) -> anyhow::Result<ExitCode> {
    let mut store = db.location()?.open_existing()?;
    let sweep = store.sweep(name)?;
    let formats = match format {
        "png" => vec![Format::Png],
        "svg" => vec![Format::Svg],
        _ => vec![Format::Png, Format::Svg],
    };
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create output folder {}", out.display()))?;
    let runs: Vec<_> = sweep.configs.iter().map(|c| &c.run).collect();
    let axes = varying_axes(&runs);
    let mut curves = Vec::with_capacity(sweep.configs.len());
    for c in &sweep.configs {
        let rows = epoch_summaries(&store.epochs(sweep.id, &c.hash)?);
        curves.push(CurveSeries {
            label: label(&c.run, &axes),
            epochs: rows.iter().map(|r| r.epoch).collect(),
            train_loss: rows.iter().map(|r| pair(&r.train_loss)).collect(),
            val_acc: rows.iter().map(|r| pair(&r.val_acc)).collect(),
            highlight: c.baseline,
        });
    }
    let mut written = Vec::new();
    for f in &formats {
        let ext = f.extension();
        for (c, series) in sweep.configs.iter().zip(&curves) {
            if series.epochs.is_empty() {
                continue;
            }
            let path = out.join(format!("curves-{}.{ext}", short_hash(&c.hash)));
            let title = format!("{}: {}", sweep.name, series.label);
            learning_curves(&path, *f, &title, std::slice::from_ref(series))?;
            written.push(path);
        }
        for o in overlays(&sweep) {
            let series: Vec<CurveSeries> = o
                .configs
                .iter()
                .map(|&i| CurveSeries {
                    label: label(&sweep.configs[i].run, &o.axes),
                    ..curves[i].clone()
                })
                .filter(|s| !s.epochs.is_empty())
                .collect();
            if series.len() < 2 {
                continue;
            }
            let path = out.join(format!("overlay-{}.{ext}", o.id));
            learning_curves(&path, *f, &format!("{}: {}", sweep.name, o.title), &series)?;
            written.push(path);
        }
        let trials = store.trials(sweep.id)?;
        let mut rows = summarize(&sweep, &trials);
        sort(&mut rows, &SortKey::Test);
        let bars: Vec<Bar> = rows
            .iter()
            .filter_map(|r| {
                r.test.as_ref().map(|t| Bar {
                    label: label(&r.run, &axes),
                    mean: t.mean,
                    sd: t.sd.unwrap_or(0.0),
                    n: t.n,
                    highlight: r.baseline,
                })
            })
            .collect();
        if !bars.is_empty() {
            let path = out.join(format!("test-accuracy.{ext}"));
            let title = format!("{}: test accuracy, mean ± SD over seeds", sweep.name);
            accuracy_bars(&path, *f, &title, &bars)?;
            written.push(path);
        }
    }
    if written.is_empty() {
        anyhow::bail!("sweep '{name}' has no finished trials to plot yet");
    }
    for p in &written {
        println!("{}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
