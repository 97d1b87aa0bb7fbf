//! `fcnsweep bench store`: the result store's own cost, for SQLite and PostgreSQL side by
//! side in one run: claim-and-finish throughput of empty trials with 1, 4 and 8 concurrent
//! workers (each a thread with its own connection, as `--jobs` runs them), and the latency
//! of committing one epoch.

use std::time::Instant;

use fcnsweep_data::DatasetName;
use fcnsweep_model::axes::default_run;
use fcnsweep_model::{EpochMetrics, RunResult};
use fcnsweep_search::config_hash;
use fcnsweep_store::{
    ClaimOptions, Location, PlannedConfig, RegisterOptions, StoreError, SweepPlan, TrialOutcome,
    Worker,
};
use serde::Serialize;

/// Claim-and-finish throughput of one backend at one worker count.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimBench {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Concurrent workers.
    pub workers: usize,
    /// Trials claimed and finished.
    pub trials: usize,
    /// Wall time.
    pub seconds: f64,
    /// Trials claimed and finished per second, all workers together.
    pub claims_per_second: f64,
}

/// Epoch-commit latency of one backend.
#[derive(Debug, Clone, Serialize)]
pub struct EpochCommitBench {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Epochs committed.
    pub epochs: usize,
    /// Median latency of one commit, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// Mean latency as a share of a 1-second epoch, percent.
    pub overhead_percent_of_1s_epoch: f64,
}

/// What `fcnsweep bench store` measures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreBench {
    /// Per backend and worker count.
    pub claims: Vec<ClaimBench>,
    /// Per backend.
    pub epoch_commits: Vec<EpochCommitBench>,
}

/// A sweep of `trials` empty trials: `trials / 10` configurations x 10 seeds.
fn plan(trials: usize) -> SweepPlan {
    let configs = trials.div_ceil(10);
    SweepPlan {
        name: "bench-store".into(),
        dataset: DatasetName::FashionMnist,
        seeds: (0..10).collect(),
        configs: (0..configs)
            .map(|i| {
                let mut run = default_run();
                run.optimizer.lr = 0.001 * (i + 1) as f64;
                PlannedConfig {
                    hash: config_hash(DatasetName::FashionMnist, &run),
                    run,
                    baseline: i == 0,
                    sources: vec!["bench".into()],
                }
            })
            .collect(),
    }
}

fn empty_result() -> TrialOutcome {
    TrialOutcome::Finished(RunResult {
        epochs: Vec::new(),
        test_loss: 0.0,
        test_acc: 0.0,
        diverged: false,
        seconds: 0.0,
        weights: None,
    })
}

/// Claims and finishes every trial of a fresh sweep with `workers` threads.
fn claims(loc: &Location, trials: usize, workers: usize) -> Result<(usize, f64), StoreError> {
    let plan = plan(trials);
    let mut store = loc.open()?;
    store.register_sweep(&plan, "bench", RegisterOptions::default())?;
    let id = store.find_sweep(&plan.name)?.expect("just registered");
    let start = Instant::now();
    let done = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|i| {
                scope.spawn(move || -> Result<usize, StoreError> {
                    let mut store = loc.open()?;
                    let mut worker = Worker::this_process();
                    worker.id = format!("{}-{i}", worker.id);
                    let mut n = 0;
                    while let Some(t) = store.claim(id, &worker, &ClaimOptions::default())? {
                        store.finish(t.id, &worker, &empty_result())?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .sum::<Result<usize, StoreError>>()
    })?;
    Ok((done, start.elapsed().as_secs_f64()))
}

/// Commits `epochs` epochs of one claimed trial and returns each commit's latency (s).
fn epoch_commits(loc: &Location, epochs: usize) -> Result<Vec<f64>, StoreError> {
    let plan = plan(10);
    let mut store = loc.open()?;
    store.register_sweep(&plan, "bench", RegisterOptions::default())?;
    let id = store.find_sweep(&plan.name)?.expect("just registered");
    let worker = Worker::this_process();
    let trial = store
        .claim(id, &worker, &ClaimOptions::default())?
        .expect("a pending trial");
    (1..=epochs)
        .map(|epoch| {
            let m = EpochMetrics {
                epoch,
                train_loss: 0.5,
                train_acc: 0.8,
                val_loss: Some(0.5),
                val_acc: Some(0.8),
                seconds: 1.0,
                eval_seconds: 0.1,
            };
            let t = Instant::now();
            store.record_epoch(trial.id, &worker, &m, None)?;
            Ok(t.elapsed().as_secs_f64())
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Makes a fresh scratch database of one backend.
pub type FreshDb<'a> = &'a dyn Fn() -> Result<Location, StoreError>;

/// Measures every backend of `backends` (a name and a function making a fresh scratch
/// database) at every worker count.
pub fn bench_store(
    backends: &[(&str, FreshDb<'_>)],
    trials: usize,
    workers: &[usize],
    epochs: usize,
    progress: impl Fn(&str),
) -> Result<StoreBench, StoreError> {
    let mut report = StoreBench::default();
    for (name, fresh) in backends {
        for &w in workers {
            progress(&format!("{name}: {trials} claims with {w} workers"));
            let loc = fresh()?;
            let result = claims(&loc, trials, w);
            loc.remove_scratch()?;
            let (done, seconds) = result?;
            report.claims.push(ClaimBench {
                backend: name.to_string(),
                workers: w,
                trials: done,
                seconds,
                claims_per_second: done as f64 / seconds,
            });
        }
        progress(&format!("{name}: {epochs} epoch commits"));
        let loc = fresh()?;
        let result = epoch_commits(&loc, epochs);
        loc.remove_scratch()?;
        let mut lat = result?;
        lat.sort_by(f64::total_cmp);
        let mean = lat.iter().sum::<f64>() / lat.len() as f64;
        report.epoch_commits.push(EpochCommitBench {
            backend: name.to_string(),
            epochs,
            p50_ms: percentile(&lat, 0.5) * 1e3,
            p95_ms: percentile(&lat, 0.95) * 1e3,
            overhead_percent_of_1s_epoch: mean * 100.0,
        });
    }
    Ok(report)
}
