//! The search-space document: one YAML file describes one study.
//!
//! The format is described key by key in the README's "Search spaces (YAML reference)"
//! (a test checks that it names every axis). In short: `name`, `dataset`, `seeds`,
//! `include_base`, top-level training settings, `base`, and `search` blocks (`grid`, `list`,
//! `random`).
//!
//! Every axis key ([`axis_names`](crate::axes::axis_names)) may appear in `base`, in a grid, in a list
//! entry and as a random param; the training keys may also be given at the top level.
//! Precedence: built-in defaults < top-level training settings < `base` < block. A key set
//! both at the top level and in `base` is an error. Distributions: `uniform` and
//! `log_uniform` for real axes, `int_uniform` for integer axes, `choice` for any axis,
//! `layers` (depth uniform, each width log-uniform, non-increasing) for `hidden`.
//!
//! Parsing is strict: unknown keys, wrong types, out-of-range values, empty value lists,
//! inverted ranges and sweeps over the size limits are errors naming the key path.
//! Hyper-parameters an optimizer ignores are reset before checking a configuration (see
//! [`canonical`](crate::identity::canonical)), so a grid may cross `optimizer` with `momentum`.

use fcnsweep_data::DatasetName;
use fcnsweep_model::RunConfig;

use crate::axes::{build_run, Axis, AxisKind, AxisValue};
use crate::error::SpecError;

/// Most configurations one grid block, or the whole sweep, may produce.
pub const MAX_CONFIGS: u64 = 10_000;

/// Most trials (configurations × seeds) one sweep may have.
pub const MAX_TRIALS: u64 = 100_000;

/// Axis settings in document order, as in `base` or one `list` entry.
pub type Settings = Vec<(Axis, AxisValue)>;

/// A parsed and checked search-space document.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// Where the document came from (file path or caller-given name), for error messages.
    pub origin: String,
    /// Study name (`[A-Za-z0-9_.-]+`).
    pub name: String,
    /// Free-text description.
    pub description: Option<String>,
    /// Dataset every configuration trains on.
    pub dataset: DatasetName,
    /// Seeds every configuration is trained with.
    pub seeds: Vec<u64>,
    /// Whether the base configuration is itself part of the sweep.
    pub include_base: bool,
    /// How the sweep runs (settings that do not change any configuration).
    pub run: RunSettings,
    /// Top-level training settings (training axes only).
    pub training: Settings,
    /// The `base` settings, applied on top of `training`.
    pub base: Settings,
    /// The `search` blocks, in document order.
    pub blocks: Vec<Block>,
    /// What the search optimizes (`metric`), read at each trial's last epoch.
    pub objective: Objective,
    /// Which running trials stop early (`prune`), if any.
    pub prune: Option<fcnsweep_tune::prune::Pruner>,
    /// The re-run of the best configurations with more seeds once the search ends (`confirm`).
    pub confirm: Option<Confirm>,
}

/// The metric a search optimizes: a validation metric (never a test metric) of the trial's
/// last epoch; pruners read the same metric at every epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Objective {
    /// Which metric.
    pub metric: Metric,
    /// Whether larger or smaller is better.
    pub goal: fcnsweep_tune::Goal,
}

impl Default for Objective {
    /// Validation accuracy, maximized.
    fn default() -> Self {
        Self {
            metric: Metric::ValAcc,
            goal: fcnsweep_tune::Goal::Maximize,
        }
    }
}

/// A per-epoch validation metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Validation accuracy.
    ValAcc,
    /// Validation loss (cross-entropy).
    ValLoss,
}

impl Metric {
    /// Every metric name, as written in YAML.
    pub const NAMES: &'static [&'static str] = &["val_acc", "val_loss"];

    /// The YAML name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::ValAcc => "val_acc",
            Metric::ValLoss => "val_loss",
        }
    }

    /// Parses a YAML name.
    pub fn parse(s: &str) -> Option<Self> {
        [Metric::ValAcc, Metric::ValLoss]
            .into_iter()
            .find(|m| m.name() == s)
    }

    /// The goal that suits the metric when the document gives none.
    pub fn natural_goal(self) -> fcnsweep_tune::Goal {
        match self {
            Metric::ValAcc => fcnsweep_tune::Goal::Maximize,
            Metric::ValLoss => fcnsweep_tune::Goal::Minimize,
        }
    }

    /// This metric in one epoch's metrics (`None` without a validation split).
    pub fn of_epoch(self, m: &fcnsweep_model::EpochMetrics) -> Option<f64> {
        match self {
            Metric::ValAcc => m.val_acc,
            Metric::ValLoss => m.val_loss,
        }
    }

    /// This metric of a trial's last epoch, as the store keeps it.
    pub fn of_trial(self, t: &fcnsweep_store::TrialRecord) -> Option<f64> {
        match self {
            Metric::ValAcc => t.final_val_acc,
            Metric::ValLoss => t.final_val_loss,
        }
    }
}

/// `confirm`: the `top` best configurations of the search, re-run with `seeds` seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirm {
    /// How many configurations.
    pub top: usize,
    /// Seeds each is trained with (the search's own seed first).
    pub seeds: usize,
    /// Images held out for validation in the confirmation, when it differs from the search's
    /// (`0`: retrain on every training image); `None` keeps the search's split and reuses
    /// its trials.
    pub validation: Option<usize>,
}

/// Settings of how a sweep runs that change no configuration (flags of the same names
/// override them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSettings {
    /// Which trained networks to keep (`keep_weights`).
    pub keep_weights: Option<crate::kept::KeepWeights>,
    /// Deaths without progress after which a trial fails (`max_attempts`).
    pub max_attempts: Option<u32>,
}

/// One entry of `search`.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Cartesian product of value lists, in document order (first key outermost).
    Grid(Vec<(Axis, Vec<AxisValue>)>),
    /// Explicit configurations, each overriding base.
    List(Vec<Settings>),
    /// Seeded random sampling.
    Random(RandomBlock),
    /// Tree-structured Parzen estimator: proposals one at a time, from the trials so far.
    Tpe(TpeBlock),
}

impl Block {
    /// The block's YAML key: `grid`, `list` or `random`.
    pub fn kind(&self) -> &'static str {
        match self {
            Block::Grid(_) => "grid",
            Block::List(_) => "list",
            Block::Random(_) => "random",
            Block::Tpe(_) => "tpe",
        }
    }

    /// How many configurations the block produces before de-duplication (saturating).
    pub fn size(&self) -> u64 {
        match self {
            Block::Grid(axes) => axes
                .iter()
                .fold(1u64, |n, (_, values)| n.saturating_mul(values.len() as u64)),
            Block::List(entries) => entries.len() as u64,
            Block::Random(random) => random.trials as u64,
            Block::Tpe(tpe) => tpe.trials as u64,
        }
    }

    /// Whether the block proposes configurations while the sweep runs.
    pub fn is_adaptive(&self) -> bool {
        matches!(self, Block::Tpe(_))
    }
}

/// A `tpe` block: `trials` configurations proposed one at a time by TPE over `params` (the
/// distributions of a `random` block), with Optuna's `TPESampler` options.
#[derive(Debug, Clone, PartialEq)]
pub struct TpeBlock {
    /// The budget: proposals in all, over every worker (>= 1).
    pub trials: usize,
    /// Seed of the sampler's generator.
    pub seed: u64,
    /// The distribution of each searched axis, in document order.
    pub params: Vec<(Axis, Distribution)>,
    /// The sampler's options.
    pub options: fcnsweep_tune::tpe::TpeOptions,
    /// Rank the sampler's candidates by expected improvement per predicted training cost,
    /// the cost's weight falling from 1 to 0 over the budget (EI-cool; default false).
    pub cost_aware: bool,
    /// A second budget, in epochs: no proposal once the sweep's trials have trained this many
    /// epochs in all (pruned, failed and running trials' included); running trials finish.
    pub epoch_budget: Option<usize>,
}

impl TpeBlock {
    /// Whether the block may still propose after `proposals` proposals, with `epochs` epochs
    /// trained by the sweep's trials: both budgets left.
    pub fn budget_left(&self, proposals: usize, epochs: usize) -> bool {
        proposals < self.trials && self.epoch_budget.is_none_or(|budget| epochs < budget)
    }

    /// The share of the budget spent, 0 to 1: the larger of the proposals' share of `trials`
    /// and the epochs' share of `epoch_budget`, so that a cost-aware search's weight on cost
    /// falls over whichever budget ends the search.
    pub fn budget_used(&self, proposals: usize, epochs: usize) -> f64 {
        let by_trials = proposals as f64 / self.trials.max(1) as f64;
        let by_epochs = self
            .epoch_budget
            .map_or(0.0, |budget| epochs as f64 / budget.max(1) as f64);
        by_trials.max(by_epochs).min(1.0)
    }
}

/// A `random` block: `trials` configurations sampled from `params` with a seeded generator.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomBlock {
    /// Number of sampled configurations (>= 1).
    pub trials: usize,
    /// Seed of the ChaCha8 generator, so the block is reproducible.
    pub seed: u64,
    /// The distribution of each sampled axis, in document order.
    pub params: Vec<(Axis, Distribution)>,
}

/// How one axis of a random block is sampled.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// Uniform real in `[lo, hi]`.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// Log-uniform real in `[lo, hi]`, `lo > 0`.
    LogUniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// Uniform integer in `[lo, hi]`, both inclusive.
    IntUniform {
        /// Lower bound.
        lo: u64,
        /// Upper bound.
        hi: u64,
    },
    /// One of the listed values, each equally likely.
    Choice(Vec<AxisValue>),
    /// Hidden layers: depth uniform in `depth`, each width log-uniform in `width`, sorted
    /// non-increasing.
    Layers {
        /// Inclusive depth range.
        depth: (usize, usize),
        /// Inclusive width range.
        width: (usize, usize),
    },
}

impl Distribution {
    /// Every distribution name, as written in YAML.
    pub const NAMES: &'static [&'static str] =
        &["uniform", "log_uniform", "int_uniform", "choice", "layers"];

    /// The distributions that apply to axes of `kind`.
    pub fn names_for(kind: AxisKind) -> &'static [&'static str] {
        match kind {
            AxisKind::Float => &["uniform", "log_uniform", "choice"],
            AxisKind::Count | AxisKind::Seed | AxisKind::Subset => &["int_uniform", "choice"],
            AxisKind::Layers => &["choice", "layers"],
            AxisKind::Optimizer
            | AxisKind::Init
            | AxisKind::Norm
            | AxisKind::Schedule
            | AxisKind::Bool => &["choice"],
        }
    }
}

impl SweepSpec {
    /// The adaptive block (at most one per sweep) with its index in `search`.
    pub fn adaptive(&self) -> Option<(usize, &TpeBlock)> {
        self.blocks.iter().enumerate().find_map(|(i, b)| match b {
            Block::Tpe(t) => Some((i, t)),
            _ => None,
        })
    }

    /// The base configuration: defaults, then top-level training settings, then `base`.
    pub fn base_run(&self) -> RunConfig {
        build_run(self.training.iter().chain(&self.base).map(|(a, v)| (*a, v)))
    }

    /// Most configurations the sweep can have (before de-duplication).
    pub fn max_configs(&self) -> u64 {
        self.blocks
            .iter()
            .fold(u64::from(self.include_base), |n, b| {
                n.saturating_add(b.size())
            })
    }

    /// Refuses sweeps over [`MAX_CONFIGS`] or [`MAX_TRIALS`] without expanding them.
    pub fn check_size(&self) -> Result<(), SpecError> {
        let too_large = |path: String, what, count, limit| SpecError::TooLarge {
            origin: self.origin.clone(),
            path,
            what,
            count,
            limit,
        };
        for (i, block) in self.blocks.iter().enumerate() {
            if matches!(block, Block::Grid(_)) && block.size() > MAX_CONFIGS {
                return Err(too_large(
                    format!("search[{i}].grid"),
                    "the grid's number of configurations (product of its value counts)",
                    block.size(),
                    MAX_CONFIGS,
                ));
            }
        }
        let configs = self.max_configs();
        if configs > MAX_CONFIGS {
            return Err(too_large(
                "search".into(),
                "the number of configurations (before de-duplication)",
                configs,
                MAX_CONFIGS,
            ));
        }
        let trials = configs.saturating_mul(self.seeds.len() as u64);
        if trials > MAX_TRIALS {
            return Err(too_large(
                "seeds".into(),
                "the number of trials (configurations × seeds)",
                trials,
                MAX_TRIALS,
            ));
        }
        Ok(())
    }
}
