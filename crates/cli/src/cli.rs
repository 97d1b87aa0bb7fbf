//! Command-line grammar (clap derive). Values that name things (optimizer, init, norm,
//! dataset) are parsed by the libraries so the error lists the valid choices.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use fcnsweep_data::DatasetName;
use fcnsweep_model::{Init, Norm, OptimizerKind};

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
    Train(TrainArgs),
    /// Fetch or inspect datasets.
    #[command(subcommand)]
    Data(DataCommand),
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
    /// Hidden layer widths, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "500,50")]
    pub hidden: Vec<usize>,
    /// Optimizer: sgd, adam or rmsprop.
    #[arg(long, value_parser = parse_optimizer, default_value = "sgd")]
    pub optimizer: OptimizerKind,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Momentum (sgd, rmsprop).
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f64,
    /// L2 weight decay, as torch.optim's weight_decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Epochs.
    #[arg(long, default_value_t = 15)]
    pub epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Dropout probability after each hidden activation.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    /// Weight initializer: default, normal, xavier_normal, xavier_uniform, he_uniform, he_normal.
    #[arg(long, value_parser = parse_init, default_value = "default")]
    pub init: Init,
    /// Standard deviation of the `normal` initializer.
    #[arg(long, default_value_t = 0.1)]
    pub init_std: f64,
    /// Normalization after each hidden linear layer: none or batch.
    #[arg(long, value_parser = parse_norm, default_value = "none")]
    pub norm: Norm,
    /// Run seed (weights, dropout, shuffling).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Training images held out for validation.
    #[arg(long, default_value_t = 10_000)]
    pub validation: usize,
    /// Train on the first N images of the training part only.
    #[arg(long)]
    pub train_subset: Option<usize>,
    /// Standardize inputs with the training mean/std.
    #[arg(long)]
    pub standardize: bool,
    /// Print JSON lines (one per epoch, then a final one) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dir: DataDirArg,
}

fn parse_dataset(s: &str) -> Result<DatasetName, String> {
    DatasetName::parse(s).map_err(|e| e.to_string())
}

fn parse_optimizer(s: &str) -> Result<OptimizerKind, String> {
    OptimizerKind::parse(s).map_err(|e| e.to_string())
}

fn parse_init(s: &str) -> Result<Init, String> {
    Init::parse(s).map_err(|e| e.to_string())
}

fn parse_norm(s: &str) -> Result<Norm, String> {
    Norm::parse(s).map_err(|e| e.to_string())
}
