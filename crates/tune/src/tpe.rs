//! The TPE sampler: Optuna's independent (univariate) `TPESampler` with its defaults, as a pure
//! function of the trial history.
//!
//! One proposal builds a [`Tpe`] from the history, which splits the trials once into the good
//! ("below") and the rest ("above"); then [`Tpe::suggest`] draws the parameters one at a time, so
//! the caller can make later parameters conditional on earlier ones (a layer's width exists only
//! when the depth reaches it). For each parameter a Parzen estimator `l(x)` is fitted to the
//! below trials that have it and `g(x)` to the above ones; [`TpeOptions::n_ei_candidates`]
//! candidates are drawn from `l` and the one maximizing `log l(x) − log g(x)` wins.
//!
//! The semantics are those of Optuna 4.9 / 5.0 (the univariate estimator is identical in both):
//! `n_startup_trials = 10`, `n_ei_candidates = 24`, `gamma(n) = min(ceil(0.1 n), 25)`,
//! Optuna's `default_weights`, `prior_weight = 1`, `consider_magic_clip`, no
//! `consider_endpoints`, `multivariate = False`. Log-scale parameters are modelled in log space;
//! integers as a Gaussian mixture over the range widened by half a step whose samples are
//! rounded and whose density is the mass of each integer's unit cell; categoricals as a mixture
//! of categorical kernels with a uniform prior kernel.
//!
//! Start-up proposals are uniform draws as Optuna's `RandomSampler` makes them (uniform in log
//! space for log domains, integers over the half-step-widened range then rounded). After
//! start-up, a parameter that no trial has yet is drawn from the prior kernel (a Gaussian over
//! the whole domain), as Optuna does, not uniformly.
//!
//! Differences from Optuna, all deliberate:
//! - `constant_liar` defaults to `true` (running trials count among the bad ones so that
//!   parallel workers spread out). That is Optuna 5.0's default but not Optuna 4.x's (`False`).
//! - Random numbers come from the caller's [`rand::Rng`] (not NumPy's), so the same history and
//!   seed reproduce a proposal exactly, but the draws differ from Optuna's.
//! - Ties between equal parameter values are ordered by trial number (a stable sort) where
//!   NumPy's `argsort` leaves the order unspecified; it matters only for equal values with
//!   unequal weights (histories of more than 25 trials).
//! - A `Complete` trial whose value is NaN is ignored like Optuna's `FAIL` state (Optuna never
//!   completes a trial with a NaN value). A parameter value that is not inside the current
//!   domain (not finite, out of range, not integral for integers and categoricals) is ignored
//!   as if the trial did not have the parameter, where Optuna would fail or mis-model it.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rand::Rng;

use crate::Goal;

/// A searched parameter's domain (what the estimator models).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Domain {
    /// A real number in `[low, high]`, modelled in log space when `log` (then `low > 0`).
    Float {
        /// The smallest value.
        low: f64,
        /// The largest value.
        high: f64,
        /// Whether the parameter is searched on a log scale.
        log: bool,
    },
    /// An integer in `[low, high]` (step 1), modelled in log space when `log` (then `low ≥ 1`).
    Int {
        /// The smallest value.
        low: i64,
        /// The largest value.
        high: i64,
        /// Whether the parameter is searched on a log scale.
        log: bool,
    },
    /// One of `choices` unordered options, represented by its index `0..choices`.
    Categorical {
        /// How many options there are (at least one).
        choices: usize,
    },
}

impl Domain {
    /// Panics with a message when the domain is malformed (a caller's bug, not a data problem).
    fn validate(&self) {
        match *self {
            Domain::Float { low, high, log } => {
                assert!(
                    low.is_finite() && high.is_finite() && low <= high,
                    "Float domain needs finite low <= high, got [{low}, {high}]"
                );
                assert!(
                    !log || low > 0.0,
                    "log Float domain needs low > 0, got {low}"
                );
            }
            Domain::Int { low, high, log } => {
                assert!(
                    low <= high,
                    "Int domain needs low <= high, got [{low}, {high}]"
                );
                assert!(!log || low >= 1, "log Int domain needs low >= 1, got {low}");
            }
            Domain::Categorical { choices } => {
                assert!(choices >= 1, "Categorical domain needs at least one choice");
            }
        }
    }

    /// The only value of a one-point domain (Optuna does not sample those at all).
    fn single_value(&self) -> Option<f64> {
        match *self {
            Domain::Float { low, high, .. } if low == high => Some(low),
            Domain::Int { low, high, .. } if low == high => Some(low as f64),
            Domain::Categorical { choices: 1 } => Some(0.0),
            _ => None,
        }
    }

    /// Whether an observed internal value belongs to the domain (others are ignored).
    fn contains(&self, v: f64) -> bool {
        if !v.is_finite() {
            return false;
        }
        match *self {
            Domain::Float { low, high, .. } => low <= v && v <= high,
            Domain::Int { low, high, .. } => {
                v.fract() == 0.0 && low as f64 <= v && v <= high as f64
            }
            Domain::Categorical { choices } => v.fract() == 0.0 && v >= 0.0 && v < choices as f64,
        }
    }

    /// A uniform draw, exactly as Optuna's `RandomSampler` (uniform in log space for log
    /// domains; integers uniform over the range widened by half a step, then rounded).
    fn sample_uniform(&self, rng: &mut impl Rng) -> f64 {
        if let Some(v) = self.single_value() {
            return v;
        }
        match *self {
            Domain::Float { low, high, log } => {
                let u: f64 = rng.random();
                let v = if log {
                    let (a, b) = (low.ln(), high.ln());
                    (a + (b - a) * u).exp()
                } else {
                    low + (high - low) * u
                };
                // Optuna's random floats lie in [low, high).
                v.min(high.next_down()).max(low)
            }
            Domain::Int { low, high, log } => {
                let u: f64 = rng.random();
                let (lo, hi) = (low as f64, high as f64);
                let v = if log {
                    let (a, b) = ((lo - 0.5).ln(), (hi + 0.5).ln());
                    (a + (b - a) * u).exp().round_ties_even()
                } else {
                    let t = (lo - 0.5) + ((hi + 0.5) - (lo - 0.5)) * u;
                    (t - lo + 0.5).floor() + lo
                };
                v.clamp(lo, hi)
            }
            Domain::Categorical { choices } => rng.random_range(0..choices) as f64,
        }
    }
}

/// How a finished or running trial stands, for the split.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialState {
    /// Finished with an objective value (NaN: treated as failed and ignored).
    Complete {
        /// The objective value.
        value: f64,
    },
    /// Stopped early by a pruner; ranked by how far it got, then by its last intermediate value.
    Pruned {
        /// Intermediate values by step (e.g. epoch); for a repeated step the later entry wins.
        steps: Vec<(usize, f64)>,
    },
    /// Still training (a "bad" trial for the split when [`TpeOptions::constant_liar`]).
    Running,
}

/// One earlier trial: its number (proposal order), its parameter values (internal repr: floats
/// as f64 in their own scale (not log), ints as f64, categoricals as the choice index as f64),
/// and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The trial number: the order in which trials were proposed (older trials weigh less).
    pub number: usize,
    /// The parameter values the trial has (conditional parameters may be absent).
    pub params: BTreeMap<String, f64>,
    /// Where the trial stands.
    pub state: TrialState,
}

/// Options with Optuna's defaults (`Default` impl), plus `constant_liar = true`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TpeOptions {
    /// Sample at random while fewer than this many trials are complete or pruned (default 10).
    pub n_startup_trials: usize,
    /// Candidates drawn from `l(x)` per parameter; the best `l/g` ratio wins (default 24;
    /// 0 counts as 1).
    pub n_ei_candidates: usize,
    /// Weight of the prior kernel (a wide one over the whole domain) in both mixtures
    /// (default 1.0).
    pub prior_weight: f64,
    /// Floor the kernel widths at `range / min(100, n + 2)` (default true).
    pub consider_magic_clip: bool,
    /// Let the domain's ends widen the outermost kernels (default false).
    pub consider_endpoints: bool,
    /// Count running trials among the bad ("above") trials so parallel workers spread out.
    /// Default true here; Optuna 4.x defaults to false (Optuna 5.0 to true).
    pub constant_liar: bool,
}

impl Default for TpeOptions {
    fn default() -> Self {
        TpeOptions {
            n_startup_trials: 10,
            n_ei_candidates: 24,
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
            constant_liar: true,
        }
    }
}

/// Optuna's `default_gamma`: how many of `n` finished trials form the good ("below") group.
pub fn default_gamma(n: usize) -> usize {
    ((0.1 * n as f64).ceil() as usize).min(25)
}

/// Optuna's `default_weights` for `n` observations in trial order: ones for `n < 25`, else a
/// linear ramp from `1/n` to 1 over the oldest `n − 25` and ones for the newest 25.
pub fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let num = n - 25;
    let start = 1.0 / n as f64;
    // NumPy's linspace: start + i * step, with the last point set to `stop` exactly.
    let step = if num > 1 {
        (1.0 - start) / (num - 1) as f64
    } else {
        0.0
    };
    let mut w: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    if num > 1 {
        w[num - 1] = 1.0;
    }
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

/// A fitted Parzen estimator for one parameter: Optuna's `_ParzenEstimator` over a single
/// dimension. Public so that tests can check it against Optuna numerically.
#[derive(Debug, Clone)]
pub struct ParzenEstimator {
    /// Normalized mixture weights, one per kernel (observations in the given order, then the
    /// prior).
    weights: Vec<f64>,
    /// `ln` of `weights`.
    log_weights: Vec<f64>,
    kernels: Kernels,
}

#[derive(Debug, Clone)]
enum Kernels {
    /// Truncated Gaussians in model space (log space for log domains).
    Numerical {
        mus: Vec<f64>,
        sigmas: Vec<f64>,
        /// The model-space bounds (widened by half a step for integers, then logged).
        low_t: f64,
        high_t: f64,
        /// `ln` of each kernel's mass inside `[low_t, high_t]`.
        log_norm: Vec<f64>,
        /// `ln(sigma)` per kernel.
        log_sigmas: Vec<f64>,
        log: bool,
        /// `Some((low, high))` for integers (external scale, for rounding and clipping).
        int_range: Option<(f64, f64)>,
        /// The external bounds of a float domain, for clamping samples.
        float_range: (f64, f64),
    },
    /// One probability row per kernel over the choices.
    Categorical { probs: Vec<Vec<f64>> },
}

/// Optuna's `EPS`, the width floor without the magic clip.
const EPS: f64 = 1e-12;

impl ParzenEstimator {
    /// Fits the estimator to `observations` (internal values, oldest trial first; values
    /// outside `domain` are skipped), with Optuna's `_ParzenEstimator` rules for kernel
    /// centres, widths and weights.
    ///
    /// # Panics
    /// When the domain is malformed or `prior_weight` is negative or not finite.
    pub fn new(observations: &[f64], domain: &Domain, options: &TpeOptions) -> Self {
        domain.validate();
        let kept: Vec<f64>;
        let observations = if observations.iter().all(|&v| domain.contains(v)) {
            observations
        } else {
            kept = observations
                .iter()
                .copied()
                .filter(|&v| domain.contains(v))
                .collect();
            &kept
        };
        let n = observations.len();
        assert!(
            options.prior_weight >= 0.0 && options.prior_weight.is_finite(),
            "prior_weight must be finite and non-negative, got {}",
            options.prior_weight
        );
        let mut weights = if n == 0 {
            vec![1.0]
        } else {
            let mut w = default_weights(n);
            w.push(options.prior_weight);
            w
        };
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let log_weights = weights.iter().map(|w| w.ln()).collect();

        let kernels = match *domain {
            // No observations: one uniform kernel, whatever the prior weight (as Optuna).
            Domain::Categorical { choices } if n == 0 => Kernels::Categorical {
                probs: vec![vec![1.0 / choices as f64; choices]],
            },
            Domain::Categorical { choices } => {
                let n_kernels = n + 1;
                let fill = options.prior_weight / n_kernels as f64;
                let mut probs = vec![vec![fill; choices]; n_kernels];
                for (row, &obs) in probs.iter_mut().zip(observations) {
                    row[obs as usize] += 1.0;
                }
                for row in &mut probs {
                    let s: f64 = row.iter().sum();
                    let s = if s == 0.0 { 1.0 } else { s };
                    row.iter_mut().for_each(|p| *p /= s);
                }
                Kernels::Categorical { probs }
            }
            Domain::Float { low, high, log } => {
                Self::numerical(observations, low, high, log, None, options)
            }
            Domain::Int { low, high, log } => {
                let (lo, hi) = (low as f64, high as f64);
                Self::numerical(observations, lo, hi, log, Some((lo, hi)), options)
            }
        };
        ParzenEstimator {
            weights,
            log_weights,
            kernels,
        }
    }

    fn numerical(
        observations: &[f64],
        low: f64,
        high: f64,
        log: bool,
        int_range: Option<(f64, f64)>,
        options: &TpeOptions,
    ) -> Kernels {
        let (mut low_t, mut high_t) = (low, high);
        if int_range.is_some() {
            low_t -= 0.5;
            high_t += 0.5;
        }
        let mut mus: Vec<f64> = observations.to_vec();
        if log {
            low_t = low_t.ln();
            high_t = high_t.ln();
            mus.iter_mut().for_each(|m| *m = m.ln());
        }
        let n = mus.len();

        // Each kernel is as wide as the larger gap to its neighbours (domain ends included).
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| mus[i].total_cmp(&mus[j]));
        let mut ends = Vec::with_capacity(n + 2);
        ends.push(low_t);
        ends.extend(order.iter().map(|&i| mus[i]));
        ends.push(high_t);
        let mut sorted_sigmas: Vec<f64> = (0..n)
            .map(|i| (ends[i + 1] - ends[i]).max(ends[i + 2] - ends[i + 1]))
            .collect();
        if !options.consider_endpoints && n >= 2 {
            sorted_sigmas[0] = ends[2] - ends[1];
            sorted_sigmas[n - 1] = ends[n] - ends[n - 1];
        }
        let maxsigma = high_t - low_t;
        let minsigma = if options.consider_magic_clip {
            (high_t - low_t) / 100f64.min(1.0 + (n + 1) as f64)
        } else {
            EPS
        };
        let mut sigmas = vec![0.0; n];
        for (k, &i) in order.iter().enumerate() {
            sigmas[i] = sorted_sigmas[k].max(minsigma).min(maxsigma);
        }
        // The prior: one wide kernel over the whole domain.
        mus.push(0.5 * (low_t + high_t));
        sigmas.push(high_t - low_t);

        let log_norm = mus
            .iter()
            .zip(&sigmas)
            .map(|(&mu, &s)| math::log_gauss_mass((low_t - mu) / s, (high_t - mu) / s))
            .collect();
        let log_sigmas = sigmas.iter().map(|s| s.ln()).collect();
        Kernels::Numerical {
            mus,
            sigmas,
            low_t,
            high_t,
            log_norm,
            log_sigmas,
            log,
            int_range,
            float_range: (low, high),
        }
    }

    /// The number of mixture components (observations plus the prior).
    pub fn n_kernels(&self) -> usize {
        self.weights.len()
    }

    /// `ln` of the estimator's density at internal value `x`, as Optuna's `log_pdf`: for floats
    /// the density in model space (log space for log domains, no Jacobian: it cancels in
    /// `l/g`), for integers the probability of `x`, for categoricals the probability of index
    /// `x`.
    pub fn log_pdf(&self, x: f64) -> f64 {
        let mut terms: Vec<f64> = Vec::with_capacity(self.weights.len());
        match &self.kernels {
            Kernels::Categorical { probs } => {
                if !(x >= 0.0 && (x as usize) < probs[0].len()) {
                    return f64::NEG_INFINITY;
                }
                let i = x as usize;
                terms.extend(
                    probs
                        .iter()
                        .zip(&self.log_weights)
                        .map(|(row, lw)| row[i].ln() + lw),
                );
            }
            Kernels::Numerical {
                mus,
                sigmas,
                low_t,
                high_t,
                log_norm,
                log_sigmas,
                log,
                int_range,
                ..
            } => {
                let tr = |v: f64| if *log { v.ln() } else { v };
                if int_range.is_some() {
                    let (left, right) = (tr(x - 0.5), tr(x + 0.5));
                    for k in 0..mus.len() {
                        let (mu, s) = (mus[k], sigmas[k]);
                        let mass = math::log_gauss_mass((left - mu) / s, (right - mu) / s);
                        terms.push(mass - log_norm[k] + self.log_weights[k]);
                    }
                } else {
                    let xt = tr(x);
                    for k in 0..mus.len() {
                        let (mu, s) = (mus[k], sigmas[k]);
                        let z = (xt - mu) / s;
                        let (a, b) = ((low_t - mu) / s, (high_t - mu) / s);
                        let lp = if z < a || z > b {
                            f64::NEG_INFINITY
                        } else {
                            math::norm_logpdf(z) - log_norm[k] - log_sigmas[k]
                        };
                        terms.push(lp + self.log_weights[k]);
                    }
                }
            }
        }
        math::log_sum_exp(&terms)
    }

    /// Draws one internal value: a kernel by weight, then a value from it (rounded and clipped
    /// for integers, an index for categoricals).
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        let k = pick(&self.weights, rng.random());
        match &self.kernels {
            Kernels::Categorical { probs } => pick(&probs[k], rng.random()) as f64,
            Kernels::Numerical {
                mus,
                sigmas,
                low_t,
                high_t,
                log,
                int_range,
                float_range,
                ..
            } => {
                let (mu, s) = (mus[k], sigmas[k]);
                let q: f64 = rng.random();
                let z = math::truncnorm_ppf(q, (low_t - mu) / s, (high_t - mu) / s);
                let mut v = (mu + s * z).clamp(*low_t, *high_t);
                if *log {
                    v = v.exp();
                }
                match int_range {
                    Some((lo, hi)) => (lo + (v - lo).round_ties_even()).clamp(*lo, *hi),
                    None => v.clamp(float_range.0, float_range.1),
                }
            }
        }
    }
}

/// The index whose cumulative weight first reaches `u · total` (NumPy's `choice` with `p`).
fn pick(weights: &[f64], u: f64) -> usize {
    let total: f64 = weights.iter().sum();
    let target = u * total;
    let mut cum = 0.0;
    for (i, w) in weights.iter().enumerate() {
        cum += w;
        if target < cum {
            return i;
        }
    }
    // Rounding: the last kernel with positive weight.
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// The sampler for one proposal: holds the split of the history (computed once), then suggests
/// parameters one at a time so the caller can make later parameters conditional on earlier
/// ones.
#[derive(Debug, Clone)]
pub struct Tpe<'h> {
    history: &'h [Observation],
    options: TpeOptions,
    startup: bool,
    /// Indices into `history` of the good trials, by trial number.
    below: Vec<usize>,
    /// Indices into `history` of the other trials (running ones included under the constant
    /// liar), by trial number.
    above: Vec<usize>,
}

impl<'h> Tpe<'h> {
    /// Splits `history` as Optuna's `_split_trials` does (see [`split_trials`]) into the best
    /// `gamma(n)` trials and the rest, where `n` counts complete and pruned trials; running
    /// trials go above when `constant_liar`, else are ignored.
    pub fn new(history: &'h [Observation], goal: Goal, options: &TpeOptions) -> Self {
        let (below, above, n) = split_indices(history, goal, options.constant_liar, default_gamma);
        Tpe {
            history,
            options: *options,
            startup: n < options.n_startup_trials,
            below,
            above,
        }
    }

    /// Whether this proposal is still in the random start-up phase (fewer than
    /// `n_startup_trials` trials complete or pruned, Optuna's rule; running ones do not count).
    pub fn is_startup(&self) -> bool {
        self.startup
    }

    /// The trial numbers of the good ("below") and the other ("above") trials, each ascending.
    pub fn split_numbers(&self) -> (Vec<usize>, Vec<usize>) {
        let numbers = |v: &[usize]| v.iter().map(|&i| self.history[i].number).collect();
        (numbers(&self.below), numbers(&self.above))
    }

    /// The values of `name` among the trials `indices`, in trial order, skipping trials that
    /// lack it or whose value lies outside `domain`.
    fn observations(&self, indices: &[usize], name: &str, domain: &Domain) -> Vec<f64> {
        indices
            .iter()
            .filter_map(|&i| self.history[i].params.get(name).copied())
            .filter(|&v| domain.contains(v))
            .collect()
    }

    /// The fitted `l(x)` (below) and `g(x)` (above) estimators for parameter `name`.
    pub fn estimators(&self, name: &str, domain: &Domain) -> (ParzenEstimator, ParzenEstimator) {
        let below = self.observations(&self.below, name, domain);
        let above = self.observations(&self.above, name, domain);
        (
            ParzenEstimator::new(&below, domain, &self.options),
            ParzenEstimator::new(&above, domain, &self.options),
        )
    }

    /// Suggests a value for parameter `name` over `domain`: uniformly at random in start-up,
    /// otherwise by TPE (when no trial has the parameter yet, both estimators are the prior
    /// alone and the draw comes from the prior, as in Optuna, rather than uniformly). Ints and
    /// categoricals come back as exact integral f64 inside the domain; a one-point domain
    /// returns its point.
    ///
    /// # Panics
    /// When the domain is malformed (`low > high`, non-finite bounds, a log domain reaching
    /// zero, no choices).
    pub fn suggest(&self, name: &str, domain: &Domain, rng: &mut impl Rng) -> f64 {
        if let Some(v) = self.without_model(domain, rng) {
            return v;
        }
        let (l, g) = self.estimators(name, domain);
        let mut best = f64::NAN;
        let mut best_acq = f64::NEG_INFINITY;
        for _ in 0..self.options.n_ei_candidates.max(1) {
            let x = l.sample(rng);
            let acq = l.log_pdf(x) - g.log_pdf(x);
            if best.is_nan() || acq > best_acq {
                best = x;
                best_acq = acq;
            }
        }
        best
    }

    /// One draw of parameter `name` from the good trials' estimator `l(x)` alone, with no
    /// choice among candidates (uniform in start-up; a one-point domain returns its point):
    /// the raw material of a joint proposal, scored afterwards on every parameter at once
    /// (as Optuna's multivariate TPE scores its candidates), where [`Tpe::suggest`] picks
    /// each parameter's best of `n_ei_candidates` on its own.
    ///
    /// # Panics
    /// As [`Tpe::suggest`], on a malformed domain.
    pub fn draw(&self, name: &str, domain: &Domain, rng: &mut impl Rng) -> f64 {
        if let Some(v) = self.without_model(domain, rng) {
            return v;
        }
        self.estimators(name, domain).0.sample(rng)
    }

    /// The value of a draw that needs no estimator: a one-point domain's point, or in
    /// start-up a uniform draw; `None` when TPE's model decides. Checks the domain first.
    fn without_model(&self, domain: &Domain, rng: &mut impl Rng) -> Option<f64> {
        domain.validate();
        if let Some(v) = domain.single_value() {
            return Some(v);
        }
        self.startup.then(|| domain.sample_uniform(rng))
    }

    /// `ln l(x) − ln g(x)` for parameter `name` at internal value `x`: how much more likely
    /// the good trials make `x` than the others; 0 in start-up and for a one-point domain.
    pub fn log_ratio(&self, name: &str, domain: &Domain, x: f64) -> f64 {
        self.density_ratio(name, domain).log_at(x)
    }

    /// The fitted `ln l(x) − ln g(x)` of parameter `name`, to score many candidates with one
    /// fit of its two estimators ([`Tpe::log_ratio`] fits them for one value).
    pub fn density_ratio(&self, name: &str, domain: &Domain) -> DensityRatio {
        domain.validate();
        if self.startup || domain.single_value().is_some() {
            return DensityRatio(None);
        }
        DensityRatio(Some(self.estimators(name, domain)))
    }

    /// `ln` of a configuration's expected improvement, up to a constant, from its joint
    /// `ln l/g` (the sum of its parameters' [`Tpe::log_ratio`], the estimators being
    /// independent): Bergstra et al. (2011) show `EI ∝ (γ + (1 − γ)·g/l)⁻¹`, with `γ` the
    /// share of the split's trials that are good.
    pub fn log_expected_improvement(&self, log_ratio: f64) -> f64 {
        let n = self.below.len() + self.above.len();
        if n == 0 || self.below.is_empty() {
            return 0.0;
        }
        let gamma = self.below.len() as f64 / n as f64;
        if gamma >= 1.0 {
            return 0.0;
        }
        -math::log_sum_exp(&[gamma.ln(), (1.0 - gamma).ln() - log_ratio])
    }
}

/// One parameter's fitted density ratio `ln l(x) − ln g(x)` ([`Tpe::density_ratio`]); 0
/// everywhere in start-up and for a one-point domain, where TPE has nothing to compare.
#[derive(Debug, Clone)]
pub struct DensityRatio(Option<(ParzenEstimator, ParzenEstimator)>);

impl DensityRatio {
    /// `ln l(x) − ln g(x)` at internal value `x`.
    pub fn log_at(&self, x: f64) -> f64 {
        self.0
            .as_ref()
            .map_or(0.0, |(l, g)| l.log_pdf(x) - g.log_pdf(x))
    }
}

/// The cost-aware score of a candidate (EI-cool, Lee et al. 2020, "Cost-aware Bayesian
/// optimization"): `ln(EI / cost^α)` with `α = 1 − budget_used` (the share of the budget
/// spent, clamped to [0, 1]), so a search starts by preferring cheap configurations of equal
/// promise and ends ranking by expected improvement alone.
pub fn cost_cooled_score(log_ei: f64, cost: f64, budget_used: f64) -> f64 {
    let alpha = (1.0 - budget_used).clamp(0.0, 1.0);
    if alpha == 0.0 {
        return log_ei;
    }
    log_ei - alpha * cost.max(f64::MIN_POSITIVE).ln()
}

/// Optuna's `_split_trials` with a given `n_below`: complete trials ranked by value (ties in
/// trial order), then pruned trials ranked by (furthest step, last intermediate value; NaN
/// worst; none at all last), the first `n_below` below; running trials above when
/// `constant_liar`, else ignored; NaN-valued (failed) trials ignored. Returns the trial numbers
/// of both groups, each ascending.
pub fn split_trials(
    history: &[Observation],
    goal: Goal,
    n_below: usize,
    constant_liar: bool,
) -> (Vec<usize>, Vec<usize>) {
    let (below, above, _) = split_indices(history, goal, constant_liar, |_| n_below);
    let numbers = |v: Vec<usize>| v.into_iter().map(|i| history[i].number).collect();
    (numbers(below), numbers(above))
}

/// The split as indices into `history` (each group by trial number), and `n`, the number of
/// complete and pruned trials that `n_below(n)` is asked about.
fn split_indices(
    history: &[Observation],
    goal: Goal,
    constant_liar: bool,
    n_below: impl FnOnce(usize) -> usize,
) -> (Vec<usize>, Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..history.len()).collect();
    order.sort_by_key(|&i| history[i].number);

    let mut complete = Vec::new();
    let mut pruned = Vec::new();
    let mut running = Vec::new();
    for &i in &order {
        match &history[i].state {
            TrialState::Complete { value } if value.is_nan() => {}
            TrialState::Complete { value } => complete.push((i, *value)),
            TrialState::Pruned { steps } => pruned.push((i, pruned_score(steps, goal))),
            TrialState::Running if constant_liar => running.push(i),
            TrialState::Running => {}
        }
    }
    let n = complete.len() + pruned.len();
    let mut n_below = n_below(n);

    // Stable sorts: equal values keep trial order, as Python's `sorted` does (also with
    // `reverse=True`).
    complete.sort_by(|a, b| {
        let ord = a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal);
        match goal {
            Goal::Minimize => ord,
            Goal::Maximize => ord.reverse(),
        }
    });
    pruned.sort_by(|a, b| {
        let ((sa, va), (sb, vb)) = (a.1, b.1);
        sa.cmp(&sb)
            .then(va.partial_cmp(&vb).unwrap_or(Ordering::Equal))
    });
    let k = n_below.min(complete.len());
    let mut below: Vec<usize> = complete[..k].iter().map(|c| c.0).collect();
    let mut above: Vec<usize> = complete[k..].iter().map(|c| c.0).collect();
    n_below -= k;
    let k = n_below.min(pruned.len());
    below.extend(pruned[..k].iter().map(|p| p.0));
    above.extend(pruned[k..].iter().map(|p| p.0));
    above.extend(running);
    below.sort_by_key(|&i| history[i].number);
    above.sort_by_key(|&i| history[i].number);
    (below, above, n)
}

/// Optuna's `_get_pruned_trial_score`, smaller is better: (−last step, last value oriented so
/// that smaller is better, NaN as +∞); no intermediate values rank after every step.
fn pruned_score(steps: &[(usize, f64)], goal: Goal) -> (i64, f64) {
    let mut last: Option<(usize, f64)> = None;
    for &(s, v) in steps {
        if last.is_none_or(|(ls, _)| s >= ls) {
            last = Some((s, v));
        }
    }
    match last {
        None => (1, 0.0),
        Some((s, v)) if v.is_nan() => (-(s as i64), f64::INFINITY),
        Some((s, v)) => (
            -(s as i64),
            match goal {
                Goal::Minimize => v,
                Goal::Maximize => -v,
            },
        ),
    }
}

/// The normal-distribution arithmetic the estimator needs, following the formulas of Optuna's
/// `_truncnorm` (SciPy's) so that densities agree with Optuna's to rounding.
mod math {
    use std::f64::consts::{PI, SQRT_2};

    /// `ln √(2π)`.
    fn log_sqrt_2pi() -> f64 {
        (2.0 * PI).sqrt().ln()
    }

    /// The standard normal log density.
    pub fn norm_logpdf(z: f64) -> f64 {
        -(z * z) / 2.0 - log_sqrt_2pi()
    }

    /// `ln Σ exp(t)` without overflow; `-∞` when every term is.
    pub fn log_sum_exp(terms: &[f64]) -> f64 {
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let m = if max == f64::NEG_INFINITY { 0.0 } else { max };
        terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln() + m
    }

    /// The standard normal CDF with erf/erfc chosen by region (Optuna's `_ndtr_single`).
    fn ndtr_single(a: f64) -> f64 {
        let x = a / SQRT_2;
        let r = 1.0 / SQRT_2;
        if x < -r {
            0.5 * erf::erfc(-x)
        } else if x < r {
            0.5 + 0.5 * erf::erf(x)
        } else {
            1.0 - 0.5 * erf::erfc(x)
        }
    }

    /// The standard normal CDF as `½ + ½ erf(a/√2)` (Optuna's vectorized `_ndtr`).
    fn ndtr(a: f64) -> f64 {
        0.5 + 0.5 * erf::erf(a / SQRT_2)
    }

    /// `ln Φ(a)`, with the asymptotic series far in the left tail.
    pub fn log_ndtr(a: f64) -> f64 {
        if a > 6.0 {
            return -ndtr_single(-a);
        }
        if a > -20.0 {
            return ndtr_single(a).ln();
        }
        let log_lhs = -0.5 * a * a - (-a).ln() - 0.5 * (2.0 * PI).ln();
        let mut last_total = 0.0_f64;
        let mut rhs = 1.0_f64;
        let mut numerator = 1.0;
        let mut denom_factor = 1.0;
        let denom_cons = 1.0 / (a * a);
        let mut sign = 1.0;
        let mut i = 0.0;
        while (last_total - rhs).abs() > f64::EPSILON {
            i += 1.0;
            last_total = rhs;
            sign = -sign;
            denom_factor *= denom_cons;
            numerator *= 2.0 * i - 1.0;
            rhs += sign * numerator * denom_factor;
        }
        log_lhs + rhs.ln()
    }

    /// `ln(p − q)` from `ln p` and `ln q`.
    fn log_diff(log_p: f64, log_q: f64) -> f64 {
        log_p + (-(log_q - log_p).exp()).ln_1p()
    }

    /// `ln` of the standard normal mass in `[a, b]`, computed in the left tail for accuracy.
    pub fn log_gauss_mass(a: f64, b: f64) -> f64 {
        if b <= 0.0 {
            log_diff(log_ndtr(b), log_ndtr(a))
        } else if a > 0.0 {
            log_diff(log_ndtr(-a), log_ndtr(-b))
        } else {
            (-ndtr(a) - ndtr(-b)).ln_1p()
        }
    }

    /// The inverse standard normal CDF for `p` in `(0, 1)`: Acklam's rational approximation,
    /// polished by one Halley step.
    fn ndtri(p: f64) -> f64 {
        const A: [f64; 6] = [
            -3.969683028665376e1,
            2.209460984245205e2,
            -2.759285104469687e2,
            1.38357751867269e2,
            -3.066479806614716e1,
            2.506628277459239,
        ];
        const B: [f64; 5] = [
            -5.447609879822406e1,
            1.615858368580409e2,
            -1.556989798598866e2,
            6.680131188771972e1,
            -1.328068155288572e1,
        ];
        const C: [f64; 6] = [
            -7.784894002430293e-3,
            -3.223964580411365e-1,
            -2.400758277161838,
            -2.549732539343734,
            4.374664141464968,
            2.938163982698783,
        ];
        const D: [f64; 4] = [
            7.784695709041462e-3,
            3.224671290700398e-1,
            2.445134137142996,
            3.754408661907416,
        ];
        let tail = |q: f64| {
            (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
                / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
        };
        let x = if p < 0.02425 {
            tail((-2.0 * p.ln()).sqrt())
        } else if p <= 1.0 - 0.02425 {
            let q = p - 0.5;
            let r = q * q;
            (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
                / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
        } else {
            -tail((-2.0 * (1.0 - p).ln()).sqrt())
        };
        let e = 0.5 * erf::erfc(-x / SQRT_2) - p;
        let u = e * (2.0 * PI).sqrt() * (x * x / 2.0).exp();
        x - u / (1.0 + x * u / 2.0)
    }

    /// `x` with `ln Φ(x) = y`, for any `y < 0`.
    fn ndtri_exp(y: f64) -> f64 {
        if y > -std::f64::consts::LN_2 {
            // Φ(x) > ½: from the right tail, 1 − Φ(x) = −expm1(y).
            -ndtri(-y.exp_m1())
        } else if y > -700.0 {
            ndtri(y.exp())
        } else {
            // Beyond f64's normal range: Newton on ln Φ from the asymptotic guess.
            let mut x = -(-2.0 * (y + log_sqrt_2pi())).sqrt();
            for _ in 0..50 {
                let l = log_ndtr(x);
                let dx = (l - y) * (l - norm_logpdf(x)).exp();
                x -= dx;
                if dx.abs() <= 1e-14 * x.abs() {
                    break;
                }
            }
            x
        }
    }

    /// The `q`-quantile of the standard normal truncated to `[a, b]` (`a < b`), clamped into
    /// the interval.
    pub fn truncnorm_ppf(q: f64, a: f64, b: f64) -> f64 {
        if a >= 0.0 {
            // The left tail is the accurate one: mirror.
            return -truncnorm_ppf(1.0 - q, -b, -a);
        }
        if q <= 0.0 {
            return a;
        }
        let log_p = {
            let (x, y) = (log_ndtr(a), q.ln() + log_gauss_mass(a, b));
            let m = x.max(y);
            m + ((x - m).exp() + (y - m).exp()).ln()
        };
        if log_p >= 0.0 {
            return b;
        }
        let x = ndtri_exp(log_p);
        if x.is_nan() {
            a
        } else {
            x.clamp(a, b)
        }
    }

    /// `erf` and `erfc` for f64, after FreeBSD msun's `s_erf.c` (the algorithm and coefficients
    /// of the C libraries Python's `math.erf` wraps), which carries this notice:
    ///
    /// Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
    ///
    /// Developed at SunPro, a Sun Microsystems, Inc. business.
    /// Permission to use, copy, modify, and distribute this
    /// software is freely granted, provided that this notice
    /// is preserved.
    #[allow(clippy::excessive_precision)]
    pub mod erf {
        const ERX: f64 = 8.45062911510467529297e-01;
        const EFX: f64 = 1.28379167095512586316e-01;
        const EFX8: f64 = 1.02703333676410069053e+00;
        const TINY: f64 = 1e-300;
        const PP: [f64; 5] = [
            1.28379167095512558561e-01,
            -3.25042107247001499370e-01,
            -2.84817495755985104766e-02,
            -5.77027029648944159157e-03,
            -2.37630166566501626084e-05,
        ];
        const QQ: [f64; 5] = [
            3.97917223959155352819e-01,
            6.50222499887672944485e-02,
            5.08130628187576562776e-03,
            1.32494738004321644526e-04,
            -3.96022827877536812320e-06,
        ];
        const PA: [f64; 7] = [
            -2.36211856075265944077e-03,
            4.14856118683748331666e-01,
            -3.72207876035701323847e-01,
            3.18346619901161753674e-01,
            -1.10894694282396677476e-01,
            3.54783043256182359371e-02,
            -2.16637559486879084300e-03,
        ];
        const QA: [f64; 6] = [
            1.06420880400844228286e-01,
            5.40397917702171048937e-01,
            7.18286544141962662868e-02,
            1.26171219808761642112e-01,
            1.36370839120290507362e-02,
            1.19844998467991074170e-02,
        ];
        const RA: [f64; 8] = [
            -9.86494403484714822705e-03,
            -6.93858572707181764372e-01,
            -1.05586262253232909814e+01,
            -6.23753324503260060396e+01,
            -1.62396669462573470355e+02,
            -1.84605092906711035994e+02,
            -8.12874355063065934246e+01,
            -9.81432934416914548592e+00,
        ];
        const SA: [f64; 8] = [
            1.96512716674392571292e+01,
            1.37657754143519042600e+02,
            4.34565877475229228821e+02,
            6.45387271733267880336e+02,
            4.29008140027567833386e+02,
            1.08635005541779435134e+02,
            6.57024977031928170135e+00,
            -6.04244152148580987438e-02,
        ];
        const RB: [f64; 7] = [
            -9.86494292470009928597e-03,
            -7.99283237680523006574e-01,
            -1.77579549177547519889e+01,
            -1.60636384855821916062e+02,
            -6.37566443368389627722e+02,
            -1.02509513161107724954e+03,
            -4.83519191608651397019e+02,
        ];
        const SB: [f64; 7] = [
            3.03380607434824582924e+01,
            3.25792512996573918826e+02,
            1.53672958608443695994e+03,
            3.19985821950859553908e+03,
            2.55305040643316442583e+03,
            4.74528541206955367215e+02,
            -2.24409524465858183362e+01,
        ];

        /// `p[0] + z p[1] + z² p[2] + …` by Horner's rule.
        fn poly(p: &[f64], z: f64) -> f64 {
            p.iter().rev().fold(0.0, |acc, &c| acc * z + c)
        }

        /// `1 + z q[0] + z² q[1] + …`.
        fn poly1(q: &[f64], z: f64) -> f64 {
            1.0 + z * poly(q, z)
        }

        /// The high 32 bits as a signed word, the way the C code reads them.
        fn high_word(x: f64) -> i32 {
            (x.to_bits() >> 32) as u32 as i32
        }

        /// `exp(−x² − 0.5625 + R/S)` for `|x| ≥ 1.25`, with the split of `x²` that keeps
        /// it exact; `small` picks the fit for `|x| < 1/0.35`.
        fn tail(x: f64, small: bool) -> f64 {
            let s = 1.0 / (x * x);
            let (r, big_s) = if small {
                (poly(&RA, s), poly1(&SA, s))
            } else {
                (poly(&RB, s), poly1(&SB, s))
            };
            let z = f64::from_bits(x.to_bits() & 0xffff_ffff_0000_0000);
            (-z * z - 0.5625).exp() * ((z - x) * (z + x) + r / big_s).exp()
        }

        /// The error function.
        pub fn erf(x: f64) -> f64 {
            let hx = high_word(x);
            let ix = hx & 0x7fff_ffff;
            if ix >= 0x7ff0_0000 {
                // NaN, or ±1 at ±∞.
                return if x.is_nan() { x } else { x.signum() };
            }
            if ix < 0x3feb_0000 {
                // |x| < 0.84375
                if ix < 0x3e30_0000 {
                    // |x| < 2**-28
                    if ix < 0x0080_0000 {
                        return 0.125 * (8.0 * x + EFX8 * x);
                    }
                    return x + EFX * x;
                }
                let z = x * x;
                let y = poly(&PP, z) / poly1(&QQ, z);
                return x + x * y;
            }
            if ix < 0x3ff4_0000 {
                // 0.84375 <= |x| < 1.25
                let s = x.abs() - 1.0;
                let pq = poly(&PA, s) / poly1(&QA, s);
                return if hx >= 0 { ERX + pq } else { -ERX - pq };
            }
            if ix >= 0x4018_0000 {
                // |x| >= 6
                return if hx >= 0 { 1.0 - TINY } else { TINY - 1.0 };
            }
            let ax = x.abs();
            let r = tail(ax, ix < 0x4006_DB6E);
            if hx >= 0 {
                1.0 - r / ax
            } else {
                r / ax - 1.0
            }
        }

        /// The complementary error function `1 − erf(x)`, accurate in the right tail.
        pub fn erfc(x: f64) -> f64 {
            let hx = high_word(x);
            let ix = hx & 0x7fff_ffff;
            if ix >= 0x7ff0_0000 {
                // NaN, 0 at +∞, 2 at −∞.
                return if x.is_nan() {
                    x
                } else if x > 0.0 {
                    0.0
                } else {
                    2.0
                };
            }
            if ix < 0x3feb_0000 {
                // |x| < 0.84375
                if ix < 0x3c70_0000 {
                    // |x| < 2**-56
                    return 1.0 - x;
                }
                let z = x * x;
                let y = poly(&PP, z) / poly1(&QQ, z);
                if hx < 0x3fd0_0000 {
                    // x < 1/4
                    return 1.0 - (x + x * y);
                }
                let r = x * y + (x - 0.5);
                return 0.5 - r;
            }
            if ix < 0x3ff4_0000 {
                // 0.84375 <= |x| < 1.25
                let s = x.abs() - 1.0;
                let pq = poly(&PA, s) / poly1(&QA, s);
                return if hx >= 0 {
                    (1.0 - ERX) - pq
                } else {
                    1.0 + (ERX + pq)
                };
            }
            if ix < 0x403c_0000 {
                // |x| < 28
                if hx < 0 && ix >= 0x4018_0000 {
                    // x <= -6
                    return 2.0 - TINY;
                }
                let ax = x.abs();
                // erfc's boundary between the two fits is one unit lower than erf's.
                let r = tail(ax, ix < 0x4006_DB6D);
                return if hx > 0 { r / ax } else { 2.0 - r / ax };
            }
            if hx > 0 {
                TINY * TINY
            } else {
                2.0 - TINY
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::math::erf::{erf, erfc};
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn obs(number: usize, params: &[(&str, f64)], state: TrialState) -> Observation {
        Observation {
            number,
            params: params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            state,
        }
    }

    #[test]
    fn erf_matches_libm_bits() {
        // Values from CPython's math.erf / math.erfc (glibc), as hex floats.
        let cases = [
            (erf(0.5), "0x1.0a7ef5c18edd2p-1"),
            (erfc(3.0), "0x1.729df65034229p-16"),
            (erfc(10.0), "0x1.7d8a7f2a8a2d0p-149"),
            (erf(1.0), "0x1.af767a741088bp-1"),
            (erfc(-2.0), "0x1.fecd70a13caf2p+0"),
            (erfc(0.3), "0x1.57be3bbf10af8p-1"),
            (erfc(26.0), "0x1.284bfe1cdea24p-981"),
        ];
        for (got, want) in cases {
            let want = parse_hex(want);
            assert!(
                (got - want).abs() <= 2.0 * f64::EPSILON * want.abs(),
                "{got:e} vs {want:e}"
            );
        }
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(f64::INFINITY), 1.0);
        assert_eq!(erfc(f64::NEG_INFINITY), 2.0);
        assert!(erf(f64::NAN).is_nan());
    }

    /// Parses `[-]0x1.<hex>p<exp>` (what Python's `float.hex` writes).
    fn parse_hex(s: &str) -> f64 {
        let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
        let s = s.strip_prefix("0x1.").unwrap();
        let (mant, exp) = s.split_once('p').unwrap();
        let m = u64::from_str_radix(mant, 16).unwrap() as f64 / 16f64.powi(mant.len() as i32);
        let v = (1.0 + m) * 2f64.powi(exp.parse().unwrap());
        if neg {
            -v
        } else {
            v
        }
    }

    #[test]
    fn inverse_cdf_round_trips() {
        // Quantiles of the (barely) truncated normal; q = Φ(x) is exact enough up to x = 3.
        for &x in &[-37.0, -20.0, -8.0, -3.0, -1.0, -0.1, 0.0, 0.3, 2.0, 3.0] {
            let q = math::log_ndtr(x).exp();
            let z = math::truncnorm_ppf(q, -60.0, 60.0);
            assert!((z - x).abs() < 1e-9 * (1.0 + x.abs()), "{x} -> {z}");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for &(a, b) in &[
            (-100.0, 0.0),
            (0.0, 100.0),
            (-0.5, 0.5),
            (3.0, 90.0),
            (-1.0, 1e-3),
        ] {
            for _ in 0..200 {
                let z = math::truncnorm_ppf(rng.random(), a, b);
                assert!(z >= a && z <= b, "{z} not in [{a}, {b}]");
            }
        }
    }

    #[test]
    fn gamma_and_weights_follow_optuna() {
        assert_eq!(default_gamma(0), 0);
        assert_eq!(default_gamma(10), 1);
        assert_eq!(default_gamma(11), 2);
        assert_eq!(default_gamma(30), 3);
        assert_eq!(default_gamma(1000), 25);
        assert_eq!(default_weights(3), vec![1.0; 3]);
        assert_eq!(default_weights(25), vec![1.0; 25]);
        assert_eq!(default_weights(26)[0], 1.0 / 26.0);
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        assert_eq!(w[0], 1.0 / 30.0);
        assert_eq!(w[4], 1.0);
        assert!(w[..5].windows(2).all(|p| p[0] < p[1]));
    }

    #[test]
    fn densities_are_normalized() {
        let opts = TpeOptions::default();
        let xs = [0.1, 0.15, 0.7, 0.71, 0.9];
        let est = ParzenEstimator::new(
            &xs,
            &Domain::Float {
                low: 0.0,
                high: 1.0,
                log: false,
            },
            &opts,
        );
        let n = 20_000;
        let integral: f64 = (0..n)
            .map(|i| est.log_pdf((i as f64 + 0.5) / n as f64).exp() / n as f64)
            .sum();
        assert!((integral - 1.0).abs() < 1e-4, "{integral}");

        let d = Domain::Int {
            low: 1,
            high: 64,
            log: true,
        };
        let est = ParzenEstimator::new(&[1.0, 2.0, 2.0, 33.0, 64.0], &d, &opts);
        let total: f64 = (1..=64).map(|k| est.log_pdf(k as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-12, "{total}");

        let d = Domain::Categorical { choices: 3 };
        let est = ParzenEstimator::new(&[0.0, 2.0, 2.0], &d, &opts);
        let total: f64 = (0..3).map(|k| est.log_pdf(k as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
        assert_eq!(est.log_pdf(3.0), f64::NEG_INFINITY);
    }

    #[test]
    fn samples_stay_in_domain_and_integral() {
        let opts = TpeOptions::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let domains = [
            (
                Domain::Float {
                    low: -2.0,
                    high: 3.0,
                    log: false,
                },
                vec![-2.0, 3.0, 0.0],
            ),
            (
                Domain::Float {
                    low: 1e-5,
                    high: 1.0,
                    log: true,
                },
                vec![1e-5, 1.0],
            ),
            (
                Domain::Int {
                    low: -3,
                    high: 4,
                    log: false,
                },
                vec![-3.0, 4.0, 4.0],
            ),
            (
                Domain::Int {
                    low: 1,
                    high: 1024,
                    log: true,
                },
                vec![1.0, 1024.0],
            ),
            (Domain::Categorical { choices: 5 }, vec![4.0, 0.0]),
        ];
        for (d, xs) in &domains {
            for n in [0, 1, xs.len()] {
                let est = ParzenEstimator::new(&xs[..n], d, &opts);
                for _ in 0..300 {
                    let v = est.sample(&mut rng);
                    assert!(d.contains(v), "{v} not in {d:?}");
                    assert!(est.log_pdf(v).is_finite());
                }
            }
            for _ in 0..300 {
                let v = d.sample_uniform(&mut rng);
                assert!(d.contains(v), "{v} not in {d:?}");
            }
        }
    }

    #[test]
    fn edge_cases() {
        let opts = TpeOptions::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Domain::Float {
            low: 0.0,
            high: 1.0,
            log: false,
        };

        // Empty history: start-up, uniform.
        let tpe = Tpe::new(&[], Goal::Minimize, &opts);
        assert!(tpe.is_startup());
        assert!(x.contains(tpe.suggest("x", &x, &mut rng)));
        assert_eq!(tpe.split_numbers(), (vec![], vec![]));

        // One-point domains return their point without sampling.
        let single = Domain::Float {
            low: 0.25,
            high: 0.25,
            log: true,
        };
        assert_eq!(tpe.suggest("x", &single, &mut rng), 0.25);
        let single = Domain::Int {
            low: 3,
            high: 3,
            log: false,
        };
        assert_eq!(tpe.suggest("k", &single, &mut rng), 3.0);
        assert_eq!(
            tpe.suggest("c", &Domain::Categorical { choices: 1 }, &mut rng),
            0.0
        );

        // All running: still start-up (running trials don't count), and all above.
        let running: Vec<_> = (0..20)
            .map(|i| obs(i, &[("x", 0.5)], TrialState::Running))
            .collect();
        let tpe = Tpe::new(&running, Goal::Minimize, &opts);
        assert!(tpe.is_startup());
        assert_eq!(tpe.split_numbers().1.len(), 20);
        let tpe = Tpe::new(
            &running,
            Goal::Minimize,
            &TpeOptions {
                n_startup_trials: 0,
                ..opts
            },
        );
        assert!(!tpe.is_startup());
        assert!(x.contains(tpe.suggest("x", &x, &mut rng)));
        let no_liar = TpeOptions {
            constant_liar: false,
            ..opts
        };
        assert_eq!(
            Tpe::new(&running, Goal::Minimize, &no_liar).split_numbers(),
            (vec![], vec![])
        );

        // NaN values are failed trials: not counted, not split.
        let mut h: Vec<_> = (0..10)
            .map(|i| {
                obs(
                    i,
                    &[("x", i as f64 / 10.0)],
                    TrialState::Complete { value: f64::NAN },
                )
            })
            .collect();
        assert!(Tpe::new(&h, Goal::Minimize, &opts).is_startup());
        h.push(obs(10, &[("x", 0.3)], TrialState::Complete { value: 1.0 }));
        let one = TpeOptions {
            n_startup_trials: 1,
            ..opts
        };
        let tpe = Tpe::new(&h, Goal::Minimize, &one);
        assert!(!tpe.is_startup());
        assert_eq!(tpe.split_numbers(), (vec![10], vec![]));
        // One observation: l has it plus the prior, g the prior alone.
        let (l, g) = tpe.estimators("x", &x);
        assert_eq!((l.n_kernels(), g.n_kernels()), (2, 1));
        for _ in 0..50 {
            assert!(x.contains(tpe.suggest("x", &x, &mut rng)));
        }
        // A parameter nobody has yet is drawn from the prior.
        let w = Domain::Int {
            low: 8,
            high: 512,
            log: true,
        };
        let v = tpe.suggest("width", &w, &mut rng);
        assert!(w.contains(v));

        // Out-of-domain values are ignored.
        let narrow = Domain::Float {
            low: 0.5,
            high: 1.0,
            log: false,
        };
        let (l, _) = tpe.estimators("x", &narrow);
        assert_eq!(l.n_kernels(), 1);
    }

    #[test]
    fn pruned_ranking() {
        let s = |steps: &[(usize, f64)]| pruned_score(steps, Goal::Minimize);
        assert_eq!(s(&[]), (1, 0.0));
        assert_eq!(s(&[(0, 5.0), (3, 1.0), (2, 0.0)]), (-3, 1.0));
        assert_eq!(s(&[(3, 1.0), (3, 2.0)]), (-3, 2.0));
        assert_eq!(s(&[(4, f64::NAN)]), (-4, f64::INFINITY));
        assert_eq!(pruned_score(&[(1, 0.25)], Goal::Maximize), (-1, -0.25));
    }

    /// 20 complete trials of x = i / 20 over [0, 1], valued x: the best two (gamma(20) = 2)
    /// are good.
    fn ramp() -> (Vec<Observation>, Domain) {
        let history = (0..20)
            .map(|i| {
                let x = i as f64 / 20.0;
                obs(i, &[("x", x)], TrialState::Complete { value: x })
            })
            .collect();
        let d = Domain::Float {
            low: 0.0,
            high: 1.0,
            log: false,
        };
        (history, d)
    }

    #[test]
    fn expected_improvement_follows_the_density_ratio() {
        let (history, d) = ramp();
        let tpe = Tpe::new(&history, Goal::Maximize, &TpeOptions::default());
        let (high, low) = (tpe.log_ratio("x", &d, 0.95), tpe.log_ratio("x", &d, 0.1));
        assert!(high > 0.0 && low < 0.0, "{high} {low}");
        let (l, g) = tpe.estimators("x", &d);
        assert!((high - (l.log_pdf(0.95) - g.log_pdf(0.95))).abs() < 1e-12);
        // One fit scores any number of values, as each per-value call would.
        let ratio = tpe.density_ratio("x", &d);
        assert_eq!((ratio.log_at(0.95), ratio.log_at(0.1)), (high, low));
        // EI rises with the ratio and saturates at 1/gamma = 10.
        let ei = |r: f64| tpe.log_expected_improvement(r);
        assert!(ei(high) > ei(0.0) && ei(0.0) > ei(low));
        assert!((ei(0.0) - 0.0).abs() < 1e-12, "l = g gives EI 1");
        assert!((ei(60.0) - 10f64.ln()).abs() < 1e-9);
        assert!(ei(-800.0).is_finite() && ei(-800.0) < -700.0);
        // Start-up has no model: every ratio is 0.
        let early = Tpe::new(&history[..5], Goal::Maximize, &TpeOptions::default());
        assert_eq!(early.log_ratio("x", &d, 0.95), 0.0);
        assert_eq!(early.density_ratio("x", &d).log_at(0.95), 0.0);
    }

    #[test]
    fn draws_follow_the_good_estimator_and_are_more_spread_than_suggestions() {
        let (history, d) = ramp();
        let tpe = Tpe::new(&history, Goal::Maximize, &TpeOptions::default());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let draws: Vec<f64> = (0..400).map(|_| tpe.draw("x", &d, &mut rng)).collect();
        let suggested: Vec<f64> = (0..400).map(|_| tpe.suggest("x", &d, &mut rng)).collect();
        assert!(draws.iter().all(|x| (0.0..=1.0).contains(x)));
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let spread = |v: &[f64]| {
            let m = mean(v);
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };
        // Drawn from l: mostly near the good trials, above the prior's mean of 0.5 ...
        assert!(mean(&draws) > 0.6, "mean draw {}", mean(&draws));
        // ... but without the best-of-24 choice, wider than TPE's own suggestions.
        assert!(
            spread(&draws) > 1.5 * spread(&suggested),
            "{} vs {}",
            spread(&draws),
            spread(&suggested)
        );
        // Start-up draws are uniform; a one-point domain gives its point.
        let early = Tpe::new(&history[..5], Goal::Maximize, &TpeOptions::default());
        let early_draws: Vec<f64> = (0..400).map(|_| early.draw("x", &d, &mut rng)).collect();
        assert!((mean(&early_draws) - 0.5).abs() < 0.05);
        let point = Domain::Int {
            low: 3,
            high: 3,
            log: false,
        };
        assert_eq!(tpe.draw("n", &point, &mut rng), 3.0);
    }

    #[test]
    fn cost_cooling_fades_from_ei_per_cost_to_ei() {
        let (ei, cost) = (1.5, 8.0f64);
        assert!((cost_cooled_score(ei, cost, 0.0) - (ei - cost.ln())).abs() < 1e-12);
        assert!((cost_cooled_score(ei, cost, 0.5) - (ei - 0.5 * cost.ln())).abs() < 1e-12);
        assert_eq!(cost_cooled_score(ei, cost, 1.0), ei);
        assert_eq!(cost_cooled_score(ei, cost, 3.0), ei);
        // A cheap candidate of lower EI wins early and loses late.
        let (cheap, dear) = ((1.0, 1.0), (1.5, 8.0));
        let score = |(e, c): (f64, f64), used| cost_cooled_score(e, c, used);
        assert!(score(cheap, 0.1) > score(dear, 0.1));
        assert!(score(cheap, 0.9) < score(dear, 0.9));
    }
}
