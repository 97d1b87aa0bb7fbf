//! `fcnsweep sweep plan|run|resume|list|status`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fcnsweep_data::{resolve_data_dir, Dataset, DatasetName};
use fcnsweep_model::memory::Bytes;
use fcnsweep_model::{EpochMetrics, RunConfig};
use fcnsweep_search::adaptive::{best_configs, confirm_name, epochs_trained, History, Strategy};
use fcnsweep_search::kept::{self, KeepWeights};
use fcnsweep_search::memory::{self, dataset_bytes, MemoryLimit};
use fcnsweep_search::parse_spec;
use fcnsweep_search::runner::{run_sweep, CheckpointPolicy, RunOptions, SweepObserver};
use fcnsweep_search::spec::RunSettings;
use fcnsweep_search::table::{Cell, Format, Table};
use fcnsweep_search::SweepSpec;
use fcnsweep_search::{axis_values, expand, load_spec, short_hash, varying_axes};
use fcnsweep_store::SweepRecord;
use fcnsweep_store::{
    ClaimOptions, ClaimedTrial, Location, RegisterOptions, Registered, StatusCounts, Store,
    TrialOutcome,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{RunArgs, SweepCommand};

/// Exit status of a sweep stopped by Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

/// Runs a `sweep` subcommand.
pub fn run(cmd: SweepCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SweepCommand::Plan { file } => plan(&file),
        SweepCommand::Run {
            file,
            extend,
            no_reuse,
            run,
        } => {
            // Parse and expand before touching the database: a bad spec writes nothing.
            let (spec, text) = load_spec(&file)?;
            let plan = expand(&spec)?;
            // Likewise the database's identity, then the data: a refused database or a missing
            // or damaged dataset fails before anything is written.
            let db = run.db.location()?;
            warn_network_fs(&db);
            let register = RegisterOptions { extend, no_reuse };
            db.preflight(Some((&plan, register)))?;
            let data_dir = resolve_data_dir(run.dir.data_dir.as_deref());
            let dataset = Dataset::load(&data_dir, plan.dataset)?;
            // The planned configurations, and the largest one the adaptive block can propose.
            let largest = Strategy::of(&spec).and_then(|s| s.largest());
            let configs = plan
                .configs
                .iter()
                .chain(&largest)
                .map(|c| (c.hash.as_str(), &c.run));
            check_memory(plan.dataset, configs, &dataset, &run)?;
            let mut store = db.open()?;
            let registered = store.register_sweep(&plan, &text, register)?;
            announce(&plan, &spec, &registered, &db);
            execute(store, &db, &plan.name, dataset, &run)
        }
        SweepCommand::Resume { name, run } => {
            // The stored sweep is complete as it is (an extended sweep may hold configurations
            // its latest spec text no longer lists): run it without registering anything.
            let db = run.db.location()?;
            warn_network_fs(&db);
            let mut store = db.open_existing_for_writing()?;
            let sweep = store.sweep(&name)?;
            let data_dir = resolve_data_dir(run.dir.data_dir.as_deref());
            let dataset = Dataset::load(&data_dir, sweep.dataset)?;
            let configs = sweep.configs.iter().map(|c| (c.hash.as_str(), &c.run));
            check_memory(sweep.dataset, configs, &dataset, &run)?;
            execute(store, &db, &name, dataset, &run)
        }
        SweepCommand::Register {
            file,
            extend,
            no_reuse,
            db,
        } => {
            let (spec, text) = load_spec(&file)?;
            let plan = expand(&spec)?;
            let db = db.location()?;
            warn_network_fs(&db);
            let register = RegisterOptions { extend, no_reuse };
            db.preflight(Some((&plan, register)))?;
            let mut store = db.open()?;
            let registered = store.register_sweep(&plan, &text, register)?;
            announce(&plan, &spec, &registered, &db);
            eprintln!(
                "start workers with `fcnsweep worker --db {} --sweep {}`",
                db.describe(),
                plan.name
            );
            Ok(ExitCode::SUCCESS)
        }
        SweepCommand::List { db } => {
            let mut store = db.location()?.open_existing()?;
            let mut t = Table::new(
                [
                    "sweep", "dataset", "configs", "seeds", "done", "diverged", "failed",
                    "running", "pending",
                ]
                .map(String::from)
                .to_vec(),
            );
            for s in store.list_sweeps()? {
                t.rows.push(vec![
                    Cell::text(s.name),
                    Cell::text(s.dataset),
                    Cell::int(s.configs),
                    Cell::int(s.seeds),
                    Cell::int(s.counts.done),
                    Cell::int(s.counts.diverged),
                    Cell::int(s.counts.failed),
                    Cell::int(s.counts.running),
                    Cell::int(s.counts.pending),
                ]);
            }
            print!("{}", t.render(Format::Table));
            Ok(ExitCode::SUCCESS)
        }
        SweepCommand::Status { name, db } => {
            let mut store = db.location()?.open_existing()?;
            let sweep = store.sweep(&name)?;
            let c = store.status_counts(sweep.id)?;
            let mean = store.mean_trial_seconds(sweep.id)?;
            println!(
                "sweep     {} ({}, {} configurations x {} seeds)",
                sweep.name,
                sweep.dataset,
                sweep.configs.len(),
                sweep.seeds.len()
            );
            println!(
                "trials    {} total: {} done, {} diverged, {} pruned, {} failed, {} running, {} pending",
                c.total(),
                c.done,
                c.diverged,
                c.pruned,
                c.failed,
                c.running,
                c.pending
            );
            let spec = stored_spec(&sweep);
            let objective = spec.as_ref().map(|s| s.objective).unwrap_or_default();
            let trials = store.trials(sweep.id)?;
            let history = History {
                sweep: &sweep,
                trials: &trials,
                epochs: &[],
            };
            if let Some(best) = best_configs(&history, objective, 1).first() {
                let value = trials
                    .iter()
                    .filter(|t| &t.config_hash == best)
                    .filter_map(|t| objective.metric.of_trial(t))
                    .fold(None, |acc: Option<(f64, usize)>, v| {
                        Some(acc.map_or((v, 1), |(s, n)| (s + v, n + 1)))
                    });
                if let Some((sum, n)) = value {
                    println!(
                        "best      {} {:.4} (config {}, {} trial{})",
                        objective.metric.name(),
                        sum / n as f64,
                        short_hash(best),
                        n,
                        if n == 1 { "" } else { "s" }
                    );
                }
            }
            let mut left = c.pending + c.running;
            if let Some((source, block)) = spec.as_ref().and_then(|s| s.adaptive()) {
                let proposals = history.proposals();
                let epochs = history.epochs_trained();
                let of_budget = block.epoch_budget.map_or(String::new(), |budget| {
                    format!(" of the {budget}-epoch budget")
                });
                println!(
                    "budget    {proposals}/{} proposals of search[{source}].tpe made, {} pruned, {epochs} epochs trained{of_budget}",
                    block.trials, c.pruned
                );
                if history.budget_left(block) {
                    left += block.trials.saturating_sub(proposals);
                }
            }
            if let Some(confirm) = store.find_sweep(&confirm_name(&sweep.name))? {
                let cc = store.status_counts(confirm)?;
                println!(
                    "confirm   sweep {}: {} of {} trials finished",
                    confirm_name(&sweep.name),
                    cc.finished(),
                    cc.total()
                );
            }
            match mean {
                Some(m) if left > 0 => {
                    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                    println!(
                        "eta       {} with 1 job, {} with {cores} jobs (mean trial {:.1} s)",
                        human(m * left as f64),
                        human(m * left as f64 / cores as f64),
                        m
                    );
                }
                _ if left == 0 => println!("eta       complete"),
                _ => println!("eta       unknown until a trial finishes"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn human(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn plan(file: &Path) -> anyhow::Result<ExitCode> {
    let (spec, _) = load_spec(file)?;
    let plan = expand(&spec)?;
    let runs: Vec<_> = plan.configs.iter().map(|c| &c.run).collect();
    let axes = varying_axes(&runs);
    let mut columns = vec!["#".to_string(), "config".to_string()];
    columns.extend(axes.iter().map(|a| a.to_string()));
    columns.push("memory".into());
    columns.push("from".into());
    let mut t = Table::new(columns);
    for (i, c) in plan.configs.iter().enumerate() {
        let values = axis_values(&c.run);
        let mut row = vec![
            Cell::int(i + 1),
            Cell::text(format!(
                "{}{}",
                short_hash(&c.hash),
                if c.baseline { "*" } else { "" }
            )),
        ];
        for a in &axes {
            let v = values.iter().find(|(k, _)| k == a).map(|(_, v)| v.clone());
            row.push(Cell::json(v.unwrap_or_default()));
        }
        let bytes = memory::estimate(plan.dataset, &c.run).total();
        row.push(Cell {
            text: Bytes(bytes).to_string(),
            value: bytes.into(),
        });
        row.push(Cell::text(c.sources.join(", ")));
        t.rows.push(row);
    }
    println!("sweep {} on {}", plan.name, plan.dataset);
    print!("{}", t.render(Format::Table));
    let adaptive = spec
        .adaptive()
        .map(|(i, b)| {
            format!(
                ", + up to {} configurations search[{i}].tpe proposes while the sweep runs",
                b.trials
            )
        })
        .unwrap_or_default();
    println!(
        "{} configurations x {} seeds = {} trials{adaptive} (* = baseline; memory: estimated peak of one run, the images not included)",
        plan.configs.len(),
        plan.seeds.len(),
        plan.trial_count()
    );
    Ok(ExitCode::SUCCESS)
}

/// Warns when the database is on a network file system, where SQLite's locks are unreliable.
pub fn warn_network_fs(db: &Location) {
    if let Some(kind) = db.network_file_system() {
        eprintln!(
            "warning: {} is on a network file system ({kind}); SQLite's file locks are not \
             reliable there, and processes on several machines writing one database can corrupt \
             it. Keep the database on a local disk, or share a PostgreSQL database between \
             machines (--db postgres://HOST/DB, see the README's cluster section).",
            db.describe()
        );
    }
}

/// Tells what registering did.
fn announce(
    plan: &fcnsweep_search::SweepPlan,
    spec: &SweepSpec,
    registered: &Registered,
    db: &Location,
) {
    let adaptive = spec
        .adaptive()
        .map(|(i, b)| format!(" + up to {} proposed by search[{i}].tpe", b.trials))
        .unwrap_or_default();
    match registered {
        Registered::Created => eprintln!(
            "sweep '{}': {} configurations x {} seeds = {} trials{adaptive}, results in {}",
            plan.name,
            plan.configs.len(),
            plan.seeds.len(),
            plan.trial_count(),
            db.describe()
        ),
        Registered::Unchanged => eprintln!("sweep '{}': continuing", plan.name),
        Registered::Extended { configs, seeds } => eprintln!(
            "sweep '{}': extended by {configs} configurations and {seeds} seeds",
            plan.name
        ),
    }
}

/// The flags of a run over its spec's settings over the defaults.
pub fn run_settings(args: &RunArgs, spec: RunSettings) -> (KeepWeights, u32) {
    (
        args.keep_weights
            .or(spec.keep_weights)
            .unwrap_or(KeepWeights::Best),
        args.max_attempts.or(spec.max_attempts).unwrap_or(3),
    )
}

/// A stored sweep's spec, parsed (`None` when it does not parse, as a spec of an older
/// format may not).
pub fn stored_spec(sweep: &SweepRecord) -> Option<SweepSpec> {
    parse_spec(
        &sweep.spec,
        &format!("the stored spec of sweep '{}'", sweep.name),
    )
    .ok()
}

/// The run settings of a stored sweep's spec text (defaults when it does not parse).
pub fn stored_settings(sweep: &SweepRecord) -> RunSettings {
    stored_spec(sweep).map(|s| s.run).unwrap_or_default()
}

/// How a stored sweep prunes, proposes and confirms, from its spec text.
pub fn stored_strategy(sweep: &SweepRecord) -> Option<Arc<Strategy>> {
    stored_spec(sweep)
        .as_ref()
        .and_then(Strategy::of)
        .map(Arc::new)
}

/// Whether a sweep has anything to run: runnable trials, or budget left in its adaptive
/// block. The sweep's trials are read only to count their epochs against an `epoch_budget`.
pub fn has_work(
    store: &mut dyn Store,
    counts: &StatusCounts,
    sweep: &SweepRecord,
    strategy: Option<&Strategy>,
    retry_failed: bool,
) -> anyhow::Result<bool> {
    let runnable = counts.pending + counts.running + if retry_failed { counts.failed } else { 0 };
    if runnable > 0 {
        return Ok(true);
    }
    let Some((_, block)) = strategy.and_then(|s| s.adaptive()) else {
        return Ok(false);
    };
    let epochs = if block.epoch_budget.is_some() {
        epochs_trained(&store.trials(sweep.id)?)
    } else {
        0
    };
    Ok(block.budget_left(sweep.proposals(), epochs))
}

/// Registers the confirmation sweep of the search `name` once the search is over (see
/// [`Strategy::confirmation`]); returns its name. Registering it again changes nothing.
pub fn register_confirmation(
    store: &mut dyn Store,
    name: &str,
    strategy: &Strategy,
) -> anyhow::Result<Option<String>> {
    let sweep = store.sweep(name)?;
    let trials = store.trials(sweep.id)?;
    let epochs = store.sweep_epochs(sweep.id)?;
    let history = History {
        sweep: &sweep,
        trials: &trials,
        epochs: &epochs,
    };
    let Some((_, text, plan)) = strategy.confirmation(&history)? else {
        return Ok(None);
    };
    let registered = store.register_sweep(&plan, &text, RegisterOptions::default())?;
    if registered == Registered::Created {
        let n = plan.configs.len();
        eprintln!(
            "sweep '{}': confirming its {} with {} seeds in sweep '{}'",
            name,
            if n == 1 {
                "best configuration".to_string()
            } else {
                format!("{n} best configurations")
            },
            plan.seeds.len(),
            plan.name
        );
    }
    Ok(Some(plan.name))
}

/// How the runner claims, heartbeats, checkpoints and keeps networks, from the flags and the
/// sweep's spec settings: a heartbeat at least four times per staleness limit, so that a live
/// trial is never taken for abandoned.
pub fn run_options(
    args: &RunArgs,
    db: &Location,
    spec: RunSettings,
    strategy: Option<Arc<Strategy>>,
) -> RunOptions {
    let (keep, max_attempts) = run_settings(args, spec);
    let stale_after = Duration::from_secs(args.stale_after);
    RunOptions {
        jobs: jobs(args),
        claim: ClaimOptions {
            retry_failed: args.retry_failed,
            stale_after,
            max_attempts,
        },
        heartbeat_every: (stale_after / 4).min(Duration::from_secs(10)),
        checkpoints: (!args.no_checkpoints).then(|| CheckpointPolicy {
            dir: args
                .checkpoint_dir
                .clone()
                .unwrap_or_else(|| db.default_checkpoint_dir()),
            every: args.checkpoint_every,
        }),
        weights_dir: (keep != KeepWeights::None).then(|| weights_dir(args, db)),
        strategy,
    }
}

/// Where a run keeps trained networks.
pub fn weights_dir(args: &RunArgs, db: &Location) -> std::path::PathBuf {
    args.weights_dir
        .clone()
        .unwrap_or_else(|| db.default_weights_dir())
}

/// With `--keep-weights best`, once `sweep` has nothing left to run, removes the networks
/// of all but its best configurations.
pub fn prune_weights(
    store: &mut dyn Store,
    sweep: &str,
    args: &RunArgs,
    db: &Location,
) -> anyhow::Result<()> {
    let sweep = store.sweep(sweep)?;
    if run_settings(args, stored_settings(&sweep)).0 != KeepWeights::Best {
        return Ok(());
    }
    let c = store.status_counts(sweep.id)?;
    if c.pending + c.running > 0 {
        return Ok(());
    }
    let trials = store.trials(sweep.id)?;
    let removed = kept::prune_to_best(&weights_dir(args, db), &sweep, &trials);
    if removed > 0 {
        tracing::info!(removed, "kept the networks of the best configurations only");
    }
    Ok(())
}

/// The trials a sweep runs at once: `--jobs`, else one per core.
fn jobs(args: &RunArgs) -> usize {
    args.jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Refuses a sweep with a configuration that cannot fit, before anything is written.
fn check_memory<'a>(
    dataset_name: DatasetName,
    configs: impl IntoIterator<Item = (&'a str, &'a RunConfig)>,
    dataset: &Dataset,
    args: &RunArgs,
) -> anyhow::Result<()> {
    if let Some(limit) = MemoryLimit::resolve(args.memory.max_memory) {
        let data = dataset_bytes(dataset.train_labels.len(), dataset.test_labels.len());
        memory::check(dataset_name, configs, jobs(args), data, limit)?;
    }
    Ok(())
}

/// Progress of a running sweep: a bar on a terminal, one line per trial otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    finished: AtomicUsize,
    running: AtomicUsize,
}

impl Progress {
    /// Progress over the trials there are and the `budget` an adaptive block may add.
    fn new(counts: &StatusCounts, budget: usize) -> Self {
        let total = counts.total() + budget;
        let done = counts.finished() + counts.pruned;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64).with_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} trials  {msg}  elapsed {elapsed}  ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_position(done as u64);
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        });
        Self {
            bar,
            total,
            finished: AtomicUsize::new(done),
            running: AtomicUsize::new(0),
        }
    }

    fn line(&self, msg: String) {
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    fn update(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} running", self.running.load(Ordering::Relaxed)));
        }
    }
}

impl SweepObserver for Progress {
    fn trial_started(&self, trial: &ClaimedTrial) {
        self.running.fetch_add(1, Ordering::Relaxed);
        self.update();
        if trial.recovered {
            self.line(format!(
                "recovered abandoned trial: config {} seed {}",
                short_hash(&trial.config_hash),
                trial.seed
            ));
        }
    }

    fn epoch_committed(&self, trial: &ClaimedTrial, m: &EpochMetrics) {
        tracing::info!(
            config = short_hash(&trial.config_hash),
            seed = trial.seed,
            epoch = m.epoch,
            train_loss = m.train_loss,
            val_acc = m.val_acc,
            "epoch committed"
        );
    }

    fn trial_finished(&self, trial: &ClaimedTrial, outcome: &TrialOutcome) {
        self.running.fetch_sub(1, Ordering::Relaxed);
        let n = self.finished.fetch_add(1, Ordering::Relaxed) + 1;
        let what = match outcome {
            TrialOutcome::Finished(r) => format!(
                "test_acc {:.4}{} ({:.1} s)",
                r.test_acc,
                if r.diverged { " DIVERGED" } else { "" },
                r.seconds
            ),
            TrialOutcome::Failed(e) => format!("FAILED: {e}"),
            TrialOutcome::Pruned { last, .. } => pruned_line(last),
        };
        self.line(format!(
            "[{n}/{}] config {} seed {}: {what}",
            self.total,
            short_hash(&trial.config_hash),
            trial.seed
        ));
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.update();
    }
}

/// How a pruned trial is reported: where it stopped and what it had reached.
pub fn pruned_line(last: &EpochMetrics) -> String {
    format!(
        "pruned after epoch {} (val_acc {})",
        last.epoch,
        last.val_acc.map_or("-".into(), |v| format!("{v:.4}"))
    )
}

/// Trains the runnable trials of the stored sweep `name`.
fn execute(
    mut store: Box<dyn Store>,
    db: &Location,
    name: &str,
    dataset: Arc<Dataset>,
    args: &RunArgs,
) -> anyhow::Result<ExitCode> {
    let sweep = store.sweep(name)?;
    let counts = store.status_counts(sweep.id)?;
    let strategy = stored_strategy(&sweep);
    if has_work(
        store.as_mut(),
        &counts,
        &sweep,
        strategy.as_deref(),
        args.retry_failed,
    )? {
        single_threaded_trials();
        let stop = install_ctrlc(&sweep.name)?;
        let budget = strategy
            .as_ref()
            .and_then(|s| s.adaptive())
            .map_or(0, |(_, b)| {
                let proposals = sweep.proposals();
                b.trials.saturating_sub(proposals)
            });
        let progress = Progress::new(&counts, budget);
        let options = run_options(args, db, stored_settings(&sweep), strategy.clone());
        let open = || db.open();
        let report = run_sweep(&open, &sweep, dataset.clone(), &options, &stop, &progress)
            .with_context(|| {
                format!(
                    "sweep '{}' stopped; resume with `fcnsweep sweep resume {}`",
                    sweep.name, sweep.name
                )
            })?;
        if let Some(bar) = &progress.bar {
            bar.finish_and_clear();
        }
        if report.interrupted {
            eprintln!(
                "interrupted: {} finished this run, {} running trials returned to pending; resume with `fcnsweep sweep resume {}{}`",
                report.finished,
                report.released,
                sweep.name,
                args.db.db.as_ref().map(|p| format!(" --db {p}")).unwrap_or_default()
            );
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    }
    prune_weights(store.as_mut(), &sweep.name, args, db)?;
    let c = store.status_counts(sweep.id)?;
    eprintln!(
        "sweep '{}': {} done, {} diverged, {} pruned, {} failed, {} running elsewhere, {} pending",
        sweep.name, c.done, c.diverged, c.pruned, c.failed, c.running, c.pending
    );
    if let Some(strategy) = &strategy {
        if let Some(confirm) = register_confirmation(store.as_mut(), &sweep.name, strategy)? {
            let store = db.open()?;
            return execute(store, db, &confirm, dataset, args);
        }
    }
    if c.failed > 0 {
        eprintln!(
            "{} trials failed (see `fcnsweep results trials {}`); rerun them with --retry-failed",
            c.failed, sweep.name
        );
        return Ok(ExitCode::FAILURE);
    }
    if c.pending + c.running == 0 {
        eprintln!(
            "see the results with `fcnsweep results show {}`",
            sweep.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One core per trial: candle's and the fused engine's matrix products must not spawn their
/// own threads inside parallel trials. A `RAYON_NUM_THREADS` set by the user wins. Called
/// before any worker thread starts.
pub fn single_threaded_trials() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
}

/// First Ctrl-C: stop claiming, return running trials to pending, exit 130. Second: exit now.
/// Installed once per process (a search and then its confirmation share it); returns the
/// stop flag.
fn install_ctrlc(name: &str) -> anyhow::Result<Arc<AtomicBool>> {
    static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    if let Some(stop) = STOP.get() {
        return Ok(stop.clone());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let name = name.to_string();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("second interrupt: exiting now; `fcnsweep sweep resume {name}` recovers the running trials");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("interrupt: finishing nothing more, returning running trials to pending (Ctrl-C again to exit at once)");
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(STOP.get_or_init(|| stop).clone())
}
