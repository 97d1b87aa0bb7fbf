//! Classical linear-algebra baselines to compare the networks with: a nearest class subspace
//! classifier (per-class truncated SVD) and PCA followed by linear discriminant analysis.
//!
//! Both fit on the training part of a [`Splits`], choose their dimension `k` by validation
//! accuracy, and report the accuracy on the official test set. Pixels are used as stored
//! (scaled to [0, 1]); the split's standardization is ignored.
//!
//! Everything is derived from one pass over the training images that accumulates, per
//! class, the count, the pixel sums and the Gram matrix `XᵀX` (784×784). The right singular
//! vectors of a class's image matrix are the eigenvectors of its Gram matrix, so one
//! symmetric eigendecomposition per class (or one overall for PCA) at the largest candidate
//! `k` serves every smaller `k`.

use std::fmt;
use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, Mat, MatRef, Side};
use fcnsweep_data::Splits;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// Default candidate dimensions for [`ClassicalMethod::NearestSubspace`].
pub const SUBSPACE_CANDIDATES: &[usize] = &[5, 10, 15, 20, 30, 40, 50, 60, 80];

/// Default candidate numbers of principal components for [`ClassicalMethod::PcaLda`].
pub const PCA_CANDIDATES: &[usize] = &[10, 20, 30, 50, 75, 100, 150];

/// Whether class subspaces are fitted around the class mean (affine) or through the origin.
///
/// Centered (affine) subspaces were measured slightly better than uncentered ones on the
/// full FashionMNIST and MNIST validation sets (by up to 0.9 points at small k, within 0.1
/// at the best k); see `real_full_measurement` in the tests.
const CENTERED_SUBSPACES: bool = true;

/// Shrinkage of the LDA covariance towards `(trace / k) * I`, to keep it well conditioned.
const LDA_SHRINKAGE: f64 = 1e-3;

/// Eigenvalues below this fraction of the largest are treated as zero (rank deficiency).
const RANK_TOL: f64 = 1e-10;

/// Training images converted to f64 at a time when accumulating Gram matrices.
const CHUNK_ROWS: usize = 2048;

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
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "svd-subspace" => Ok(Self::NearestSubspace),
            "pca-lda" => Ok(Self::PcaLda),
            _ => Err(ModelError::UnknownName {
                what: "classical method",
                value: s.to_string(),
                valid: Self::NAMES,
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

/// Outcome of [`fit_and_score`]: the chosen dimension and its accuracies.
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

/// Fits `method` on the training part of `splits`, picks `k` among `candidates` (default
/// [`ClassicalMethod::default_candidates`]) by validation accuracy, and scores the test set.
///
/// Fails with [`ModelError::InvalidValue`] when a candidate is outside `1..=features`, when
/// the list is empty or when the split has no validation image, and with
/// [`ModelError::Linalg`] if a decomposition fails. For the subspace method a class's
/// subspace is capped at the rank of its training images.
pub fn fit_and_score(
    splits: &Splits,
    method: ClassicalMethod,
    candidates: Option<&[usize]>,
) -> Result<ClassicalResult, ModelError> {
    let started = Instant::now();
    let ds = splits.dataset();
    let features = splits.features();
    let ks = check_candidates(candidates.unwrap_or(method.default_candidates()), features)?;
    if splits.val_len() == 0 {
        return Err(ModelError::InvalidValue {
            field: "validation",
            value: "0".to_string(),
            expected: "at least one validation image to choose k",
        });
    }
    let kmax = *ks.last().expect("candidates checked non-empty");

    let stats = class_stats(
        &ds.train_images,
        &ds.train_labels,
        splits.train_indices(),
        features,
    );
    let model = match method {
        ClassicalMethod::NearestSubspace => {
            Fitted::Subspace(fit_subspaces(&stats, kmax, CENTERED_SUBSPACES)?)
        }
        ClassicalMethod::PcaLda => Fitted::PcaLda(Box::new(fit_pca_lda(&stats, kmax)?)),
    };

    let val = EvalSet::gather(
        &ds.train_images,
        &ds.train_labels,
        splits.validation_indices(),
        features,
    );
    let val_accs = model.accuracies(&val, &ks)?;
    drop(val);
    let (best, &val_acc) = val_accs
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, &f64)>, (i, acc)| match best {
            Some((_, b)) if b >= acc => best,
            _ => Some((i, acc)),
        })
        .expect("at least one candidate");
    let k = ks[best];

    let test = EvalSet::test(&ds.test_images, &ds.test_labels, features);
    let test_acc = model.accuracies(&test, &[k])?[0];
    let val_curve: Vec<(usize, f64)> = ks.iter().copied().zip(val_accs).collect();
    let seconds = started.elapsed().as_secs_f64();
    tracing::debug!(
        method = method.name(),
        k,
        val_acc,
        test_acc,
        seconds,
        ?val_curve,
        "classical baseline fitted"
    );
    Ok(ClassicalResult {
        method,
        k,
        val_acc,
        test_acc,
        seconds,
        val_curve,
    })
}

/// Checks the candidates lie in `1..=features` and returns them sorted without duplicates.
fn check_candidates(candidates: &[usize], features: usize) -> Result<Vec<usize>, ModelError> {
    if let Some(&bad) = candidates.iter().find(|&&k| k == 0 || k > features) {
        return Err(ModelError::InvalidValue {
            field: "k",
            value: bad.to_string(),
            expected: "a dimension between 1 and the number of features",
        });
    }
    if candidates.is_empty() {
        return Err(ModelError::InvalidValue {
            field: "k",
            value: "[]".to_string(),
            expected: "at least one candidate dimension",
        });
    }
    let mut ks = candidates.to_vec();
    ks.sort_unstable();
    ks.dedup();
    Ok(ks)
}

/// Sufficient statistics of one class's training images.
struct ClassStats {
    /// Class index.
    label: usize,
    /// Number of images.
    count: usize,
    /// Pixel sums, `features × 1`.
    sum: Mat<f64>,
    /// Uncentered Gram matrix `XᵀX`, `features × features`.
    gram: Mat<f64>,
}

impl ClassStats {
    /// The class mean, `features × 1`.
    fn mean(&self) -> Mat<f64> {
        let scale = 1.0 / self.count as f64;
        Mat::from_fn(self.sum.nrows(), 1, |i, _| self.sum[(i, 0)] * scale)
    }
}

/// Per-class statistics of the training images `indices` (classes without images skipped).
fn class_stats(
    images: &[f32],
    labels: &[u8],
    indices: &[usize],
    features: usize,
) -> Vec<ClassStats> {
    let classes = indices
        .iter()
        .map(|&i| usize::from(labels[i]) + 1)
        .max()
        .unwrap_or(0);
    let mut by_class = vec![Vec::new(); classes];
    for &i in indices {
        by_class[usize::from(labels[i])].push(i);
    }
    let par = faer::get_global_parallelism();
    by_class
        .into_iter()
        .enumerate()
        .filter(|(_, members)| !members.is_empty())
        .map(|(label, members)| {
            let mut gram = Mat::zeros(features, features);
            let mut sum = Mat::zeros(features, 1);
            for chunk in members.chunks(CHUNK_ROWS) {
                let rows = gather(images, features, chunk.iter().copied());
                for row in rows.chunks_exact(features) {
                    for (j, &v) in row.iter().enumerate() {
                        sum[(j, 0)] += v;
                    }
                }
                let x = MatRef::from_row_major_slice(&rows, chunk.len(), features);
                matmul(gram.as_mut(), Accum::Add, x.transpose(), x, 1.0, par);
            }
            ClassStats {
                label,
                count: members.len(),
                sum,
                gram,
            }
        })
        .collect()
}

/// Copies the images at `indices` into a row-major f64 buffer.
fn gather(images: &[f32], features: usize, indices: impl Iterator<Item = usize>) -> Vec<f64> {
    let mut rows = Vec::with_capacity(indices.size_hint().0 * features);
    for i in indices {
        rows.extend(
            images[i * features..(i + 1) * features]
                .iter()
                .map(|&v| f64::from(v)),
        );
    }
    rows
}

/// Images to classify (row-major f64) with their labels.
struct EvalSet {
    rows: Vec<f64>,
    labels: Vec<usize>,
    features: usize,
}

impl EvalSet {
    /// The training images at `indices` (the validation set).
    fn gather(images: &[f32], labels: &[u8], indices: &[usize], features: usize) -> EvalSet {
        EvalSet {
            rows: gather(images, features, indices.iter().copied()),
            labels: indices.iter().map(|&i| usize::from(labels[i])).collect(),
            features,
        }
    }

    /// All of the test images.
    fn test(images: &[f32], labels: &[u8], features: usize) -> EvalSet {
        EvalSet {
            rows: gather(images, features, 0..labels.len()),
            labels: labels.iter().map(|&l| usize::from(l)).collect(),
            features,
        }
    }

    fn len(&self) -> usize {
        self.labels.len()
    }

    /// The images as an `n × features` matrix.
    fn x(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.rows, self.len(), self.features)
    }

    /// Fraction of `predicted` equal to the labels.
    fn accuracy(&self, predicted: &[usize]) -> f64 {
        let hits = predicted
            .iter()
            .zip(&self.labels)
            .filter(|(p, l)| p == l)
            .count();
        hits as f64 / self.len().max(1) as f64
    }
}

/// Eigenvectors of the symmetric `m` for its `k` largest eigenvalues, largest first, as the
/// columns of a `n × k` matrix. With `drop_null`, directions whose eigenvalue is not above
/// [`RANK_TOL`] times the largest are left out, so fewer than `k` columns may come back.
fn top_eigenvectors(m: MatRef<'_, f64>, k: usize, drop_null: bool) -> Result<Mat<f64>, ModelError> {
    let evd = m
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| ModelError::Linalg(format!("symmetric eigendecomposition failed: {e:?}")))?;
    let n = m.nrows();
    // Eigenvalues come in nondecreasing order: the largest are at the end.
    let values = evd.S().column_vector();
    let largest = values[n - 1].max(0.0);
    let keep = (0..k.min(n))
        .take_while(|&j| !drop_null || values[n - 1 - j] > RANK_TOL * largest)
        .count();
    let u = evd.U();
    Ok(Mat::from_fn(n, keep, |i, j| u[(i, n - 1 - j)]))
}

/// A fitted classical model, ready to classify.
enum Fitted {
    Subspace(Vec<ClassSubspace>),
    PcaLda(Box<PcaLda>),
}

impl Fitted {
    /// Accuracy on `set` at each dimension of `ks` (sorted ascending, at most the fitted k).
    fn accuracies(&self, set: &EvalSet, ks: &[usize]) -> Result<Vec<f64>, ModelError> {
        match self {
            Fitted::Subspace(classes) => Ok(subspace_accuracies(classes, set, ks)),
            Fitted::PcaLda(model) => model.accuracies(set, ks),
        }
    }
}

/// One class's subspace: orthonormal basis (`features × r`) and, if affine, its origin.
struct ClassSubspace {
    label: usize,
    basis: Mat<f64>,
    mean: Option<Mat<f64>>,
}

/// Top-`kmax` right singular vectors of each class's (optionally centered) image matrix.
fn fit_subspaces(
    stats: &[ClassStats],
    kmax: usize,
    centered: bool,
) -> Result<Vec<ClassSubspace>, ModelError> {
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
fn subspace_accuracies(classes: &[ClassSubspace], set: &EvalSet, ks: &[usize]) -> Vec<f64> {
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

/// PCA on the centered training images followed by LDA with a shared covariance.
struct PcaLda {
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
fn fit_pca_lda(stats: &[ClassStats], kmax: usize) -> Result<PcaLda, ModelError> {
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
    fn accuracies(&self, set: &EvalSet, ks: &[usize]) -> Result<Vec<f64>, ModelError> {
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
                ModelError::Linalg(format!("LDA covariance not positive definite: {e:?}"))
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use fcnsweep_data::{Dataset, DatasetName, SplitOptions};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    use super::*;

    const SIGNAL_DIMS: usize = 20;
    const LATENT_DIMS: usize = 3;
    const CLASSES: usize = 3;

    /// Three classes, each near its own 3-dimensional affine subspace of the first 20 pixels
    /// (offsets of scale `offset`, zero for subspaces through the origin), plus small noise on
    /// all 784 pixels.
    fn synthetic(train: usize, test: usize, offset: f64) -> Arc<Dataset> {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut normal = move || -> f64 { rng.sample(StandardNormal) };
        let offsets: Vec<Vec<f64>> = (0..CLASSES)
            .map(|_| (0..SIGNAL_DIMS).map(|_| offset * normal()).collect())
            .collect();
        let bases: Vec<Vec<f64>> = (0..CLASSES)
            .map(|_| {
                (0..SIGNAL_DIMS * LATENT_DIMS)
                    .map(|_| 0.3 * normal())
                    .collect()
            })
            .collect();
        let mut sample = |count: usize| {
            let mut images = Vec::with_capacity(count * 784);
            let mut labels = Vec::with_capacity(count);
            for i in 0..count {
                let c = i % CLASSES;
                let latent: Vec<f64> = (0..LATENT_DIMS).map(|_| normal()).collect();
                for p in 0..784 {
                    let mut v = 0.01 * normal();
                    if p < SIGNAL_DIMS {
                        v += offsets[c][p];
                        v += (0..LATENT_DIMS)
                            .map(|l| bases[c][p * LATENT_DIMS + l] * latent[l])
                            .sum::<f64>();
                    }
                    images.push(v as f32);
                }
                labels.push(c as u8);
            }
            (images, labels)
        };
        let (train_images, train_labels) = sample(train);
        let (test_images, test_labels) = sample(test);
        Arc::new(Dataset {
            name: DatasetName::Mnist,
            rows: 28,
            cols: 28,
            train_images,
            train_labels,
            test_images,
            test_labels,
        })
    }

    fn synthetic_splits() -> Splits {
        let opts = SplitOptions {
            validation: 150,
            split_seed: 3,
            ..Default::default()
        };
        Splits::new(synthetic(600, 300, 1.0), &opts).unwrap()
    }

    #[test]
    fn names_round_trip() {
        for (method, name) in ClassicalMethod::ALL.iter().zip(ClassicalMethod::NAMES) {
            assert_eq!(method.name(), *name);
            assert_eq!(ClassicalMethod::parse(name).unwrap(), *method);
            assert_eq!(method.to_string(), *name);
        }
        assert_eq!(
            ClassicalMethod::parse("PCA_LDA").unwrap(),
            ClassicalMethod::PcaLda
        );
        assert!(matches!(
            ClassicalMethod::parse("svm"),
            Err(ModelError::UnknownName { .. })
        ));
    }

    #[test]
    fn both_methods_classify_synthetic_subspaces() {
        let splits = synthetic_splits();
        let candidates = [8, 1, 4, 2, 4];
        for method in ClassicalMethod::ALL {
            let r = fit_and_score(&splits, method, Some(&candidates)).unwrap();
            eprintln!("{method}: {r:?}");
            assert_eq!(r.method, method);
            let ks: Vec<usize> = r.val_curve.iter().map(|&(k, _)| k).collect();
            assert_eq!(ks, [1, 2, 4, 8]);
            assert!(ks.contains(&r.k));
            let best = r.val_curve.iter().map(|&(_, a)| a).fold(0.0, f64::max);
            assert_eq!(r.val_acc, best);
            // The smallest k among ties is chosen.
            let first_best = r.val_curve.iter().find(|&&(_, a)| a == best).unwrap().0;
            assert_eq!(r.k, first_best);
            assert!(
                r.val_acc > 0.9,
                "{method}: validation accuracy {}",
                r.val_acc
            );
            assert!(r.test_acc > 0.9, "{method}: test accuracy {}", r.test_acc);
            assert!(r.seconds >= 0.0);
        }
    }

    #[test]
    fn subspace_dimension_matters() {
        // Subspaces through the origin: one direction cannot hold a 3-dimensional class, so
        // k = 1 must do worse than k = 4.
        let opts = SplitOptions {
            validation: 150,
            split_seed: 3,
            ..Default::default()
        };
        let splits = Splits::new(synthetic(600, 300, 0.0), &opts).unwrap();
        let r = fit_and_score(&splits, ClassicalMethod::NearestSubspace, Some(&[1, 4])).unwrap();
        assert!(r.val_curve[0].1 < r.val_curve[1].1, "{:?}", r.val_curve);
        assert_eq!(r.k, 4);
    }

    #[test]
    fn bad_candidates_and_splits_are_rejected() {
        let splits = synthetic_splits();
        for bad in [&[][..], &[0, 5][..], &[5, 785][..]] {
            let err = fit_and_score(&splits, ClassicalMethod::PcaLda, Some(bad)).unwrap_err();
            assert!(
                matches!(err, ModelError::InvalidValue { field: "k", .. }),
                "{err}"
            );
        }
        let no_val = Splits::new(synthetic(60, 30, 1.0), &SplitOptions::default()).unwrap();
        let err = fit_and_score(&no_val, ClassicalMethod::NearestSubspace, None).unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::InvalidValue {
                    field: "validation",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn subspaces_are_capped_at_class_rank() {
        // 20 images per class: no class subspace can exceed 19 centered dimensions, and
        // asking for 50 must still work.
        let opts = SplitOptions {
            validation: 30,
            split_seed: 1,
            ..Default::default()
        };
        let splits = Splits::new(synthetic(90, 60, 1.0), &opts).unwrap();
        let stats = class_stats(
            &splits.dataset().train_images,
            &splits.dataset().train_labels,
            splits.train_indices(),
            784,
        );
        for s in &fit_subspaces(&stats, 50, true).unwrap() {
            let count = stats.iter().find(|c| c.label == s.label).unwrap().count;
            assert!(s.basis.ncols() < count, "{} >= {count}", s.basis.ncols());
        }
        let r = fit_and_score(&splits, ClassicalMethod::NearestSubspace, Some(&[4, 50])).unwrap();
        assert!(r.test_acc > 0.9, "{r:?}");
    }

    /// The data directory from FCNSWEEP_DATA, relative paths taken from the workspace root.
    fn data_dir() -> Option<PathBuf> {
        let value = std::env::var("FCNSWEEP_DATA")
            .ok()
            .filter(|v| !v.is_empty())?;
        let path = PathBuf::from(value);
        Some(if path.is_absolute() {
            path
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(path)
        })
    }

    fn real_splits(name: DatasetName, train_subset: Option<usize>) -> Option<Splits> {
        let Some(dir) = data_dir() else {
            eprintln!("FCNSWEEP_DATA is not set: skipping the real-data test");
            return None;
        };
        let ds = Dataset::load(&dir, name).unwrap();
        let opts = SplitOptions {
            validation: 10_000,
            split_seed: 0,
            train_subset,
            standardize: false,
        };
        Some(Splits::new(ds, &opts).unwrap())
    }

    #[test]
    fn real_fashion_mnist_subset() {
        let Some(splits) = real_splits(DatasetName::FashionMnist, Some(10_000)) else {
            return;
        };
        for method in ClassicalMethod::ALL {
            let r = fit_and_score(&splits, method, None).unwrap();
            eprintln!("{method}: {r:?}");
            assert!(r.test_acc > 0.75, "{method}: {r:?}");
        }
    }

    /// One-off measurement on the full training part (50k) of both datasets, comparing
    /// centered and uncentered class subspaces too. Run with `--ignored`.
    #[test]
    #[ignore = "slow: full datasets; needs FCNSWEEP_DATA"]
    fn real_full_measurement() {
        for name in DatasetName::ALL {
            let Some(splits) = real_splits(name, None) else {
                return;
            };
            for method in ClassicalMethod::ALL {
                let r = fit_and_score(&splits, method, None).unwrap();
                eprintln!(
                    "{name} {method}: k={} val={:.4} test={:.4} in {:.1}s; curve {:?}",
                    r.k, r.val_acc, r.test_acc, r.seconds, r.val_curve
                );
            }
            let ds = splits.dataset();
            let stats = class_stats(
                &ds.train_images,
                &ds.train_labels,
                splits.train_indices(),
                784,
            );
            let val = EvalSet::gather(
                &ds.train_images,
                &ds.train_labels,
                splits.validation_indices(),
                784,
            );
            for centered in [false, true] {
                let classes = fit_subspaces(&stats, 80, centered).unwrap();
                let accs = subspace_accuracies(&classes, &val, SUBSPACE_CANDIDATES);
                eprintln!("{name} subspaces centered={centered}: val {accs:?}");
            }
        }
    }
}
