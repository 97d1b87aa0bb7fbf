//! The identity of a configuration: which settings matter, and a stable hash of them.
//!
//! Two configurations that must train identically get the same hash, so a sweep never
//! trains the same thing twice and results can be matched across sweeps and versions.

use std::collections::BTreeMap;

use fcnsweep_data::DatasetName;
use fcnsweep_model::config::{DEFAULT_LR_GAMMA, DEFAULT_LR_STEP_SIZE};
use fcnsweep_model::{HyperValue, RunConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::axes::{Axis, AxisValue};

/// `run` with every setting that cannot affect its result at its default: the axes that do
/// not [apply](Axis::applies) (`init_std` unless `init: normal`, the step schedule's settings
/// unless `lr_schedule: step`; hyper-parameters an optimizer does not read are not even held).
/// Negative zeros become positive zeros so they serialize alike.
pub fn canonical(run: &RunConfig) -> RunConfig {
    let mut run = run.clone();
    for axis in Axis::all() {
        if !axis.applies(&run) {
            axis.set(&mut run, &axis.default_value());
        } else if let AxisValue::Float(v) = axis.get(&run) {
            if v == 0.0 {
                axis.set(&mut run, &AxisValue::Float(0.0));
            }
        }
    }
    run
}

/// What the hash covers. Its JSON layout is frozen: it is the serde layout `RunConfig` had
/// when hashes were introduced, so every stored configuration keeps its hash. Change it only
/// together with a migration of the stored hashes; the golden test pins it.
#[derive(Serialize)]
struct Identity<'a> {
    dataset: DatasetName,
    run: RunIdentity<'a>,
}

#[derive(Serialize)]
struct RunIdentity<'a> {
    model: ModelIdentity<'a>,
    optimizer: OptimizerIdentity,
    train: TrainIdentity,
}

#[derive(Serialize)]
struct ModelIdentity<'a> {
    hidden: &'a [usize],
    dropout: f64,
    init: &'static str,
    init_std: f64,
    norm: &'static str,
}

/// Every hyper-parameter of the first three optimizers, always present (at its declared
/// default where the optimizer does not read it), then the others an optimizer reads.
#[derive(Serialize)]
struct OptimizerIdentity {
    kind: &'static str,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    nesterov: bool,
    betas: (f64, f64),
    alpha: f64,
    eps: f64,
    centered: bool,
    #[serde(flatten)]
    more: BTreeMap<&'static str, HyperJson>,
}

/// A hyper-parameter value as JSON.
#[derive(Serialize)]
#[serde(untagged)]
enum HyperJson {
    Float(f64),
    Bool(bool),
}

/// The hyper-parameters with their own field in [`OptimizerIdentity`].
const FIXED: &[&str] = &[
    "momentum",
    "weight_decay",
    "nesterov",
    "beta1",
    "beta2",
    "alpha",
    "eps",
    "centered",
];

#[derive(Serialize)]
struct TrainIdentity {
    epochs: usize,
    batch_size: usize,
    validation: usize,
    train_subset: Option<usize>,
    standardize: bool,
    split_seed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lr_schedule: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lr_step_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lr_gamma: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    augment_shift: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    augment_flip: Option<bool>,
}

impl<'a> Identity<'a> {
    /// The identity of `run`, which must be canonical.
    fn of(dataset: DatasetName, run: &'a RunConfig) -> Self {
        let (m, o, t) = (&run.model, &run.optimizer, &run.train);
        let float = |name| match Axis::named(name).get(run) {
            AxisValue::Float(v) => v,
            other => unreachable!("{name} is a number, not {other}"),
        };
        let flag = |name| Axis::named(name).get(run) == AxisValue::Bool(true);
        let more = o
            .values()
            .filter(|(h, _)| !FIXED.contains(&h.name))
            .map(|(h, v)| {
                let json = match v {
                    HyperValue::Float(v) => HyperJson::Float(v),
                    HyperValue::Bool(v) => HyperJson::Bool(v),
                };
                (h.name, json)
            })
            .collect();
        Self {
            dataset,
            run: RunIdentity {
                model: ModelIdentity {
                    hidden: &m.hidden,
                    dropout: m.dropout,
                    init: m.init.name(),
                    init_std: m.init_std,
                    norm: m.norm.name(),
                },
                optimizer: OptimizerIdentity {
                    kind: o.kind().name(),
                    lr: o.lr,
                    momentum: float("momentum"),
                    weight_decay: float("weight_decay"),
                    nesterov: flag("nesterov"),
                    betas: (float("beta1"), float("beta2")),
                    alpha: float("alpha"),
                    eps: float("eps"),
                    centered: flag("centered"),
                    more,
                },
                train: TrainIdentity {
                    epochs: t.epochs,
                    batch_size: t.batch_size,
                    validation: t.validation,
                    train_subset: t.train_subset,
                    standardize: t.standardize,
                    split_seed: t.split_seed,
                    lr_schedule: (!t.lr_schedule.is_constant()).then(|| t.lr_schedule.name()),
                    lr_step_size: (t.lr_step_size != DEFAULT_LR_STEP_SIZE)
                        .then_some(t.lr_step_size),
                    lr_gamma: (t.lr_gamma != DEFAULT_LR_GAMMA).then_some(t.lr_gamma),
                    augment_shift: (t.augment_shift != 0).then_some(t.augment_shift),
                    augment_flip: t.augment_flip.then_some(true),
                },
            },
        }
    }
}

/// SHA-256 (64 lower-case hex digits) of the identity JSON of `dataset` and `canonical(run)`.
///
/// The seed is not part of it: all seeds of a configuration share its hash.
pub fn config_hash(dataset: DatasetName, run: &RunConfig) -> String {
    let run = canonical(run);
    let json = serde_json::to_string(&Identity::of(dataset, &run))
        .expect("an identity always serializes to JSON");
    Sha256::digest(json.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The first 10 characters of a hash, for display.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..10).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fcnsweep_model::{
        Init, LrSchedule, ModelConfig, Norm, OptimizerConfig, OptimizerKind, TrainConfig,
    };

    fn sgd(lr: f64) -> RunConfig {
        RunConfig {
            model: ModelConfig::default(),
            optimizer: OptimizerConfig::new(OptimizerKind::Sgd, lr),
            train: TrainConfig::default(),
        }
    }

    const FASHION: DatasetName = DatasetName::FashionMnist;

    #[test]
    fn hash_is_64_hex_and_stable() {
        let h = config_hash(FASHION, &sgd(0.1));
        assert_eq!(h.len(), 64);
        assert!(h
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(h, config_hash(FASHION, &sgd(0.1)));
        assert_eq!(short_hash(&h), &h[..10]);
        assert_eq!(short_hash("abc"), "abc");
    }

    #[test]
    fn ignored_settings_do_not_change_the_hash() {
        let mut std = sgd(0.1);
        std.model.init_std = 0.3; // init is default: std unused
        assert_eq!(config_hash(FASHION, &std), config_hash(FASHION, &sgd(0.1)));
        assert_eq!(canonical(&std), sgd(0.1));
    }

    #[test]
    fn relevant_settings_change_the_hash() {
        let base = config_hash(FASHION, &sgd(0.1));
        assert_ne!(base, config_hash(FASHION, &sgd(0.01)));
        assert_ne!(base, config_hash(DatasetName::Mnist, &sgd(0.1)));
        let mut normal = sgd(0.1);
        normal.model.init = Init::Normal;
        let mut wider = normal.clone();
        wider.model.init_std = 0.3;
        assert_ne!(config_hash(FASHION, &normal), config_hash(FASHION, &wider));
        let mut batch = sgd(0.1);
        batch.model.norm = Norm::Batch;
        assert_ne!(base, config_hash(FASHION, &batch));
        let mut rms = sgd(0.1);
        rms.optimizer = OptimizerConfig::new(OptimizerKind::Rmsprop, 0.1);
        let mut rms_alpha = rms.clone();
        rms_alpha.optimizer = rms.optimizer.clone().with("alpha", 0.9);
        assert_ne!(config_hash(FASHION, &rms), config_hash(FASHION, &rms_alpha));
        // Every optimizer has its own hashes, and AdamW without decay is not Adam.
        let hashes: std::collections::BTreeSet<_> = OptimizerKind::ALL
            .iter()
            .map(|k| {
                let mut run = sgd(0.1);
                run.optimizer = OptimizerConfig::new(*k, 0.1);
                config_hash(FASHION, &run)
            })
            .collect();
        assert_eq!(hashes.len(), OptimizerKind::ALL.len());
        let mut adagrad = sgd(0.01);
        adagrad.optimizer = OptimizerConfig::new(OptimizerKind::Adagrad, 0.01);
        let mut decayed = adagrad.clone();
        decayed.optimizer = adagrad.optimizer.clone().with("lr_decay", 0.1);
        assert_ne!(
            config_hash(FASHION, &adagrad),
            config_hash(FASHION, &decayed)
        );
    }

    #[test]
    fn negative_zero_is_zero() {
        let mut neg = sgd(0.1);
        neg.optimizer = neg.optimizer.with("weight_decay", -0.0);
        assert_eq!(config_hash(FASHION, &neg), config_hash(FASHION, &sgd(0.1)));
    }

    #[test]
    fn hashes_from_before_schedules_are_unchanged() {
        // The baseline of fashion-table1 as stored by a build without learning-rate
        // schedules, and the hash that build gave it.
        let stored = r#"{"model":{"hidden":[500,50],"dropout":0.0,"init":"default","init_std":0.1,"norm":"none"},"optimizer":{"kind":"sgd","lr":0.1,"momentum":0.0,"weight_decay":0.0,"nesterov":false,"betas":[0.9,0.999],"alpha":0.99,"eps":1e-8,"centered":false},"train":{"epochs":15,"batch_size":100,"validation":10000,"train_subset":null,"standardize":false,"split_seed":0}}"#;
        let run: RunConfig = serde_json::from_str(stored).unwrap();
        assert_eq!(run.train.lr_schedule, LrSchedule::Constant);
        assert_eq!(
            config_hash(FASHION, &run),
            "1d141347971dbec496dce29f93801d3a74023db7769c368b628063e133c31b10"
        );
        let identity = serde_json::to_string(&Identity::of(FASHION, &canonical(&run))).unwrap();
        assert_eq!(
            identity,
            format!(r#"{{"dataset":"fashion-mnist","run":{stored}}}"#)
        );
    }

    #[test]
    fn step_settings_matter_only_for_the_step_schedule() {
        let mut cosine = sgd(0.1);
        cosine.train.lr_schedule = LrSchedule::Cosine;
        let mut cosine_gamma = cosine.clone();
        cosine_gamma.train.lr_gamma = 0.5;
        cosine_gamma.train.lr_step_size = 3;
        assert_eq!(
            config_hash(FASHION, &cosine),
            config_hash(FASHION, &cosine_gamma)
        );
        assert_ne!(
            config_hash(FASHION, &cosine),
            config_hash(FASHION, &sgd(0.1))
        );
        let mut step = sgd(0.1);
        step.train.lr_schedule = LrSchedule::Step;
        let mut step_gamma = step.clone();
        step_gamma.train.lr_gamma = 0.5;
        assert_ne!(
            config_hash(FASHION, &step),
            config_hash(FASHION, &step_gamma)
        );
        assert_ne!(config_hash(FASHION, &step), config_hash(FASHION, &cosine));
    }

    #[test]
    fn each_augmentation_gets_its_own_hash() {
        let plain = config_hash(FASHION, &sgd(0.1));
        let mut shifted = sgd(0.1);
        shifted.train.augment_shift = 2;
        let mut flipped = sgd(0.1);
        flipped.train.augment_flip = true;
        let mut both = shifted.clone();
        both.train.augment_flip = true;
        let hashes: std::collections::BTreeSet<_> = [&shifted, &flipped, &both]
            .into_iter()
            .map(|r| config_hash(FASHION, r))
            .chain([plain])
            .collect();
        assert_eq!(hashes.len(), 4, "{hashes:?}");
    }
}
