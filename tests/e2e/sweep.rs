//! The sweep engine on a small real-data sweep: plan, kill and resume, concurrent
//! processes, result formats and the `config_summary` view, changed specs, trial reuse.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{
    self, check_complete, db_bytes, epoch_count, heavy, open_ro, real_data, s, small_sweep,
    sweep_configs, sweep_metrics, sweep_trials, tempdir, wait_until, Proc, SMALL_CONFIGS,
    SMALL_SEEDS,
};

const EPOCHS: u32 = 3;
const SUBSET: u32 = 1000;

/// Lines a sweep prints per trial it finished: `[k/n] config HASH seed S: ...`.
fn trial_lines(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.starts_with('[') && l.contains("] config ") && l.contains(" seed "))
        .count()
}

#[test]
fn plan_prints_configurations_and_trial_count_and_creates_no_database() {
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep("e2e-plan", EPOCHS, SUBSET)).unwrap();
    let env_db = dir.path().join("env.sqlite");
    let out = common::run_env(
        dir.path(),
        &["sweep", "plan", s(&spec)],
        &[("FCNSWEEP_DB", s(&env_db))],
    )
    .ok()
    .stdout_has(&[
        "sweep e2e-plan on fashion-mnist",
        "3 configurations x 2 seeds = 6 trials",
        "search[1].list",
    ]);
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()) && !l.contains("configurations"))
        .collect();
    assert_eq!(rows.len(), 3, "one row per configuration:\n{out}");
    assert!(
        rows[0].contains('*') && rows[0].contains("0.1"),
        "baseline first:\n{out}"
    );
    assert!(rows[1].contains("0.05"), "{out}");
    assert!(
        rows[2].contains("adam") && rows[2].contains("0.001"),
        "{out}"
    );
    assert_eq!(
        common::list_files(dir.path()),
        ["spec.yaml"],
        "plan must not create a database"
    );
}

#[test]
fn killed_sweep_resumes_to_every_trial_done_once() {
    let Some(real) = real_data("killed_sweep_resumes") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep("e2e-kill", EPOCHS, SUBSET)).unwrap();
    let db = dir.path().join("r.sqlite");
    let run = common::sweep_run(&spec, &db, "1", &real);
    let resume = [
        "sweep",
        "resume",
        "e2e-kill",
        "--db",
        s(&db),
        "-j",
        "1",
        "--data-dir",
        s(&real),
    ];

    // 1. Kill the first run as soon as it has stored an epoch.
    let p = Proc::spawn(dir.path(), &run, dir.path(), "run1");
    assert!(
        wait_until(Duration::from_secs(120), || epoch_count(&db).unwrap_or(0)
            >= 1),
        "no epoch stored within 120 s"
    );
    let (hit, out) = p.kill();
    assert!(hit, "the run ended before the kill:\n{out}");
    let done_before = common::status_count(&db, "done").unwrap();
    assert!(done_before < (SMALL_CONFIGS * SMALL_SEEDS) as i64);

    // 2. Kill a resume once it has finished one more trial.
    let p = Proc::spawn(dir.path(), &resume, dir.path(), "resume1");
    assert!(wait_until(Duration::from_secs(120), || {
        common::status_count(&db, "done").unwrap_or(0) > done_before
    }));
    let (_, out) = p.kill();
    assert!(out.code != Some(1), "resume failed:\n{out}");

    // 3. Rerunning the file finishes the sweep; a resume afterwards has nothing to do.
    common::run(dir.path(), &run).ok().stderr_has(&[
        "sweep 'e2e-kill': continuing",
        "6 done, 0 diverged, 0 pruned, 0 failed",
    ]);
    let before = sweep_trials(&db, "e2e-kill");
    let out = common::run(dir.path(), &resume).ok();
    assert_eq!(
        trial_lines(&out.stderr),
        0,
        "a complete sweep trains nothing:\n{out}"
    );
    assert_eq!(sweep_trials(&db, "e2e-kill"), before);

    let problems = check_complete(&db, "e2e-kill", SMALL_CONFIGS, SMALL_SEEDS, EPOCHS as i64);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn concurrent_processes_run_each_trial_once() {
    let Some(real) = real_data("concurrent_processes") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep("e2e-two", EPOCHS, SUBSET)).unwrap();
    let db = dir.path().join("c.sqlite");
    let run = common::sweep_run(&spec, &db, "1", &real);
    let procs: Vec<Proc> = (0..2)
        .map(|i| Proc::spawn(dir.path(), &run, dir.path(), &format!("p{i}")))
        .collect();
    let outs: Vec<_> = procs
        .into_iter()
        .map(|p| p.wait_timeout(Duration::from_secs(180)).ok())
        .collect();
    let trained: usize = outs.iter().map(|o| trial_lines(&o.stderr)).sum();
    assert_eq!(
        trained,
        SMALL_CONFIGS * SMALL_SEEDS,
        "trials trained across processes"
    );
    let all = common::all_trials(&db);
    assert_eq!(all.len(), SMALL_CONFIGS * SMALL_SEEDS, "{all:#?}");
    for t in &all {
        assert_eq!(
            (t.status.as_str(), t.attempts, t.superseded),
            ("done", 1, 0),
            "{t:?}"
        );
    }
    let problems = check_complete(&db, "e2e-two", SMALL_CONFIGS, SMALL_SEEDS, EPOCHS as i64);
    assert!(problems.is_empty(), "{problems:#?}");
}

fn mean_sd(xs: &[f64]) -> (f64, Option<f64>) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let sd = (xs.len() > 1)
        .then(|| (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (mean, sd)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn results_formats_and_config_summary_match_the_trials() {
    let Some(real) = real_data("results_formats") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep("e2e-res", EPOCHS, SUBSET)).unwrap();
    let db = dir.path().join("res.sqlite");
    common::run(dir.path(), &common::sweep_run(&spec, &db, "2", &real)).ok();
    let hashes = sweep_configs(&db, "e2e-res");
    assert_eq!(hashes.len(), SMALL_CONFIGS);
    let show = |format: &str| {
        common::run(
            dir.path(),
            &[
                "results",
                "show",
                "e2e-res",
                "--db",
                s(&db),
                "--format",
                format,
            ],
        )
        .ok()
        .stdout
    };

    // Expected per-configuration statistics, from the trials table.
    let mut by_config: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for t in sweep_trials(&db, "e2e-res") {
        let e = by_config.entry(t.config_hash.clone()).or_default();
        e.0.push(t.test_acc.expect("test_acc"));
        e.1.push(t.final_val_acc.expect("final_val_acc"));
    }

    let csv = show("csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("CSV header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("CSV lacks column {name}: {header:?}"))
    };
    let (hash_col, n_col, mean_col) = (col("config_hash"), col("n"), col("test_acc_mean"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), SMALL_CONFIGS, "{csv}");
    for r in &rows {
        assert_eq!(r.len(), header.len(), "ragged CSV row {r:?}");
        let (tests, _) = &by_config[r[hash_col]];
        assert_eq!(r[n_col], "2", "{csv}");
        let mean: f64 = r[mean_col].parse().expect("a number");
        assert!(close(mean, mean_sd(tests).0), "{csv}");
    }

    let json: Value = serde_json::from_str(&show("json")).expect("JSON output parses");
    let rows = json.as_array().expect("a JSON array");
    assert_eq!(rows.len(), SMALL_CONFIGS, "{json}");
    let mut seen = BTreeSet::new();
    for r in rows {
        let hash = r["config_hash"].as_str().expect("config_hash");
        seen.insert(hash.to_string());
        let (tests, vals) = &by_config[hash];
        let (tm, tsd) = mean_sd(tests);
        let (vm, vsd) = mean_sd(vals);
        assert_eq!(r["n"], 2, "{r}");
        assert!(close(r["test_acc_mean"].as_f64().unwrap(), tm), "{r}");
        assert!(
            close(r["test_acc_sd"].as_f64().unwrap(), tsd.unwrap()),
            "{r}"
        );
        assert!(close(r["val_acc_mean"].as_f64().unwrap(), vm), "{r}");
        assert!(
            close(r["val_acc_sd"].as_f64().unwrap(), vsd.unwrap()),
            "{r}"
        );
    }
    assert_eq!(seen, hashes.iter().cloned().collect::<BTreeSet<_>>());

    let md = show("markdown");
    let md_lines: Vec<&str> = md.lines().collect();
    assert!(md_lines.len() >= 2 + SMALL_CONFIGS, "{md}");
    assert!(md_lines[0].starts_with("| config |"), "{md}");
    assert!(md_lines[1].starts_with("|---|"), "{md}");
    for h in &hashes {
        assert_eq!(
            md_lines.iter().filter(|l| l.contains(&h[..10])).count(),
            1,
            "{md}"
        );
    }
    let table = show("table");
    for h in &hashes {
        assert!(table.contains(&h[..10]), "{table}");
    }
    assert!(table.contains("* baseline"), "{table}");

    // The other results views.
    let trials = common::run(
        dir.path(),
        &[
            "results",
            "trials",
            "e2e-res",
            "--db",
            s(&db),
            "--format",
            "json",
        ],
    )
    .ok();
    let trials: Value = serde_json::from_str(&trials.stdout).expect("trials JSON");
    assert_eq!(
        trials.as_array().map(Vec::len),
        Some(SMALL_CONFIGS * SMALL_SEEDS)
    );
    let epochs = common::run(
        dir.path(),
        &[
            "results",
            "epochs",
            "e2e-res",
            "--db",
            s(&db),
            "--config",
            &hashes[0][..8],
            "--format",
            "csv",
        ],
    )
    .ok();
    assert_eq!(
        epochs.stdout.lines().count(),
        1 + EPOCHS as usize,
        "{epochs}"
    );
    let best = common::run(dir.path(), &["results", "best", "e2e-res", "--db", s(&db)]).ok();
    assert!(best.stdout.contains("config_hash"), "{best}");

    // Another framework's runs of the same configurations: imported, then compared.
    let jsonl = dir.path().join("torch.jsonl");
    let theirs = |i: usize, seed: usize| 0.5 + 0.01 * i as f64 + 0.003 * seed as f64;
    let mut lines = String::new();
    for (i, h) in hashes.iter().enumerate() {
        for seed in 0..3 {
            lines.push_str(&format!(
                "{{\"config_hash\":\"{h}\",\"seed\":{seed},\"test_acc\":{},\"framework\":\"torch test\"}}\n",
                theirs(i, seed)
            ));
        }
    }
    let foreign = format!(
        "{lines}{{\"config_hash\":\"{}\",\"seed\":0,\"test_acc\":0.5}}\n",
        "ab".repeat(32)
    );
    fs::write(&jsonl, &foreign).unwrap();
    let import = [
        "results",
        "import",
        s(&jsonl),
        "--as",
        "torch",
        "--db",
        s(&db),
    ];
    common::run(dir.path(), &import)
        .code(1)
        .stderr_has(&["configuration abababab", "is not in this database"]);
    let compare = [
        "results",
        "compare",
        "e2e-res",
        "--with",
        "torch",
        "--db",
        s(&db),
        "--format",
        "json",
    ];
    // The refused import wrote nothing.
    common::run(dir.path(), &compare)
        .code(1)
        .stderr_has(&["no imported runs named 'torch'"]);
    fs::write(&jsonl, &lines).unwrap();
    for _ in 0..2 {
        // Importing twice replaces the runs rather than adding them.
        common::run(dir.path(), &import).ok().stdout_has(&[&format!(
            "imported {} runs of {SMALL_CONFIGS} configurations as 'torch'",
            3 * SMALL_CONFIGS
        )]);
    }
    let out = common::run(dir.path(), &compare).ok();
    let rows: Value = serde_json::from_str(&out.stdout).expect("compare JSON");
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), SMALL_CONFIGS, "{out}");
    for r in rows {
        let hash = r["config_hash"].as_str().unwrap();
        let i = hashes.iter().position(|h| h == hash).unwrap();
        let ours = mean_sd(&by_config[hash].0).0;
        let other = mean_sd(&(0..3).map(|s| theirs(i, s)).collect::<Vec<_>>()).0;
        assert_eq!(
            (r["n"].as_u64(), r["other_n"].as_u64()),
            (Some(2), Some(3)),
            "{r}"
        );
        assert!(
            close(r["other_test_acc_mean"].as_f64().unwrap(), other),
            "{r}"
        );
        assert!(close(r["diff"].as_f64().unwrap(), ours - other), "{r}");
        let p = r["p_welch"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0, "{r}");
    }
    // The same query as a table: without `--format json`.
    let table = common::run(dir.path(), &compare[..compare.len() - 2]).ok();
    assert!(
        table.stdout.contains("p_welch") && table.stdout.contains("torch"),
        "{table}"
    );

    // The config_summary view agrees with the statistics computed here (sample SD). Checked
    // last: the view needs SQLite's sqrt(), which not every SQLite build has.
    let conn = open_ro(&db).unwrap();
    let means: Vec<(String, i64, f64, f64)> = conn
        .prepare(
            "SELECT config_hash, n, test_acc_mean, val_acc_mean FROM config_summary
             WHERE sweep = 'e2e-res'",
        )
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .unwrap_or_else(|e| panic!("config_summary (n, means) cannot be queried: {e}"));
    assert_eq!(means.len(), SMALL_CONFIGS);
    for (hash, n, tm, vm) in means {
        let (tests, vals) = &by_config[&hash];
        assert_eq!(n, tests.len() as i64, "{hash}");
        assert!(close(tm, mean_sd(tests).0), "{hash}: test mean {tm}");
        assert!(close(vm, mean_sd(vals).0), "{hash}: val mean {vm}");
    }
    let sds: Vec<(String, f64, f64)> = conn
        .prepare("SELECT config_hash, test_acc_sd, val_acc_sd FROM config_summary WHERE sweep = 'e2e-res'")
        .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .unwrap_or_else(|e| {
            panic!("config_summary's standard deviations cannot be queried through the bundled SQLite: {e}")
        });
    for (hash, tsd, vsd) in sds {
        let (tests, vals) = &by_config[&hash];
        assert!(
            close(tsd, mean_sd(tests).1.unwrap()),
            "{hash}: test sd {tsd}"
        );
        assert!(close(vsd, mean_sd(vals).1.unwrap()), "{hash}: val sd {vsd}");
    }
}

#[test]
fn changed_spec_needs_extend_and_done_trials_are_reused_unless_no_reuse() {
    let Some(real) = real_data("changed_spec") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let db = dir.path().join("reuse.sqlite");
    let write = |file: &str, text: String| {
        let p = dir.path().join(file);
        fs::write(&p, text).unwrap();
        p
    };
    let run = |spec: &Path, extra: &[&str]| {
        let mut args = common::sweep_run(spec, &db, "2", &real).to_vec();
        args.extend_from_slice(extra);
        common::run(dir.path(), &args)
    };
    let a = write("a.yaml", small_sweep("e2e-a", EPOCHS, SUBSET));
    run(&a, &[]).ok();
    let first = sweep_trials(&db, "e2e-a");

    // Same name, one more grid point: refused without --extend, the database untouched.
    let a2 = write(
        "a2.yaml",
        small_sweep("e2e-a", EPOCHS, SUBSET).replace("lr: [0.1, 0.05]", "lr: [0.1, 0.05, 0.02]"),
    );
    let before = db_bytes(&db);
    run(&a2, &[]).code(1).stderr_has(&[
        "with a different spec",
        "1 configurations added",
        "--extend",
    ]);
    assert!(
        before == db_bytes(&db),
        "a refused spec change modified the database"
    );

    let out = run(&a2, &["--extend"])
        .ok()
        .stderr_has(&["extended by 1 configurations and 0 seeds"]);
    assert_eq!(
        trial_lines(&out.stderr),
        SMALL_SEEDS,
        "only the new configuration trains:\n{out}"
    );
    let problems = check_complete(&db, "e2e-a", SMALL_CONFIGS + 1, SMALL_SEEDS, EPOCHS as i64);
    assert!(problems.is_empty(), "{problems:#?}");
    let extended = sweep_trials(&db, "e2e-a");
    for t in &first {
        assert!(extended.contains(t), "trial {t:?} changed by --extend");
    }

    // Another sweep sharing the base configuration reuses its done trials.
    let b = write(
        "b.yaml",
        small_sweep("e2e-b", EPOCHS, SUBSET)
            .replace("lr: [0.1, 0.05]", "lr: [0.1, 0.2]")
            .replace("  - list:\n      - {optimizer: adam, lr: 0.001}\n", ""),
    );
    let out = run(&b, &[])
        .ok()
        .stderr_has(&["2 configurations x 2 seeds = 4 trials"]);
    assert_eq!(
        trial_lines(&out.stderr),
        SMALL_SEEDS,
        "the shared configuration was retrained:\n{out}"
    );
    let base = &first[0].config_hash;
    let b_trials = sweep_trials(&db, "e2e-b");
    for t in first.iter().filter(|t| &t.config_hash == base) {
        assert!(b_trials.contains(t), "shared trial {t:?} not reused as is");
    }
    let problems = check_complete(&db, "e2e-b", 2, SMALL_SEEDS, EPOCHS as i64);
    assert!(problems.is_empty(), "{problems:#?}");

    // --no-reuse retrains all of them; training is deterministic, so the metrics repeat.
    let reused = sweep_metrics(&db, "e2e-b");
    let out = run(&b, &["--no-reuse"]).ok();
    assert_eq!(
        trial_lines(&out.stderr),
        2 * SMALL_SEEDS,
        "--no-reuse retrains every trial:\n{out}"
    );
    let retrained = sweep_trials(&db, "e2e-b");
    for t in &retrained {
        assert!(
            b_trials.iter().all(|old| old.id != t.id),
            "trial {t:?} not retrained"
        );
        assert_eq!((t.status.as_str(), t.attempts), ("done", 1), "{t:?}");
    }
    let superseded = common::all_trials(&db)
        .into_iter()
        .filter(|t| t.superseded == 1)
        .count();
    assert_eq!(
        superseded,
        2 * SMALL_SEEDS,
        "the old trials are kept as superseded"
    );
    assert_eq!(
        sweep_metrics(&db, "e2e-b"),
        reused,
        "retrained metrics differ"
    );
    for sweep in ["e2e-a", "e2e-b"] {
        let configs = if sweep == "e2e-a" {
            SMALL_CONFIGS + 1
        } else {
            2
        };
        let problems = check_complete(&db, sweep, configs, SMALL_SEEDS, EPOCHS as i64);
        assert!(problems.is_empty(), "{sweep}: {problems:#?}");
    }
}
