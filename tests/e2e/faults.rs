//! Fault injection: SIGKILL at random moments, concurrent writers with a reader, Ctrl-C.
//!
//! The kill loop's schedule is seeded: the seed and every kill are printed when it fails.
//! `FCNSWEEP_KILL_SEED=N` replays a schedule; `FCNSWEEP_KILL_POINTS=N` sets how many kills
//! must hit a live process (default 20; use 100+ for a long local run).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{
    self, check_complete, epochs_by_trial, has_sweep, heavy, real_data, s, small_sweep,
    sweep_metrics, tempdir, wait_until, Metrics, Out, Proc, Rng, SMALL_CONFIGS, SMALL_SEEDS,
};

/// One round of a kill loop: a fresh database, the commands that train into it, and the check
/// that a finished round matches the uninterrupted run.
pub trait KillRound {
    /// Whether the sweep is registered in this round's database yet.
    fn registered(&self) -> bool;
    /// Starts a process that trains (`run` when nothing is registered; after that, whichever
    /// `pick` chooses among the round's commands); returns its name and the process.
    fn spawn(&self, registered: bool, pick: u64) -> (&'static str, Proc);
    /// Runs a process to the end of the sweep, after the last kill.
    fn finish(&self, registered: bool) -> Out;
    /// Unfinished (temporary) checkpoint files in the round's checkpoint directory: one more
    /// after a kill means the kill landed inside a checkpoint write.
    fn torn_checkpoints(&self) -> usize;
    /// Panics, with `schedule`, unless the round's database is complete and equal to the
    /// uninterrupted run, and no more than one epoch per kill (`kills` of them hit this
    /// round) was trained again; returns the epochs trained again.
    fn verify(&self, kills: usize, schedule: &[String]) -> usize;
}

/// What a kill loop did.
pub struct KillStats {
    /// The schedule's seed.
    pub seed: u64,
    /// Kills that hit a live process.
    pub hits: usize,
    /// Processes started.
    pub cycles: usize,
    /// Databases used (a process that finishes the sweep before its kill ends a round).
    pub rounds: usize,
    /// Epochs trained beyond the uninterrupted count, over all rounds.
    pub retrained: usize,
    /// Kills that landed inside a checkpoint write.
    pub torn: usize,
}

/// Starts processes and SIGKILLs each after a random 50-1500 ms until `FCNSWEEP_KILL_POINTS`
/// (default 20) kills have hit a live process, at least one of them inside a checkpoint
/// write, then lets one finish and verifies the round.
/// The schedule is seeded (`FCNSWEEP_KILL_SEED` replays one) and printed when it fails.
pub fn kill_loop<R: KillRound>(mut new_round: impl FnMut(usize) -> R) -> KillStats {
    let seed = env_u64("FCNSWEEP_KILL_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let points = env_u64("FCNSWEEP_KILL_POINTS").unwrap_or(20) as usize;
    let mut rng = Rng::new(seed);
    let mut schedule = vec![format!(
        "replay with FCNSWEEP_KILL_SEED={seed} FCNSWEEP_KILL_POINTS={points}"
    )];
    let (mut hits, mut cycles, mut rounds, mut retrained, mut torn) = (0, 0, 0, 0, 0);
    'rounds: loop {
        rounds += 1;
        let round = new_round(rounds);
        let mut round_hits = 0;
        loop {
            let registered = round.registered();
            if hits >= points && torn >= 1 {
                let out = round.finish(registered);
                schedule.push(format!("round {rounds}: final run: exit {:?}", out.code));
                assert_eq!(
                    out.code,
                    Some(0),
                    "final run failed:\n{out}\n{}",
                    schedule.join("\n")
                );
                retrained += round.verify(round_hits, &schedule);
                break 'rounds;
            }
            cycles += 1;
            let (verb, p) = round.spawn(registered, rng.range(0, 1));
            let delay = rng.range(50, 1500);
            let before = round.torn_checkpoints();
            std::thread::sleep(Duration::from_millis(delay));
            let (hit, out) = p.kill();
            let in_write = round.torn_checkpoints() > before;
            torn += usize::from(in_write);
            schedule.push(format!(
                "round {rounds} cycle {cycles}: {verb}, kill after {delay} ms: {}{}",
                if hit { "hit" } else { "already exited" },
                if in_write {
                    " (inside a checkpoint write)"
                } else {
                    ""
                }
            ));
            if hit {
                hits += 1;
                round_hits += 1;
                continue;
            }
            assert_eq!(
                out.code,
                Some(0),
                "a {verb} exited on its own with an error:\n{out}\n{}",
                schedule.join("\n")
            );
            // It finished the sweep before the kill: check it, then start a fresh round.
            retrained += round.verify(round_hits, &schedule);
            continue 'rounds;
        }
    }
    KillStats {
        seed,
        hits,
        cycles,
        rounds,
        retrained,
        torn,
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a non-negative integer")),
    )
}

/// Differences between two metric maps, for messages.
pub fn metric_diff(got: &Metrics, want: &Metrics) -> String {
    let mut out = String::new();
    for (k, w) in want {
        match got.get(k) {
            None => writeln!(out, "{k:?}: missing").unwrap(),
            Some(g) if g != w => writeln!(out, "{k:?}: got {g:?}\n  want {w:?}").unwrap(),
            _ => {}
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        writeln!(out, "{k:?}: unexpected").unwrap();
    }
    out
}

/// A kill-loop round on SQLite: `sweep run` or `sweep resume` of sweep `name` into a fresh
/// file.
pub struct SqliteRound<'a> {
    /// The sweep.
    pub name: &'a str,
    /// The round's database.
    pub db: std::path::PathBuf,
    /// The arguments of `run` or `resume` into a database.
    pub args: &'a dyn Fn(&str, &Path) -> Vec<String>,
    /// Where processes run.
    pub dir: &'a Path,
    /// [`KillRound::verify`] of a database.
    pub verify: &'a dyn Fn(&Path, usize, &[String]) -> usize,
}

impl KillRound for SqliteRound<'_> {
    fn registered(&self) -> bool {
        has_sweep(&self.db, self.name)
    }

    fn spawn(&self, registered: bool, pick: u64) -> (&'static str, Proc) {
        let verb = if registered && pick == 1 {
            "resume"
        } else {
            "run"
        };
        let a = (self.args)(verb, &self.db);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        // Checkpoint writes held open 20 ms, so that some kills land inside them.
        let pause = [("FCNSWEEP_FAULT_CHECKPOINT_PAUSE_MS", "20")];
        (
            verb,
            Proc::spawn_env(self.dir, &a, self.dir, "child", &pause),
        )
    }

    fn finish(&self, registered: bool) -> Out {
        let a = (self.args)(if registered { "resume" } else { "run" }, &self.db);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        common::run(self.dir, &a)
    }

    fn verify(&self, kills: usize, schedule: &[String]) -> usize {
        (self.verify)(&self.db, kills, schedule)
    }

    fn torn_checkpoints(&self) -> usize {
        let dir = self
            .db
            .parent()
            .unwrap()
            .join("checkpoints")
            .join(self.db.file_stem().unwrap());
        common::temporary_files(&dir)
    }
}

const KILL_NAME: &str = "e2e-kill-loop";

/// The command of a SQLite kill-loop round: `sweep run SPEC` or `sweep resume NAME` into
/// `db`, one job, a checkpoint after every epoch.
pub fn sqlite_round_args(
    verb: &str,
    spec: &Path,
    name: &str,
    db: &Path,
    data: &Path,
) -> Vec<String> {
    let target = if verb == "run" { s(spec) } else { name };
    [
        "sweep",
        verb,
        target,
        "--db",
        s(db),
        "-j",
        "1",
        "--data-dir",
        s(data),
        "--checkpoint-every",
        "0",
        // The kills are the test's, not the trials': a trial killed three times before its
        // first checkpoint must not be failed as a trial that kills its process.
        "--max-attempts",
        "1000",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn kill_loop_converges_to_the_uninterrupted_results() {
    const EPOCHS: u32 = 4;
    const SEEDS: usize = 4;
    let Some(real) = real_data("kill_loop") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    // 12 trials of 0.15-0.3 s: kills land in start-up, mid-epoch, in commits and in
    // checkpoint writes, and a round takes several kills to finish.
    let (spec, reference) =
        common::reference_sweep(dir.path(), KILL_NAME, EPOCHS, 5000, SEEDS, &real);
    let args = |verb: &str, db: &Path| sqlite_round_args(verb, &spec, KILL_NAME, db, &real);

    let verify = |db: &Path, kills: usize, schedule: &[String]| {
        let problems = check_complete(db, KILL_NAME, SMALL_CONFIGS, SEEDS, EPOCHS as i64);
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}\n{}",
            db.display(),
            schedule.join("\n")
        );
        let got = sweep_metrics(db, KILL_NAME);
        assert!(
            got == reference,
            "{}: metrics differ from the uninterrupted run:\n{}\n{}",
            db.display(),
            metric_diff(&got, &reference),
            schedule.join("\n")
        );
        let trained = common::epochs_trained(db);
        let planned = SMALL_CONFIGS * SEEDS * EPOCHS as usize;
        assert!(
            trained <= planned + kills,
            "{trained} epochs trained for {planned} planned with {kills} kills:\n{}",
            schedule.join("\n")
        );
        trained - planned
    };
    let started = Instant::now();
    let stats = kill_loop(|round| SqliteRound {
        name: KILL_NAME,
        db: dir.path().join(format!("round{round}.sqlite")),
        args: &args,
        dir: dir.path(),
        verify: &verify,
    });
    eprintln!(
        "kill loop: seed {}, {} kills hit a live process in {} cycles over {} rounds, {} trials per round, {} kills inside a checkpoint write, {} epochs trained again, {:.1} s",
        stats.seed,
        stats.hits,
        stats.cycles,
        stats.rounds,
        SMALL_CONFIGS * SEEDS,
        stats.torn,
        stats.retrained,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn three_writers_and_a_reader_share_one_database() {
    const NAME: &str = "e2e-conc";
    const EPOCHS: u32 = 3;
    const SEEDS: usize = 4;
    let Some(real) = real_data("three_writers") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        small_sweep(NAME, EPOCHS, 1000).replace("seeds: 2", &format!("seeds: {SEEDS}")),
    )
    .unwrap();
    let db = dir.path().join("conc.sqlite");
    let run = common::sweep_run(&spec, &db, "1", &real);
    let writers: Vec<Proc> = (0..3)
        .map(|i| Proc::spawn(dir.path(), &run, dir.path(), &format!("writer{i}")))
        .collect();
    let stop = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let (writer_outs, reader_failures) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut failures = Vec::new();
            if !wait_until(Duration::from_secs(120), || has_sweep(&db, NAME)) {
                failures.push("the sweep was never registered".to_string());
                return failures;
            }
            loop {
                // One more read after the writers are done.
                let last = stop.load(Ordering::SeqCst);
                let out = common::run(
                    dir.path(),
                    &["results", "show", NAME, "--db", s(&db), "--format", "csv"],
                );
                reads.fetch_add(1, Ordering::SeqCst);
                if out.code != Some(0) || out.stderr.to_lowercase().contains("locked") {
                    failures.push(out.to_string());
                }
                if last {
                    return failures;
                }
            }
        });
        let outs: Vec<_> = writers
            .into_iter()
            .map(|p| p.wait_timeout(Duration::from_secs(240)))
            .collect();
        stop.store(true, Ordering::SeqCst);
        (outs, reader.join().expect("reader thread"))
    });
    for out in &writer_outs {
        assert_eq!(out.code, Some(0), "a writer failed:\n{out}");
        assert!(
            !out.stderr.to_lowercase().contains("database is locked"),
            "a writer saw a locked database:\n{out}"
        );
    }
    assert!(
        reader_failures.is_empty(),
        "results show failed while the sweep ran:\n{}",
        reader_failures.join("\n")
    );
    let trials = SMALL_CONFIGS * SEEDS;
    let trained: usize = writer_outs
        .iter()
        .map(|o| {
            o.stderr
                .lines()
                .filter(|l| l.starts_with('[') && l.contains("] config "))
                .count()
        })
        .sum();
    let all = common::all_trials(&db);
    let duplicates = all.len() - trials.min(all.len());
    assert_eq!(trained, trials, "trials trained across the three writers");
    assert_eq!(duplicates, 0, "duplicate trials: {all:#?}");
    for t in &all {
        assert_eq!((t.status.as_str(), t.attempts), ("done", 1), "{t:?}");
    }
    let problems = check_complete(&db, NAME, SMALL_CONFIGS, SEEDS, EPOCHS as i64);
    assert!(problems.is_empty(), "{problems:#?}");
    eprintln!(
        "concurrency: 3 writers, {trials} trials, {trained} trained, {duplicates} duplicates, {} reads",
        reads.load(Ordering::SeqCst)
    );
}

#[test]
fn ctrl_c_returns_running_trials_to_pending_and_resume_finishes() {
    const NAME: &str = "e2e-int";
    const EPOCHS: u32 = 4;
    let Some(real) = real_data("ctrl_c") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, small_sweep(NAME, EPOCHS, 2000)).unwrap();
    let db = dir.path().join("int.sqlite");
    let run = common::sweep_run(&spec, &db, "1", &real);
    let p = Proc::spawn(dir.path(), &run, dir.path(), "run");
    assert!(
        wait_until(Duration::from_secs(120), || common::epoch_count(&db)
            .unwrap_or(0)
            >= 1),
        "no epoch stored within 120 s"
    );
    p.sigint();
    let out = p.wait_timeout(Duration::from_secs(60));
    assert_eq!(out.code, Some(130), "Ctrl-C must exit 130:\n{out}");
    assert!(
        out.stderr
            .contains(&format!("fcnsweep sweep resume {NAME}"))
            && out.stderr.contains("returned to pending"),
        "no resume hint:\n{out}"
    );
    let trials = common::all_trials(&db);
    let epochs = epochs_by_trial(&db);
    assert!(
        trials
            .iter()
            .all(|t| t.status == "done" || t.status == "pending"),
        "trials left running or failed: {trials:#?}"
    );
    let pending: Vec<_> = trials.iter().filter(|t| t.status == "pending").collect();
    assert!(
        !pending.is_empty(),
        "the interrupt came after the sweep finished:\n{out}"
    );
    for t in &pending {
        assert!(
            !epochs.contains_key(&t.id),
            "pending trial {} kept partial epochs {:?}",
            t.id,
            epochs[&t.id]
        );
        assert_eq!(t.epochs_done, 0, "{t:?}");
    }
    common::run(
        dir.path(),
        &[
            "sweep",
            "resume",
            NAME,
            "--db",
            s(&db),
            "-j",
            "1",
            "--data-dir",
            s(&real),
        ],
    )
    .ok();
    let problems = check_complete(&db, NAME, SMALL_CONFIGS, SMALL_SEEDS, EPOCHS as i64);
    assert!(problems.is_empty(), "{problems:#?}");
}

/// A running sweep keeps its shared lock on the database file, so that another program that
/// opens the database and closes it (the `sqlite3` shell) neither deletes the sweep's WAL
/// nor stops seeing its new epochs. Both happened while the sweep process read the file's
/// header with `std::fs`: closing that descriptor released the process's SQLite locks.
#[test]
fn a_closing_reader_leaves_a_running_sweep_its_wal() {
    const NAME: &str = "e2e-wal";
    let Some(real) = real_data("closing_reader") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    // Long enough to still run when the reader is done; interrupted below.
    fs::write(&spec, small_sweep(NAME, 10_000, 2000)).unwrap();
    let db = dir.path().join("wal.sqlite");
    let wal = dir.path().join("wal.sqlite-wal");
    let run = common::sweep_run(&spec, &db, "2", &real);
    let p = Proc::spawn(dir.path(), &run, dir.path(), "run");
    assert!(
        wait_until(Duration::from_secs(120), || common::epoch_count(&db)
            .unwrap_or(0)
            >= 1),
        "no epoch stored within 120 s"
    );
    assert!(wal.exists(), "a running sweep has a WAL");
    // A connection in exclusive locking mode reads only with an exclusive lock on the file:
    // refused while the sweep process holds its shared lock, as it must the whole run.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .unwrap();
        let read = conn.query_row("SELECT count(*) FROM epochs", [], |r| r.get::<_, i64>(0));
        match read {
            Err(rusqlite::Error::SqliteFailure(e, _)) => assert_eq!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy,
                "exclusive read refused for another reason: {e}"
            ),
            other => panic!(
                "another process got an exclusive lock on the database of a running sweep: {other:?}"
            ),
        }
    }
    // A reader that closes (as the `sqlite3` shell does) must leave the WAL in place.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM epochs", [], |r| r.get(0))
            .unwrap();
        assert!(n >= 1);
    }
    assert!(
        wal.exists(),
        "the reader's close deleted the running sweep's WAL"
    );
    let seen = common::epoch_count(&db).unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(60), || common::epoch_count(&db)
            .unwrap_or(0)
            > seen + 2),
        "new epochs of the running sweep are not visible after the reader closed"
    );
    p.sigint();
    let out = p.wait_timeout(Duration::from_secs(60));
    assert_eq!(out.code, Some(130), "{out}");
    assert_eq!(common::integrity(&db), "ok");
}

#[test]
fn a_trial_that_kills_its_process_fails_after_max_attempts_and_the_rest_finish() {
    const NAME: &str = "e2e-poison";
    let Some(real) = real_data("poison") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let spec = dir.path().join("spec.yaml");
    // The spec's max_attempts: 2 (the flag's default would be 3).
    fs::write(
        &spec,
        format!("{}max_attempts: 2\n", small_sweep(NAME, 2, 1000)),
    )
    .unwrap();
    let db = dir.path().join("poison.sqlite");
    // Register, and find the base configuration: the first claimed, so each run dies at once.
    common::run(dir.path(), &["sweep", "register", s(&spec), "--db", s(&db)]).ok();
    let poison = common::sweep_configs(&db, NAME)[0].clone();
    let run = common::sweep_run(&spec, &db, "1", &real);
    let mut deaths = 0;
    let last = loop {
        let out = common::run_env(
            dir.path(),
            &run,
            &[("FCNSWEEP_FAULT_ABORT_CONFIG", &poison[..12])],
        );
        if out.signal.is_some() {
            deaths += 1;
            // Two seeds of the poison configuration, two deaths each.
            assert!(deaths <= 4, "a poison trial ran a third time:\n{out}");
            continue;
        }
        break out;
    };
    assert_eq!(deaths, 4, "{last}");
    last.code(1)
        .stderr_has(&["2 trials failed", "--retry-failed"]);
    let trials = common::sweep_trials(&db, NAME);
    for t in &trials {
        let want = if t.config_hash == poison {
            "failed"
        } else {
            "done"
        };
        assert_eq!(t.status, want, "{t:?}");
    }
    let out = common::run(
        dir.path(),
        &["results", "trials", NAME, "--db", s(&db), "--format", "csv"],
    )
    .ok();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    let deaths = format!("died 2 times without progress ({host} at epoch 1; {host} at epoch 1)");
    assert_eq!(out.stdout.matches(&deaths).count(), 2, "{out}");
    // Without the fault, --retry-failed finishes it.
    let mut retry: Vec<&str> = run.to_vec();
    retry.push("--retry-failed");
    common::run(dir.path(), &retry).ok();
    assert!(common::sweep_trials(&db, NAME)
        .iter()
        .all(|t| t.status == "done"));
}
