//! `fcnsweep db copy`: moves a study between stores (a laptop's SQLite file and a cluster's
//! PostgreSQL), with the counts checked on both sides.

use std::process::ExitCode;

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
    }
}
