//! Trained networks as files: the final parameters and BatchNorm statistics of a run, in
//! PyTorch's layout, as `safetensors`.
//!
//! The tensor names are those of the equivalent `nn.Sequential` state dict: per hidden layer
//! `Linear` (`<i>.weight` `out × in`, `<i>.bias`), then `BatchNorm1d` when normalized
//! (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`), `ReLU`, and
//! `Dropout` when the rate is above zero (the last two hold no tensors but take an index), then
//! the output `Linear`. So `torch.nn.Sequential(...).load_state_dict(safetensors.torch.load_file(
//! path))` loads a file as it is. The header's metadata holds the architecture, the input
//! normalization and where the network came from.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::config::{ModelConfig, Norm};
use crate::error::ModelError;
use crate::fused::{EngineState, FusedFcn};
use crate::tensorfile::{bad, floats, header_entry, le_bytes, write_atomic};

/// Metadata key of the JSON description.
const KEY: &str = "fcnsweep";

/// What the header says besides the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsInfo {
    /// The architecture (hidden widths, dropout, normalization).
    pub model: ModelConfig,
    /// Input features (784 for 28×28 images).
    pub inputs: usize,
    /// Classes (logits).
    pub classes: usize,
    /// The input standardization the network was trained with: `(x - mean) / std` after
    /// scaling pixels to [0, 1]; `None` for none.
    pub normalization: Option<(f32, f32)>,
    /// Where it came from: sweep, configuration hash, seed, test accuracy, ... (free-form).
    #[serde(default)]
    pub source: BTreeMap<String, String>,
}

impl WeightsInfo {
    /// The configuration hash and seed the network was trained with, if the file says.
    pub fn trained_as(&self) -> Option<(&str, u64)> {
        let config = self.source.get("config")?;
        let seed = self.source.get("seed")?.parse().ok()?;
        Some((config.as_str(), seed))
    }
}

/// A trained network's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// Architecture and provenance.
    pub info: WeightsInfo,
    /// Every parameter tensor, flat, in the fused engine's order (layer by layer: weight,
    /// bias, then gamma and beta of a normalized layer).
    pub params: Vec<f32>,
    /// Shape of each parameter tensor.
    pub shapes: Vec<Vec<usize>>,
    /// BatchNorm running means per hidden layer (empty vectors without BatchNorm).
    pub running_mean: Vec<Vec<f32>>,
    /// BatchNorm running variances per hidden layer.
    pub running_var: Vec<Vec<f32>>,
    /// Training batches seen (BatchNorm's `num_batches_tracked`).
    pub batches: u64,
}

/// One `nn.Sequential` tensor: its name, shape, and where it lives in [`Weights`].
enum Slot {
    /// `params[offset..offset + len]`.
    Param(usize, usize),
    /// Running mean of hidden layer `l`.
    Mean(usize),
    /// Running variance of hidden layer `l`.
    Var(usize),
    /// `num_batches_tracked`.
    Batches,
}

impl Weights {
    /// The network's names, shapes and slots in `nn.Sequential` order.
    fn layout(&self) -> Vec<(String, Vec<usize>, Slot)> {
        let m = &self.info.model;
        let mut out = Vec::new();
        let mut offset = 0;
        let mut shapes = self.shapes.iter();
        let mut param = |name: String, out: &mut Vec<_>| {
            let shape: Vec<usize> = shapes.next().cloned().unwrap_or_default();
            let len = shape.iter().product::<usize>();
            out.push((name, shape, Slot::Param(offset, len)));
            offset += len;
        };
        let mut i = 0;
        for l in 0..m.hidden.len() {
            param(format!("{i}.weight"), &mut out);
            param(format!("{i}.bias"), &mut out);
            i += 1;
            if m.norm == Norm::Batch {
                param(format!("{i}.weight"), &mut out);
                param(format!("{i}.bias"), &mut out);
                let d = m.hidden[l];
                out.push((format!("{i}.running_mean"), vec![d], Slot::Mean(l)));
                out.push((format!("{i}.running_var"), vec![d], Slot::Var(l)));
                out.push((format!("{i}.num_batches_tracked"), vec![], Slot::Batches));
                i += 1;
            }
            i += 1; // ReLU
            if m.dropout > 0.0 {
                i += 1;
            }
        }
        param(format!("{i}.weight"), &mut out);
        param(format!("{i}.bias"), &mut out);
        out
    }

    /// The trained network of `state` (of architecture `model`, `inputs` features,
    /// `classes` logits, trained on inputs standardized by `normalization`).
    pub fn from_state(
        state: EngineState,
        model: &ModelConfig,
        inputs: usize,
        classes: usize,
        normalization: Option<(f32, f32)>,
    ) -> Self {
        Self {
            info: WeightsInfo {
                model: model.clone(),
                inputs,
                classes,
                normalization,
                source: BTreeMap::new(),
            },
            // Stored only as BatchNorm's `num_batches_tracked`.
            batches: if model.norm == Norm::Batch {
                state.steps as u64
            } else {
                0
            },
            params: state.params,
            shapes: state.shapes,
            running_mean: state.running_mean,
            running_var: state.running_var,
        }
    }

    /// The network with its provenance: the sweep (if any), dataset, configuration hash, seed
    /// and test accuracy of the run that trained it.
    pub fn with_source(
        mut self,
        sweep: Option<&str>,
        dataset: &str,
        config: &str,
        seed: u64,
        test_acc: f64,
    ) -> Self {
        let mut source = BTreeMap::new();
        if let Some(name) = sweep {
            source.insert("sweep".to_string(), name.to_string());
        }
        source.insert("dataset".to_string(), dataset.to_string());
        source.insert("config".to_string(), config.to_string());
        source.insert("seed".to_string(), seed.to_string());
        source.insert("test_acc".to_string(), test_acc.to_string());
        self.info.source = source;
        self
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let owned: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = self
            .layout()
            .into_iter()
            .map(|(name, shape, slot)| {
                let (dtype, bytes) = match slot {
                    Slot::Param(o, n) => (Dtype::F32, le_bytes(&self.params[o..o + n])),
                    Slot::Mean(l) => (Dtype::F32, le_bytes(&self.running_mean[l])),
                    Slot::Var(l) => (Dtype::F32, le_bytes(&self.running_var[l])),
                    Slot::Batches => (Dtype::I64, (self.batches as i64).to_le_bytes().to_vec()),
                };
                (name, shape, dtype, bytes)
            })
            .collect();
        let views = owned
            .iter()
            .map(|(n, shape, dtype, data)| {
                TensorView::new(*dtype, shape.clone(), data).map(|v| (n.clone(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let meta = HashMap::from([(
            KEY.to_string(),
            serde_json::to_string(&self.info).expect("info serializes"),
        )]);
        safetensors::serialize(views, Some(meta)).map_err(bad)
    }

    /// Reads a file written by [`Weights::to_bytes`] (or any state dict of the same names).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let text = header_entry(bytes, KEY, "network")?;
        let info: WeightsInfo = serde_json::from_str(&text).map_err(bad)?;
        let st = SafeTensors::deserialize(bytes).map_err(bad)?;
        // The shapes follow from the architecture.
        let mut shapes = Vec::new();
        let mut fan_in = info.inputs;
        for (l, &d) in info.model.hidden.iter().chain([&info.classes]).enumerate() {
            shapes.push(vec![d, fan_in]);
            shapes.push(vec![d]);
            if l < info.model.hidden.len() && info.model.norm == Norm::Batch {
                shapes.push(vec![d]);
                shapes.push(vec![d]);
            }
            fan_in = d;
        }
        let hidden = info.model.hidden.len();
        let mut w = Self {
            params: vec![0.0; shapes.iter().map(|s| s.iter().product::<usize>()).sum()],
            shapes,
            running_mean: vec![Vec::new(); hidden],
            running_var: vec![Vec::new(); hidden],
            batches: 0,
            info,
        };
        for (name, shape, slot) in w.layout() {
            let view = st.tensor(&name).map_err(|e| bad(format!("{name}: {e}")))?;
            if view.shape() != shape.as_slice() {
                return Err(bad(format!(
                    "{name} has shape {:?}, the architecture needs {shape:?}",
                    view.shape()
                )));
            }
            match slot {
                Slot::Param(o, n) => w.params[o..o + n].copy_from_slice(&floats(&view, &name)?),
                Slot::Mean(l) => w.running_mean[l] = floats(&view, &name)?,
                Slot::Var(l) => w.running_var[l] = floats(&view, &name)?,
                Slot::Batches => {
                    let b = view.data();
                    if b.len() == 8 {
                        w.batches = i64::from_le_bytes(b.try_into().expect("8 bytes")) as u64;
                    }
                }
            }
        }
        Ok(w)
    }

    /// Writes the file atomically (temporary file, fsync, rename); returns its SHA-256.
    pub fn write(&self, path: &Path) -> Result<String, ModelError> {
        write_atomic(path, &self.to_bytes()?, std::time::Duration::ZERO)
    }

    /// Reads a network file.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let bytes =
            fs::read(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        Self::from_bytes(&bytes).map_err(|e| bad(format!("{}: {e}", path.display())))
    }

    /// The network, ready to evaluate.
    pub fn network(&self) -> Result<FusedFcn, ModelError> {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let mut net = FusedFcn::new(
            &self.info.model,
            self.info.inputs,
            self.info.classes,
            1,
            &mut rng,
        )?;
        net.load_parameters(&self.params, &self.running_mean, &self.running_var)?;
        Ok(net)
    }
}

/// How a network classifies a labelled set of images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Images.
    pub n: usize,
    /// Share classified correctly.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Accuracy per true class.
    pub per_class: Vec<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
}

/// Images per forward pass of [`Weights::predict`].
const PREDICT_BATCH: usize = 2048;

impl Weights {
    /// Class probabilities of `images` (pixel / 255, row-major, `inputs` values each), the
    /// network's input standardization applied; row-major `(images, classes)`.
    pub fn predict(&self, images: &[f32]) -> Result<Vec<f32>, ModelError> {
        let inputs = self.info.inputs;
        if !images.len().is_multiple_of(inputs) {
            return Err(bad(format!(
                "images of {} values do not fit the network's {inputs} inputs",
                images.len()
            )));
        }
        let mut net = self.network()?;
        let mut out = Vec::with_capacity(images.len() / inputs * self.info.classes);
        for chunk in images.chunks(PREDICT_BATCH * inputs) {
            let rows = chunk.len() / inputs;
            let x: Vec<f32> = match self.info.normalization {
                Some((mean, std)) => chunk.iter().map(|&v| (v - mean) / std).collect(),
                None => chunk.to_vec(),
            };
            out.extend(net.probabilities(&x, rows));
        }
        Ok(out)
    }

    /// Accuracy, loss, per-class accuracy and confusion matrix on `images` with `labels`.
    pub fn evaluate(&self, images: &[f32], labels: &[u32]) -> Result<Evaluation, ModelError> {
        let probs = self.predict(images)?;
        let k = self.info.classes;
        let mut confusion = vec![vec![0u64; k]; k];
        let mut loss = 0.0f64;
        for (row, &label) in probs.chunks_exact(k).zip(labels) {
            let predicted = (0..k)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
                .unwrap_or(0);
            confusion[label as usize][predicted] += 1;
            loss -= f64::from(row[label as usize].max(f32::MIN_POSITIVE)).ln();
        }
        let n = labels.len();
        let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
        let per_class = confusion
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let total: u64 = row.iter().sum();
                if total == 0 {
                    f64::NAN
                } else {
                    row[c] as f64 / total as f64
                }
            })
            .collect();
        Ok(Evaluation {
            n,
            accuracy: correct as f64 / n.max(1) as f64,
            loss: loss / n.max(1) as f64,
            per_class,
            confusion,
        })
    }
}
