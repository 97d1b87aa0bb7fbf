//! PyTorch's weight initializers, drawn from our own seeded RNG.
//!
//! candle's CPU RNG cannot be seeded and `candle_nn::linear` uses Kaiming-normal weights, so
//! every parameter is generated here with the formulas of `torch.nn.init` and `nn.Linear`.

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

use crate::config::Init;

/// Weights of a `fan_out x fan_in` linear layer (row-major, as `nn.Linear.weight`).
pub fn linear_weights(
    init: Init,
    init_std: f64,
    fan_in: usize,
    fan_out: usize,
    rng: &mut impl Rng,
) -> Vec<f32> {
    let n = fan_in * fan_out;
    let fi = fan_in as f64;
    let fo = fan_out as f64;
    match init {
        // kaiming_uniform_(a=√5): gain √(2/(1+5)), bound gain·√(3/fan_in) = 1/√fan_in.
        Init::Default => uniform(1.0 / fi.sqrt(), n, rng),
        Init::Normal => normal(init_std, n, rng),
        Init::XavierNormal => normal((2.0 / (fi + fo)).sqrt(), n, rng),
        Init::XavierUniform => uniform((6.0 / (fi + fo)).sqrt(), n, rng),
        // kaiming_*_ defaults: a=0, mode fan_in, leaky_relu gain √2.
        Init::HeUniform => uniform((6.0 / fi).sqrt(), n, rng),
        Init::HeNormal => normal((2.0 / fi).sqrt(), n, rng),
    }
}

/// Biases of a linear layer: `nn.Linear`'s U(±1/√fan_in), whatever the weight initializer.
pub fn linear_bias(fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> Vec<f32> {
    uniform(1.0 / (fan_in as f64).sqrt(), fan_out, rng)
}

fn uniform(bound: f64, n: usize, rng: &mut impl Rng) -> Vec<f32> {
    let dist = Uniform::new(-bound, bound).expect("bound is positive and finite");
    (0..n).map(|_| dist.sample(rng) as f32).collect()
}

fn normal(std: f64, n: usize, rng: &mut impl Rng) -> Vec<f32> {
    let dist = Normal::new(0.0, std).expect("std is positive and finite");
    (0..n).map(|_| dist.sample(rng) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn moments(v: &[f32]) -> (f64, f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().map(|x| *x as f64).sum::<f64>() / n;
        let var = v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / n;
        let max = v.iter().map(|x| x.abs() as f64).fold(0.0, f64::max);
        (mean, var.sqrt(), max)
    }

    #[test]
    fn formulas_match_pytorch() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (fan_in, fan_out) = (400, 300);
        // (init, expected std, expected bound for uniform or None)
        let cases = [
            (
                Init::Default,
                (1.0 / 400f64).sqrt() / 3f64.sqrt(),
                Some(1.0 / 20.0),
            ),
            (Init::Normal, 0.1, None),
            (Init::XavierNormal, (2.0 / 700f64).sqrt(), None),
            (
                Init::XavierUniform,
                (6.0 / 700f64).sqrt() / 3f64.sqrt(),
                Some((6.0 / 700f64).sqrt()),
            ),
            (
                Init::HeUniform,
                (6.0 / 400f64).sqrt() / 3f64.sqrt(),
                Some((6.0 / 400f64).sqrt()),
            ),
            (Init::HeNormal, (2.0 / 400f64).sqrt(), None),
        ];
        for (init, std, bound) in cases {
            let w = linear_weights(init, 0.1, fan_in, fan_out, &mut rng);
            assert_eq!(w.len(), fan_in * fan_out);
            let (mean, sd, max) = moments(&w);
            assert!(mean.abs() < 0.01 * std.max(0.01), "{init:?} mean {mean}");
            assert!((sd / std - 1.0).abs() < 0.02, "{init:?} std {sd} vs {std}");
            if let Some(b) = bound {
                assert!(max <= b && max > 0.99 * b, "{init:?} max {max} bound {b}");
            }
        }
        let b = linear_bias(fan_in, fan_out, &mut rng);
        assert_eq!(b.len(), fan_out);
        assert!(b.iter().all(|x| x.abs() <= 0.05));
    }

    #[test]
    fn same_seed_same_weights() {
        let a = linear_weights(
            Init::HeUniform,
            0.1,
            10,
            5,
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        let b = linear_weights(
            Init::HeUniform,
            0.1,
            10,
            5,
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        let c = linear_weights(
            Init::HeUniform,
            0.1,
            10,
            5,
            &mut ChaCha8Rng::seed_from_u64(4),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
