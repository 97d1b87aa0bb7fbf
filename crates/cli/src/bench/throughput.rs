//! The throughput benchmark: a small sweep run at a given job count in a scratch database.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use fcnsweep_data::{Dataset, DatasetName};
use fcnsweep_model::{ModelConfig, OptimizerConfig, OptimizerKind, RunConfig, TrainConfig};
use fcnsweep_search::runner::Silent;
use fcnsweep_search::{config_hash, run_sweep, PlannedConfig, RunOptions, SweepPlan};
use fcnsweep_store::{Location, RegisterOptions};

use super::{BenchError, SweepBench};

/// The small sweep of the throughput benchmark: 4 learning rates × 2 seeds of the baseline,
/// 2 epochs on 10,000 training images.
pub fn throughput_plan(dataset: DatasetName) -> SweepPlan {
    let configs = [0.1, 0.05, 0.02, 0.01]
        .into_iter()
        .map(|lr| {
            let run = RunConfig {
                model: ModelConfig::default(),
                optimizer: OptimizerConfig::new(OptimizerKind::Sgd, lr),
                train: TrainConfig {
                    epochs: 2,
                    train_subset: Some(10_000),
                    ..TrainConfig::default()
                },
            };
            PlannedConfig {
                hash: config_hash(dataset, &run),
                baseline: lr == 0.1,
                sources: vec!["bench".into()],
                run,
            }
        })
        .collect();
    SweepPlan {
        name: "bench-throughput".into(),
        dataset,
        seeds: vec![0, 1],
        configs,
    }
}

/// Runs [`throughput_plan`] with `jobs` workers in a fresh database in `scratch` (a
/// directory), and returns its throughput. Trials must already be single-threaded
/// (`RAYON_NUM_THREADS=1`, as `sweep run` sets it).
pub fn bench_sweep(
    scratch: &Path,
    data: Arc<Dataset>,
    jobs: usize,
) -> Result<SweepBench, BenchError> {
    let plan = throughput_plan(data.name);
    let db = scratch.join(format!("bench-jobs{jobs}.sqlite"));
    remove_database(&db);
    let location = Location::Sqlite(db.clone());
    let mut store = location.open()?;
    store.register_sweep(&plan, "bench", RegisterOptions::default())?;
    let sweep = store.sweep(&plan.name)?;
    let open = || location.open();
    let stop = AtomicBool::new(false);
    let options = RunOptions {
        jobs,
        ..RunOptions::default()
    };
    let start = Instant::now();
    let report = run_sweep(&open, &sweep, data, &options, &stop, &Silent)?;
    let seconds = start.elapsed().as_secs_f64();
    drop(store);
    remove_database(&db);
    if report.failed > 0 {
        return Err(BenchError::TrialsFailed {
            failed: report.failed,
        });
    }
    Ok(SweepBench {
        jobs,
        trials: plan.trial_count(),
        seconds,
        trials_per_hour: plan.trial_count() as f64 * 3600.0 / seconds,
    })
}

/// Removes a scratch SQLite database with its write-ahead log and shared-memory files.
fn remove_database(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
