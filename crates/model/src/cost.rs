//! What one training run costs in compute, predicted from its configuration alone, so that a
//! cost-aware search can prefer the cheaper of two equally promising configurations.
//!
//! The model counts work per weight: every training image passes each weight forward and
//! backward (a fixed amount per weight and image), and every optimizer step reads and writes
//! each weight, its gradient and the optimizer's state buffers (a fixed amount per weight and
//! step, more per state buffer). Steps per epoch are images / batch size, so
//!
//! `cost = epochs · images · weights · (1 + (STEP_COST + STEP_COST_PER_STATE · buffers) / batch)`.
//!
//! The two constants are fitted, in relative error, to the seconds per epoch of 357 trials of
//! the search benchmark (fused engine, one thread per trial): the model explains them with a
//! correlation of 0.986 in log space, half of the predictions within 10 %. Only ratios between
//! configurations matter, so the unit is arbitrary. The prediction depends on the
//! configuration only, never on measured time, so a search that uses it stays reproducible.

use crate::config::RunConfig;

/// Work per weight and optimizer step, relative to the work per weight and training image.
pub const STEP_COST: f64 = 4.0;

/// Extra work per weight and optimizer step for each state buffer the optimizer keeps
/// (momentum: one, Adam: two), relative to the work per weight and training image.
pub const STEP_COST_PER_STATE: f64 = 8.0;

/// The axes that set a network's size and training length, and so most of
/// [`training_cost`], while changing nothing else about how it learns: a cost-aware search
/// trades these off against expected improvement (the optimizer's state buffers also cost,
/// but choosing an optimizer is about far more than its cost).
pub const SIZE_AXES: [&str; 3] = ["batch_size", "epochs", "hidden"];

/// The axes that set what one epoch costs ([`epoch_cost`]): [`SIZE_AXES`] but `epochs`.
pub const EPOCH_SIZE_AXES: [&str; 2] = ["batch_size", "hidden"];

/// The predicted relative compute of training `config` to its last epoch, on its training
/// images ([`crate::TrainConfig::training_images`]) with `inputs` features and `classes` logits.
pub fn training_cost(config: &RunConfig, inputs: usize, classes: usize) -> f64 {
    config.train.epochs as f64 * epoch_cost(config, inputs, classes)
}

/// The predicted relative compute of one epoch of `config`, in [`training_cost`]'s unit.
pub fn epoch_cost(config: &RunConfig, inputs: usize, classes: usize) -> f64 {
    let images = config.train.training_images();
    let weights = config.model.linear_parameters(inputs, classes) as f64;
    let buffers = (config.optimizer.algorithm().state)(&config.optimizer).len() as f64;
    let batch = config.train.batch_size.max(1) as f64;
    images as f64 * weights * (1.0 + (STEP_COST + STEP_COST_PER_STATE * buffers) / batch)
}

/// What a cost-aware search prices `config` at. Without a pruner: the whole run. With one
/// (`pruned`): one epoch, because the pruner, not the configuration, decides how many epochs a
/// trial trains: its `epochs` are the pruner's resource, as in Hyperband, and it spends the
/// later ones only on the trials that promise most, while a wide network costs more in every
/// epoch it trains.
pub fn search_cost(config: &RunConfig, inputs: usize, classes: usize, pruned: bool) -> f64 {
    if pruned {
        epoch_cost(config, inputs, classes)
    } else {
        training_cost(config, inputs, classes)
    }
}

/// The axes [`search_cost`] depends on, besides the optimizer: those a cost-aware search
/// draws jointly so that the cost can rank them.
pub fn priced_axes(pruned: bool) -> &'static [&'static str] {
    if pruned {
        &EPOCH_SIZE_AXES
    } else {
        &SIZE_AXES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelConfig, OptimizerConfig, OptimizerKind, TrainConfig};

    fn run(hidden: Vec<usize>, batch: usize, epochs: usize) -> RunConfig {
        let mut c = RunConfig {
            model: ModelConfig::default(),
            optimizer: OptimizerConfig::new(OptimizerKind::parse("sgd").unwrap(), 0.1),
            train: TrainConfig::default(),
        };
        c.model.hidden = hidden;
        c.train.batch_size = batch;
        c.train.epochs = epochs;
        c
    }

    #[test]
    fn cost_grows_with_weights_epochs_and_steps() {
        let base = training_cost(&run(vec![500, 50], 128, 10), 784, 10);
        let wide = training_cost(&run(vec![1000, 50], 128, 10), 784, 10);
        let longer = training_cost(&run(vec![500, 50], 128, 20), 784, 10);
        let small_batch = training_cost(&run(vec![500, 50], 32, 10), 784, 10);
        assert!(wide > 1.9 * base && wide < 2.1 * base, "{wide} vs {base}");
        assert_eq!(longer, 2.0 * base);
        assert!(small_batch > base);
        // 784·500 + 500 + 500·50 + 50 + 50·10 + 10 weights; SGD without momentum keeps no state.
        let weights = (784 * 500 + 500 + 500 * 50 + 50 + 50 * 10 + 10) as f64;
        let expected = 10.0 * 50_000.0 * weights * (1.0 + STEP_COST / 128.0);
        assert!(
            (base - expected).abs() < 1e-6 * expected,
            "{base} vs {expected}"
        );
    }

    #[test]
    fn every_size_axis_changes_the_cost() {
        use crate::axes::{Axis, AxisValue};
        let base = run(vec![500, 50], 128, 10);
        let other = [
            AxisValue::Count(32),
            AxisValue::Count(20),
            AxisValue::Layers(vec![1000, 50]),
        ];
        for (name, value) in SIZE_AXES.iter().zip(other) {
            let axis = Axis::parse(name).unwrap_or_else(|| panic!("no axis {name}"));
            let mut changed = base.clone();
            axis.set(&mut changed, &value);
            assert!(
                training_cost(&changed, 784, 10) > training_cost(&base, 784, 10),
                "{name}"
            );
        }
    }

    #[test]
    fn a_pruned_search_prices_one_epoch_by_the_epoch_size_axes() {
        let short = run(vec![500, 50], 128, 10);
        let long = run(vec![500, 50], 128, 20);
        let cost = search_cost(&short, 784, 10, true);
        assert_eq!(cost, search_cost(&long, 784, 10, true), "epochs are free");
        assert_eq!(cost, epoch_cost(&short, 784, 10));
        assert_eq!(10.0 * cost, training_cost(&short, 784, 10));
        assert_eq!(priced_axes(true), EPOCH_SIZE_AXES);
        assert!(EPOCH_SIZE_AXES.iter().all(|a| SIZE_AXES.contains(a)));
        assert!(!EPOCH_SIZE_AXES.contains(&"epochs"));
        let whole = search_cost(&long, 784, 10, false);
        assert_eq!(whole, training_cost(&long, 784, 10));
        assert_eq!(priced_axes(false), SIZE_AXES);
    }

    #[test]
    fn optimizer_state_makes_each_step_dearer() {
        let sgd = run(vec![256], 32, 5);
        let mut adam = sgd.clone();
        adam.optimizer = OptimizerConfig::new(OptimizerKind::parse("adam").unwrap(), 1e-3);
        let (s, a) = (training_cost(&sgd, 784, 10), training_cost(&adam, 784, 10));
        let ratio =
            (1.0 + (STEP_COST + 2.0 * STEP_COST_PER_STATE) / 32.0) / (1.0 + STEP_COST / 32.0);
        assert!((a / s - ratio).abs() < 1e-9, "{} vs {ratio}", a / s);
    }
}
