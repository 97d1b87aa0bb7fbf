//! The identity of a configuration: which settings matter, and a stable hash of them.
//!
//! Two configurations that must train identically get the same hash, so a sweep never
//! trains the same thing twice and results can be matched across sweeps and versions.

use fcnsweep_data::DatasetName;
use fcnsweep_model::{
    Init, LrSchedule, ModelConfig, OptimizerConfig, OptimizerKind, RunConfig, TrainConfig,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// `run` with every hyper-parameter that cannot affect its result reset to the default.
///
/// SGD ignores β1/β2, α, eps and centered; Adam ignores momentum, nesterov, α and centered;
/// RMSprop ignores nesterov and β1/β2; `init_std` only matters for the `normal` initializer;
/// `lr_step_size` and `lr_gamma` only for the `step` schedule.
/// Negative zeros become positive zeros so they serialize alike.
pub fn canonical(run: &RunConfig) -> RunConfig {
    let mut run = run.clone();
    let defaults = OptimizerConfig::new(run.optimizer.kind, run.optimizer.lr);
    let o = &mut run.optimizer;
    match o.kind {
        OptimizerKind::Sgd => {
            o.betas = defaults.betas;
            o.alpha = defaults.alpha;
            o.eps = defaults.eps;
            o.centered = defaults.centered;
        }
        OptimizerKind::Adam => {
            o.momentum = defaults.momentum;
            o.nesterov = defaults.nesterov;
            o.alpha = defaults.alpha;
            o.centered = defaults.centered;
        }
        OptimizerKind::Rmsprop => {
            o.nesterov = defaults.nesterov;
            o.betas = defaults.betas;
        }
    }
    for x in [
        &mut o.lr,
        &mut o.momentum,
        &mut o.weight_decay,
        &mut o.betas.0,
        &mut o.betas.1,
        &mut o.alpha,
        &mut o.eps,
        &mut run.model.dropout,
        &mut run.model.init_std,
    ] {
        if *x == 0.0 {
            *x = 0.0;
        }
    }
    if run.model.init != Init::Normal {
        run.model.init_std = ModelConfig::default().init_std;
    }
    if run.train.lr_schedule != LrSchedule::Step {
        let defaults = TrainConfig::default();
        run.train.lr_step_size = defaults.lr_step_size;
        run.train.lr_gamma = defaults.lr_gamma;
    }
    run
}

/// What the hash covers; the field order here fixes the JSON and so the hash.
#[derive(Serialize)]
struct Identity<'a> {
    dataset: DatasetName,
    run: &'a RunConfig,
}

/// SHA-256 (64 lower-case hex digits) of the canonical JSON of `dataset` and `canonical(run)`.
///
/// The seed is not part of it: all seeds of a configuration share its hash.
pub fn config_hash(dataset: DatasetName, run: &RunConfig) -> String {
    let run = canonical(run);
    let json = serde_json::to_string(&Identity { dataset, run: &run })
        .expect("a RunConfig always serializes to JSON");
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
    use fcnsweep_model::Norm;

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
        let mut betas = sgd(0.1);
        betas.optimizer.betas = (0.5, 0.9);
        betas.optimizer.alpha = 0.5;
        betas.model.init_std = 0.3; // init is default: std unused
        assert_eq!(
            config_hash(FASHION, &betas),
            config_hash(FASHION, &sgd(0.1))
        );

        let mut adam = sgd(0.001);
        adam.optimizer.kind = OptimizerKind::Adam;
        let mut adam_momentum = adam.clone();
        adam_momentum.optimizer.momentum = 0.9;
        assert_eq!(
            config_hash(FASHION, &adam),
            config_hash(FASHION, &adam_momentum)
        );
        assert_eq!(canonical(&adam_momentum), adam);
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
        rms.optimizer.kind = OptimizerKind::Rmsprop;
        let mut rms_alpha = rms.clone();
        rms_alpha.optimizer.alpha = 0.9;
        assert_ne!(config_hash(FASHION, &rms), config_hash(FASHION, &rms_alpha));
    }

    #[test]
    fn negative_zero_is_zero() {
        let mut neg = sgd(0.1);
        neg.optimizer.weight_decay = -0.0;
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
        assert_eq!(serde_json::to_string(&run).unwrap(), stored);
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
}
