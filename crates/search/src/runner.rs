//! Runs a stored sweep: `jobs` workers on a rayon pool claim trials from the store, train
//! them single-threaded, and commit every epoch as it ends; a heartbeat thread keeps the
//! claims alive, and a stop flag (Ctrl-C) returns running trials to pending.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use fcnsweep_data::{DataError, Dataset, SplitOptions, Splits};
use fcnsweep_model::{Checkpoint, EpochMetrics, ModelError, RunObserver, TrainConfig};
use thiserror::Error;

use crate::adaptive::{History, Strategy};
use crate::error::SpecError;
use crate::store::{
    CheckpointRef, ClaimOptions, ClaimedTrial, ProposalOutcome, ProposalRequest, Store, StoreError,
    SweepRecord, TrialId, TrialOutcome, Worker,
};

/// Why a sweep run stopped with an error (interruptions are not errors: see [`RunReport`]).
#[derive(Debug, Error)]
pub enum RunError {
    /// The result store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The dataset could not be split as a configuration asks.
    #[error(transparent)]
    Data(#[from] DataError),
    /// An adaptive block's proposal is not a valid configuration.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The worker pool could not be built.
    #[error("cannot start {jobs} worker threads: {detail}")]
    Pool {
        /// Threads asked for.
        jobs: usize,
        /// The system's answer.
        detail: String,
    },
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Trials trained at once, one thread each (their matrix products too).
    pub jobs: usize,
    /// Which trials to claim.
    pub claim: ClaimOptions,
    /// How often running trials' heartbeats are refreshed.
    pub heartbeat_every: Duration,
    /// Where and how often running trials write checkpoints (`None`: never).
    pub checkpoints: Option<CheckpointPolicy>,
    /// Where the networks of done trials are written (`None`: nowhere); see [`crate::kept`].
    pub weights_dir: Option<PathBuf>,
    /// How the sweep prunes and proposes (`None`: it runs its fixed plan to the end).
    pub strategy: Option<Arc<Strategy>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            claim: ClaimOptions::default(),
            heartbeat_every: Duration::from_secs(10),
            checkpoints: None,
            weights_dir: None,
            strategy: None,
        }
    }
}

/// Checkpoints of running trials: a file per trial and epoch in `dir`, written after an
/// epoch when at least `every` has passed since the trial's last one (zero: every epoch).
#[derive(Debug, Clone)]
pub struct CheckpointPolicy {
    /// The directory (created when needed); shared storage lets another host resume.
    pub dir: PathBuf,
    /// Least time between two checkpoints of a trial.
    pub every: Duration,
}

impl CheckpointPolicy {
    /// The file of trial `trial`'s checkpoint after `epoch`.
    pub fn path(&self, trial: TrialId, epoch: usize) -> PathBuf {
        self.dir
            .join(format!("trial-{trial}-e{epoch:04}.safetensors"))
    }

    /// Removes every checkpoint file of `trial`, temporary ones included.
    pub fn remove_all(&self, trial: TrialId) {
        let prefix = format!("trial-{trial}-e");
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The test-only fault switch that holds every checkpoint write this many milliseconds
/// between its temporary file and the rename, so that kill tests land inside writes.
pub const FAULT_CHECKPOINT_PAUSE_ENV: &str = "FCNSWEEP_FAULT_CHECKPOINT_PAUSE_MS";

/// [`FAULT_CHECKPOINT_PAUSE_ENV`]'s pause, read once per process.
fn fault_pause() -> Duration {
    static PAUSE: OnceLock<Duration> = OnceLock::new();
    *PAUSE.get_or_init(|| {
        std::env::var(FAULT_CHECKPOINT_PAUSE_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::ZERO)
    })
}

/// [`FAULT_ABORT_ENV`]'s configuration-hash prefix, read once per process.
fn fault_abort_prefix() -> Option<&'static str> {
    static PREFIX: OnceLock<Option<String>> = OnceLock::new();
    PREFIX
        .get_or_init(|| {
            std::env::var(FAULT_ABORT_ENV)
                .ok()
                .filter(|p| !p.is_empty())
        })
        .as_deref()
}

/// The test-only fault switch: a trial whose configuration hash starts with the value of this
/// variable aborts its process before training (what a configuration that runs out of memory
/// does), for the tests of `max_attempts`.
pub const FAULT_ABORT_ENV: &str = "FCNSWEEP_FAULT_ABORT_CONFIG";

/// Progress callbacks, called from the worker threads.
pub trait SweepObserver: Sync {
    /// A worker claimed a trial.
    fn trial_started(&self, _trial: &ClaimedTrial) {}
    /// A trial's epoch was committed.
    fn epoch_committed(&self, _trial: &ClaimedTrial, _metrics: &EpochMetrics) {}
    /// A trial's final status was committed.
    fn trial_finished(&self, _trial: &ClaimedTrial, _outcome: &TrialOutcome) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl SweepObserver for Silent {}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Trials this process finished (done or diverged).
    pub finished: usize,
    /// Trials this process marked failed.
    pub failed: usize,
    /// Trials this process stopped early by the pruner's decision.
    pub pruned: usize,
    /// Trials returned to pending because of the stop flag.
    pub released: usize,
    /// Whether the run stopped because of the stop flag.
    pub interrupted: bool,
}

/// Opens a store connection for one thread.
pub type OpenStore<'a> = dyn Fn() -> Result<Box<dyn Store>, StoreError> + Sync + 'a;

/// What determines a split: validation size, split seed, train subset, standardization.
type SplitKey = (usize, u64, Option<usize>, bool);

/// Data splits shared by every trial that needs the same split.
struct SplitCache {
    dataset: Arc<Dataset>,
    splits: Mutex<HashMap<SplitKey, Arc<Splits>>>,
}

impl SplitCache {
    fn get(&self, t: &TrainConfig) -> Result<Arc<Splits>, DataError> {
        let key = (t.validation, t.split_seed, t.train_subset, t.standardize);
        let mut map = self.splits.lock().expect("split cache lock");
        if let Some(s) = map.get(&key) {
            return Ok(s.clone());
        }
        let splits = Arc::new(Splits::new(
            self.dataset.clone(),
            &SplitOptions {
                validation: t.validation,
                split_seed: t.split_seed,
                train_subset: t.train_subset,
                standardize: t.standardize,
            },
        )?);
        map.insert(key, splits.clone());
        Ok(splits)
    }
}

/// Commits each epoch (with its checkpoint) to the store and relays the stop flag to the
/// training loop.
struct TrialRecorder<'a> {
    store: &'a mut dyn Store,
    trial: &'a ClaimedTrial,
    worker: &'a Worker,
    stop: &'a AtomicBool,
    observer: &'a dyn SweepObserver,
    store_error: Option<StoreError>,
    checkpoints: Option<&'a CheckpointPolicy>,
    /// When the last checkpoint was written (or the trial started).
    last_checkpoint: Instant,
    /// The file of the last checkpoint recorded.
    recorded: Option<PathBuf>,
    /// The sweep, and how it prunes (`None`: it does not).
    pruning: Option<(&'a SweepRecord, &'a Strategy)>,
    /// The epoch after which the pruner stopped the trial.
    pruned: Option<EpochMetrics>,
}

impl TrialRecorder<'_> {
    /// Writes `c` and returns what the store records of it; a failed write is logged and
    /// the epoch committed without a checkpoint.
    fn write(&mut self, c: &Checkpoint) -> Option<(CheckpointRef, PathBuf)> {
        let policy = self.checkpoints?;
        let path = policy.path(self.trial.id, c.epoch());
        match c.write_atomic_pausing(&path, fault_pause()) {
            Ok(sha256) => Some((
                CheckpointRef {
                    epoch: c.epoch(),
                    sha256,
                },
                path,
            )),
            Err(e) => {
                tracing::warn!(trial = self.trial.id, error = %e, "cannot write a checkpoint; going on without");
                None
            }
        }
    }
}

impl TrialRecorder<'_> {
    /// Whether the sweep's pruner stops the trial after the epoch just committed, decided
    /// from the epochs every worker has stored.
    fn prune_now(&mut self) -> Result<bool, StoreError> {
        let Some((sweep, strategy)) = self.pruning else {
            return Ok(false);
        };
        let trials = self.store.trials(sweep.id)?;
        let epochs = self.store.sweep_epochs(sweep.id)?;
        let history = History {
            sweep,
            trials: &trials,
            epochs: &epochs,
        };
        Ok(strategy.should_prune(self.trial.id, &history))
    }
}

impl RunObserver for TrialRecorder<'_> {
    fn wants_checkpoint(&self) -> bool {
        self.checkpoints
            .is_some_and(|p| self.last_checkpoint.elapsed() >= p.every)
    }

    fn on_epoch(
        &mut self,
        metrics: &EpochMetrics,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(), ModelError> {
        let written = checkpoint.and_then(|c| self.write(c));
        let reference = written.as_ref().map(|(r, _)| r);
        match self
            .store
            .record_epoch(self.trial.id, self.worker, metrics, reference)
        {
            Ok(()) => {
                if let Some((_, path)) = written {
                    self.last_checkpoint = Instant::now();
                    if let Some(old) = self.recorded.replace(path) {
                        let _ = std::fs::remove_file(old);
                    }
                }
                self.observer.epoch_committed(self.trial, metrics);
                match self.prune_now() {
                    Ok(false) => Ok(()),
                    Ok(true) => {
                        tracing::info!(trial = self.trial.id, epoch = metrics.epoch, "pruned");
                        self.pruned = Some(metrics.clone());
                        Err(ModelError::Interrupted)
                    }
                    Err(e) => {
                        self.store_error = Some(e);
                        Err(ModelError::Interrupted)
                    }
                }
            }
            Err(e) => {
                self.store_error = Some(e);
                Err(ModelError::Interrupted)
            }
        }
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Trains every runnable trial of `sweep` until none is left or `stop` is set.
///
/// `dataset` is the sweep's dataset, loaded once by the caller and shared by all workers.
pub fn run_sweep(
    open: &OpenStore<'_>,
    sweep: &SweepRecord,
    dataset: Arc<Dataset>,
    options: &RunOptions,
    stop: &AtomicBool,
    observer: &dyn SweepObserver,
) -> Result<RunReport, RunError> {
    let jobs = options.jobs.max(1);
    let worker = Worker::this_process();
    let cache = SplitCache {
        dataset,
        splits: Mutex::new(HashMap::new()),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("fcnsweep-worker-{i}"))
        .build()
        .map_err(|e| RunError::Pool {
            jobs,
            detail: e.to_string(),
        })?;
    let report = Mutex::new(RunReport::default());
    let first_error: Mutex<Option<RunError>> = Mutex::new(None);
    // Set when the workers are done (or one failed): ends the heartbeat and the other workers.
    let finished = AtomicBool::new(false);
    let abort = AtomicBool::new(false);
    let ctx = WorkContext {
        open,
        sweep,
        cache: &cache,
        worker: &worker,
        options,
        halt: HaltFlag {
            stop,
            abort: &abort,
        },
        observer,
        report: &report,
    };

    std::thread::scope(|scope| {
        scope.spawn(|| heartbeat_loop(open, &worker, options.heartbeat_every, &finished));
        loop {
            pool.scope(|s| {
                for _ in 0..jobs {
                    s.spawn(|_| {
                        let result = ctx.work();
                        if let Err(e) = result {
                            tracing::error!(error = %e, "worker stopped");
                            abort.store(true, Ordering::Relaxed);
                            first_error.lock().expect("error lock").get_or_insert(e);
                        }
                    });
                }
            });
            if ctx.halt.raised() {
                break;
            }
            // Every thread has stopped: a trial still running under this worker is one whose
            // claim was committed but not acknowledged (a connection broken at that moment).
            // Give it back and go on, rather than leave it for the staleness limit.
            match open().and_then(|mut store| store.release_orphans(&worker)) {
                Ok(0) => break,
                Ok(n) => tracing::warn!(trials = n, "returned orphaned claims to pending"),
                Err(e) => {
                    first_error
                        .lock()
                        .expect("error lock")
                        .get_or_insert(e.into());
                    break;
                }
            }
        }
        finished.store(true, Ordering::Relaxed);
    });

    if let Some(e) = first_error.into_inner().expect("error lock") {
        return Err(e);
    }
    let mut report = report.into_inner().expect("report lock");
    report.interrupted = stop.load(Ordering::Relaxed);
    Ok(report)
}

/// The user's stop flag plus an internal one raised when a sibling worker fails.
struct HaltFlag<'a> {
    stop: &'a AtomicBool,
    abort: &'a AtomicBool,
}

impl HaltFlag<'_> {
    fn raised(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.abort.load(Ordering::Relaxed)
    }
}

fn heartbeat_loop(open: &OpenStore<'_>, worker: &Worker, every: Duration, finished: &AtomicBool) {
    let mut store = match open() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "heartbeat cannot open the store");
            return;
        }
    };
    let tick = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    while !finished.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        waited += tick;
        if waited >= every {
            waited = Duration::ZERO;
            if let Err(e) = store.heartbeat(worker) {
                tracing::warn!(error = %e, "heartbeat failed");
            }
        }
    }
}

/// What every worker of one run shares.
struct WorkContext<'a> {
    /// Opens the worker's own store connection.
    open: &'a OpenStore<'a>,
    /// The sweep whose trials are claimed.
    sweep: &'a SweepRecord,
    /// Splits shared by the trials that need the same one.
    cache: &'a SplitCache,
    /// This process, as the store knows it.
    worker: &'a Worker,
    /// How to claim and run.
    options: &'a RunOptions,
    /// When to stop claiming.
    halt: HaltFlag<'a>,
    /// Told about every claim, epoch and finish.
    observer: &'a dyn SweepObserver,
    /// What the workers did, together.
    report: &'a Mutex<RunReport>,
}

impl WorkContext<'_> {
    /// Writes the trained network of a done trial into the weights directory (a failed
    /// write is logged: the trial's metrics matter more than its file).
    fn keep_weights(&self, trial: &ClaimedTrial, result: &fcnsweep_model::RunResult) {
        let (Some(dir), Some(weights)) = (&self.options.weights_dir, &result.weights) else {
            return;
        };
        if result.diverged {
            return;
        }
        let w = (**weights).clone().with_source(
            Some(&self.sweep.name),
            self.sweep.dataset.name(),
            &trial.config_hash,
            trial.seed,
            result.test_acc,
        );
        let path = crate::kept::weights_path(dir, trial.id);
        if let Err(e) = w.write(&path) {
            tracing::warn!(trial = trial.id, error = %e, "cannot keep the trained network");
        }
    }

    /// The checkpoint `trial` resumes from: read and verified, or, when it cannot be used
    /// (missing, torn, of another run), dropped with its epochs so that the trial starts
    /// over.
    fn resume(
        &self,
        store: &mut dyn Store,
        trial: &ClaimedTrial,
    ) -> Result<Option<Checkpoint>, RunError> {
        let Some(reference) = &trial.checkpoint else {
            return Ok(None);
        };
        let read = match &self.options.checkpoints {
            Some(p) => {
                Checkpoint::read_verified(&p.path(trial.id, reference.epoch), &reference.sha256)
                    .and_then(|c| {
                        if c.config == trial.run
                            && c.seed == trial.seed
                            && c.epoch() == reference.epoch
                        {
                            Ok(c)
                        } else {
                            Err(ModelError::Checkpoint("it belongs to another run".into()))
                        }
                    })
            }
            None => Err(ModelError::Checkpoint("checkpoints are off".into())),
        };
        match read {
            Ok(c) => {
                tracing::info!(
                    trial = trial.id,
                    epoch = c.epoch(),
                    "resuming from a checkpoint"
                );
                Ok(Some(c))
            }
            Err(e) => {
                tracing::warn!(
                    trial = trial.id,
                    epoch = reference.epoch,
                    error = %e,
                    "the trial's checkpoint cannot be used; training it from the start"
                );
                store.discard_progress(trial.id, self.worker)?;
                Ok(None)
            }
        }
    }

    /// The last epoch of a resumed trial, when the pruner stops it there.
    fn pruned_at_resume(
        &self,
        store: &mut dyn Store,
        trial: &ClaimedTrial,
    ) -> Result<Option<EpochMetrics>, StoreError> {
        let Some(strategy) = self.options.strategy.as_deref() else {
            return Ok(None);
        };
        if strategy.spec.prune.is_none() {
            return Ok(None);
        }
        let trials = store.trials(self.sweep.id)?;
        let epochs = store.sweep_epochs(self.sweep.id)?;
        let history = History {
            sweep: self.sweep,
            trials: &trials,
            epochs: &epochs,
        };
        if !strategy.should_prune(trial.id, &history) {
            return Ok(None);
        }
        Ok(epochs
            .into_iter()
            .rev()
            .find(|e| e.trial_id == trial.id)
            .map(|e| e.metrics))
    }

    /// Stores the adaptive block's next proposal, to be claimed next; `false` when there is
    /// none (no adaptive block, the budget spent, or the space exhausted).
    fn propose(&self, store: &mut dyn Store) -> Result<bool, RunError> {
        let Some(strategy) = self.options.strategy.as_deref() else {
            return Ok(false);
        };
        let Some((block, tpe)) = strategy.adaptive() else {
            return Ok(false);
        };
        loop {
            let sweep = store.sweep(&self.sweep.name)?;
            let trials = store.trials(sweep.id)?;
            let epochs = store.sweep_epochs(sweep.id)?;
            let history = History {
                sweep: &sweep,
                trials: &trials,
                epochs: &epochs,
            };
            let Some(config) = strategy.propose(&history)? else {
                return Ok(false);
            };
            let request = ProposalRequest {
                block: block.clone(),
                number: history.proposals(),
                budget: tpe.trials,
                config,
            };
            match store.propose(sweep.id, self.worker, &request)? {
                ProposalOutcome::Stored => return Ok(true),
                ProposalOutcome::BudgetSpent => return Ok(false),
                // Another worker proposed meanwhile: decide again from the new history.
                ProposalOutcome::Conflict => {}
            }
        }
    }

    /// One worker: claims and trains trials until none is left or the halt flag is raised.
    fn work(&self) -> Result<(), RunError> {
        let WorkContext {
            open,
            sweep,
            cache,
            worker,
            options,
            ref halt,
            observer,
            report,
        } = *self;
        let mut store = open()?;
        while !halt.raised() {
            let Some(trial) = store.claim(sweep.id, worker, &options.claim)? else {
                if self.propose(store.as_mut())? {
                    continue;
                }
                break;
            };
            let started = Instant::now();
            observer.trial_started(&trial);
            if let Some(prefix) = fault_abort_prefix() {
                if trial.config_hash.starts_with(prefix) {
                    tracing::error!(trial = trial.id, "{FAULT_ABORT_ENV}: aborting the process");
                    std::process::abort();
                }
            }
            let resume = self.resume(store.as_mut(), &trial)?;
            if resume.is_some() {
                // Its process may have died between an epoch's commit and the pruner's
                // decision on it: decide now, as the uninterrupted run did.
                if let Some(last) = self.pruned_at_resume(store.as_mut(), &trial)? {
                    let outcome = TrialOutcome::Pruned {
                        last,
                        seconds: started.elapsed().as_secs_f64(),
                    };
                    store.finish(trial.id, worker, &outcome)?;
                    if let Some(p) = &options.checkpoints {
                        p.remove_all(trial.id);
                    }
                    observer.trial_finished(&trial, &outcome);
                    report.lock().expect("report lock").pruned += 1;
                    continue;
                }
            }
            let splits = match cache.get(&trial.run.train) {
                Ok(s) => s,
                Err(e) => {
                    let outcome = TrialOutcome::Failed(e.to_string());
                    store.finish(trial.id, worker, &outcome)?;
                    observer.trial_finished(&trial, &outcome);
                    report.lock().expect("report lock").failed += 1;
                    continue;
                }
            };
            let mut recorder = TrialRecorder {
                store: store.as_mut(),
                trial: &trial,
                worker,
                stop: halt.stop,
                observer,
                store_error: None,
                checkpoints: options.checkpoints.as_ref(),
                last_checkpoint: Instant::now(),
                recorded: resume.as_ref().and_then(|_| {
                    let ck = trial.checkpoint.as_ref()?;
                    Some(options.checkpoints.as_ref()?.path(trial.id, ck.epoch))
                }),
                pruning: options
                    .strategy
                    .as_deref()
                    .filter(|s| s.spec.prune.is_some())
                    .map(|s| (sweep, s)),
                pruned: None,
            };
            let result = fcnsweep_model::train_from(
                &splits,
                &trial.run,
                trial.seed,
                &mut recorder,
                resume.as_ref(),
                // The pool's `jobs` threads are the parallelism. The CLI also sets
                // RAYON_NUM_THREADS=1 (for candle); this holds for library callers too.
                Some(1),
            );
            if let Some(e) = recorder.store_error.take() {
                if matches!(e, StoreError::LostClaim(_)) {
                    tracing::warn!(trial = trial.id, "claim lost to another worker; moving on");
                    continue;
                }
                // Leave the trial for a later resume rather than half-recorded.
                let _ = store.release(trial.id, worker);
                return Err(e.into());
            }
            let outcome = match (recorder.pruned.take(), result) {
                (Some(last), _) => TrialOutcome::Pruned {
                    last,
                    seconds: started.elapsed().as_secs_f64(),
                },
                (None, Ok(r)) => {
                    self.keep_weights(&trial, &r);
                    TrialOutcome::Finished(r)
                }
                (None, Err(ModelError::Interrupted)) => {
                    store.release(trial.id, worker)?;
                    report.lock().expect("report lock").released += 1;
                    break;
                }
                (None, Err(e)) => TrialOutcome::Failed(e.to_string()),
            };
            match store.finish(trial.id, worker, &outcome) {
                Ok(()) => {
                    if let Some(p) = &options.checkpoints {
                        p.remove_all(trial.id);
                    }
                }
                Err(StoreError::LostClaim(id)) => {
                    tracing::warn!(trial = id, "claim lost before finishing; result dropped");
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            observer.trial_finished(&trial, &outcome);
            let mut r = report.lock().expect("report lock");
            match outcome {
                TrialOutcome::Finished(_) => r.finished += 1,
                TrialOutcome::Failed(_) => r.failed += 1,
                TrialOutcome::Pruned { .. } => r.pruned += 1,
            }
        }
        Ok(())
    }
}
