//! The records the store takes and gives: trial statuses, workers, sweeps, trials, epochs,
//! classical baselines and imported runs of other frameworks.

use std::time::Duration;

use fcnsweep_data::DatasetName;
use fcnsweep_model::{EpochMetrics, RunConfig, RunResult};
use serde::{Deserialize, Serialize};

/// Database row id of a trial.
pub type TrialId = i64;

/// Lifecycle of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    /// Not started, or returned after an interruption.
    Pending,
    /// Claimed by a worker that heartbeats it.
    Running,
    /// Finished normally.
    Done,
    /// Stopped by an error (rerun only with `--retry-failed`).
    Failed,
    /// Finished early because the loss became NaN or infinite; its metrics count.
    Diverged,
    /// Stopped early by the sweep's pruner; its epochs are kept, it has no test metrics and
    /// it is never run again (not even with `--retry-failed`).
    Pruned,
}

impl TrialStatus {
    /// All statuses, in lifecycle order.
    pub const ALL: [TrialStatus; 6] = [
        Self::Pending,
        Self::Running,
        Self::Done,
        Self::Failed,
        Self::Diverged,
        Self::Pruned,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Diverged => "diverged",
            Self::Pruned => "pruned",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the trial has final metrics (done or diverged).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Diverged)
    }
}

/// The process that claims and runs trials.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Unique id: `host:pid:nonce`.
    pub id: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
}

impl Worker {
    /// Identifies this process.
    pub fn this_process() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "localhost".to_string());
        let pid = std::process::id();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Self {
            id: format!("{host}:{pid}:{nonce:08x}"),
            host,
            pid,
        }
    }
}

/// How a sweep is (re-)registered.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegisterOptions {
    /// Accept a changed spec under an existing name, adding its new configurations and seeds.
    pub extend: bool,
    /// Retrain trials that are already done: they are superseded by fresh pending ones.
    pub no_reuse: bool,
}

/// What registering a sweep did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// A new sweep.
    Created,
    /// The sweep existed with the same configurations and seeds.
    Unchanged,
    /// The sweep existed; this many configurations and seeds were added.
    Extended {
        /// Configurations added.
        configs: usize,
        /// Seeds added.
        seeds: usize,
    },
}

/// A configuration as stored for a sweep.
#[derive(Debug, Clone)]
pub struct StoredConfig {
    /// Content hash (identity).
    pub hash: String,
    /// The parameters.
    pub run: RunConfig,
    /// Whether it is the spec's base configuration.
    pub baseline: bool,
    /// The spec blocks that produced it (`"base"`, `"search[0].grid"`, ...).
    pub sources: Vec<String>,
    /// For a configuration an adaptive block proposed while the sweep ran: its number in
    /// the order of proposals (0 for the first); `None` for the planned ones.
    pub proposal: Option<usize>,
}

/// A stored sweep with its configurations (in spec order) and seeds.
#[derive(Debug, Clone)]
pub struct SweepRecord {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Dataset all its configurations train on.
    pub dataset: DatasetName,
    /// The YAML text it was registered with.
    pub spec: String,
    /// Unix time of creation.
    pub created_at: f64,
    /// Configurations in order of first appearance.
    pub configs: Vec<StoredConfig>,
    /// Seeds every configuration is trained with.
    pub seeds: Vec<u64>,
}

impl SweepRecord {
    /// How many configurations adaptive blocks have proposed so far.
    pub fn proposals(&self) -> usize {
        self.configs.iter().filter(|c| c.proposal.is_some()).count()
    }
}

/// A trial handed to a worker.
#[derive(Debug, Clone)]
pub struct ClaimedTrial {
    /// Row id.
    pub id: TrialId,
    /// Configuration hash.
    pub config_hash: String,
    /// Parameters to train with.
    pub run: RunConfig,
    /// Run seed.
    pub seed: u64,
    /// Whether stale partial results of a dead worker were cleared to claim it.
    pub recovered: bool,
    /// The checkpoint to resume from (its epochs are kept), if the trial has one.
    pub checkpoint: Option<CheckpointRef>,
}

/// A checkpoint a trial recorded: the file for `epoch` in the checkpoint directory and the
/// SHA-256 its bytes must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRef {
    /// Epochs the checkpoint covers.
    pub epoch: usize,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// How claiming treats failed and abandoned trials.
#[derive(Debug, Clone, Copy)]
pub struct ClaimOptions {
    /// Also claim failed trials.
    pub retry_failed: bool,
    /// A running trial whose heartbeat is older than this is considered abandoned.
    pub stale_after: Duration,
    /// Deaths of a trial's process in a row without a new checkpoint after which the trial
    /// is marked failed instead of run again.
    pub max_attempts: u32,
}

impl Default for ClaimOptions {
    fn default() -> Self {
        Self {
            retry_failed: false,
            stale_after: Duration::from_secs(120),
            max_attempts: 3,
        }
    }
}

/// How a trial ended.
#[derive(Debug, Clone)]
pub enum TrialOutcome {
    /// Finished (or diverged, per `RunResult::diverged`).
    Finished(RunResult),
    /// Stopped by an error.
    Failed(String),
    /// Stopped early by the pruner after the epoch `last` (already committed).
    Pruned {
        /// The last epoch trained.
        last: EpochMetrics,
        /// Wall time of the run so far.
        seconds: f64,
    },
}

/// Trial counts of a sweep by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// Not yet run.
    pub pending: usize,
    /// Being run.
    pub running: usize,
    /// Finished.
    pub done: usize,
    /// Errored.
    pub failed: usize,
    /// Finished with a non-finite loss.
    pub diverged: usize,
    /// Stopped early by the pruner.
    pub pruned: usize,
}

impl StatusCounts {
    /// All trials.
    pub fn total(&self) -> usize {
        self.pending + self.running + self.done + self.failed + self.diverged + self.pruned
    }

    /// Adds `n` trials of `status`.
    pub fn add(&mut self, status: TrialStatus, n: usize) {
        *match status {
            TrialStatus::Pending => &mut self.pending,
            TrialStatus::Running => &mut self.running,
            TrialStatus::Done => &mut self.done,
            TrialStatus::Failed => &mut self.failed,
            TrialStatus::Diverged => &mut self.diverged,
            TrialStatus::Pruned => &mut self.pruned,
        } += n;
    }

    /// Trials with final metrics.
    pub fn finished(&self) -> usize {
        self.done + self.diverged
    }
}

/// One row of `sweep list`.
#[derive(Debug, Clone, Serialize)]
pub struct SweepListing {
    /// Name.
    pub name: String,
    /// Dataset.
    pub dataset: String,
    /// Number of configurations.
    pub configs: usize,
    /// Number of seeds.
    pub seeds: usize,
    /// Trial counts.
    pub counts: StatusCounts,
    /// Unix creation time.
    pub created_at: f64,
}

/// A stored trial.
#[derive(Debug, Clone, Serialize)]
pub struct TrialRecord {
    /// Row id.
    pub id: TrialId,
    /// Configuration hash.
    pub config_hash: String,
    /// Seed.
    pub seed: u64,
    /// Status.
    pub status: TrialStatus,
    /// Claiming worker, if any.
    pub worker: Option<String>,
    /// Epochs recorded.
    pub epochs_done: usize,
    /// Test accuracy (finished trials).
    pub test_acc: Option<f64>,
    /// Test loss (finished trials).
    pub test_loss: Option<f64>,
    /// Validation accuracy after the last epoch.
    pub final_val_acc: Option<f64>,
    /// Validation loss after the last epoch.
    pub final_val_loss: Option<f64>,
    /// Training loss of the last epoch.
    pub final_train_loss: Option<f64>,
    /// Wall time of the run.
    pub seconds: Option<f64>,
    /// Error text of failed trials.
    pub error: Option<String>,
}

/// The result of a classical (non-network) baseline, listed beside the networks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineRecord {
    /// Dataset name.
    pub dataset: String,
    /// Method name (`svd-subspace`, `pca-lda`).
    pub method: String,
    /// Dimension chosen on the validation split.
    pub k: usize,
    /// Validation size of the split it was fitted on.
    pub validation: usize,
    /// Seed of that split.
    pub split_seed: u64,
    /// Validation accuracy at `k`.
    pub val_acc: f64,
    /// Test accuracy at `k`.
    pub test_acc: f64,
    /// Fit and scoring time.
    pub seconds: f64,
    /// Validation accuracy per candidate `k`.
    pub val_curve: Vec<(usize, f64)>,
}

/// One run of a configuration by another framework (the PyTorch reference script), imported
/// to be compared with the sweep's own trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalTrial {
    /// What produced it, e.g. `torch 2.5.1`.
    #[serde(default)]
    pub framework: Option<String>,
    /// The configuration it ran, by fcnsweep's hash.
    pub config_hash: String,
    /// Its seed (the other framework's own seeding).
    pub seed: u64,
    /// Test accuracy.
    pub test_acc: f64,
    /// Test loss.
    #[serde(default)]
    pub test_loss: Option<f64>,
    /// Training loss of the last epoch.
    #[serde(default)]
    pub final_train_loss: Option<f64>,
    /// Validation loss after the last epoch.
    #[serde(default)]
    pub final_val_loss: Option<f64>,
    /// Validation accuracy after the last epoch.
    #[serde(default)]
    pub final_val_acc: Option<f64>,
    /// Wall time of the run.
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Per-epoch metrics as the other framework reported them (kept as given).
    #[serde(default)]
    pub epochs: Vec<serde_json::Value>,
}

/// A stored epoch of one trial.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    /// Trial row id.
    pub trial_id: TrialId,
    /// Seed of that trial.
    pub seed: u64,
    /// The metrics.
    pub metrics: EpochMetrics,
}

/// A configuration an adaptive block proposes, to be stored and claimed in one step.
#[derive(Debug, Clone)]
pub struct ProposalRequest {
    /// The block that proposes it (`"search[1].tpe"`).
    pub block: String,
    /// How many proposals the sweep held when this one was computed: it is stored only if
    /// that is still so (otherwise another worker proposed meanwhile).
    pub number: usize,
    /// The block's budget: no proposal is stored once the sweep holds this many.
    pub budget: usize,
    /// The configuration.
    pub config: crate::PlannedConfig,
}

/// What [`Store::propose`](crate::Store::propose) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalOutcome {
    /// Stored, with a pending trial of it (unless another sweep already has one), which the
    /// next claim takes.
    Stored,
    /// Another worker proposed first (or the configuration is already in the sweep): read
    /// the history again and retry.
    Conflict,
    /// The sweep already holds `budget` proposals.
    BudgetSpent,
}
