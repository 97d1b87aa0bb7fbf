//! Expansion of a [`SweepSpec`] into the list of distinct configurations to train.
//!
//! Order: the base configuration first (when `include_base`), then each block in document
//! order. A configuration produced twice (same hash) appears once, at its first position,
//! with the sources of both.

use std::collections::HashMap;

use fcnsweep_model::ModelError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::axes::{build_run, Axis, AxisValue};
use crate::error::SpecError;
use crate::identity::{canonical, config_hash};
use crate::spec::{Block, Distribution, RandomBlock, SweepSpec};

pub use fcnsweep_store::{PlannedConfig, SweepPlan};

/// One axis setting and the key path in the document that made it.
struct Assignment {
    axis: Axis,
    value: AxisValue,
    path: String,
}

/// Expands `spec` into its distinct configurations; refuses sweeps over the size limits
/// first, and fails on the first configuration that does not validate.
pub fn expand(spec: &SweepSpec) -> Result<SweepPlan, SpecError> {
    spec.check_size()?;
    let mut planner = Planner::new(spec);
    if spec.include_base {
        planner.add("base", &[])?;
    }
    for (i, block) in spec.blocks.iter().enumerate() {
        let source = format!("search[{i}].{}", block.kind());
        match block {
            Block::Grid(axes) => {
                for combination in grid_indices(axes.iter().map(|(_, v)| v.len()).collect()) {
                    let assignments: Vec<_> = axes
                        .iter()
                        .zip(combination)
                        .map(|((axis, values), j)| Assignment {
                            axis: *axis,
                            value: values[j].clone(),
                            path: format!("{source}.{axis}[{j}]"),
                        })
                        .collect();
                    planner.add(&source, &assignments)?;
                }
            }
            Block::List(entries) => {
                for (j, entry) in entries.iter().enumerate() {
                    let assignments: Vec<_> = entry
                        .iter()
                        .map(|(axis, value)| Assignment {
                            axis: *axis,
                            value: value.clone(),
                            path: format!("{source}[{j}].{axis}"),
                        })
                        .collect();
                    planner.add(&source, &assignments)?;
                }
            }
            Block::Random(random) => {
                for sample in sample_random(random) {
                    let assignments: Vec<_> = sample
                        .into_iter()
                        .map(|(axis, value)| Assignment {
                            axis,
                            value,
                            path: param_path(&source, axis),
                        })
                        .collect();
                    planner.add(&source, &assignments)?;
                }
            }
            // Proposed one at a time while the sweep runs (see `crate::adaptive`).
            Block::Tpe(_) => {}
        }
    }
    Ok(SweepPlan {
        name: spec.name.clone(),
        dataset: spec.dataset,
        seeds: spec.seeds.clone(),
        configs: planner.configs,
    })
}

/// The configuration block `source` of `spec` makes with `sample` on top of base: what an
/// adaptive block's proposal becomes, built and checked as every planned one is.
pub fn configure(
    spec: &SweepSpec,
    source: &str,
    sample: Vec<(Axis, AxisValue)>,
) -> Result<PlannedConfig, SpecError> {
    let mut planner = Planner::new(spec);
    let assignments: Vec<_> = sample
        .into_iter()
        .map(|(axis, value)| Assignment {
            axis,
            value,
            path: param_path(source, axis),
        })
        .collect();
    planner.add(source, &assignments)?;
    Ok(planner.configs.remove(0))
}

/// The key path of the parameter `axis` of the sampled block `source`.
fn param_path(source: &str, axis: Axis) -> String {
    format!("{source}.params.{axis}")
}

/// The parameter of the sampled block `source` that [`configure`] blamed `err` on, if the
/// refusal was about one of them (not about a base or top-level setting).
pub(crate) fn blamed_param(err: &SpecError, source: &str) -> Option<Axis> {
    err.path()?
        .strip_prefix(source)?
        .strip_prefix(".params.")
        .and_then(Axis::parse)
}

/// Builds, checks and de-duplicates configurations.
struct Planner<'a> {
    spec: &'a SweepSpec,
    /// Top-level then base settings, applied before every block's.
    shared: Vec<Assignment>,
    base_hash: String,
    configs: Vec<PlannedConfig>,
    index: HashMap<String, usize>,
}

impl<'a> Planner<'a> {
    fn new(spec: &'a SweepSpec) -> Self {
        let top = spec.training.iter().map(|(axis, value)| Assignment {
            axis: *axis,
            value: value.clone(),
            path: axis.name().to_string(),
        });
        let base = spec.base.iter().map(|(axis, value)| Assignment {
            axis: *axis,
            value: value.clone(),
            path: format!("base.{axis}"),
        });
        Self {
            spec,
            shared: top.chain(base).collect(),
            base_hash: config_hash(spec.dataset, &spec.base_run()),
            configs: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds the configuration `source` makes with `assignments` on top of base.
    fn add(&mut self, source: &str, assignments: &[Assignment]) -> Result<(), SpecError> {
        let mut set_by: HashMap<Axis, &str> = HashMap::new();
        for a in self.shared.iter().chain(assignments) {
            set_by.insert(a.axis, &a.path);
        }
        let run = build_run(
            self.shared
                .iter()
                .chain(assignments)
                .map(|a| (a.axis, &a.value)),
        );
        let run = canonical(&run);
        if let Err(err) = run.validate() {
            let path = blame(&err, &set_by).unwrap_or(source).to_string();
            let context = if assignments.is_empty() {
                "in the base configuration".to_string()
            } else {
                let values: Vec<_> = assignments
                    .iter()
                    .map(|a| format!("{}={}", a.axis, a.value))
                    .collect();
                format!(
                    "in the configuration {source} makes with {}",
                    values.join(", ")
                )
            };
            return Err(SpecError::Invalid {
                origin: self.spec.origin.clone(),
                path,
                message: format!("{err} ({context})"),
                location: None,
            });
        }
        let hash = config_hash(self.spec.dataset, &run);
        match self.index.get(&hash) {
            Some(&i) => {
                let sources = &mut self.configs[i].sources;
                if !sources.iter().any(|s| s == source) {
                    sources.push(source.to_string());
                }
            }
            None => {
                self.index.insert(hash.clone(), self.configs.len());
                self.configs.push(PlannedConfig {
                    baseline: hash == self.base_hash,
                    hash,
                    run,
                    sources: vec![source.to_string()],
                });
            }
        }
        Ok(())
    }
}

/// The key path that set the field a validation error is about, if any level set it.
fn blame<'p>(err: &ModelError, set_by: &HashMap<Axis, &'p str>) -> Option<&'p str> {
    let ModelError::InvalidValue { field, .. } = err else {
        return None;
    };
    Axis::parse(field).and_then(|axis| set_by.get(&axis).copied())
}

/// Every index combination of a grid with these value counts, first axis outermost.
fn grid_indices(counts: Vec<usize>) -> Vec<Vec<usize>> {
    let mut combinations = vec![Vec::new()];
    for count in counts {
        combinations = combinations
            .into_iter()
            .flat_map(|prefix| {
                (0..count).map(move |j| {
                    let mut next = prefix.clone();
                    next.push(j);
                    next
                })
            })
            .collect();
    }
    combinations
}

/// The block's `trials` samples: a ChaCha8 generator seeded with the block's seed draws
/// each param in sorted key order, trial after trial.
fn sample_random(block: &RandomBlock) -> Vec<Vec<(Axis, AxisValue)>> {
    let mut rng = ChaCha8Rng::seed_from_u64(block.seed);
    let mut params: Vec<_> = block.params.iter().collect();
    params.sort_by_key(|(axis, _)| axis.name());
    (0..block.trials)
        .map(|_| {
            params
                .iter()
                .map(|(axis, dist)| (*axis, sample(&mut rng, *axis, dist)))
                .collect()
        })
        .collect()
}

/// One value of `axis` drawn from `dist`; reals rounded to 4 significant digits.
pub(crate) fn sample(rng: &mut ChaCha8Rng, axis: Axis, dist: &Distribution) -> AxisValue {
    match dist {
        Distribution::Uniform { lo, hi } => {
            AxisValue::Float(round_in(rng.random_range(*lo..=*hi), *lo, *hi))
        }
        Distribution::LogUniform { lo, hi } => {
            let x = rng.random_range(lo.ln()..=hi.ln()).exp();
            AxisValue::Float(round_in(x, *lo, *hi))
        }
        Distribution::IntUniform { lo, hi } => axis
            .int_value(rng.random_range(*lo..=*hi))
            .expect("bounds checked when parsed"),
        Distribution::Choice(values) => values[rng.random_range(0..values.len())].clone(),
        Distribution::Layers { depth, width } => {
            let depth = rng.random_range(depth.0..=depth.1);
            let (lo, hi) = (width.0 as f64, width.1 as f64);
            let mut widths: Vec<usize> = (0..depth)
                .map(|_| {
                    let w = rng.random_range(lo.ln()..=hi.ln()).exp().round();
                    (w as usize).clamp(width.0, width.1)
                })
                .collect();
            widths.sort_unstable_by(|a, b| b.cmp(a));
            AxisValue::Layers(widths)
        }
    }
}

/// `x` rounded to 4 significant digits, kept inside `[lo, hi]`.
pub(crate) fn round_in(x: f64, lo: f64, hi: f64) -> f64 {
    let rounded: f64 = format!("{x:.3e}").parse().expect("formatted float parses");
    rounded.clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_spec;
    use fcnsweep_model::{HyperValue, Init, Norm, OptimizerKind};

    fn plan(yaml: &str) -> SweepPlan {
        let spec = parse_spec(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"));
        expand(&spec).unwrap()
    }

    const HEAD: &str = "name: t\ndataset: fashion-mnist\n";

    #[test]
    fn grid_is_the_cartesian_product() {
        let p = plan(&format!(
            "{HEAD}include_base: false\nsearch:\n  - grid:\n      optimizer: [sgd, adam, rmsprop]\n      lr: [0.1, 0.01, 0.001]\n"
        ));
        assert_eq!(p.configs.len(), 9);
        let first: Vec<_> = p.configs[..4]
            .iter()
            .map(|c| (c.run.optimizer.kind(), c.run.optimizer.lr))
            .collect();
        assert_eq!(
            first,
            vec![
                (OptimizerKind::Sgd, 0.1),
                (OptimizerKind::Sgd, 0.01),
                (OptimizerKind::Sgd, 0.001),
                (OptimizerKind::Adam, 0.1)
            ]
        );
        assert!(p.configs.iter().all(|c| c.sources == ["search[0].grid"]));
        // sgd/0.1 is the default base configuration even when base is not included.
        assert!(p.configs[0].baseline);
        assert_eq!(p.configs.iter().filter(|c| c.baseline).count(), 1);
    }

    #[test]
    fn list_entries_override_base() {
        let p = plan(&format!(
            "{HEAD}base: {{lr: 0.05}}\nsearch:\n  - list:\n      - {{dropout: 0.5}}\n      - {{init: normal, init_std: 0.2}}\n      - {{norm: batch}}\n"
        ));
        assert_eq!(p.configs.len(), 4);
        assert!(p.configs[0].baseline && p.configs[0].sources == ["base"]);
        assert!(p.configs[1..].iter().all(|c| !c.baseline));
        assert!(p.configs.iter().all(|c| c.run.optimizer.lr == 0.05));
        assert_eq!(p.configs[1].run.model.dropout, 0.5);
        assert_eq!(p.configs[2].run.model.init, Init::Normal);
        assert_eq!(p.configs[2].run.model.init_std, 0.2);
        assert_eq!(p.configs[3].run.model.norm, Norm::Batch);
        assert_eq!(p.configs[3].sources, ["search[0].list"]);
    }

    #[test]
    fn union_of_blocks_is_deduplicated() {
        let p = plan(&format!(
            "{HEAD}seeds: 3\nsearch:\n  - grid:\n      lr: [0.1, 0.01]\n      dropout: [0.0, 0.5]\n  - list:\n      - {{lr: 0.01, dropout: 0.5}}\n      - {{momentum: 0.9}}\n"
        ));
        // base, (0.1,0), (0.1,.5), (.01,0), (.01,.5), momentum: base == (0.1, 0).
        assert_eq!(p.configs.len(), 5);
        assert_eq!(p.trial_count(), 15);
        assert_eq!(p.configs[0].sources, ["base", "search[0].grid"]);
        assert!(p.configs[0].baseline);
        assert_eq!(p.configs[3].sources, ["search[0].grid", "search[1].list"]);
        assert_eq!(
            p.configs[4].run.optimizer.get("momentum"),
            Some(HyperValue::Float(0.9))
        );
        let mut hashes: Vec<_> = p.configs.iter().map(|c| &c.hash).collect();
        hashes.dedup();
        assert_eq!(hashes.len(), 5);
    }

    #[test]
    fn settings_an_optimizer_ignores_collapse() {
        // adam ignores momentum: the grid crosses them without error, and adam appears once.
        let p = plan(&format!(
            "{HEAD}include_base: false\nsearch:\n  - grid:\n      optimizer: [sgd, adam]\n      momentum: [0.0, 0.9]\n"
        ));
        assert_eq!(p.configs.len(), 3);
        let adam = &p.configs[2];
        assert_eq!(adam.run.optimizer.kind(), OptimizerKind::Adam);
        assert_eq!(adam.run.optimizer.get("momentum"), None);
    }

    #[test]
    fn each_optimizer_starts_from_its_own_defaults() {
        // AdamW's weight decay defaults to 0.01, Adagrad's eps to 1e-10; a value set in base
        // applies to every optimizer that reads it.
        let p = plan(&format!(
            "{HEAD}include_base: false\nsearch:\n  - grid:\n      optimizer: [adam, adamw, adagrad]\n  - list:\n      - {{optimizer: adamw, weight_decay: 0.0}}\n"
        ));
        let get = |i: usize, name: &str| p.configs[i].run.optimizer.get(name);
        assert_eq!(get(0, "weight_decay"), Some(HyperValue::Float(0.0)));
        assert_eq!(get(1, "weight_decay"), Some(HyperValue::Float(0.01)));
        assert_eq!(get(2, "eps"), Some(HyperValue::Float(1e-10)));
        assert_eq!(get(3, "weight_decay"), Some(HyperValue::Float(0.0)));
        assert_eq!(p.configs.len(), 4, "adamw without decay is not adam");
        let p = plan(&format!(
            "{HEAD}base: {{weight_decay: 0.001}}\nsearch:\n  - grid:\n      optimizer: [adamw, adagrad]\n"
        ));
        for c in &p.configs {
            assert_eq!(
                c.run.optimizer.get("weight_decay"),
                Some(HyperValue::Float(0.001))
            );
        }
    }

    const RANDOM: &str = "include_base: false\nsearch:\n  - random:\n      trials: 12\n      seed: SEED\n      params:\n        lr: {log_uniform: [1.0e-4, 0.1]}\n        dropout: {uniform: [0.0, 0.5]}\n        optimizer: {choice: [sgd, adam, rmsprop]}\n        epochs: {int_uniform: [5, 20]}\n        hidden: {layers: {depth: [1, 4], width: [32, 1024]}}\n";

    fn random_plan(seed: u64) -> SweepPlan {
        plan(&format!(
            "{HEAD}{}",
            RANDOM.replace("SEED", &seed.to_string())
        ))
    }

    #[test]
    fn random_search_is_reproducible_and_in_range() {
        let a = random_plan(1);
        assert_eq!(a.configs.len(), 12);
        assert_eq!(a, random_plan(1));
        let b = random_plan(2);
        assert_ne!(
            a.configs.iter().map(|c| &c.hash).collect::<Vec<_>>(),
            b.configs.iter().map(|c| &c.hash).collect::<Vec<_>>()
        );
        for c in &a.configs {
            let lr = c.run.optimizer.lr;
            assert!((1e-4..=0.1).contains(&lr));
            assert_eq!(lr, format!("{lr:.3e}").parse::<f64>().unwrap(), "4 digits");
            assert!((0.0..=0.5).contains(&c.run.model.dropout));
            assert!((5..=20).contains(&c.run.train.epochs));
            let h = &c.run.model.hidden;
            assert!((1..=4).contains(&h.len()));
            assert!(h.iter().all(|w| (32..=1024).contains(w)));
            assert!(h.windows(2).all(|w| w[0] >= w[1]), "{h:?} non-increasing");
            assert_eq!(c.sources, ["search[0].random"]);
        }
    }

    #[test]
    fn random_choice_of_hidden_and_subset() {
        let p = plan(&format!(
            "{HEAD}include_base: false\nsearch:\n  - random:\n      trials: 30\n      params:\n        hidden: {{choice: [[500, 50], [700, 200, 50]]}}\n        train_subset: {{choice: [null, 1000]}}\n        batch_size: {{choice: [32, 64, 128]}}\n"
        ));
        assert!(p.configs.len() <= 12 && p.configs.len() >= 2);
        for c in &p.configs {
            assert!(c.run.model.hidden == [500, 50] || c.run.model.hidden == [700, 200, 50]);
            assert!(matches!(c.run.train.train_subset, None | Some(1000)));
            assert!([32, 64, 128].contains(&c.run.train.batch_size));
        }
    }

    #[test]
    fn seeds_as_count_or_list() {
        assert_eq!(plan(&format!("{HEAD}seeds: 3\n")).seeds, vec![0, 1, 2]);
        let p = plan(&format!("{HEAD}seeds: [0, 1, 7]\n"));
        assert_eq!(p.seeds, vec![0, 1, 7]);
        assert_eq!(p.trial_count(), 3);
        assert_eq!(plan(HEAD).seeds, vec![0]);
    }

    #[test]
    fn seeds_do_not_change_hashes() {
        let a = plan(&format!("{HEAD}seeds: 2\n"));
        let b = plan(&format!("{HEAD}seeds: [5, 9, 11]\n"));
        assert_eq!(a.configs[0].hash, b.configs[0].hash);
    }

    #[test]
    fn precedence_defaults_top_base_block() {
        let p = plan(&format!(
            "{HEAD}epochs: 3\nbatch_size: 32\nbase: {{lr: 0.05, validation: 5000}}\nsearch:\n  - list:\n      - {{epochs: 7, lr: 0.2}}\n"
        ));
        let base = &p.configs[0].run;
        assert_eq!(base.train.epochs, 3);
        assert_eq!(base.train.batch_size, 32);
        assert_eq!(base.train.validation, 5000);
        assert_eq!(base.optimizer.lr, 0.05);
        assert!(!base.train.standardize);
        assert_eq!(base.model.hidden, vec![500, 50]);
        let block = &p.configs[1].run;
        assert_eq!(block.train.epochs, 7);
        assert_eq!(block.optimizer.lr, 0.2);
        assert_eq!(block.train.batch_size, 32);
        assert_eq!(block.train.validation, 5000);
    }

    #[test]
    fn invalid_combination_names_the_setting_level() {
        let err = parse_spec(
            &format!("{HEAD}base: {{nesterov: true, momentum: 0.9}}\nsearch:\n  - grid:\n      momentum: [0.9, 0.0]\n"),
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("t.yaml: base.nesterov: invalid nesterov"),
            "{err}"
        );
        assert!(
            err.contains("search[0].grid makes with momentum=0"),
            "{err}"
        );
    }

    #[test]
    fn grid_indices_order() {
        assert_eq!(
            grid_indices(vec![2, 2]),
            vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
        );
        assert_eq!(grid_indices(vec![]), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn rounding_keeps_four_digits_inside_the_range() {
        assert_eq!(round_in(0.0123456, 0.0, 1.0), 0.01235);
        assert_eq!(round_in(0.999996, 0.0, 0.99999), 0.99999);
        assert_eq!(round_in(0.0, 0.0, 1.0), 0.0);
    }
}
