//! Edge cases of the pruners: no other trials, NaN, warmup, intervals, bootstrap_count,
//! rung values, Hyperband's brackets and budgets, fcnsweep's margin, option validation.

use fcnsweep_tune::prune::{
    crc32, hyperband_bracket, nan_percentile, reduction_factor_from_f64, rung_values, Curve,
    CurveState, HalvingOptions, HyperbandOptions, MedianOptions, Pruner,
};
use fcnsweep_tune::Goal::{Maximize, Minimize};

fn curve(number: usize, state: CurveState, values: &[f64]) -> Curve {
    Curve {
        number,
        state,
        values: values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i + 1, v))
            .collect(),
    }
}

fn complete(values: &[f64], count: usize) -> Vec<Curve> {
    (0..count)
        .map(|n| curve(n, CurveState::Complete, values))
        .collect()
}

fn median(o: MedianOptions) -> Pruner {
    Pruner::Median(o)
}

#[test]
fn defaults_are_optunas() {
    let m = MedianOptions::default();
    assert_eq!(
        (
            m.n_startup_trials,
            m.n_warmup_steps,
            m.interval_steps,
            m.n_min_trials
        ),
        (5, 0, 1, 1)
    );
    let h = HalvingOptions::default();
    // fcnsweep's margin is off unless asked for, so the rules are Optuna's.
    assert_eq!((m.margin, h.margin), (0.0, 0.0));
    assert_eq!(HyperbandOptions::default().margin, 0.0);
    assert_eq!(
        (
            h.min_resource,
            h.reduction_factor,
            h.min_early_stopping_rate,
            h.bootstrap_count
        ),
        (1, 4, 0, 0)
    );
    let b = HyperbandOptions::default();
    assert_eq!(
        (
            b.min_resource,
            b.max_resource,
            b.reduction_factor,
            b.bootstrap_count
        ),
        (1, None, 3, 0)
    );
    for p in [
        median(m),
        Pruner::SuccessiveHalving(h),
        Pruner::Hyperband(b),
    ] {
        p.validate().unwrap();
    }
}

#[test]
fn no_other_trials_never_prunes() {
    let nan = curve(0, CurveState::Running, &[f64::NAN]);
    let bad = curve(0, CurveState::Running, &[0.1, 0.1, 0.1, 0.1]);
    let hb = HyperbandOptions {
        max_resource: Some(27),
        ..Default::default()
    };
    assert!(!median(MedianOptions::default()).should_prune(&bad, &[], Maximize, "s"));
    assert!(!median(MedianOptions::default()).should_prune(&nan, &[], Maximize, "s"));
    // Alone, a trial is the best at every rung (the first eta - 1 trials rule) ...
    let halving = Pruner::SuccessiveHalving(HalvingOptions::default());
    assert!(!halving.should_prune(&bad, &[], Maximize, "s"));
    assert!(!Pruner::Hyperband(hb).should_prune(&bad, &[], Minimize, "s"));
    // ... but NaN at a rung step prunes, as in Optuna.
    assert!(halving.should_prune(&nan, &[], Maximize, "s"));
    // Hyperband "auto" prunes nothing before a trial completes.
    assert!(!Pruner::Hyperband(HyperbandOptions::default()).should_prune(&nan, &[], Maximize, "s"));
    // No step reported yet.
    let empty = curve(0, CurveState::Running, &[]);
    let others = complete(&[0.9; 4], 5);
    assert!(!median(MedianOptions::default()).should_prune(&empty, &others, Maximize, "s"));
    assert!(!halving.should_prune(&empty, &others, Maximize, "s"));
}

#[test]
fn median_startup_nan_and_best_so_far() {
    let p = median(MedianOptions::default());
    let others = complete(&[0.5, 0.6, 0.7], 5);
    assert!(!p.should_prune(
        &curve(9, CurveState::Running, &[0.4]),
        &others[..4],
        Maximize,
        "s"
    ));
    assert!(p.should_prune(
        &curve(9, CurveState::Running, &[0.4]),
        &others,
        Maximize,
        "s"
    ));
    assert!(!p.should_prune(
        &curve(9, CurveState::Running, &[0.5]),
        &others,
        Maximize,
        "s"
    ));
    // The best value so far counts, not the newest: against step 2's median 0.6, a best of
    // 0.55 is pruned and a best of 0.65 is not.
    assert!(p.should_prune(
        &curve(9, CurveState::Running, &[0.55, 0.3]),
        &others,
        Maximize,
        "s"
    ));
    assert!(!p.should_prune(
        &curve(9, CurveState::Running, &[0.65, 0.3]),
        &others,
        Maximize,
        "s"
    ));
    // Minimize mirrors it.
    assert!(p.should_prune(
        &curve(9, CurveState::Running, &[0.6]),
        &others,
        Minimize,
        "s"
    ));
    assert!(!p.should_prune(
        &curve(9, CurveState::Running, &[0.5]),
        &others,
        Minimize,
        "s"
    ));
    // All the trial's values NaN: pruned; NaN now but a good value before: judged on that.
    assert!(p.should_prune(
        &curve(9, CurveState::Running, &[f64::NAN, f64::NAN]),
        &others,
        Maximize,
        "s"
    ));
    assert!(!p.should_prune(
        &curve(9, CurveState::Running, &[0.9, f64::NAN]),
        &others,
        Maximize,
        "s"
    ));
    // Running, pruned and failed trials are not compared against.
    let mut mixed = others.clone();
    for (i, t) in mixed.iter_mut().enumerate().take(4) {
        t.state = [
            CurveState::Running,
            CurveState::Pruned,
            CurveState::Failed,
            CurveState::Running,
        ][i];
    }
    assert!(!p.should_prune(
        &curve(9, CurveState::Running, &[0.1]),
        &mixed,
        Maximize,
        "s"
    ));
}

#[test]
fn median_nan_in_completed_trials() {
    let p = median(MedianOptions {
        n_startup_trials: 1,
        n_min_trials: 2,
        ..Default::default()
    });
    // NaN values are dropped from the median but counted for n_min_trials.
    let others = vec![
        curve(0, CurveState::Complete, &[0.8]),
        curve(1, CurveState::Complete, &[f64::NAN]),
    ];
    assert!(p.should_prune(
        &curve(2, CurveState::Running, &[0.7]),
        &others,
        Maximize,
        "s"
    ));
    // Only NaN at the step: the median is NaN, nothing pruned.
    let nans = vec![
        curve(0, CurveState::Complete, &[f64::NAN]),
        curve(1, CurveState::Complete, &[f64::NAN]),
    ];
    assert!(!p.should_prune(&curve(2, CurveState::Running, &[0.1]), &nans, Maximize, "s"));
    // Too few completed trials reached the step.
    let short = vec![
        curve(0, CurveState::Complete, &[0.8]),
        curve(1, CurveState::Complete, &[0.8, 0.9]),
    ];
    assert!(!p.should_prune(
        &curve(2, CurveState::Running, &[0.7, 0.1]),
        &short,
        Maximize,
        "s"
    ));
}

#[test]
fn median_warmup_and_intervals() {
    let others = complete(&[0.9; 12], 5);
    let bad = |n: usize| curve(9, CurveState::Running, &vec![0.1; n]);
    let warm = median(MedianOptions {
        n_warmup_steps: 3,
        ..Default::default()
    });
    let decisions: Vec<bool> = (1..=5)
        .map(|n| warm.should_prune(&bad(n), &others, Maximize, "s"))
        .collect();
    assert_eq!(decisions, [false, false, true, true, true]);
    // interval 3 after warmup 2: checks at steps 2, 5, 8, 11.
    let every3 = median(MedianOptions {
        n_warmup_steps: 2,
        interval_steps: 3,
        ..Default::default()
    });
    let checked: Vec<usize> = (1..=12)
        .filter(|&n| every3.should_prune(&bad(n), &others, Maximize, "s"))
        .collect();
    assert_eq!(checked, [2, 5, 8, 11]);
    // A check postponed by a missing report happens at the next report in the interval.
    let gap = Curve {
        number: 9,
        state: CurveState::Running,
        values: vec![(1, 0.1), (3, 0.1), (6, 0.1)],
    };
    assert!(every3.should_prune(&gap, &others, Maximize, "s"));
    let gap = Curve {
        number: 9,
        state: CurveState::Running,
        values: vec![(1, 0.1), (3, 0.1), (4, 0.1)],
    };
    assert!(!every3.should_prune(&gap, &others, Maximize, "s"));
}

#[test]
fn percentile_is_numpy_linear() {
    assert_eq!(nan_percentile(&[3.0, 1.0, 2.0], 50.0), 2.0);
    assert_eq!(nan_percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.5);
    assert_eq!(nan_percentile(&[1.0, f64::NAN, 4.0], 50.0), 2.5);
    assert_eq!(nan_percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 25.0), 2.0);
    assert_eq!(nan_percentile(&[1.0, 2.0], 100.0), 2.0);
    assert_eq!(nan_percentile(&[1.0, 2.0], 0.0), 1.0);
    assert!(nan_percentile(&[f64::NAN], 50.0).is_nan());
    assert!(nan_percentile(&[], 50.0).is_nan());
    // numpy interpolates from the nearer end: np.percentile([0.1, 0.7], 50) is
    // 0.39999999999999997 (0.7 - 0.6 * 0.5), not 0.4 (0.1 + 0.6 * 0.5).
    assert_eq!(nan_percentile(&[0.1, 0.7], 50.0), 0.39999999999999997);
    assert_eq!(
        nan_percentile(&[0.7, 0.1], 50.0).to_bits(),
        0.39999999999999997f64.to_bits()
    );
}

#[test]
fn halving_rungs_and_first_trials() {
    let o = HalvingOptions::default();
    assert_eq!(
        (0..4).map(|r| o.rung_step(r)).collect::<Vec<_>>(),
        [1, 4, 16, 64]
    );
    let o2 = HalvingOptions {
        min_resource: 2,
        reduction_factor: 3,
        min_early_stopping_rate: 1,
        ..o
    };
    assert_eq!(
        (0..3).map(|r| o2.rung_step(r)).collect::<Vec<_>>(),
        [6, 18, 54]
    );
    assert_eq!(o.rung_step(100), usize::MAX);
    // Rung values: the value at the rung step; NaN steps give none (the next step's does).
    let v: Vec<(usize, f64)> = (1..=5).map(|s| (s, s as f64)).collect();
    assert_eq!(rung_values(&o, &v), [1.0, 4.0]);
    let nan4 = vec![(1, 1.0), (2, 2.0), (3, 3.0), (4, f64::NAN), (5, 5.0)];
    assert_eq!(rung_values(&o, &nan4), [1.0, 5.0]);
    // Resumed from a checkpoint at epoch 6: its first step past rung 1 stands for it.
    assert_eq!(rung_values(&o, &[(6, 6.0)]), [6.0, 6.0]);

    let p = Pruner::SuccessiveHalving(o);
    let run = |number, values: &[f64]| curve(number, CurveState::Running, values);
    // Fewer than eta competitors: only the best is promoted (ties promote).
    let others = vec![curve(0, CurveState::Pruned, &[0.5])];
    assert!(p.should_prune(&run(1, &[0.4]), &others, Maximize, "s"));
    assert!(!p.should_prune(&run(1, &[0.5]), &others, Maximize, "s"));
    assert!(!p.should_prune(&run(1, &[0.4]), &others, Minimize, "s"));
    // Between rung steps nothing is decided.
    assert!(!p.should_prune(&run(1, &[0.9, 0.0]), &others, Maximize, "s"));
    // With 8 competitors, the top 8 / 4 = 2 are promoted.
    let others: Vec<Curve> = (0..7)
        .map(|n| curve(n, CurveState::Failed, &[n as f64]))
        .collect();
    assert!(!p.should_prune(&run(7, &[5.0]), &others, Maximize, "s"));
    assert!(p.should_prune(&run(7, &[4.5]), &others, Maximize, "s"));
    assert!(!p.should_prune(&run(7, &[1.0]), &others, Minimize, "s"));
    assert!(p.should_prune(&run(7, &[1.5]), &others, Minimize, "s"));
    // Rung 1 competitors are those that reached step 4, whatever their state.
    let mut others: Vec<Curve> = (0..3)
        .map(|n| curve(n, CurveState::Running, &[9.0, 9.0, 9.0, 0.1]))
        .collect();
    others.push(curve(3, CurveState::Pruned, &[0.0]));
    assert!(!p.should_prune(&run(4, &[9.0, 1.0, 1.0, 0.2]), &others, Maximize, "s"));
    assert!(p.should_prune(&run(4, &[9.0, 1.0, 1.0, 0.05]), &others, Maximize, "s"));
    // NaN at a rung step prunes, and NaN trials do not compete.
    assert!(p.should_prune(&run(4, &[f64::NAN]), &[], Maximize, "s"));
    let nan = vec![curve(0, CurveState::Pruned, &[f64::NAN])];
    assert!(!p.should_prune(&run(1, &[0.0]), &nan, Maximize, "s"));
}

#[test]
fn halving_bootstrap_count() {
    let p = Pruner::SuccessiveHalving(HalvingOptions {
        bootstrap_count: 2,
        reduction_factor: 2,
        ..Default::default()
    });
    let run = |number, values: &[f64]| curve(number, CurveState::Running, values);
    // The current trial counts: with one other, 2 <= 2 reached rung 0, so it is pruned
    // however good it is; with two others it is judged.
    let one = vec![curve(0, CurveState::Running, &[0.1])];
    assert!(p.should_prune(&run(1, &[0.9]), &one, Maximize, "s"));
    let two = vec![
        curve(0, CurveState::Running, &[0.1]),
        curve(1, CurveState::Running, &[0.2]),
    ];
    assert!(!p.should_prune(&run(2, &[0.9]), &two, Maximize, "s"));
    assert!(p.should_prune(&run(2, &[0.15]), &two, Maximize, "s"));
    // At rung 1 (step 2) the bootstrap applies again.
    assert!(p.should_prune(&run(2, &[0.9, 0.9]), &two, Maximize, "s"));
}

#[test]
fn a_margin_spares_the_trials_within_it_of_the_cut_and_no_others() {
    let run = |number, values: &[f64]| curve(number, CurveState::Running, values);
    // Eight trials at rung 0 (the current one included): the top two go on, so when
    // maximizing the cut is the second best, 5.0, and the margin lies below it.
    let others: Vec<Curve> = (0..7)
        .map(|n| curve(n, CurveState::Failed, &[n as f64]))
        .collect();
    let asha = |margin| {
        Pruner::SuccessiveHalving(HalvingOptions {
            margin,
            ..Default::default()
        })
    };
    assert!(asha(0.0).should_prune(&run(7, &[4.5]), &others, Maximize, "s"));
    assert!(!asha(0.5).should_prune(&run(7, &[4.5]), &others, Maximize, "s"));
    assert!(asha(0.4).should_prune(&run(7, &[4.5]), &others, Maximize, "s"));
    // A value above the cut goes on whatever the margin.
    assert!(!asha(0.0).should_prune(&run(7, &[5.5]), &others, Maximize, "s"));
    // Minimizing, the cut is the second lowest, 1.0, and the margin lies above it.
    assert!(asha(0.0).should_prune(&run(7, &[1.5]), &others, Minimize, "s"));
    assert!(!asha(0.5).should_prune(&run(7, &[1.5]), &others, Minimize, "s"));
    assert!(asha(0.4).should_prune(&run(7, &[1.5]), &others, Minimize, "s"));
    // With fewer than eta competitors the cut is the best: within the margin of it passes.
    let one = vec![curve(0, CurveState::Pruned, &[0.5])];
    assert!(asha(0.0).should_prune(&run(1, &[0.48]), &one, Maximize, "s"));
    assert!(!asha(0.03).should_prune(&run(1, &[0.48]), &one, Maximize, "s"));
    // NaN still prunes whatever the margin.
    assert!(asha(1.0).should_prune(&run(1, &[f64::NAN]), &one, Maximize, "s"));

    // Hyperband passes its margin to every bracket (one bracket: max_resource 1).
    let hb = |margin| {
        Pruner::Hyperband(HyperbandOptions {
            max_resource: Some(1),
            reduction_factor: 4,
            margin,
            ..Default::default()
        })
    };
    assert!(hb(0.0).should_prune(&run(7, &[4.5]), &others, Maximize, "s"));
    assert!(!hb(0.5).should_prune(&run(7, &[4.5]), &others, Maximize, "s"));

    // The median pruner: the median of the complete trials at step 1 is 0.5.
    let done: Vec<Curve> = [0.4, 0.5, 0.6]
        .iter()
        .enumerate()
        .map(|(n, &v)| curve(n, CurveState::Complete, &[v]))
        .collect();
    let med = |margin| {
        median(MedianOptions {
            n_startup_trials: 1,
            margin,
            ..Default::default()
        })
    };
    assert!(med(0.0).should_prune(&run(3, &[0.45]), &done, Maximize, "s"));
    assert!(!med(0.1).should_prune(&run(3, &[0.45]), &done, Maximize, "s"));
    assert!(med(0.01).should_prune(&run(3, &[0.45]), &done, Maximize, "s"));
    assert!(!med(0.1).should_prune(&run(3, &[0.55]), &done, Minimize, "s"));
    assert!(med(0.0).should_prune(&run(3, &[0.55]), &done, Minimize, "s"));
}

#[test]
fn hyperband_brackets_and_budgets() {
    let o = HyperbandOptions {
        max_resource: Some(27),
        ..Default::default()
    };
    assert_eq!(o.n_brackets(), 4);
    assert_eq!(o.trial_allocation_budgets(), [27, 12, 6, 4]);
    // Optuna's floating point: log_3(243) = 4.999..., so 5 brackets, not 6.
    assert_eq!(
        HyperbandOptions {
            max_resource: Some(243),
            ..o
        }
        .n_brackets(),
        5
    );
    assert_eq!(
        HyperbandOptions {
            max_resource: Some(1),
            ..o
        }
        .n_brackets(),
        1
    );
    assert_eq!(
        HyperbandOptions {
            max_resource: None,
            ..o
        }
        .n_brackets(),
        0
    );
    assert_eq!(
        HyperbandOptions {
            min_resource: 2,
            max_resource: Some(30),
            reduction_factor: 2,
            ..o
        }
        .n_brackets(),
        4
    );
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    // crc32(b"s_0") % 49, walked through [27, 12, 6, 4].
    let expected = |n: usize| {
        let mut r = crc32(format!("s_{n}").as_bytes()) as i64 % 49;
        [27, 12, 6, 4]
            .iter()
            .position(|b| {
                r -= b;
                r < 0
            })
            .unwrap()
    };
    for n in 0..50 {
        assert_eq!(hyperband_bracket(&o, "s", n), expected(n));
    }
    assert_eq!(hyperband_bracket(&HyperbandOptions::default(), "s", 7), 0);
    // Auto settles on the complete trials' last step + 1.
    let trials = complete(&[0.5; 20], 2);
    assert_eq!(
        HyperbandOptions::default()
            .resolve(&trials)
            .unwrap()
            .max_resource,
        Some(21)
    );
    assert!(HyperbandOptions::default()
        .resolve(&[curve(0, CurveState::Running, &[0.5])])
        .is_none());
    // A bracket's first rung is min_resource * eta^bracket, and only its trials compete.
    assert_eq!(o.bracket_options(2).rung_step(0), 9);
    let p = Pruner::Hyperband(o);
    let in_bracket = |b: usize| (0..).find(|&n| hyperband_bracket(&o, "s", n) == b).unwrap();
    let (n0, n1) = (in_bracket(0), in_bracket(1));
    let rival = vec![curve(n1, CurveState::Running, &[0.9])];
    assert!(!p.should_prune(
        &curve(n0, CurveState::Running, &[0.1]),
        &rival,
        Maximize,
        "s"
    ));
    let other0 = (n0 + 1..)
        .find(|&n| hyperband_bracket(&o, "s", n) == 0)
        .unwrap();
    let rival = vec![curve(other0, CurveState::Running, &[0.9])];
    assert!(p.should_prune(
        &curve(n0, CurveState::Running, &[0.1]),
        &rival,
        Maximize,
        "s"
    ));
    // A bracket-1 trial is not judged before step 3.
    let rival = vec![curve(n0, CurveState::Running, &[0.9, 0.9, 0.9])];
    assert!(!p.should_prune(
        &curve(n1, CurveState::Running, &[0.1, 0.1]),
        &rival,
        Maximize,
        "s"
    ));
}

#[test]
fn validation() {
    for margin in [-0.1, f64::NAN, f64::INFINITY] {
        assert!(MedianOptions {
            margin,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(HalvingOptions {
            margin,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(HyperbandOptions {
            margin,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
    assert!(MedianOptions {
        interval_steps: 0,
        ..Default::default()
    }
    .validate()
    .is_err());
    assert!(MedianOptions {
        n_min_trials: 0,
        ..Default::default()
    }
    .validate()
    .is_err());
    assert!(HalvingOptions {
        min_resource: 0,
        ..Default::default()
    }
    .validate()
    .is_err());
    for rf in [0, 1] {
        let e = HalvingOptions {
            reduction_factor: rf,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.contains("reduction_factor"), "{e}");
        assert!(HyperbandOptions {
            reduction_factor: rf,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
    let hb = HyperbandOptions {
        max_resource: Some(10),
        ..Default::default()
    };
    hb.validate().unwrap();
    assert!(HyperbandOptions {
        min_resource: 0,
        ..hb
    }
    .validate()
    .is_err());
    assert!(HyperbandOptions {
        min_resource: 11,
        ..hb
    }
    .validate()
    .is_err());
    assert!(HyperbandOptions {
        max_resource: Some(0),
        ..hb
    }
    .validate()
    .is_err());
    assert!(HyperbandOptions {
        bootstrap_count: 1,
        ..hb
    }
    .validate()
    .is_ok());
    assert!(HyperbandOptions {
        bootstrap_count: 1,
        max_resource: None,
        ..hb
    }
    .validate()
    .is_err());
    assert_eq!(reduction_factor_from_f64(3.0), Ok(3));
    for bad in [1.0, 0.0, -2.0, 2.5, f64::NAN, f64::INFINITY] {
        assert!(reduction_factor_from_f64(bad).is_err(), "{bad}");
    }
    // Invalid options never loop or panic, they just never prune.
    let p = Pruner::SuccessiveHalving(HalvingOptions {
        reduction_factor: 1,
        ..Default::default()
    });
    assert!(!p.should_prune(
        &curve(0, CurveState::Running, &[f64::NAN]),
        &[],
        Maximize,
        "s"
    ));
}

#[test]
fn options_deserialize_with_defaults() {
    let p: Pruner =
        serde_json::from_str(r#"{"kind":"successive_halving","options":{"reduction_factor":3}}"#)
            .unwrap();
    assert_eq!(
        p,
        Pruner::SuccessiveHalving(HalvingOptions {
            reduction_factor: 3,
            ..Default::default()
        })
    );
    let p: Pruner =
        serde_json::from_str(r#"{"kind":"hyperband","options":{"max_resource":30}}"#).unwrap();
    assert_eq!(
        p,
        Pruner::Hyperband(HyperbandOptions {
            max_resource: Some(30),
            ..Default::default()
        })
    );
    assert!(serde_json::from_str::<Pruner>(r#"{"kind":"median","options":{"warmup":3}}"#).is_err());
}
