//! `fcnsweep plot`: the study's figures from a stored sweep.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use fcnsweep_model::RunConfig;
use fcnsweep_plot::{
    accuracy_bars, learning_curves, optimization_history, parameter_chart, Bar, CurveSeries,
    Format, ParamValues, SearchPoint,
};
use fcnsweep_search::results::{epoch_summaries, label, overlays, sort, summarize, SortKey};
use fcnsweep_search::spec::{Block, Distribution};
use fcnsweep_search::stats::Summary;
use fcnsweep_search::{short_hash, varying_axes};
use fcnsweep_search::{Axis, AxisValue, SweepSpec};
use fcnsweep_store::{SweepRecord, TrialRecord, TrialStatus};

use crate::cli::DbArg;
use crate::commands::sweep::stored_spec;

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
    let trials = store.trials(sweep.id)?;
    if let Some(spec) = stored_spec(&sweep) {
        written.extend(search_charts(&sweep, &spec, &trials, out, &formats)?);
    }
    if written.is_empty() {
        anyhow::bail!("sweep '{name}' has no finished trials to plot yet");
    }
    for p in &written {
        println!("{}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// For a sweep with a `tpe` or `random` block: the optimization history and one chart per
/// searched parameter (value against the objective). Trials are taken in the sweep's order
/// (for a `tpe` block, the order of proposals), each placed at the epochs trained by it and
/// every trial before it.
fn search_charts(
    sweep: &SweepRecord,
    spec: &SweepSpec,
    trials: &[TrialRecord],
    out: &Path,
    formats: &[Format],
) -> anyhow::Result<Vec<PathBuf>> {
    let params: Vec<(Axis, Distribution)> = spec
        .blocks
        .iter()
        .flat_map(|b| match b {
            Block::Tpe(t) => t.params.clone(),
            Block::Random(r) => r.params.clone(),
            _ => Vec::new(),
        })
        .fold(Vec::new(), |mut acc, (axis, dist)| {
            if !acc.iter().any(|(a, _)| *a == axis) {
                acc.push((axis, dist));
            }
            acc
        });
    if params.is_empty() {
        return Ok(Vec::new());
    }
    let objective = spec.objective;
    let runs: HashMap<&str, &RunConfig> = sweep
        .configs
        .iter()
        .map(|c| (c.hash.as_str(), &c.run))
        .collect();
    let mut spent = 0.0;
    let mut points = Vec::new();
    let mut used: Vec<&RunConfig> = Vec::new();
    for t in trials {
        spent += t.epochs_done as f64;
        let finished = t.status.is_finished() || t.status == TrialStatus::Pruned;
        let (Some(value), Some(run)) = (
            objective.metric.of_trial(t),
            runs.get(t.config_hash.as_str()),
        ) else {
            continue;
        };
        if !finished {
            continue;
        }
        points.push(SearchPoint {
            epochs: spent,
            value,
            pruned: t.status == TrialStatus::Pruned,
        });
        used.push(run);
    }
    if points.is_empty() {
        return Ok(Vec::new());
    }
    let metric = objective.metric.name();
    let maximize = objective.goal == fcnsweep_tune::Goal::Maximize;
    let mut written = Vec::new();
    for f in formats {
        let ext = f.extension();
        let path = out.join(format!("history.{ext}"));
        let title = format!("{}: optimization history", sweep.name);
        optimization_history(&path, *f, &title, metric, maximize, &points)?;
        written.push(path);
        for (axis, dist) in &params {
            for (name, values) in param_values(*axis, dist, &used) {
                let path = out.join(format!("param-{}.{ext}", name.replace(' ', "-")));
                let title = format!("{}: {name} against {metric}", sweep.name);
                parameter_chart(&path, *f, &title, &name, metric, &points, &values)?;
                written.push(path);
            }
        }
    }
    Ok(written)
}

/// The values one searched axis took in `runs` (a layers distribution gives two charts:
/// depth and first width); a value the configuration does not use is NaN.
fn param_values(
    axis: Axis,
    dist: &Distribution,
    runs: &[&RunConfig],
) -> Vec<(String, ParamValues)> {
    let number = |run: &RunConfig| -> f64 {
        if !axis.applies(run) {
            return f64::NAN;
        }
        match axis.get(run) {
            AxisValue::Float(x) => x,
            AxisValue::Count(n) | AxisValue::Subset(Some(n)) => n as f64,
            AxisValue::Seed(n) => n as f64,
            _ => f64::NAN,
        }
    };
    match dist {
        Distribution::Layers { .. } => {
            let depth = runs.iter().map(|r| r.model.hidden.len() as f64).collect();
            let width = runs
                .iter()
                .map(|r| r.model.hidden.first().map_or(f64::NAN, |w| *w as f64))
                .collect();
            vec![
                (
                    format!("{axis} depth"),
                    ParamValues::Numeric {
                        values: depth,
                        log: false,
                    },
                ),
                (
                    format!("{axis} width"),
                    ParamValues::Numeric {
                        values: width,
                        log: true,
                    },
                ),
            ]
        }
        Distribution::Choice(choices) => {
            let names = choices.iter().map(|c| c.to_string()).collect();
            let values = runs
                .iter()
                .map(|r| {
                    let v = axis.get(r);
                    choices.iter().position(|c| *c == v).unwrap_or(usize::MAX)
                })
                .collect();
            vec![(axis.to_string(), ParamValues::Categorical { names, values })]
        }
        Distribution::LogUniform { .. } => vec![(
            axis.to_string(),
            ParamValues::Numeric {
                values: runs.iter().map(|r| number(r)).collect(),
                log: true,
            },
        )],
        Distribution::Uniform { .. } | Distribution::IntUniform { .. } => vec![(
            axis.to_string(),
            ParamValues::Numeric {
                values: runs.iter().map(|r| number(r)).collect(),
                log: false,
            },
        )],
    }
}
