//! `fcnsweep`: the command-line shell over the fcnsweep libraries. It parses arguments, calls
//! the data, model and search crates, and prints; all logic lives in the libraries.

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
            ExitCode::FAILURE
        }
    }
}
