//! The result store of fcnsweep: sweeps, configurations, trials, per-epoch metrics, classical
//! baselines and imported runs, behind one interface ([`Store`]) with two backends.
//!
//! - SQLite ([`SqliteStore`]), one file, the embedded default for one machine;
//! - PostgreSQL ([`PostgresStore`]), a server that many workers on many machines share.
//!
//! A [`Location`] (`--db` / `FCNSWEEP_DB`: a path, `sqlite:PATH` or a `postgres://` URL)
//! opens either; callers hold a `Box<dyn Store>` and never name a backend. The rules that do
//! not depend on the backend are written once: how a plan relates to a stored sweep
//! ([`plan::compare`]), which running trials are abandoned ([`recovery::abandoned`]), and
//! copying between stores ([`copy::copy`]).

mod columns;
pub mod copy;
mod error;
pub mod filesystem;
mod location;
pub mod plan;
mod postgres;
mod records;
pub mod recovery;
mod sqlite;

pub use error::StoreError;
pub use location::{Location, DEFAULT_DB};
pub use plan::{PlannedConfig, SweepPlan};
pub use postgres::PostgresStore;
pub use records::{
    BaselineRecord, CheckpointRef, ClaimOptions, ClaimedTrial, EpochRecord, ExternalTrial,
    ProposalOutcome, ProposalRequest, RegisterOptions, Registered, StatusCounts, StoredConfig,
    SweepListing, SweepRecord, TrialId, TrialOutcome, TrialRecord, TrialStatus, Worker,
};
pub use sqlite::SqliteStore;

use fcnsweep_model::EpochMetrics;

/// The schema version this build writes, the same for both backends.
pub const SCHEMA_VERSION: i64 = 7;

/// The storage interface of the engine: register, claim, heartbeat, record, finish, query.
///
/// Every write made on behalf of a claimed trial names the worker; a write for a trial the
/// worker no longer owns fails with [`StoreError::LostClaim`], so no trial is recorded twice.
pub trait Store: Send {
    /// The database, for messages: a file path, or a URL without its password.
    fn describe(&self) -> String;
    /// Stores a sweep's spec, configurations, seeds and pending trials (idempotent).
    fn register_sweep(
        &mut self,
        plan: &SweepPlan,
        spec_text: &str,
        options: RegisterOptions,
    ) -> Result<Registered, StoreError>;
    /// Checks, writing nothing, that registering `plan` would be accepted (see
    /// [`plan::compare`]).
    fn check_plan(&mut self, plan: &SweepPlan, options: RegisterOptions) -> Result<(), StoreError>;
    /// Loads a sweep by name.
    fn sweep(&mut self, name: &str) -> Result<SweepRecord, StoreError>;
    /// The id of a sweep by name, if there is one.
    fn find_sweep(&mut self, name: &str) -> Result<Option<i64>, StoreError>;
    /// Every sweep with its trial counts.
    fn list_sweeps(&mut self) -> Result<Vec<SweepListing>, StoreError>;
    /// Atomically takes the next runnable trial of the sweep (pending, abandoned, or failed
    /// with `retry_failed`), or `None` when nothing is left to run.
    fn claim(
        &mut self,
        sweep_id: i64,
        worker: &Worker,
        options: &ClaimOptions,
    ) -> Result<Option<ClaimedTrial>, StoreError>;
    /// Refreshes the heartbeat of every trial the worker is running.
    fn heartbeat(&mut self, worker: &Worker) -> Result<(), StoreError>;
    /// Commits one finished epoch of a running trial, with the checkpoint written after it
    /// (recorded in the same transaction), if one was.
    fn record_epoch(
        &mut self,
        trial: TrialId,
        worker: &Worker,
        metrics: &EpochMetrics,
        checkpoint: Option<&CheckpointRef>,
    ) -> Result<(), StoreError>;
    /// Drops a claimed trial's epochs and checkpoint, to train it from the start (its
    /// checkpoint file is missing or damaged).
    fn discard_progress(&mut self, trial: TrialId, worker: &Worker) -> Result<(), StoreError>;
    /// Commits a trial's final status and metrics in one transaction.
    fn finish(
        &mut self,
        trial: TrialId,
        worker: &Worker,
        outcome: &TrialOutcome,
    ) -> Result<(), StoreError>;
    /// Returns a running trial to pending and drops its partial epochs (interruption).
    fn release(&mut self, trial: TrialId, worker: &Worker) -> Result<(), StoreError>;
    /// Returns to pending every trial still running under `worker`, with its partial epochs
    /// dropped; called once all of the worker's threads have stopped, when any such trial is
    /// a claim whose answer a broken connection lost. Returns how many there were.
    fn release_orphans(&mut self, worker: &Worker) -> Result<usize, StoreError>;
    /// Trial counts by status.
    fn status_counts(&mut self, sweep_id: i64) -> Result<StatusCounts, StoreError>;
    /// Mean wall time of the sweep's finished trials (for ETAs).
    fn mean_trial_seconds(&mut self, sweep_id: i64) -> Result<Option<f64>, StoreError>;
    /// Every current trial of the sweep, in configuration then seed order.
    fn trials(&mut self, sweep_id: i64) -> Result<Vec<TrialRecord>, StoreError>;
    /// Every stored epoch of the sweep's finished trials of one configuration.
    fn epochs(&mut self, sweep_id: i64, config_hash: &str) -> Result<Vec<EpochRecord>, StoreError>;
    /// Every stored epoch of every current trial of the sweep, whatever its status, by trial
    /// then epoch: the learning curves pruners and adaptive samplers decide from.
    fn sweep_epochs(&mut self, sweep_id: i64) -> Result<Vec<EpochRecord>, StoreError>;
    /// Stores a configuration an adaptive block proposes, with the sweep's pending trial of
    /// it claimed by `worker`, in one transaction, unless the sweep's proposals no longer
    /// number `request.number` or already reach the budget: so a budget shared by many
    /// workers is never exceeded.
    fn propose(
        &mut self,
        sweep_id: i64,
        worker: &Worker,
        request: &ProposalRequest,
    ) -> Result<ProposalOutcome, StoreError>;
    /// Stores a finished (or failed) trial copied from another store, with its epochs, over
    /// the current trial of its configuration and seed unless that one is already finished.
    /// Returns whether it was written.
    fn store_copied_trial(
        &mut self,
        sweep_id: i64,
        trial: &TrialRecord,
        epochs: &[EpochMetrics],
    ) -> Result<bool, StoreError>;
    /// Stores (or replaces) a classical baseline's result for its dataset and split.
    fn record_baseline(&mut self, baseline: &BaselineRecord) -> Result<(), StoreError>;
    /// Every stored classical baseline of a dataset, best test accuracy first.
    fn baselines(&mut self, dataset: &str) -> Result<Vec<BaselineRecord>, StoreError>;
    /// Stores results of another framework under `source`, replacing earlier rows of the
    /// same (source, configuration, seed), all or nothing. Every configuration must already
    /// be in the database.
    fn import_external(
        &mut self,
        source: &str,
        trials: &[ExternalTrial],
    ) -> Result<usize, StoreError>;
    /// The imported results of `source` (empty when there are none).
    fn external_trials(&mut self, source: &str) -> Result<Vec<ExternalTrial>, StoreError>;
    /// The names of the imported sources.
    fn external_sources(&mut self) -> Result<Vec<String>, StoreError>;
}

/// A JSON column of database `db` (`what` names it for the message); a value that does not
/// parse is a [`StoreError::Corrupt`].
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    db: &str,
    what: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        db: db.to_string(),
        detail: format!("{what} does not parse: {e}"),
    })
}

/// Final metrics of a trial in the database's convention: non-finite values are NULL.
pub(crate) fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}
