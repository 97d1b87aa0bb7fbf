//! Adaptive search from the command line: a TPE sweep with ASHA pruning and a confirmation
//! stage spends exactly its budget, prunes, confirms its best configurations by reusing the
//! search's trials, reproduces itself with `--jobs 1`, shares its budget between processes,
//! and survives a kill loop with the uninterrupted run's results.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Instant;

use crate::common::{
    self, heavy, integrity, open_ro, real_data, s, sweep_metrics, sweep_run, tempdir, Metrics, Proc,
};
use crate::faults::{kill_loop, metric_diff, sqlite_round_args, SqliteRound};

/// A TPE search of `trials` proposals with ASHA (reduction factor 2) over a small space on
/// 1500 training images, and a confirmation of its 2 best with 2 seeds.
fn tpe_spec(name: &str, trials: usize) -> String {
    format!(
        "name: {name}\n\
         dataset: fashion-mnist\n\
         epochs: 4\n\
         batch_size: 64\n\
         validation: 500\n\
         train_subset: 1500\n\
         include_base: false\n\
         prune: {{method: asha, reduction_factor: 2}}\n\
         confirm: {{top: 2, seeds: 2}}\n\
         search:\n  - tpe:\n      trials: {trials}\n      seed: 7\n      n_startup_trials: 4\n      params:\n\
         \x20       lr: {{log_uniform: [1.0e-4, 0.5]}}\n\
         \x20       optimizer: {{choice: [sgd, adam]}}\n\
         \x20       hidden: {{layers: {{depth: [1, 2], width: [8, 48]}}}}\n"
    )
}

/// The sweep's configurations in the order they were proposed.
fn proposals(db: &Path, sweep: &str) -> Vec<(i64, String)> {
    let conn = open_ro(db).unwrap();
    let mut st = conn
        .prepare(
            "SELECT sc.proposal, sc.config_hash FROM sweep_configs sc JOIN sweeps s ON s.id = sc.sweep_id
             WHERE s.name = ?1 AND sc.proposal IS NOT NULL ORDER BY sc.proposal",
        )
        .unwrap();
    let rows = st
        .query_map([sweep], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    rows
}

/// (status, count) of a sweep's current trials.
fn statuses(db: &Path, sweep: &str) -> Vec<(String, i64)> {
    let conn = open_ro(db).unwrap();
    let mut st = conn
        .prepare("SELECT status, count(*) FROM sweep_trials WHERE sweep = ?1 GROUP BY status ORDER BY status")
        .unwrap();
    let rows = st
        .query_map([sweep], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    rows
}

fn count(db: &Path, sql: &str) -> i64 {
    open_ro(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Everything a finished search and its confirmation left, to compare two runs.
fn outcome(db: &Path, name: &str) -> (Vec<(i64, String)>, Metrics, Metrics) {
    (
        proposals(db, name),
        sweep_metrics(db, name),
        sweep_metrics(db, &format!("{name}.confirm")),
    )
}

/// Checks a finished search: `budget` proposals exactly, none left to run, pruned trials
/// with fewer epochs and no test metrics, and a confirmation of the two best configurations
/// that reuses their search trials.
fn check_search(db: &Path, name: &str, budget: usize) {
    let p = proposals(db, name);
    assert_eq!(p.len(), budget, "exactly the budget: {p:?}");
    assert_eq!(
        p.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        (0..budget as i64).collect::<Vec<_>>()
    );
    let st = statuses(db, name);
    assert!(
        st.iter().all(|(s, _)| s == "done" || s == "pruned"),
        "{st:?}"
    );
    let pruned = st.iter().find(|(s, _)| s == "pruned").map_or(0, |x| x.1);
    assert!(
        pruned >= 2,
        "ASHA with a reduction factor of 2 prunes: {st:?}"
    );
    assert_eq!(
        count(
            db,
            &format!("SELECT count(*) FROM sweep_trials WHERE sweep = '{name}' AND status = 'pruned' AND (test_acc IS NOT NULL OR epochs_done > 4 OR epochs_done < 1)")
        ),
        0,
        "pruned trials stop at a rung (1, 2 or 4 epochs: a trial may be pruned at its last), keep their epochs, have no test metrics"
    );
    assert_eq!(
        count(
            db,
            &format!("SELECT count(*) FROM sweep_trials t WHERE sweep = '{name}' AND status = 'pruned' AND (SELECT count(*) FROM epochs e WHERE e.trial_id = t.id) != t.epochs_done")
        ),
        0
    );
    // The confirmation: the search's two best (by final validation accuracy of done
    // trials), each with seeds 0 and 1; seed 0 is the search's own trial, not a new one.
    let conn = open_ro(db).unwrap();
    let best: Vec<String> = conn
        .prepare(&format!("SELECT config_hash FROM sweep_trials WHERE sweep = '{name}' AND status = 'done' ORDER BY final_val_acc DESC LIMIT 2"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let confirm = format!("{name}.confirm");
    let confirmed: BTreeSet<String> = common::sweep_configs(db, &confirm).into_iter().collect();
    assert_eq!(
        confirmed,
        best.iter().cloned().collect(),
        "the two best are confirmed"
    );
    assert_eq!(statuses(db, &confirm), vec![("done".to_string(), 4)]);
    let shared = count(
        db,
        &format!("SELECT count(*) FROM sweep_trials c JOIN sweep_trials t ON t.id = c.id WHERE c.sweep = '{confirm}' AND t.sweep = '{name}'"),
    );
    assert_eq!(
        shared, 2,
        "seed 0 of each confirmed configuration is the search's trial"
    );
    assert_eq!(integrity(db), "ok");
}

#[test]
fn tpe_with_asha_spends_its_budget_prunes_confirms_and_reproduces_itself() {
    let Some(real) = real_data("tpe_asha") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, tpe_spec("e2e-tpe", 12)).unwrap();
    let db = dir.path().join("a.sqlite");
    let out = common::run(dir.path(), &sweep_run(&spec, &db, "1", &real))
        .ok()
        .stderr_has(&[
            "+ up to 12 proposed by search[0].tpe",
            "pruned after epoch",
            "confirming its 2 best configurations with 2 seeds in sweep 'e2e-tpe.confirm'",
            "see the results with `fcnsweep results show e2e-tpe.confirm`",
        ]);
    assert!(
        out.stderr.contains("[12/12]"),
        "progress counts the budget:\n{out}"
    );
    check_search(&db, "e2e-tpe", 12);

    // The same file with --jobs 1 proposes, prunes and measures exactly the same.
    let again = dir.path().join("b.sqlite");
    common::run(dir.path(), &sweep_run(&spec, &again, "1", &real)).ok();
    let (a, b) = (outcome(&db, "e2e-tpe"), outcome(&again, "e2e-tpe"));
    assert_eq!(a.0, b.0, "the same proposals in the same order");
    assert!(a.1 == b.1, "{}", metric_diff(&b.1, &a.1));
    assert!(a.2 == b.2, "{}", metric_diff(&b.2, &a.2));

    // Running it again trains nothing: the budget is spent and the confirmation done.
    let before = common::epochs_trained(&db);
    common::run(dir.path(), &sweep_run(&spec, &db, "2", &real)).ok();
    assert_eq!(common::epochs_trained(&db), before);

    let status = common::run(dir.path(), &["sweep", "status", "e2e-tpe", "--db", s(&db)])
        .ok()
        .stdout_has(&[
            "budget    12/12 proposals of search[0].tpe made",
            "best      val_acc 0.",
            "confirm   sweep e2e-tpe.confirm: 4 of 4 trials finished",
        ]);
    assert!(status.stdout.contains(" pruned, "), "{status}");
    common::run(
        dir.path(),
        &["results", "show", "e2e-tpe.confirm", "--db", s(&db)],
    )
    .ok()
    .stdout_has(&["p_welch", "pruned"]);
    // The search's charts: its history and one chart per searched parameter.
    let plots = dir.path().join("plots");
    let out = common::run(
        dir.path(),
        &[
            "plot",
            "e2e-tpe",
            "--db",
            s(&db),
            "--out",
            s(&plots),
            "--format",
            "both",
        ],
    )
    .ok();
    for name in [
        "history",
        "param-lr",
        "param-optimizer",
        "param-hidden-depth",
        "param-hidden-width",
    ] {
        for ext in ["png", "svg"] {
            let f = plots.join(format!("{name}.{ext}"));
            assert!(f.is_file(), "{} missing:\n{out}", f.display());
        }
    }
    let svg = fs::read_to_string(plots.join("history.svg")).unwrap();
    assert!(svg.contains("best so far") && svg.contains("epochs trained by the search"));
}

#[test]
fn a_confirmation_with_validation_zero_retrains_the_best_on_every_training_image() {
    let Some(real) = real_data("tpe_confirm_full") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    let text = tpe_spec("e2e-full", 4).replace(
        "confirm: {top: 2, seeds: 2}",
        "confirm: {top: 1, seeds: 2, validation: 0}",
    );
    fs::write(&spec, text).unwrap();
    let db = dir.path().join("a.sqlite");
    common::run(dir.path(), &sweep_run(&spec, &db, "2", &real))
        .ok()
        .stderr_has(&["confirming its best configuration with 2 seeds"]);
    let best: String = open_ro(&db)
        .unwrap()
        .query_row(
            "SELECT config_hash FROM sweep_trials WHERE sweep = 'e2e-full' AND status = 'done' ORDER BY final_val_acc DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let confirmed = common::sweep_configs(&db, "e2e-full.confirm");
    assert_eq!(confirmed.len(), 1);
    assert_ne!(confirmed[0], best, "another split is another configuration");
    // The same configuration as the search's best but for the split.
    let params = |hash: &str| -> serde_json::Value {
        let json: String = open_ro(&db)
            .unwrap()
            .query_row("SELECT params FROM configs WHERE hash = ?1", [hash], |r| {
                r.get(0)
            })
            .unwrap();
        serde_json::from_str(&json).unwrap()
    };
    let (mut search, retrained) = (params(&best), params(&confirmed[0]));
    assert_eq!(retrained["train"]["validation"], 0);
    search["train"]["validation"] = retrained["train"]["validation"].clone();
    assert_eq!(search, retrained);
    assert_eq!(
        statuses(&db, "e2e-full.confirm"),
        vec![("done".to_string(), 2)]
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sweep_trials c JOIN sweep_trials t ON t.id = c.id WHERE c.sweep = 'e2e-full.confirm' AND t.sweep = 'e2e-full'"
        ),
        0,
        "nothing of the search is reused"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sweep_trials WHERE sweep = 'e2e-full.confirm' AND test_acc IS NOT NULL AND final_val_acc IS NULL"
        ),
        2,
        "tested, with no validation metrics"
    );
    common::run(
        dir.path(),
        &["results", "show", "e2e-full.confirm", "--db", s(&db)],
    )
    .ok()
    // One row, the reference (the search's best), on test accuracy; no validation column value.
    .stdout_has(&["test_acc", &format!("{}*  2", &confirmed[0][..10]), "base"]);
}

/// A TPE search of 12 proposals (4 at random) over widths from 8 to 256 and batch sizes from
/// 16 to 256 on 1500 training images, priced by `cost_aware` or not.
fn costly_spec(name: &str, cost_aware: bool) -> String {
    format!(
        "name: {name}\n\
         dataset: fashion-mnist\n\
         epochs: 2\n\
         validation: 500\n\
         train_subset: 1500\n\
         include_base: false\n\
         search:\n  - tpe:\n      trials: 12\n      seed: 3\n      n_startup_trials: 4\n      cost_aware: {cost_aware}\n      params:\n\
         \x20       lr: {{log_uniform: [1.0e-3, 0.3]}}\n\
         \x20       batch_size: {{choice: [16, 64, 256]}}\n\
         \x20       hidden: {{layers: {{depth: [1, 2], width: [8, 256]}}}}\n"
    )
}

/// The predicted training cost of each of a sweep's proposals, in proposal order.
fn proposal_costs(db: &Path, sweep: &str) -> Vec<f64> {
    let conn = open_ro(db).unwrap();
    let mut st = conn
        .prepare(
            "SELECT c.params FROM sweep_configs sc JOIN sweeps s ON s.id = sc.sweep_id
             JOIN configs c ON c.hash = sc.config_hash
             WHERE s.name = ?1 AND sc.proposal IS NOT NULL ORDER BY sc.proposal",
        )
        .unwrap();
    let rows = st
        .query_map([sweep], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|json| {
            let run: fcnsweep_model::RunConfig = serde_json::from_str(&json.unwrap()).unwrap();
            fcnsweep_model::cost::training_cost(&run, 784, 10)
        })
        .collect();
    rows
}

#[test]
fn cost_aware_tpe_spends_its_budget_on_cheaper_proposals_and_reproduces_itself() {
    let Some(real) = real_data("tpe_cost_aware") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let run = |name: &str, cost_aware: bool, db: &str| {
        let spec = dir.path().join(format!("{db}.yaml"));
        fs::write(&spec, costly_spec(name, cost_aware)).unwrap();
        let db = dir.path().join(format!("{db}.sqlite"));
        common::run(dir.path(), &sweep_run(&spec, &db, "1", &real))
            .ok()
            .stderr_has(&["+ up to 12 proposed by search[0].tpe"]);
        db
    };
    let plain = run("plain", false, "plain");
    let priced = run("priced", true, "priced");
    let (p, c) = (proposals(&plain, "plain"), proposals(&priced, "priced"));
    assert_eq!((p.len(), c.len()), (12, 12), "exactly the budget each");
    assert_eq!(p[..4], c[..4], "the start-up trials are drawn the same way");
    assert_ne!(p[4..], c[4..], "after start-up, pricing changes the choice");
    let after = |costs: Vec<f64>| costs[4..].iter().sum::<f64>();
    let (blind, aware) = (
        after(proposal_costs(&plain, "plain")),
        after(proposal_costs(&priced, "priced")),
    );
    assert!(
        aware < blind,
        "cost-aware proposals cost less to train: {aware:.3e} vs {blind:.3e}"
    );
    assert!(statuses(&priced, "priced").iter().all(|(s, _)| s == "done"));

    // With --jobs 1 the same file proposes and measures exactly the same again.
    let again = run("priced", true, "again");
    assert_eq!(proposals(&again, "priced"), c);
    let (a, b) = (
        sweep_metrics(&priced, "priced"),
        sweep_metrics(&again, "priced"),
    );
    assert!(a == b, "{}", metric_diff(&b, &a));
}

#[test]
fn two_processes_share_one_tpe_budget() {
    let Some(real) = real_data("tpe_two_processes") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, tpe_spec("e2e-tpe-two", 10)).unwrap();
    let db = dir.path().join("two.sqlite");
    let args = sweep_run(&spec, &db, "2", &real);
    let a = Proc::spawn(dir.path(), &args, dir.path(), "a");
    let b = Proc::spawn(dir.path(), &args, dir.path(), "b");
    let (a, b) = (a.wait(), b.wait());
    assert_eq!((a.code, b.code), (Some(0), Some(0)), "{a}\n{b}");
    check_search(&db, "e2e-tpe-two", 10);
    // Every trial ran once: no epoch trained twice, no trial row beyond the sweeps'.
    let trials = count(&db, "SELECT count(*) FROM trials");
    assert_eq!(trials, 10 + 2, "10 proposals and 2 more confirmation seeds");
    assert_eq!(
        common::epochs_trained(&db) as i64,
        count(&db, "SELECT count(*) FROM epochs")
    );
}

#[test]
fn an_epoch_budget_ends_a_tpe_search_and_its_confirmation_follows() {
    let Some(real) = real_data("tpe_epoch_budget") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    let name = "e2e-tpe-epochs";
    let text = tpe_spec(name, 30).replace("trials: 30", "trials: 30\n      epoch_budget: 20");
    fs::write(&spec, text).unwrap();
    let db = dir.path().join("epochs.sqlite");
    common::run(dir.path(), &sweep_run(&spec, &db, "2", &real)).ok();
    // No proposal once the search's trials held 20 epochs; the (at most two) trials running
    // then finish, 4 epochs at most each.
    let made = proposals(&db, name).len();
    assert!((5..30).contains(&made), "{made} proposals");
    let epochs = count(
        &db,
        &format!("SELECT sum(epochs_done) FROM sweep_trials WHERE sweep = '{name}'"),
    );
    assert!((20..28).contains(&epochs), "{epochs} epochs");
    let st = statuses(&db, name);
    assert!(
        st.iter().all(|(s, _)| s == "done" || s == "pruned"),
        "{st:?}"
    );
    // The search is over, so its two best were confirmed, and a second run has nothing to do.
    assert_eq!(
        statuses(&db, &format!("{name}.confirm")),
        vec![("done".to_string(), 4)]
    );
    common::run(dir.path(), &sweep_run(&spec, &db, "2", &real)).ok();
    assert_eq!(
        proposals(&db, name).len(),
        made,
        "no proposal past the epoch budget"
    );
    let db_arg = db.to_str().unwrap();
    common::run(dir.path(), &["sweep", "status", name, "--db", db_arg])
        .ok()
        .stdout_has(&[
            &format!("{made}/30 proposals of search[0].tpe made"),
            &format!("{epochs} epochs trained of the 20-epoch budget"),
        ]);
    assert_eq!(integrity(&db), "ok");
}

#[test]
fn kill_loop_over_tpe_with_asha_ends_as_the_uninterrupted_run() {
    const NAME: &str = "e2e-tpe-kill";
    let Some(real) = real_data("tpe_kill_loop") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, tpe_spec(NAME, 10)).unwrap();
    let reference_db = dir.path().join("reference.sqlite");
    common::run(dir.path(), &sweep_run(&spec, &reference_db, "1", &real)).ok();
    let reference = outcome(&reference_db, NAME);
    let reference_epochs = common::epochs_trained(&reference_db);
    let args = |verb: &str, db: &Path| sqlite_round_args(verb, &spec, NAME, db, &real);
    let verify = |db: &Path, kills: usize, schedule: &[String]| {
        check_search(db, NAME, 10);
        let got = outcome(db, NAME);
        assert_eq!(
            got.0,
            reference.0,
            "proposals differ:\n{}",
            schedule.join("\n")
        );
        assert!(
            got.1 == reference.1 && got.2 == reference.2,
            "metrics differ from the uninterrupted run:\n{}{}\n{}",
            metric_diff(&got.1, &reference.1),
            metric_diff(&got.2, &reference.2),
            schedule.join("\n")
        );
        let trained = common::epochs_trained(db);
        assert!(
            trained <= reference_epochs + kills,
            "{trained} epochs trained, {reference_epochs} uninterrupted, {kills} kills:\n{}",
            schedule.join("\n")
        );
        trained - reference_epochs
    };
    let started = Instant::now();
    let stats = kill_loop(|round| SqliteRound {
        name: NAME,
        db: dir.path().join(format!("round{round}.sqlite")),
        args: &args,
        dir: dir.path(),
        verify: &verify,
    });
    eprintln!(
        "tpe kill loop: seed {}, {} kills hit in {} cycles over {} rounds, {} inside a checkpoint write, {} epochs trained again, {:.1} s",
        stats.seed,
        stats.hits,
        stats.cycles,
        stats.rounds,
        stats.torn,
        stats.retrained,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn workers_on_postgres_share_one_tpe_budget_and_confirm_it() {
    const NAME: &str = "e2e-tpe-pg";
    let Some(real) = real_data("tpe_postgres") else {
        return;
    };
    let Some(pg) = crate::pg::Pg::fresh("tpe_postgres") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, tpe_spec(NAME, 10)).unwrap();
    common::run(
        dir.path(),
        &["sweep", "register", s(&spec), "--db", &pg.url],
    )
    .ok()
    .stderr_has(&["+ up to 10 proposed by search[0].tpe"]);
    let worker = [
        "worker",
        "--db",
        &pg.url,
        "--jobs",
        "2",
        "--idle-exit",
        "3",
        "--data-dir",
        s(&real),
    ];
    let a = Proc::spawn(dir.path(), &worker, dir.path(), "a");
    let b = Proc::spawn(dir.path(), &worker, dir.path(), "b");
    let (a, b) = (a.wait(), b.wait());
    assert_eq!((a.code, b.code), (Some(0), Some(0)), "{a}\n{b}");
    let mut c = pg.client();
    let one =
        |c: &mut postgres::Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        one(
            &mut c,
            "SELECT count(*) FROM sweep_configs WHERE proposal IS NOT NULL"
        ),
        10,
        "exactly the budget, proposed by four worker threads in two processes"
    );
    assert_eq!(
        one(&mut c, &format!("SELECT count(*) FROM sweep_trials WHERE sweep = '{NAME}' AND status NOT IN ('done', 'pruned')")),
        0
    );
    assert!(
        one(
            &mut c,
            &format!(
                "SELECT count(*) FROM sweep_trials WHERE sweep = '{NAME}' AND status = 'pruned'"
            )
        ) >= 2
    );
    assert_eq!(
        one(&mut c, &format!("SELECT count(*) FROM sweep_trials WHERE sweep = '{NAME}.confirm' AND status = 'done'")),
        4,
        "the two best, two seeds each, all done"
    );
    assert_eq!(
        one(&mut c, "SELECT count(*) FROM trials"),
        12,
        "10 proposals, 2 new seeds"
    );
    assert_eq!(
        one(&mut c, "SELECT sum(epochs_trained)::bigint FROM trials"),
        one(&mut c, "SELECT count(*) FROM epochs"),
        "no epoch trained twice"
    );
}

#[test]
fn kill_loop_over_tpe_on_postgres_ends_as_the_uninterrupted_run() {
    const NAME: &str = "e2e-tpe-pg-kill";
    let Some(real) = real_data("tpe_pg_kill_loop") else {
        return;
    };
    if crate::pg::Pg::fresh("tpe_pg_kill_probe").is_none() {
        return;
    }
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, tpe_spec(NAME, 8)).unwrap();
    let reference_db = dir.path().join("reference.sqlite");
    common::run(dir.path(), &sweep_run(&spec, &reference_db, "1", &real)).ok();
    let reference = outcome(&reference_db, NAME);
    let reference_epochs = common::epochs_trained(&reference_db);
    // `sweep run` and `fcnsweep worker` processes, killed at random, one at a time.
    let verify = |pg: &crate::pg::Pg, kills: usize, schedule: &[String]| {
        let mut c = pg.client();
        let proposals: Vec<(i64, String)> = c
            .query(
                "SELECT sc.proposal, sc.config_hash FROM sweep_configs sc JOIN sweeps s ON s.id = sc.sweep_id
                 WHERE s.name = $1 AND sc.proposal IS NOT NULL ORDER BY sc.proposal",
                &[&NAME],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            proposals,
            reference.0,
            "proposals differ:\n{}",
            schedule.join("\n")
        );
        let (search, confirm) = (
            pg.sweep_metrics(NAME),
            pg.sweep_metrics(&format!("{NAME}.confirm")),
        );
        assert!(
            search == reference.1 && confirm == reference.2,
            "metrics differ from the uninterrupted run:\n{}{}\n{}",
            metric_diff(&search, &reference.1),
            metric_diff(&confirm, &reference.2),
            schedule.join("\n")
        );
        let trained = pg.epochs_trained();
        assert!(
            trained <= reference_epochs + kills,
            "{trained} epochs trained, {reference_epochs} uninterrupted, {kills} kills:\n{}",
            schedule.join("\n")
        );
        trained - reference_epochs
    };
    let started = Instant::now();
    let stats = kill_loop(|_| crate::cluster::PgRound {
        name: NAME,
        pg: crate::pg::Pg::fresh("tpe_pg_kill").expect("the server is there"),
        spec: s(&spec),
        data: s(&real),
        dir: dir.path(),
        verify: &verify,
    });
    eprintln!(
        "tpe kill loop on postgres: seed {}, {} kills hit in {} cycles over {} rounds, {} inside a checkpoint write, {} epochs trained again, {:.1} s",
        stats.seed,
        stats.hits,
        stats.cycles,
        stats.rounds,
        stats.torn,
        stats.retrained,
        started.elapsed().as_secs_f64()
    );
}
