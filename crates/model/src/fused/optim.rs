//! [`FusedOptimizer`]: every optimizer of [`crate::optim`] updating flat `f32` buffers in
//! place, through each algorithm's fused update.
//!
//! Parameters are contiguous segments of one flat buffer (one segment per tensor). Every
//! segment gets a gradient at every step here, so a segment's state is created on its first
//! step, as torch does on a parameter's first gradient.

use crate::optim::OptimizerConfig;

/// Optimizer state for a flat parameter buffer split into segments (one per tensor).
#[derive(Debug, Clone)]
pub struct FusedOptimizer {
    pub(super) config: OptimizerConfig,
    /// `(offset, len)` of each parameter tensor in the flat buffers.
    pub(super) segments: Vec<(usize, usize)>,
    /// Updates applied to each segment (torch's per-parameter `state["step"]`).
    pub(super) seg_steps: Vec<u64>,
    /// Each segment's state buffers, as the algorithm's `state` declares them.
    pub(super) states: Vec<Vec<Vec<f32>>>,
    pub(super) steps: usize,
}

impl FusedOptimizer {
    /// An optimizer over parameter tensors of the given sizes, laid out one after another in
    /// the flat buffers passed to [`FusedOptimizer::step`].
    pub fn new(config: &OptimizerConfig, sizes: &[usize]) -> Self {
        let mut segments = Vec::with_capacity(sizes.len());
        let mut offset = 0;
        for &len in sizes {
            segments.push((offset, len));
            offset += len;
        }
        let initial = (config.algorithm().state)(config);
        let states = sizes
            .iter()
            .map(|&len| initial.iter().map(|&v| vec![v; len]).collect())
            .collect();
        Self {
            config: config.clone(),
            segments,
            seg_steps: vec![0; sizes.len()],
            states,
            steps: 0,
        }
    }

    /// Total number of scalars the optimizer updates.
    pub fn len(&self) -> usize {
        self.segments.last().map_or(0, |(o, l)| o + l)
    }

    /// True when there is nothing to update.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Sets the learning rate of the following steps (what an lr scheduler does between
    /// epochs); the state is kept.
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// The learning rate when the update is plain `θ ← θ − lr·g` with no state: it can be
    /// fused into the gradient computation ([`crate::fused::FusedFcn::train_step`]).
    pub fn plain_sgd_lr(&self) -> Option<f32> {
        (self.config.algorithm().stateless_lr)(&self.config).map(|lr| lr as f32)
    }

    /// Counts a step whose plain-SGD update was applied by the caller.
    pub(crate) fn count_fused_step(&mut self) {
        self.steps += 1;
        for s in &mut self.seg_steps {
            *s += 1;
        }
    }

    /// One update of every parameter from its gradient, in place.
    ///
    /// # Panics
    /// If `params` or `grads` is not exactly [`FusedOptimizer::len`] long.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        assert_eq!(params.len(), self.len(), "parameter buffer size");
        assert_eq!(grads.len(), self.len(), "gradient buffer size");
        self.steps += 1;
        let update = self.config.algorithm().fused;
        for (s, &(off, len)) in self.segments.iter().enumerate() {
            self.seg_steps[s] += 1;
            let r = off..off + len;
            update(
                &self.config,
                self.seg_steps[s],
                &mut params[r.clone()],
                &grads[r],
                &mut self.states[s],
            );
        }
    }
}
