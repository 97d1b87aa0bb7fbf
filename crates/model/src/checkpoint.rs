//! Checkpoints: the whole training state of a run after an epoch, so that a run killed
//! later resumes there and ends bit-identical to an uninterrupted one.
//!
//! A checkpoint is a `safetensors` file (the format candle and PyTorch users read): one
//! tensor per parameter (`param.<i>`), per BatchNorm running statistic
//! (`bn.<layer>.running_mean|running_var`) and per optimizer buffer (`opt.<i>.<k>`); its
//! header's metadata holds the rest as JSON (format version, the run's configuration and seed,
//! epochs done with their metrics, optimizer step counts, the RNG streams' positions).
//! [`Checkpoint::write_atomic`] writes it through a temporary file, fsync and rename, and
//! returns its SHA-256, which the store records; [`Checkpoint::read_verified`] refuses a file
//! whose bytes do not have the recorded hash.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ModelError;
use crate::fused::EngineState;
use crate::tensorfile::{bad, floats, header_entry, le_bytes, write_atomic};
use crate::{EpochMetrics, RunConfig};

/// Version of the layout below.
const FORMAT: u32 = 1;

/// Everything but the tensors, kept in the safetensors header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    format: u32,
    config: RunConfig,
    seed: u64,
    epochs: Vec<EpochMetrics>,
    elapsed: f64,
    /// Word positions of the dropout and shuffle streams, as decimal strings (u128).
    rng: [String; 2],
    shapes: Vec<Vec<usize>>,
    steps: usize,
    seg_steps: Vec<u64>,
    /// Buffers per parameter tensor.
    opt_buffers: usize,
    bn_layers: usize,
}

/// The state of a run after its `epochs.len()`-th epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The run's configuration (a checkpoint resumes only the same run).
    pub config: RunConfig,
    /// The run's seed.
    pub seed: u64,
    /// Metrics of the epochs done.
    pub epochs: Vec<EpochMetrics>,
    /// Wall time trained so far.
    pub elapsed: f64,
    /// Word positions of the dropout and shuffle RNG streams.
    pub rng: [u128; 2],
    /// Network and optimizer state.
    pub engine: EngineState,
}

impl Checkpoint {
    /// Epochs done.
    pub fn epoch(&self) -> usize {
        self.epochs.len()
    }

    /// The checkpoint as safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let e = &self.engine;
        let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        let mut offset = 0;
        for (i, shape) in e.shapes.iter().enumerate() {
            let len: usize = shape.iter().product();
            owned.push((
                format!("param.{i:03}"),
                shape.clone(),
                le_bytes(&e.params[offset..offset + len]),
            ));
            offset += len;
        }
        for (l, (m, v)) in e.running_mean.iter().zip(&e.running_var).enumerate() {
            owned.push((
                format!("bn.{l:03}.running_mean"),
                vec![m.len()],
                le_bytes(m),
            ));
            owned.push((format!("bn.{l:03}.running_var"), vec![v.len()], le_bytes(v)));
        }
        let opt_buffers = e.states.first().map_or(0, Vec::len);
        for (i, bufs) in e.states.iter().enumerate() {
            for (k, b) in bufs.iter().enumerate() {
                owned.push((format!("opt.{i:03}.{k}"), vec![b.len()], le_bytes(b)));
            }
        }
        let header = Header {
            format: FORMAT,
            config: self.config.clone(),
            seed: self.seed,
            epochs: self.epochs.clone(),
            elapsed: self.elapsed,
            rng: self.rng.map(|p| p.to_string()),
            shapes: e.shapes.clone(),
            steps: e.steps,
            seg_steps: e.seg_steps.clone(),
            opt_buffers,
            bn_layers: e.running_mean.len(),
        };
        let views = owned
            .iter()
            .map(|(n, shape, data)| {
                TensorView::new(Dtype::F32, shape.clone(), data).map(|v| (n.clone(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let meta = HashMap::from([(
            "fcnsweep".to_string(),
            serde_json::to_string(&header).expect("header serializes"),
        )]);
        safetensors::serialize(views, Some(meta)).map_err(bad)
    }

    /// Reads safetensors bytes written by [`Checkpoint::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let text = header_entry(bytes, "fcnsweep", "checkpoint")?;
        let h: Header = serde_json::from_str(&text).map_err(bad)?;
        if h.format != FORMAT {
            return Err(bad(format!("format {} is not {FORMAT}", h.format)));
        }
        let st = SafeTensors::deserialize(bytes).map_err(bad)?;
        let get = |name: String| -> Result<Vec<f32>, ModelError> {
            let v = st.tensor(&name).map_err(|e| bad(format!("{name}: {e}")))?;
            floats(&v, &name)
        };
        let mut params = Vec::new();
        for i in 0..h.shapes.len() {
            params.extend(get(format!("param.{i:03}"))?);
        }
        let mut running_mean = Vec::new();
        let mut running_var = Vec::new();
        for l in 0..h.bn_layers {
            running_mean.push(get(format!("bn.{l:03}.running_mean"))?);
            running_var.push(get(format!("bn.{l:03}.running_var"))?);
        }
        let mut states = Vec::new();
        for i in 0..h.shapes.len() {
            states.push(
                (0..h.opt_buffers)
                    .map(|k| get(format!("opt.{i:03}.{k}")))
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        let rng = [
            h.rng[0].parse().map_err(bad)?,
            h.rng[1].parse().map_err(bad)?,
        ];
        Ok(Self {
            config: h.config,
            seed: h.seed,
            epochs: h.epochs,
            elapsed: h.elapsed,
            rng,
            engine: EngineState {
                params,
                shapes: h.shapes,
                running_mean,
                running_var,
                steps: h.steps,
                seg_steps: h.seg_steps,
                states,
            },
        })
    }

    /// Writes the checkpoint to `path` atomically (a temporary file beside it, fsync,
    /// rename, fsync of the directory) and returns the SHA-256 of its bytes.
    pub fn write_atomic(&self, path: &Path) -> Result<String, ModelError> {
        self.write_atomic_pausing(path, std::time::Duration::ZERO)
    }

    /// [`Checkpoint::write_atomic`] with a pause between writing the temporary file and
    /// renaming it: fault-injection tests kill processes in that window.
    pub fn write_atomic_pausing(
        &self,
        path: &Path,
        pause: std::time::Duration,
    ) -> Result<String, ModelError> {
        write_atomic(path, &self.to_bytes()?, pause)
    }

    /// Reads the checkpoint at `path` and checks that its bytes hash to `sha256`.
    pub fn read_verified(path: &Path, expected: &str) -> Result<Self, ModelError> {
        let bytes =
            fs::read(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        let got = sha256(&bytes);
        if got != expected {
            return Err(bad(format!(
                "{} is torn or replaced (SHA-256 {}…, the store recorded {}…)",
                path.display(),
                &got[..12],
                &expected[..expected.len().min(12)]
            )));
        }
        Self::from_bytes(&bytes)
    }
}

/// Hex SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}
