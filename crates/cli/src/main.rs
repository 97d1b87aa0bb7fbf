//! `fcnsweep`: the command-line shell over the fcnsweep libraries. It parses arguments, calls
//! the data, model, baselines and search crates, and prints; all logic lives in the libraries
//! except the orchestration of `fcnsweep bench` ([`bench`]), which only strings library calls
//! together for its report.

mod bench;
mod cli;
mod commands;
mod logging;
mod report;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.verbose);
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", report::one_line(&err));
            if let Some(hint) = report::hint(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}
