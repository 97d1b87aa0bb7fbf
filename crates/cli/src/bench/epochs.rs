//! The epoch benchmark: each of the study's networks trained for a few epochs on the full
//! training part, timed per epoch and compared with the machine's matrix-product peak.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use fcnsweep_data::{Dataset, DatasetName, SplitOptions, Splits};
use fcnsweep_model::bench::{epoch_flops, matmul_peak_gflops, peak_rss_bytes};
use fcnsweep_model::{
    EpochMetrics, Init, ModelConfig, ModelError, Norm, OptimizerConfig, OptimizerKind, RunConfig,
    RunObserver, TrainConfig,
};

use super::{BenchError, BenchReport, EpochBench};

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

/// Collects the per-epoch metrics of a benchmarked run.
struct Timer {
    epochs: Vec<EpochMetrics>,
}

impl RunObserver for Timer {
    fn on_epoch(
        &mut self,
        m: &EpochMetrics,
        _: Option<&fcnsweep_model::Checkpoint>,
    ) -> Result<(), ModelError> {
        self.epochs.push(m.clone());
        Ok(())
    }
}

/// The median of `v` (NaN when empty).
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
) -> Result<(Arc<Dataset>, BenchReport), BenchError> {
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
        fcnsweep_model::train(&splits, &run, 0, &mut timer)?;
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
