//! The optimizers: one module per algorithm, each holding its hyper-parameters with their
//! defaults and rules, its update on flat `f32` buffers (the fused engine's) and the same
//! update on candle tensors (the reference path's). [`registry!`] lists them once.
//!
//! Every algorithm follows the single-tensor (`foreach=False`) code path of its `torch.optim`
//! class operation for operation, so that f32 results agree with PyTorch to rounding:
//! hyper-parameters are rounded to f32 as candle's `affine` does, moving averages use torch's
//! two-branch `lerp`, bias corrections are computed on the host in f64 from the parameter's
//! own step count, and a parameter's state is created on its first gradient.
//!
//! To add an optimizer: a module with its `ALGORITHM` and tests against reference numbers,
//! and one line in the `registry!` call below. Its hyper-parameters become sweep axes, YAML
//! keys, `train` flags and database columns by themselves.

mod adagrad;
mod adam;
mod adamw;
mod config;
pub mod hyper;
mod ops;
mod reference;
mod rmsprop;
mod sgd;
#[cfg(test)]
mod testing;

use std::fmt;

use candle_core::{Result as CandleResult, Tensor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use config::OptimizerConfig;
pub use hyper::{Hyper, HyperValue, Range};
pub use reference::ReferenceOptimizer;

use crate::error::ModelError;

/// The fused update of one parameter tensor at its step `t` (1-based): `theta` moves in
/// place given `grad`; `state` holds the buffers [`Algorithm::state`] asked for, each as long
/// as `theta`.
pub type FusedStep =
    fn(c: &OptimizerConfig, t: u64, theta: &mut [f32], grad: &[f32], state: &mut [Vec<f32>]);

/// The reference update of one parameter tensor at its step `t`: returns the new value;
/// `state` holds one slot per buffer of [`Algorithm::state`], `None` until the first step.
pub type ReferenceStep = fn(
    c: &OptimizerConfig,
    t: u64,
    theta: &Tensor,
    grad: Tensor,
    state: &mut [Option<Tensor>],
) -> CandleResult<Tensor>;

/// Everything fcnsweep knows about one optimizer.
#[derive(Debug)]
pub struct Algorithm {
    /// Canonical name (YAML value, flag value, database value).
    pub name: &'static str,
    /// Other accepted spellings.
    pub aliases: &'static [&'static str],
    /// One line on what it is, for the YAML reference and `--help`.
    pub summary: &'static str,
    /// The hyper-parameters it reads, each with this optimizer's default.
    pub hypers: &'static [(&'static Hyper, HyperValue)],
    /// Rules across hyper-parameters (ranges are checked from [`Algorithm::hypers`]).
    pub check: fn(&OptimizerConfig) -> Result<(), ModelError>,
    /// The initial value of each per-parameter state buffer the update keeps (none: empty).
    pub state: fn(&OptimizerConfig) -> Vec<f32>,
    /// `Some(lr)` when the update is exactly `θ ← θ − lr·g` with no state, which the fused
    /// engine folds into its gradient pass.
    pub stateless_lr: fn(&OptimizerConfig) -> Option<f64>,
    /// The update on flat buffers.
    pub fused: FusedStep,
    /// The update on candle tensors.
    pub reference: ReferenceStep,
}

/// Declares [`OptimizerKind`] with one variant per algorithm module, in this order.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident => $module:ident,)+) => {
        /// Which optimizer updates the weights; semantics and defaults follow `torch.optim`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OptimizerKind {
            $($(#[$doc])* $variant,)+
        }

        impl OptimizerKind {
            /// Every optimizer, in registry order.
            pub const ALL: &'static [OptimizerKind] = &[$(OptimizerKind::$variant,)+];

            /// The algorithm's declaration.
            pub fn algorithm(self) -> &'static Algorithm {
                match self {
                    $(OptimizerKind::$variant => &$module::ALGORITHM,)+
                }
            }
        }
    };
}

registry! {
    /// `torch.optim.SGD`, optionally with momentum / Nesterov.
    Sgd => sgd,
    /// `torch.optim.Adam` (L2 weight decay added to the gradient).
    Adam => adam,
    /// `torch.optim.AdamW` (decoupled weight decay).
    AdamW => adamw,
    /// `torch.optim.RMSprop`, optionally centered and with momentum.
    Rmsprop => rmsprop,
    /// `torch.optim.Adagrad`.
    Adagrad => adagrad,
}

impl OptimizerKind {
    /// Every accepted canonical name, in registry order.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.name()).collect()
    }

    /// The canonical lower-case name.
    pub fn name(self) -> &'static str {
        self.algorithm().name
    }

    /// Parses a name or alias, case-insensitively.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let lower = s.to_ascii_lowercase();
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.name() == lower || k.algorithm().aliases.contains(&lower.as_str()))
            .ok_or_else(|| ModelError::UnknownOptimizer {
                value: s.to_string(),
                valid: Self::names(),
            })
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for OptimizerKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for OptimizerKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// Every hyper-parameter some optimizer reads, each once, in registry order of first use.
pub fn all_hypers() -> Vec<&'static Hyper> {
    let mut out: Vec<&'static Hyper> = Vec::new();
    for kind in OptimizerKind::ALL {
        for (hyper, _) in kind.algorithm().hypers {
            if !out.iter().any(|h| h.name == hyper.name) {
                out.push(hyper);
            }
        }
    }
    out
}

/// Whether some optimizer reads a hyper-parameter of this name.
pub fn is_hyper_name(name: &str) -> bool {
    all_hypers().iter().any(|h| h.name == name)
}

/// The optimizers that read hyper-parameter `name`, in registry order.
pub fn readers(name: &str) -> Vec<OptimizerKind> {
    OptimizerKind::ALL
        .iter()
        .copied()
        .filter(|k| k.algorithm().hypers.iter().any(|(h, _)| h.name == name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_aliases_work() {
        for kind in OptimizerKind::ALL {
            assert_eq!(OptimizerKind::parse(kind.name()).unwrap(), *kind);
            assert_eq!(
                OptimizerKind::parse(&kind.name().to_uppercase()).unwrap(),
                *kind
            );
            for alias in kind.algorithm().aliases {
                assert_eq!(OptimizerKind::parse(alias).unwrap(), *kind);
            }
        }
        let err = OptimizerKind::parse("lbfgs").unwrap_err().to_string();
        assert!(err.contains("lbfgs") && err.contains("adagrad"), "{err}");
    }

    #[test]
    fn one_declaration_per_hyper_name() {
        // A name shared by several optimizers must be the same declaration everywhere.
        for kind in OptimizerKind::ALL {
            for (hyper, default) in kind.algorithm().hypers {
                let shared = all_hypers().into_iter().find(|h| h.name == hyper.name);
                assert_eq!(shared, Some(*hyper), "{kind}: {}", hyper.name);
                hyper.check(*default).unwrap();
                assert_eq!(hyper.is_flag(), default.as_bool().is_some());
            }
        }
        assert_eq!(readers("nesterov"), vec![OptimizerKind::Sgd]);
    }

    #[test]
    fn defaults_follow_torch() {
        let adamw = OptimizerConfig::new(OptimizerKind::AdamW, 0.001);
        assert_eq!(adamw.float(&hyper::WEIGHT_DECAY), 0.01);
        let adagrad = OptimizerConfig::new(OptimizerKind::Adagrad, 0.01);
        assert_eq!(adagrad.float(&hyper::EPS), 1e-10);
        let adam = OptimizerConfig::new(OptimizerKind::Adam, 0.001);
        assert_eq!(adam.float(&hyper::WEIGHT_DECAY), 0.0);
        assert_eq!(adam.get("momentum"), None);
    }

    #[test]
    fn unread_hyper_parameters_are_refused() {
        let mut adam = OptimizerConfig::new(OptimizerKind::Adam, 0.001);
        let err = adam.set("momentum", 0.9.into()).unwrap_err().to_string();
        assert!(
            err.contains("adam") && err.contains("momentum") && err.contains("beta1"),
            "{err}"
        );
    }

    #[test]
    fn serde_round_trips_and_reads_the_old_layout() {
        for kind in OptimizerKind::ALL {
            let c = OptimizerConfig::new(*kind, 0.05);
            let json = serde_json::to_string(&c).unwrap();
            let back: OptimizerConfig = serde_json::from_str(&json).unwrap();
            assert_eq!(back, c, "{json}");
        }
        let old = r#"{"kind":"adam","lr":0.001,"momentum":0.0,"weight_decay":1e-5,"nesterov":false,"betas":[0.8,0.99],"alpha":0.99,"eps":1e-8,"centered":false}"#;
        let c: OptimizerConfig = serde_json::from_str(old).unwrap();
        let want = OptimizerConfig::new(OptimizerKind::Adam, 0.001)
            .with("weight_decay", 1e-5)
            .with("beta1", 0.8)
            .with("beta2", 0.99);
        assert_eq!(c, want);
        let bad = r#"{"kind":"sgd","lr":0.1,"learning":1}"#;
        let err = serde_json::from_str::<OptimizerConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("learning"), "{err}");
    }

    #[test]
    fn validation_checks_ranges_and_rules() {
        let bad_lr = OptimizerConfig::new(OptimizerKind::Sgd, 0.0);
        assert!(bad_lr.validate().unwrap_err().to_string().contains("lr"));
        let bad_beta = OptimizerConfig::new(OptimizerKind::AdamW, 0.1).with("beta1", 1.0);
        assert!(bad_beta
            .validate()
            .unwrap_err()
            .to_string()
            .contains("beta1"));
        let nesterov = OptimizerConfig::new(OptimizerKind::Sgd, 0.1).with("nesterov", true);
        assert!(nesterov
            .validate()
            .unwrap_err()
            .to_string()
            .contains("nesterov"));
        for kind in OptimizerKind::ALL {
            OptimizerConfig::new(*kind, 0.1).validate().unwrap();
        }
    }
}
