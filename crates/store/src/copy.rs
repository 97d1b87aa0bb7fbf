//! Copying sweeps between any two stores (`fcnsweep db copy FROM TO`): a laptop's SQLite
//! study onto the cluster's PostgreSQL and back. Written once over [`Store`], so it works
//! between every pair of backends.
//!
//! A copy registers each sweep (its spec, configurations and seeds) in the destination, then
//! writes every finished, pruned or failed trial with its epochs over a destination trial that is not
//! finished yet, and the classical baselines of the sweeps' datasets. Running and pending
//! trials arrive as pending. Copying again changes nothing: the trials are already finished.
//! At the end the finished trials and their epochs are counted on both sides.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    PlannedConfig, ProposalRequest, RegisterOptions, Store, StoreError, SweepPlan, SweepRecord,
    TrialStatus,
};

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Sweeps copied.
    pub sweeps: usize,
    /// Configurations in those sweeps.
    pub configs: usize,
    /// Trials written to the destination by this copy.
    pub trials_written: usize,
    /// Finished or failed trials the destination already had.
    pub trials_present: usize,
    /// Epochs written by this copy.
    pub epochs_written: usize,
    /// Classical baselines copied.
    pub baselines: usize,
}

/// Copies `names` (every sweep when empty) from `from` to `to`.
pub fn copy(
    from: &mut dyn Store,
    to: &mut dyn Store,
    names: &[String],
) -> Result<CopyReport, StoreError> {
    let names: Vec<String> = if names.is_empty() {
        from.list_sweeps()?.into_iter().map(|s| s.name).collect()
    } else {
        names.to_vec()
    };
    let mut report = CopyReport::default();
    let mut datasets = BTreeSet::new();
    for name in &names {
        let sweep = from.sweep(name)?;
        datasets.insert(sweep.dataset.name().to_string());
        copy_sweep(from, to, &sweep, &mut report)?;
    }
    for dataset in datasets {
        for b in from.baselines(&dataset)? {
            to.record_baseline(&b)?;
            report.baselines += 1;
        }
    }
    Ok(report)
}

fn copy_sweep(
    from: &mut dyn Store,
    to: &mut dyn Store,
    sweep: &SweepRecord,
    report: &mut CopyReport,
) -> Result<(), StoreError> {
    // Planned configurations are registered; proposals of an adaptive block are proposed
    // again, in their order, so the destination's search goes on where the source's stood.
    let plan = SweepPlan {
        name: sweep.name.clone(),
        dataset: sweep.dataset,
        seeds: sweep.seeds.clone(),
        configs: sweep
            .configs
            .iter()
            .filter(|c| c.proposal.is_none())
            .map(|c| PlannedConfig {
                hash: c.hash.clone(),
                run: c.run.clone(),
                baseline: c.baseline,
                sources: c.sources.clone(),
            })
            .collect(),
    };
    let options = RegisterOptions {
        extend: true,
        no_reuse: false,
    };
    to.register_sweep(&plan, &sweep.spec, options)?;
    let to_id = to
        .find_sweep(&sweep.name)?
        .ok_or_else(|| StoreError::Backend {
            db: to.describe(),
            detail: format!("sweep '{}' vanished while being copied", sweep.name),
        })?;
    let mut proposals: Vec<_> = sweep
        .configs
        .iter()
        .filter_map(|c| Some((c.proposal?, c)))
        .collect();
    proposals.sort_by_key(|(n, _)| *n);
    let worker = crate::Worker::this_process();
    for (number, c) in proposals {
        let request = ProposalRequest {
            block: c.sources.first().cloned().unwrap_or_default(),
            number,
            budget: usize::MAX,
            config: PlannedConfig {
                hash: c.hash.clone(),
                run: c.run.clone(),
                baseline: c.baseline,
                sources: c.sources.clone(),
            },
        };
        // A conflict is a proposal the destination already holds (an earlier copy).
        to.propose(to_id, &worker, &request)?;
    }
    report.sweeps += 1;
    report.configs += sweep.configs.len();
    let trials = from.trials(sweep.id)?;
    let mut epochs: BTreeMap<i64, Vec<_>> = BTreeMap::new();
    for e in from.sweep_epochs(sweep.id)? {
        epochs.entry(e.trial_id).or_default().push(e.metrics);
    }
    for t in &trials {
        if !(t.status.is_finished()
            || matches!(t.status, TrialStatus::Failed | TrialStatus::Pruned))
        {
            continue;
        }
        let trial_epochs = epochs.remove(&t.id).unwrap_or_default();
        if to.store_copied_trial(to_id, t, &trial_epochs)? {
            report.trials_written += 1;
            report.epochs_written += trial_epochs.len();
        } else {
            report.trials_present += 1;
        }
    }
    check_counts(from, to, sweep, to_id)
}

/// Finished trials and their epochs must be at least those of the source, configuration by
/// configuration (the destination may hold more: trials it finished itself).
fn check_counts(
    from: &mut dyn Store,
    to: &mut dyn Store,
    sweep: &SweepRecord,
    to_id: i64,
) -> Result<(), StoreError> {
    let count = |store: &mut dyn Store, id: i64| -> Result<(usize, usize), StoreError> {
        let finished = store
            .trials(id)?
            .iter()
            .filter(|t| t.status.is_finished())
            .count();
        let mut epochs = 0;
        for c in &sweep.configs {
            epochs += store.epochs(id, &c.hash)?.len();
        }
        Ok((finished, epochs))
    };
    let (src_trials, src_epochs) = count(from, sweep.id)?;
    let (dst_trials, dst_epochs) = count(to, to_id)?;
    if dst_trials < src_trials || dst_epochs < src_epochs {
        return Err(StoreError::CopyMismatch {
            from: from.describe(),
            to: to.describe(),
            detail: format!(
                "sweep '{}': {src_trials} finished trials with {src_epochs} epochs in the source, {dst_trials} with {dst_epochs} in the destination",
                sweep.name
            ),
        });
    }
    Ok(())
}
