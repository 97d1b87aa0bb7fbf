//! Adaptive search for fcnsweep, as pure functions over trial histories, with no store and
//! no training in sight: the TPE sampler ([`tpe`]) proposes the next configuration from the
//! trials so far, and the pruners ([`prune`]) decide from learning curves whether a running
//! trial stops early. Their semantics and defaults are Optuna's (`TPESampler`,
//! `MedianPruner`, `SuccessiveHalvingPruner`, `HyperbandPruner`).

pub mod prune;
pub mod tpe;

/// Whether the objective is maximized or minimized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    /// Larger is better (validation accuracy).
    Maximize,
    /// Smaller is better (validation loss).
    Minimize,
}

impl Goal {
    /// Whether `a` is strictly better than `b` (NaN is never better).
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Goal::Maximize => a > b,
            Goal::Minimize => a < b,
        }
    }

    /// `value` made worse by `by` (lower when maximizing, higher when minimizing): the
    /// pruners' cut less their `margin`.
    pub fn worsen(self, value: f64, by: f64) -> f64 {
        match self {
            Goal::Maximize => value - by,
            Goal::Minimize => value + by,
        }
    }
}
