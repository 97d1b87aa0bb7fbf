//! The fused engine's whole training state as plain buffers, out and back in: what a
//! checkpoint stores so that a run resumed from it continues bit for bit.

use super::{FusedFcn, FusedOptimizer};
use crate::error::ModelError;

/// Parameters, batch-norm running statistics and optimizer state of a fused run.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineState {
    /// Every parameter tensor, flat, in buffer order.
    pub params: Vec<f32>,
    /// Shape of each parameter tensor.
    pub shapes: Vec<Vec<usize>>,
    /// BatchNorm running means per hidden layer (empty without BatchNorm).
    pub running_mean: Vec<Vec<f32>>,
    /// BatchNorm running variances per hidden layer.
    pub running_var: Vec<Vec<f32>>,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Steps of each parameter tensor (torch's per-parameter `state["step"]`).
    pub seg_steps: Vec<u64>,
    /// Each parameter tensor's optimizer buffers, as the algorithm declares them.
    pub states: Vec<Vec<Vec<f32>>>,
}

impl FusedFcn {
    /// The network's and `opt`'s state.
    pub fn state(&self, opt: &FusedOptimizer) -> EngineState {
        let (steps, seg_steps, states) = opt.export_state();
        EngineState {
            params: self.params.clone(),
            shapes: self.shapes.clone(),
            running_mean: self.running_mean.clone(),
            running_var: self.running_var.clone(),
            steps,
            seg_steps,
            states,
        }
    }

    /// Puts `state` back into the network and `opt`; refuses a state of another shape.
    pub fn restore(
        &mut self,
        opt: &mut FusedOptimizer,
        state: &EngineState,
    ) -> Result<(), ModelError> {
        let same = |a: &[Vec<f32>], b: &[Vec<f32>]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len())
        };
        if state.shapes != self.shapes
            || state.params.len() != self.params.len()
            || !same(&state.running_mean, &self.running_mean)
            || !same(&state.running_var, &self.running_var)
        {
            return Err(ModelError::Checkpoint(
                "the checkpoint's tensors do not fit this network".into(),
            ));
        }
        opt.import_state(state.steps, &state.seg_steps, &state.states)?;
        self.params.copy_from_slice(&state.params);
        self.running_mean.clone_from(&state.running_mean);
        self.running_var.clone_from(&state.running_var);
        Ok(())
    }
}

impl FusedOptimizer {
    /// Steps, per-tensor steps and state buffers.
    pub(crate) fn export_state(&self) -> (usize, Vec<u64>, Vec<Vec<Vec<f32>>>) {
        (self.steps, self.seg_steps.clone(), self.states.clone())
    }

    /// The inverse of [`FusedOptimizer::export_state`]; refuses state of another shape.
    pub(crate) fn import_state(
        &mut self,
        steps: usize,
        seg_steps: &[u64],
        states: &[Vec<Vec<f32>>],
    ) -> Result<(), ModelError> {
        let fits = seg_steps.len() == self.seg_steps.len()
            && states.len() == self.states.len()
            && states.iter().zip(&self.states).all(|(a, b)| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len())
            });
        if !fits {
            return Err(ModelError::Checkpoint(
                "the checkpoint's optimizer state does not fit this optimizer".into(),
            ));
        }
        self.steps = steps;
        self.seg_steps = seg_steps.to_vec();
        self.states = states.to_vec();
        Ok(())
    }
}

impl FusedFcn {
    /// Puts trained parameters and BatchNorm statistics (of [`crate::Weights`]) into the
    /// network; refuses buffers of another shape.
    pub fn load_parameters(
        &mut self,
        params: &[f32],
        running_mean: &[Vec<f32>],
        running_var: &[Vec<f32>],
    ) -> Result<(), ModelError> {
        let fits = |a: &[Vec<f32>], b: &[Vec<f32>]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len())
        };
        if params.len() != self.params.len()
            || !fits(running_mean, &self.running_mean)
            || !fits(running_var, &self.running_var)
        {
            return Err(ModelError::Checkpoint(
                "the file's tensors do not fit its architecture".into(),
            ));
        }
        self.params.copy_from_slice(params);
        self.running_mean = running_mean.to_vec();
        self.running_var = running_var.to_vec();
        Ok(())
    }

    /// Class probabilities (softmax of the logits) of a row-major `(rows, inputs)` batch in
    /// evaluation mode, row-major `(rows, classes)`.
    pub fn probabilities(&mut self, x: &[f32], rows: usize) -> Vec<f32> {
        let classes = self.classes;
        let logits = self.forward_eval(x, rows).to_vec();
        let mut out = Vec::with_capacity(logits.len());
        for row in logits.chunks_exact(classes) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exp: Vec<f64> = row.iter().map(|&z| f64::from(z - max).exp()).collect();
            let sum: f64 = exp.iter().sum();
            out.extend(exp.iter().map(|e| (e / sum) as f32));
        }
        out
    }
}
