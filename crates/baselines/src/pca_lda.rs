//! PCA followed by linear discriminant analysis with a shared, shrunk covariance.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, Mat, Side};

use crate::error::BaselineError;
use crate::linalg::{top_eigenvectors, ClassStats, EvalSet};

/// Shrinkage of the LDA covariance towards `(trace / k) * I`, to keep it well conditioned.
const LDA_SHRINKAGE: f64 = 1e-3;

/// PCA on the centered training images followed by LDA with a shared covariance.
pub(crate) struct PcaLda {
    /// Training mean, `features × 1`.
    mean: Mat<f64>,
    /// Principal directions, `features × kmax`, by decreasing variance.
    components: Mat<f64>,
    /// Class index of each row of `class_means`.
    labels: Vec<usize>,
    /// Class means in component coordinates, `classes × kmax`.
    class_means: Mat<f64>,
    /// Pooled within-class covariance in component coordinates, `kmax × kmax`.
    within: Mat<f64>,
    /// Log of each class's share of the training images.
    log_priors: Vec<f64>,
}

/// Fits PCA (top `kmax` components) and the LDA statistics in component coordinates.
///
/// The within-class covariance of the first `k` coordinates is the leading `k × k` block of
/// the `kmax` one, so every `k` reuses this fit.
pub(crate) fn fit_pca_lda(stats: &[ClassStats], kmax: usize) -> Result<PcaLda, BaselineError> {
    let par = faer::get_global_parallelism();
    let features = stats[0].gram.nrows();
    let total: usize = stats.iter().map(|s| s.count).sum();
    let mut gram = Mat::<f64>::zeros(features, features);
    let mut sum = Mat::<f64>::zeros(features, 1);
    for s in stats {
        gram += &s.gram;
        sum += &s.sum;
    }
    let mean = Mat::from_fn(features, 1, |i, _| sum[(i, 0)] / total as f64);

    // Total scatter XᵀX - n μμᵀ gives the principal directions.
    let mut scatter = gram.clone();
    matmul(
        scatter.as_mut(),
        Accum::Add,
        mean.as_ref(),
        mean.transpose(),
        -(total as f64),
        par,
    );
    let components = top_eigenvectors(scatter.as_ref(), kmax, false)?;

    // Within-class scatter XᵀX - Σ_c s_c s_cᵀ / n_c, then projected: Wᵀ S_w W / (n - C).
    let mut within_scatter = gram;
    for s in stats {
        matmul(
            within_scatter.as_mut(),
            Accum::Add,
            s.sum.as_ref(),
            s.sum.transpose(),
            -1.0 / s.count as f64,
            par,
        );
    }
    let mut sw_w = Mat::zeros(features, components.ncols());
    matmul(
        sw_w.as_mut(),
        Accum::Replace,
        within_scatter.as_ref(),
        components.as_ref(),
        1.0,
        par,
    );
    let dof = total.saturating_sub(stats.len()).max(1) as f64;
    let mut within = Mat::zeros(components.ncols(), components.ncols());
    matmul(
        within.as_mut(),
        Accum::Replace,
        components.transpose(),
        sw_w.as_ref(),
        1.0 / dof,
        par,
    );

    // Class means relative to the overall mean, in component coordinates.
    let centered_means = Mat::from_fn(features, stats.len(), |i, c| {
        stats[c].sum[(i, 0)] / stats[c].count as f64 - mean[(i, 0)]
    });
    let mut class_means = Mat::zeros(stats.len(), components.ncols());
    matmul(
        class_means.as_mut(),
        Accum::Replace,
        centered_means.transpose(),
        components.as_ref(),
        1.0,
        par,
    );
    Ok(PcaLda {
        mean,
        components,
        labels: stats.iter().map(|s| s.label).collect(),
        class_means,
        within,
        log_priors: stats
            .iter()
            .map(|s| (s.count as f64 / total as f64).ln())
            .collect(),
    })
}

impl PcaLda {
    /// LDA accuracy on `set` using the first `k` components, for each `k` in `ks`.
    pub(crate) fn accuracies(
        &self,
        set: &EvalSet,
        ks: &[usize],
    ) -> Result<Vec<f64>, BaselineError> {
        let par = faer::get_global_parallelism();
        let n = set.len();
        let kmax = self.components.ncols();
        // Z = (X - 1μᵀ) W = XW - 1(μᵀW).
        let mut z = Mat::zeros(n, kmax);
        matmul(
            z.as_mut(),
            Accum::Replace,
            set.x(),
            self.components.as_ref(),
            1.0,
            par,
        );
        let mut offset = Mat::zeros(1, kmax);
        matmul(
            offset.as_mut(),
            Accum::Replace,
            self.mean.transpose(),
            self.components.as_ref(),
            1.0,
            par,
        );
        let ones = Mat::<f64>::from_fn(n, 1, |_, _| 1.0);
        matmul(
            z.as_mut(),
            Accum::Add,
            ones.as_ref(),
            offset.as_ref(),
            -1.0,
            par,
        );

        let classes = self.labels.len();
        let mut accs = Vec::with_capacity(ks.len());
        for &k in ks {
            let k = k.min(kmax);
            // Σ = S_k + λ (tr S_k / k) I, then A = Σ⁻¹ Mᵀ and b_c = -½ m_cᵀ a_c + log π_c.
            let block = self.within.as_ref().submatrix(0, 0, k, k);
            let trace: f64 = (0..k).map(|i| block[(i, i)]).sum();
            let ridge = (LDA_SHRINKAGE * trace / k as f64).max(1e-12);
            let sigma = Mat::from_fn(k, k, |i, j| {
                block[(i, j)] + if i == j { ridge } else { 0.0 }
            });
            let llt = sigma.llt(Side::Lower).map_err(|e| {
                BaselineError::Linalg(format!("LDA covariance not positive definite: {e:?}"))
            })?;
            let means = self.class_means.as_ref().subcols(0, k);
            let a = llt.solve(means.transpose());
            let bias: Vec<f64> = (0..classes)
                .map(|c| {
                    let quad: f64 = (0..k).map(|j| means[(c, j)] * a[(j, c)]).sum();
                    self.log_priors[c] - 0.5 * quad
                })
                .collect();
            let mut scores = Mat::zeros(n, classes);
            matmul(
                scores.as_mut(),
                Accum::Replace,
                z.as_ref().subcols(0, k),
                a.as_ref(),
                1.0,
                par,
            );
            let predicted: Vec<usize> = (0..n)
                .map(|i| {
                    let best = (0..classes)
                        .max_by(|&p, &q| {
                            (scores[(i, p)] + bias[p]).total_cmp(&(scores[(i, q)] + bias[q]))
                        })
                        .expect("at least one class");
                    self.labels[best]
                })
                .collect();
            accs.push(set.accuracy(&predicted));
        }
        Ok(accs)
    }
}
