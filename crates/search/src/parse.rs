//! Reading a search-space document: YAML text or file to a checked [`SweepSpec`].
//!
//! The document's format is described in [`crate::spec`]; the visitors that read it are in
//! `de.rs`. Errors name the file, the key path and the line.

use std::fs;
use std::path::Path;

use crate::de;
use crate::error::{Location, SpecError};
use crate::spec::SweepSpec;

/// Parses and checks a search-space document; `origin` names it in error messages.
///
/// Besides the document itself this expands the sweep once, so every configuration it
/// would produce has been checked when this returns `Ok`.
pub fn parse_spec(text: &str, origin: &str) -> Result<SweepSpec, SpecError> {
    if text.trim().is_empty() {
        return Err(SpecError::Invalid {
            origin: origin.to_string(),
            path: String::new(),
            message: "the document is empty: expected a mapping with at least `name` and `dataset`"
                .into(),
            location: None,
        });
    }
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let document: de::Document =
        serde_path_to_error::deserialize(deserializer).map_err(|err| yaml_error(origin, &err))?;
    let mut spec = document.into_spec(origin);
    check_ambiguous(&spec)?;
    spec.check_size()?;
    if !spec.include_base && spec.blocks.is_empty() {
        return Err(SpecError::Invalid {
            origin: origin.to_string(),
            path: "include_base".into(),
            message: "false with no search blocks: the sweep would be empty".into(),
            location: None,
        });
    }
    let plan = crate::expand::expand(&spec)?;
    check_adaptive(&mut spec, text, &plan)?;
    Ok(spec)
}

/// The rules of `metric`, `prune`, `confirm` and `tpe` that need the whole document: one
/// adaptive block and one seed, a validation split for the metric, pruning epochs within
/// the sweep's epochs, a confirmation no larger than the search and with a split that fits
/// the training set. Settles Hyperband's
/// `max_epochs` (default: the sweep's largest `epochs`).
fn check_adaptive(
    spec: &mut SweepSpec,
    text: &str,
    plan: &crate::expand::SweepPlan,
) -> Result<(), SpecError> {
    let invalid = |path: &[&str], message: String| SpecError::Invalid {
        origin: spec.origin.clone(),
        path: path.join("."),
        message,
        location: key_location(text, path),
    };
    let tpe_blocks: Vec<usize> = (0..spec.blocks.len())
        .filter(|i| spec.blocks[*i].is_adaptive())
        .collect();
    if let Some(second) = tpe_blocks.get(1) {
        let path = format!("search[{second}]");
        return Err(SpecError::Invalid {
            origin: spec.origin.clone(),
            message: format!(
                "a second tpe block (the first is search[{}]): a sweep has at most one adaptive block",
                tpe_blocks[0]
            ),
            location: key_location(text, &["search"]),
            path,
        });
    }
    let adaptive = spec.adaptive().map(|(_, b)| b.clone());
    if adaptive.is_some() && spec.seeds.len() > 1 {
        return Err(invalid(
            &["seeds"],
            format!(
                "{} seeds with a tpe block: an adaptive search trains each proposal with one seed;                  use `confirm: {{seeds: {}}}` to re-run the best ones with more",
                spec.seeds.len(),
                spec.seeds.len()
            ),
        ));
    }
    let uses_metric = adaptive.is_some() || spec.prune.is_some() || spec.confirm.is_some();
    if uses_metric {
        let no_validation = plan.configs.iter().any(|c| c.run.train.validation == 0)
            || (adaptive.is_some() && spec.base_run().train.validation == 0);
        if no_validation {
            let (key, what) = if spec.prune.is_some() {
                ("prune", "prune needs")
            } else {
                ("metric", "the search needs")
            };
            return Err(invalid(
                &[key],
                format!(
                    "{what} {} at every epoch, but a configuration has `validation: 0`, which records no validation metrics",
                    spec.objective.metric.name()
                ),
            ));
        }
    }
    let max_epochs = max_epochs(spec, plan);
    if let Some(pruner) = &mut spec.prune {
        use fcnsweep_tune::prune::Pruner;
        let min = match pruner {
            Pruner::Median(_) => None,
            Pruner::SuccessiveHalving(o) => Some(o.min_resource),
            Pruner::Hyperband(o) => {
                o.max_resource.get_or_insert(max_epochs);
                Some(o.min_resource)
            }
        };
        if let Some(min) = min.filter(|m| *m > max_epochs) {
            return Err(invalid(
                &["prune", "min_epochs"],
                format!("{min} is above the sweep's largest epochs ({max_epochs}): no trial would reach the first rung"),
            ));
        }
        pruner.validate().map_err(|e| invalid(&["prune"], e))?;
    }
    if let Some(confirm) = spec.confirm {
        let budget = plan.configs.len() + adaptive.as_ref().map_or(0, |b| b.trials);
        if confirm.top > budget {
            return Err(invalid(
                &["confirm", "top"],
                format!(
                    "{} is above the search's budget of {budget} configurations",
                    confirm.top
                ),
            ));
        }
        if let Some(v) = confirm.validation {
            // The model's own rule for the split, on the base configuration with it.
            let mut run = spec.base_run();
            run.train.validation = v;
            if let Err(
                e @ fcnsweep_model::ModelError::InvalidValue {
                    field: "validation",
                    ..
                },
            ) = run.validate()
            {
                return Err(invalid(&["confirm", "validation"], e.to_string()));
            }
        }
    }
    Ok(())
}

/// The largest `epochs` a configuration of the sweep can have.
fn max_epochs(spec: &SweepSpec, plan: &crate::expand::SweepPlan) -> usize {
    use crate::axes::{Axis, AxisValue};
    use crate::spec::Distribution;
    let planned = plan.configs.iter().map(|c| c.run.train.epochs).max();
    let adaptive = spec.adaptive().map(|(_, block)| {
        let epochs = Axis::named("epochs");
        match block.params.iter().find(|(a, _)| *a == epochs) {
            Some((_, Distribution::IntUniform { hi, .. })) => *hi as usize,
            Some((_, Distribution::Choice(values))) => values
                .iter()
                .filter_map(|v| match v {
                    AxisValue::Count(n) => Some(*n),
                    _ => None,
                })
                .max()
                .unwrap_or(0),
            _ => spec.base_run().train.epochs,
        }
    });
    planned.into_iter().chain(adaptive).max().unwrap_or(0)
}

/// Where the key `path` (top-level key first) is in `text`: the first line, at or after the
/// top-level key's, that holds the last key, before the next top-level key. For messages
/// about rules across keys, which the YAML parser cannot place.
fn key_location(text: &str, path: &[&str]) -> Option<Location> {
    let (first, rest) = path.split_first()?;
    let lines: Vec<&str> = text.lines().collect();
    let top = |l: &str| !l.starts_with([' ', '\t', '#', '-']) && !l.trim().is_empty();
    let start = lines
        .iter()
        .position(|l| top(l) && l.starts_with(&format!("{first}:")))?;
    let Some(last) = rest.last() else {
        return Some(Location {
            line: start + 1,
            column: 1,
        });
    };
    for (i, line) in lines.iter().enumerate().skip(start) {
        if i > start && top(line) {
            break;
        }
        let hit = line.match_indices(last).find(|(j, _)| {
            let before = line[..*j].chars().last();
            let after = line[j + last.len()..].trim_start();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with(':')
        });
        if let Some((j, _)) = hit {
            return Some(Location {
                line: i + 1,
                column: j + 1,
            });
        }
    }
    Some(Location {
        line: start + 1,
        column: 1,
    })
}

/// Reads and parses a search-space file; returns the spec and the file's text (to store).
pub fn load_spec(path: &Path) -> Result<(SweepSpec, String), SpecError> {
    let origin = path.display().to_string();
    if path.is_dir() {
        return Err(SpecError::IsDirectory { origin });
    }
    let bytes = fs::read(path).map_err(|cause| SpecError::Read {
        origin: origin.clone(),
        cause,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| SpecError::NotUtf8 {
        origin: origin.clone(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    let spec = parse_spec(&text, &origin)?;
    Ok((spec, text))
}

/// A key given both at the top level and in `base` is ambiguous.
fn check_ambiguous(spec: &SweepSpec) -> Result<(), SpecError> {
    for (axis, value) in &spec.base {
        if let Some((_, top)) = spec.training.iter().find(|(a, _)| a == axis) {
            return Err(SpecError::Invalid {
                origin: spec.origin.clone(),
                path: format!("base.{axis}"),
                message: format!(
                    "`{axis}: {value}` is also set at the top level (`{axis}: {top}`); \
                     set it in one place"
                ),
                location: None,
            });
        }
    }
    Ok(())
}

/// Turns a serde error into [`SpecError::Invalid`] with the key path and a clean message.
fn yaml_error(origin: &str, err: &serde_path_to_error::Error<serde_yaml::Error>) -> SpecError {
    let path = err.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let inner = err.inner();
    let location = inner.location().map(|l| Location {
        line: l.line(),
        column: l.column(),
    });
    SpecError::Invalid {
        origin: origin.to_string(),
        path,
        message: clean_message(&inner.to_string(), location),
        location,
    }
}

/// Drops what serde_yaml adds to a message that [`SpecError`] shows itself: the
/// " at line L column C" and a leading "some.path: ".
fn clean_message(message: &str, location: Option<Location>) -> String {
    let mut message = message.to_string();
    if let Some(l) = location {
        let at = format!(" at line {} column {}", l.line, l.column);
        if let Some(i) = message.find(&at) {
            message.replace_range(i..i + at.len(), "");
        }
    }
    if let Some((head, rest)) = message.split_once(": ") {
        if !head.is_empty() && !head.contains(char::is_whitespace) && !head.contains(['\'', '`']) {
            return rest.to_string();
        }
    }
    if message == "EOF while parsing a value" {
        return "the document is empty: expected a mapping with at least `name` and `dataset`"
            .into();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::axes::default_run;
    use fcnsweep_data::DatasetName;
    use fcnsweep_model::{HyperValue, Init, LrSchedule, Norm, OptimizerKind};

    const HEAD: &str = "name: t\ndataset: fashion-mnist\n";

    fn ok(yaml: &str) -> SweepSpec {
        parse_spec(yaml, "study.yaml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn run_settings_are_read_and_checked() {
        let s = ok(&format!("{HEAD}keep_weights: all\nmax_attempts: 5\n"));
        assert_eq!(s.run.keep_weights, Some(crate::kept::KeepWeights::All));
        assert_eq!(s.run.max_attempts, Some(5));
        assert_eq!(ok(HEAD).run, crate::spec::RunSettings::default());
        err(
            &format!("{HEAD}keep_weights: most\n"),
            &["keep_weights", "expected none, best or all"],
        );
        err(
            &format!("{HEAD}max_attempts: 0\n"),
            &["max_attempts", "at least 1"],
        );
    }

    /// The error message, checked to start with the origin and contain every `parts`.
    fn err(yaml: &str, parts: &[&str]) -> SpecError {
        let err = parse_spec(yaml, "study.yaml").expect_err("should be refused");
        let msg = err.to_string();
        assert!(msg.starts_with("study.yaml: "), "{msg}");
        for part in parts {
            assert!(msg.contains(part), "{msg:?} lacks {part:?}");
        }
        err
    }

    #[test]
    fn augmentation_parses_at_top_level_in_grids_and_random_params() {
        let spec = ok(&format!(
            "{HEAD}augment_shift: 2\nsearch:\n  - grid:\n      augment_flip: [false, true]\n  - random:\n      trials: 12\n      seed: 3\n      params:\n        augment_shift: {{int_uniform: [0, 3]}}\n        augment_flip: {{choice: [false, true]}}\n"
        ));
        let base = spec.base_run();
        assert_eq!(
            (base.train.augment_shift, base.train.augment_flip),
            (2, false)
        );
        let plan = crate::expand::expand(&spec).unwrap();
        let seen: std::collections::BTreeSet<(usize, bool)> = plan
            .configs
            .iter()
            .map(|c| (c.run.train.augment_shift, c.run.train.augment_flip))
            .collect();
        assert!(seen.contains(&(2, true)), "{seen:?}");
        assert!(seen.iter().all(|(s, _)| *s <= 3), "{seen:?}");
        assert!(seen.len() >= 4, "12 draws over 8 pairs: {seen:?}");
        err(
            &format!("{HEAD}augment_shift: 14\n"),
            &["augment_shift", "'14'", "0 to 13 pixels"],
        );
    }

    #[test]
    fn schedules_parse_at_top_level_in_grids_and_random_params() {
        let spec = ok(&format!(
            "{HEAD}epochs: 20\nlr_schedule: step\nlr_step_size: 5\nlr_gamma: 0.5\nsearch:\n  - grid:\n      lr_schedule: [constant, cosine]\n  - random:\n      trials: 4\n      params:\n        lr_schedule: {{choice: [cosine, step]}}\n        lr_gamma: {{uniform: [0.2, 0.9]}}\n"
        ));
        let base = spec.base_run();
        assert_eq!(base.train.lr_schedule, LrSchedule::Step);
        assert_eq!((base.train.lr_step_size, base.train.lr_gamma), (5, 0.5));
        let plan = crate::expand::expand(&spec).unwrap();
        let schedules: Vec<LrSchedule> = plan
            .configs
            .iter()
            .map(|c| c.run.train.lr_schedule)
            .collect();
        assert!(schedules.contains(&LrSchedule::Constant));
        assert!(schedules.contains(&LrSchedule::Cosine));
        // Step settings are kept for the step schedule and reset (canonical) for the others.
        for c in &plan.configs {
            let t = &c.run.train;
            match t.lr_schedule {
                LrSchedule::Step => {
                    assert!(
                        t.lr_gamma == 0.5 || (0.2..=0.9).contains(&t.lr_gamma),
                        "{t:?}"
                    )
                }
                _ => assert_eq!((t.lr_step_size, t.lr_gamma), (10, 0.1), "{t:?}"),
            }
        }

        err(
            &format!("{HEAD}lr_schedule: linear\n"),
            &["lr_schedule", "linear", "constant, cosine, step"],
        );
        err(&format!("{HEAD}lr_gamma: 2.0\n"), &["lr_gamma", "(0, 1]"]);
        err(&format!("{HEAD}lr_step_size: 0\n"), &["lr_step_size"]);
    }

    #[test]
    fn full_document_parses() {
        let spec = ok("name: full.study-1\ndescription: everything\ndataset: mnist\nseeds: [0, 1, 7]\nepochs: 3\nbatch_size: 32\nvalidation: 5000\ntrain_subset: 1000\nstandardize: true\nsplit_seed: 4\ninclude_base: true\nbase:\n  hidden: [300, 100]\n  optimizer: rmsprop\n  lr: 0.01\n  momentum: 0.5\n  weight_decay: 1.0e-4\n  nesterov: false\n  beta1: 0.8\n  beta2: 0.99\n  alpha: 0.9\n  eps: 1e-6\n  centered: true\n  dropout: 0.2\n  init: kaiming_normal\n  init_std: 0.05\n  norm: batch\nsearch: []\n");
        assert_eq!(spec.name, "full.study-1");
        assert_eq!(spec.description.as_deref(), Some("everything"));
        assert_eq!(spec.dataset, DatasetName::Mnist);
        assert_eq!(spec.seeds, vec![0, 1, 7]);
        assert!(spec.blocks.is_empty());
        let run = spec.base_run();
        assert_eq!(run.model.hidden, vec![300, 100]);
        assert_eq!(run.model.init, Init::HeNormal);
        assert_eq!(run.model.norm, Norm::Batch);
        assert_eq!(run.optimizer.kind(), OptimizerKind::Rmsprop);
        // RMSprop reads alpha, eps, momentum, centered and weight decay; betas are ignored.
        assert_eq!(run.optimizer.get("alpha"), Some(HyperValue::Float(0.9)));
        assert_eq!(run.optimizer.get("eps"), Some(HyperValue::Float(1e-6)));
        assert_eq!(run.optimizer.get("centered"), Some(HyperValue::Bool(true)));
        assert_eq!(run.optimizer.get("beta1"), None);
        assert_eq!(run.train.train_subset, Some(1000));
        assert!(run.train.standardize);
        assert_eq!(run.train.split_seed, 4);
        let plan = crate::expand::expand(&spec).unwrap();
        assert_eq!(plan.configs.len(), 1);
        assert!(plan.configs[0].baseline);
        assert_eq!(plan.trial_count(), 3);
    }

    #[test]
    fn defaults_when_keys_are_absent() {
        let spec = ok(HEAD);
        assert_eq!(spec.seeds, vec![0]);
        assert!(spec.include_base);
        assert_eq!(spec.base_run(), default_run());
        assert_eq!(
            ok(&format!("{HEAD}train_subset: null\n")).base_run(),
            default_run()
        );
    }

    #[test]
    fn syntax_error_has_line() {
        let e = err(
            &format!("{HEAD}search:\n  - grid: {{lr: [0.1, 0.01]\n  - list: [{{lr: 0.2}}]\n"),
            &["did not find expected ',' or '}'", "(line 5, column 3)"],
        );
        assert_eq!(e.location().map(|l| l.line), Some(5));
        err(
            &format!("{HEAD}base:\n  lr: 0.1\n momentum: 0.9\n"),
            &["did not find expected key", "line 5"],
        );
    }

    #[test]
    fn unknown_keys_list_the_valid_ones() {
        err(
            &format!("{HEAD}colour: blue\n"),
            &["colour", "unknown field", "`dataset`", "`seeds`", "line 3"],
        );
        err(
            &format!("{HEAD}lr: 0.1\n"),
            &[
                "study.yaml: lr:",
                "not a training setting",
                "under `base`",
                "epochs",
            ],
        );
        err(
            &format!("{HEAD}base:\n  learning_rate: 0.1\n"),
            &[
                "base.learning_rate: unknown field `learning_rate`",
                "`lr`",
                "`hidden`",
            ],
        );
        err(
            &format!("{HEAD}search:\n  - grid:\n      lrr: [0.1]\n"),
            &["search[0].grid.lrr: unknown field `lrr`", "`lr`", "line 5"],
        );
        err(
            &format!("{HEAD}search:\n  - list:\n      - {{dropout: 0.5}}\n      - {{drop: 0.5}}\n"),
            &["search[0].list[1].drop", "`dropout`"],
        );
        err(
            &format!("{HEAD}search:\n  - random:\n      trials: 3\n      params:\n        lrate: {{uniform: [0.1, 1]}}\n"),
            &["search[0].random.params.lrate: unknown field `lrate`", "`lr`"],
        );
        err(
            &format!("{HEAD}search:\n  - random:\n      trials: 3\n      sed: 1\n      params:\n        lr: {{uniform: [0.1, 1]}}\n"),
            &["search[0].random.sed", "`seed`", "`trials`"],
        );
        err(
            &format!("{HEAD}search:\n  - grd:\n      lr: [0.1]\n"),
            &["search[0].grd", "`grid`", "`list`", "`random`"],
        );
    }

    #[test]
    fn wrong_types_name_the_value_and_expectation() {
        err(
            &format!("{HEAD}base:\n  lr: fast\n"),
            &["base.lr: invalid type", "\"fast\"", "a number", "line 4"],
        );
        err(
            &format!("{HEAD}epochs: 1.5\n"),
            &["epochs: invalid type", "1.5", "integer"],
        );
        err(
            &format!("{HEAD}base:\n  hidden: 500\n"),
            &["base.hidden", "500", "list of layer widths"],
        );
        err(
            &format!("{HEAD}search:\n  - grid:\n      lr: 0.1\n"),
            &["search[0].grid.lr", "0.1", "a list of values"],
        );
        err(
            &format!(
                "{HEAD}search:\n  - random:\n      trials: 2\n      params:\n        lr: 0.1\n"
            ),
            &["search[0].random.params.lr", "0.1", "a distribution"],
        );
        err("- 1\n- 2\n", &["invalid type: sequence", "mapping"]);
        err("", &["empty"]);
    }

    #[test]
    fn invalid_values_name_path_and_value() {
        err(
            &format!("{HEAD}base:\n  lr: -0.1\n"),
            &["base.lr: invalid lr '-0.1'", "positive", "line 4"],
        );
        err(
            &format!("{HEAD}base:\n  lr: 0\n"),
            &["base.lr", "'0'", "positive"],
        );
        let e = err(
            &format!("{HEAD}search:\n  - grid:\n      lr: [0.1, -0.01]\n"),
            &[
                "search[0].grid.lr[1]: invalid lr '-0.01'",
                "(line 5, column 17)",
            ],
        );
        assert_eq!(e.path(), Some("search[0].grid.lr[1]"));
        err(
            &format!("{HEAD}base:\n  dropout: 1.0\n"),
            &["base.dropout: invalid dropout '1'", "[0, 1)"],
        );
        err(
            &format!("{HEAD}search:\n  - list:\n      - {{dropout: 1.5}}\n"),
            &["search[0].list[0].dropout", "1.5"],
        );
        err(
            &format!("{HEAD}train_subset: 0\n"),
            &["train_subset", "'0'"],
        );
        err(
            &format!("{HEAD}base:\n  hidden: [500, 0]\n"),
            &["base.hidden", "'0'"],
        );
        err(
            &format!("{HEAD}base:\n  hidden: []\n"),
            &["base.hidden", "[]"],
        );
        err(
            "name: bad name\ndataset: mnist\n",
            &["name: invalid value", "\"bad name\""],
        );
        err("dataset: mnist\n", &["missing field `name`"]);
        err("name: t\n", &["missing field `dataset`"]);
        err(
            &format!("{HEAD}base: {{lr: 0.1, lr: 0.2}}\n"),
            &["base.lr: duplicate key `lr`"],
        );
    }

    #[test]
    fn unknown_names_list_the_choices() {
        err(
            &format!("{HEAD}base:\n  optimizer: lbfgs\n"),
            &[
                "base.optimizer",
                "'lbfgs'",
                "sgd, adam, adamw, rmsprop, adagrad",
            ],
        );
        err(
            &format!("{HEAD}search:\n  - grid:\n      init: [normal, glorot]\n"),
            &[
                "search[0].grid.init[1]",
                "'glorot'",
                "xavier_normal",
                "he_uniform",
            ],
        );
        err(
            &format!("{HEAD}base:\n  norm: layer\n"),
            &["base.norm", "'layer'", "none, batch"],
        );
        err(
            "name: t\ndataset: cifar10\n",
            &[
                "dataset: unknown dataset `cifar10`",
                "fashion-mnist, mnist",
                "line 2",
            ],
        );
    }

    #[test]
    fn distributions_are_checked() {
        let random = |params: &str| {
            format!(
                "{HEAD}search:\n  - random:\n      trials: 3\n      params:\n        {params}\n"
            )
        };
        err(
            &random("lr: {gaussian: [0, 1]}"),
            &[
                "search[0].random.params.lr.gaussian",
                "unknown distribution `gaussian`",
                "log_uniform",
            ],
        );
        err(
            &random("optimizer: {uniform: [0, 1]}"),
            &[
                "params.optimizer.uniform",
                "`uniform` does not apply to optimizer",
                "choice",
            ],
        );
        err(
            &random("lr: {uniform: [0.1, 0.01]}"),
            &["params.lr.uniform", "inverted range [0.1, 0.01]"],
        );
        err(
            &random("epochs: {int_uniform: [9, 2]}"),
            &["params.epochs.int_uniform", "inverted range [9, 2]"],
        );
        err(
            &random("lr: {log_uniform: [0, 0.1]}"),
            &["params.lr.log_uniform", "[0, 0.1]", "low > 0"],
        );
        err(
            &random("dropout: {uniform: [0.0, 1.0]}"),
            &["params.dropout.uniform", "invalid dropout '1'"],
        );
        err(
            &random("optimizer: {choice: []}"),
            &["params.optimizer.choice", "empty list"],
        );
        err(
            &random("optimizer: {choice: [sgd, adamax]}"),
            &["params.optimizer.choice[1]", "'adamax'"],
        );
        err(
            &random("hidden: {layers: {depth: [0, 3], width: [8, 64]}}"),
            &["params.hidden.layers.depth", "[0, 3]"],
        );
        err(
            &random("lr: {uniform: [0.1, 1], choice: [0.1]}"),
            &["params.lr", "exactly one key"],
        );
    }

    #[test]
    fn empty_lists_and_trials_are_refused() {
        err(
            &format!("{HEAD}search:\n  - grid:\n      lr: []\n"),
            &["search[0].grid.lr: empty list"],
        );
        err(
            &format!("{HEAD}search:\n  - grid: {{}}\n"),
            &["search[0].grid: empty grid"],
        );
        err(
            &format!("{HEAD}search:\n  - list: []\n"),
            &["search[0].list: empty list"],
        );
        err(
            &format!("{HEAD}search:\n  - random:\n      trials: 0\n      params:\n        lr: {{uniform: [0.1, 1]}}\n"),
            &["search[0].random.trials", "`0`", "trials >= 1"],
        );
        err(
            &format!(
                "{HEAD}search:\n  - random:\n      params:\n        lr: {{uniform: [0.1, 1]}}\n"
            ),
            &["search[0].random", "missing field `trials`"],
        );
        err(
            &format!("{HEAD}search:\n  - grid: {{lr: [0.1]}}\n    list: [{{lr: 0.2}}]\n"),
            &["search[0]", "exactly one key"],
        );
        err(
            &format!("{HEAD}include_base: false\n"),
            &["include_base", "empty"],
        );
        // An empty search is fine: the sweep is the base configuration alone.
        assert!(ok(&format!("{HEAD}search: []\n")).blocks.is_empty());
    }

    #[test]
    fn seeds_are_checked() {
        assert_eq!(ok(&format!("{HEAD}seeds: 4\n")).seeds, vec![0, 1, 2, 3]);
        err(
            &format!("{HEAD}seeds: [0, 1, 1]\n"),
            &["seeds[2]: duplicate seed 1", "line 3"],
        );
        err(&format!("{HEAD}seeds: 0\n"), &["seeds", "`0`", ">= 1"]);
        err(&format!("{HEAD}seeds: -2\n"), &["seeds", "-2"]);
        err(
            &format!("{HEAD}seeds: []\n"),
            &["seeds", "at least one seed"],
        );
        err(&format!("{HEAD}seeds: [0, x]\n"), &["seeds[1]", "\"x\""]);
    }

    #[test]
    fn key_at_top_level_and_in_base_is_ambiguous() {
        err(
            &format!("{HEAD}epochs: 5\nbase:\n  epochs: 10\n"),
            &["base.epochs", "`epochs: 10`", "top level (`epochs: 5`)"],
        );
    }

    fn values(n: usize, scale: f64) -> String {
        let v: Vec<_> = (1..=n).map(|i| (i as f64 * scale).to_string()).collect();
        format!("[{}]", v.join(", "))
    }

    #[test]
    fn huge_sweeps_are_refused_before_expanding() {
        let grid = format!(
            "{HEAD}search:\n  - grid:\n      lr: {}\n      momentum: {}\n      dropout: {}\n      weight_decay: {}\n      init_std: {}\n",
            values(20, 0.01),
            values(20, 0.01),
            values(20, 0.01),
            values(20, 0.001),
            values(20, 0.01)
        );
        let e = err(&grid, &["search[0].grid", "3200000", "limit of 10000"]);
        assert!(matches!(
            e,
            SpecError::TooLarge {
                count: 3_200_000,
                ..
            }
        ));
        err(
            &format!("{HEAD}search:\n  - random:\n      trials: 20000\n      params:\n        lr: {{uniform: [0.1, 1]}}\n"),
            &["search:", "20001", "limit of 10000"],
        );
        err(
            &format!(
                "{HEAD}seeds: 100\nsearch:\n  - grid:\n      lr: {}\n      dropout: {}\n",
                values(50, 0.001),
                values(30, 0.01)
            ),
            &["seeds:", "150100", "limit of 100000"],
        );
        err(
            &format!("{HEAD}seeds: 1000000\n"),
            &["seeds", "1000000", "100000"],
        );
    }

    #[test]
    fn loader_reads_files_and_refuses_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        fs::write(&path, HEAD).unwrap();
        let (spec, text) = load_spec(&path).unwrap();
        assert_eq!(text, HEAD);
        assert_eq!(spec.origin, path.display().to_string());

        let e = load_spec(dir.path()).unwrap_err();
        assert!(matches!(e, SpecError::IsDirectory { .. }));
        assert!(e.to_string().contains("is a directory"), "{e}");

        let latin1 = dir.path().join("latin1.yaml");
        fs::write(&latin1, b"name: caf\xe9\ndataset: mnist\n").unwrap();
        let e = load_spec(&latin1).unwrap_err();
        assert!(matches!(e, SpecError::NotUtf8 { offset: 9, .. }), "{e:?}");
        assert!(e.to_string().contains("not UTF-8"), "{e}");

        let e = load_spec(&dir.path().join("missing.yaml")).unwrap_err();
        assert!(matches!(e, SpecError::Read { .. }));
        assert!(e.to_string().contains("missing.yaml"), "{e}");

        let bad = dir.path().join("bad.yaml");
        fs::write(&bad, format!("{HEAD}base: {{lr: -1}}\n")).unwrap();
        let e = load_spec(&bad).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: base.lr:", bad.display())),
            "{e}"
        );
    }

    #[test]
    fn shipped_search_spaces_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces");
        let mut count = 0;
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let (spec, _) = load_spec(&path).unwrap_or_else(|e| panic!("{e}"));
                crate::expand::expand(&spec).unwrap();
                count += 1;
            }
        }
        assert!(count >= 2);

        let (table1, _) = load_spec(&dir.join("fashion-table1.yaml")).unwrap();
        let plan = crate::expand::expand(&table1).unwrap();
        // 9 grid points (the baseline is the grid's sgd/0.1) + 5 list rows.
        assert_eq!(plan.configs.len(), 14);
        assert_eq!(plan.trial_count(), 70);
        assert!(plan.configs[0].baseline);
        assert_eq!(plan.configs[0].sources, ["base", "search[0].grid"]);
        assert_eq!(plan.configs.iter().filter(|c| c.baseline).count(), 1);
        let base = &plan.configs[0].run;
        assert_eq!(base.model.hidden, vec![500, 50]);
        assert_eq!((base.train.epochs, base.train.batch_size), (15, 100));
        assert_eq!(base.train.validation, 10_000);

        let (quick, _) = load_spec(&dir.join("quickstart.yaml")).unwrap();
        let plan = crate::expand::expand(&quick).unwrap();
        assert_eq!((plan.configs.len(), plan.trial_count()), (4, 8));
        assert!(plan
            .configs
            .iter()
            .all(|c| c.run.train.train_subset == Some(10_000)));
    }
}
