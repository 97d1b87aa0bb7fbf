//! The classical methods by name, their default candidate dimensions and the result of a fit.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::BaselineError;

/// Default candidate dimensions for [`ClassicalMethod::NearestSubspace`].
pub const SUBSPACE_CANDIDATES: &[usize] = &[5, 10, 15, 20, 30, 40, 50, 60, 80];

/// Default candidate numbers of principal components for [`ClassicalMethod::PcaLda`].
pub const PCA_CANDIDATES: &[usize] = &[10, 20, 30, 50, 75, 100, 150];

/// Which classical classifier to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClassicalMethod {
    /// Per-class truncated SVD; an image goes to the class whose top-k affine subspace
    /// reconstructs it with the smallest residual.
    #[serde(rename = "svd-subspace")]
    NearestSubspace,
    /// Projection on the top-k principal components, then linear discriminant analysis.
    #[serde(rename = "pca-lda")]
    PcaLda,
}

impl ClassicalMethod {
    /// Every method, in the order of [`ClassicalMethod::NAMES`].
    pub const ALL: [ClassicalMethod; 2] =
        [ClassicalMethod::NearestSubspace, ClassicalMethod::PcaLda];

    /// Every accepted name, for error messages and `--help`.
    pub const NAMES: &'static [&'static str] = &["svd-subspace", "pca-lda"];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::NearestSubspace => "svd-subspace",
            Self::PcaLda => "pca-lda",
        }
    }

    /// Parses a name (case-insensitive, `_` accepted for `-`).
    pub fn parse(s: &str) -> Result<Self, BaselineError> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "svd-subspace" => Ok(Self::NearestSubspace),
            "pca-lda" => Ok(Self::PcaLda),
            _ => Err(BaselineError::UnknownMethod {
                name: s.to_string(),
            }),
        }
    }

    /// The candidate `k` values tried when none are given.
    pub fn default_candidates(self) -> &'static [usize] {
        match self {
            Self::NearestSubspace => SUBSPACE_CANDIDATES,
            Self::PcaLda => PCA_CANDIDATES,
        }
    }
}

impl fmt::Display for ClassicalMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Outcome of [`fit_and_score`](crate::fit_and_score): the chosen dimension and its accuracies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassicalResult {
    /// The method fitted.
    pub method: ClassicalMethod,
    /// The dimension chosen by validation accuracy (smallest among ties).
    pub k: usize,
    /// Validation accuracy at `k`.
    pub val_acc: f64,
    /// Test-set accuracy at `k`.
    pub test_acc: f64,
    /// Wall time of fitting, selection and scoring, in seconds.
    pub seconds: f64,
    /// Validation accuracy of every candidate, by increasing `k`.
    pub val_curve: Vec<(usize, f64)>,
}
