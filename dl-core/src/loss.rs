//! Losses: each gives the mean loss over a batch and its gradient with respect to the prediction.

use crate::error::Result;
use crate::tensor::{Act, Shape};

/// A loss on predictions of per-sample shape `S`.
///
/// `Target` is `[usize]` (one class id per sample) for classification losses and `[f32]` (same
/// length as the prediction) for regression-style losses.
pub trait Loss<S: Shape> {
    /// What the prediction is compared with.
    type Target: ?Sized;

    /// The loss, reduced as documented by each loss, and its gradient with respect to `pred`
    /// written to `grad` (its batch size is set). Errors on a target of the wrong size or a label
    /// out of range.
    fn loss_and_grad(&self, pred: &Act<S>, target: &Self::Target, grad: &mut Act<S>)
    -> Result<f32>;

    /// The loss alone.
    fn loss(&self, pred: &Act<S>, target: &Self::Target) -> Result<f32>;
}
