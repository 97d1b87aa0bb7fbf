//! Candle interop: the parameters, gradients, BatchNorm statistics and logits as tensors,
//! for the reference comparisons and checkpoints.

use candle_core::{Device, Tensor};

use super::network::FusedFcn;
use crate::error::ModelError;

impl FusedFcn {
    /// Copies of the parameters as candle tensors (layer order: weight, bias, then BN gamma
    /// and beta; output layer last), shaped as [`crate::Fcn::parameters`].
    pub fn parameters(&self) -> Result<Vec<Tensor>, ModelError> {
        self.to_tensors(&self.params)
    }

    /// Copies of the gradients of the last training step, shaped as the parameters.
    pub fn gradients(&self) -> Result<Vec<Tensor>, ModelError> {
        self.to_tensors(&self.grads)
    }

    /// Overwrites the parameters from tensors shaped as [`FusedFcn::parameters`] returns.
    pub fn set_parameters(&mut self, tensors: &[Tensor]) -> Result<(), ModelError> {
        if tensors.len() != self.shapes.len() {
            return Err(ModelError::InvalidValue {
                field: "params",
                value: format!("{} tensors", tensors.len()),
                expected: "one tensor per parameter of the network",
            });
        }
        let mut flat = Vec::with_capacity(self.params.len());
        for (t, shape) in tensors.iter().zip(&self.shapes) {
            if t.dims() != shape.as_slice() {
                return Err(ModelError::InvalidValue {
                    field: "params",
                    value: format!("{:?}", t.dims()),
                    expected: "the shape of the network's parameter",
                });
            }
            flat.extend(t.flatten_all()?.to_vec1::<f32>()?);
        }
        self.params = flat;
        Ok(())
    }

    /// BatchNorm running `(mean, variance)` of every hidden layer (empty without BatchNorm).
    pub fn running_stats(&self) -> Result<Vec<(Tensor, Tensor)>, ModelError> {
        let dev = Device::Cpu;
        let mut out = Vec::new();
        for (m, v) in self.running_mean.iter().zip(&self.running_var) {
            if !m.is_empty() {
                out.push((
                    Tensor::from_slice(m, m.len(), &dev)?,
                    Tensor::from_slice(v, v.len(), &dev)?,
                ));
            }
        }
        Ok(out)
    }

    /// Logits of the last training forward pass, `(rows, classes)`.
    pub fn logits(&self) -> Result<Tensor, ModelError> {
        let n = self.ws.rows;
        Ok(Tensor::from_slice(
            &self.ws.logits[..n * self.classes],
            (n, self.classes),
            &Device::Cpu,
        )?)
    }

    fn to_tensors(&self, flat: &[f32]) -> Result<Vec<Tensor>, ModelError> {
        let mut out = Vec::with_capacity(self.shapes.len());
        let mut off = 0;
        for shape in &self.shapes {
            let len: usize = shape.iter().product();
            out.push(Tensor::from_slice(
                &flat[off..off + len],
                shape.as_slice(),
                &Device::Cpu,
            )?);
            off += len;
        }
        Ok(out)
    }
}
