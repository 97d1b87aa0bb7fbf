//! [`OptimizerConfig`]: an optimizer and the values of exactly the hyper-parameters it reads.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::hyper::{Hyper, HyperValue};
use super::{Algorithm, OptimizerKind};
use crate::error::ModelError;

/// Optimizer and its hyper-parameters; unset values take the optimizer's defaults
/// (`torch.optim`'s).
///
/// It holds a value for every hyper-parameter its [`Algorithm`] lists and for no other, so two
/// configurations that train alike compare equal.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerConfig {
    /// Algorithm (fixed: the values below belong to it).
    kind: OptimizerKind,
    /// Learning rate (> 0).
    pub lr: f64,
    /// One value per entry of the algorithm's `hypers`, in that order.
    values: Vec<HyperValue>,
}

impl OptimizerConfig {
    /// `kind` at learning rate `lr` with every other hyper-parameter at its default.
    pub fn new(kind: OptimizerKind, lr: f64) -> Self {
        let values = kind.algorithm().hypers.iter().map(|(_, d)| *d).collect();
        Self { kind, lr, values }
    }

    /// The algorithm.
    pub fn kind(&self) -> OptimizerKind {
        self.kind
    }

    /// The algorithm's declaration.
    pub fn algorithm(&self) -> &'static Algorithm {
        self.kind.algorithm()
    }

    /// The hyper-parameters the optimizer reads, with their values.
    pub fn values(&self) -> impl Iterator<Item = (&'static Hyper, HyperValue)> + '_ {
        self.algorithm()
            .hypers
            .iter()
            .zip(&self.values)
            .map(|((h, _), v)| (*h, *v))
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.algorithm()
            .hypers
            .iter()
            .position(|(h, _)| h.name == name)
    }

    /// The value of hyper-parameter `name`, or `None` when this optimizer does not read it.
    pub fn get(&self, name: &str) -> Option<HyperValue> {
        self.index(name).map(|i| self.values[i])
    }

    /// Sets hyper-parameter `name`; an error when this optimizer does not read it (the value
    /// itself is checked by [`OptimizerConfig::validate`]).
    pub fn set(&mut self, name: &str, value: HyperValue) -> Result<(), ModelError> {
        let algorithm = self.algorithm();
        let Some(i) = self.index(name) else {
            return Err(ModelError::NotAHyperParameter {
                optimizer: algorithm.name,
                name: name.to_string(),
                valid: algorithm.hypers.iter().map(|(h, _)| h.name).collect(),
            });
        };
        self.values[i] = value;
        Ok(())
    }

    /// `self` with `name` set to `value`, for building configurations in code and tests.
    ///
    /// # Panics
    /// If the optimizer does not read `name`.
    pub fn with(mut self, name: &str, value: impl Into<HyperValue>) -> Self {
        if let Err(e) = self.set(name, value.into()) {
            panic!("{e}");
        }
        self
    }

    /// The number `hyper` is set to.
    ///
    /// # Panics
    /// If the optimizer does not read `hyper` or it is a flag: an algorithm reads only the
    /// hyper-parameters it declares.
    pub fn float(&self, hyper: &Hyper) -> f64 {
        self.get(hyper.name)
            .and_then(HyperValue::as_f64)
            .unwrap_or_else(|| panic!("{} does not read number {}", self.kind, hyper.name))
    }

    /// The flag `hyper` is set to.
    ///
    /// # Panics
    /// As [`OptimizerConfig::float`], for flags.
    pub fn flag(&self, hyper: &Hyper) -> bool {
        self.get(hyper.name)
            .and_then(HyperValue::as_bool)
            .unwrap_or_else(|| panic!("{} does not read flag {}", self.kind, hyper.name))
    }

    /// Checks the learning rate, every hyper-parameter against its range, and the
    /// algorithm's own rules across them.
    pub fn validate(&self) -> Result<(), ModelError> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(ModelError::InvalidValue {
                field: "lr",
                value: self.lr.to_string(),
                expected: "a positive number",
            });
        }
        for (hyper, value) in self.values() {
            hyper.check(value)?;
        }
        (self.algorithm().check)(self)
    }
}

/// Stored form: `{"kind": "adam", "lr": 0.001, "beta1": 0.9, ...}` with the hyper-parameters
/// the optimizer reads. Reading also accepts the layout of schema versions 1–3, which stored
/// every optimizer's fields (`betas` as a pair) and whose unused fields are ignored.
impl Serialize for OptimizerConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2 + self.values.len()))?;
        map.serialize_entry("kind", self.kind.name())?;
        map.serialize_entry("lr", &self.lr)?;
        for (hyper, value) in self.values() {
            match value {
                HyperValue::Float(v) => map.serialize_entry(hyper.name, &v)?,
                HyperValue::Bool(v) => map.serialize_entry(hyper.name, &v)?,
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for OptimizerConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ConfigVisitor)
    }
}

/// Any JSON scalar or pair a stored optimizer field can hold.
#[derive(Deserialize)]
#[serde(untagged)]
enum Field {
    Bool(bool),
    Number(f64),
    Pair(f64, f64),
    Text(String),
}

struct ConfigVisitor;

impl<'de> Visitor<'de> for ConfigVisitor {
    type Value = OptimizerConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an optimizer object with kind, lr and its hyper-parameters")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OptimizerConfig, A::Error> {
        let mut kind = None;
        let mut lr = None;
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match (key.as_str(), map.next_value::<Field>()?) {
                ("kind", Field::Text(name)) => {
                    kind = Some(OptimizerKind::parse(&name).map_err(de::Error::custom)?);
                }
                ("lr", Field::Number(v)) => lr = Some(v),
                ("betas", Field::Pair(b1, b2)) => {
                    fields.push(("beta1".to_string(), HyperValue::Float(b1)));
                    fields.push(("beta2".to_string(), HyperValue::Float(b2)));
                }
                (_, Field::Number(v)) => fields.push((key, HyperValue::Float(v))),
                (_, Field::Bool(v)) => fields.push((key, HyperValue::Bool(v))),
                (key, _) => {
                    return Err(de::Error::custom(format!("invalid optimizer field {key}")))
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        let lr = lr.ok_or_else(|| de::Error::missing_field("lr"))?;
        let mut config = OptimizerConfig::new(kind, lr);
        for (name, value) in fields {
            if config.get(&name).is_some() {
                config.set(&name, value).map_err(de::Error::custom)?;
            } else if !super::is_hyper_name(&name) {
                return Err(de::Error::custom(format!("unknown optimizer field {name}")));
            }
        }
        Ok(config)
    }
}
