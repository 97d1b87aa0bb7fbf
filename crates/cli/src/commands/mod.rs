//! One module per command group; each turns parsed arguments into library calls.

mod baseline;
mod bench;
mod data;
mod db;
mod network;
mod plot;
mod results;
mod sweep;
mod train;
mod worker;

use std::process::ExitCode;

use crate::cli::{BenchCommand, Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Data(cmd) => data::run(cmd),
        Command::Sweep(cmd) => sweep::run(cmd),
        Command::Results(cmd) => results::run(cmd),
        Command::Baseline(cmd) => baseline::run(cmd),
        Command::Worker(args) => worker::run(args),
        Command::Db(cmd) => db::run(cmd),
        Command::Export {
            name,
            config,
            seed,
            out,
            weights_dir,
            db,
        } => network::export(
            &name,
            config.as_deref(),
            seed,
            &out,
            weights_dir.as_deref(),
            &db,
        ),
        Command::Evaluate {
            file,
            dataset,
            plot,
            json,
            dir,
        } => network::evaluate(&file, dataset, plot.as_deref(), json, &dir),
        Command::Predict { file, images, out } => network::predict(&file, &images, out.as_deref()),
        Command::Bench {
            what:
                Some(BenchCommand::Store {
                    postgres,
                    trials,
                    workers,
                    epochs,
                    json,
                }),
            ..
        } => bench::run_store(
            postgres.as_deref(),
            trials as usize,
            &workers,
            epochs as usize,
            json,
        ),
        Command::Bench {
            what: None,
            dataset,
            epochs,
            no_sweep,
            jobs,
            json,
            dir,
        } => bench::run(
            dataset,
            epochs as usize,
            !no_sweep,
            usize::from(jobs),
            json,
            &dir,
        ),
        Command::Plot {
            name,
            out,
            format,
            db,
        } => plot::run(&name, &out, &format, &db),
    }
}
