//! Adaptive search over a stored sweep: what the `tpe` block proposes next, whether the
//! `prune` settings stop a running trial, and the `confirm` stage that re-runs the best
//! configurations with more seeds. Every decision is taken from what the store holds (the
//! sweep's trials and their epochs), so it holds across processes and machines; the
//! algorithms themselves are the pure functions of [`fcnsweep_tune`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fcnsweep_data::dataset::{IMAGE_COLS, IMAGE_ROWS};
use fcnsweep_tune::prune::{Curve, CurveState, Pruner};
use fcnsweep_tune::tpe::{cost_cooled_score, DensityRatio, Domain, Observation, Tpe, TrialState};
use fcnsweep_tune::Goal;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::axes::{Axis, AxisValue};
use crate::error::SpecError;
use crate::expand::{blamed_param, configure, round_in, sample};
use crate::spec::{Confirm, Distribution, Objective, SweepSpec, TpeBlock};
use crate::store::{EpochRecord, PlannedConfig, SweepPlan, SweepRecord, TrialRecord, TrialStatus};

/// Proposals tried before a search whose every candidate is already in the sweep counts as
/// exhausted (a small discrete space fully explored).
const DUPLICATE_TRIES: usize = 200;

/// What a sweep's workers need to search adaptively: its spec (to build proposals), what it
/// optimizes, its pruner and its adaptive block.
#[derive(Debug, Clone)]
pub struct Strategy {
    /// The parsed spec the sweep was registered with.
    pub spec: SweepSpec,
}

/// The stored state of a sweep that decisions are taken from, read in three queries.
#[derive(Debug, Clone)]
pub struct History<'a> {
    /// The sweep with its configurations.
    pub sweep: &'a SweepRecord,
    /// Its current trials, in configuration then seed order: a trial's index is its number.
    pub trials: &'a [TrialRecord],
    /// Every stored epoch of those trials.
    pub epochs: &'a [EpochRecord],
}

impl History<'_> {
    /// Number of configurations adaptive blocks proposed so far.
    pub fn proposals(&self) -> usize {
        self.sweep.proposals()
    }

    /// Epochs the sweep's trials have trained, pruned, failed and running ones included.
    pub fn epochs_trained(&self) -> usize {
        epochs_trained(self.trials)
    }

    /// Whether the adaptive block `block` may still propose ([`TpeBlock::budget_left`]).
    pub fn budget_left(&self, block: &TpeBlock) -> bool {
        block.budget_left(self.proposals(), self.epochs_trained())
    }

    /// Each trial's metric by epoch.
    fn curves(&self, objective: Objective) -> HashMap<i64, Vec<(usize, f64)>> {
        let mut curves: HashMap<i64, Vec<(usize, f64)>> = HashMap::new();
        for e in self.epochs {
            let value = objective.metric.of_epoch(&e.metrics).unwrap_or(f64::NAN);
            curves
                .entry(e.trial_id)
                .or_default()
                .push((e.metrics.epoch, value));
        }
        curves
    }
}

impl Strategy {
    /// The strategy of `spec`, or `None` when the sweep neither prunes, proposes nor
    /// confirms (a fixed plan run to the end).
    pub fn of(spec: &SweepSpec) -> Option<Self> {
        (spec.prune.is_some() || spec.adaptive().is_some() || spec.confirm.is_some())
            .then(|| Self { spec: spec.clone() })
    }

    /// What the search optimizes.
    pub fn objective(&self) -> Objective {
        self.spec.objective
    }

    /// The adaptive block, its source name (`search[1].tpe`) and its budget.
    pub fn adaptive(&self) -> Option<(String, &TpeBlock)> {
        self.spec
            .adaptive()
            .map(|(i, block)| (format!("search[{i}].tpe"), block))
    }

    /// Whether the running trial `trial` (its newest epoch already stored) stops now.
    pub fn should_prune(&self, trial: i64, history: &History<'_>) -> bool {
        let Some(pruner) = &self.spec.prune else {
            return false;
        };
        let objective = self.objective();
        let mut curves = history.curves(objective);
        let mut current = None;
        let mut others = Vec::new();
        for (number, t) in history.trials.iter().enumerate() {
            let state = match t.status {
                TrialStatus::Done | TrialStatus::Diverged => CurveState::Complete,
                TrialStatus::Pruned => CurveState::Pruned,
                TrialStatus::Failed => CurveState::Failed,
                // Pending trials with epochs hold a checkpoint's part of a run.
                TrialStatus::Running | TrialStatus::Pending => CurveState::Running,
            };
            let curve = Curve {
                number,
                state,
                values: curves.remove(&t.id).unwrap_or_default(),
            };
            if t.id == trial {
                current = Some(curve);
            } else {
                others.push(curve);
            }
        }
        let Some(current) = current else {
            return false;
        };
        pruner.should_prune(&current, &others, objective.goal, &history.sweep.name)
    }

    /// The next configuration of the adaptive block, from the history; `None` when the
    /// block has no budget left or every candidate is already in the sweep.
    pub fn propose(&self, history: &History<'_>) -> Result<Option<PlannedConfig>, SpecError> {
        let Some((source, block)) = self.adaptive() else {
            return Ok(None);
        };
        let number = history.proposals();
        if !history.budget_left(block) {
            return Ok(None);
        }
        let objective = self.objective();
        let mut observations = observations(block, history, objective);
        if let Some(Pruner::Hyperband(h)) = &self.spec.prune {
            // As Optuna does: TPE learns only from the trials of the new trial's bracket.
            let next = history.trials.len();
            let bracket = fcnsweep_tune::prune::hyperband_bracket(h, &history.sweep.name, next);
            observations.retain(|o| {
                fcnsweep_tune::prune::hyperband_bracket(h, &history.sweep.name, o.number) == bracket
            });
        }
        let tpe = Tpe::new(&observations, objective.goal, &block.options);
        let taken: BTreeSet<&str> = history
            .sweep
            .configs
            .iter()
            .map(|c| c.hash.as_str())
            .collect();
        // One generator per proposal, seeded by the block's seed and the proposal's number,
        // so the same history always gives the same proposal.
        let mut rng = ChaCha8Rng::seed_from_u64(
            block.seed ^ (number as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        // A cost-aware search ranks several candidates by expected improvement per cost;
        // a plain one takes the first proposal of TPE's own, parameter by parameter.
        let joint = block.cost_aware && !tpe.is_startup();
        // The axes the cost depends on: with a pruner, a trial's epochs are the pruner's.
        let priced = fcnsweep_model::cost::priced_axes(self.spec.prune.is_some());
        let wanted = if joint {
            block.options.n_ei_candidates.max(1)
        } else {
            1
        };
        let mut found: Vec<PlannedConfig> = Vec::new();
        let mut invalid = None;
        // Parameters a refused combination was blamed on, drawn from their prior from then on.
        let mut at_random: Vec<Axis> = Vec::new();
        for _ in 0..DUPLICATE_TRIES {
            if found.len() == wanted {
                break;
            }
            let mut draw = suggest(block, &tpe, joint.then_some(priced), &mut rng);
            for ((axis, value), (_, dist)) in draw.iter_mut().zip(sorted_params(block)) {
                if at_random.contains(axis) {
                    *value = sample(&mut rng, *axis, dist);
                }
            }
            // A combination the model refuses (Nesterov without momentum) is drawn again,
            // as a configuration already in the sweep is. TPE picks each parameter on its own
            // and, past its start-up trials, nearly always the same way from one history, so
            // the refusal would come back on every draw: the parameter it names is drawn at
            // random from its distribution instead.
            match configure(&self.spec, &source, draw) {
                Ok(config)
                    if !taken.contains(config.hash.as_str())
                        && found.iter().all(|c| c.hash != config.hash) =>
                {
                    found.push(config)
                }
                Ok(_) => {}
                Err(e) => {
                    let blamed = blamed_param(&e, &source);
                    if let Some(axis) = blamed.filter(|a| !at_random.contains(a)) {
                        at_random.push(axis);
                    }
                    invalid = Some(e);
                }
            }
        }
        if found.len() > 1 {
            let used = block.budget_used(number, history.epochs_trained());
            // Each parameter's estimators are fitted once and score every candidate.
            let ratios: BTreeMap<String, DensityRatio> = domains(block)
                .into_iter()
                .map(|(name, d)| {
                    let ratio = tpe.density_ratio(&name, &d);
                    (name, ratio)
                })
                .collect();
            let score = |c: &PlannedConfig| cost_score(block, &ratios, &tpe, &self.spec, c, used);
            let best = found
                .iter()
                .map(score)
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, s)| {
                    if s > best.1 {
                        (i, s)
                    } else {
                        best
                    }
                })
                .0;
            return Ok(Some(found.swap_remove(best)));
        }
        if let Some(config) = found.pop() {
            return Ok(Some(config));
        }
        if let Some(e) = invalid {
            return Err(e);
        }
        tracing::warn!(
            proposals = number,
            "every candidate TPE drew is already in the sweep; the search space looks exhausted"
        );
        Ok(None)
    }

    /// The confirmation sweep once the search is over (every proposal made and no trial
    /// left to run), with the YAML text it is registered with; `None` before, or without
    /// `confirm`.
    pub fn confirmation(
        &self,
        history: &History<'_>,
    ) -> Result<Option<(SweepSpec, String, SweepPlan)>, SpecError> {
        let Some(confirm) = self.spec.confirm else {
            return Ok(None);
        };
        let open = history
            .trials
            .iter()
            .any(|t| matches!(t.status, TrialStatus::Pending | TrialStatus::Running));
        let budget_left = self.adaptive().is_some_and(|(_, b)| history.budget_left(b));
        if open || budget_left {
            return Ok(None);
        }
        let best = best_configs(history, self.objective(), confirm.top);
        if best.is_empty() {
            return Ok(None);
        }
        let text = confirmation_yaml(&self.spec, history.sweep, &best, confirm);
        let origin = format!(
            "{} (confirmation of {})",
            confirm_name(&self.spec.name),
            self.spec.name
        );
        let spec = crate::parse::parse_spec(&text, &origin)?;
        let mut plan = crate::expand::expand(&spec)?;
        // The search's best, listed first, is the reference row: every other is compared
        // with it (Welch). Its hash is the search's unless `confirm.validation` changes it.
        for (i, c) in plan.configs.iter_mut().enumerate() {
            c.baseline = i == 0;
        }
        Ok(Some((spec, text, plan)))
    }
}

impl Strategy {
    /// The largest configuration (by estimated memory) the adaptive block can propose: every
    /// layer at its widest and deepest, integers at their top, each choice taken in turn and
    /// kept where it needs the most; for the memory check before a sweep starts.
    pub fn largest(&self) -> Option<PlannedConfig> {
        let (source, block) = self.adaptive()?;
        let mut sample: Vec<(Axis, AxisValue)> = block
            .params
            .iter()
            .map(|(axis, dist)| {
                let value = match dist {
                    Distribution::Layers { depth, width } => {
                        AxisValue::Layers(vec![width.1; depth.1])
                    }
                    Distribution::IntUniform { hi, .. } => {
                        axis.int_value(*hi).expect("bounds checked when parsed")
                    }
                    Distribution::Uniform { lo, .. } | Distribution::LogUniform { lo, .. } => {
                        AxisValue::Float(*lo)
                    }
                    Distribution::Choice(values) => values[0].clone(),
                };
                (*axis, value)
            })
            .collect();
        let bytes = |sample: &[(Axis, AxisValue)]| {
            configure(&self.spec, &source, sample.to_vec())
                .ok()
                .map(|c| {
                    (
                        crate::memory::estimate(self.spec.dataset, &c.run).total(),
                        c,
                    )
                })
        };
        for (i, (_, dist)) in block.params.iter().enumerate() {
            let Distribution::Choice(values) = dist else {
                continue;
            };
            let mut best = bytes(&sample).map_or(0, |(b, _)| b);
            for v in values {
                let mut trial = sample.clone();
                trial[i].1 = v.clone();
                if let Some((b, _)) = bytes(&trial).filter(|(b, _)| *b > best) {
                    best = b;
                    sample = trial;
                }
            }
        }
        bytes(&sample).map(|(_, c)| c)
    }
}

/// The name of the confirmation sweep of the sweep `name`.
pub fn confirm_name(name: &str) -> String {
    format!("{name}.confirm")
}

/// The `top` configurations with the best mean objective over their finished trials, best
/// first (ties: earlier first).
pub fn best_configs(history: &History<'_>, objective: Objective, top: usize) -> Vec<String> {
    let mut sums: BTreeMap<&str, (f64, usize, usize)> = BTreeMap::new();
    for (i, t) in history.trials.iter().enumerate() {
        if t.status != TrialStatus::Done {
            continue;
        }
        let Some(v) = objective.metric.of_trial(t).filter(|v| v.is_finite()) else {
            continue;
        };
        let e = sums.entry(&t.config_hash).or_insert((0.0, 0, i));
        e.0 += v;
        e.1 += 1;
    }
    let mut ranked: Vec<(&str, f64, usize)> = sums
        .into_iter()
        .map(|(h, (sum, n, first))| (h, sum / n as f64, first))
        .collect();
    ranked.sort_by(|a, b| {
        let order = match objective.goal {
            Goal::Maximize => b.1.total_cmp(&a.1),
            Goal::Minimize => a.1.total_cmp(&b.1),
        };
        order.then(a.2.cmp(&b.2))
    });
    ranked
        .into_iter()
        .take(top)
        .map(|(h, _, _)| h.to_string())
        .collect()
}

/// The confirmation sweep's document: the chosen configurations as a `list`, every axis
/// spelled out (`validation` as `confirm` sets it), trained with the search's seed and the
/// next ones.
fn confirmation_yaml(
    spec: &SweepSpec,
    sweep: &SweepRecord,
    best: &[String],
    confirm: Confirm,
) -> String {
    let first = sweep.seeds.first().copied().unwrap_or(0);
    let seeds: Vec<String> = (0..confirm.seeds as u64)
        .map(|i| (first + i).to_string())
        .collect();
    let mut text = format!(
        "# The {} best configurations of sweep {}, re-run with {} seeds (written by fcnsweep).\nname: {}\ndataset: {}\nseeds: [{}]\ninclude_base: false\nsearch:\n  - list:\n",
        best.len(),
        spec.name,
        confirm.seeds,
        confirm_name(&spec.name),
        spec.dataset,
        seeds.join(", ")
    );
    for hash in best {
        let Some(c) = sweep.configs.iter().find(|c| &c.hash == hash) else {
            continue;
        };
        let mut run = c.run.clone();
        if let Some(v) = confirm.validation {
            run.train.validation = v;
        }
        let settings: Vec<String> = Axis::all()
            .filter(|a| a.applies(&run))
            .map(|a| format!("{a}: {}", a.get(&run)))
            .collect();
        text.push_str(&format!("      - {{{}}}\n", settings.join(", ")));
    }
    text
}

/// The observations TPE learns from: every trial of the sweep with a known state, its
/// parameters read back from its stored configuration.
fn observations(block: &TpeBlock, history: &History<'_>, objective: Objective) -> Vec<Observation> {
    let runs: HashMap<&str, &fcnsweep_model::RunConfig> = history
        .sweep
        .configs
        .iter()
        .map(|c| (c.hash.as_str(), &c.run))
        .collect();
    let mut curves = history.curves(objective);
    let mut out = Vec::new();
    for (number, t) in history.trials.iter().enumerate() {
        let state = match t.status {
            TrialStatus::Done | TrialStatus::Diverged => {
                match objective.metric.of_trial(t).filter(|v| v.is_finite()) {
                    Some(value) => TrialState::Complete { value },
                    // As Optuna: an objective that is not a number fails the trial.
                    None => continue,
                }
            }
            TrialStatus::Pruned => TrialState::Pruned {
                steps: curves.remove(&t.id).unwrap_or_default(),
            },
            TrialStatus::Running => TrialState::Running,
            TrialStatus::Pending | TrialStatus::Failed => continue,
        };
        let Some(run) = runs.get(t.config_hash.as_str()) else {
            continue;
        };
        out.push(Observation {
            number,
            params: params_of(block, run),
            state,
        });
    }
    out
}

/// The parameter name TPE knows the depth of `hidden` by.
const DEPTH: &str = "hidden.depth";

/// The parameter name of the width of hidden layer `i`.
fn width_name(i: usize) -> String {
    format!("hidden.width{i}")
}

/// The domain TPE models an axis's distribution in (layers: see [`DEPTH`], [`width_name`]).
fn domain(dist: &Distribution) -> Domain {
    match dist {
        Distribution::Uniform { lo, hi } => Domain::Float {
            low: *lo,
            high: *hi,
            log: false,
        },
        Distribution::LogUniform { lo, hi } => Domain::Float {
            low: *lo,
            high: *hi,
            log: true,
        },
        Distribution::IntUniform { lo, hi } => Domain::Int {
            low: *lo as i64,
            high: *hi as i64,
            log: false,
        },
        Distribution::Choice(values) => Domain::Categorical {
            choices: values.len(),
        },
        Distribution::Layers { depth, .. } => Domain::Int {
            low: depth.0 as i64,
            high: depth.1 as i64,
            log: false,
        },
    }
}

/// The block's parameters of a stored configuration, in TPE's representation; an axis the
/// configuration does not use (momentum under Adam) is absent, as Optuna leaves out a
/// parameter a trial never suggested.
fn params_of(block: &TpeBlock, run: &fcnsweep_model::RunConfig) -> BTreeMap<String, f64> {
    let mut params = BTreeMap::new();
    for (axis, dist) in &block.params {
        if !axis.applies(run) {
            continue;
        }
        let value = axis.get(run);
        match (dist, &value) {
            (Distribution::Layers { .. }, AxisValue::Layers(widths)) => {
                params.insert(DEPTH.to_string(), widths.len() as f64);
                for (i, w) in widths.iter().enumerate() {
                    params.insert(width_name(i), *w as f64);
                }
            }
            (Distribution::Choice(values), v) => {
                if let Some(i) = values.iter().position(|x| x == v) {
                    params.insert(axis.name().to_string(), i as f64);
                }
            }
            (_, AxisValue::Float(x)) => {
                params.insert(axis.name().to_string(), *x);
            }
            (_, AxisValue::Count(n)) | (_, AxisValue::Subset(Some(n))) => {
                params.insert(axis.name().to_string(), *n as f64);
            }
            (_, AxisValue::Seed(n)) => {
                params.insert(axis.name().to_string(), *n as f64);
            }
            _ => {}
        }
    }
    params
}

/// The domains TPE models the block's parameters in, by parameter name (`hidden` as its
/// depth and one width per layer it can have).
fn domains(block: &TpeBlock) -> BTreeMap<String, Domain> {
    let mut out = BTreeMap::new();
    for (axis, dist) in &block.params {
        if let Distribution::Layers { depth, width } = dist {
            out.insert(DEPTH.to_string(), domain(dist));
            for i in 0..depth.1 {
                out.insert(width_name(i), width_domain(*width));
            }
        } else {
            out.insert(axis.name().to_string(), domain(dist));
        }
    }
    out
}

/// The domain of each hidden layer's width: integers on a log scale.
fn width_domain(width: (usize, usize)) -> Domain {
    Domain::Int {
        low: width.0 as i64,
        high: width.1 as i64,
        log: true,
    }
}

/// Epochs recorded by `trials` in all: what an `epoch_budget` counts.
pub fn epochs_trained(trials: &[TrialRecord]) -> usize {
    trials.iter().map(|t| t.epochs_done).sum()
}

/// A candidate's cost-aware score: its expected improvement under the joint model, divided
/// by its predicted cost ([`fcnsweep_model::cost::search_cost`]: per epoch under a pruner) to
/// the power `1 − used` (EI-cool).
fn cost_score(
    block: &TpeBlock,
    ratios: &BTreeMap<String, DensityRatio>,
    tpe: &Tpe<'_>,
    spec: &SweepSpec,
    config: &PlannedConfig,
    used: f64,
) -> f64 {
    let log_ratio: f64 = params_of(block, &config.run)
        .iter()
        .filter_map(|(name, &x)| ratios.get(name).map(|r| r.log_at(x)))
        .sum();
    let cost = fcnsweep_model::cost::search_cost(
        &config.run,
        IMAGE_ROWS * IMAGE_COLS,
        spec.dataset.spec().classes.len(),
        spec.prune.is_some(),
    );
    cost_cooled_score(tpe.log_expected_improvement(log_ratio), cost, used)
}

/// The block's parameters in the order they are drawn: sorted by name.
fn sorted_params(block: &TpeBlock) -> Vec<&(Axis, Distribution)> {
    let mut params: Vec<_> = block.params.iter().collect();
    params.sort_by_key(|(axis, _)| axis.name());
    params
}

/// One proposal's axis values: each param suggested in sorted axis order (as `random`
/// draws them), the widths of `hidden` after its depth. Each value is TPE's own choice
/// ([`Tpe::suggest`]), except that the `joint` axes, those the cost is priced by
/// ([`fcnsweep_model::cost::priced_axes`]), are drawn once from the good trials' estimators
/// ([`Tpe::draw`]): a cost-aware search then ranks such candidates by expected improvement
/// per cost, a trade-off between those axes that choosing each on its own cannot make. The
/// other axes do not change the cost, so TPE's per-axis choice already maximizes their
/// share of the joint score.
fn suggest(
    block: &TpeBlock,
    tpe: &Tpe<'_>,
    joint: Option<&[&str]>,
    rng: &mut ChaCha8Rng,
) -> Vec<(Axis, AxisValue)> {
    sorted_params(block)
        .into_iter()
        .map(|(axis, dist)| {
            let drawn = joint.is_some_and(|axes| axes.contains(&axis.name()));
            let mut pick = |name: &str, domain: &Domain| {
                if drawn {
                    tpe.draw(name, domain, rng)
                } else {
                    tpe.suggest(name, domain, rng)
                }
            };
            let value = match dist {
                Distribution::Layers { width, .. } => {
                    let depth = pick(DEPTH, &domain(dist)) as usize;
                    let wd = width_domain(*width);
                    let mut widths: Vec<usize> = (0..depth)
                        .map(|i| pick(&width_name(i), &wd) as usize)
                        .collect();
                    widths.sort_unstable_by(|a, b| b.cmp(a));
                    AxisValue::Layers(widths)
                }
                Distribution::Choice(values) => {
                    let i = pick(axis.name(), &domain(dist)) as usize;
                    values[i.min(values.len() - 1)].clone()
                }
                Distribution::Uniform { lo, hi } | Distribution::LogUniform { lo, hi } => {
                    let x = pick(axis.name(), &domain(dist));
                    AxisValue::Float(round_in(x, *lo, *hi))
                }
                Distribution::IntUniform { .. } => {
                    let n = pick(axis.name(), &domain(dist)) as u64;
                    axis.int_value(n).expect("bounds checked when parsed")
                }
            };
            (*axis, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_spec;
    use crate::store::StoredConfig;
    use fcnsweep_tune::prune::{HalvingOptions, HyperbandOptions, MedianOptions, Pruner};

    const SPEC: &str = "name: s\ndataset: fashion-mnist\nepochs: 4\ninclude_base: false\nprune: {method: asha, reduction_factor: 2}\nconfirm: {top: 2, seeds: 3}\nsearch:\n  - grid:\n      lr: [0.1]\n  - tpe:\n      trials: 6\n      seed: 5\n      n_startup_trials: 2\n      params:\n        lr: {log_uniform: [1.0e-4, 0.3]}\n        optimizer: {choice: [sgd, adam]}\n        momentum: {uniform: [0.0, 0.9]}\n        hidden: {layers: {depth: [1, 3], width: [8, 64]}}\n        epochs: {int_uniform: [2, 6]}\n";

    fn strategy() -> Strategy {
        Strategy::of(&parse_spec(SPEC, "s.yaml").unwrap()).unwrap()
    }

    /// A sweep record holding `configs`, the planned ones first.
    fn sweep(configs: Vec<PlannedConfig>, proposals: usize) -> SweepRecord {
        let planned = configs.len() - proposals;
        SweepRecord {
            id: 1,
            name: "s".into(),
            dataset: fcnsweep_data::DatasetName::FashionMnist,
            spec: SPEC.into(),
            created_at: 0.0,
            configs: configs
                .into_iter()
                .enumerate()
                .map(|(i, c)| StoredConfig {
                    hash: c.hash,
                    run: c.run,
                    baseline: c.baseline,
                    sources: c.sources,
                    proposal: (i >= planned).then(|| i - planned),
                })
                .collect(),
            seeds: vec![0],
        }
    }

    fn trial(id: i64, c: &StoredConfig, status: TrialStatus, val: Option<f64>) -> TrialRecord {
        TrialRecord {
            id,
            config_hash: c.hash.clone(),
            seed: 0,
            status,
            worker: None,
            epochs_done: 0,
            test_acc: val,
            test_loss: None,
            final_val_acc: val,
            final_val_loss: val.map(|v| 1.0 - v),
            final_train_loss: None,
            seconds: None,
            error: None,
        }
    }

    /// What `s` proposes next in a sweep of `configs` (the last `proposals` of them
    /// proposed) and `trials`.
    fn next_proposal(
        s: &Strategy,
        configs: &[PlannedConfig],
        proposals: usize,
        trials: &[TrialRecord],
    ) -> Result<Option<PlannedConfig>, SpecError> {
        let rec = sweep(configs.to_vec(), proposals);
        s.propose(&History {
            sweep: &rec,
            trials,
            epochs: &[],
        })
    }

    #[test]
    fn the_spec_reads_with_optunas_defaults() {
        let spec = parse_spec(SPEC, "s.yaml").unwrap();
        let (i, block) = spec.adaptive().unwrap();
        assert_eq!((i, block.trials, block.seed), (1, 6, 5));
        assert_eq!(block.options.n_startup_trials, 2);
        assert_eq!(block.options.n_ei_candidates, 24);
        assert!(block.options.constant_liar);
        assert!(!block.cost_aware, "cost-blind unless asked");
        assert_eq!(spec.objective, Objective::default());
        assert_eq!(
            spec.prune,
            Some(Pruner::SuccessiveHalving(HalvingOptions {
                reduction_factor: 2,
                ..HalvingOptions::default()
            }))
        );
        assert_eq!(
            spec.confirm,
            Some(Confirm {
                top: 2,
                seeds: 3,
                validation: None
            })
        );
        // Hyperband's largest resource defaults to the sweep's largest epochs (tpe: 6).
        let hb = parse_spec(
            &SPEC.replace("asha, reduction_factor: 2", "hyperband"),
            "s.yaml",
        )
        .unwrap();
        assert_eq!(
            hb.prune,
            Some(Pruner::Hyperband(HyperbandOptions {
                max_resource: Some(6),
                ..HyperbandOptions::default()
            }))
        );
        // fcnsweep's margin is read for every method, a whole number too.
        let margin = |prune: &str| {
            parse_spec(
                &SPEC.replace("{method: asha, reduction_factor: 2}", prune),
                "s.yaml",
            )
            .unwrap()
            .prune
            .unwrap()
        };
        assert_eq!(
            margin("{method: asha, reduction_factor: 2, margin: 0.003}"),
            Pruner::SuccessiveHalving(HalvingOptions {
                reduction_factor: 2,
                margin: 0.003,
                ..HalvingOptions::default()
            })
        );
        assert!(matches!(
            margin("{method: median, margin: 1}"),
            Pruner::Median(MedianOptions { margin, .. }) if margin == 1.0
        ));
        assert!(matches!(
            margin("{method: hyperband, margin: 0.01}"),
            Pruner::Hyperband(HyperbandOptions { margin, .. }) if margin == 0.01
        ));
        let loss = parse_spec(
            &SPEC.replace("prune:", "metric: {name: val_loss}\nprune:"),
            "s.yaml",
        )
        .unwrap();
        assert_eq!(loss.objective.goal, Goal::Minimize);
        // A planned sweep without adaptive keys has no strategy.
        let plain = parse_spec("name: p\ndataset: mnist\n", "p.yaml").unwrap();
        assert!(Strategy::of(&plain).is_none());
    }

    /// A search whose value depends on the learning rate alone, while the network's size,
    /// batch and epochs change only what a trial costs.
    const COSTLY: &str = "name: c\ndataset: fashion-mnist\ninclude_base: false\nsearch:\n  - tpe:\n      trials: 100\n      seed: SEED\n      params:\n        lr: {log_uniform: [1.0e-4, 1.0]}\n        hidden: {layers: {depth: [1, 3], width: [16, 1024]}}\n        batch_size: {choice: [32, 256]}\n        epochs: {int_uniform: [2, 8]}\n";

    fn costly(seed: u64, cost_aware: bool) -> Strategy {
        costly_with(seed, cost_aware, "")
    }

    /// [`costly`] with `head` (a `prune:` line) added to the sweep.
    fn costly_with(seed: u64, cost_aware: bool, head: &str) -> Strategy {
        let text = COSTLY.replace("SEED", &seed.to_string());
        let text = if cost_aware {
            text.replace("trials: 100", "trials: 100\n      cost_aware: true")
        } else {
            text
        };
        let text = text.replace(
            "include_base: false\n",
            &format!("include_base: false\n{head}"),
        );
        Strategy::of(&parse_spec(&text, "c.yaml").unwrap()).unwrap()
    }

    /// The value of a [`COSTLY`] configuration: the distance of its lr from 1e-2.
    fn costly_value(c: &PlannedConfig) -> f64 {
        1.0 - (c.run.optimizer.lr.log10() + 2.0).powi(2) / 10.0
    }

    /// 30 done trials of plain TPE's own proposals over [`COSTLY`], valued by [`costly_value`].
    fn costly_history() -> (SweepRecord, Vec<TrialRecord>) {
        let plain = costly(1, false);
        let (mut configs, mut trials) = (Vec::new(), Vec::new());
        for n in 0..30 {
            let c = next_proposal(&plain, &configs, n, &trials)
                .unwrap()
                .unwrap();
            let v = costly_value(&c);
            configs.push(c);
            let rec = sweep(configs.clone(), n + 1);
            trials.push(trial(
                n as i64,
                rec.configs.last().unwrap(),
                TrialStatus::Done,
                Some(v),
            ));
        }
        (sweep(configs, 30), trials)
    }

    #[test]
    fn cost_aware_proposals_are_cheaper_and_as_promising() {
        assert!(costly(1, true).adaptive().unwrap().1.cost_aware);
        let (rec, trials) = costly_history();
        let history = History {
            sweep: &rec,
            trials: &trials,
            epochs: &[],
        };
        // From that history, 100 proposals each (100 generator seeds), with and without cost.
        let cost = |c: &PlannedConfig| fcnsweep_model::cost::training_cost(&c.run, 784, 10);
        let (mut plain_cost, mut aware_cost) = (0.0, 0.0);
        let (mut plain_value, mut aware_value) = (0.0, 0.0);
        for seed in 0..100 {
            let p = costly(seed, false).propose(&history).unwrap().unwrap();
            let a = costly(seed, true).propose(&history).unwrap().unwrap();
            let again = costly(seed, true).propose(&history).unwrap().unwrap();
            assert_eq!(a, again, "cost-aware proposals are reproducible");
            plain_cost += cost(&p) / 100.0;
            aware_cost += cost(&a) / 100.0;
            plain_value += costly_value(&p) / 100.0;
            aware_value += costly_value(&a) / 100.0;
        }
        // Drawing the size axes jointly lets the cost rank them: about a fifth of plain TPE's
        // cost here; choosing every axis on its own first, about half.
        assert!(
            aware_cost < 0.35 * plain_cost,
            "cost-aware mean cost {aware_cost:.3e} vs plain {plain_cost:.3e}"
        );
        assert!(
            aware_value > plain_value - 0.01,
            "cost-aware mean value {aware_value:.4} vs plain {plain_value:.4}"
        );
    }

    #[test]
    fn under_a_pruner_cost_aware_proposals_price_one_epoch_and_leave_the_epochs_to_tpe() {
        let (rec, trials) = costly_history();
        let history = History {
            sweep: &rec,
            trials: &trials,
            epochs: &[],
        };
        let prune = "prune: {method: asha}\n";
        let per_epoch = |c: &PlannedConfig| fcnsweep_model::cost::epoch_cost(&c.run, 784, 10);
        let epochs = |c: &PlannedConfig| c.run.train.epochs as f64;
        let (mut plain, mut whole, mut pruned) = ([0.0; 2], [0.0; 2], [0.0; 2]);
        for seed in 0..100 {
            let p = costly_with(seed, false, prune)
                .propose(&history)
                .unwrap()
                .unwrap();
            let w = costly(seed, true).propose(&history).unwrap().unwrap();
            let a = costly_with(seed, true, prune)
                .propose(&history)
                .unwrap()
                .unwrap();
            for (sum, c) in [(&mut plain, &p), (&mut whole, &w), (&mut pruned, &a)] {
                sum[0] += per_epoch(c) / 100.0;
                sum[1] += epochs(c) / 100.0;
            }
        }
        // The epochs stay TPE's choice, as without cost; pricing the whole run shortens them.
        assert!(
            (pruned[1] - plain[1]).abs() < 0.5,
            "epochs {:.2} (pruned, cost-aware) vs {:.2} (plain)",
            pruned[1],
            plain[1]
        );
        assert!(
            whole[1] < plain[1] - 0.5,
            "epochs {:.2} (whole run priced) vs {:.2} (plain)",
            whole[1],
            plain[1]
        );
        // What each epoch costs still falls, to about a third of plain TPE.s.
        assert!(
            pruned[0] < 0.4 * plain[0],
            "cost per epoch {:.3e} (pruned, cost-aware) vs {:.3e} (plain)",
            pruned[0],
            plain[0]
        );
    }

    #[test]
    fn the_largest_proposal_is_the_widest_deepest_and_hungriest() {
        let big = strategy().largest().expect("a tpe block");
        assert_eq!(big.run.model.hidden, vec![64, 64, 64]);
        assert_eq!(big.run.train.epochs, 6);
        // Adam keeps two state buffers, SGD without momentum none.
        assert_eq!(big.run.optimizer.kind().name(), "adam");
    }

    #[test]
    fn proposals_are_deterministic_new_and_read_back_as_sampled() {
        let s = strategy();
        let planned = crate::expand::expand(&s.spec).unwrap().configs;
        let mut configs = planned.clone();
        let mut trials: Vec<TrialRecord> = Vec::new();
        for n in 0..6 {
            let rec = sweep(configs.clone(), n);
            let history = History {
                sweep: &rec,
                trials: &trials,
                epochs: &[],
            };
            let a = s.propose(&history).unwrap().expect("budget left");
            let b = s.propose(&history).unwrap().unwrap();
            assert_eq!(a, b, "the same history gives the same proposal");
            assert!(
                rec.configs.iter().all(|c| c.hash != a.hash),
                "a new configuration"
            );
            assert_eq!(a.sources, ["search[1].tpe"]);
            // Its parameters, read back from the stored configuration, are inside the space.
            let (_, block) = s.adaptive().unwrap();
            let p = params_of(block, &a.run);
            assert!((1.0e-4..=0.3).contains(&p["lr"]));
            assert!((1.0..=3.0).contains(&p[DEPTH]));
            assert!((2.0..=6.0).contains(&p["epochs"]));
            assert_eq!(
                p.contains_key("momentum"),
                a.run.optimizer.kind().name() == "sgd"
            );
            configs.push(a);
            let c = &sweep(configs.clone(), n + 1).configs[configs.len() - 1];
            trials.push(trial(
                n as i64 + 10,
                c,
                TrialStatus::Done,
                Some(0.5 + n as f64 / 100.0),
            ));
        }
        let rec = sweep(configs, 6);
        let history = History {
            sweep: &rec,
            trials: &trials,
            epochs: &[],
        };
        assert!(
            s.propose(&history).unwrap().is_none(),
            "the budget is spent"
        );
    }

    #[test]
    fn an_epoch_budget_ends_the_search_before_its_trials_and_opens_the_confirmation() {
        let text = SPEC.replace("trials: 6", "trials: 6\n      epoch_budget: 10");
        let s = Strategy::of(&parse_spec(&text, "s.yaml").unwrap()).unwrap();
        let (_, block) = s.adaptive().unwrap();
        assert_eq!(block.epoch_budget, Some(10));
        // The cost's weight falls over whichever budget is spent faster.
        assert_eq!(block.budget_used(3, 0), 0.5);
        assert_eq!(block.budget_used(3, 8), 0.8);
        assert_eq!(block.budget_used(1, 25), 1.0);
        // The grid's trial and each proposal's trial train 3 epochs: proposals stop once
        // the sweep holds 10 (after the third proposal's trial, 4 x 3 = 12).
        let mut configs = crate::expand::expand(&s.spec).unwrap().configs;
        let c = &sweep(configs.clone(), 0).configs[0];
        let mut done = trial(0, c, TrialStatus::Done, Some(0.5));
        done.epochs_done = 3;
        let mut trials = vec![done];
        let mut n = 0;
        while let Some(p) = next_proposal(&s, &configs, n, &trials).unwrap() {
            configs.push(p);
            n += 1;
            let c = &sweep(configs.clone(), n).configs[configs.len() - 1];
            let mut t = trial(n as i64, c, TrialStatus::Done, Some(0.5 + n as f64 / 100.0));
            t.epochs_done = 3;
            trials.push(t);
            assert!(
                n < 6,
                "the epoch budget stops proposals before the trials' budget"
            );
        }
        assert_eq!(n, 3);
        let rec = sweep(configs, n);
        let history = History {
            sweep: &rec,
            trials: &trials,
            epochs: &[],
        };
        assert_eq!(history.epochs_trained(), 12);
        assert!(!history.budget_left(block));
        // With 3 of 6 proposals made, the search is over all the same: it confirms.
        let (spec, _, plan) = s
            .confirmation(&history)
            .unwrap()
            .expect("the search is over");
        assert_eq!(spec.name, "s.confirm");
        assert_eq!(plan.configs[0].hash, rec.configs[3].hash, "the best, 0.53");
        // Without the epoch budget it would go on proposing.
        assert!(strategy().confirmation(&history).unwrap().is_none());
    }

    #[test]
    fn the_confirmation_reruns_the_best_with_the_same_hashes() {
        let s = strategy();
        let mut configs = crate::expand::expand(&s.spec).unwrap().configs;
        let mut trials = Vec::new();
        for n in 0..6 {
            configs.push(next_proposal(&s, &configs, n, &trials).unwrap().unwrap());
        }
        let rec = sweep(configs, 6);
        let values = [0.70, 0.91, 0.60, 0.88, 0.95, 0.40, 0.99];
        for (i, c) in rec.configs.iter().enumerate() {
            // The best value (0.99) belongs to a pruned trial: it does not count.
            let status = if i == 6 {
                TrialStatus::Pruned
            } else {
                TrialStatus::Done
            };
            trials.push(trial(i as i64, c, status, Some(values[i])));
        }
        trials[3].status = TrialStatus::Running;
        let running = History {
            sweep: &rec,
            trials: &trials,
            epochs: &[],
        };
        assert!(
            s.confirmation(&running).unwrap().is_none(),
            "a trial still runs"
        );
        trials[3].status = TrialStatus::Done;
        let history = History {
            sweep: &rec,
            trials: &trials,
            epochs: &[],
        };
        let (spec, text, plan) = s.confirmation(&history).unwrap().unwrap();
        assert_eq!(spec.name, "s.confirm");
        assert_eq!(plan.seeds, vec![0, 1, 2]);
        let want = vec![rec.configs[4].hash.clone(), rec.configs[1].hash.clone()];
        let got: Vec<String> = plan.configs.iter().map(|c| c.hash.clone()).collect();
        assert_eq!(
            got, want,
            "the two best, best first, same identities:\n{text}"
        );
        assert!(plan.configs[0].baseline && !plan.configs[1].baseline);
        assert!(
            Strategy::of(&spec).is_none(),
            "the confirmation neither prunes nor searches"
        );

        // `confirm.validation: 0` retrains the same two on every training image: the same
        // configurations but for the split, so new identities, the search's best still first.
        let mut full = strategy();
        full.spec.confirm = Some(Confirm {
            top: 2,
            seeds: 3,
            validation: Some(0),
        });
        let (_, text, retrained) = full.confirmation(&history).unwrap().unwrap();
        assert_eq!(retrained.configs.len(), 2, "{text}");
        for (r, c) in retrained.configs.iter().zip(&plan.configs) {
            assert_eq!(r.run.train.validation, 0, "{text}");
            assert_ne!(
                r.hash, c.hash,
                "a different split is a different configuration"
            );
            let mut same = r.run.clone();
            same.train.validation = c.run.train.validation;
            assert_eq!(same, c.run, "nothing else changes:\n{text}");
        }
        assert!(retrained.configs[0].baseline && !retrained.configs[1].baseline);
    }

    #[test]
    fn a_refused_combination_is_drawn_again_with_its_parameter_at_random() {
        // Each of momentum 0 and Nesterov leads on its own, so past the start-up trials TPE
        // picks both, which the model refuses (Nesterov needs momentum): the proposal must
        // still come, with Nesterov drawn at random until the combination is valid.
        let text = "name: s\ndataset: fashion-mnist\nepochs: 2\ninclude_base: false\nsearch:\n  - tpe:\n      trials: 30\n      seed: 1\n      n_startup_trials: 4\n      params:\n        optimizer: {choice: [sgd]}\n        momentum: {choice: [0.0, 0.9]}\n        nesterov: {choice: [false, true]}\n        lr: {log_uniform: [1.0e-3, 0.1]}\n";
        let s = Strategy::of(&parse_spec(text, "s.yaml").unwrap()).unwrap();
        let mut configs: Vec<PlannedConfig> = Vec::new();
        let mut trials = Vec::new();
        for n in 0..30 {
            let c = next_proposal(&s, &configs, n, &trials)
                .unwrap_or_else(|e| panic!("proposal {n}: {e}"))
                .expect("budget left");
            use fcnsweep_model::optim::HyperValue;
            let o = &c.run.optimizer;
            let no_momentum = o.get("momentum") == Some(HyperValue::Float(0.0));
            let nesterov = o.get("nesterov") == Some(HyperValue::Bool(true));
            let value = 0.5
                + 0.2 * f64::from(u8::from(no_momentum))
                + 0.2 * f64::from(u8::from(nesterov))
                + 0.001 * n as f64;
            configs.push(c);
            let rec = sweep(configs.clone(), n + 1);
            trials.push(trial(
                n as i64,
                &rec.configs[n],
                TrialStatus::Done,
                Some(value),
            ));
        }
    }

    #[test]
    fn asha_prunes_from_the_stored_curves() {
        let s = strategy();
        let configs = crate::expand::expand(&s.spec).unwrap().configs;
        let rec = sweep(configs, 0);
        let c = &rec.configs[0];
        let epoch = |trial: i64, n: usize, acc: f64| EpochRecord {
            trial_id: trial,
            seed: 0,
            metrics: fcnsweep_model::EpochMetrics {
                epoch: n,
                train_loss: 1.0,
                train_acc: 0.5,
                val_loss: Some(1.0 - acc),
                val_acc: Some(acc),
                seconds: 0.1,
                eval_seconds: 0.0,
            },
        };
        // Trial 1 reached 0.8 at epoch 1; trial 2 reaches 0.3 there: with a reduction
        // factor of 2 and two trials at the rung, only the better one goes on.
        let trials = vec![
            trial(1, c, TrialStatus::Running, None),
            trial(2, c, TrialStatus::Running, None),
        ];
        let epochs = vec![epoch(1, 1, 0.8), epoch(2, 1, 0.3)];
        let history = History {
            sweep: &rec,
            trials: &trials,
            epochs: &epochs,
        };
        assert!(s.should_prune(2, &history));
        assert!(!s.should_prune(1, &history));
    }
}
