//! Nearest class subspace: per-class truncated SVD; an image goes to the class whose top-k
//! (affine) subspace reconstructs it with the smallest residual.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat};

use crate::error::BaselineError;
use crate::linalg::{top_eigenvectors, ClassStats, EvalSet};

/// Whether class subspaces are fitted around the class mean (affine) or through the origin.
///
/// Centered (affine) subspaces were measured slightly better than uncentered ones on the
/// full FashionMNIST and MNIST validation sets (by up to 0.9 points at small k, within 0.1
/// at the best k); see `real_full_measurement` in the tests.
pub(crate) const CENTERED_SUBSPACES: bool = true;

/// One class's subspace: orthonormal basis (`features × r`) and, if affine, its origin.
pub(crate) struct ClassSubspace {
    pub(crate) label: usize,
    pub(crate) basis: Mat<f64>,
    mean: Option<Mat<f64>>,
}

/// Top-`kmax` right singular vectors of each class's (optionally centered) image matrix.
pub(crate) fn fit_subspaces(
    stats: &[ClassStats],
    kmax: usize,
    centered: bool,
) -> Result<Vec<ClassSubspace>, BaselineError> {
    let par = faer::get_global_parallelism();
    stats
        .iter()
        .map(|s| {
            let (basis, mean) = if centered {
                // Centered scatter: XᵀX - n μμᵀ.
                let mean = s.mean();
                let mut scatter = s.gram.clone();
                matmul(
                    scatter.as_mut(),
                    Accum::Add,
                    mean.as_ref(),
                    mean.transpose(),
                    -(s.count as f64),
                    par,
                );
                (top_eigenvectors(scatter.as_ref(), kmax, true)?, Some(mean))
            } else {
                (top_eigenvectors(s.gram.as_ref(), kmax, true)?, None)
            };
            Ok(ClassSubspace {
                label: s.label,
                basis,
                mean,
            })
        })
        .collect()
}

/// Nearest-subspace accuracy on `set` for each `k` in `ks` (sorted ascending).
///
/// The squared residual of `x` against a subspace with basis `U` (origin `μ`) is
/// `‖x - μ‖² - ‖Uᵀ(x - μ)‖²`; the projections for all k come from one product `X U`.
pub(crate) fn subspace_accuracies(
    classes: &[ClassSubspace],
    set: &EvalSet,
    ks: &[usize],
) -> Vec<f64> {
    let par = faer::get_global_parallelism();
    let n = set.len();
    let x = set.x();
    let sq_norms: Vec<f64> = set
        .rows
        .chunks_exact(set.features)
        .map(|row| row.iter().map(|v| v * v).sum())
        .collect();
    // For each k and image: smallest residual so far and its class.
    let mut best = vec![vec![(f64::INFINITY, usize::MAX); n]; ks.len()];
    for class in classes {
        let r = class.basis.ncols();
        let mut proj = Mat::zeros(n, r);
        matmul(
            proj.as_mut(),
            Accum::Replace,
            x,
            class.basis.as_ref(),
            1.0,
            par,
        );
        let mut norms = sq_norms.clone();
        let mut offset = vec![0.0; r];
        if let Some(mean) = &class.mean {
            // Uᵀ(x - μ) = Uᵀx - Uᵀμ and ‖x - μ‖² = ‖x‖² - 2 x·μ + ‖μ‖².
            let mut off = Mat::zeros(1, r);
            matmul(
                off.as_mut(),
                Accum::Replace,
                mean.transpose(),
                class.basis.as_ref(),
                1.0,
                par,
            );
            offset
                .iter_mut()
                .enumerate()
                .for_each(|(j, o)| *o = off[(0, j)]);
            let mut dots = Mat::zeros(n, 1);
            matmul(dots.as_mut(), Accum::Replace, x, mean.as_ref(), 1.0, par);
            let mean_sq = mean.squared_norm_l2();
            for (i, norm) in norms.iter_mut().enumerate() {
                *norm += mean_sq - 2.0 * dots[(i, 0)];
            }
        }
        for (i, &norm) in norms.iter().enumerate() {
            let mut explained = 0.0;
            let mut j = 0;
            for (slot, &k) in best.iter_mut().zip(ks) {
                while j < k.min(r) {
                    let p = proj[(i, j)] - offset[j];
                    explained += p * p;
                    j += 1;
                }
                let residual = norm - explained;
                if residual < slot[i].0 {
                    slot[i] = (residual, class.label);
                }
            }
        }
    }
    best.iter()
        .map(|slot| {
            let predicted: Vec<usize> = slot.iter().map(|&(_, label)| label).collect();
            set.accuracy(&predicted)
        })
        .collect()
}
