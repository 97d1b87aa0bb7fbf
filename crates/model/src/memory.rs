//! What one training run needs in memory, estimated from its configuration before anything is
//! allocated, so a sweep can refuse a configuration that would abort its process (a hidden
//! width of 100,000,000 asks for about 314 GB of weights alone).
//!
//! The estimate follows the fused engine's buffers: parameters (weights, biases, batch-norm
//! scale and shift and running statistics), their gradients, the optimizer's state buffers,
//! the training workspace for one batch (input rows, each hidden layer's activations, batch
//! norm's normalized values, logits and their gradient, two scratch buffers of the widest
//! layer), the evaluation workspace for one evaluation batch, and a checkpoint's buffers (a
//! snapshot of the parameters and optimizer state, and its serialized file). All are `f32`.

use std::fmt;

use crate::config::{Norm, RunConfig};

/// Rows of one evaluation batch: validation and test are scored in batches of this size (no
/// graph is built, so larger is cheaper).
pub const EVAL_BATCH: usize = 2048;

/// Bytes of one `f32`.
const F32: u64 = 4;

/// The estimated peak bytes of one run, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Parameters and batch-norm running statistics.
    pub parameters: u64,
    /// One gradient per parameter.
    pub gradients: u64,
    /// The optimizer's state buffers (momentum, moments, sums).
    pub optimizer_state: u64,
    /// The training workspace for one mini-batch.
    pub training_batch: u64,
    /// The evaluation workspace for one evaluation batch.
    pub evaluation_batch: u64,
    /// A checkpoint: the snapshot of parameters and optimizer state, and its file's bytes.
    pub checkpoint: u64,
}

impl MemoryEstimate {
    /// The estimate for `config` with `inputs` features and `classes` outputs. Saturates
    /// instead of overflowing, so absurd widths give a huge number, not a panic.
    pub fn of(config: &RunConfig, inputs: usize, classes: usize) -> Self {
        let m = &config.model;
        let bn = m.norm == Norm::Batch;
        let widths: Vec<u64> = m.hidden.iter().map(|&w| w as u64).collect();
        let mut params = m.linear_parameters(inputs, classes);
        let (inputs, classes) = (inputs as u64, classes as u64);
        let hidden_sum = widths.iter().fold(0u64, |a, &w| a.saturating_add(w));
        let bn_sum = if bn { hidden_sum } else { 0 };
        // Scale and shift are parameters; running mean and variance are buffers.
        let buffers = bn_sum.saturating_mul(2);
        params = params.saturating_add(buffers);
        let widest = widths.iter().copied().max().unwrap_or(0);
        let state = (config.optimizer.algorithm().state)(&config.optimizer).len() as u64;
        let batch = config.train.batch_size as u64;
        let per_row = inputs
            .saturating_add(hidden_sum)
            .saturating_add(bn_sum)
            .saturating_add(classes.saturating_mul(2))
            .saturating_add(widest.saturating_mul(2));
        let eval_row = inputs
            .saturating_add(widest.saturating_mul(2))
            .saturating_add(classes);
        let bytes = |n: u64| n.saturating_mul(F32);
        Self {
            parameters: bytes(params.saturating_add(buffers)),
            gradients: bytes(params),
            optimizer_state: bytes(params.saturating_mul(state)),
            training_batch: bytes(batch.saturating_mul(per_row)),
            evaluation_batch: bytes((EVAL_BATCH as u64).saturating_mul(eval_row)),
            checkpoint: bytes(
                params
                    .saturating_add(buffers)
                    .saturating_add(params.saturating_mul(state))
                    .saturating_mul(2),
            ),
        }
    }

    /// All parts together.
    pub fn total(&self) -> u64 {
        [
            self.parameters,
            self.gradients,
            self.optimizer_state,
            self.training_batch,
            self.evaluation_batch,
            self.checkpoint,
        ]
        .iter()
        .fold(0u64, |a, &b| a.saturating_add(b))
    }
}

/// The memory the system can give new allocations (`MemAvailable` of `/proc/meminfo`), or
/// `None` where that is not known.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// A byte count for people: `313.6 GB`, `512.0 MB`, `12.3 kB` (powers of 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
        let b = self.0 as f64;
        match units.iter().find(|(_, size)| b >= *size) {
            Some((unit, size)) => write!(f, "{:.1} {unit}", b / size),
            None => write!(f, "{} B", self.0),
        }
    }
}

/// Parses a size like `8G`, `8GB`, `512M`, `1.5T` or a plain byte count (powers of 1000;
/// `GiB`, `MiB` for powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a size like 8G, 512M or 1000000"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "'{s}': unknown unit '{unit}' (use B, K, M, G, T, KiB, MiB, GiB, TiB)"
            ))
        }
    };
    Ok((n * factor) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelConfig, TrainConfig};
    use crate::optim::{OptimizerConfig, OptimizerKind};

    fn run(hidden: Vec<usize>, norm: Norm, kind: OptimizerKind, batch: usize) -> RunConfig {
        RunConfig {
            model: ModelConfig {
                hidden,
                norm,
                ..ModelConfig::default()
            },
            optimizer: OptimizerConfig::new(kind, 0.1),
            train: TrainConfig {
                batch_size: batch,
                ..TrainConfig::default()
            },
        }
    }

    #[test]
    fn the_baseline_counted_by_hand() {
        // 784-500-50-10: 784·500+500 + 500·50+50 + 50·10+10 = 418,060 parameters.
        let e = MemoryEstimate::of(
            &run(vec![500, 50], Norm::None, OptimizerKind::Sgd, 100),
            784,
            10,
        );
        assert_eq!(e.parameters, 418_060 * 4);
        assert_eq!(e.gradients, 418_060 * 4);
        assert_eq!(e.optimizer_state, 0, "plain SGD keeps no state");
        // Per row: 784 input + 550 activations + 20 logits and gradient + 2·500 scratch.
        assert_eq!(e.training_batch, 100 * (784 + 550 + 20 + 1000) * 4);
        assert_eq!(e.evaluation_batch, 2048 * (784 + 1000 + 10) * 4);
        let adam = MemoryEstimate::of(
            &run(vec![500, 50], Norm::Batch, OptimizerKind::Adam, 100),
            784,
            10,
        );
        // Batch norm adds scale, shift and two running statistics per hidden unit.
        assert_eq!(adam.parameters, (418_060 + 4 * 550) * 4);
        assert_eq!(adam.optimizer_state, 2 * (418_060 + 2 * 550) * 4);
    }

    #[test]
    fn absurd_widths_saturate_into_a_huge_estimate() {
        let e = MemoryEstimate::of(
            &run(vec![100_000_000], Norm::None, OptimizerKind::Adam, 64),
            784,
            10,
        );
        assert!(e.total() > 300_000_000_000 * 4, "{}", Bytes(e.total()));
        let silly = MemoryEstimate::of(
            &run(
                vec![usize::MAX, usize::MAX],
                Norm::Batch,
                OptimizerKind::Adam,
                usize::MAX,
            ),
            784,
            10,
        );
        assert_eq!(silly.total(), u64::MAX);
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_bytes("8G").unwrap(), 8_000_000_000);
        assert_eq!(parse_bytes("512MB").unwrap(), 512_000_000);
        assert_eq!(parse_bytes("1.5 GiB").unwrap(), 1_610_612_736);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert!(parse_bytes("lots").unwrap_err().contains("'lots'"));
        assert!(parse_bytes("8Q").unwrap_err().contains("unknown unit"));
        assert_eq!(Bytes(313_600_000_000).to_string(), "313.6 GB");
        assert_eq!(Bytes(999).to_string(), "999 B");
        assert!(available_memory().is_some_and(|b| b > 0));
    }
}
