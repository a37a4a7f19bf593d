//! Optimizers with PyTorch's update rules and defaults, one file per optimizer.
//!
//! An optimizer visits a model's trainable parameters through [`Parameters::visit_mut`] in its
//! fixed order; its per-parameter state is allocated on the first step and reused after.

use crate::param::Parameters;

/// Updates parameters from their gradients.
pub trait Optimizer {
    /// One update of every trainable parameter of `params` from its current gradient.
    fn step(&mut self, params: &mut dyn Parameters);
    /// The current learning rate.
    fn learning_rate(&self) -> f32;
    /// Sets the learning rate (used by schedules).
    fn set_learning_rate(&mut self, lr: f32);
}
