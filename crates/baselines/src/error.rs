//! Errors of the classical baselines.

use thiserror::Error;

use crate::method::ClassicalMethod;

/// Everything that can go wrong fitting or scoring a classical baseline.
#[derive(Debug, Error)]
pub enum BaselineError {
    /// A method name that is not one of [`ClassicalMethod::NAMES`].
    #[error(
        "unknown classical method '{name}': expected one of {}",
        ClassicalMethod::NAMES.join(", ")
    )]
    UnknownMethod {
        /// What was given.
        name: String,
    },
    /// A candidate dimension outside `1..=features`, or an empty candidate list.
    #[error("invalid k '{value}': expected {expected}")]
    BadCandidate {
        /// The candidate (or `[]`).
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// The split has no validation image to choose `k` with.
    #[error("invalid validation '0': expected at least one validation image to choose k")]
    NoValidation,
    /// A dense linear-algebra routine (eigendecomposition, Cholesky) failed.
    #[error("linear algebra error: {0}")]
    Linalg(String),
}
