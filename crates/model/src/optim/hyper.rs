//! Hyper-parameters of the optimizers: what each one is called, accepts and defaults to.
//!
//! A [`Hyper`] is declared once, here for those several optimizers share and in its
//! optimizer's module for the others; each optimizer lists the ones it reads, with its own
//! defaults, in its [`Algorithm`](super::Algorithm). The search engine turns every declared
//! hyper-parameter into a sweep axis, a YAML key, a `train` flag and a database column.

use std::fmt;

use crate::error::ModelError;

/// One value of a hyper-parameter: a real number or a flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HyperValue {
    /// A real number (learning-rate-like factors, decays, epsilons).
    Float(f64),
    /// A switch (`nesterov`, `centered`).
    Bool(bool),
}

impl HyperValue {
    /// The number, or `None` for a flag.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Self::Float(v) => Some(v),
            Self::Bool(_) => None,
        }
    }

    /// The flag, or `None` for a number.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Self::Bool(v) => Some(v),
            Self::Float(_) => None,
        }
    }
}

impl From<f64> for HyperValue {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

impl From<bool> for HyperValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl fmt::Display for HyperValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Float(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// The values a hyper-parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// A real number in `[0, 1)` (momentum, betas, smoothing constants).
    Unit,
    /// A finite real number `>= 0` (decays, accumulator start values).
    NonNegative,
    /// A finite real number `> 0` (epsilons).
    Positive,
    /// `true` or `false`.
    Flag,
}

impl Range {
    /// What the range allows, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            Self::Unit => "a number in [0, 1)",
            Self::NonNegative => "a number >= 0",
            Self::Positive => "a positive number",
            Self::Flag => "true or false",
        }
    }

    /// Whether `value` lies in the range.
    pub fn contains(self, value: HyperValue) -> bool {
        match (self, value) {
            (Self::Unit, HyperValue::Float(v)) => (0.0..1.0).contains(&v),
            (Self::NonNegative, HyperValue::Float(v)) => v >= 0.0 && v.is_finite(),
            (Self::Positive, HyperValue::Float(v)) => v > 0.0 && v.is_finite(),
            (Self::Flag, HyperValue::Bool(_)) => true,
            _ => false,
        }
    }
}

/// A hyper-parameter: its key (YAML key, flag, column), meaning, default and range.
#[derive(Debug, PartialEq)]
pub struct Hyper {
    /// The key: `momentum`, `beta1`, `lr_decay`, ...
    pub name: &'static str,
    /// One line on what it does, for the YAML reference and `--help`.
    pub doc: &'static str,
    /// The value stored for optimizers that do not read it (and the usual default; an
    /// optimizer may default to another value, see [`Algorithm::hypers`](super::Algorithm)).
    pub default: HyperValue,
    /// The values it accepts.
    pub range: Range,
}

impl Hyper {
    /// A real-valued hyper-parameter.
    pub const fn float(name: &'static str, doc: &'static str, default: f64, range: Range) -> Self {
        Self {
            name,
            doc,
            default: HyperValue::Float(default),
            range,
        }
    }

    /// A flag.
    pub const fn flag(name: &'static str, doc: &'static str, default: bool) -> Self {
        Self {
            name,
            doc,
            default: HyperValue::Bool(default),
            range: Range::Flag,
        }
    }

    /// Checks `value` against the range; the error names the hyper-parameter.
    pub fn check(&self, value: HyperValue) -> Result<(), ModelError> {
        if self.range.contains(value) {
            Ok(())
        } else {
            Err(ModelError::InvalidValue {
                field: self.name,
                value: value.to_string(),
                expected: self.range.expected(),
            })
        }
    }

    /// Whether the values are flags.
    pub fn is_flag(&self) -> bool {
        self.range == Range::Flag
    }
}

/// Momentum factor (SGD's and RMSprop's `momentum`).
pub const MOMENTUM: Hyper =
    Hyper::float("momentum", "momentum factor (0 = none)", 0.0, Range::Unit);

/// Weight decay: an L2 term added to the gradient, or AdamW's decoupled decay.
pub const WEIGHT_DECAY: Hyper = Hyper::float(
    "weight_decay",
    "weight decay: L2 added to the gradient as torch.optim (adamw: decoupled)",
    0.0,
    Range::NonNegative,
);

/// Nesterov momentum (SGD).
pub const NESTEROV: Hyper =
    Hyper::flag("nesterov", "Nesterov momentum (needs momentum > 0)", false);

/// Decay of the first-moment average (Adam's β1).
pub const BETA1: Hyper = Hyper::float(
    "beta1",
    "decay of the gradient's running average",
    0.9,
    Range::Unit,
);

/// Decay of the second-moment average (Adam's β2).
pub const BETA2: Hyper = Hyper::float(
    "beta2",
    "decay of the squared gradient's running average",
    0.999,
    Range::Unit,
);

/// RMSprop's smoothing constant α.
pub const ALPHA: Hyper = Hyper::float(
    "alpha",
    "smoothing constant of the squared gradient's average",
    0.99,
    Range::Unit,
);

/// Term added to the denominator for numerical stability.
pub const EPS: Hyper = Hyper::float(
    "eps",
    "term added to the denominator",
    1e-8,
    Range::Positive,
);

/// Centered RMSprop.
pub const CENTERED: Hyper = Hyper::flag(
    "centered",
    "normalize by the gradient's estimated variance",
    false,
);
