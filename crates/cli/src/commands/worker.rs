//! `fcnsweep worker`: trains the pending trials of stored sweeps until none is left. Many
//! workers on many machines share one PostgreSQL database; each claims trials atomically,
//! heartbeats them, and takes over those of workers that died.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use fcnsweep_data::{resolve_data_dir, Dataset, DatasetName};
use fcnsweep_search::runner::{run_sweep, SweepObserver};
use fcnsweep_search::short_hash;
use fcnsweep_store::{ClaimedTrial, Store, TrialOutcome};

use super::sweep::{
    has_work, pruned_line, register_confirmation, run_options, single_threaded_trials,
    stored_settings, stored_strategy, warn_network_fs,
};
use crate::cli::WorkerArgs;

/// How long an idle worker waits between looks for new or reclaimable trials.
const POLL: Duration = Duration::from_secs(1);

/// One line per claimed and finished trial, for the worker's log.
struct Log;

impl SweepObserver for Log {
    fn trial_started(&self, trial: &ClaimedTrial) {
        eprintln!(
            "claimed config {} seed {}{}",
            short_hash(&trial.config_hash),
            trial.seed,
            if trial.recovered {
                " (recovered from a dead worker)"
            } else {
                ""
            }
        );
    }

    fn trial_finished(&self, trial: &ClaimedTrial, outcome: &TrialOutcome) {
        let what = match outcome {
            TrialOutcome::Finished(r) => format!("test_acc {:.4} ({:.1} s)", r.test_acc, r.seconds),
            TrialOutcome::Failed(e) => format!("FAILED: {e}"),
            TrialOutcome::Pruned { last, .. } => pruned_line(last),
        };
        eprintln!(
            "finished config {} seed {}: {what}",
            short_hash(&trial.config_hash),
            trial.seed
        );
    }
}

/// Runs `fcnsweep worker`.
pub fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let db = args.run.db.location()?;
    warn_network_fs(&db);
    let mut store = db.open_existing_for_writing()?;
    // Named sweeps must exist now; a typo should not idle until --idle-exit.
    for name in &args.sweeps {
        store.sweep(name)?;
    }
    single_threaded_trials();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("interrupt: returning running trials to pending");
    })
    .context("cannot install the Ctrl-C handler")?;
    let data_dir = resolve_data_dir(args.run.dir.data_dir.as_deref());
    let mut datasets: HashMap<DatasetName, Arc<Dataset>> = HashMap::new();
    let open = || db.open();
    let (mut finished, mut failed) = (0, 0);
    let mut idle_since = Instant::now();
    loop {
        let names = sweep_names(store.as_mut(), &args.sweeps)?;
        let mut worked = false;
        for name in &names {
            let sweep = store.sweep(name)?;
            let counts = store.status_counts(sweep.id)?;
            let strategy = stored_strategy(&sweep);
            if !has_work(
                store.as_mut(),
                &counts,
                &sweep,
                strategy.as_deref(),
                args.run.retry_failed,
            )? {
                if let Some(strategy) = &strategy {
                    // The search is over (or waits on others' trials): its confirmation
                    // sweep, once registered, is worked on like any other.
                    worked |= register_confirmation(store.as_mut(), name, strategy)?
                        .is_some_and(|c| !names.contains(&c));
                }
                continue;
            }
            let dataset = match datasets.get(&sweep.dataset) {
                Some(d) => d.clone(),
                None => {
                    let d = Dataset::load(&data_dir, sweep.dataset)?;
                    datasets.insert(sweep.dataset, d.clone());
                    d
                }
            };
            let options = run_options(&args.run, &db, stored_settings(&sweep), strategy);
            let report = run_sweep(&open, &sweep, dataset, &options, &stop, &Log)
                .with_context(|| format!("worker stopped in sweep '{name}'"))?;
            worked |= report.finished + report.failed + report.pruned > 0;
            finished += report.finished;
            failed += report.failed;
            super::sweep::prune_weights(store.as_mut(), name, &args.run, &db)?;
            if report.interrupted {
                eprintln!(
                    "interrupted after {finished} trials; running trials returned to pending"
                );
                return Ok(ExitCode::from(130));
            }
        }
        if worked {
            idle_since = Instant::now();
        } else if idle_since.elapsed() >= Duration::from_secs(args.idle_exit) {
            break;
        } else {
            std::thread::sleep(POLL);
        }
    }
    eprintln!(
        "worker done: {finished} trials finished, {failed} failed, nothing left to run in {}",
        db.describe()
    );
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The sweeps to work on: those named, else every sweep in the database (new ones included).
fn sweep_names(store: &mut dyn Store, named: &[String]) -> anyhow::Result<Vec<String>> {
    if !named.is_empty() {
        // A named search brings its confirmation sweep, once there is one.
        let mut names = named.to_vec();
        for name in named {
            let confirm = fcnsweep_search::adaptive::confirm_name(name);
            if !named.contains(&confirm) && store.find_sweep(&confirm)?.is_some() {
                names.push(confirm);
            }
        }
        return Ok(names);
    }
    Ok(store.list_sweeps()?.into_iter().map(|s| s.name).collect())
}
