//! Tests of both methods on synthetic subspaces and, with FCNSWEEP_DATA, on the real datasets.

use std::sync::Arc;

use fcnsweep_data::{Dataset, DatasetName, SplitOptions, Splits};
use fcnsweep_testkit::{real_data_dir, synthetic};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::linalg::{class_stats, EvalSet};
use crate::subspace::{fit_subspaces, subspace_accuracies};
use crate::*;

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
    synthetic::dataset(train, test, |i, images| {
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
        c as u8
    })
}

fn synthetic_splits() -> Splits {
    synthetic::splits(synthetic(600, 300, 1.0), 150, 3)
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
        Err(BaselineError::UnknownMethod { .. })
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
    let splits = synthetic::splits(synthetic(600, 300, 0.0), 150, 3);
    let r = fit_and_score(&splits, ClassicalMethod::NearestSubspace, Some(&[1, 4])).unwrap();
    assert!(r.val_curve[0].1 < r.val_curve[1].1, "{:?}", r.val_curve);
    assert_eq!(r.k, 4);
}

#[test]
fn bad_candidates_and_splits_are_rejected() {
    let splits = synthetic_splits();
    for bad in [&[][..], &[0, 5][..], &[5, 785][..]] {
        let err = fit_and_score(&splits, ClassicalMethod::PcaLda, Some(bad)).unwrap_err();
        assert!(matches!(err, BaselineError::BadCandidate { .. }), "{err}");
    }
    let no_val = Splits::new(synthetic(60, 30, 1.0), &SplitOptions::default()).unwrap();
    let err = fit_and_score(&no_val, ClassicalMethod::NearestSubspace, None).unwrap_err();
    assert!(matches!(err, BaselineError::NoValidation), "{err}");
}

#[test]
fn subspaces_are_capped_at_class_rank() {
    // 20 images per class: no class subspace can exceed 19 centered dimensions, and
    // asking for 50 must still work.
    let splits = synthetic::splits(synthetic(90, 60, 1.0), 30, 1);
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

fn real_splits(name: DatasetName, train_subset: Option<usize>) -> Option<Splits> {
    let dir = real_data_dir()?;
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

#[test]
fn error_messages_name_the_setting_and_the_choices() {
    let unknown = ClassicalMethod::parse("svm").unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "unknown classical method 'svm': expected one of svd-subspace, pca-lda"
    );
    let splits = synthetic_splits();
    let bad = fit_and_score(&splits, ClassicalMethod::PcaLda, Some(&[0])).unwrap_err();
    assert_eq!(
        bad.to_string(),
        "invalid k '0': expected a dimension between 1 and the number of features"
    );
    assert_eq!(
        BaselineError::NoValidation.to_string(),
        "invalid validation '0': expected at least one validation image to choose k"
    );
}
