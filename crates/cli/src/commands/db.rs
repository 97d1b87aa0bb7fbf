//! `fcnsweep db copy`: moves a study between stores (a laptop's SQLite file and a cluster's
//! PostgreSQL), with the counts checked on both sides.

use std::process::ExitCode;

use fcnsweep_search::kept::collect_garbage;
use fcnsweep_store::copy::copy;
use fcnsweep_store::Location;

use crate::cli::DbCommand;

/// Runs a `db` subcommand.
pub fn run(cmd: DbCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DbCommand::Copy { from, to, sweeps } => {
            let from = Location::parse(&from)?;
            let to = Location::parse(&to)?;
            let mut source = from.open_existing()?;
            let mut dest = to.open()?;
            let r = copy(source.as_mut(), dest.as_mut(), &sweeps)?;
            println!(
                "copied {} sweeps ({} configurations) from {} to {}: {} trials with {} epochs written, {} already there, {} baselines; counts match",
                r.sweeps,
                r.configs,
                from.describe(),
                to.describe(),
                r.trials_written,
                r.epochs_written,
                r.trials_present,
                r.baselines
            );
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Gc {
            checkpoint_dir,
            weights_dir,
            dry_run,
            db,
        } => {
            let location = db.location()?;
            let mut store = location.open_existing()?;
            let mut trials = Vec::new();
            for s in store.list_sweeps()? {
                let id = store.sweep(&s.name)?.id;
                trials.extend(store.trials(id)?);
            }
            let checkpoints = checkpoint_dir.unwrap_or_else(|| location.default_checkpoint_dir());
            let weights = weights_dir.unwrap_or_else(|| location.default_weights_dir());
            let g = collect_garbage(&checkpoints, &weights, &trials, dry_run);
            for p in g.checkpoints.iter().chain(&g.weights) {
                println!(
                    "{}{}",
                    if dry_run { "would remove " } else { "removed " },
                    p.display()
                );
            }
            println!(
                "{} {} checkpoint and {} network files ({:.1} MB) that no trial of {} needs",
                if dry_run { "would remove" } else { "removed" },
                g.checkpoints.len(),
                g.weights.len(),
                g.bytes as f64 / 1e6,
                location.describe()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
