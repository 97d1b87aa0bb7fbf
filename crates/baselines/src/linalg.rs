//! The linear algebra both methods share: per-class sufficient statistics of the training
//! images (count, pixel sums, Gram matrix `XᵀX`), the images to classify as f64 matrices, and
//! the top eigenvectors of a symmetric matrix.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Side};

use crate::error::BaselineError;

/// Eigenvalues below this fraction of the largest are treated as zero (rank deficiency).
const RANK_TOL: f64 = 1e-10;

/// Training images converted to f64 at a time when accumulating Gram matrices.
const CHUNK_ROWS: usize = 2048;

/// Sufficient statistics of one class's training images.
pub(crate) struct ClassStats {
    /// Class index.
    pub(crate) label: usize,
    /// Number of images.
    pub(crate) count: usize,
    /// Pixel sums, `features × 1`.
    pub(crate) sum: Mat<f64>,
    /// Uncentered Gram matrix `XᵀX`, `features × features`.
    pub(crate) gram: Mat<f64>,
}

impl ClassStats {
    /// The class mean, `features × 1`.
    pub(crate) fn mean(&self) -> Mat<f64> {
        let scale = 1.0 / self.count as f64;
        Mat::from_fn(self.sum.nrows(), 1, |i, _| self.sum[(i, 0)] * scale)
    }
}

/// Per-class statistics of the training images `indices` (classes without images skipped).
pub(crate) fn class_stats(
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
pub(crate) struct EvalSet {
    pub(crate) rows: Vec<f64>,
    pub(crate) labels: Vec<usize>,
    pub(crate) features: usize,
}

impl EvalSet {
    /// The training images at `indices` (the validation set).
    pub(crate) fn gather(
        images: &[f32],
        labels: &[u8],
        indices: &[usize],
        features: usize,
    ) -> EvalSet {
        EvalSet {
            rows: gather(images, features, indices.iter().copied()),
            labels: indices.iter().map(|&i| usize::from(labels[i])).collect(),
            features,
        }
    }

    /// All of the test images.
    pub(crate) fn test(images: &[f32], labels: &[u8], features: usize) -> EvalSet {
        EvalSet {
            rows: gather(images, features, 0..labels.len()),
            labels: labels.iter().map(|&l| usize::from(l)).collect(),
            features,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.labels.len()
    }

    /// The images as an `n × features` matrix.
    pub(crate) fn x(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.rows, self.len(), self.features)
    }

    /// Fraction of `predicted` equal to the labels.
    pub(crate) fn accuracy(&self, predicted: &[usize]) -> f64 {
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
pub(crate) fn top_eigenvectors(
    m: MatRef<'_, f64>,
    k: usize,
    drop_null: bool,
) -> Result<Mat<f64>, BaselineError> {
    let evd = m.self_adjoint_eigen(Side::Lower).map_err(|e| {
        BaselineError::Linalg(format!("symmetric eigendecomposition failed: {e:?}"))
    })?;
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
