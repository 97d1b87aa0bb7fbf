//! Errors of the model crate.

use thiserror::Error;

/// Everything that can go wrong building or training a network.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A name (optimizer, init, norm) that is not one of the valid choices.
    #[error("unknown {what} '{value}': expected one of {}", valid.join(", "))]
    UnknownName {
        /// Which kind of name.
        what: &'static str,
        /// What was given.
        value: String,
        /// The accepted names.
        valid: &'static [&'static str],
    },
    /// An optimizer name that is not in the registry.
    #[error("unknown optimizer '{value}': expected one of {}", valid.join(", "))]
    UnknownOptimizer {
        /// What was given.
        value: String,
        /// The registered names.
        valid: Vec<&'static str>,
    },
    /// A hyper-parameter set on an optimizer that does not read it.
    #[error("{optimizer} has no hyper-parameter '{name}': its hyper-parameters are {}", valid.join(", "))]
    NotAHyperParameter {
        /// The optimizer.
        optimizer: &'static str,
        /// The hyper-parameter given.
        name: String,
        /// The ones it reads.
        valid: Vec<&'static str>,
    },
    /// A numeric or structural value outside its allowed range.
    #[error("invalid {field} '{value}': expected {expected}")]
    InvalidValue {
        /// The configuration field.
        field: &'static str,
        /// What was given.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A tensor operation failed (shape bug or out of memory).
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Training was stopped from outside (Ctrl-C) before it finished.
    #[error("training interrupted")]
    Interrupted,
    /// A checkpoint that cannot be read, or that belongs to another run.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}
