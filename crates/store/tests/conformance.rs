//! One conformance suite for every store backend: each check below runs unchanged against
//! SQLite (a fresh file) and PostgreSQL (a fresh schema on the server `FCNSWEEP_TEST_PG`
//! names; `.ci/run` starts one). Without that variable the PostgreSQL half prints a line and
//! passes, except under `CI`, where it fails: CI must exercise both backends.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fcnsweep_data::DatasetName;
use fcnsweep_model::axes::default_run;
use fcnsweep_model::{EpochMetrics, RunResult};
use fcnsweep_store::copy::copy;
use fcnsweep_store::{
    BaselineRecord, CheckpointRef, ClaimOptions, ExternalTrial, Location, PlannedConfig,
    PostgresStore, ProposalOutcome, ProposalRequest, RegisterOptions, Registered, SqliteStore,
    Store, StoreError, SweepPlan, TrialOutcome, TrialStatus, Worker, SCHEMA_VERSION,
};

/// Where fresh databases of one backend are made.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

static FRESH: AtomicUsize = AtomicUsize::new(0);

impl Backend {
    fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    /// The test server, if there is one; under `CI` its absence is a failure.
    fn postgres() -> Option<Self> {
        match std::env::var("FCNSWEEP_TEST_PG") {
            Ok(url) if !url.is_empty() => Some(Self::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI is set but FCNSWEEP_TEST_PG is not: .ci/run must start PostgreSQL")
            }
            _ => {
                eprintln!("skipped: FCNSWEEP_TEST_PG is not set (no PostgreSQL to test)");
                None
            }
        }
    }

    /// A new, empty database.
    fn fresh(&self) -> Location {
        let n = FRESH.fetch_add(1, Ordering::Relaxed);
        match self {
            Self::Sqlite(dir) => Location::Sqlite(dir.path().join(format!("db{n}.sqlite"))),
            Self::Postgres(url) => {
                let schema = format!("conformance_{}_{n}", std::process::id());
                let sep = if url.contains('?') { '&' } else { '?' };
                Location::parse(&format!("{url}{sep}options=-csearch_path%3D{schema}"))
                    .expect("test URL parses")
            }
        }
    }

    /// Builds a database at an old (or future) schema version.
    fn at_version(&self, version: i64) -> Location {
        let loc = self.fresh();
        match &loc {
            Location::Sqlite(p) => SqliteStore::create_at_version(p, version).unwrap(),
            Location::Postgres(t) => PostgresStore::create_at_version(t, version).unwrap(),
        }
        loc
    }
}

/// Generates one test per check and backend.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $check() { super::$check(&super::Backend::sqlite()) })*
        }
        mod postgres {
            $(#[test] fn $check() {
                if let Some(b) = super::Backend::postgres() { super::$check(&b) }
            })*
        }
    };
}

conformance!(
    register_is_idempotent,
    a_changed_spec_needs_extend,
    finished_trials_are_reused_across_sweeps,
    no_reuse_supersedes_finished_trials,
    claim_record_finish,
    a_stale_claim_is_reclaimed_and_the_old_owner_loses_it,
    release_returns_a_trial_to_pending,
    orphaned_claims_are_released,
    a_reclaimed_trial_keeps_the_epochs_its_checkpoint_covers,
    a_trial_that_kills_its_process_fails_after_max_attempts,
    concurrent_claims_take_each_trial_once,
    queries_answer_what_the_cli_asks,
    baselines_are_stored_and_replaced,
    imported_runs_need_known_configurations,
    every_older_schema_migrates,
    a_newer_schema_is_refused,
    copying_is_complete_and_idempotent,
    preflight_writes_nothing,
    proposals_keep_the_budget_and_their_order,
    pruned_trials_keep_their_epochs_and_are_final,
    adaptive_sweeps_copy_with_their_proposals,
);

fn plan(name: &str, lrs: &[f64], seeds: &[u64]) -> SweepPlan {
    SweepPlan {
        name: name.into(),
        dataset: DatasetName::FashionMnist,
        seeds: seeds.to_vec(),
        configs: lrs
            .iter()
            .enumerate()
            .map(|(i, &lr)| {
                let mut run = default_run();
                run.optimizer.lr = lr;
                run.train.epochs = 2;
                PlannedConfig {
                    hash: format!("{:064x}", (lr * 1e6) as u64),
                    run,
                    baseline: i == 0,
                    sources: vec![if i == 0 { "base" } else { "search[0].grid" }.into()],
                }
            })
            .collect(),
    }
}

fn worker(host: &str) -> Worker {
    Worker {
        id: format!("{host}:1:{host}"),
        host: host.into(),
        pid: 1,
    }
}

fn epoch(n: usize) -> EpochMetrics {
    EpochMetrics {
        epoch: n,
        train_loss: 1.0 / n as f64,
        train_acc: 0.5 + n as f64 / 100.0,
        val_loss: Some(0.9 / n as f64),
        val_acc: Some(0.6 + n as f64 / 100.0),
        seconds: 0.25,
        eval_seconds: 0.0,
    }
}

fn result(epochs: usize, acc: f64) -> TrialOutcome {
    TrialOutcome::Finished(RunResult {
        epochs: (1..=epochs).map(epoch).collect(),
        test_loss: 0.4,
        test_acc: acc,
        diverged: false,
        seconds: 1.5,
        weights: None,
    })
}

fn opts() -> ClaimOptions {
    ClaimOptions::default()
}

/// Claims and finishes every runnable trial of `sweep` with two epochs.
fn run_all(store: &mut dyn Store, sweep: &str, w: &Worker) -> usize {
    let id = store.find_sweep(sweep).unwrap().unwrap();
    let mut n = 0;
    while let Some(t) = store.claim(id, w, &opts()).unwrap() {
        for e in 1..=2 {
            store.record_epoch(t.id, w, &epoch(e), None).unwrap();
        }
        store
            .finish(t.id, w, &result(2, 0.8 + t.seed as f64 / 100.0))
            .unwrap();
        n += 1;
    }
    n
}

fn register_is_idempotent(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    let p = plan("a", &[0.1, 0.01], &[0, 1]);
    assert_eq!(
        s.register_sweep(&p, "spec", RegisterOptions::default())
            .unwrap(),
        Registered::Created
    );
    assert_eq!(
        s.register_sweep(&p, "spec", RegisterOptions::default())
            .unwrap(),
        Registered::Unchanged
    );
    let sweep = s.sweep("a").unwrap();
    assert_eq!(sweep.configs.len(), 2);
    assert_eq!(sweep.seeds, vec![0, 1]);
    assert!(sweep.configs[0].baseline && !sweep.configs[1].baseline);
    assert_eq!(sweep.configs[1].sources, vec!["search[0].grid".to_string()]);
    assert_eq!(sweep.configs[1].run, p.configs[1].run);
    assert_eq!(s.status_counts(sweep.id).unwrap().pending, 4);
}

fn a_changed_spec_needs_extend(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    s.register_sweep(&plan("a", &[0.1], &[0]), "v1", RegisterOptions::default())
        .unwrap();
    let bigger = plan("a", &[0.1, 0.01], &[0, 1]);
    let e = s
        .register_sweep(&bigger, "v2", RegisterOptions::default())
        .unwrap_err();
    assert!(matches!(e, StoreError::SpecChanged { .. }), "{e}");
    assert!(e.to_string().contains(&s.describe()), "{e}");
    let extend = RegisterOptions {
        extend: true,
        no_reuse: false,
    };
    assert_eq!(
        s.register_sweep(&bigger, "v2", extend).unwrap(),
        Registered::Extended {
            configs: 1,
            seeds: 1
        }
    );
    let sweep = s.sweep("a").unwrap();
    assert_eq!(sweep.spec, "v2");
    assert_eq!(s.status_counts(sweep.id).unwrap().pending, 4);
}

fn finished_trials_are_reused_across_sweeps(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    s.register_sweep(&plan("a", &[0.1], &[0]), "a", RegisterOptions::default())
        .unwrap();
    assert_eq!(run_all(s.as_mut(), "a", &worker("h")), 1);
    s.register_sweep(
        &plan("b", &[0.1, 0.5], &[0]),
        "b",
        RegisterOptions::default(),
    )
    .unwrap();
    let id = s.find_sweep("b").unwrap().unwrap();
    let c = s.status_counts(id).unwrap();
    assert_eq!((c.done, c.pending), (1, 1));
}

fn no_reuse_supersedes_finished_trials(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    let p = plan("a", &[0.1], &[0, 1]);
    s.register_sweep(&p, "a", RegisterOptions::default())
        .unwrap();
    run_all(s.as_mut(), "a", &worker("h"));
    let no_reuse = RegisterOptions {
        extend: false,
        no_reuse: true,
    };
    s.register_sweep(&p, "a", no_reuse).unwrap();
    let id = s.find_sweep("a").unwrap().unwrap();
    let c = s.status_counts(id).unwrap();
    assert_eq!((c.done, c.pending, c.total()), (0, 2, 2));
}

fn claim_record_finish(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    s.register_sweep(&plan("a", &[0.1], &[7]), "a", RegisterOptions::default())
        .unwrap();
    let id = s.find_sweep("a").unwrap().unwrap();
    let w = worker("h");
    let t = s.claim(id, &w, &opts()).unwrap().unwrap();
    assert_eq!(t.seed, 7);
    assert!(!t.recovered);
    assert!(s.claim(id, &w, &opts()).unwrap().is_none());
    s.heartbeat(&w).unwrap();
    s.record_epoch(t.id, &w, &epoch(1), None).unwrap();
    let trials = s.trials(id).unwrap();
    assert_eq!(trials[0].status, TrialStatus::Running);
    assert_eq!(trials[0].epochs_done, 1);
    assert_eq!(trials[0].worker.as_deref(), Some(w.id.as_str()));
    s.record_epoch(t.id, &w, &epoch(2), None).unwrap();
    s.finish(t.id, &w, &result(2, 0.875)).unwrap();
    let trials = s.trials(id).unwrap();
    assert_eq!(trials[0].status, TrialStatus::Done);
    assert_eq!(trials[0].test_acc, Some(0.875));
    assert_eq!(trials[0].final_val_acc, epoch(2).val_acc);
    assert_eq!(trials[0].final_train_loss, Some(epoch(2).train_loss));
    let epochs = s.epochs(id, &t.config_hash).unwrap();
    assert_eq!(epochs.len(), 2);
    assert_eq!(epochs[1].metrics.val_loss, epoch(2).val_loss);
    // A failure is stored with its message and retried only when asked.
    s.register_sweep(&plan("b", &[0.3], &[0]), "b", RegisterOptions::default())
        .unwrap();
    let id = s.find_sweep("b").unwrap().unwrap();
    let t = s.claim(id, &w, &opts()).unwrap().unwrap();
    s.finish(t.id, &w, &TrialOutcome::Failed("boom".into()))
        .unwrap();
    assert_eq!(s.trials(id).unwrap()[0].error.as_deref(), Some("boom"));
    assert!(s.claim(id, &w, &opts()).unwrap().is_none());
    let retry = ClaimOptions {
        retry_failed: true,
        ..opts()
    };
    assert_eq!(s.claim(id, &w, &retry).unwrap().unwrap().id, t.id);
}

fn a_stale_claim_is_reclaimed_and_the_old_owner_loses_it(b: &Backend) {
    let loc = b.fresh();
    let mut s = loc.open().unwrap();
    s.register_sweep(&plan("a", &[0.1], &[0]), "a", RegisterOptions::default())
        .unwrap();
    let id = s.find_sweep("a").unwrap().unwrap();
    let (dead, alive) = (worker("host-a"), worker("host-b"));
    let t = s.claim(id, &dead, &opts()).unwrap().unwrap();
    s.record_epoch(t.id, &dead, &epoch(1), None).unwrap();
    // Fresh heartbeat: not reclaimed.
    assert!(s.claim(id, &alive, &opts()).unwrap().is_none());
    std::thread::sleep(Duration::from_millis(1200));
    let quick = ClaimOptions {
        stale_after: Duration::from_secs(1),
        ..ClaimOptions::default()
    };
    let mut other = loc.open().unwrap();
    let again = other.claim(id, &alive, &quick).unwrap().unwrap();
    assert_eq!(again.id, t.id);
    assert!(again.recovered);
    // The partial epoch of the dead worker is gone; its late writes are refused.
    assert_eq!(other.trials(id).unwrap()[0].epochs_done, 0);
    let e = s.record_epoch(t.id, &dead, &epoch(2), None).unwrap_err();
    assert!(matches!(e, StoreError::LostClaim(_)), "{e}");
    let e = s.finish(t.id, &dead, &result(2, 0.5)).unwrap_err();
    assert!(matches!(e, StoreError::LostClaim(_)), "{e}");
    other.record_epoch(t.id, &alive, &epoch(1), None).unwrap();
    other.record_epoch(t.id, &alive, &epoch(2), None).unwrap();
    other.finish(t.id, &alive, &result(2, 0.9)).unwrap();
    let trials = other.trials(id).unwrap();
    assert_eq!(trials[0].test_acc, Some(0.9));
    assert_eq!(other.epochs(id, &t.config_hash).unwrap().len(), 2);
}

fn release_returns_a_trial_to_pending(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    s.register_sweep(&plan("a", &[0.1], &[0]), "a", RegisterOptions::default())
        .unwrap();
    let id = s.find_sweep("a").unwrap().unwrap();
    let w = worker("h");
    let t = s.claim(id, &w, &opts()).unwrap().unwrap();
    s.record_epoch(t.id, &w, &epoch(1), None).unwrap();
    s.release(t.id, &w).unwrap();
    let trials = s.trials(id).unwrap();
    assert_eq!(trials[0].status, TrialStatus::Pending);
    assert_eq!(trials[0].epochs_done, 0);
    assert_eq!(s.claim(id, &w, &opts()).unwrap().unwrap().id, t.id);
}

fn orphaned_claims_are_released(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    s.register_sweep(
        &plan("a", &[0.1], &[0, 1, 2]),
        "a",
        RegisterOptions::default(),
    )
    .unwrap();
    let id = s.find_sweep("a").unwrap().unwrap();
    let (me, other) = (worker("h"), worker("g"));
    let lost = s.claim(id, &me, &opts()).unwrap().unwrap();
    s.record_epoch(lost.id, &me, &epoch(1), None).unwrap();
    s.claim(id, &me, &opts()).unwrap().unwrap();
    let theirs = s.claim(id, &other, &opts()).unwrap().unwrap();
    assert_eq!(s.release_orphans(&me).unwrap(), 2);
    let c = s.status_counts(id).unwrap();
    assert_eq!((c.pending, c.running), (2, 1));
    assert_eq!(s.release_orphans(&me).unwrap(), 0);
    let trials = s.trials(id).unwrap();
    let running: Vec<i64> = trials
        .iter()
        .filter(|t| t.status == TrialStatus::Running)
        .map(|t| t.id)
        .collect();
    assert_eq!(running, [theirs.id]);
    assert!(trials
        .iter()
        .all(|t| t.status != TrialStatus::Pending || t.epochs_done == 0));
}

fn a_reclaimed_trial_keeps_the_epochs_its_checkpoint_covers(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    s.register_sweep(&plan("a", &[0.1], &[0]), "a", RegisterOptions::default())
        .unwrap();
    let id = s.find_sweep("a").unwrap().unwrap();
    let (dead, alive) = (worker("host-a"), worker("host-b"));
    let t = s.claim(id, &dead, &opts()).unwrap().unwrap();
    assert_eq!(t.checkpoint, None);
    let ck = |e: usize| CheckpointRef {
        epoch: e,
        sha256: format!("{e:064}"),
    };
    s.record_epoch(t.id, &dead, &epoch(1), Some(&ck(1)))
        .unwrap();
    s.record_epoch(t.id, &dead, &epoch(2), None).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let quick = ClaimOptions {
        stale_after: Duration::from_secs(1),
        ..ClaimOptions::default()
    };
    let again = s.claim(id, &alive, &quick).unwrap().unwrap();
    assert!(again.recovered);
    assert_eq!(again.checkpoint, Some(ck(1)));
    assert_eq!(s.trials(id).unwrap()[0].epochs_done, 1);
    s.record_epoch(t.id, &alive, &epoch(2), Some(&ck(2)))
        .unwrap();
    // Ctrl-C keeps the checkpoint too.
    s.release(t.id, &alive).unwrap();
    let third = s.claim(id, &alive, &opts()).unwrap().unwrap();
    assert_eq!(third.checkpoint, Some(ck(2)));
    // A checkpoint that cannot be used is dropped with its epochs.
    s.discard_progress(t.id, &alive).unwrap();
    assert_eq!(s.trials(id).unwrap()[0].epochs_done, 0);
    for e in 1..=2 {
        s.record_epoch(t.id, &alive, &epoch(e), None).unwrap();
    }
    s.finish(t.id, &alive, &result(2, 0.7)).unwrap();
    let epochs = s.epochs(id, &t.config_hash).unwrap();
    assert_eq!(
        epochs.iter().map(|e| e.metrics.epoch).collect::<Vec<_>>(),
        [1, 2]
    );
}

fn a_trial_that_kills_its_process_fails_after_max_attempts(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    s.register_sweep(&plan("a", &[0.1], &[0, 1]), "a", RegisterOptions::default())
        .unwrap();
    let id = s.find_sweep("a").unwrap().unwrap();
    let quick = ClaimOptions {
        stale_after: Duration::from_secs(1),
        max_attempts: 2,
        ..ClaimOptions::default()
    };
    // Two deaths without a checkpoint, on two hosts.
    let first = s.claim(id, &worker("host-a"), &quick).unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let second = s.claim(id, &worker("host-b"), &quick).unwrap().unwrap();
    assert_eq!(second.id, first.id, "requeued after one death");
    std::thread::sleep(Duration::from_millis(1200));
    let w = worker("host-c");
    let next = s.claim(id, &w, &quick).unwrap().unwrap();
    assert_ne!(
        next.id, first.id,
        "the poison trial is not run a third time"
    );
    let failed = s
        .trials(id)
        .unwrap()
        .into_iter()
        .find(|t| t.id == first.id)
        .unwrap();
    assert_eq!(failed.status, TrialStatus::Failed);
    let msg = failed.error.unwrap();
    assert!(
        msg.contains("died 2 times without progress (host-a at epoch 1; host-b at epoch 1)"),
        "{msg}"
    );
    // The rest of the sweep finishes; --retry-failed runs it again with a fresh count.
    s.record_epoch(next.id, &w, &epoch(1), None).unwrap();
    s.finish(next.id, &w, &result(1, 0.9)).unwrap();
    let retry = ClaimOptions {
        retry_failed: true,
        ..quick
    };
    let again = s.claim(id, &w, &retry).unwrap().unwrap();
    assert_eq!(again.id, first.id);
    // A death after progress does not count.
    let ck = CheckpointRef {
        epoch: 1,
        sha256: "0".repeat(64),
    };
    s.record_epoch(again.id, &w, &epoch(1), Some(&ck)).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let after = s.claim(id, &worker("host-d"), &quick).unwrap().unwrap();
    assert_eq!(after.id, first.id);
    assert_eq!(after.checkpoint, Some(ck));
}

fn concurrent_claims_take_each_trial_once(b: &Backend) {
    let loc = b.fresh();
    let mut s = loc.open().unwrap();
    let lrs: Vec<f64> = (1..=10).map(|i| i as f64 / 100.0).collect();
    s.register_sweep(
        &plan("a", &lrs, &[0, 1, 2]),
        "a",
        RegisterOptions::default(),
    )
    .unwrap();
    let id = s.find_sweep("a").unwrap().unwrap();
    let claimed: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let loc = loc.clone();
                scope.spawn(move || {
                    let mut store = loc.open().unwrap();
                    let w = worker(&format!("host-{i}"));
                    let mut mine = Vec::new();
                    while let Some(t) = store.claim(id, &w, &opts()).unwrap() {
                        store.record_epoch(t.id, &w, &epoch(1), None).unwrap();
                        store.finish(t.id, &w, &result(1, 0.8)).unwrap();
                        mine.push(t.id);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let distinct: BTreeSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 30, "every trial claimed once");
    assert_eq!(distinct.len(), 30, "no trial claimed twice");
    assert_eq!(s.status_counts(id).unwrap().done, 30);
}

fn queries_answer_what_the_cli_asks(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    assert!(s.list_sweeps().unwrap().is_empty());
    s.register_sweep(
        &plan("a", &[0.1, 0.2], &[0, 1]),
        "a",
        RegisterOptions::default(),
    )
    .unwrap();
    s.register_sweep(&plan("b", &[0.3], &[0]), "b", RegisterOptions::default())
        .unwrap();
    run_all(s.as_mut(), "a", &worker("h"));
    let list = s.list_sweeps().unwrap();
    let names: Vec<&str> = list.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(
        (list[0].configs, list[0].seeds, list[0].counts.done),
        (2, 2, 4)
    );
    assert_eq!(list[1].counts.pending, 1);
    let id = s.find_sweep("a").unwrap().unwrap();
    assert_eq!(s.mean_trial_seconds(id).unwrap(), Some(1.5));
    let trials = s.trials(id).unwrap();
    let order: Vec<(String, u64)> = trials
        .iter()
        .map(|t| (t.config_hash.clone(), t.seed))
        .collect();
    let p = plan("a", &[0.1, 0.2], &[0, 1]);
    let expected: Vec<(String, u64)> = p
        .configs
        .iter()
        .flat_map(|c| [0, 1].map(|s| (c.hash.clone(), s)))
        .collect();
    assert_eq!(order, expected, "configuration then seed order");
    let epochs = s.epochs(id, &p.configs[1].hash).unwrap();
    let seeds: Vec<(u64, usize)> = epochs.iter().map(|e| (e.seed, e.metrics.epoch)).collect();
    assert_eq!(seeds, [(0, 1), (0, 2), (1, 1), (1, 2)]);
    assert_eq!(s.find_sweep("nope").unwrap(), None);
    match s.sweep("nope").unwrap_err() {
        StoreError::UnknownSweep { known, db, .. } => {
            assert_eq!(known, ["a", "b"]);
            assert_eq!(db, s.describe());
        }
        e => panic!("{e}"),
    }
}

fn baselines_are_stored_and_replaced(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    let mut rec = BaselineRecord {
        dataset: "fashion-mnist".into(),
        method: "svd-subspace".into(),
        k: 20,
        validation: 10_000,
        split_seed: 0,
        val_acc: 0.9,
        test_acc: 0.91,
        seconds: 3.0,
        val_curve: vec![(10, 0.85), (20, 0.9)],
    };
    s.record_baseline(&rec).unwrap();
    rec.test_acc = 0.9128;
    s.record_baseline(&rec).unwrap();
    let lda = BaselineRecord {
        method: "pca-lda".into(),
        test_acc: 0.85,
        ..rec.clone()
    };
    s.record_baseline(&lda).unwrap();
    assert_eq!(s.baselines("fashion-mnist").unwrap(), vec![rec, lda]);
    assert!(s.baselines("mnist").unwrap().is_empty());
}

fn imported_runs_need_known_configurations(b: &Backend) {
    let mut s = b.fresh().open().unwrap();
    let p = plan("a", &[0.1], &[0]);
    s.register_sweep(&p, "a", RegisterOptions::default())
        .unwrap();
    let run = |hash: &str, acc: f64| ExternalTrial {
        framework: Some("torch 2.5.1".into()),
        config_hash: hash.into(),
        seed: 0,
        test_acc: acc,
        test_loss: Some(0.3),
        final_train_loss: None,
        final_val_loss: None,
        final_val_acc: Some(0.88),
        seconds: Some(10.0),
        epochs: vec![serde_json::json!({"epoch": 1})],
    };
    let e = s
        .import_external("torch", &[run(&p.configs[0].hash, 0.8), run("f00", 0.8)])
        .unwrap_err();
    assert!(matches!(e, StoreError::UnknownConfig { .. }), "{e}");
    assert!(
        s.external_trials("torch").unwrap().is_empty(),
        "all or nothing"
    );
    s.import_external("torch", &[run(&p.configs[0].hash, 0.8)])
        .unwrap();
    s.import_external("torch", &[run(&p.configs[0].hash, 0.85)])
        .unwrap();
    assert_eq!(
        s.external_trials("torch").unwrap(),
        vec![run(&p.configs[0].hash, 0.85)]
    );
    assert_eq!(s.external_sources().unwrap(), ["torch"]);
}

fn every_older_schema_migrates(b: &Backend) {
    for version in 1..SCHEMA_VERSION {
        let loc = b.at_version(version);
        let mut s = loc.open().unwrap();
        s.register_sweep(&plan("a", &[0.1], &[0]), "a", RegisterOptions::default())
            .unwrap();
        assert_eq!(
            run_all(s.as_mut(), "a", &worker("h")),
            1,
            "from version {version}"
        );
        s.record_baseline(&BaselineRecord {
            dataset: "mnist".into(),
            method: "pca-lda".into(),
            k: 1,
            validation: 1,
            split_seed: 0,
            val_acc: 0.5,
            test_acc: 0.5,
            seconds: 0.0,
            val_curve: Vec::new(),
        })
        .unwrap();
        assert!(s.external_sources().unwrap().is_empty());
        drop(s);
        // Opening again applies nothing twice.
        let mut s = loc.open().unwrap();
        assert_eq!(s.list_sweeps().unwrap()[0].counts.done, 1);
    }
}

fn a_newer_schema_is_refused(b: &Backend) {
    let loc = b.at_version(SCHEMA_VERSION + 1);
    for e in [
        loc.open().err().unwrap(),
        loc.open_existing().err().unwrap(),
        loc.preflight(None).unwrap_err(),
    ] {
        assert!(
            matches!(e, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
            "{e}"
        );
    }
}

fn copying_is_complete_and_idempotent(b: &Backend) {
    let local = Backend::sqlite();
    let (src_loc, dst_loc) = (local.fresh(), b.fresh());
    let mut src = src_loc.open().unwrap();
    src.register_sweep(
        &plan("a", &[0.1, 0.2], &[0, 1]),
        "spec a",
        RegisterOptions::default(),
    )
    .unwrap();
    let id = src.find_sweep("a").unwrap().unwrap();
    let w = worker("h");
    for _ in 0..3 {
        let t = src.claim(id, &w, &opts()).unwrap().unwrap();
        for e in 1..=2 {
            src.record_epoch(t.id, &w, &epoch(e), None).unwrap();
        }
        src.finish(t.id, &w, &result(2, 0.8 + t.seed as f64 / 10.0))
            .unwrap();
    }
    src.record_baseline(&BaselineRecord {
        dataset: "fashion-mnist".into(),
        method: "svd-subspace".into(),
        k: 5,
        validation: 100,
        split_seed: 0,
        val_acc: 0.7,
        test_acc: 0.71,
        seconds: 1.0,
        val_curve: vec![(5, 0.7)],
    })
    .unwrap();
    let mut dst = dst_loc.open().unwrap();
    let r = copy(src.as_mut(), dst.as_mut(), &[]).unwrap();
    assert_eq!(
        (
            r.sweeps,
            r.configs,
            r.trials_written,
            r.epochs_written,
            r.baselines
        ),
        (1, 2, 3, 6, 1)
    );
    let again = copy(src.as_mut(), dst.as_mut(), &[]).unwrap();
    assert_eq!((again.trials_written, again.trials_present), (0, 3));
    let sweep = dst.sweep("a").unwrap();
    assert_eq!(sweep.spec, "spec a");
    let c = dst.status_counts(sweep.id).unwrap();
    assert_eq!((c.done, c.pending), (3, 1));
    let (a, b2) = (src.trials(id).unwrap(), dst.trials(sweep.id).unwrap());
    for (x, y) in a.iter().zip(&b2) {
        assert_eq!(
            (&x.config_hash, x.seed, x.status, x.test_acc),
            (&y.config_hash, y.seed, y.status, y.test_acc)
        );
    }
    assert_eq!(dst.baselines("fashion-mnist").unwrap().len(), 1);
    // And back: the pending trial stays pending, nothing is duplicated.
    let back_loc = local.fresh();
    let mut back = back_loc.open().unwrap();
    let r = copy(dst.as_mut(), back.as_mut(), &["a".to_string()]).unwrap();
    assert_eq!(r.trials_written, 3);
    let back_id = back.find_sweep("a").unwrap().unwrap();
    let c = back.status_counts(back_id).unwrap();
    assert_eq!((c.done, c.pending), (3, 1));
}

fn preflight_writes_nothing(b: &Backend) {
    let loc = b.fresh();
    let p = plan("a", &[0.1], &[0]);
    loc.preflight(Some((&p, RegisterOptions::default())))
        .unwrap();
    let e = loc.open_existing().err().expect("nothing was created");
    assert!(matches!(e, StoreError::NoDatabase(_)), "{e}");
    let mut s = loc.open().unwrap();
    s.register_sweep(&p, "a", RegisterOptions::default())
        .unwrap();
    let changed = plan("a", &[0.1, 0.2], &[0]);
    let e = loc
        .preflight(Some((&changed, RegisterOptions::default())))
        .unwrap_err();
    assert!(matches!(e, StoreError::SpecChanged { .. }), "{e}");
    assert_eq!(s.sweep("a").unwrap().configs.len(), 1);
}

/// A configuration an adaptive block proposes: `lr` distinguishes it.
fn proposal(number: usize, budget: usize, lr: f64) -> ProposalRequest {
    let mut run = default_run();
    run.optimizer.lr = lr;
    run.train.epochs = 2;
    ProposalRequest {
        block: "search[0].tpe".into(),
        number,
        budget,
        config: PlannedConfig {
            hash: format!("{:064x}", (lr * 1e6) as u64 + 7),
            run,
            baseline: false,
            sources: vec!["search[0].tpe".into()],
        },
    }
}

fn proposals_keep_the_budget_and_their_order(b: &Backend) {
    let loc = b.fresh();
    let mut s = loc.open().unwrap();
    // A plan with no configuration: everything comes from proposals.
    s.register_sweep(&plan("t", &[], &[0]), "spec t", RegisterOptions::default())
        .unwrap();
    let id = s.find_sweep("t").unwrap().unwrap();
    let w = worker("h");
    assert_eq!(
        s.propose(id, &w, &proposal(0, 2, 0.1)).unwrap(),
        ProposalOutcome::Stored
    );
    // A proposal computed from a history that no longer holds (another worker's came first).
    assert_eq!(
        s.propose(id, &w, &proposal(0, 2, 0.2)).unwrap(),
        ProposalOutcome::Conflict
    );
    // The same configuration again is a conflict too: a trial is a (configuration, seed).
    assert_eq!(
        s.propose(id, &w, &proposal(1, 2, 0.1)).unwrap(),
        ProposalOutcome::Conflict
    );
    assert_eq!(
        s.propose(id, &w, &proposal(1, 2, 0.3)).unwrap(),
        ProposalOutcome::Stored
    );
    assert_eq!(
        s.propose(id, &w, &proposal(2, 2, 0.4)).unwrap(),
        ProposalOutcome::BudgetSpent
    );
    let sweep = s.sweep("t").unwrap();
    let numbers: Vec<_> = sweep
        .configs
        .iter()
        .map(|c| (c.proposal, c.sources.clone()))
        .collect();
    assert_eq!(
        numbers,
        vec![
            (Some(0), vec!["search[0].tpe".to_string()]),
            (Some(1), vec!["search[0].tpe".to_string()])
        ]
    );
    // Each proposal has a pending trial, claimed as any other.
    assert_eq!(s.status_counts(id).unwrap().pending, 2);
    assert_eq!(run_all(s.as_mut(), "t", &w), 2);
    // Registering the spec again neither counts the proposals as removed configurations nor
    // loses them; --no-reuse starts the search over.
    assert_eq!(
        s.register_sweep(&plan("t", &[], &[0]), "spec t", RegisterOptions::default())
            .unwrap(),
        Registered::Unchanged
    );
    assert_eq!(s.sweep("t").unwrap().configs.len(), 2);
    let fresh = RegisterOptions {
        extend: false,
        no_reuse: true,
    };
    s.register_sweep(&plan("t", &[], &[0]), "spec t", fresh)
        .unwrap();
    assert!(s.sweep("t").unwrap().configs.is_empty());
    assert_eq!(
        s.propose(id, &w, &proposal(0, 2, 0.1)).unwrap(),
        ProposalOutcome::Stored
    );
    assert_eq!(
        s.status_counts(id).unwrap().pending,
        1,
        "a fresh trial, not the superseded one"
    );
}

fn pruned_trials_keep_their_epochs_and_are_final(b: &Backend) {
    let loc = b.fresh();
    let mut s = loc.open().unwrap();
    s.register_sweep(
        &plan("p", &[0.1, 0.2], &[0]),
        "spec p",
        RegisterOptions::default(),
    )
    .unwrap();
    let id = s.find_sweep("p").unwrap().unwrap();
    let w = worker("h");
    let t = s.claim(id, &w, &opts()).unwrap().unwrap();
    s.record_epoch(t.id, &w, &epoch(1), None).unwrap();
    s.finish(
        t.id,
        &w,
        &TrialOutcome::Pruned {
            last: epoch(1),
            seconds: 0.3,
        },
    )
    .unwrap();
    let c = s.status_counts(id).unwrap();
    assert_eq!((c.pruned, c.pending, c.finished()), (1, 1, 0));
    let rec = s
        .trials(id)
        .unwrap()
        .into_iter()
        .find(|r| r.id == t.id)
        .unwrap();
    assert_eq!(rec.status, TrialStatus::Pruned);
    assert_eq!((rec.epochs_done, rec.test_acc), (1, None));
    assert_eq!(rec.final_val_acc, epoch(1).val_acc);
    // Its epochs stay, among every trial's epochs, and not among the finished ones.
    let all = s.sweep_epochs(id).unwrap();
    assert_eq!(all.iter().filter(|e| e.trial_id == t.id).count(), 1);
    assert!(s.epochs(id, &t.config_hash).unwrap().is_empty());
    // Never claimed again, not even to retry failures.
    let retry = ClaimOptions {
        retry_failed: true,
        ..opts()
    };
    let next = s.claim(id, &w, &retry).unwrap().unwrap();
    assert_ne!(next.id, t.id);
    assert!(s.claim(id, &w, &retry).unwrap().is_none());
}

fn adaptive_sweeps_copy_with_their_proposals(b: &Backend) {
    let local = Backend::sqlite();
    let mut src = local.fresh().open().unwrap();
    src.register_sweep(
        &plan("a", &[0.05], &[0]),
        "spec a",
        RegisterOptions::default(),
    )
    .unwrap();
    let id = src.find_sweep("a").unwrap().unwrap();
    let w = worker("h");
    src.propose(id, &w, &proposal(0, 3, 0.1)).unwrap();
    src.propose(id, &w, &proposal(1, 3, 0.2)).unwrap();
    // The planned trial finishes, one proposal is pruned after an epoch, one is pending.
    let mut claimed = Vec::new();
    while let Some(t) = src.claim(id, &w, &opts()).unwrap() {
        claimed.push(t);
        if claimed.len() == 2 {
            break;
        }
    }
    let (planned, pruned) = (&claimed[0], &claimed[1]);
    for e in 1..=2 {
        src.record_epoch(planned.id, &w, &epoch(e), None).unwrap();
    }
    src.finish(planned.id, &w, &result(2, 0.8)).unwrap();
    src.record_epoch(pruned.id, &w, &epoch(1), None).unwrap();
    src.finish(
        pruned.id,
        &w,
        &TrialOutcome::Pruned {
            last: epoch(1),
            seconds: 0.1,
        },
    )
    .unwrap();
    let mut dst = b.fresh().open().unwrap();
    let r = copy(src.as_mut(), dst.as_mut(), &[]).unwrap();
    assert_eq!((r.trials_written, r.epochs_written), (2, 3));
    let sweep = dst.sweep("a").unwrap();
    let shape: Vec<_> = sweep
        .configs
        .iter()
        .map(|c| (c.hash.clone(), c.proposal))
        .collect();
    let want: Vec<_> = src
        .sweep("a")
        .unwrap()
        .configs
        .iter()
        .map(|c| (c.hash.clone(), c.proposal))
        .collect();
    assert_eq!(shape, want);
    let c = dst.status_counts(sweep.id).unwrap();
    assert_eq!((c.done, c.pruned, c.pending), (1, 1, 1));
    let again = copy(src.as_mut(), dst.as_mut(), &[]).unwrap();
    assert_eq!((again.trials_written, again.trials_present), (0, 2));
    assert_eq!(
        dst.sweep("a").unwrap().configs.len(),
        3,
        "no proposal copied twice"
    );
}
