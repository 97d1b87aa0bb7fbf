//! The axes of a sweep: every hyper-parameter a search space can set, vary or sample.
//!
//! One axis is one key of the YAML format (`lr`, `hidden`, `epochs`, ...) and one column
//! of the results table and the database, so [`AXES`] fixes their names and order.

use std::fmt;

use fcnsweep_model::{Init, LrSchedule, Norm, OptimizerKind, RunConfig};
use serde_json::Value;

/// Every axis name, in the order of [`Axis::ALL`] (network and optimizer first, then training).
pub const AXES: &[&str] = &[
    "hidden",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "nesterov",
    "beta1",
    "beta2",
    "alpha",
    "eps",
    "centered",
    "dropout",
    "init",
    "init_std",
    "norm",
    "epochs",
    "lr_schedule",
    "lr_step_size",
    "lr_gamma",
    "batch_size",
    "validation",
    "train_subset",
    "standardize",
    "split_seed",
];

/// The axis names that may also be given at the top level of a document (training settings).
pub const TRAINING_AXES: &[&str] = &[
    "epochs",
    "lr_schedule",
    "lr_step_size",
    "lr_gamma",
    "batch_size",
    "validation",
    "train_subset",
    "standardize",
    "split_seed",
];

/// One hyper-parameter of a [`RunConfig`] that a search space can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Axis {
    /// Hidden layer widths.
    Hidden,
    /// Optimizer algorithm.
    Optimizer,
    /// Learning rate.
    Lr,
    /// Momentum (SGD, RMSprop).
    Momentum,
    /// L2 weight decay.
    WeightDecay,
    /// Nesterov momentum (SGD).
    Nesterov,
    /// Adam's β1.
    Beta1,
    /// Adam's β2.
    Beta2,
    /// RMSprop's α.
    Alpha,
    /// Denominator epsilon (Adam, RMSprop).
    Eps,
    /// Centered RMSprop.
    Centered,
    /// Dropout probability.
    Dropout,
    /// Weight initializer.
    Init,
    /// Standard deviation of the `normal` initializer.
    InitStd,
    /// Normalization layer.
    Norm,
    /// Training epochs.
    Epochs,
    /// Learning-rate schedule over the epochs.
    LrSchedule,
    /// Epochs between decays of the step schedule.
    LrStepSize,
    /// Decay factor of the step schedule.
    LrGamma,
    /// Mini-batch size.
    BatchSize,
    /// Validation images held out of the training set.
    Validation,
    /// Optional subset size of the training part.
    TrainSubset,
    /// Input standardization.
    Standardize,
    /// Seed of the train/validation split.
    SplitSeed,
}

/// The value type of an axis, which decides how YAML values and distributions are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKind {
    /// A list of layer widths (`hidden`).
    Layers,
    /// An optimizer name.
    Optimizer,
    /// An initializer name.
    Init,
    /// A normalization name.
    Norm,
    /// A learning-rate schedule name.
    Schedule,
    /// A real number.
    Float,
    /// A boolean.
    Bool,
    /// A count that fits `usize` (epochs, batch size, validation size).
    Count,
    /// A 64-bit seed.
    Seed,
    /// An optional count (`train_subset`, `null` for all).
    Subset,
}

impl Axis {
    /// Every axis, in the order of [`AXES`].
    pub const ALL: [Axis; 24] = [
        Axis::Hidden,
        Axis::Optimizer,
        Axis::Lr,
        Axis::Momentum,
        Axis::WeightDecay,
        Axis::Nesterov,
        Axis::Beta1,
        Axis::Beta2,
        Axis::Alpha,
        Axis::Eps,
        Axis::Centered,
        Axis::Dropout,
        Axis::Init,
        Axis::InitStd,
        Axis::Norm,
        Axis::Epochs,
        Axis::LrSchedule,
        Axis::LrStepSize,
        Axis::LrGamma,
        Axis::BatchSize,
        Axis::Validation,
        Axis::TrainSubset,
        Axis::Standardize,
        Axis::SplitSeed,
    ];

    /// The YAML key and column name of this axis.
    pub fn name(self) -> &'static str {
        AXES[self as usize]
    }

    /// The axis with this exact key, if any.
    pub fn parse(name: &str) -> Option<Axis> {
        AXES.iter().position(|a| *a == name).map(|i| Self::ALL[i])
    }

    /// Whether this is a training setting, allowed at the top level of a document.
    pub fn is_training(self) -> bool {
        TRAINING_AXES.contains(&self.name())
    }

    /// The value type of this axis.
    pub fn kind(self) -> AxisKind {
        match self {
            Axis::Hidden => AxisKind::Layers,
            Axis::Optimizer => AxisKind::Optimizer,
            Axis::Init => AxisKind::Init,
            Axis::Norm => AxisKind::Norm,
            Axis::LrSchedule => AxisKind::Schedule,
            Axis::Lr
            | Axis::Momentum
            | Axis::WeightDecay
            | Axis::Beta1
            | Axis::Beta2
            | Axis::Alpha
            | Axis::Eps
            | Axis::Dropout
            | Axis::InitStd
            | Axis::LrGamma => AxisKind::Float,
            Axis::Nesterov | Axis::Centered | Axis::Standardize => AxisKind::Bool,
            Axis::Epochs | Axis::LrStepSize | Axis::BatchSize | Axis::Validation => AxisKind::Count,
            Axis::SplitSeed => AxisKind::Seed,
            Axis::TrainSubset => AxisKind::Subset,
        }
    }

    /// This axis's current value in `run`.
    pub fn get(self, run: &RunConfig) -> AxisValue {
        let (m, o, t) = (&run.model, &run.optimizer, &run.train);
        match self {
            Axis::Hidden => AxisValue::Layers(m.hidden.clone()),
            Axis::Optimizer => AxisValue::Optimizer(o.kind),
            Axis::Lr => AxisValue::Float(o.lr),
            Axis::Momentum => AxisValue::Float(o.momentum),
            Axis::WeightDecay => AxisValue::Float(o.weight_decay),
            Axis::Nesterov => AxisValue::Bool(o.nesterov),
            Axis::Beta1 => AxisValue::Float(o.betas.0),
            Axis::Beta2 => AxisValue::Float(o.betas.1),
            Axis::Alpha => AxisValue::Float(o.alpha),
            Axis::Eps => AxisValue::Float(o.eps),
            Axis::Centered => AxisValue::Bool(o.centered),
            Axis::Dropout => AxisValue::Float(m.dropout),
            Axis::Init => AxisValue::Init(m.init),
            Axis::InitStd => AxisValue::Float(m.init_std),
            Axis::Norm => AxisValue::Norm(m.norm),
            Axis::Epochs => AxisValue::Count(t.epochs),
            Axis::LrSchedule => AxisValue::Schedule(t.lr_schedule),
            Axis::LrStepSize => AxisValue::Count(t.lr_step_size),
            Axis::LrGamma => AxisValue::Float(t.lr_gamma),
            Axis::BatchSize => AxisValue::Count(t.batch_size),
            Axis::Validation => AxisValue::Count(t.validation),
            Axis::TrainSubset => AxisValue::Subset(t.train_subset),
            Axis::Standardize => AxisValue::Bool(t.standardize),
            Axis::SplitSeed => AxisValue::Seed(t.split_seed),
        }
    }

    /// Sets this axis in `run` to `value`.
    ///
    /// # Panics
    /// If `value` is not of this axis's [`AxisKind`]; the parser only builds matching pairs.
    pub fn set(self, run: &mut RunConfig, value: &AxisValue) {
        let (m, o, t) = (&mut run.model, &mut run.optimizer, &mut run.train);
        match (self, value) {
            (Axis::Hidden, AxisValue::Layers(v)) => m.hidden = v.clone(),
            (Axis::Optimizer, AxisValue::Optimizer(v)) => o.kind = *v,
            (Axis::Lr, AxisValue::Float(v)) => o.lr = *v,
            (Axis::Momentum, AxisValue::Float(v)) => o.momentum = *v,
            (Axis::WeightDecay, AxisValue::Float(v)) => o.weight_decay = *v,
            (Axis::Nesterov, AxisValue::Bool(v)) => o.nesterov = *v,
            (Axis::Beta1, AxisValue::Float(v)) => o.betas.0 = *v,
            (Axis::Beta2, AxisValue::Float(v)) => o.betas.1 = *v,
            (Axis::Alpha, AxisValue::Float(v)) => o.alpha = *v,
            (Axis::Eps, AxisValue::Float(v)) => o.eps = *v,
            (Axis::Centered, AxisValue::Bool(v)) => o.centered = *v,
            (Axis::Dropout, AxisValue::Float(v)) => m.dropout = *v,
            (Axis::Init, AxisValue::Init(v)) => m.init = *v,
            (Axis::InitStd, AxisValue::Float(v)) => m.init_std = *v,
            (Axis::Norm, AxisValue::Norm(v)) => m.norm = *v,
            (Axis::Epochs, AxisValue::Count(v)) => t.epochs = *v,
            (Axis::LrSchedule, AxisValue::Schedule(v)) => t.lr_schedule = *v,
            (Axis::LrStepSize, AxisValue::Count(v)) => t.lr_step_size = *v,
            (Axis::LrGamma, AxisValue::Float(v)) => t.lr_gamma = *v,
            (Axis::BatchSize, AxisValue::Count(v)) => t.batch_size = *v,
            (Axis::Validation, AxisValue::Count(v)) => t.validation = *v,
            (Axis::TrainSubset, AxisValue::Subset(v)) => t.train_subset = *v,
            (Axis::Standardize, AxisValue::Bool(v)) => t.standardize = *v,
            (Axis::SplitSeed, AxisValue::Seed(v)) => t.split_seed = *v,
            (axis, value) => panic!("value {value} does not fit axis {axis}"),
        }
    }
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value of one axis, typed by [`AxisKind`].
#[derive(Debug, Clone, PartialEq)]
pub enum AxisValue {
    /// Hidden layer widths.
    Layers(Vec<usize>),
    /// Optimizer algorithm.
    Optimizer(OptimizerKind),
    /// Weight initializer.
    Init(Init),
    /// Normalization.
    Norm(Norm),
    /// Learning-rate schedule.
    Schedule(LrSchedule),
    /// A real number.
    Float(f64),
    /// A flag.
    Bool(bool),
    /// A count.
    Count(usize),
    /// A seed.
    Seed(u64),
    /// An optional count.
    Subset(Option<usize>),
}

impl AxisValue {
    /// The value as it appears in results and the database: `hidden` as `"500-50"`,
    /// enums by name, an unset `train_subset` as `null`.
    pub fn to_json(&self) -> Value {
        match self {
            AxisValue::Layers(v) => Value::String(layers_name(v)),
            AxisValue::Optimizer(v) => Value::from(v.name()),
            AxisValue::Init(v) => Value::from(v.name()),
            AxisValue::Norm(v) => Value::from(v.name()),
            AxisValue::Schedule(v) => Value::from(v.name()),
            AxisValue::Float(v) => Value::from(*v),
            AxisValue::Bool(v) => Value::from(*v),
            AxisValue::Count(v) => Value::from(*v),
            AxisValue::Seed(v) => Value::from(*v),
            AxisValue::Subset(v) => v.map_or(Value::Null, Value::from),
        }
    }
}

impl fmt::Display for AxisValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AxisValue::Layers(v) => write!(f, "{v:?}"),
            AxisValue::Subset(None) => f.write_str("null"),
            other => match other.to_json() {
                Value::String(s) => f.write_str(&s),
                json => write!(f, "{json}"),
            },
        }
    }
}

/// Hidden widths joined by dashes (`[500, 50]` → `"500-50"`), the display form of `hidden`.
pub fn layers_name(widths: &[usize]) -> String {
    widths
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

/// Every axis of `run` with its display value, in [`AXES`] order (one database column each).
pub fn axis_values(run: &RunConfig) -> Vec<(&'static str, Value)> {
    Axis::ALL
        .iter()
        .map(|axis| (axis.name(), axis.get(run).to_json()))
        .collect()
}

/// The axes whose values differ between at least two of `runs`, in [`AXES`] order.
///
/// The results table shows only these columns; an empty or single-config input gives none.
pub fn varying_axes(runs: &[&RunConfig]) -> Vec<&'static str> {
    Axis::ALL
        .iter()
        .filter(|axis| {
            let mut values = runs.iter().map(|run| axis.get(run));
            match values.next() {
                Some(first) => values.any(|v| v != first),
                None => false,
            }
        })
        .map(|axis| axis.name())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fcnsweep_model::{ModelConfig, OptimizerConfig, TrainConfig};

    fn baseline() -> RunConfig {
        RunConfig {
            model: ModelConfig::default(),
            optimizer: OptimizerConfig::new(OptimizerKind::Sgd, 0.1),
            train: TrainConfig::default(),
        }
    }

    #[test]
    fn names_and_order_agree() {
        assert_eq!(AXES.len(), Axis::ALL.len());
        for (i, axis) in Axis::ALL.iter().enumerate() {
            assert_eq!(*axis as usize, i);
            assert_eq!(Axis::parse(axis.name()), Some(*axis));
        }
        assert_eq!(Axis::parse("learning_rate"), None);
        assert!(Axis::Epochs.is_training() && !Axis::Lr.is_training());
    }

    #[test]
    fn set_then_get_round_trips() {
        let mut run = baseline();
        Axis::Lr.set(&mut run, &AxisValue::Float(0.01));
        Axis::Beta2.set(&mut run, &AxisValue::Float(0.98));
        Axis::TrainSubset.set(&mut run, &AxisValue::Subset(Some(5000)));
        assert_eq!(run.optimizer.lr, 0.01);
        assert_eq!(run.optimizer.betas, (0.9, 0.98));
        assert_eq!(Axis::TrainSubset.get(&run), AxisValue::Subset(Some(5000)));
    }

    #[test]
    fn axis_values_render_for_tables() {
        let values = axis_values(&baseline());
        let names: Vec<_> = values.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, AXES);
        let get = |name: &str| values.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get("hidden"), Value::from("500-50"));
        assert_eq!(get("optimizer"), Value::from("sgd"));
        assert_eq!(get("init"), Value::from("default"));
        assert_eq!(get("lr"), Value::from(0.1));
        assert_eq!(get("train_subset"), Value::Null);
        assert_eq!(get("epochs"), Value::from(15));
    }

    #[test]
    fn varying_axes_lists_differences_in_order() {
        let a = baseline();
        let mut b = baseline();
        b.optimizer.lr = 0.01;
        b.model.hidden = vec![100];
        let c = baseline();
        assert_eq!(varying_axes(&[&a, &b, &c]), vec!["hidden", "lr"]);
        assert!(varying_axes(&[&a, &c]).is_empty());
        assert!(varying_axes(&[]).is_empty());
    }
}
