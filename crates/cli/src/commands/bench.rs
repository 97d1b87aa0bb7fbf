//! `fcnsweep bench`: prints the epoch-speed and sweep-throughput tables.

use std::process::ExitCode;

use fcnsweep_data::{resolve_data_dir, DatasetName};
use fcnsweep_search::table::{Cell, Format, Table};

use fcnsweep_store::Location;

use crate::bench::{bench_epochs, bench_store, bench_sweep, FreshDb};
use crate::cli::DataDirArg;
use crate::commands::sweep::single_threaded_trials;

/// Runs the benchmark and prints its report.
pub fn run(
    dataset: DatasetName,
    epochs: usize,
    sweep: bool,
    jobs: usize,
    json: bool,
    dir: &DataDirArg,
) -> anyhow::Result<ExitCode> {
    let data_dir = resolve_data_dir(dir.data_dir.as_deref());
    let (data, mut report) = bench_epochs(&data_dir, dataset, epochs, |m| eprintln!("bench: {m}"))?;
    if sweep {
        single_threaded_trials();
        let scratch = std::env::temp_dir().join(format!("fcnsweep-bench-{}", std::process::id()));
        std::fs::create_dir_all(&scratch)?;
        for j in [1, jobs] {
            eprintln!("bench: sweep throughput with --jobs {j}");
            report.sweeps.push(bench_sweep(&scratch, data.clone(), j)?);
        }
        let _ = std::fs::remove_dir_all(&scratch);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: decode {:.2} s; matrix-multiply peak {:.1} GFLOP/s on {} threads",
        report.dataset, report.load_seconds, report.peak_gflops, report.threads
    );
    let mut t = Table::new(
        [
            "configuration",
            "batch",
            "epoch_s",
            "eval_share",
            "samples/s",
            "GFLOP/s",
            "of_peak",
            "peak_rss_MB",
        ]
        .map(String::from)
        .to_vec(),
    );
    for c in &report.configs {
        t.rows.push(vec![
            Cell::text(c.name.clone()),
            Cell::int(c.batch_size),
            Cell::num(Some(c.epoch_seconds), 2),
            Cell::text(format!("{:.1}%", 100.0 * c.eval_seconds / c.epoch_seconds)),
            Cell::num(Some(c.samples_per_second), 0),
            Cell::num(Some(c.gflops), 1),
            Cell::text(format!("{:.0}%", 100.0 * c.peak_share)),
            Cell::num(Some(c.peak_rss_mb), 0),
        ]);
    }
    print!("{}", t.render(Format::Table));
    if !report.sweeps.is_empty() {
        println!();
        let mut s = Table::new(
            ["jobs", "trials", "seconds", "trials/hour"]
                .map(String::from)
                .to_vec(),
        );
        for b in &report.sweeps {
            s.rows.push(vec![
                Cell::int(b.jobs),
                Cell::int(b.trials),
                Cell::num(Some(b.seconds), 1),
                Cell::num(Some(b.trials_per_hour), 0),
            ]);
        }
        print!("{}", s.render(Format::Table));
        if let [one, many] = report.sweeps.as_slice() {
            println!(
                "scaling: --jobs {} is {:.2}x as fast as --jobs 1",
                many.jobs,
                one.seconds / many.seconds
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `fcnsweep bench store` and prints its report.
pub fn run_store(
    postgres: Option<&str>,
    trials: usize,
    workers: &[usize],
    epochs: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::Builder::new()
        .prefix("fcnsweep-bench-store-")
        .tempdir()?;
    let count = std::cell::Cell::new(0);
    let name = || {
        count.set(count.get() + 1);
        format!("bench_store_{}_{}", std::process::id(), count.get())
    };
    let sqlite_base = Location::Sqlite(scratch.path().join("base.sqlite"));
    let sqlite = || sqlite_base.scratch(&name(), scratch.path());
    let pg_base = postgres.map(Location::parse).transpose()?;
    if let Some(Location::Sqlite(_)) = pg_base {
        anyhow::bail!("--postgres needs a postgres:// URL");
    }
    let pg = || {
        pg_base
            .as_ref()
            .expect("only called with a server")
            .scratch(&name(), scratch.path())
    };
    let mut backends: Vec<(&str, FreshDb<'_>)> = vec![("sqlite", &sqlite)];
    if pg_base.is_some() {
        backends.push(("postgres", &pg));
    }
    let report = bench_store(&backends, trials, workers, epochs, |m| {
        eprintln!("bench: {m}")
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(
        ["backend", "workers", "trials", "seconds", "claims/s"]
            .map(String::from)
            .to_vec(),
    );
    for c in &report.claims {
        t.rows.push(vec![
            Cell::text(&c.backend),
            Cell::int(c.workers),
            Cell::int(c.trials),
            Cell::num(Some(c.seconds), 2),
            Cell::num(Some(c.claims_per_second), 0),
        ]);
    }
    println!("claim and finish of empty trials (each worker a thread with its own connection):");
    print!("{}", t.render(Format::Table));
    let mut t = Table::new(
        [
            "backend",
            "epochs",
            "p50_ms",
            "p95_ms",
            "overhead_of_1s_epoch",
        ]
        .map(String::from)
        .to_vec(),
    );
    for e in &report.epoch_commits {
        t.rows.push(vec![
            Cell::text(&e.backend),
            Cell::int(e.epochs),
            Cell::num(Some(e.p50_ms), 2),
            Cell::num(Some(e.p95_ms), 2),
            Cell::text(format!("{:.3}%", e.overhead_percent_of_1s_epoch)),
        ]);
    }
    println!("epoch commit (one transaction: ownership check, heartbeat, epoch row):");
    print!("{}", t.render(Format::Table));
    if postgres.is_none() {
        println!("(add --postgres URL or FCNSWEEP_BENCH_PG to measure a PostgreSQL server beside SQLite)");
    }
    Ok(ExitCode::SUCCESS)
}
