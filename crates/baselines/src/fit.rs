//! Fitting a method, choosing its dimension on the validation split and scoring the test set.

use std::time::Instant;

use fcnsweep_data::Splits;

use crate::error::BaselineError;
use crate::linalg::{class_stats, EvalSet};
use crate::method::{ClassicalMethod, ClassicalResult};
use crate::pca_lda::{fit_pca_lda, PcaLda};
use crate::subspace::{fit_subspaces, subspace_accuracies, ClassSubspace, CENTERED_SUBSPACES};

/// Fits `method` on the training part of `splits`, picks `k` among `candidates` (default
/// [`ClassicalMethod::default_candidates`]) by validation accuracy, and scores the test set.
///
/// Fails with [`BaselineError::BadCandidate`] when a candidate is outside `1..=features` or
/// the list is empty, with [`BaselineError::NoValidation`] when the split has no validation
/// image, and with [`BaselineError::Linalg`] if a decomposition fails. For the subspace method a class's
/// subspace is capped at the rank of its training images.
pub fn fit_and_score(
    splits: &Splits,
    method: ClassicalMethod,
    candidates: Option<&[usize]>,
) -> Result<ClassicalResult, BaselineError> {
    let started = Instant::now();
    let ds = splits.dataset();
    let features = splits.features();
    let ks = check_candidates(candidates.unwrap_or(method.default_candidates()), features)?;
    if splits.val_len() == 0 {
        return Err(BaselineError::NoValidation);
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
fn check_candidates(candidates: &[usize], features: usize) -> Result<Vec<usize>, BaselineError> {
    if let Some(&bad) = candidates.iter().find(|&&k| k == 0 || k > features) {
        return Err(BaselineError::BadCandidate {
            value: bad.to_string(),
            expected: "a dimension between 1 and the number of features",
        });
    }
    if candidates.is_empty() {
        return Err(BaselineError::BadCandidate {
            value: "[]".to_string(),
            expected: "at least one candidate dimension",
        });
    }
    let mut ks = candidates.to_vec();
    ks.sort_unstable();
    ks.dedup();
    Ok(ks)
}

/// A fitted classical model, ready to classify.
enum Fitted {
    Subspace(Vec<ClassSubspace>),
    PcaLda(Box<PcaLda>),
}

impl Fitted {
    /// Accuracy on `set` at each dimension of `ks` (sorted ascending, at most the fitted k).
    fn accuracies(&self, set: &EvalSet, ks: &[usize]) -> Result<Vec<f64>, BaselineError> {
        match self {
            Fitted::Subspace(classes) => Ok(subspace_accuracies(classes, set, ks)),
            Fitted::PcaLda(model) => model.accuracies(set, ks),
        }
    }
}
