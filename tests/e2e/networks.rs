//! Trained networks out of a sweep: `--keep-weights`, `export`, `evaluate` (with its
//! confusion-matrix figure), `predict`, and `train --save`, on the real test set.

use std::fs;

use crate::common::{self, heavy, real_data, s, small_sweep, sweep_run, tempdir};

fn kept_files(dir: &std::path::Path) -> usize {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".safetensors"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn kept_networks_export_evaluate_and_predict_as_the_sweep_measured() {
    const NAME: &str = "e2e-nets";
    let Some(real) = real_data("networks") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep(NAME, 2, 2000)).unwrap();
    let db = dir.path().join("nets.sqlite");
    let mut run: Vec<&str> = sweep_run(&spec, &db, "2", &real).to_vec();
    run.extend(["--keep-weights", "all"]);
    common::run(dir.path(), &run).ok();
    let weights = dir.path().join("weights").join("nets");
    assert_eq!(kept_files(&weights), 6, "3 configurations x 2 seeds");

    let best = dir.path().join("best.safetensors");
    let out = common::run(
        dir.path(),
        &["export", NAME, "--db", s(&db), "--out", s(&best)],
    )
    .ok();
    assert!(out.stdout.contains("exported configuration"), "{out}");
    // The exported trial's test accuracy as the sweep stored it.
    let trials = common::sweep_trials(&db, NAME);
    let exported: f64 = out
        .stdout
        .split("test accuracy ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    let chart = dir.path().join("confusion.png");
    let eval = common::run(
        dir.path(),
        &[
            "evaluate",
            s(&best),
            "--dataset",
            "fashion-mnist",
            "--json",
            "--plot",
            s(&chart),
            "--data-dir",
            s(&real),
        ],
    )
    .ok();
    let e: serde_json::Value = serde_json::from_str(&eval.stdout).unwrap();
    let acc = e["accuracy"].as_f64().unwrap();
    assert!(
        trials.iter().any(|t| t.test_acc == Some(acc)),
        "evaluate's accuracy {acc} is no trial's test accuracy: {trials:?}"
    );
    assert!(
        (acc - exported).abs() < 5e-5,
        "{acc} vs exported {exported}"
    );
    assert_eq!(e["n"], 10_000);
    let confusion = e["confusion"].as_array().unwrap();
    let diagonal: u64 = (0..10).map(|i| confusion[i][i].as_u64().unwrap()).sum();
    assert_eq!(diagonal as f64 / 10_000.0, acc);
    assert!(
        fs::metadata(&chart).unwrap().len() > 10_000,
        "a confusion-matrix PNG"
    );

    // predict: one row per test image; its classes score the evaluated accuracy.
    let images = real.join("fashion-mnist").join("t10k-images-idx3-ubyte.gz");
    let csv = dir.path().join("p.csv");
    common::run(
        dir.path(),
        &[
            "predict",
            s(&best),
            "--images",
            s(&images),
            "--out",
            s(&csv),
        ],
    )
    .ok();
    let labels = fcnsweep_data::idx::read_labels(
        &real.join("fashion-mnist").join("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let text = fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("index,class,probability"));
    let mut correct = 0;
    let mut n = 0;
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], i.to_string());
        let p: f64 = f[2].parse().unwrap();
        assert!((0.1..=1.0).contains(&p), "{line}");
        correct += usize::from(f[1].parse::<u8>().unwrap() == labels.labels[i]);
        n += 1;
    }
    assert_eq!(n, 10_000);
    assert_eq!(correct as f64 / n as f64, acc);

    // train --save: the saved network evaluates to the run's own test accuracy.
    let saved = dir.path().join("train.safetensors");
    let train = common::run(
        dir.path(),
        &[
            "train",
            "--hidden",
            "16",
            "--epochs",
            "1",
            "--train-subset",
            "2000",
            "--dropout",
            "0.2",
            "--norm",
            "batch",
            "--json",
            "--save",
            s(&saved),
            "--data-dir",
            s(&real),
        ],
    )
    .ok();
    let last: serde_json::Value =
        serde_json::from_str(train.stdout.lines().last().unwrap()).unwrap();
    let eval = common::run(
        dir.path(),
        &[
            "evaluate",
            s(&saved),
            "--dataset",
            "fashion-mnist",
            "--json",
            "--data-dir",
            s(&real),
        ],
    )
    .ok();
    let e: serde_json::Value = serde_json::from_str(&eval.stdout).unwrap();
    assert_eq!(e["accuracy"], last["test_acc"]);
}

#[test]
fn keep_weights_best_prunes_to_the_best_configurations_and_export_says_what_is_missing() {
    const NAME: &str = "e2e-best";
    let Some(real) = real_data("keep_best") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    // 5 configurations, 1 seed each.
    let text = small_sweep(NAME, 1, 1000)
        .replace("seeds: 2", "seeds: 1")
        .replace("lr: [0.1, 0.05]", "lr: [0.1, 0.05, 0.02, 0.01]");
    fs::write(&spec, text).unwrap();
    let db = dir.path().join("best.sqlite");
    common::run(dir.path(), &sweep_run(&spec, &db, "2", &real)).ok();
    let weights = dir.path().join("weights").join("best");
    assert_eq!(
        kept_files(&weights),
        3,
        "the default keeps the 3 best configurations"
    );
    // A pruned one cannot be exported, and the message says how to get it.
    let configs = common::sweep_configs(&db, NAME);
    let missing = configs
        .iter()
        .find(|h| {
            let id = common::sweep_trials(&db, NAME)
                .into_iter()
                .find(|t| &&t.config_hash == h)
                .unwrap()
                .id;
            !weights.join(format!("trial-{id}.safetensors")).exists()
        })
        .unwrap();
    common::run(
        dir.path(),
        &[
            "export",
            NAME,
            "--db",
            s(&db),
            "--config",
            &missing[..10],
            "--out",
            s(&dir.path().join("x.safetensors")),
        ],
    )
    .code(1)
    .stderr_has(&["was not kept", "--keep-weights all", "--save FILE"]);
    assert!(!dir.path().join("x.safetensors").exists());
    // Corrupt input files are refused with their name.
    let bad = dir.path().join("bad.safetensors");
    fs::write(&bad, b"not a network").unwrap();
    common::run(
        dir.path(),
        &[
            "evaluate",
            s(&bad),
            "--dataset",
            "fashion-mnist",
            "--data-dir",
            s(&real),
        ],
    )
    .code(1)
    .stderr_has(&[s(&bad)]);
}

#[test]
fn db_gc_removes_only_the_files_no_trial_needs() {
    const NAME: &str = "e2e-gc";
    let Some(real) = real_data("db_gc") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep(NAME, 1, 500)).unwrap();
    let db = dir.path().join("gc.sqlite");
    let mut run: Vec<&str> = sweep_run(&spec, &db, "2", &real).to_vec();
    run.extend(["--keep-weights", "all"]);
    common::run(dir.path(), &run).ok();
    let weights = dir.path().join("weights").join("gc");
    let checkpoints = dir.path().join("checkpoints").join("gc");
    fs::create_dir_all(&checkpoints).unwrap();
    let done = common::sweep_trials(&db, NAME)[0].id;
    let orphans = [
        checkpoints.join(format!("trial-{done}-e0001.safetensors")),
        checkpoints.join("trial-999-e0001.safetensors.tmp"),
        weights.join("trial-999.safetensors"),
    ];
    for o in &orphans {
        fs::write(o, b"x").unwrap();
    }
    let dry = common::run(dir.path(), &["db", "gc", "--db", s(&db), "--dry-run"]).ok();
    assert!(
        dry.stdout
            .contains("would remove 2 checkpoint and 1 network files"),
        "{dry}"
    );
    assert!(orphans.iter().all(|o| o.exists()));
    let gc = common::run(dir.path(), &["db", "gc", "--db", s(&db)]).ok();
    assert!(
        gc.stdout
            .contains("removed 2 checkpoint and 1 network files"),
        "{gc}"
    );
    assert!(orphans.iter().all(|o| !o.exists()));
    assert_eq!(kept_files(&weights), 6, "the done trials' networks stay");
}
