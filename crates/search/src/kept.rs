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

/// What [`collect_garbage`] removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Garbage {
    /// Checkpoint files of finished or unknown trials.
    pub checkpoints: Vec<PathBuf>,
    /// Network files of trials that are unknown or not done.
    pub weights: Vec<PathBuf>,
    /// Their size in bytes.
    pub bytes: u64,
}

/// The trial id of an fcnsweep file name: `trial-<id>.safetensors` or
/// `trial-<id>-e<epoch>.safetensors[.tmp]`.
fn trial_of(name: &str) -> Option<TrialId> {
    let rest = name.strip_prefix("trial-")?;
    let end = rest.find(['-', '.'])?;
    rest[..end].parse().ok()
}

/// Finds (and unless `dry`, removes) the files no trial needs: checkpoints of trials that
/// are finished or no longer in the database, and kept networks of trials that are not done
/// or no longer current. `trials` is every current trial of every sweep.
pub fn collect_garbage(
    checkpoint_dir: &Path,
    weights_dir: &Path,
    trials: &[TrialRecord],
    dry: bool,
) -> Garbage {
    let status = |id: TrialId| trials.iter().find(|t| t.id == id).map(|t| t.status);
    let mut g = Garbage::default();
    let sweep_dir = |dir: &Path,
                     orphan: &dyn Fn(Option<TrialStatus>) -> bool,
                     into: &mut Vec<PathBuf>,
                     bytes: &mut u64| {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = trial_of(&name) else {
                continue;
            };
            if orphan(status(id)) {
                *bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
                if !dry {
                    let _ = std::fs::remove_file(entry.path());
                }
                into.push(entry.path());
            }
        }
    };
    let mut bytes = 0;
    sweep_dir(
        checkpoint_dir,
        &|s| s.is_none_or(TrialStatus::is_finished),
        &mut g.checkpoints,
        &mut bytes,
    );
    sweep_dir(
        weights_dir,
        &|s| s != Some(TrialStatus::Done),
        &mut g.weights,
        &mut bytes,
    );
    g.bytes = bytes;
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_their_trial() {
        assert_eq!(trial_of("trial-12.safetensors"), Some(12));
        assert_eq!(trial_of("trial-7-e0003.safetensors"), Some(7));
        assert_eq!(trial_of("trial-7-e0003.safetensors.tmp"), Some(7));
        assert_eq!(trial_of("notes.txt"), None);
    }
}
