//! Aggregation of stored trials into the study's answers: per configuration, n and the mean ±
//! sample SD of test and validation accuracy, a 95% CI, and a Welch t-test against the
//! baseline; per epoch, the mean ± SD across seeds. Each query renders as a [`Table`].

use std::cmp::Ordering;

use fcnsweep_model::RunConfig;
use serde_json::Value;

use crate::axes::{axis_values, varying_axes};
use crate::identity::short_hash;
use crate::stats::{welch, Summary, WelchTest};
use crate::store::{
    BaselineRecord, EpochRecord, StoreError, SweepRecord, TrialRecord, TrialStatus,
};
use crate::table::{Cell, Format, Table};

/// Aggregated results of one configuration of a sweep.
#[derive(Debug, Clone)]
pub struct ConfigResult {
    /// Configuration hash.
    pub hash: String,
    /// Position in the sweep (spec order).
    pub position: usize,
    /// Whether it is the sweep's baseline.
    pub baseline: bool,
    /// Its parameters.
    pub run: RunConfig,
    /// Test accuracy over finished trials (done or diverged).
    pub test: Option<Summary>,
    /// Validation accuracy after the last epoch, over finished trials.
    pub val: Option<Summary>,
    /// Test accuracies of the finished trials, by seed order.
    pub test_values: Vec<f64>,
    /// Welch t-test of test accuracy against the baseline (none for the baseline itself).
    pub vs_baseline: Option<WelchTest>,
    /// Finished trials that diverged.
    pub diverged: usize,
    /// Trials the pruner stopped early (not among the finished ones).
    pub pruned: usize,
    /// Failed trials.
    pub failed: usize,
    /// Trials not finished yet (pending or running).
    pub unfinished: usize,
}

/// Groups the sweep's trials by configuration and summarizes each, in spec order.
pub fn summarize(sweep: &SweepRecord, trials: &[TrialRecord]) -> Vec<ConfigResult> {
    let mut rows: Vec<ConfigResult> = sweep
        .configs
        .iter()
        .enumerate()
        .map(|(position, c)| {
            let mine: Vec<&TrialRecord> =
                trials.iter().filter(|t| t.config_hash == c.hash).collect();
            let finished: Vec<&TrialRecord> = mine
                .iter()
                .copied()
                .filter(|t| t.status.is_finished())
                .collect();
            let test_values: Vec<f64> = finished.iter().filter_map(|t| t.test_acc).collect();
            let val_values: Vec<f64> = finished.iter().filter_map(|t| t.final_val_acc).collect();
            ConfigResult {
                hash: c.hash.clone(),
                position,
                baseline: c.baseline,
                run: c.run.clone(),
                test: Summary::of(&test_values),
                val: Summary::of(&val_values),
                test_values,
                vs_baseline: None,
                diverged: finished
                    .iter()
                    .filter(|t| t.status == TrialStatus::Diverged)
                    .count(),
                pruned: mine
                    .iter()
                    .filter(|t| t.status == TrialStatus::Pruned)
                    .count(),
                failed: mine
                    .iter()
                    .filter(|t| t.status == TrialStatus::Failed)
                    .count(),
                unfinished: mine
                    .iter()
                    .filter(|t| matches!(t.status, TrialStatus::Pending | TrialStatus::Running))
                    .count(),
            }
        })
        .collect();
    if let Some(base) = rows
        .iter()
        .find(|r| r.baseline)
        .map(|r| r.test_values.clone())
    {
        for r in rows.iter_mut().filter(|r| !r.baseline) {
            r.vs_baseline = welch(&r.test_values, &base);
        }
    }
    rows
}

/// How `results show` orders configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    /// Mean test accuracy, best first (the default).
    Test,
    /// Mean final validation accuracy, best first.
    Val,
    /// Spec order.
    Order,
    /// An axis name, ascending.
    Axis(String),
}

impl SortKey {
    /// Parses `test`, `val`, `order` or an axis name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "test" | "test_acc" => Ok(Self::Test),
            "val" | "val_acc" => Ok(Self::Val),
            "order" | "spec" => Ok(Self::Order),
            axis if crate::axes::axis_names().contains(&axis) => Ok(Self::Axis(axis.to_string())),
            other => Err(format!(
                "unknown sort key '{other}': expected test, val, order or an axis ({})",
                crate::axes::axis_names().join(", ")
            )),
        }
    }
}

fn desc(a: Option<&Summary>, b: Option<&Summary>) -> Ordering {
    let key = |s: Option<&Summary>| s.map_or(f64::NEG_INFINITY, |s| s.mean);
    key(b).total_cmp(&key(a))
}

/// Sorts results in place.
pub fn sort(rows: &mut [ConfigResult], key: &SortKey) {
    match key {
        SortKey::Test => rows.sort_by(|a, b| desc(a.test.as_ref(), b.test.as_ref())),
        SortKey::Val => rows.sort_by(|a, b| desc(a.val.as_ref(), b.val.as_ref())),
        SortKey::Order => rows.sort_by_key(|r| r.position),
        SortKey::Axis(axis) => rows.sort_by(|a, b| {
            let get = |r: &ConfigResult| {
                axis_values(&r.run)
                    .into_iter()
                    .find(|(k, _)| k == axis)
                    .map(|(_, v)| v)
                    .unwrap_or(Value::Null)
            };
            match (get(a), get(b)) {
                (Value::Number(x), Value::Number(y)) => x
                    .as_f64()
                    .unwrap_or(0.0)
                    .total_cmp(&y.as_f64().unwrap_or(0.0)),
                (x, y) => x.to_string().cmp(&y.to_string()),
            }
        }),
    }
}

/// `mean ± SD` as one cell (pretty formats) or two numbers (machine formats).
pub(crate) fn mean_sd(s: Option<&Summary>, pretty: bool, out: &mut Vec<Cell>) {
    if pretty {
        out.push(match s {
            Some(s) => Cell {
                text: match s.sd {
                    Some(sd) => format!("{:.4} ± {:.4}", s.mean, sd),
                    None => format!("{:.4}", s.mean),
                },
                value: Value::from(s.mean),
            },
            None => Cell::num(None, 4),
        });
    } else {
        out.push(Cell::num(s.map(|s| s.mean), 6));
        out.push(Cell::num(s.and_then(|s| s.sd), 6));
    }
}

/// A short label of a configuration from the axes that vary in its sweep (for charts).
pub fn label(run: &RunConfig, axes: &[&str]) -> String {
    let values = axis_values(run);
    let parts: Vec<String> = axes
        .iter()
        .filter_map(|a| values.iter().find(|(k, _)| k == a))
        .map(|(k, v)| match (k, v) {
            (&"optimizer", Value::String(s)) | (&"init", Value::String(s)) => s.clone(),
            (&"norm", Value::String(s)) => format!("norm={s}"),
            (k, Value::String(s)) => format!("{k}={s}"),
            (k, v) => format!("{k}={v}"),
        })
        .collect();
    if parts.is_empty() {
        "baseline".to_string()
    } else {
        parts.join(" ")
    }
}

/// The `results show` table: one row per configuration.
pub fn config_table(rows: &[ConfigResult], all: &[ConfigResult], format: Format) -> Table {
    let runs: Vec<&RunConfig> = all.iter().map(|r| &r.run).collect();
    let axes = varying_axes(&runs);
    let pretty = format.is_pretty();
    let mut columns = vec!["config".to_string()];
    columns.extend(axes.iter().map(|a| a.to_string()));
    columns.push("n".into());
    if pretty {
        columns.extend(
            [
                "test_acc", "ci95", "val_acc", "vs_base", "p_welch", "diverged", "pruned",
            ]
            .map(String::from),
        );
    } else {
        columns.extend(
            [
                "test_acc_mean",
                "test_acc_sd",
                "test_ci95_low",
                "test_ci95_high",
                "val_acc_mean",
                "val_acc_sd",
                "diff_vs_baseline",
                "p_welch",
                "diverged",
                "pruned",
                "failed",
                "unfinished",
                "baseline",
                "config_hash",
            ]
            .map(String::from),
        );
    }
    let mut table = Table::new(columns);
    for r in rows {
        let mut cells = Vec::new();
        let mark = if r.baseline && pretty { "*" } else { "" };
        cells.push(Cell::text(format!("{}{mark}", short_hash(&r.hash))));
        let values = axis_values(&r.run);
        for a in &axes {
            let v = values.iter().find(|(k, _)| k == a).map(|(_, v)| v.clone());
            cells.push(Cell::json(v.unwrap_or(Value::Null)));
        }
        cells.push(Cell::int(r.test.as_ref().map_or(0, |s| s.n)));
        let ci = r.test.as_ref().and_then(|s| s.ci95_within(0.0, 1.0));
        mean_sd(r.test.as_ref(), pretty, &mut cells);
        if pretty {
            cells.push(match ci {
                Some((lo, hi)) => Cell {
                    text: format!("[{lo:.4}, {hi:.4}]"),
                    value: Value::from(vec![lo, hi]),
                },
                None => Cell::num(None, 4),
            });
        } else {
            cells.push(Cell::num(ci.map(|c| c.0), 6));
            cells.push(Cell::num(ci.map(|c| c.1), 6));
        }
        mean_sd(r.val.as_ref(), pretty, &mut cells);
        let w = r.vs_baseline.as_ref();
        if pretty {
            cells.push(match w {
                Some(w) => Cell {
                    text: format!("{:+.4}", w.diff),
                    value: Value::from(w.diff),
                },
                None if r.baseline => Cell::text("base"),
                None => Cell::num(None, 4),
            });
            cells.push(p_cell(w));
            cells.push(Cell::int(r.diverged));
            cells.push(Cell::int(r.pruned));
        } else {
            cells.push(Cell::num(w.map(|w| w.diff), 6));
            cells.push(Cell::num(w.map(|w| w.p), 6));
            cells.push(Cell::int(r.diverged));
            cells.push(Cell::int(r.pruned));
            cells.push(Cell::int(r.failed));
            cells.push(Cell::int(r.unfinished));
            cells.push(Cell::json(Value::from(r.baseline)));
            cells.push(Cell::text(r.hash.clone()));
        }
        table.rows.push(cells);
    }
    table
}

/// A Welch p-value for tables: 4 decimals, or scientific notation below 1e-4.
pub(crate) fn p_cell(w: Option<&WelchTest>) -> Cell {
    match w {
        Some(w) if w.p < 1e-4 => Cell {
            text: format!("{:.1e}", w.p),
            value: Value::from(w.p),
        },
        _ => Cell::num(w.map(|w| w.p), 4),
    }
}

/// Appends classical baselines to a `results show` table, filling the columns they have
/// (configuration label, n, test and validation accuracy) and leaving the others empty.
pub fn append_baselines(table: &mut Table, baselines: &[BaselineRecord]) {
    for b in baselines {
        let row = table
            .columns
            .iter()
            .map(|c| match c.as_str() {
                "config" => Cell::text(format!("{} k={}", b.method, b.k)),
                "n" => Cell::int(1),
                "test_acc" | "test_acc_mean" => Cell::num(Some(b.test_acc), 4),
                "val_acc" | "val_acc_mean" => Cell::num(Some(b.val_acc), 4),
                "baseline" => Cell::json(Value::from(false)),
                "config_hash" => Cell::text(b.method.clone()),
                _ => Cell::num(None, 4),
            })
            .collect();
        table.rows.push(row);
    }
}

/// A set of configurations drawn on one learning-curve chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    /// File-name-safe identifier, e.g. `search0-grid-optimizer-sgd`.
    pub id: String,
    /// Chart title suffix, e.g. `search[0].grid, optimizer=sgd`.
    pub title: String,
    /// Indices into the sweep's configurations, baseline first when it is included.
    pub configs: Vec<usize>,
    /// The axes that vary within the chart (its legend names them).
    pub axes: Vec<&'static str>,
}

/// The overlays of a sweep, as the study's figures: one chart per block, showing the
/// configurations it varies; a grid over several axes is split by all but its last varying
/// axis (e.g. one chart per optimizer with its learning rates), and list blocks include the
/// baseline for reference.
pub fn overlays(sweep: &SweepRecord) -> Vec<Overlay> {
    let mut blocks: Vec<String> = Vec::new();
    for c in &sweep.configs {
        for s in &c.sources {
            if s != "base" && !blocks.contains(s) {
                blocks.push(s.clone());
            }
        }
    }
    let baseline = sweep.configs.iter().position(|c| c.baseline);
    let mut out = Vec::new();
    for block in blocks {
        let mut members: Vec<usize> = (0..sweep.configs.len())
            .filter(|&i| sweep.configs[i].sources.contains(&block))
            .collect();
        let is_grid = block.ends_with(".grid");
        if !is_grid {
            if let Some(b) = baseline.filter(|b| !members.contains(b)) {
                members.insert(0, b);
            }
        }
        if members.len() < 2 {
            continue;
        }
        let runs: Vec<&RunConfig> = members.iter().map(|&i| &sweep.configs[i].run).collect();
        let axes = varying_axes(&runs);
        let safe = block.replace(['[', ']'], "").replace('.', "-");
        if is_grid && axes.len() > 1 {
            let (outer, inner) = axes.split_at(axes.len() - 1);
            let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
            for &i in &members {
                let values = axis_values(&sweep.configs[i].run);
                let key: Vec<String> = outer
                    .iter()
                    .map(|a| {
                        let v = values.iter().find(|(k, _)| k == a).map(|(_, v)| v.clone());
                        format!("{a}={}", Cell::json(v.unwrap_or_default()).text)
                    })
                    .collect();
                let key = key.join(", ");
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push(i),
                    None => groups.push((key, vec![i])),
                }
            }
            for (key, configs) in groups {
                out.push(Overlay {
                    id: format!("{safe}-{}", key.replace([',', ' '], "").replace('=', "-")),
                    title: format!("{block}, {key}"),
                    configs,
                    axes: inner.to_vec(),
                });
            }
        } else {
            out.push(Overlay {
                id: safe,
                title: block,
                configs: members,
                axes,
            });
        }
    }
    out
}

/// Finds the configuration of a sweep whose hash starts with `prefix`.
pub fn resolve_config<'a>(
    sweep: &'a SweepRecord,
    prefix: &str,
) -> Result<&'a crate::store::StoredConfig, StoreError> {
    let mut matches = sweep.configs.iter().filter(|c| c.hash.starts_with(prefix));
    match (matches.next(), matches.next()) {
        (Some(c), None) if !prefix.is_empty() => Ok(c),
        (Some(_), _) => Err(StoreError::BadConfigRef {
            prefix: prefix.to_string(),
            problem: "is ambiguous",
            sweep: sweep.name.clone(),
        }),
        (None, _) => Err(StoreError::BadConfigRef {
            prefix: prefix.to_string(),
            problem: "matches nothing",
            sweep: sweep.name.clone(),
        }),
    }
}

/// The `results trials` table: one row per trial.
pub fn trials_table(trials: &[&TrialRecord]) -> Table {
    let mut t = Table::new(
        [
            "config",
            "seed",
            "status",
            "epochs",
            "test_acc",
            "test_loss",
            "val_acc",
            "seconds",
            "error",
        ]
        .map(String::from)
        .to_vec(),
    );
    for tr in trials {
        t.rows.push(vec![
            Cell::text(short_hash(&tr.config_hash)),
            Cell::int(tr.seed as usize),
            Cell::text(tr.status.as_str()),
            Cell::int(tr.epochs_done),
            Cell::num(tr.test_acc, 4),
            Cell::num(tr.test_loss, 4),
            Cell::num(tr.final_val_acc, 4),
            Cell::num(tr.seconds, 1),
            Cell::json(tr.error.clone().map_or(Value::Null, Value::from)),
        ]);
    }
    t
}

/// Per-epoch aggregate across seeds of one configuration.
#[derive(Debug, Clone)]
pub struct EpochSummary {
    /// 1-based epoch.
    pub epoch: usize,
    /// Training loss across seeds.
    pub train_loss: Option<Summary>,
    /// Training accuracy across seeds.
    pub train_acc: Option<Summary>,
    /// Validation loss across seeds.
    pub val_loss: Option<Summary>,
    /// Validation accuracy across seeds.
    pub val_acc: Option<Summary>,
    /// Epoch wall time across seeds.
    pub seconds: Option<Summary>,
}

/// Aggregates stored epochs of one configuration by epoch number.
pub fn epoch_summaries(epochs: &[EpochRecord]) -> Vec<EpochSummary> {
    let last = epochs.iter().map(|e| e.metrics.epoch).max().unwrap_or(0);
    (1..=last)
        .map(|epoch| {
            let at: Vec<_> = epochs.iter().filter(|e| e.metrics.epoch == epoch).collect();
            let col = |f: &dyn Fn(&EpochRecord) -> Option<f64>| {
                let v: Vec<f64> = at
                    .iter()
                    .filter_map(|e| f(e))
                    .filter(|x| x.is_finite())
                    .collect();
                Summary::of(&v)
            };
            EpochSummary {
                epoch,
                train_loss: col(&|e| Some(e.metrics.train_loss)),
                train_acc: col(&|e| Some(e.metrics.train_acc)),
                val_loss: col(&|e| e.metrics.val_loss),
                val_acc: col(&|e| e.metrics.val_acc),
                seconds: col(&|e| Some(e.metrics.seconds)),
            }
        })
        .collect()
}

/// The `results epochs` table.
pub fn epochs_table(rows: &[EpochSummary], format: Format) -> Table {
    let pretty = format.is_pretty();
    let names = ["train_loss", "train_acc", "val_loss", "val_acc"];
    let mut columns = vec!["epoch".to_string(), "n".to_string()];
    for n in names {
        if pretty {
            columns.push(n.to_string());
        } else {
            columns.push(format!("{n}_mean"));
            columns.push(format!("{n}_sd"));
        }
    }
    columns.push("seconds".into());
    let mut t = Table::new(columns);
    for r in rows {
        let mut cells = vec![
            Cell::int(r.epoch),
            Cell::int(r.train_acc.as_ref().map_or(0, |s| s.n)),
        ];
        for s in [&r.train_loss, &r.train_acc, &r.val_loss, &r.val_acc] {
            mean_sd(s.as_ref(), pretty, &mut cells);
        }
        cells.push(Cell::num(r.seconds.as_ref().map(|s| s.mean), 2));
        t.rows.push(cells);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredConfig;
    use fcnsweep_data::DatasetName;
    use fcnsweep_model::{ModelConfig, OptimizerConfig, OptimizerKind, TrainConfig};

    fn run(lr: f64) -> RunConfig {
        RunConfig {
            model: ModelConfig::default(),
            optimizer: OptimizerConfig::new(OptimizerKind::Sgd, lr),
            train: TrainConfig::default(),
        }
    }

    fn trial(hash: &str, seed: u64, status: TrialStatus, acc: Option<f64>) -> TrialRecord {
        TrialRecord {
            id: seed as i64,
            config_hash: hash.into(),
            seed,
            status,
            worker: None,
            epochs_done: 1,
            test_acc: acc,
            test_loss: acc.map(|a| 1.0 - a),
            final_val_acc: acc.map(|a| a - 0.01),
            final_val_loss: None,
            final_train_loss: None,
            seconds: Some(1.0),
            error: None,
        }
    }

    fn sweep() -> SweepRecord {
        SweepRecord {
            id: 1,
            name: "s".into(),
            dataset: DatasetName::FashionMnist,
            spec: String::new(),
            created_at: 0.0,
            configs: vec![
                StoredConfig {
                    hash: "aaaa".into(),
                    run: run(0.1),
                    baseline: true,
                    sources: vec!["base".into(), "search[0].grid".into()],
                    proposal: None,
                },
                StoredConfig {
                    hash: "bbbb".into(),
                    run: run(0.01),
                    baseline: false,
                    sources: vec!["search[0].grid".into()],
                    proposal: None,
                },
            ],
            seeds: vec![0, 1, 2],
        }
    }

    #[test]
    fn aggregates_mean_and_sample_sd_by_hand() {
        let trials = vec![
            trial("aaaa", 0, TrialStatus::Done, Some(0.80)),
            trial("aaaa", 1, TrialStatus::Done, Some(0.82)),
            trial("aaaa", 2, TrialStatus::Done, Some(0.84)),
            trial("bbbb", 0, TrialStatus::Done, Some(0.70)),
            trial("bbbb", 1, TrialStatus::Diverged, Some(0.10)),
            trial("bbbb", 2, TrialStatus::Pending, None),
        ];
        let rows = summarize(&sweep(), &trials);
        let a = rows[0].test.as_ref().unwrap();
        assert_eq!(a.n, 3);
        assert!((a.mean - 0.82).abs() < 1e-12);
        // Sample SD of 0.80, 0.82, 0.84: sqrt((0.0004 + 0 + 0.0004) / 2) = 0.02.
        assert!((a.sd.unwrap() - 0.02).abs() < 1e-12);
        let b = rows[1].test.as_ref().unwrap();
        assert_eq!((b.n, rows[1].diverged, rows[1].unfinished), (2, 1, 1));
        assert!((b.mean - 0.40).abs() < 1e-12);
        // sqrt(((0.3)^2 + (0.3)^2) / 1) = 0.4243
        assert!((b.sd.unwrap() - 0.18f64.sqrt()).abs() < 1e-12);
        assert!(rows[0].vs_baseline.is_none());
        let w = rows[1].vs_baseline.as_ref().unwrap();
        assert!((w.diff - (0.40 - 0.82)).abs() < 1e-12);
        let val = rows[0].val.as_ref().unwrap();
        assert!((val.mean - 0.81).abs() < 1e-12);
    }

    #[test]
    fn sorts_and_renders() {
        let trials = vec![
            trial("aaaa", 0, TrialStatus::Done, Some(0.80)),
            trial("aaaa", 1, TrialStatus::Done, Some(0.82)),
            trial("bbbb", 0, TrialStatus::Done, Some(0.90)),
            trial("bbbb", 1, TrialStatus::Done, Some(0.91)),
        ];
        let all = summarize(&sweep(), &trials);
        let mut rows = all.clone();
        sort(&mut rows, &SortKey::Test);
        assert_eq!(rows[0].hash, "bbbb");
        sort(&mut rows, &SortKey::Axis("lr".into()));
        assert_eq!(rows[0].hash, "bbbb");
        let text = config_table(&rows, &all, Format::Table).render(Format::Table);
        assert!(text.contains("0.9050 ± 0.0071"), "{text}");
        assert!(text.contains("aaaa*"), "{text}");
        assert!(text.lines().next().unwrap().contains("lr"));
        let csv = config_table(&rows, &all, Format::Csv).render(Format::Csv);
        assert!(
            csv.starts_with("config,lr,n,test_acc_mean,test_acc_sd"),
            "{csv}"
        );
        assert!(SortKey::parse("bogus").unwrap_err().contains("axis"));
    }

    #[test]
    fn overlays_split_grids_by_outer_axes_and_add_the_baseline_to_lists() {
        let mut s = sweep();
        let mut adam = run(0.1);
        adam.optimizer = OptimizerConfig::new(OptimizerKind::Adam, adam.optimizer.lr);
        let mut adam2 = run(0.01);
        adam2.optimizer = OptimizerConfig::new(OptimizerKind::Adam, adam2.optimizer.lr);
        let mut drop = run(0.1);
        drop.model.dropout = 0.5;
        for (hash, run, src) in [
            ("cccc", adam, "search[0].grid"),
            ("dddd", adam2, "search[0].grid"),
            ("eeee", drop, "search[1].list"),
        ] {
            s.configs.push(StoredConfig {
                hash: hash.into(),
                run,
                baseline: false,
                sources: vec![src.into()],
                proposal: None,
            });
        }
        let o = overlays(&s);
        assert_eq!(o.len(), 3, "{o:?}");
        assert_eq!(o[0].title, "search[0].grid, optimizer=sgd");
        assert_eq!(
            (o[0].configs.clone(), o[0].axes.clone()),
            (vec![0, 1], vec!["lr"])
        );
        assert_eq!(o[1].configs, vec![2, 3]);
        assert_eq!(o[1].id, "search0-grid-optimizer-adam");
        assert_eq!(o[2].configs, vec![0, 4]);
        assert_eq!(o[2].axes, vec!["dropout"]);
    }

    #[test]
    fn baselines_fill_their_columns() {
        let all = summarize(&sweep(), &[trial("aaaa", 0, TrialStatus::Done, Some(0.8))]);
        let b = BaselineRecord {
            dataset: "fashion-mnist".into(),
            method: "svd-subspace".into(),
            k: 50,
            validation: 10_000,
            split_seed: 0,
            val_acc: 0.84,
            test_acc: 0.837,
            seconds: 6.0,
            val_curve: vec![(50, 0.84)],
        };
        let mut t = config_table(&all, &all, Format::Csv);
        append_baselines(&mut t, &[b]);
        let csv = t.render(Format::Csv);
        let last = csv.lines().last().unwrap();
        assert!(last.starts_with("svd-subspace k=50,"), "{csv}");
        assert!(
            last.contains(",0.837,") && last.contains(",0.84,"),
            "{last}"
        );
    }

    #[test]
    fn resolves_hash_prefixes() {
        let s = sweep();
        assert_eq!(resolve_config(&s, "bb").unwrap().hash, "bbbb");
        assert!(matches!(
            resolve_config(&s, "c"),
            Err(StoreError::BadConfigRef { .. })
        ));
    }

    #[test]
    fn epoch_means_across_seeds() {
        use fcnsweep_model::EpochMetrics;
        let e = |seed: u64, epoch: usize, loss: f64| EpochRecord {
            trial_id: seed as i64,
            seed,
            metrics: EpochMetrics {
                epoch,
                train_loss: loss,
                train_acc: 0.5,
                val_loss: None,
                val_acc: Some(loss / 2.0),
                seconds: 1.0,
                eval_seconds: 0.1,
            },
        };
        let rows = epoch_summaries(&[e(0, 1, 1.0), e(1, 1, 3.0), e(0, 2, 0.5), e(1, 2, 0.5)]);
        assert_eq!(rows.len(), 2);
        let l = rows[0].train_loss.as_ref().unwrap();
        assert_eq!((l.n, l.mean), (2, 2.0));
        assert!((l.sd.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert!(rows[0].val_loss.is_none());
        assert_eq!(rows[1].val_acc.as_ref().unwrap().mean, 0.25);
    }
}
