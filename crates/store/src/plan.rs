//! What registering a sweep stores, and the one rule, shared by every backend, for how a
//! plan relates to a stored sweep of the same name.

use std::collections::BTreeSet;

use fcnsweep_data::DatasetName;
use fcnsweep_model::RunConfig;
use sha2::{Digest, Sha256};

use crate::{RegisterOptions, Registered, StoreError};

/// One distinct configuration of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedConfig {
    /// The configuration's identity hash (64 hex digits).
    pub hash: String,
    /// The configuration, canonical (ignored hyper-parameters at their defaults).
    pub run: RunConfig,
    /// Whether this is the base configuration (the baseline row), whichever block produced it.
    pub baseline: bool,
    /// The blocks that produced it: `"base"`, `"search[0].grid"`, `"search[1].list"`, ...
    pub sources: Vec<String>,
}

/// Everything a sweep trains: its distinct configurations, each with every seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPlan {
    /// Study name.
    pub name: String,
    /// Dataset of every configuration.
    pub dataset: DatasetName,
    /// Seeds every configuration is trained with.
    pub seeds: Vec<u64>,
    /// Distinct configurations, in expansion order.
    pub configs: Vec<PlannedConfig>,
}

impl SweepPlan {
    /// Number of training runs: configurations × seeds.
    pub fn trial_count(&self) -> usize {
        self.configs.len() * self.seeds.len()
    }

    /// The plan's configuration hashes and seeds as sets.
    pub fn sets(&self) -> (BTreeSet<String>, BTreeSet<u64>) {
        (
            self.configs.iter().map(|c| c.hash.clone()).collect(),
            self.seeds.iter().copied().collect(),
        )
    }
}

/// A stored sweep as registration sees it.
#[derive(Debug, Clone)]
pub struct ExistingSweep {
    /// Row id.
    pub id: i64,
    /// Its dataset's name.
    pub dataset: String,
    /// Its configuration hashes.
    pub configs: BTreeSet<String>,
    /// Its seeds.
    pub seeds: BTreeSet<u64>,
}

/// What registering a plan over an existing sweep does.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The stored sweep's id.
    pub id: i64,
    /// Unchanged or extended.
    pub outcome: Registered,
    /// The configurations of old and new together.
    pub configs: BTreeSet<String>,
    /// The seeds of old and new together.
    pub seeds: BTreeSet<u64>,
}

/// How `plan` relates to the stored sweep of its name in database `db`. A changed plan
/// without `extend`, or another dataset, is [`StoreError::SpecChanged`].
pub fn compare(
    db: &str,
    plan: &SweepPlan,
    existing: ExistingSweep,
    options: RegisterOptions,
) -> Result<Comparison, StoreError> {
    let changed = |detail: String| StoreError::SpecChanged {
        name: plan.name.clone(),
        db: db.to_string(),
        detail,
    };
    if existing.dataset != plan.dataset.name() {
        return Err(changed(format!(
            "dataset {} became {}",
            existing.dataset, plan.dataset
        )));
    }
    let (new_configs, new_seeds) = plan.sets();
    let added_configs = new_configs.difference(&existing.configs).count();
    let removed_configs = existing.configs.difference(&new_configs).count();
    let added_seeds = new_seeds.difference(&existing.seeds).count();
    let removed_seeds = existing.seeds.difference(&new_seeds).count();
    let outcome = if added_configs + removed_configs + added_seeds + removed_seeds == 0 {
        Registered::Unchanged
    } else if !options.extend {
        return Err(changed(format!(
            "{added_configs} configurations added, {removed_configs} removed, {added_seeds} seeds added, {removed_seeds} removed"
        )));
    } else {
        Registered::Extended {
            configs: added_configs,
            seeds: added_seeds,
        }
    };
    Ok(Comparison {
        id: existing.id,
        outcome,
        configs: existing.configs.union(&new_configs).cloned().collect(),
        seeds: existing.seeds.union(&new_seeds).copied().collect(),
    })
}

/// Identity of a plan's content: its configuration hashes and seeds, order-independent.
pub fn plan_hash(configs: &BTreeSet<String>, seeds: &BTreeSet<u64>) -> String {
    let mut h = Sha256::new();
    for c in configs {
        h.update(c.as_bytes());
        h.update(b"\n");
    }
    for s in seeds {
        h.update(s.to_le_bytes());
    }
    format!("{:x}", h.finalize())
}
