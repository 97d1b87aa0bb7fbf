//! The test PostgreSQL server (`FCNSWEEP_TEST_PG`, started by `.ci/run`): a fresh schema per
//! test, read-only looks at its tables with the same SQL as the SQLite helpers, `psql`, and
//! the faults a cluster sees (a restarted server, terminated connections).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::{Client, NoTls};

use crate::common::{check_rows, metrics_of, EpochMetrics, Metrics, TrialRow, TRIAL_COLUMNS};

static FRESH: AtomicUsize = AtomicUsize::new(0);

/// One test's schema on the test server.
pub struct Pg {
    /// The superuser URL of the server (no schema).
    pub admin: String,
    /// The URL of this test's schema, for `--db`.
    pub url: String,
    /// The schema's name.
    pub schema: String,
}

impl Pg {
    /// A fresh schema for `test`, or `None` (after printing why) without a test server;
    /// under `CI` a missing server fails the test.
    pub fn fresh(test: &str) -> Option<Pg> {
        let admin = match std::env::var("FCNSWEEP_TEST_PG") {
            Ok(u) if !u.is_empty() => u,
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "{test}: CI is set but FCNSWEEP_TEST_PG is not: .ci/run must start PostgreSQL"
                )
            }
            _ => {
                eprintln!("{test}: skipped: FCNSWEEP_TEST_PG is not set");
                return None;
            }
        };
        let n = FRESH.fetch_add(1, Ordering::Relaxed);
        let schema = format!(
            "e2e_{}_{}_{n}",
            test.replace(['-', ':'], "_"),
            std::process::id()
        );
        let url = with_schema(&admin, &schema);
        Some(Pg { admin, url, schema })
    }

    /// A connection to this test's schema.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).expect("connect to the test server")
    }

    /// Whether fcnsweep's tables exist in the schema yet.
    pub fn has_tables(&self) -> bool {
        self.client()
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'trials'",
                &[&self.schema],
            )
            .map(|r| r.get::<_, i64>(0) > 0)
            .unwrap_or(false)
    }

    /// Trials with `status` (`None` before the tables exist).
    pub fn status_count(&self, status: &str) -> Option<i64> {
        if !self.has_tables() {
            return None;
        }
        self.client()
            .query_one("SELECT count(*) FROM trials WHERE status = $1", &[&status])
            .ok()
            .map(|r| r.get(0))
    }

    /// Every trial row, by id.
    pub fn all_trials(&self) -> Vec<TrialRow> {
        let rows = self
            .client()
            .query(
                &format!("SELECT {TRIAL_COLUMNS} FROM trials ORDER BY id"),
                &[],
            )
            .expect("query trials");
        rows.iter().map(trial_row).collect()
    }

    /// The current trials of one sweep, by config hash and seed.
    pub fn sweep_trials(&self, sweep: &str) -> Vec<TrialRow> {
        let rows = self
            .client()
            .query(
                &format!("SELECT {TRIAL_COLUMNS} FROM sweep_trials WHERE sweep = $1 ORDER BY config_hash, seed"),
                &[&sweep],
            )
            .expect("query sweep_trials");
        rows.iter().map(trial_row).collect()
    }

    /// Epoch rows of each trial id, in epoch order.
    pub fn epochs_by_trial(&self) -> BTreeMap<i64, Vec<EpochMetrics>> {
        let mut map: BTreeMap<i64, Vec<EpochMetrics>> = BTreeMap::new();
        for r in self
            .client()
            .query(
                "SELECT trial_id, epoch, train_loss, train_acc, val_loss, val_acc FROM epochs ORDER BY trial_id, epoch",
                &[],
            )
            .expect("query epochs")
        {
            map.entry(r.get(0))
                .or_default()
                .push((r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)));
        }
        map
    }

    /// [`crate::common::check_complete`] on this schema.
    pub fn check_complete(&self, sweep: &str, trials: usize, epochs: i64) -> Vec<String> {
        check_rows(
            &self.sweep_trials(sweep),
            &self.all_trials(),
            &self.epochs_by_trial(),
            trials,
            epochs,
        )
    }

    /// Epochs committed over all attempts of every trial.
    pub fn epochs_trained(&self) -> usize {
        self.client()
            .query_one(
                "SELECT coalesce(sum(epochs_trained), 0)::bigint FROM trials",
                &[],
            )
            .expect("sum epochs_trained")
            .get::<_, i64>(0) as usize
    }

    /// [`crate::common::sweep_metrics`] on this schema.
    pub fn sweep_metrics(&self, sweep: &str) -> Metrics {
        metrics_of(self.sweep_trials(sweep), &self.epochs_by_trial())
    }

    /// `psql URL -c SQL`'s output (aligned, with headers).
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args([self.url.as_str(), "-X", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql -c {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs SQL as the superuser.
    pub fn admin_execute(&self, sql: &str) {
        Client::connect(&self.admin, NoTls)
            .expect("connect as superuser")
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// Terminates up to `n` of fcnsweep's connections to this schema's database; returns how
    /// many it terminated.
    pub fn terminate_connections(&self, n: i64) -> i64 {
        let mut c = Client::connect(&self.admin, NoTls).expect("connect as superuser");
        let rows = c
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = 'fcnsweep' AND pid <> pg_backend_pid()
                 ORDER BY backend_start LIMIT $1",
                &[&n],
            )
            .expect("terminate backends");
        rows.iter().filter(|r| r.get::<_, bool>(0)).count() as i64
    }
}

/// `url` with `search_path` set to `schema` (libpq's `options`).
pub fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

/// Restarts the test server (fast shutdown: open connections are cut) and waits for it.
pub fn restart_server() {
    let cmd = std::env::var("FCNSWEEP_TEST_PG_RESTART")
        .expect("FCNSWEEP_TEST_PG_RESTART names the command that restarts the test server");
    let out = Command::new("sh")
        .args(["-c", &cmd])
        .output()
        .expect("run the restart command");
    assert!(
        out.status.success(),
        "restarting the server failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn trial_row(r: &postgres::Row) -> TrialRow {
    TrialRow {
        id: r.get(0),
        config_hash: r.get(1),
        seed: r.get(2),
        status: r.get(3),
        superseded: r.get(4),
        attempts: r.get(5),
        epochs_done: r.get(6),
        test_acc: r.get(7),
        test_loss: r.get(8),
        final_train_loss: r.get(9),
        final_val_loss: r.get(10),
        final_val_acc: r.get(11),
    }
}

/// A TCP forwarder on 127.0.0.1 in front of the test server, whose network can be cut: every
/// open connection is shut down and new ones are refused until it is restored. A cut network
/// between a worker and its database, on loopback only.
pub struct CuttableLink {
    /// The port it listens on.
    pub port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl CuttableLink {
    /// Forwards to `upstream` (`host:port`).
    pub fn new(upstream: String) -> Self {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the link");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let (c, s, o) = (cut.clone(), stop.clone(), open.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                };
                if c.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut list = o.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self {
            port,
            cut,
            open,
            stop,
        }
    }

    /// Cuts the network: shuts down every connection and refuses new ones.
    pub fn cut(&self) -> usize {
        self.cut.store(true, Ordering::SeqCst);
        let mut list = self.open.lock().unwrap();
        for s in list.iter() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        let n = list.len() / 2;
        list.clear();
        n
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
    }
}
