//! The per-batch buffers of training steps and evaluation passes, allocated once for the
//! largest batch seen.

use super::network::FusedFcn;
use super::MatRef;

/// Buffers of one training step, sized for `cap` rows.
#[derive(Debug, Default)]
pub(super) struct TrainWorkspace {
    pub(super) cap: usize,
    /// Output of each hidden layer after ReLU and dropout, feature-major (`width × rows`).
    pub(super) acts: Vec<Vec<f32>>,
    /// Normalized pre-activations of each batch-normalized hidden layer, feature-major.
    pub(super) xhat: Vec<Vec<f32>>,
    /// Batch standard deviation √(var + eps) of each batch-normalized hidden layer.
    pub(super) std: Vec<Vec<f32>>,
    /// Logits of the last forward pass (`cap × classes`).
    pub(super) logits: Vec<f32>,
    /// Gradient of the loss with respect to the logits.
    pub(super) dlogits: Vec<f32>,
    /// Ping-pong buffers for the gradients flowing backwards, feature-major
    /// (`widest hidden layer × cap`).
    pub(super) scratch: [Vec<f32>; 2],
    /// Rows of the last forward pass.
    pub(super) rows: usize,
}

/// Buffers of an evaluation pass, sized for `cap` rows.
#[derive(Debug, Default)]
pub(super) struct EvalWorkspace {
    pub(super) cap: usize,
    pub(super) bufs: [Vec<f32>; 2],
    pub(super) logits: Vec<f32>,
    /// BatchNorm's eval-mode `gamma / √(running_var + eps)` and `beta - running_mean·scale`.
    pub(super) scale: Vec<Vec<f32>>,
    pub(super) shift: Vec<Vec<f32>>,
}

impl FusedFcn {
    /// Makes the training workspace hold `rows` rows (allocates only when it grows).
    pub(super) fn reserve_train(&mut self, rows: usize) {
        if rows <= self.ws.cap {
            return;
        }
        let hidden = self.hidden();
        let widest = self.widest_hidden();
        let ws = &mut self.ws;
        ws.cap = rows;
        ws.acts = self.layers[..hidden]
            .iter()
            .map(|l| vec![0.0; rows * l.fan_out])
            .collect();
        ws.xhat = self.layers[..hidden]
            .iter()
            .map(|l| vec![0.0; if l.bn.is_some() { rows * l.fan_out } else { 0 }])
            .collect();
        ws.std = self.layers[..hidden]
            .iter()
            .map(|l| vec![0.0; if l.bn.is_some() { l.fan_out } else { 0 }])
            .collect();
        ws.logits = vec![0.0; rows * self.classes];
        ws.dlogits = vec![0.0; rows * self.classes];
        ws.scratch = [vec![0.0; rows * widest], vec![0.0; rows * widest]];
    }

    /// Makes the evaluation workspace hold `rows` rows (allocates only when it grows).
    pub(super) fn reserve_eval(&mut self, rows: usize) {
        let hidden = self.hidden();
        if self.eval.scale.len() != hidden {
            self.eval.scale = self.layers[..hidden]
                .iter()
                .map(|l| vec![0.0; if l.bn.is_some() { l.fan_out } else { 0 }])
                .collect();
            self.eval.shift = self.eval.scale.clone();
        }
        if rows <= self.eval.cap {
            return;
        }
        let widest = self.widest_hidden();
        let ev = &mut self.eval;
        ev.cap = rows;
        ev.bufs = [vec![0.0; rows * widest], vec![0.0; rows * widest]];
        ev.logits = vec![0.0; rows * self.classes];
    }
}

/// Layer `l`'s input of the last training forward pass as a sample-major `n × fan_in` view:
/// the batch `x` for the first layer, else the previous layer's feature-major activations
/// transposed.
pub(super) fn layer_input<'a>(
    x: &'a [f32],
    acts: &'a [Vec<f32>],
    l: usize,
    n: usize,
    fan_in: usize,
) -> MatRef<'a> {
    if l == 0 {
        MatRef::row_major(x, n, fan_in)
    } else {
        MatRef::row_major(&acts[l - 1][..fan_in * n], fan_in, n).t()
    }
}
