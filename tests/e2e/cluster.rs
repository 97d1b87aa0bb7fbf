//! Sweeps shared through PostgreSQL (the test server of `.ci/run`): several `fcnsweep worker`
//! processes, one of them on another "host" (its own UTS namespace) killed mid-trial, the
//! server restarted and connections terminated mid-sweep, a reader throughout; the kill loop
//! on PostgreSQL; `db copy` both ways; and the bad inputs a server brings.

use std::fs;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{
    self, heavy, real_data, s, small_sweep, sweep_metrics, tempdir, wait_until, Out, Proc,
    SMALL_CONFIGS,
};
use crate::faults::{kill_loop, metric_diff, KillRound};
use crate::pg::{restart_server, with_schema, CuttableLink, Pg};

/// `fcnsweep worker` against `url`, one trial at a time, quick to notice dead workers.
fn worker_args<'a>(url: &'a str, data: &'a str) -> Vec<&'a str> {
    vec![
        "worker",
        "--db",
        url,
        "--jobs",
        "1",
        "--stale-after",
        "5",
        "--idle-exit",
        "20",
        "--data-dir",
        data,
    ]
}

fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn workers_on_postgres_survive_a_dead_host_a_restart_and_cut_connections() {
    const NAME: &str = "e2e-cluster";
    const EPOCHS: u32 = 5;
    const SEEDS: usize = 6;
    let Some(real) = real_data("cluster") else {
        return;
    };
    let Some(pg) = Pg::fresh("cluster") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let (spec, reference) = common::reference_sweep(dir.path(), NAME, EPOCHS, 6000, SEEDS, &real);
    let trials = SMALL_CONFIGS * SEEDS;

    common::run(
        dir.path(),
        &["sweep", "register", s(&spec), "--db", &pg.url],
    )
    .ok()
    .stderr_has(&["18 trials", "fcnsweep worker --db"]);
    assert_eq!(pg.status_count("pending"), Some(trials as i64));

    let args = worker_args(&pg.url, s(&real));
    let mut workers: Vec<Proc> = (0..3)
        .map(|i| Proc::spawn(dir.path(), &args, dir.path(), &format!("worker{i}")))
        .collect();
    let remote = Proc::spawn_on_host(dir.path(), &args, dir.path(), "remote", "other-host");

    let stop = AtomicBool::new(false);
    let restarting = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let mut events = Vec::new();
    let (outs, reader_failures, remote_trial) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut failures = Vec::new();
            loop {
                let last = stop.load(Ordering::SeqCst);
                let out = common::run(
                    dir.path(),
                    &["results", "show", NAME, "--db", &pg.url, "--format", "csv"],
                );
                reads.fetch_add(1, Ordering::SeqCst);
                // A read that starts while the server is down is refused, and says so.
                let down = restarting.load(Ordering::SeqCst)
                    && out.stderr.contains("cannot reach the PostgreSQL server");
                if down {
                    refused.fetch_add(1, Ordering::SeqCst);
                } else if out.code != Some(0) {
                    failures.push(out.to_string());
                }
                if last {
                    return failures;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        // 1. The remote host's worker dies mid-trial: others take its trial over once its
        // heartbeat is stale.
        let mut remote_trial = None;
        let found = wait_until(Duration::from_secs(120), || {
            remote_trial = pg
                .client()
                .query_opt(
                    "SELECT id FROM trials WHERE status = 'running' AND host = 'other-host' AND epochs_done >= 1",
                    &[],
                )
                .ok()
                .flatten()
                .map(|r| r.get::<_, i64>(0));
            remote_trial.is_some()
        });
        assert!(found, "the remote worker never ran a trial");
        let (hit, _) = remote.kill();
        assert!(hit, "the remote worker had already exited");
        events.push(format!(
            "killed the remote worker in trial {remote_trial:?}"
        ));
        // 2. Two connections are terminated by the server.
        assert!(wait_until(Duration::from_secs(180), || pg
            .status_count("done")
            .unwrap_or(0)
            >= 5));
        let terminated = pg.terminate_connections(2);
        events.push(format!("terminated {terminated} connections"));
        // 3. The server restarts under the running sweep.
        assert!(wait_until(Duration::from_secs(180), || pg
            .status_count("done")
            .unwrap_or(0)
            >= 9));
        restarting.store(true, Ordering::SeqCst);
        restart_server();
        std::thread::sleep(Duration::from_millis(500));
        restarting.store(false, Ordering::SeqCst);
        events.push("restarted the server".into());
        let outs: Vec<_> = workers
            .drain(..)
            .map(|p| p.wait_timeout(Duration::from_secs(400)))
            .collect();
        stop.store(true, Ordering::SeqCst);
        (outs, reader.join().expect("reader thread"), remote_trial)
    });
    for out in &outs {
        assert_eq!(out.code, Some(0), "a worker failed:\n{out}");
    }
    assert!(
        reader_failures.is_empty(),
        "results show failed during the sweep:\n{}",
        reader_failures.join("\n")
    );
    let problems = pg.check_complete(NAME, trials, EPOCHS as i64);
    assert!(problems.is_empty(), "{problems:#?}\nevents: {events:?}");
    let got = pg.sweep_metrics(NAME);
    assert!(
        got == reference,
        "final metrics differ from the uninterrupted run; events: {events:?}"
    );
    let all = pg.all_trials();
    let duplicates = all.len() - trials;
    assert_eq!(duplicates, 0, "{all:#?}");
    let remote_row = all.iter().find(|t| Some(t.id) == remote_trial).unwrap();
    assert!(
        remote_row.attempts >= 2 && remote_row.status == "done",
        "the dead host's trial was not reclaimed: {remote_row:?}"
    );
    let stderr: String = outs.iter().map(|o| o.stderr.as_str()).collect();
    let reclaims = count_lines(&stderr, "recovered from a dead worker");
    let reconnects = count_lines(&stderr, "reconnected to the database");
    let finished = count_lines(&stderr, "finished config ");
    assert!(reclaims >= 1, "no worker reported the reclaim:\n{stderr}");
    assert!(reconnects >= 1, "no worker reconnected:\n{stderr}");
    // The study's question, answered by SQL alone.
    let summary =
        pg.psql("SELECT sweep, optimizer, lr, n, test_acc_mean, test_acc_sd FROM config_summary");
    assert_eq!(count_lines(&summary, NAME), SMALL_CONFIGS, "{summary}");
    assert!(summary.contains(&format!("| {SEEDS} |")), "{summary}");
    eprintln!(
        "cluster: 4 workers (1 on another host, killed), {trials} trials, {finished} finished by the survivors, {duplicates} duplicates, {reclaims} reclaims, {reconnects} reconnects, {} reads ({} refused while the server was down); {}",
        reads.load(Ordering::SeqCst),
        refused.load(Ordering::SeqCst),
        events.join("; ")
    );
}

const PG_KILL_NAME: &str = "e2e-pg-kill";

/// A kill-loop round on PostgreSQL: `sweep run` or `fcnsweep worker` of sweep `name` into a
/// fresh schema.
pub struct PgRound<'a> {
    /// The sweep.
    pub name: &'a str,
    /// The round's schema.
    pub pg: Pg,
    /// The spec file.
    pub spec: &'a str,
    /// The data folder.
    pub data: &'a str,
    /// Where processes run.
    pub dir: &'a std::path::Path,
    /// [`KillRound::verify`] of a schema.
    pub verify: &'a dyn Fn(&Pg, usize, &[String]) -> usize,
}

impl PgRound<'_> {
    fn run_args(&self) -> Vec<&str> {
        let url = self.pg.url.as_str();
        vec![
            "sweep",
            "run",
            self.spec,
            "--db",
            url,
            "-j",
            "1",
            "--data-dir",
            self.data,
            "--checkpoint-every",
            "0",
            // The kills are the test's: see the SQLite kill loop.
            "--max-attempts",
            "1000",
        ]
    }
}

impl KillRound for PgRound<'_> {
    fn registered(&self) -> bool {
        self.pg.status_count("pending").is_some()
    }

    fn spawn(&self, registered: bool, pick: u64) -> (&'static str, Proc) {
        let (verb, args) = if registered && pick == 1 {
            ("worker", {
                let mut a = worker_args(&self.pg.url, self.data);
                a.extend(["--checkpoint-every", "0", "--max-attempts", "1000"]);
                a
            })
        } else {
            ("run", self.run_args())
        };
        let pause = [("FCNSWEEP_FAULT_CHECKPOINT_PAUSE_MS", "20")];
        (
            verb,
            Proc::spawn_env(self.dir, &args, self.dir, "child", &pause),
        )
    }

    fn finish(&self, registered: bool) -> Out {
        if registered {
            let url = self.pg.url.as_str();
            common::run(
                self.dir,
                &[
                    "sweep",
                    "resume",
                    self.name,
                    "--db",
                    url,
                    "-j",
                    "1",
                    "--data-dir",
                    self.data,
                ],
            )
        } else {
            common::run(self.dir, &self.run_args())
        }
    }

    fn verify(&self, kills: usize, schedule: &[String]) -> usize {
        (self.verify)(&self.pg, kills, schedule)
    }

    fn torn_checkpoints(&self) -> usize {
        // The default checkpoint directory of a PostgreSQL store, under the working directory.
        fs::read_dir(self.dir.join("checkpoints"))
            .map(|d| {
                d.flatten()
                    .map(|e| common::temporary_files(&e.path()))
                    .sum()
            })
            .unwrap_or(0)
    }
}

#[test]
fn kill_loop_on_postgres_converges_to_the_uninterrupted_results() {
    const EPOCHS: u32 = 4;
    const SEEDS: usize = 4;
    let Some(real) = real_data("pg_kill_loop") else {
        return;
    };
    if Pg::fresh("pg_kill_probe").is_none() {
        return;
    }
    let _cpu = heavy();
    let dir = tempdir();
    let (spec, reference) =
        common::reference_sweep(dir.path(), PG_KILL_NAME, EPOCHS, 5000, SEEDS, &real);
    let trials = SMALL_CONFIGS * SEEDS;
    let verify = |pg: &Pg, kills: usize, schedule: &[String]| {
        let problems = pg.check_complete(PG_KILL_NAME, trials, EPOCHS as i64);
        assert!(
            problems.is_empty(),
            "{problems:#?}\n{}",
            schedule.join("\n")
        );
        let got = pg.sweep_metrics(PG_KILL_NAME);
        assert!(
            got == reference,
            "metrics differ from the uninterrupted run:\n{}\n{}",
            metric_diff(&got, &reference),
            schedule.join("\n")
        );
        let trained = pg.epochs_trained();
        let planned = trials * EPOCHS as usize;
        assert!(
            trained <= planned + kills,
            "{trained} epochs trained for {planned} planned with {kills} kills:\n{}",
            schedule.join("\n")
        );
        trained - planned
    };
    let started = Instant::now();
    let stats = kill_loop(|_| PgRound {
        name: PG_KILL_NAME,
        pg: Pg::fresh("pg_kill").expect("the server is there"),
        spec: s(&spec),
        data: s(&real),
        dir: dir.path(),
        verify: &verify,
    });
    eprintln!(
        "postgres kill loop: seed {}, {} kills hit a live process in {} cycles over {} rounds, {trials} trials per round, {} kills inside a checkpoint write, {} epochs trained again, {:.1} s",
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
fn db_copy_moves_a_study_to_postgres_and_back() {
    const NAME: &str = "e2e-copy";
    let Some(real) = real_data("db_copy") else {
        return;
    };
    let Some(pg) = Pg::fresh("db_copy") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep(NAME, 2, 1000)).unwrap();
    let local = dir.path().join("local.sqlite");
    common::run(dir.path(), &common::sweep_run(&spec, &local, "2", &real)).ok();
    let show = |db: &str| {
        common::run(
            dir.path(),
            &["results", "show", NAME, "--db", db, "--format", "csv"],
        )
        .ok()
        .stdout
    };
    let copied = common::run(dir.path(), &["db", "copy", s(&local), &pg.url]).ok();
    assert!(
        copied.stdout.contains("6 trials with 12 epochs written"),
        "{copied}"
    );
    assert_eq!(show(&pg.url), show(s(&local)));
    let again = common::run(dir.path(), &["db", "copy", s(&local), &pg.url]).ok();
    assert!(
        again
            .stdout
            .contains("0 trials with 0 epochs written, 6 already there"),
        "{again}"
    );
    let back = dir.path().join("back.sqlite");
    common::run(
        dir.path(),
        &["db", "copy", &pg.url, &format!("sqlite:{}", s(&back))],
    )
    .ok();
    assert_eq!(show(s(&back)), show(s(&local)));
    assert_eq!(sweep_metrics(&back, NAME), sweep_metrics(&local, NAME));
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn postgres_bad_inputs_are_refused_with_a_precise_message_and_nothing_written() {
    let Some(pg) = Pg::fresh("pg_bad") else {
        return;
    };
    // Not heavy, but no other test may restart the server meanwhile.
    let _server = heavy();
    let role = format!("fcnsweep_reader_{}", std::process::id());
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep("e2e-bad", 1, 100)).unwrap();
    let admin = pg.admin.clone();
    let (host_port, user) = {
        let rest = admin.split_once('@').unwrap().1;
        (rest.split('/').next().unwrap().to_string(), "postgres")
    };
    let port = closed_port();
    // A schema of fcnsweep's, with one finished sweep, for the read-only role.
    let owned = Pg::fresh("pg_bad_owned").unwrap();
    common::run(
        dir.path(),
        &["sweep", "register", s(&spec), "--db", &owned.url],
    )
    .ok();
    owned.admin_execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'r';
         GRANT USAGE ON SCHEMA {0} TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA {0} TO {role};",
        owned.schema
    ));
    let reader_url = with_schema(
        &format!("postgres://{role}:r@{host_port}/postgres"),
        &owned.schema,
    );
    // A schema whose `trials` table is another program's.
    let foreign = Pg::fresh("pg_bad_foreign").unwrap();
    foreign.admin_execute(&format!(
        "CREATE SCHEMA {0}; CREATE TABLE {0}.trials (x int); CREATE TABLE {0}.epochs (y int);",
        foreign.schema
    ));
    // A schema written by a newer fcnsweep.
    let newer = Pg::fresh("pg_bad_newer").unwrap();
    newer.admin_execute(&format!(
        "CREATE SCHEMA {0}; CREATE TABLE {0}.fcnsweep_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO {0}.fcnsweep_meta VALUES ('application', 'fcnsweep'), ('schema_version', '99');",
        newer.schema
    ));
    let wrong_password = admin.replacen(":fcnsweep-test@", ":wrong@", 1);
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "malformed URL",
            format!("postgres://{user}@{host_port}/db?connect_timeout=soon"),
            vec!["bad database URL".into(), "hint: --db takes".into()],
        ),
        (
            "bad port",
            format!("postgres://{user}@127.0.0.1:99999/db"),
            vec!["bad database URL".into()],
        ),
        (
            "closed port",
            format!("postgres://{user}@127.0.0.1:{port}/postgres"),
            vec![
                format!("cannot reach the PostgreSQL server at 127.0.0.1:{port}"),
                "hint: is the PostgreSQL server running".into(),
            ],
        ),
        (
            "wrong password",
            wrong_password.clone(),
            vec!["authentication failed for user 'postgres'".into()],
        ),
        (
            "missing database",
            format!("{}/no_such_db", admin.rsplit_once('/').unwrap().0),
            vec!["no database at".into(), "no_such_db".into()],
        ),
        (
            "foreign tables",
            foreign.url.clone(),
            vec!["belongs to another program".into(), "trials".into()],
        ),
        (
            "newer schema",
            newer.url.clone(),
            vec!["schema version 99, newer than this fcnsweep supports".into()],
        ),
        (
            "read-only role",
            reader_url.clone(),
            vec![
                "is read-only".into(),
                format!("role '{role}' may not write"),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (what, url, fragments) in &cases {
        let started = Instant::now();
        let out = common::run(dir.path(), &["sweep", "register", s(&spec), "--db", url]);
        let secs = started.elapsed().as_secs_f64();
        let mut bad = Vec::new();
        if out.code != Some(1) {
            bad.push(format!("exit {:?}", out.code));
        }
        for f in fragments {
            if !out.stderr.contains(f.as_str()) {
                bad.push(format!("stderr lacks {f:?}"));
            }
        }
        if out.stderr.contains("wrong@") || out.stderr.contains("fcnsweep-test") {
            bad.push("the password is printed".into());
        }
        if secs > 8.0 {
            bad.push(format!("took {secs:.1} s"));
        }
        if !bad.is_empty() {
            failures.push(format!("{what}: {}\n{out}", bad.join(", ")));
        }
    }
    // Nothing was written: the foreign and newer schemas are as they were, the owned one
    // still has one sweep, and the failed opens created no schema.
    let tables = |schema: &str| {
        pg.client()
            .query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
                &[&schema],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    };
    assert_eq!(tables(&foreign.schema), ["epochs", "trials"]);
    assert_eq!(tables(&newer.schema), ["fcnsweep_meta"]);
    assert_eq!(owned.status_count("pending"), Some(6));
    // The reader may still read.
    common::run(dir.path(), &["sweep", "list", "--db", &reader_url])
        .ok()
        .stdout_has(&["e2e-bad"]);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn bench_store_measures_both_backends_and_leaves_nothing_behind() {
    let Some(pg) = Pg::fresh("bench_store") else {
        return;
    };
    let _server = heavy();
    let dir = tempdir();
    let out = common::run(
        dir.path(),
        &[
            "bench",
            "store",
            "--postgres",
            &pg.admin,
            "--trials",
            "30",
            "--workers",
            "1,3",
            "--epochs",
            "5",
            "--json",
        ],
    )
    .ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
    let claims = report["claims"].as_array().unwrap();
    let runs: Vec<(String, u64, u64)> = claims
        .iter()
        .map(|c| {
            (
                c["backend"].as_str().unwrap().to_string(),
                c["workers"].as_u64().unwrap(),
                c["trials"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            ("sqlite".to_string(), 1, 30),
            ("sqlite".to_string(), 3, 30),
            ("postgres".to_string(), 1, 30),
            ("postgres".to_string(), 3, 30)
        ]
    );
    for c in claims {
        assert!(c["claims_per_second"].as_f64().unwrap() > 0.0, "{c}");
    }
    let commits = report["epoch_commits"].as_array().unwrap();
    assert_eq!(commits.len(), 2);
    for e in commits {
        assert_eq!(e["epochs"], 5);
        assert!(
            e["p95_ms"].as_f64().unwrap() >= e["p50_ms"].as_f64().unwrap(),
            "{e}"
        );
    }
    let left: i64 = pg
        .client()
        .query_one(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'fcnsweep_scratch_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "scratch schemas left behind");
}

#[test]
fn a_worker_survives_a_cut_network_mid_sweep() {
    const NAME: &str = "e2e-cut";
    const EPOCHS: u32 = 4;
    const SEEDS: usize = 4;
    let Some(real) = real_data("cut_network") else {
        return;
    };
    let Some(pg) = Pg::fresh("cut_network") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let (spec, reference) = common::reference_sweep(dir.path(), NAME, EPOCHS, 5000, SEEDS, &real);
    common::run(
        dir.path(),
        &["sweep", "register", s(&spec), "--db", &pg.url],
    )
    .ok();
    // The worker reaches the server through a link the test can cut.
    let upstream = pg
        .url
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let link = CuttableLink::new(upstream.clone());
    let url = pg
        .url
        .replacen(&upstream, &format!("127.0.0.1:{}", link.port), 1);
    let worker = Proc::spawn(
        dir.path(),
        &worker_args(&url, s(&real)),
        dir.path(),
        "worker",
    );
    assert!(wait_until(Duration::from_secs(120), || pg
        .status_count("done")
        .unwrap_or(0)
        >= 3));
    let cut = link.cut();
    std::thread::sleep(Duration::from_secs(3));
    link.restore();
    let out = worker.wait_timeout(Duration::from_secs(300));
    assert_eq!(
        out.code,
        Some(0),
        "the worker did not survive the cut:\n{out}"
    );
    let reconnects = count_lines(&out.stderr, "reconnected to the database");
    assert!(reconnects >= 1, "{out}");
    let problems = pg.check_complete(NAME, SMALL_CONFIGS * SEEDS, EPOCHS as i64);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        pg.sweep_metrics(NAME) == reference,
        "metrics differ after the cut"
    );
    eprintln!(
        "cut network: {cut} connections cut for 3 s, {reconnects} reconnects, {} trials done once",
        SMALL_CONFIGS * SEEDS
    );
}
