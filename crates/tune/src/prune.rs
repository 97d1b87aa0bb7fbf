//! The trial pruners: Optuna's `MedianPruner`, `SuccessiveHalvingPruner` (ASHA) and
//! `HyperbandPruner`, as pure decision functions over the learning curves stored so far.
//!
//! Semantics and defaults are Optuna's (checked against Optuna 5.0, see
//! `tests/python/prune_fixtures.py`, whose recorded decisions `tests/prune_optuna.rs`
//! replays). What differs is where the state lives: Optuna keeps some of it in the pruner
//! object and in trial system attributes, fcnsweep decides at every epoch commit from the
//! epochs stored in its database, so every function here takes the whole state as input.
//!
//! # Steps
//!
//! A step is an epoch count, 1-based: after the first epoch the step is 1. Every epoch is
//! reported. Optuna compares step numbers as given (its docs assume steps start at 0, but
//! only Hyperband's "auto" `max_resource`, last step + 1, depends on it), so the numbers
//! mean the same here: a rung step of 4 is "after 4 epochs", `n_warmup_steps = 3` first
//! allows pruning after 3 epochs (one epoch later than for a user counting from 0).
//!
//! # Rung values (`completed_rung_k`)
//!
//! Optuna's successive halving stores a trial's value at rung `k` as the system attribute
//! `completed_rung_k`, written when `should_prune` is called at a step `>=` the rung's
//! promotion step with a non-NaN value (before deciding, so a trial pruned at a rung keeps
//! its value there). Since fcnsweep reports every epoch and decides at every one, that
//! attribute equals the value at the first stored step `>=` the rung step, which is the
//! value at step `==` rung step (see [`rung_values`]; NaN steps are skipped, as Optuna sets
//! nothing for them). This does not hold when the stored epochs are not the ones the pruner
//! was asked about: a trial resumed from a checkpoint whose earlier epochs were stored
//! without a decision (Optuna would have no attribute for them, here they count), epochs
//! stored while pruning was off or configured differently, a running trial whose newest
//! epoch is stored but not yet decided (it counts here, not yet in Optuna), and a trial that
//! jumps over two rung steps at once and is pruned at the lower one (here it also gets a
//! value at the higher rung).

use crate::Goal;
use serde::{Deserialize, Serialize};

/// A trial's learning curve and state as the pruner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The trial's number in the study (proposal/registration order, Optuna's `trial.number`).
    pub number: usize,
    /// The trial's state now.
    pub state: CurveState,
    /// `(step, intermediate value)`, steps ascending and distinct; NaN allowed.
    pub values: Vec<(usize, f64)>,
}

impl Curve {
    /// The newest `(step, value)`, `None` before the first report (Optuna's `last_step`).
    pub fn last(&self) -> Option<(usize, f64)> {
        self.values.last().copied()
    }
}

/// A trial's state, as far as the pruners care (Optuna's `TrialState` less `WAITING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CurveState {
    /// Still training (or about to).
    Running,
    /// Finished all its epochs; only these count for the median and Hyperband's auto
    /// maximum resource.
    Complete,
    /// Stopped by a pruner.
    Pruned,
    /// Stopped by an error; its rung values still count for successive halving.
    Failed,
}

/// Optuna's `MedianPruner` options (defaults are Optuna's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MedianOptions {
    /// No pruning until this many trials of the study are complete (default 5).
    pub n_startup_trials: usize,
    /// No pruning while the step is below this (default 0).
    pub n_warmup_steps: usize,
    /// Prune only at the first report in each interval of this many steps after the
    /// warmup (default 1, every step).
    pub interval_steps: usize,
    /// No pruning unless at least this many complete trials reported the same step,
    /// NaN values included (default 1).
    pub n_min_trials: usize,
    /// fcnsweep's extension, not Optuna's: a trial is pruned only when it is worse than the
    /// cut by more than this, in the metric's units (default 0, Optuna's rule), so that
    /// trials the validation set cannot tell apart from the cut are not decided on noise.
    pub margin: f64,
}

impl Default for MedianOptions {
    fn default() -> Self {
        MedianOptions {
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
            margin: 0.0,
        }
    }
}

impl MedianOptions {
    /// Checks the options as Optuna's constructor does, and the margin.
    pub fn validate(&self) -> Result<(), String> {
        check_margin("median", self.margin)?;
        if self.interval_steps < 1 {
            return Err(format!(
                "median pruner: interval_steps must be at least 1, got {}",
                self.interval_steps
            ));
        }
        if self.n_min_trials < 1 {
            return Err(format!(
                "median pruner: n_min_trials must be at least 1, got {}",
                self.n_min_trials
            ));
        }
        Ok(())
    }
}

/// Optuna's `SuccessiveHalvingPruner` options (ASHA; defaults are Optuna's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HalvingOptions {
    /// Epochs of the first rung, `r` in the paper (default 1, fcnsweep's `min_epochs`).
    /// Optuna's default `"auto"` is `max(last_step // 100, 1)` of the first complete
    /// trial, which is 1 for trials of fewer than 200 epochs; unlike 1, "auto" also prunes
    /// nothing until a trial completes.
    pub min_resource: usize,
    /// `eta`: about one trial in this many is promoted at each rung (default 4, at least 2).
    pub reduction_factor: usize,
    /// `s`: the first rung is at `min_resource * reduction_factor^s` epochs (default 0).
    pub min_early_stopping_rate: usize,
    /// A rung promotes nobody until more than this many trials, the current one
    /// included, reached it; before that every trial reaching it is pruned (default 0).
    pub bootstrap_count: usize,
    /// fcnsweep's extension, not Optuna's: a trial is pruned only when it is worse than the
    /// cut by more than this, in the metric's units (default 0, Optuna's rule), so that
    /// trials the validation set cannot tell apart from the cut are not decided on noise.
    pub margin: f64,
}

impl Default for HalvingOptions {
    fn default() -> Self {
        HalvingOptions {
            min_resource: 1,
            reduction_factor: 4,
            min_early_stopping_rate: 0,
            bootstrap_count: 0,
            margin: 0.0,
        }
    }
}

impl HalvingOptions {
    /// Checks the options as Optuna's constructor does, and the margin.
    pub fn validate(&self) -> Result<(), String> {
        check_margin("successive halving", self.margin)?;
        check_min_resource("successive halving", self.min_resource)?;
        check_reduction_factor("successive halving", self.reduction_factor)
    }

    /// The promotion step of rung `rung`: `min_resource * reduction_factor^(s + rung)`
    /// (saturating, so rungs past `usize::MAX` are never reached).
    pub fn rung_step(&self, rung: usize) -> usize {
        let exp = self.min_early_stopping_rate.saturating_add(rung);
        let exp = u32::try_from(exp).unwrap_or(u32::MAX);
        self.reduction_factor
            .saturating_pow(exp)
            .saturating_mul(self.min_resource)
    }
}

/// Optuna's `HyperbandPruner` options (defaults are Optuna's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HyperbandOptions {
    /// Epochs of the first rung of bracket 0 (default 1).
    pub min_resource: usize,
    /// The largest epoch count of a trial (fcnsweep passes the sweep's largest `epochs`).
    /// `None` is Optuna's default `"auto"`: the last step of the complete trials plus one
    /// (Optuna counts steps from 0), no pruning before a trial completes; see
    /// [`HyperbandOptions::resolve`].
    pub max_resource: Option<usize>,
    /// `eta` of every bracket (default 3, at least 2).
    pub reduction_factor: usize,
    /// `bootstrap_count` of every bracket (default 0; needs an explicit `max_resource`).
    pub bootstrap_count: usize,
    /// `margin` of every bracket (see [`HalvingOptions::margin`]; default 0).
    pub margin: f64,
}

impl Default for HyperbandOptions {
    fn default() -> Self {
        HyperbandOptions {
            min_resource: 1,
            max_resource: None,
            reduction_factor: 3,
            bootstrap_count: 0,
            margin: 0.0,
        }
    }
}

impl HyperbandOptions {
    /// Checks the options: Optuna's checks, plus `max_resource >= min_resource` (Optuna
    /// accepts it and then never prunes, having no bracket).
    pub fn validate(&self) -> Result<(), String> {
        check_margin("hyperband", self.margin)?;
        check_min_resource("hyperband", self.min_resource)?;
        check_reduction_factor("hyperband", self.reduction_factor)?;
        match self.max_resource {
            Some(max) if max < self.min_resource => Err(format!(
                "hyperband pruner: max_resource ({max}) must be at least min_resource ({})",
                self.min_resource
            )),
            None if self.bootstrap_count > 0 => Err(format!(
                "hyperband pruner: bootstrap_count > 0 ({}) needs an explicit max_resource",
                self.bootstrap_count
            )),
            _ => Ok(()),
        }
    }

    /// The options with `max_resource` settled from the study's trials: unchanged when
    /// explicit, else Optuna's "auto", one more than the largest last step among complete
    /// trials, `None` while there is none (then nothing is pruned and every trial is in
    /// bracket 0). Two deviations from Optuna, both only under "auto": Optuna freezes it at
    /// the first decision that sees a complete trial (recomputing agrees while the complete
    /// trials have the same number of epochs, or the longest completed first); and Optuna
    /// decides nothing before then, so epochs reported before the first trial completed
    /// have no rung value there, while here they compete (for a sequential study, the first
    /// trial's). fcnsweep passes an explicit `max_resource`, where neither applies.
    pub fn resolve(&self, trials: &[Curve]) -> Option<HyperbandOptions> {
        let max = match self.max_resource {
            Some(max) => max,
            None => {
                trials
                    .iter()
                    .filter(|t| t.state == CurveState::Complete)
                    .filter_map(|t| t.last())
                    .map(|(step, _)| step)
                    .max()?
                    + 1
            }
        };
        Some(HyperbandOptions {
            max_resource: Some(max),
            ..*self
        })
    }

    /// The number of brackets, `floor(log_eta(max_resource / min_resource)) + 1`, in
    /// floating point exactly as Optuna computes it (so `log_3(243)` gives 4.999..., 5
    /// brackets, not 6); 0 when `max_resource` is unknown or below `min_resource`.
    pub fn n_brackets(&self) -> usize {
        let Some(max) = self.max_resource else {
            return 0;
        };
        if self.min_resource == 0 || self.reduction_factor < 2 {
            return 0;
        }
        let ratio = max as f64 / self.min_resource as f64;
        let n = (ratio.ln() / (self.reduction_factor as f64).ln()).floor() + 1.0;
        if n >= 1.0 {
            n as usize
        } else {
            0
        }
    }

    /// Each bracket's share of the trials, `ceil(n * eta^s / (s + 1))` with
    /// `s = n_brackets - 1 - bracket`: Hyperband's `n`, as a ratio since the number of
    /// trials is open-ended.
    pub fn trial_allocation_budgets(&self) -> Vec<u128> {
        let n = self.n_brackets();
        (0..n)
            .map(|bracket| {
                let s = n - 1 - bracket;
                let pow = (self.reduction_factor as u128).saturating_pow(s as u32);
                (n as u128).saturating_mul(pow).div_ceil(s as u128 + 1)
            })
            .collect()
    }

    /// Bracket `bracket`'s successive-halving options: Hyperband's min_resource,
    /// reduction_factor and bootstrap_count, `min_early_stopping_rate = bracket`.
    pub fn bracket_options(&self, bracket: usize) -> HalvingOptions {
        HalvingOptions {
            min_resource: self.min_resource,
            reduction_factor: self.reduction_factor,
            min_early_stopping_rate: bracket,
            bootstrap_count: self.bootstrap_count,
            margin: self.margin,
        }
    }
}

/// Hyperband: the bracket of trial `number` in study `study` (also used by the sampler to
/// restrict TPE's history to the bracket, as Optuna does): `crc32("{study}_{number}")`
/// modulo the total allocation budget, walked through the brackets' budgets. With an
/// unresolved "auto" `max_resource` it is 0, as in Optuna before its first decision, which
/// then puts every trial in bracket 0 (no filtering); resolve the options first
/// ([`HyperbandOptions::resolve`]).
pub fn hyperband_bracket(opts: &HyperbandOptions, study: &str, number: usize) -> usize {
    let budgets = opts.trial_allocation_budgets();
    let total: u128 = budgets.iter().sum();
    if total == 0 {
        return 0;
    }
    let mut n = u128::from(crc32(format!("{study}_{number}").as_bytes())) % total;
    for (bracket, budget) in budgets.iter().enumerate() {
        if n < *budget {
            return bracket;
        }
        n -= budget;
    }
    unreachable!("n < total = sum of the budgets")
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), Python's `binascii.crc32`, which
/// Optuna hashes Hyperband's bracket assignment with.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// A pruner with its options; [`Pruner::should_prune`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "options", rename_all = "snake_case")]
pub enum Pruner {
    /// Optuna's `MedianPruner`: stop a trial whose best value so far is worse than the
    /// median of the complete trials at the same step.
    Median(MedianOptions),
    /// Optuna's `SuccessiveHalvingPruner` (ASHA): at each rung step keep about the top
    /// `1 / reduction_factor` of the trials that reached it.
    SuccessiveHalving(HalvingOptions),
    /// Optuna's `HyperbandPruner`: successive halving in several brackets of different
    /// first rungs, each trial hashed to one.
    Hyperband(HyperbandOptions),
}

impl Pruner {
    /// Checks the options (see each options type's `validate`).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Pruner::Median(o) => o.validate(),
            Pruner::SuccessiveHalving(o) => o.validate(),
            Pruner::Hyperband(o) => o.validate(),
        }
    }

    /// Whether the trial `current` (whose curve already includes its newest step) stops now;
    /// `others` are the other trials of the same study (any state, without `current`),
    /// `study` the study name (Hyperband's bracket hash).
    pub fn should_prune(&self, current: &Curve, others: &[Curve], goal: Goal, study: &str) -> bool {
        match self {
            Pruner::Median(o) => median_should_prune(o, current, others, goal),
            Pruner::SuccessiveHalving(o) => halving_should_prune(o, current, others.iter(), goal),
            Pruner::Hyperband(o) => {
                let Some(opts) = o.resolve(others) else {
                    return false;
                };
                if opts.n_brackets() == 0 {
                    return false;
                }
                let bracket = hyperband_bracket(&opts, study, current.number);
                let same = others
                    .iter()
                    .filter(|t| hyperband_bracket(&opts, study, t.number) == bracket);
                halving_should_prune(&opts.bracket_options(bracket), current, same, goal)
            }
        }
    }
}

fn check_margin(what: &str, margin: f64) -> Result<(), String> {
    if !(margin.is_finite() && margin >= 0.0) {
        return Err(format!(
            "{what} pruner: margin must be a number of at least 0, got {margin}"
        ));
    }
    Ok(())
}

fn check_min_resource(what: &str, min_resource: usize) -> Result<(), String> {
    if min_resource < 1 {
        return Err(format!(
            "{what} pruner: min_resource must be at least 1, got {min_resource}"
        ));
    }
    Ok(())
}

fn check_reduction_factor(what: &str, reduction_factor: usize) -> Result<(), String> {
    if reduction_factor < 2 {
        return Err(format!(
            "{what} pruner: reduction_factor must be at least 2, got {reduction_factor}"
        ));
    }
    Ok(())
}

/// Reads a reduction factor given as a number (YAML may say `3.0`): an integer `>= 2`.
pub fn reduction_factor_from_f64(value: f64) -> Result<usize, String> {
    if !value.is_finite() || value.fract() != 0.0 || value < 2.0 || value > u32::MAX as f64 {
        return Err(format!(
            "reduction_factor must be an integer of at least 2, got {value}"
        ));
    }
    Ok(value as usize)
}

fn median_should_prune(o: &MedianOptions, current: &Curve, others: &[Curve], goal: Goal) -> bool {
    let completed: Vec<&Curve> = others
        .iter()
        .filter(|t| t.state == CurveState::Complete)
        .collect();
    if completed.is_empty() || completed.len() < o.n_startup_trials {
        return false;
    }
    let Some((step, _)) = current.last() else {
        return false;
    };
    if step < o.n_warmup_steps || o.interval_steps == 0 {
        return false;
    }
    // First report in its interval: the previous reported step is below the interval start.
    let interval_start =
        (step - o.n_warmup_steps) / o.interval_steps * o.interval_steps + o.n_warmup_steps;
    let previous = current
        .values
        .iter()
        .map(|&(s, _)| s)
        .filter(|&s| s != step)
        .max();
    if previous.is_some_and(|p| p >= interval_start) {
        return false;
    }
    let best = best_value(current, goal);
    if best.is_nan() {
        return true;
    }
    let at_step: Vec<f64> = completed.iter().filter_map(|t| value_at(t, step)).collect();
    if at_step.len() < o.n_min_trials {
        return false;
    }
    let q = match goal {
        Goal::Maximize => 100.0 - 50.0,
        Goal::Minimize => 50.0,
    };
    let p = nan_percentile(&at_step, q);
    !p.is_nan() && goal.better(goal.worsen(p, o.margin), best)
}

/// The best of a curve's values, NaN ignored (NaN only when all are), Optuna's
/// `np.nanmax` / `np.nanmin` over the intermediate values.
fn best_value(curve: &Curve, goal: Goal) -> f64 {
    curve
        .values
        .iter()
        .map(|&(_, v)| v)
        .filter(|v| !v.is_nan())
        .fold(f64::NAN, |best, v| {
            if best.is_nan() || goal.better(v, best) {
                v
            } else {
                best
            }
        })
}

fn value_at(curve: &Curve, step: usize) -> Option<f64> {
    curve
        .values
        .iter()
        .find(|&&(s, _)| s == step)
        .map(|&(_, v)| v)
}

/// `np.nanpercentile(values, q)` with numpy's default "linear" method, bit for bit: NaN
/// dropped, NaN if nothing is left.
pub fn nan_percentile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let virtual_index = (n - 1) as f64 * (q / 100.0);
    if virtual_index >= (n - 1) as f64 {
        return v[n - 1];
    }
    if virtual_index < 0.0 {
        return v[0];
    }
    let below = virtual_index.floor();
    let (a, b) = (v[below as usize], v[below as usize + 1]);
    let t = virtual_index - below;
    // numpy's `_lerp`: from the nearer end.
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// A trial's rung values under `opts` (Optuna's `completed_rung_k` attributes), as the
/// values at the first stored step at or past each rung step, NaN steps skipped; see the
/// module docs for why this equals Optuna's attributes when every epoch is reported.
pub fn rung_values(opts: &HalvingOptions, values: &[(usize, f64)]) -> Vec<f64> {
    let mut out = Vec::new();
    if opts.min_resource == 0 || opts.reduction_factor < 2 {
        return out;
    }
    for &(step, value) in values {
        if value.is_nan() {
            continue;
        }
        while reached(step, opts.rung_step(out.len())) {
            out.push(value);
        }
    }
    out
}

/// Whether `step` is at or past a rung step; a saturated rung step is never reached.
fn reached(step: usize, rung_step: usize) -> bool {
    rung_step != usize::MAX && step >= rung_step
}

fn halving_should_prune<'a>(
    opts: &HalvingOptions,
    current: &Curve,
    others: impl Iterator<Item = &'a Curve>,
    goal: Goal,
) -> bool {
    if opts.min_resource == 0 || opts.reduction_factor < 2 {
        return false;
    }
    let Some((step, value)) = current.last() else {
        return false;
    };
    // The rungs the trial got through at its earlier steps.
    let mut rung = rung_values(opts, &current.values[..current.values.len() - 1]).len();
    if !reached(step, opts.rung_step(rung)) {
        return false;
    }
    if value.is_nan() {
        return true;
    }
    let others: Vec<Vec<f64>> = others.map(|t| rung_values(opts, &t.values)).collect();
    while reached(step, opts.rung_step(rung)) {
        let mut competing: Vec<f64> = others.iter().filter_map(|r| r.get(rung).copied()).collect();
        competing.push(value);
        if competing.len() <= opts.bootstrap_count {
            return true;
        }
        if !promotable(value, &mut competing, opts, goal) {
            return true;
        }
        rung += 1;
    }
    false
}

/// Whether `value` is in the top `1 / eta` of `competing` (which includes it), or within
/// `margin` of the worst value that is; with fewer than `eta` competitors it must be the
/// best of them (Optuna cannot pause a trial until enough others arrive, so it promotes
/// only the best), or within `margin` of it.
fn promotable(value: f64, competing: &mut [f64], opts: &HalvingOptions, goal: Goal) -> bool {
    let idx = (competing.len() / opts.reduction_factor).saturating_sub(1);
    competing.sort_by(f64::total_cmp);
    let cut = match goal {
        Goal::Maximize => competing[competing.len() - 1 - idx],
        Goal::Minimize => competing[idx],
    };
    !goal.better(goal.worsen(cut, opts.margin), value)
}
