//! Command-line grammar (clap derive). Values that name things (optimizer, init, norm,
//! dataset) are parsed by the libraries so the error lists the valid choices.

use std::path::PathBuf;

use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use fcnsweep_baselines::ClassicalMethod;
use fcnsweep_data::DatasetName;
use fcnsweep_search::axes::AxisKind;
use fcnsweep_search::kept::KeepWeights;
use fcnsweep_search::results::SortKey;
use fcnsweep_search::table::Format;
use fcnsweep_search::{Axis, AxisValue};
use fcnsweep_store::{Location, StoreError};

/// Hyperparameter search for fully-connected networks: YAML in, SQLite and plots out.
#[derive(Debug, Parser)]
#[command(name = "fcnsweep", version, about)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one network and print its per-epoch metrics.
    #[command(allow_negative_numbers = true)]
    Train(TrainArgs),
    /// Fetch or inspect datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Plan, run, resume and inspect sweeps.
    #[command(subcommand)]
    Sweep(SweepCommand),
    /// Query stored results.
    #[command(subcommand)]
    Results(ResultsCommand),
    /// Learning curves and accuracy bars of a stored sweep, as PNG and/or SVG.
    Plot {
        /// Sweep name.
        name: String,
        /// Output folder (created if missing).
        #[arg(long, default_value = "plots")]
        out: PathBuf,
        /// png, svg or both.
        #[arg(long, default_value = "both", value_parser = ["png", "svg", "both"])]
        format: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Measure epoch speed of the study's networks and sweep throughput on this machine
    /// (`bench store`: the result store's claim throughput and epoch-commit latency).
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
        /// A narrower benchmark instead of the default one.
        #[command(subcommand)]
        what: Option<BenchCommand>,
        /// Dataset: fashion-mnist or mnist.
        #[arg(long, value_parser = parse_dataset, default_value = "fashion-mnist")]
        dataset: DatasetName,
        /// Epochs per configuration (the median epoch time is reported).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
        epochs: u64,
        /// Skip the sweep-throughput part (--jobs 1 vs --jobs N).
        #[arg(long)]
        no_sweep: bool,
        /// Jobs of the parallel sweep-throughput run.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(2..=1024))]
        jobs: u16,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Classical (non-network) baselines, stored beside the networks.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Train pending trials of stored sweeps until none is left: start it many times, on
    /// many machines, against one PostgreSQL database.
    Worker(WorkerArgs),
    /// Copy or inspect result databases.
    #[command(subcommand)]
    Db(DbCommand),
    /// Write a kept trained network of a sweep as a PyTorch-loadable safetensors file.
    Export {
        /// Sweep name.
        name: String,
        /// Configuration (hash or unique prefix; default: the best by mean validation accuracy).
        #[arg(long, value_name = "HASH")]
        config: Option<String>,
        /// Seed (default: the configuration's best by final validation accuracy).
        #[arg(long)]
        seed: Option<u64>,
        /// Output file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Where the sweep kept its networks (default: weights/<db name>/ beside the database).
        #[arg(long, value_name = "DIR")]
        weights_dir: Option<PathBuf>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Test accuracy, loss, per-class accuracy and confusion matrix of a network file.
    Evaluate {
        /// Network file (from `export` or `train --save`).
        file: PathBuf,
        /// Dataset whose test set to classify: fashion-mnist or mnist.
        #[arg(long, value_parser = parse_dataset)]
        dataset: DatasetName,
        /// Also draw the confusion matrix into this PNG or SVG file.
        #[arg(long, value_name = "FILE")]
        plot: Option<PathBuf>,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Predicted class and its probability for every image of an IDX images file, as CSV.
    Predict {
        /// Network file (from `export` or `train --save`).
        file: PathBuf,
        /// IDX images file (gzip or raw), 28x28 grey images.
        #[arg(long, value_name = "IDX")]
        images: PathBuf,
        /// Write the CSV here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `fcnsweep worker ...`
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Only these sweeps (repeatable; default: every sweep in the database).
    #[arg(long = "sweep", value_name = "NAME")]
    pub sweeps: Vec<String>,
    /// Keep looking this many seconds for new or reclaimable trials before exiting.
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub idle_exit: u64,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `fcnsweep db ...`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy sweeps, configurations, trials, epochs and baselines from one store to another
    /// (SQLite to PostgreSQL and back); repeating a copy changes nothing.
    Copy {
        /// Source database (path, sqlite:PATH or postgres:// URL).
        from: String,
        /// Destination database (created if missing).
        to: String,
        /// Only these sweeps (repeatable; default: all).
        #[arg(long = "sweep", value_name = "NAME")]
        sweeps: Vec<String>,
    },
    /// Remove checkpoint and network files no trial needs (finished trials' checkpoints,
    /// files of trials no longer in the database or superseded).
    Gc {
        /// Checkpoint directory (default: the database's).
        #[arg(long, value_name = "DIR")]
        checkpoint_dir: Option<PathBuf>,
        /// Weights directory (default: the database's).
        #[arg(long, value_name = "DIR")]
        weights_dir: Option<PathBuf>,
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

/// `fcnsweep bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Claim-and-finish throughput of empty trials at several worker counts and the latency
    /// of an epoch commit, for SQLite and (with --postgres) PostgreSQL side by side.
    Store {
        /// Also measure this PostgreSQL server (scratch schemas, dropped afterwards).
        #[arg(long, value_name = "URL", env = "FCNSWEEP_BENCH_PG")]
        postgres: Option<String>,
        /// Empty trials per measurement.
        #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(10..))]
        trials: u64,
        /// Worker counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,4,8")]
        workers: Vec<usize>,
        /// Epoch commits timed per backend.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
        epochs: u64,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
}

/// `fcnsweep baseline ...`
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// SVD/PCA classifiers: nearest class subspace and PCA + LDA, k chosen on validation.
    Svd {
        /// Dataset: fashion-mnist or mnist.
        #[arg(long, value_parser = parse_dataset)]
        dataset: DatasetName,
        /// Only this method: svd-subspace or pca-lda (default: both).
        #[arg(long, value_parser = parse_classical)]
        method: Option<ClassicalMethod>,
        /// Candidate dimensions k, comma-separated (default: the method's list).
        #[arg(long, value_delimiter = ',')]
        k: Option<Vec<usize>>,
        /// Training images held out for validation (chooses k).
        #[arg(long, default_value_t = 10_000)]
        validation: usize,
        /// Seed of the train/validation split.
        #[arg(long, default_value_t = 0)]
        split_seed: u64,
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        dir: DataDirArg,
    },
}

/// Where results are stored: `--db`, else `FCNSWEEP_DB`, else `db/fcnsweep.sqlite`.
#[derive(Debug, Args, Clone)]
pub struct DbArg {
    /// Result database: a file path, sqlite:PATH, or postgres://USER@HOST:PORT/DB (default:
    /// $FCNSWEEP_DB, else db/fcnsweep.sqlite).
    #[arg(long, value_name = "DB")]
    pub db: Option<String>,
}

impl DbArg {
    /// The database these arguments name.
    pub fn location(&self) -> Result<Location, StoreError> {
        Location::resolve(self.db.as_deref())
    }
}

/// How a sweep runs.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Trials trained at once, one core each (default: number of cores).
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Also rerun trials that failed.
    #[arg(long)]
    pub retry_failed: bool,
    /// Seconds without a heartbeat after which another process's running trial is taken over.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub stale_after: u64,
    /// Deaths of a trial's process in a row without a new checkpoint after which the trial
    /// is marked failed (a configuration that kills its process; default: the spec's
    /// max_attempts, else 3).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: Option<u32>,
    /// Where running trials write checkpoints (default: checkpoints/<db name>/ beside an
    /// SQLite database; ./checkpoints/<server-db-schema>/ for PostgreSQL: share it between
    /// hosts so that any of them can resume a trial).
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Least seconds between two checkpoints of a trial (0: after every epoch).
    #[arg(long, default_value = "5", value_name = "SECS", value_parser = parse_seconds)]
    pub checkpoint_every: std::time::Duration,
    /// Write no checkpoints: an interrupted trial starts over.
    #[arg(long)]
    pub no_checkpoints: bool,
    /// Trained networks to keep: none, best (every seed of the 3 configurations with the
    /// best mean validation accuracy, pruned when the sweep is done) or all (default: the
    /// spec's keep_weights, else best).
    #[arg(long, value_parser = KeepWeights::parse)]
    pub keep_weights: Option<KeepWeights>,
    /// Where kept networks go (default: weights/<db name>/ beside an SQLite database).
    #[arg(long, value_name = "DIR")]
    pub weights_dir: Option<PathBuf>,
    #[command(flatten)]
    pub memory: MemoryArg,
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub dir: DataDirArg,
}

/// `fcnsweep sweep ...`
#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Print the expanded configurations and the trial count of a search space; trains nothing.
    Plan {
        /// Search-space YAML file.
        file: PathBuf,
    },
    /// Run (or continue) the sweep a search-space file describes.
    Run {
        /// Search-space YAML file.
        file: PathBuf,
        /// Accept a changed spec under an existing name: add its new configurations and seeds.
        #[arg(long)]
        extend: bool,
        /// Retrain trials that are already done (the old ones are kept as superseded).
        #[arg(long)]
        no_reuse: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Store a sweep's configurations and pending trials without training them, for workers
    /// (`fcnsweep worker`) on other machines to run.
    Register {
        /// Search-space YAML file.
        file: PathBuf,
        /// Accept a changed spec under an existing name: add its new configurations and seeds.
        #[arg(long)]
        extend: bool,
        /// Retrain trials that are already done (the old ones are kept as superseded).
        #[arg(long)]
        no_reuse: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Continue a stored sweep from the spec saved in the database (no YAML file needed).
    Resume {
        /// Sweep name.
        name: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// List the stored sweeps with their progress.
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Trial counts per status and an ETA for one sweep.
    Status {
        /// Sweep name.
        name: String,
        #[command(flatten)]
        db: DbArg,
    },
}

/// Output options shared by the results commands.
#[derive(Debug, Args, Clone)]
pub struct FormatArg {
    /// Output format: table, csv, json or markdown.
    #[arg(long, short = 'f', value_parser = parse_format, default_value = "table")]
    pub format: Format,
}

/// `fcnsweep results ...`
#[derive(Debug, Subcommand)]
pub enum ResultsCommand {
    /// One row per configuration: mean ± SD of test and validation accuracy, CI, Welch test.
    Show {
        /// Sweep name.
        name: String,
        /// Sort by test, val, order, or an axis name.
        #[arg(long, default_value = "test", value_parser = parse_sort)]
        sort: SortKey,
        /// Show only the first K rows.
        #[arg(long)]
        top: Option<usize>,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        db: DbArg,
    },
    /// The configuration with the best mean test accuracy, with its parameters.
    Best {
        /// Sweep name.
        name: String,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        db: DbArg,
    },
    /// One row per trial (configuration and seed).
    Trials {
        /// Sweep name.
        name: String,
        /// Only this configuration (hash or unique prefix).
        #[arg(long)]
        config: Option<String>,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        db: DbArg,
    },
    /// Store another framework's runs of a sweep's configurations (JSON lines, as the PyTorch
    /// reference script writes them) under a name, for `results compare`.
    Import {
        /// The JSON-lines file: one object per run with config_hash, seed, test_acc, ...
        file: PathBuf,
        /// The name to store them under (an existing name is updated).
        #[arg(long = "as", value_name = "NAME")]
        name: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// The sweep's test accuracy beside imported runs of the same configurations, with the
    /// difference and Welch's p-value per configuration.
    Compare {
        /// Sweep name.
        name: String,
        /// The imported runs (the name given to `results import --as`).
        #[arg(long = "with", value_name = "NAME")]
        other: String,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        db: DbArg,
    },
    /// Per-epoch mean ± SD across seeds of one configuration.
    Epochs {
        /// Sweep name.
        name: String,
        /// Configuration hash or unique prefix.
        #[arg(long)]
        config: String,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        db: DbArg,
    },
}

/// Where datasets live: `--data-dir`, else `FCNSWEEP_DATA`, else `./data`.
#[derive(Debug, Args, Clone)]
pub struct DataDirArg {
    /// Data directory (default: $FCNSWEEP_DATA, else ./data).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `fcnsweep data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a dataset (or import it from a local folder) and verify its checksums.
    Fetch {
        /// Dataset: fashion-mnist or mnist.
        #[arg(long, value_parser = parse_dataset)]
        dataset: DatasetName,
        /// Import from this folder instead of downloading.
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Counts, class balance, pixel statistics and checksum status of a dataset.
    Info {
        /// Dataset: fashion-mnist or mnist.
        #[arg(long, value_parser = parse_dataset)]
        dataset: DatasetName,
        #[command(flatten)]
        dir: DataDirArg,
    },
}

/// `fcnsweep train ...`: one run, the study's baseline by default.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Dataset: fashion-mnist or mnist.
    #[arg(long, value_parser = parse_dataset, default_value = "fashion-mnist")]
    pub dataset: DatasetName,
    /// One flag per sweep axis (`--lr`, `--hidden 500,50`, `--weight-decay`, ...).
    #[command(flatten)]
    pub axes: AxisArgs,
    /// Run seed (weights, dropout, shuffling).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print JSON lines (one per epoch, then a final one) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the trained network here (PyTorch-loadable safetensors).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    #[command(flatten)]
    pub memory: MemoryArg,
    #[command(flatten)]
    pub dir: DataDirArg,
}

/// The memory a run or sweep may use.
#[derive(Debug, Args, Clone)]
pub struct MemoryArg {
    /// Refuse configurations whose estimated memory (per run × trials at once, plus the
    /// images) exceeds this (e.g. 8G, 512M; default: the memory available now).
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    pub max_memory: Option<u64>,
}

/// The axis settings given on the command line, one flag per axis of the YAML format
/// (underscores become dashes), in axis order.
#[derive(Debug, Clone, Default)]
pub struct AxisArgs {
    /// The axes given, with their values.
    pub settings: Vec<(Axis, AxisValue)>,
}

impl FromArgMatches for AxisArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let settings = Axis::all()
            .filter_map(|axis| {
                matches
                    .get_one::<AxisValue>(axis.name())
                    .map(|v| (axis, v.clone()))
            })
            .collect();
        Ok(Self { settings })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for AxisArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        Axis::all().fold(cmd, |cmd, axis| cmd.arg(axis_arg(axis)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// The flag of one axis: its doc line, which optimizers read it, its default.
fn axis_arg(axis: Axis) -> Arg {
    let def = axis.def();
    let help = if axis.is_hyper() {
        let names: Vec<_> = axis.optimizers().iter().map(|k| k.name()).collect();
        format!(
            "{} (read by {}) [default: the optimizer's]",
            def.doc,
            names.join(", ")
        )
    } else if def.kind.names().is_empty() {
        format!("{} [default: {}]", def.doc, axis.default_value())
    } else {
        let names = def.kind.names().join(", ");
        format!("{}: {names} [default: {}]", def.doc, axis.default_value())
    };
    let arg = Arg::new(def.name)
        .long(def.name.replace('_', "-"))
        .help(help)
        .value_parser(move |s: &str| axis.parse_value(s));
    if def.kind == AxisKind::Bool {
        arg.num_args(0..=1).default_missing_value("true")
    } else {
        arg
    }
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    fcnsweep_model::memory::parse_bytes(s)
}

/// A non-negative, finite number of seconds.
fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    std::time::Duration::try_from_secs_f64(v)
        .map_err(|_| format!("'{s}' is not a non-negative, finite number of seconds"))
}

fn parse_dataset(s: &str) -> Result<DatasetName, String> {
    DatasetName::parse(s).map_err(|e| e.to_string())
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s)
}

fn parse_sort(s: &str) -> Result<SortKey, String> {
    SortKey::parse(s)
}

fn parse_classical(s: &str) -> Result<ClassicalMethod, String> {
    ClassicalMethod::parse(s).map_err(|e| e.to_string())
}
