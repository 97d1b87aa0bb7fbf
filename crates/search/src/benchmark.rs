//! `fcnsweep bench`: epoch speed of the study's networks on the full dataset, and sweep
//! throughput at one and several jobs, measured on this machine in one run.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use fcnsweep_data::{Dataset, DatasetName, SplitOptions, Splits};
use fcnsweep_model::bench::{epoch_flops, matmul_peak_gflops, peak_rss_bytes};
use fcnsweep_model::{
    EpochMetrics, Init, ModelConfig, ModelError, Norm, OptimizerConfig, OptimizerKind, RunConfig,
    RunObserver, TrainConfig,
};
use serde::Serialize;

use crate::expand::{PlannedConfig, SweepPlan};
use crate::identity::config_hash;
use crate::runner::{run_sweep, RunError, RunOptions, Silent};
use crate::store::{RegisterOptions, SqliteStore, Store, StoreError};

/// One benchmarked configuration.
#[derive(Debug, Clone, Serialize)]
pub struct EpochBench {
    /// Short description.
    pub name: String,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Median wall time of an epoch (training and validation pass).
    pub epoch_seconds: f64,
    /// Median time of the validation pass within an epoch.
    pub eval_seconds: f64,
    /// Training samples per second.
    pub samples_per_second: f64,
    /// Matrix-product GFLOP/s achieved over the epoch.
    pub gflops: f64,
    /// `gflops` as a share of the measured matrix-multiply peak.
    pub peak_share: f64,
    /// Peak resident memory of the process so far, in MB.
    pub peak_rss_mb: f64,
}

/// Sweep throughput at one job count.
#[derive(Debug, Clone, Serialize)]
pub struct SweepBench {
    /// Trials run at once.
    pub jobs: usize,
    /// Trials in the sweep.
    pub trials: usize,
    /// Wall time of the whole sweep.
    pub seconds: f64,
    /// Trials per hour.
    pub trials_per_hour: f64,
}

/// Everything `fcnsweep bench` measures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Dataset benchmarked.
    pub dataset: String,
    /// Seconds to read and decode the four gzip files.
    pub load_seconds: f64,
    /// Threads of the epoch benchmark's matrix products.
    pub threads: usize,
    /// Measured f32 matrix-multiply peak at those threads, GFLOP/s.
    pub peak_gflops: f64,
    /// Per configuration.
    pub configs: Vec<EpochBench>,
    /// Per job count (empty unless requested).
    pub sweeps: Vec<SweepBench>,
}

/// The configurations of the epoch benchmark: the study's baseline at batch 64 and 256, the
/// tuned network with dropout, and the baseline with batch norm.
pub fn bench_configs() -> Vec<(String, RunConfig)> {
    let run = |hidden: Vec<usize>, kind, lr, dropout, init, norm, batch_size| RunConfig {
        model: ModelConfig {
            hidden,
            dropout,
            init,
            init_std: 0.1,
            norm,
        },
        optimizer: OptimizerConfig::new(kind, lr),
        train: TrainConfig {
            batch_size,
            ..TrainConfig::default()
        },
    };
    use Init::{Default as Def, HeUniform};
    use OptimizerKind::{Rmsprop, Sgd};
    vec![
        (
            "baseline 500-50 sgd".into(),
            run(vec![500, 50], Sgd, 0.1, 0.0, Def, Norm::None, 64),
        ),
        (
            "baseline 500-50 sgd".into(),
            run(vec![500, 50], Sgd, 0.1, 0.0, Def, Norm::None, 256),
        ),
        (
            "tuned 700-200-50 rmsprop dropout".into(),
            run(
                vec![700, 200, 50],
                Rmsprop,
                1e-4,
                0.15,
                HeUniform,
                Norm::None,
                64,
            ),
        ),
        (
            "baseline + batch norm".into(),
            run(vec![500, 50], Sgd, 0.1, 0.0, Def, Norm::Batch, 64),
        ),
    ]
}

struct Timer {
    epochs: Vec<EpochMetrics>,
}

impl RunObserver for Timer {
    fn on_epoch(&mut self, m: &EpochMetrics) -> Result<(), ModelError> {
        self.epochs.push(m.clone());
        Ok(())
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Loads the dataset (timed) and measures each configuration over `epochs` epochs of the
/// full training part (50,000 images, 10,000 validation), with the matrix-product threading
/// training uses (`RAYON_NUM_THREADS`, else the physical cores).
pub fn bench_epochs(
    data_dir: &Path,
    dataset: DatasetName,
    epochs: usize,
    mut progress: impl FnMut(&str),
) -> Result<(Arc<Dataset>, BenchReport), RunError> {
    let start = Instant::now();
    let data = Dataset::load(data_dir, dataset)?;
    let load_seconds = start.elapsed().as_secs_f64();
    let threads = candle_threads();
    progress(&format!(
        "measuring the matrix-multiply peak on {threads} threads"
    ));
    let peak = matmul_peak_gflops(None);
    let mut configs = Vec::new();
    for (name, mut run) in bench_configs() {
        run.train.epochs = epochs.max(1);
        progress(&format!(
            "{name}, batch {}: {} epochs",
            run.train.batch_size, run.train.epochs
        ));
        let splits = Splits::new(
            data.clone(),
            &SplitOptions {
                validation: run.train.validation,
                split_seed: 0,
                train_subset: None,
                standardize: false,
            },
        )?;
        let mut timer = Timer { epochs: Vec::new() };
        fcnsweep_model::train(&splits, &run, 0, &mut timer)
            .map_err(|e| RunError::Bench(e.to_string()))?;
        let epoch_seconds = median(timer.epochs.iter().map(|e| e.seconds).collect());
        let eval_seconds = median(timer.epochs.iter().map(|e| e.eval_seconds).collect());
        let flops = epoch_flops(
            &run.model,
            splits.features(),
            10,
            splits.train_len(),
            splits.val_len(),
        );
        let gflops = flops / epoch_seconds / 1e9;
        configs.push(EpochBench {
            name,
            batch_size: run.train.batch_size,
            epoch_seconds,
            eval_seconds,
            samples_per_second: splits.train_len() as f64 / epoch_seconds,
            gflops,
            peak_share: gflops / peak,
            peak_rss_mb: peak_rss_bytes().map_or(f64::NAN, |b| b as f64 / 1e6),
        });
    }
    Ok((
        data,
        BenchReport {
            dataset: dataset.name().to_string(),
            load_seconds,
            threads,
            peak_gflops: peak,
            configs,
            sweeps: Vec::new(),
        },
    ))
}

/// Threads candle and the fused engine use for one product.
fn candle_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

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
) -> Result<SweepBench, RunError> {
    let plan = throughput_plan(data.name);
    let db = scratch.join(format!("bench-jobs{jobs}.sqlite"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut store = SqliteStore::open(&db)?;
    store.register_sweep(&plan, "bench", RegisterOptions::default())?;
    let sweep = store.sweep(&plan.name)?;
    let open = || SqliteStore::open(&db).map(|s| Box::new(s) as Box<dyn Store>);
    let stop = AtomicBool::new(false);
    let options = RunOptions {
        jobs,
        ..RunOptions::default()
    };
    let start = Instant::now();
    let report = run_sweep(&open, &sweep, data, &options, &stop, &Silent)?;
    let seconds = start.elapsed().as_secs_f64();
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    if report.failed > 0 {
        return Err(RunError::Store(StoreError::Corrupt {
            path: db,
            detail: format!("{} benchmark trials failed", report.failed),
        }));
    }
    Ok(SweepBench {
        jobs,
        trials: plan.trial_count(),
        seconds,
        trials_per_hour: plan.trial_count() as f64 * 3600.0 / seconds,
    })
}
