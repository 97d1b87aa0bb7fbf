//! `fcnsweep bench`'s measurements: epoch speed of the study's networks on the full dataset
//! ([`epochs`]), sweep throughput at one and several jobs ([`throughput`]), and the result
//! store's own cost ([`store`]), measured on this machine in one run; `commands/bench.rs`
//! prints them.

mod epochs;
mod store;
mod throughput;

use fcnsweep_data::DataError;
use fcnsweep_model::ModelError;
use fcnsweep_search::{RunError, StoreError};
use serde::Serialize;
use thiserror::Error;

pub use epochs::bench_epochs;
pub use store::{bench_store, FreshDb};
pub use throughput::bench_sweep;

/// Everything that can stop a benchmark.
#[derive(Debug, Error)]
pub enum BenchError {
    /// The dataset could not be loaded or split.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Training a benchmarked configuration failed.
    #[error("benchmark training failed: {0}")]
    Train(#[from] ModelError),
    /// The throughput sweep's scratch database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The throughput sweep could not run.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Trials of the throughput sweep failed, so its timing means nothing.
    #[error("{failed} benchmark trials failed")]
    TrialsFailed {
        /// Trials that failed.
        failed: usize,
    },
}

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
