//! The bad-input corpus: one line per case. Each case writes its files into a fresh temp
//! dir, runs one command, and must exit with the expected non-zero code, name the file,
//! key or value at fault and what is expected (every fragment must be in stderr), and
//! leave the result database it was given byte for byte as it was (and create no file).
//!
//! Placeholders in arguments and fragments: `{dir}` the case's temp dir, `{db}` its
//! database (also `FCNSWEEP_DB`), `{spec}` its YAML file, `{data}` its data dir (also
//! `FCNSWEEP_DATA`), `{src}` a folder to `data fetch --from`.
//!
//! Every case starts from a copy of one small, valid database made once per test process;
//! it holds the sweep `existing` (see [`EXISTING`]).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;

use crate::common::{self, db_bytes, list_files, s, tempdir, write_tiny_dataset};
use crate::data::{write_faulty, Fault, TINY_TEST, TINY_TRAIN};

/// The sweep stored in every case's database.
const EXISTING: &str = "name: existing\ndataset: fashion-mnist\nepochs: 1\nvalidation: 20\nbatch_size: 16\nbase: {hidden: [8]}\n";

/// A valid spec for a sweep not in the database yet, whose configuration is not either (so
/// that running it needs the data).
const VALID: &str = "name: fresh\ndataset: fashion-mnist\nepochs: 1\nvalidation: 20\nbatch_size: 16\nbase: {hidden: [6]}\n";

/// A spec with a valid head and `rest` appended.
fn head(rest: &str) -> String {
    format!("name: bad\ndataset: fashion-mnist\n{rest}")
}

/// A spec with `settings` (top-level lines) and one `tpe` block whose head is `block`.
fn tpe(block: &str, settings: &str) -> String {
    head(&format!(
        "{settings}epochs: 2\nsearch:\n  - tpe:\n      {block}\n      params: {{lr: {{log_uniform: [0.001, 0.1]}}}}\n"
    ))
}

/// `n` distinct values `[step, 2 step, ...]` as a YAML flow list.
fn values(n: usize, step: f64) -> String {
    let v: Vec<String> = (1..=n).map(|i| format!("{}", i as f64 * step)).collect();
    format!("[{}]", v.join(", "))
}

/// What `{db}` is before the command runs.
#[derive(Debug, Clone, Copy)]
enum Db {
    /// A copy of the valid database holding `existing`.
    Good,
    /// A text file.
    Text,
    /// An SQLite database of another program (one table `foo`).
    Foreign,
    /// The valid database with `user_version` 99.
    Newer,
    /// The valid database, mode 0444.
    ReadOnly,
    /// The valid database with the trial of `existing` back to pending, mode 0444.
    ReadOnlyPending,
}

struct Case {
    name: &'static str,
    args: String,
    code: i32,
    expect: Vec<String>,
    yaml: Option<Vec<u8>>,
    spec_dir: bool,
    data: Option<Fault>,
    tiny_data: bool,
    src: bool,
    db: Db,
    absent: Vec<&'static str>,
}

/// A case: `args` split on whitespace (placeholders allowed), the exit code, and the
/// fragments stderr must contain.
fn c(name: &'static str, args: &str, code: i32, expect: &[&str]) -> Case {
    Case {
        name,
        args: args.to_string(),
        code,
        expect: expect.iter().map(|s| s.to_string()).collect(),
        yaml: None,
        spec_dir: false,
        data: None,
        tiny_data: false,
        src: false,
        db: Db::Good,
        absent: Vec::new(),
    }
}

impl Case {
    /// Writes `{spec}` with this text.
    fn yaml(mut self, text: impl Into<String>) -> Self {
        self.yaml = Some(text.into().into_bytes());
        self
    }
    /// Writes `{spec}` with these bytes.
    fn bytes(mut self, bytes: &[u8]) -> Self {
        self.yaml = Some(bytes.to_vec());
        self
    }
    /// Makes `{spec}` a directory.
    fn spec_dir(mut self) -> Self {
        self.spec_dir = true;
        self
    }
    /// Writes a tiny dataset with this fault into `{data}/fashion-mnist`.
    fn data(mut self, fault: Fault) -> Self {
        self.data = Some(fault);
        self
    }
    /// Writes a valid tiny dataset into `{data}/fashion-mnist`.
    fn tiny(mut self) -> Self {
        self.tiny_data = true;
        self
    }
    /// Writes a valid tiny dataset (whose checksums are not the registry's) into `{src}`.
    fn src(mut self) -> Self {
        self.src = true;
        self
    }
    /// What `{db}` is.
    fn db(mut self, db: Db) -> Self {
        self.db = db;
        self
    }
    /// A path that must not exist after the command.
    fn absent(mut self, path: &'static str) -> Self {
        self.absent.push(path);
        self
    }
}

/// The corpus. Adding a case is one line.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let run = "sweep run {spec} --db {db}";
    let train = "train --epochs 1 --validation 20 --hidden 8 --batch-size 16";
    let huge_grid = format!(
        "search:\n  - grid:\n      lr: {}\n      momentum: {}\n      dropout: {}\n      weight_decay: {}\n      init_std: {}\n",
        values(20, 0.01),
        values(20, 0.01),
        values(20, 0.01),
        values(20, 0.001),
        values(20, 0.01)
    );
    let random = |params: &str| {
        head(&format!(
            "search:\n  - random:\n      trials: 3\n      params:\n        {params}\n"
        ))
    };
    vec![
        // ---- YAML search spaces
        c("yaml_syntax_error", run, 1, &["{spec}: ", "did not find expected ',' or '}'", "line 5"]).yaml(head("search:\n  - grid: {lr: [0.1, 0.01]\n  - list: [{lr: 0.2}]\n")),
        c("yaml_bad_indentation", run, 1, &["{spec}: ", "did not find expected key", "line 5"]).yaml(head("base:\n  lr: 0.1\n momentum: 0.9\n")),
        c("yaml_syntax_error_plan", "sweep plan {spec}", 1, &["{spec}: ", "line 5"]).yaml(head("search:\n  - grid: {lr: [0.1, 0.01]\n  - list: [{lr: 0.2}]\n")),
        c("yaml_keep_weights_unknown", run, 1, &["{spec}: ", "keep_weights", "unknown keep_weights 'some': expected none, best or all"]).yaml(head("keep_weights: some\n")),
        c("yaml_max_attempts_zero", run, 1, &["{spec}: ", "max_attempts", "at least 1"]).yaml(head("max_attempts: 0\n")),
        c("yaml_unknown_top_level_key", run, 1, &["{spec}: ", "unknown field `colour`", "`dataset`", "line 3"]).yaml(head("colour: blue\n")),
        c("yaml_model_key_at_top_level", run, 1, &["{spec}: lr: ", "not a training setting", "under `base`"]).yaml(head("lr: 0.1\n")),
        c("yaml_unknown_key_in_base", run, 1, &["{spec}: base.learning_rate: unknown field `learning_rate`", "`lr`"]).yaml(head("base:\n  learning_rate: 0.1\n")),
        c("yaml_unknown_key_in_grid", run, 1, &["{spec}: search[0].grid.lrr: unknown field `lrr`", "`lr`", "line 5"]).yaml(head("search:\n  - grid:\n      lrr: [0.1]\n")),
        c("yaml_unknown_key_in_list", run, 1, &["search[0].list[1].drop", "`dropout`"]).yaml(head("search:\n  - list:\n      - {dropout: 0.5}\n      - {drop: 0.5}\n")),
        c("yaml_unknown_block", run, 1, &["search[0].grd", "`grid`", "`list`", "`random`"]).yaml(head("search:\n  - grd:\n      lr: [0.1]\n")),
        c("yaml_wrong_type_lr", run, 1, &["base.lr: invalid type", "\"fast\"", "a number", "line 4"]).yaml(head("base:\n  lr: fast\n")),
        c("yaml_wrong_type_epochs", run, 1, &["epochs: invalid type", "1.5", "integer"]).yaml(head("epochs: 1.5\n")),
        c("yaml_wrong_type_hidden", run, 1, &["base.hidden", "500", "list of layer widths"]).yaml(head("base:\n  hidden: 500\n")),
        c("yaml_grid_value_not_a_list", run, 1, &["search[0].grid.lr", "0.1", "a list of values"]).yaml(head("search:\n  - grid:\n      lr: 0.1\n")),
        c("yaml_document_is_a_list", run, 1, &["{spec}: ", "invalid type: sequence", "mapping"]).yaml("- 1\n- 2\n"),
        c("yaml_lr_zero", run, 1, &["base.lr", "invalid lr '0'", "positive"]).yaml(head("base:\n  lr: 0\n")),
        c("yaml_lr_negative", run, 1, &["base.lr: invalid lr '-0.1'", "positive", "line 4"]).yaml(head("base:\n  lr: -0.1\n")),
        c("yaml_lr_in_grid_not_positive", run, 1, &["search[0].grid.lr[1]: invalid lr '-0.01'", "positive", "line 5"]).yaml(head("search:\n  - grid:\n      lr: [0.1, -0.01]\n")),
        c("yaml_lr_in_grid_zero", run, 1, &["search[0].grid.lr[0]", "invalid lr '0'"]).yaml(head("search:\n  - grid:\n      lr: [0, 0.1]\n")),
        c("yaml_dropout_one", run, 1, &["base.dropout: invalid dropout '1'", "[0, 1)"]).yaml(head("base:\n  dropout: 1.0\n")),
        c("yaml_dropout_negative", run, 1, &["base.dropout", "invalid dropout '-0.1'", "[0, 1)"]).yaml(head("base:\n  dropout: -0.1\n")),
        c("yaml_augment_shift_too_large", run, 1, &["{spec}: augment_shift: invalid augment_shift '20'", "0 to 13 pixels", "line 3"]).yaml(head("augment_shift: 20\n")),
        c("yaml_augment_flip_not_a_flag", run, 1, &["search[0].grid.augment_flip", "invalid type", "boolean"]).yaml(head("search:\n  - grid:\n      augment_flip: [yes please]\n")),
        c("yaml_dropout_in_list", run, 1, &["search[0].list[0].dropout", "1.5"]).yaml(head("search:\n  - list:\n      - {dropout: 1.5}\n")),
        c("yaml_unknown_optimizer", run, 1, &["base.optimizer", "'lbfgs'", "sgd, adam, adamw, rmsprop, adagrad"]).yaml(head("base:\n  optimizer: lbfgs\n")),
        c("yaml_unknown_init", run, 1, &["search[0].grid.init[1]", "'glorot'", "xavier_normal", "he_uniform"]).yaml(head("search:\n  - grid:\n      init: [normal, glorot]\n")),
        c("yaml_unknown_norm", run, 1, &["base.norm", "'layer'", "none, batch"]).yaml(head("base:\n  norm: layer\n")),
        c("yaml_unknown_lr_schedule", run, 1, &["search[0].grid.lr_schedule[1]", "'linear'", "constant, cosine, step"]).yaml(head("search:\n  - grid:\n      lr_schedule: [cosine, linear]\n")),
        c("yaml_unknown_dataset", run, 1, &["dataset: unknown dataset `cifar10`", "fashion-mnist, mnist", "line 2"]).yaml("name: t\ndataset: cifar10\n"),
        c("yaml_unknown_distribution", run, 1, &["search[0].random.params.lr.gaussian", "unknown distribution `gaussian`", "log_uniform"]).yaml(random("lr: {gaussian: [0, 1]}")),
        c("yaml_distribution_for_wrong_axis", run, 1, &["params.optimizer.uniform", "does not apply to optimizer", "choice"]).yaml(random("optimizer: {uniform: [0, 1]}")),
        // Adaptive search: `tpe`, `prune`, `metric`, `confirm`.
        c("yaml_tpe_budget_zero", run, 1, &["{spec}: search[0].tpe.trials", "a number of trials >= 1", "line 6"]).yaml(tpe("trials: 0", "")),
        c("yaml_unknown_strategy", run, 1, &["search[0].bayes", "unknown field `bayes`", "`tpe`", "line 4"]).yaml(head("search:\n  - bayes:\n      trials: 4\n")),
        c("yaml_tpe_unknown_option", run, 1, &["search[0].tpe.gamma", "unknown field `gamma`", "n_ei_candidates"]).yaml(tpe("trials: 4\n      gamma: 0.2", "")),
        c("yaml_tpe_cost_aware_not_a_flag", run, 1, &["{spec}: search[0].tpe.cost_aware", "invalid type", "boolean", "line 7"]).yaml(tpe("trials: 4\n      cost_aware: sometimes", "")),
        c("yaml_tpe_epoch_budget_zero", run, 1, &["{spec}: search[0].tpe.epoch_budget", "a number of epochs >= 1", "line 7"]).yaml(tpe("trials: 4\n      epoch_budget: 0", "")),
        c("yaml_unknown_pruner", run, 1, &["{spec}: prune.method", "unknown pruning method `hyperopt`", "median, asha, hyperband", "line 3"]).yaml(tpe("trials: 4", "prune: {method: hyperopt}\n")),
        c("yaml_prune_reduction_factor_one", run, 1, &["prune.reduction_factor", "reduction_factor 1 must be at least 2", "line 3"]).yaml(tpe("trials: 4", "prune: {method: asha, reduction_factor: 1}\n")),
        c("yaml_prune_margin_negative", run, 1, &["{spec}: prune.margin", "margin -0.01 must be a number of at least 0", "line 3"]).yaml(tpe("trials: 4", "prune: {method: asha, margin: -0.01}\n")),
        c("yaml_prune_key_of_another_method", run, 1, &["prune", "`warmup_epochs` does not apply to method asha"]).yaml(tpe("trials: 4", "prune: {method: asha, warmup_epochs: 2}\n")),
        c("yaml_prune_min_epochs_above_epochs", run, 1, &["{spec}: prune.min_epochs", "5 is above the sweep's largest epochs (2)", "line 3"]).yaml(tpe("trials: 4", "prune: {method: hyperband, min_epochs: 5}\n")),
        c("yaml_prune_without_validation", run, 1, &["{spec}: prune", "val_acc at every epoch", "validation: 0", "line 3"]).yaml(tpe("trials: 4", "prune: {method: median}\nvalidation: 0\n")),
        c("yaml_unknown_metric", run, 1, &["{spec}: metric.name", "unknown metric `test_acc`", "val_acc or val_loss", "line 3"]).yaml(tpe("trials: 4", "metric: {name: test_acc}\n")),
        c("yaml_unknown_goal", run, 1, &["metric.goal", "unknown goal `max`", "maximize or minimize", "line 3"]).yaml(tpe("trials: 4", "metric: {name: val_loss, goal: max}\n")),
        c("yaml_confirm_top_above_budget", run, 1, &["{spec}: confirm.top", "9 is above the search's budget of 5 configurations", "line 3"]).yaml(tpe("trials: 4", "confirm: {top: 9, seeds: 3}\n")),
        c("yaml_confirm_validation_too_large", run, 1, &["{spec}: confirm.validation", "invalid validation '60000'", "fewer images than the 60000 of the training set", "line 3"]).yaml(tpe("trials: 4", "confirm: {top: 1, seeds: 2, validation: 60000}\n")),
        c("yaml_confirm_unknown_option", run, 1, &["{spec}: confirm", "unknown field `subset`", "validation"]).yaml(tpe("trials: 4", "confirm: {top: 1, subset: 100}\n")),
        c("yaml_tpe_with_several_seeds", run, 1, &["{spec}: seeds", "3 seeds with a tpe block", "confirm"]).yaml(tpe("trials: 4", "seeds: 3\n")),
        c("yaml_two_tpe_blocks", run, 1, &["search[1]", "a second tpe block", "at most one adaptive block"]).yaml(head("include_base: false\nepochs: 2\nsearch:\n  - tpe:\n      trials: 2\n      params: {lr: {log_uniform: [0.001, 0.1]}}\n  - tpe:\n      trials: 2\n      params: {lr: {log_uniform: [0.001, 0.1]}}\n")),
        c("yaml_empty_grid_list", run, 1, &["search[0].grid.lr: empty list"]).yaml(head("search:\n  - grid:\n      lr: []\n")),
        c("yaml_empty_grid", run, 1, &["search[0].grid: empty grid"]).yaml(head("search:\n  - grid: {}\n")),
        c("yaml_empty_list_block", run, 1, &["search[0].list: empty list"]).yaml(head("search:\n  - list: []\n")),
        c("yaml_empty_choice", run, 1, &["params.optimizer.choice", "empty list"]).yaml(random("optimizer: {choice: []}")),
        c("yaml_random_trials_zero", run, 1, &["search[0].random.trials", "`0`", "trials >= 1"]).yaml(head("search:\n  - random:\n      trials: 0\n      params:\n        lr: {uniform: [0.1, 1]}\n")),
        c("yaml_random_missing_trials", run, 1, &["search[0].random", "missing field `trials`"]).yaml(head("search:\n  - random:\n      params:\n        lr: {uniform: [0.1, 1]}\n")),
        c("yaml_inverted_uniform", run, 1, &["params.lr.uniform", "inverted range [0.1, 0.01]"]).yaml(random("lr: {uniform: [0.1, 0.01]}")),
        c("yaml_inverted_int_uniform", run, 1, &["params.epochs.int_uniform", "inverted range [9, 2]"]).yaml(random("epochs: {int_uniform: [9, 2]}")),
        c("yaml_log_uniform_from_zero", run, 1, &["params.lr.log_uniform", "[0, 0.1]", "low > 0"]).yaml(random("lr: {log_uniform: [0, 0.1]}")),
        c("yaml_huge_grid", run, 1, &["search[0].grid", "3200000", "limit of 10000"]).yaml(head(&huge_grid)),
        c("yaml_huge_random", run, 1, &["search", "20001", "limit of 10000"]).yaml(head("search:\n  - random:\n      trials: 20000\n      params:\n        lr: {uniform: [0.1, 1]}\n")),
        c("yaml_huge_seed_count", run, 1, &["seeds", "1000000", "100000"]).yaml(head("seeds: 1000000\n")),
        c("yaml_duplicate_seeds", run, 1, &["seeds[2]: duplicate seed 1", "line 3"]).yaml(head("seeds: [0, 1, 1]\n")),
        c("yaml_zero_seeds", run, 1, &["seeds", "`0`", ">= 1"]).yaml(head("seeds: 0\n")),
        c("yaml_empty_seed_list", run, 1, &["seeds", "at least one seed"]).yaml(head("seeds: []\n")),
        c("yaml_key_at_top_level_and_in_base", run, 1, &["base.epochs", "`epochs: 10`", "top level (`epochs: 5`)"]).yaml(head("epochs: 5\nbase:\n  epochs: 10\n")),
        c("yaml_duplicate_key", run, 1, &["base.lr: duplicate key `lr`"]).yaml(head("base: {lr: 0.1, lr: 0.2}\n")),
        c("yaml_train_subset_zero", run, 1, &["train_subset", "'0'"]).yaml(head("train_subset: 0\n")),
        c("yaml_validation_too_large", run, 1, &["validation", "'60000'"]).yaml(head("validation: 60000\n")),
        c("yaml_hidden_empty", run, 1, &["base.hidden", "[]"]).yaml(head("base:\n  hidden: []\n")),
        c("yaml_hidden_zero_width", run, 1, &["base.hidden", "'0'"]).yaml(head("base:\n  hidden: [500, 0]\n")),
        c("yaml_name_with_bad_characters", run, 1, &["name: invalid value", "\"bad name\"", "letters, digits"]).yaml("name: bad name\ndataset: mnist\n"),
        c("yaml_name_with_slash", run, 1, &["name", "\"../x\""]).yaml("name: ../x\ndataset: mnist\n"),
        c("yaml_missing_name", run, 1, &["{spec}: ", "missing field `name`"]).yaml("dataset: mnist\n"),
        c("yaml_missing_dataset", run, 1, &["{spec}: ", "missing field `dataset`"]).yaml("name: t\n"),
        c("yaml_include_base_false_and_no_blocks", run, 1, &["include_base", "empty"]).yaml(head("include_base: false\n")),
        c("yaml_not_utf8", run, 1, &["{spec}: not UTF-8", "offset 9"]).bytes(b"name: caf\xe9\ndataset: mnist\n"),
        c("yaml_is_a_directory", run, 1, &["{spec}: is a directory", "YAML file"]).spec_dir(),
        c("yaml_missing_file", "sweep run {dir}/missing.yaml --db {db}", 1, &["{dir}/missing.yaml: cannot read the search space", "No such file"]),
        c("yaml_empty_file", run, 1, &["{spec}: ", "empty", "`name` and `dataset`"]).yaml(""),
        c("yaml_comments_only", "sweep plan {spec}", 1, &["{spec}: ", "missing field `name`"]).yaml("\n   \n# only a comment\n"),
        c("yaml_same_name_different_spec", run, 1, &["sweep 'existing' already exists in {db} with a different spec", "1 configurations added, 1 removed", "--extend"]).yaml(EXISTING.replace("hidden: [8]", "hidden: [8], lr: 0.05")),
        c("yaml_same_name_other_dataset", run, 1, &["sweep 'existing' already exists in {db} with a different spec", "dataset fashion-mnist became mnist"]).yaml(EXISTING.replace("fashion-mnist", "mnist")),
        // ---- command-line flags
        c("train_lr_zero", "train --lr 0", 1, &["invalid lr '0'", "positive"]),
        c("train_lr_negative_equals", "train --lr=-1", 1, &["invalid lr '-1'", "positive"]),
        c("train_lr_negative", "train --lr -1", 1, &["invalid lr '-1'", "positive"]),
        c("train_augment_shift_too_large", "train --augment-shift 14", 1, &["invalid augment_shift '14'", "0 to 13 pixels"]),
        c("train_dropout_one", "train --dropout 1", 1, &["invalid dropout '1'", "[0, 1)"]),
        c("run_checkpoint_every_infinite", "sweep run {spec} --checkpoint-every inf", 2, &["--checkpoint-every", "'inf' is not a non-negative, finite number of seconds"]).yaml(VALID),
        c("run_checkpoint_every_negative", "sweep run {spec} --checkpoint-every=-1", 2, &["--checkpoint-every", "'-1' is not a non-negative, finite number of seconds"]).yaml(VALID),
        c("run_keep_weights_unknown", "sweep run {spec} --keep-weights some", 2, &["--keep-weights", "expected none, best or all"]).yaml(VALID),
        c("train_optimizer_unknown", "train --optimizer foo", 2, &["'foo'", "--optimizer", "sgd, adam, adamw, rmsprop, adagrad"]),
        c("train_init_unknown", "train --init foo", 2, &["'foo'", "--init", "default, normal, xavier_normal, xavier_uniform, he_uniform, he_normal"]),
        c("train_norm_unknown", "train --norm foo", 2, &["'foo'", "--norm", "none, batch"]),
        c("train_lr_schedule_unknown", "train --lr-schedule linear", 2, &["'linear'", "--lr-schedule", "constant, cosine, step"]),
        c("train_lr_gamma_zero", "train --lr-schedule step --lr-gamma 0", 1, &["invalid lr_gamma '0'", "(0, 1]"]),
        c("train_hidden_empty", "train --hidden=", 2, &["--hidden", "''", "empty string"]),
        c("train_hidden_zero", "train --hidden 0", 1, &["invalid hidden '0'", ">= 1"]),
        c("train_hidden_not_a_number", "train --hidden 500,x", 2, &["--hidden", "'x'", "invalid digit"]),
        c("train_epochs_zero", "train --epochs 0", 1, &["invalid epochs '0'", "at least 1"]),
        c("train_batch_size_zero", "train --batch-size 0", 1, &["invalid batch_size '0'", "at least 1"]),
        c("train_validation_too_large", "train --validation 60000", 1, &["invalid validation '60000'", "60000"]),
        c("train_dataset_unknown", "train --dataset foo", 2, &["'foo'", "--dataset", "fashion-mnist, mnist"]),
        c("sweep_run_jobs_zero", "sweep run {spec} --db {db} --jobs 0", 2, &["'0'", "--jobs", "1..=1024"]).yaml(VALID),
        c("results_format_xml", "results show existing --format xml", 2, &["'xml'", "--format", "table, csv, json, markdown"]),
        c("results_sort_bogus", "results show existing --sort bogus", 2, &["'bogus'", "--sort", "test, val, order"]),
        c("results_show_unknown_sweep", "results show nope --db {db}", 1, &["no sweep named 'nope' in {db}", "(sweeps: existing)"]),
        c("results_epochs_unknown_config", "results epochs existing --config zzz --db {db}", 1, &["configuration 'zzz' matches nothing in sweep 'existing'"]),
        c("results_trials_unknown_config", "results trials existing --config zzz --db {db}", 1, &["configuration 'zzz' matches nothing in sweep 'existing'"]),
        c("sweep_resume_unknown_sweep", "sweep resume nope --db {db}", 1, &["no sweep named 'nope'", "existing"]),
        c("sweep_status_unknown_sweep", "sweep status nope --db {db}", 1, &["no sweep named 'nope'", "existing"]),
        // ---- configurations too big for memory: refused before anything is written
        c("memory_sweep_config_too_large", run, 1, &["configuration ", "(784-100000000-10, batch 16, sgd) needs about", "more than the memory available", "shrink the network"]).yaml(head("epochs: 1\nvalidation: 20\nbatch_size: 16\nsearch:\n  - list:\n      - {hidden: [100000000]}\n")).tiny(),
        c("memory_sweep_max_memory", "sweep run {spec} --db {db} --jobs 2 --max-memory 1M", 1, &["(784-6-10, batch 16, sgd) needs about", "× 2 trials at once", "more than --max-memory (1.0 MB)", "lower --jobs", "raise --max-memory"]).yaml(VALID).tiny(),
        c("memory_train_too_large", "train --epochs 1 --validation 20 --hidden 100000000 --batch-size 16", 1, &["(784-100000000-10, batch 16, sgd) needs about", "GB"]).tiny(),
        c("memory_tpe_space_too_big", "sweep run {spec} --db {db} --jobs 1 --max-memory 64M", 1, &["(784-4096-4096-4096-10, batch 16, adam) needs about", "more than --max-memory (64.0 MB)", "shrink the network"]).yaml(head("epochs: 1\nvalidation: 20\nbatch_size: 16\ninclude_base: false\nsearch:\n  - tpe:\n      trials: 3\n      params:\n        hidden: {layers: {depth: [1, 3], width: [8, 4096]}}\n        optimizer: {choice: [sgd, adam]}\n")).tiny(),
        c("memory_size_unparsable", "train --max-memory lots", 2, &["'lots'", "--max-memory", "8G"]),
        // ---- data files
        c("data_truncated_train", train, 1, &["{data}/fashion-mnist/train-images-idx3-ubyte.gz: file is truncated", "header implies"]).data(Fault::Truncated),
        c("data_truncated_sweep", run, 1, &["{data}/fashion-mnist/train-images-idx3-ubyte.gz: file is truncated"]).yaml(VALID).data(Fault::Truncated),
        c("data_wrong_magic", train, 1, &["{data}/fashion-mnist/train-labels-idx1-ubyte.gz: not an IDX labels file", "expected 0x00000801"]).data(Fault::WrongMagic),
        c("data_random_bytes", train, 1, &["{data}/fashion-mnist/train-images-idx3-ubyte.gz: not an IDX images file (nor gzip)"]).data(Fault::RandomBytes),
        c("data_corrupt_gzip", train, 1, &["{data}/fashion-mnist/train-images-idx3-ubyte.gz", "corrupt deflate stream"]).data(Fault::CorruptGzip),
        c("data_wrong_dimensions", train, 1, &["{data}/fashion-mnist/t10k-images-idx3-ubyte.gz: bad dimensions", "20x20, expected 28x28"]).data(Fault::WrongDimensions),
        c("data_count_mismatch", train, 1, &["{data}/fashion-mnist/t10k-images-idx3-ubyte.gz holds 30 images but {data}/fashion-mnist/t10k-labels-idx1-ubyte.gz holds 31 labels"]).data(Fault::CountMismatch),
        c("data_count_mismatch_sweep", run, 1, &["t10k-images-idx3-ubyte.gz holds 30 images but"]).yaml(VALID).data(Fault::CountMismatch),
        c("data_empty_file", train, 1, &["{data}/fashion-mnist/train-labels-idx1-ubyte.gz: file is truncated", "0 bytes"]).data(Fault::EmptyFile),
        c("data_label_out_of_range", train, 1, &["train-labels-idx1-ubyte.gz: label 12 at index 17", "0..=9"]).data(Fault::LabelOutOfRange),
        c("data_missing_dataset", train, 1, &["dataset 'fashion-mnist' not found in {data}/fashion-mnist", "fcnsweep data fetch --dataset fashion-mnist --data-dir {data}"]).data(Fault::Missing),
        c("data_missing_dataset_sweep", run, 1, &["dataset 'fashion-mnist' not found", "fcnsweep data fetch --dataset fashion-mnist"]).yaml(VALID).data(Fault::Missing),
        c("data_missing_file", train, 1, &["missing t10k-labels-idx1-ubyte[.gz]", "fcnsweep data fetch --dataset fashion-mnist"]).data(Fault::MissingFile),
        c("data_fetch_checksum_mismatch", "data fetch --dataset fashion-mnist --from {src} --data-dir {dir}/fetched", 1, &["{src}/train-images-idx3-ubyte.gz: SHA-256 of the decompressed content is", "expected c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"]).src(),
        c("data_fetch_from_missing_folder", "data fetch --dataset mnist --from {dir}/nowhere --data-dir {dir}/fetched", 1, &["{dir}/nowhere", "the folder to import from does not exist"]),
        c("data_info_checksum_mismatch", "data info --dataset fashion-mnist", 1, &["fashion-mnist: some files fail verification", "fcnsweep data fetch --dataset fashion-mnist"]).tiny(),
        c("data_info_missing", "data info --dataset mnist", 1, &["mnist", "fcnsweep data fetch --dataset mnist"]),
        // ---- result databases
        c("db_text_file_run", run, 1, &["{db} is not an SQLite database"]).yaml(VALID).db(Db::Text),
        c("db_text_file_show", "results show existing --db {db}", 1, &["{db} is not an SQLite database"]).db(Db::Text),
        c("db_text_file_list", "sweep list", 1, &["{db} is not an SQLite database"]).db(Db::Text),
        c("db_foreign_run", run, 1, &["{db} belongs to another program", "tables: foo"]).yaml(VALID).db(Db::Foreign),
        c("db_foreign_show", "results show existing --db {db}", 1, &["{db} belongs to another program", "foo"]).db(Db::Foreign),
        c("db_newer_schema_run", run, 1, &["{db} has schema version 99", "newer than this fcnsweep supports", "upgrade fcnsweep"]).yaml(VALID).db(Db::Newer),
        c("db_newer_schema_show", "results show existing --db {db}", 1, &["{db} has schema version 99"]).db(Db::Newer),
        c("db_read_only_run", run, 1, &["{db} is read-only"]).yaml(VALID).db(Db::ReadOnly),
        c("db_read_only_resume", "sweep resume existing --db {db}", 1, &["{db} is read-only"]).tiny().db(Db::ReadOnlyPending),
        c("db_read_only_resume_data_missing", "sweep resume existing --db {db}", 1, &["{db} is read-only"]).db(Db::ReadOnlyPending),
        c("db_read_only_run_existing", "sweep run {spec} --db {db}", 1, &["{db} is read-only"]).yaml(EXISTING).db(Db::ReadOnlyPending),
        c("db_in_missing_directory", "sweep run {spec} --db {dir}/nodir/r.sqlite", 1, &["database directory {dir}/nodir does not exist"]).yaml(VALID).absent("nodir"),
        c("db_is_a_directory", "sweep run {spec} --db {dir}", 1, &["{dir} is a directory", "must name a database file"]).yaml(VALID),
        c("db_missing_for_show", "results show existing --db {dir}/missing.sqlite", 1, &["no database at {dir}/missing.sqlite", "fcnsweep sweep run"]).absent("missing.sqlite"),
        c("db_missing_for_resume", "sweep resume existing --db {dir}/missing.sqlite", 1, &["no database at {dir}/missing.sqlite"]).absent("missing.sqlite"),
    ]
}

/// The valid database every case starts from, made once per test process.
fn base_db() -> &'static [u8] {
    static DB: OnceLock<Vec<u8>> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = tempdir();
        let data = dir.path().join("data");
        write_tiny_dataset(&data.join("fashion-mnist"), TINY_TRAIN, TINY_TEST, true);
        let spec = dir.path().join("existing.yaml");
        fs::write(&spec, EXISTING).unwrap();
        let db = dir.path().join("base.sqlite");
        common::run(dir.path(), &common::sweep_run(&spec, &db, "1", &data)).ok();
        let (main, wal) = db_bytes(&db);
        assert!(wal.is_none(), "the base database was left with a WAL");
        main.expect("base database")
    })
}

fn write_db(db: &Path, kind: Db) {
    match kind {
        Db::Good => fs::write(db, base_db()).unwrap(),
        Db::Text => fs::write(db, "this is not a database\n").unwrap(),
        Db::Foreign => {
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.execute_batch("CREATE TABLE foo (x INTEGER); INSERT INTO foo VALUES (1);")
                .unwrap();
        }
        Db::Newer => {
            fs::write(db, base_db()).unwrap();
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        Db::ReadOnly => {
            fs::write(db, base_db()).unwrap();
            fs::set_permissions(db, fs::Permissions::from_mode(0o444)).unwrap();
        }
        Db::ReadOnlyPending => {
            fs::write(db, base_db()).unwrap();
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.execute_batch("DELETE FROM epochs; UPDATE trials SET status = 'pending';")
                .unwrap();
            drop(conn);
            fs::set_permissions(db, fs::Permissions::from_mode(0o444)).unwrap();
        }
    }
}

/// Runs one case; returns what went wrong, if anything.
fn check(case: &Case) -> Option<String> {
    let tmp = tempdir();
    let dir = tmp.path();
    let db = dir.join("db.sqlite");
    let spec = dir.join("spec.yaml");
    let data = dir.join("data");
    let src = dir.join("src");
    let fill = |t: &str| {
        t.replace("{dir}", s(dir))
            .replace("{db}", s(&db))
            .replace("{spec}", s(&spec))
            .replace("{data}", s(&data))
            .replace("{src}", s(&src))
    };
    write_db(&db, case.db);
    if let Some(bytes) = &case.yaml {
        fs::write(&spec, bytes).unwrap();
    }
    if case.spec_dir {
        fs::create_dir(&spec).unwrap();
    }
    if let Some(fault) = case.data {
        write_faulty(&data, fault);
    }
    if case.tiny_data {
        write_tiny_dataset(&data.join("fashion-mnist"), TINY_TRAIN, TINY_TEST, true);
    }
    if case.src {
        write_tiny_dataset(&src, TINY_TRAIN, TINY_TEST, true);
    }
    let files = |d: &Path| -> Vec<String> {
        list_files(d)
            .into_iter()
            .filter(|f| !f.ends_with('/'))
            .collect()
    };
    let files_before = files(dir);
    let db_before = db_bytes(&db);

    let args: Vec<String> = case.args.split_whitespace().map(fill).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::run_env(
        dir,
        &args,
        &[
            ("FCNSWEEP_DB", s(&db)),
            ("FCNSWEEP_DATA", s(&data)),
            ("RAYON_NUM_THREADS", "1"),
        ],
    );

    let mut problems = Vec::new();
    if out.code != Some(case.code) {
        problems.push(format!("exit code {:?}, expected {}", out.code, case.code));
    }
    for fragment in &case.expect {
        let fragment = fill(fragment);
        if !out.stderr.contains(&fragment) {
            problems.push(format!("stderr lacks {fragment:?}"));
        }
    }
    if out.stderr.contains("panicked") {
        problems.push("the command panicked".into());
    }
    if db_bytes(&db) != db_before {
        problems.push(format!("{} changed", db.display()));
    }
    let files_after = files(dir);
    if files_after != files_before {
        problems.push(format!(
            "files changed: {files_before:?} -> {files_after:?}"
        ));
    }
    for path in &case.absent {
        if dir.join(path).exists() {
            problems.push(format!("{path} was created"));
        }
    }
    (!problems.is_empty()).then(|| {
        format!(
            "case {}: {}\n{}",
            case.name,
            problems.join("; "),
            out.to_string().trim_end()
        )
    })
}

#[test]
fn bad_inputs_are_refused_with_a_precise_message_and_the_database_untouched() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "case names must be unique");
    for case in &cases {
        assert_ne!(case.code, 0, "{}: bad inputs exit non-zero", case.name);
    }
    base_db();
    // Two threads: each case is a short process, mostly waiting on start-up.
    let (a, b): (Vec<&Case>, Vec<&Case>) =
        cases
            .iter()
            .enumerate()
            .fold((Vec::new(), Vec::new()), |(mut a, mut b), (i, c)| {
                if i % 2 == 0 {
                    a.push(c)
                } else {
                    b.push(c)
                }
                (a, b)
            });
    let failures: Vec<String> = std::thread::scope(|scope| {
        let h = scope.spawn(|| b.iter().filter_map(|c| check(c)).collect::<Vec<_>>());
        let mut f: Vec<String> = a.iter().filter_map(|c| check(c)).collect();
        f.extend(h.join().expect("case thread"));
        f
    });
    eprintln!(
        "bad inputs: {} cases, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
