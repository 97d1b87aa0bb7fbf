//! Trained networks kept from a sweep (`--keep-weights`): one file per done trial,
//! `trial-<id>.safetensors` in the weights directory, in PyTorch's layout
//! ([`fcnsweep_model::Weights`]). `best` keeps those of the [`BEST_CONFIGS`]
//! configurations with the highest mean validation accuracy once the sweep is done; `all`
//! keeps every one; `none` writes none.

use std::path::{Path, PathBuf};

use crate::results::summarize;
use crate::store::{SweepRecord, TrialId, TrialRecord, TrialStatus};

/// How many configurations `--keep-weights best` keeps.
pub const BEST_CONFIGS: usize = 3;

/// Which trained networks a sweep keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepWeights {
    /// None.
    None,
    /// Every done trial of the best [`BEST_CONFIGS`] configurations (by mean validation
    /// accuracy), pruned when the sweep is done.
    Best,
    /// Every done trial.
    All,
}

impl KeepWeights {
    /// Parses `none`, `best` or `all`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "best" => Ok(Self::Best),
            "all" => Ok(Self::All),
            other => Err(format!(
                "unknown --keep-weights '{other}': expected none, best or all"
            )),
        }
    }
}

/// The file of trial `trial`'s network in `dir`.
pub fn weights_path(dir: &Path, trial: TrialId) -> PathBuf {
    dir.join(format!("trial-{trial}.safetensors"))
}

/// Configuration hashes by mean validation accuracy (test accuracy where a configuration has
/// no validation split), best first.
pub fn ranked_configs(sweep: &SweepRecord, trials: &[TrialRecord]) -> Vec<String> {
    let mut rows: Vec<(f64, String)> = summarize(sweep, trials)
        .into_iter()
        .filter_map(|r| {
            let score = r.val.as_ref().or(r.test.as_ref())?.mean;
            score.is_finite().then_some((score, r.hash))
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    rows.into_iter().map(|(_, h)| h).collect()
}

/// The done trial of `config` (default: the best configuration) with seed `seed` (default:
/// its best final validation accuracy, then test accuracy).
pub fn pick_trial<'a>(
    sweep: &SweepRecord,
    trials: &'a [TrialRecord],
    config: Option<&str>,
    seed: Option<u64>,
) -> Option<&'a TrialRecord> {
    let config = match config {
        Some(c) => c.to_string(),
        None => ranked_configs(sweep, trials).into_iter().next()?,
    };
    trials
        .iter()
        .filter(|t| t.config_hash == config && t.status == TrialStatus::Done)
        .filter(|t| seed.is_none_or(|s| t.seed == s))
        .max_by(|a, b| {
            let key = |t: &TrialRecord| {
                (
                    t.final_val_acc.or(t.test_acc).unwrap_or(f64::NAN),
                    t.test_acc.unwrap_or(f64::NAN),
                )
            };
            let (ka, kb) = (key(a), key(b));
            ka.0.total_cmp(&kb.0)
                .then(ka.1.total_cmp(&kb.1))
                .then(b.seed.cmp(&a.seed))
        })
}

/// Removes the kept networks of `sweep`'s trials outside the best [`BEST_CONFIGS`]
/// configurations; returns how many files it removed. Only for a finished sweep.
pub fn prune_to_best(dir: &Path, sweep: &SweepRecord, trials: &[TrialRecord]) -> usize {
    let best: Vec<String> = ranked_configs(sweep, trials)
        .into_iter()
        .take(BEST_CONFIGS)
        .collect();
    trials
        .iter()
        .filter(|t| !best.contains(&t.config_hash))
        .filter(|t| std::fs::remove_file(weights_path(dir, t.id)).is_ok())
        .count()
}
