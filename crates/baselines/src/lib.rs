//! Classical linear-algebra baselines to compare the networks with: a nearest class subspace
//! classifier (per-class truncated SVD) and PCA followed by linear discriminant analysis.
//!
//! Both fit on the training part of a [`Splits`](fcnsweep_data::Splits), choose their
//! dimension `k` by validation accuracy, and report the accuracy on the official test set.
//! Pixels are used as stored (scaled to [0, 1]); the split's standardization is ignored.
//!
//! Everything is derived from one pass over the training images that accumulates, per
//! class, the count, the pixel sums and the Gram matrix `XᵀX` (784×784). The right singular
//! vectors of a class's image matrix are the eigenvectors of its Gram matrix, so one
//! symmetric eigendecomposition per class (or one overall for PCA) at the largest candidate
//! `k` serves every smaller `k`.

pub mod error;
mod fit;
mod linalg;
pub mod method;
mod pca_lda;
mod subspace;

#[cfg(test)]
mod tests;

pub use error::BaselineError;
pub use fit::fit_and_score;
pub use method::{ClassicalMethod, ClassicalResult, PCA_CANDIDATES, SUBSPACE_CANDIDATES};
