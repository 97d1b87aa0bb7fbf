//! Softmax cross-entropy with its gradient, and the per-batch loss and accuracy.

/// Loss and accuracy count of one batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchStats {
    /// Mean cross-entropy over the batch (NaN or infinite when the run diverges).
    pub loss: f64,
    /// Sum of the per-sample cross-entropies.
    pub loss_sum: f64,
    /// Samples whose argmax logit is the label.
    pub correct: usize,
}

/// Mean softmax cross-entropy of `logits` (`rows × classes`) against `labels`, the number of
/// correct argmax predictions, and, when `grad` is given, ∂(mean loss)/∂logits written to it.
pub(super) fn softmax_cross_entropy(
    logits: &[f32],
    mut grad: Option<&mut [f32]>,
    labels: &[u32],
    classes: usize,
) -> BatchStats {
    let n = labels.len();
    let inv_n = (1.0 / n as f64) as f32;
    let mut loss_sum = 0.0f64;
    let mut correct = 0;
    for (r, (row, &label)) in logits.chunks_exact(classes).zip(labels).enumerate() {
        let label = label as usize;
        let mut max = row[0];
        let mut arg = 0;
        for (j, &v) in row.iter().enumerate().skip(1) {
            if v > max {
                max = v;
                arg = j;
            }
        }
        correct += usize::from(arg == label);
        let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
        let lse = sum.ln();
        loss_sum += f64::from(-((row[label] - max) - lse));
        if let Some(grad) = grad.as_deref_mut() {
            let g = &mut grad[r * classes..(r + 1) * classes];
            let inv_sum = 1.0 / sum;
            for (gj, &v) in g.iter_mut().zip(row) {
                *gj = (v - max).exp() * inv_sum * inv_n;
            }
            g[label] -= inv_n;
        }
    }
    BatchStats {
        loss: loss_sum / n as f64,
        loss_sum,
        correct,
    }
}
