//! Configuration of one training run: the network, its optimizer and the training schedule.
//!
//! These types are plain data (serde-serializable) so the search engine can hash, store and
//! expand them; [`RunConfig::validate`] is the one place their values are checked.

use fcnsweep_data::dataset::TRAIN_IMAGES;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
pub use crate::optim::{OptimizerConfig, OptimizerKind};

/// Weight initializer of every linear layer; biases always keep nn.Linear's U(±1/√fan_in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// nn.Linear's default: U(±1/√fan_in) (kaiming_uniform with a=√5).
    Default,
    /// N(0, std²), std from [`ModelConfig::init_std`] (0.1 by default).
    Normal,
    /// `xavier_normal_`: N(0, 2/(fan_in+fan_out)).
    XavierNormal,
    /// `xavier_uniform_`: U(±√(6/(fan_in+fan_out))).
    XavierUniform,
    /// `kaiming_uniform_` (ReLU gain): U(±√(6/fan_in)).
    HeUniform,
    /// `kaiming_normal_` (ReLU gain): N(0, 2/fan_in).
    HeNormal,
}

impl Init {
    /// Every accepted name.
    pub const NAMES: &'static [&'static str] = &[
        "default",
        "normal",
        "xavier_normal",
        "xavier_uniform",
        "he_uniform",
        "he_normal",
    ];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Normal => "normal",
            Self::XavierNormal => "xavier_normal",
            Self::XavierUniform => "xavier_uniform",
            Self::HeUniform => "he_uniform",
            Self::HeNormal => "he_normal",
        }
    }

    /// Parses a name; `kaiming_*` is accepted for `he_*`.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s.to_ascii_lowercase().as_str() {
            "default" => Ok(Self::Default),
            "normal" => Ok(Self::Normal),
            "xavier_normal" => Ok(Self::XavierNormal),
            "xavier_uniform" => Ok(Self::XavierUniform),
            "he_uniform" | "kaiming_uniform" => Ok(Self::HeUniform),
            "he_normal" | "kaiming_normal" => Ok(Self::HeNormal),
            _ => Err(ModelError::UnknownName {
                what: "init",
                value: s.to_string(),
                valid: Self::NAMES,
            }),
        }
    }
}

/// Normalization inserted after each hidden linear layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// No normalization.
    None,
    /// BatchNorm1d (eps 1e-5, momentum 0.1, affine), PyTorch train/eval semantics.
    Batch,
}

impl Norm {
    /// Every accepted name.
    pub const NAMES: &'static [&'static str] = &["none", "batch"];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Batch => "batch",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "batch" | "batchnorm" | "batch_norm" => Ok(Self::Batch),
            _ => Err(ModelError::UnknownName {
                what: "norm",
                value: s.to_string(),
                valid: Self::NAMES,
            }),
        }
    }
}

/// How the learning rate changes from epoch to epoch, as `torch.optim.lr_scheduler` stepped
/// once per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// The optimizer's `lr` throughout (no scheduler).
    #[default]
    Constant,
    /// `CosineAnnealingLR(T_max = epochs, eta_min = 0)`: `lr·(1 + cos(π·e/epochs))/2` in
    /// epoch `e` (0-based).
    Cosine,
    /// `StepLR(step_size, gamma)`: `lr·gamma^⌊e/step_size⌋` in epoch `e` (0-based).
    Step,
}

impl LrSchedule {
    /// Every accepted name.
    pub const NAMES: &'static [&'static str] = &["constant", "cosine", "step"];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Constant => "constant",
            Self::Cosine => "cosine",
            Self::Step => "step",
        }
    }

    /// Parses a name (`none` is accepted for `constant`).
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s.to_ascii_lowercase().as_str() {
            "constant" | "none" => Ok(Self::Constant),
            "cosine" => Ok(Self::Cosine),
            "step" => Ok(Self::Step),
            _ => Err(ModelError::UnknownName {
                what: "lr_schedule",
                value: s.to_string(),
                valid: Self::NAMES,
            }),
        }
    }

    /// True for [`LrSchedule::Constant`] (which configuration files and hashes leave out).
    pub fn is_constant(&self) -> bool {
        *self == Self::Constant
    }
}

/// The fully-connected network: 784 inputs, `hidden` ReLU layers, 10 logits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Widths of the hidden layers, input to output (the study's baseline is `[500, 50]`).
    pub hidden: Vec<usize>,
    /// Dropout probability after each hidden activation (0 = none).
    pub dropout: f64,
    /// Weight initializer.
    pub init: Init,
    /// Standard deviation for `Init::Normal`.
    pub init_std: f64,
    /// Normalization after each hidden linear layer.
    pub norm: Norm,
}

impl ModelConfig {
    /// Weights and biases of the linear layers with `inputs` features and `classes` logits
    /// (batch norm's scale and shift not counted); saturates instead of overflowing.
    pub fn linear_parameters(&self, inputs: usize, classes: usize) -> u64 {
        let mut params: u64 = 0;
        let mut fan_in = inputs as u64;
        for &w in self.hidden.iter().chain(std::iter::once(&classes)) {
            let w = w as u64;
            params = params.saturating_add(fan_in.saturating_mul(w).saturating_add(w));
            fan_in = w;
        }
        params
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            hidden: vec![500, 50],
            dropout: 0.0,
            init: Init::Default,
            init_std: 0.1,
            norm: Norm::None,
        }
    }
}

/// How data is fed: epochs, batches, split and subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training part.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Images of the 60k training set held out for validation.
    pub validation: usize,
    /// Use only the first N images of the (split-shuffled) training part.
    pub train_subset: Option<usize>,
    /// Standardize inputs with the training mean/std instead of plain [0,1] pixels.
    pub standardize: bool,
    /// Seed of the train/validation split (shared by every seed of a configuration).
    pub split_seed: u64,
    /// Learning-rate schedule over the epochs. Left out of the serialized form while it has
    /// its default, so configurations from before schedules existed keep their hashes.
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
    /// Epochs between two decays of [`LrSchedule::Step`].
    #[serde(
        default = "default_lr_step_size",
        skip_serializing_if = "is_default_lr_step_size"
    )]
    pub lr_step_size: usize,
    /// Factor of each decay of [`LrSchedule::Step`].
    #[serde(
        default = "default_lr_gamma",
        skip_serializing_if = "is_default_lr_gamma"
    )]
    pub lr_gamma: f64,
    /// Largest random translation of each training image, in pixels along each axis, drawn
    /// anew every epoch (torchvision's `RandomCrop(28, padding=augment_shift)`); 0: none.
    /// Left out of the serialized form while 0, as are the other defaults.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub augment_shift: usize,
    /// Mirror each training image left-right with probability 1/2, every epoch
    /// (torchvision's `RandomHorizontalFlip`). Left out of the serialized form while false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub augment_flip: bool,
}

/// Largest accepted [`TrainConfig::augment_shift`]: below half the 28-pixel image side.
pub const MAX_AUGMENT_SHIFT: usize = 13;

fn is_zero(v: &usize) -> bool {
    *v == 0
}

/// Default [`TrainConfig::lr_step_size`].
pub const DEFAULT_LR_STEP_SIZE: usize = 10;
/// Default [`TrainConfig::lr_gamma`] (StepLR's default).
pub const DEFAULT_LR_GAMMA: f64 = 0.1;

fn default_lr_step_size() -> usize {
    DEFAULT_LR_STEP_SIZE
}

fn is_default_lr_step_size(v: &usize) -> bool {
    *v == DEFAULT_LR_STEP_SIZE
}

fn default_lr_gamma() -> f64 {
    DEFAULT_LR_GAMMA
}

fn is_default_lr_gamma(v: &f64) -> bool {
    *v == DEFAULT_LR_GAMMA
}

impl TrainConfig {
    /// The images one epoch trains on: `train_subset`, or every training image not held out
    /// for validation.
    pub fn training_images(&self) -> usize {
        self.train_subset
            .unwrap_or(TRAIN_IMAGES.saturating_sub(self.validation))
    }

    /// The factor the base learning rate is multiplied by in `epoch` (1-based), following
    /// [`TrainConfig::lr_schedule`]; 1 for a constant schedule.
    pub fn lr_factor(&self, epoch: usize) -> f64 {
        let e = epoch.saturating_sub(1);
        match self.lr_schedule {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine => {
                (1.0 + (std::f64::consts::PI * e as f64 / self.epochs as f64).cos()) / 2.0
            }
            LrSchedule::Step => {
                let decays = e / self.lr_step_size.max(1);
                self.lr_gamma
                    .powi(i32::try_from(decays).unwrap_or(i32::MAX))
            }
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 15,
            batch_size: 64,
            validation: 10_000,
            train_subset: None,
            standardize: false,
            split_seed: 0,
            lr_schedule: LrSchedule::Constant,
            lr_step_size: DEFAULT_LR_STEP_SIZE,
            lr_gamma: DEFAULT_LR_GAMMA,
            augment_shift: 0,
            augment_flip: false,
        }
    }
}

/// Everything that determines one run's result except the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Network.
    pub model: ModelConfig,
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Schedule and data handling.
    pub train: TrainConfig,
}

impl RunConfig {
    /// Checks every value; the error names the field, the value and what is allowed.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |field: &'static str, value: String, expected: &'static str| {
            Err(ModelError::InvalidValue {
                field,
                value,
                expected,
            })
        };
        let m = &self.model;
        if m.hidden.is_empty() {
            return bad("hidden", "[]".into(), "at least one hidden layer width");
        }
        if let Some(w) = m.hidden.iter().find(|w| **w == 0) {
            return bad("hidden", w.to_string(), "layer widths >= 1");
        }
        if !(0.0..1.0).contains(&m.dropout) {
            return bad("dropout", m.dropout.to_string(), "a probability in [0, 1)");
        }
        if !(m.init_std > 0.0 && m.init_std.is_finite()) {
            return bad("init_std", m.init_std.to_string(), "a positive number");
        }
        self.optimizer.validate()?;
        let t = &self.train;
        if t.epochs == 0 {
            return bad("epochs", "0".into(), "at least 1 epoch");
        }
        if t.batch_size == 0 {
            return bad("batch_size", "0".into(), "at least 1");
        }
        if t.validation >= TRAIN_IMAGES {
            return bad(
                "validation",
                t.validation.to_string(),
                "fewer images than the 60000 of the training set",
            );
        }
        if t.lr_step_size == 0 {
            return bad("lr_step_size", "0".into(), "at least 1 epoch");
        }
        if !(t.lr_gamma > 0.0 && t.lr_gamma <= 1.0) {
            return bad("lr_gamma", t.lr_gamma.to_string(), "a number in (0, 1]");
        }
        if t.augment_shift > MAX_AUGMENT_SHIFT {
            return bad(
                "augment_shift",
                t.augment_shift.to_string(),
                "a shift of 0 to 13 pixels (below half the 28-pixel image side)",
            );
        }
        if t.train_subset == Some(0) {
            return bad("train_subset", "0".into(), "at least 1 image (or unset)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train(schedule: LrSchedule, epochs: usize) -> TrainConfig {
        TrainConfig {
            epochs,
            lr_schedule: schedule,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn constant_schedule_keeps_the_rate() {
        let t = train(LrSchedule::Constant, 15);
        assert!((1..=15).all(|e| t.lr_factor(e) == 1.0));
    }

    #[test]
    fn cosine_follows_torch_closed_form() {
        // torch CosineAnnealingLR(T_max=4, eta_min=0) from lr 1, stepped per epoch:
        // 1, (1 + cos(π/4))/2, 1/2, (1 + cos(3π/4))/2.
        let t = train(LrSchedule::Cosine, 4);
        let expected = [1.0, 0.853_553_390_593_273_8, 0.5, 0.146_446_609_406_726_24];
        for (e, want) in expected.iter().enumerate() {
            assert!((t.lr_factor(e + 1) - want).abs() < 1e-15, "epoch {}", e + 1);
        }
    }

    #[test]
    fn step_decays_every_step_size_epochs() {
        let t = TrainConfig {
            lr_step_size: 2,
            lr_gamma: 0.5,
            ..train(LrSchedule::Step, 6)
        };
        let factors: Vec<f64> = (1..=6).map(|e| t.lr_factor(e)).collect();
        assert_eq!(factors, [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]);
    }

    #[test]
    fn schedule_names_parse() {
        for name in LrSchedule::NAMES {
            assert_eq!(LrSchedule::parse(name).unwrap().name(), *name);
        }
        assert_eq!(LrSchedule::parse("None").unwrap(), LrSchedule::Constant);
        let err = LrSchedule::parse("linear").unwrap_err().to_string();
        assert!(err.contains("linear") && err.contains("cosine"), "{err}");
    }

    #[test]
    fn schedule_values_are_validated() {
        let run = |t: TrainConfig| RunConfig {
            model: ModelConfig::default(),
            optimizer: OptimizerConfig::new(OptimizerKind::Sgd, 0.1),
            train: t,
        };
        let zero_step = TrainConfig {
            lr_step_size: 0,
            ..TrainConfig::default()
        };
        let err = run(zero_step).validate().unwrap_err().to_string();
        assert!(err.contains("lr_step_size"), "{err}");
        for gamma in [0.0, 1.5, f64::NAN] {
            let bad = TrainConfig {
                lr_gamma: gamma,
                ..TrainConfig::default()
            };
            let err = run(bad).validate().unwrap_err().to_string();
            assert!(err.contains("lr_gamma"), "{err}");
        }
        assert!(run(train(LrSchedule::Cosine, 3)).validate().is_ok());
    }

    #[test]
    fn default_schedule_is_left_out_of_json() {
        let json = serde_json::to_string(&TrainConfig::default()).unwrap();
        assert!(!json.contains("lr_") && !json.contains("augment"), "{json}");
        let back: TrainConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, TrainConfig::default());
        let cosine = serde_json::to_string(&train(LrSchedule::Cosine, 3)).unwrap();
        assert!(cosine.contains(r#""lr_schedule":"cosine""#), "{cosine}");
    }
}
