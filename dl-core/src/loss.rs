//! Losses: each gives the mean loss over a batch and its gradient with respect to the prediction,
//! plus the [`Penalty`] on weights. One file per loss under `loss/`.
//!
//! | loss | prediction | target | PyTorch |
//! | --- | --- | --- | --- |
//! | [`CrossEntropy`] | logits `[C]` | class ids `[usize]` | `F.cross_entropy` |
//! | [`Mse`] | any shape | `[f32]`, same length | `F.mse_loss` |
//! | [`BceWithLogits`] | logits, any shape | `[f32]` in `[0, 1]`, same length | `F.binary_cross_entropy_with_logits` |
//! | [`KlDiv`] | logits `[C]` | probabilities `[f32]`, same length | `F.kl_div(log_softmax(x), t, reduction="batchmean")` |

mod bce_with_logits;
mod cross_entropy;
mod kl_div;
mod mse;
mod penalty;

pub use bce_with_logits::BceWithLogits;
pub use cross_entropy::CrossEntropy;
pub use kl_div::KlDiv;
pub use mse::Mse;
pub use penalty::Penalty;

use crate::error::{Error, Result};
use crate::tensor::{Act, Dims, Shape};

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

/// Checks that `pred` holds at least one sample (a mean over nothing is undefined).
fn check_not_empty<S: Shape>(loss: &str, pred: &Act<S>) -> Result<()> {
    if pred.batch() == 0 {
        return Err(Error::size(
            format!("`{loss}` prediction"),
            "at least one sample",
            "an empty batch",
        ));
    }
    Ok(())
}

/// Checks an elementwise target: one value per prediction value.
fn check_elementwise<S: Shape>(loss: &str, pred: &Act<S>, target: &[f32]) -> Result<()> {
    check_not_empty(loss, pred)?;
    let want = pred.as_slice().len();
    if target.len() != want {
        return Err(Error::size(
            format!("`{loss}` target"),
            format!(
                "{want} values ({} samples of {})",
                pred.batch(),
                Dims(S::DIMS)
            ),
            format!("{} values", target.len()),
        ));
    }
    Ok(())
}

/// The mean over all elements of `term(x, t) = (ℓ, ∂ℓ/∂x)`, with the gradient of the mean
/// written to `grad` when given: the shared body of the elementwise losses.
fn elementwise_mean<S: Shape>(
    loss: &str,
    pred: &Act<S>,
    target: &[f32],
    grad: Option<&mut Act<S>>,
    term: impl Fn(f32, f32) -> (f32, f32),
) -> Result<f32> {
    check_elementwise(loss, pred, target)?;
    let count = target.len();
    let inv = 1.0 / count as f32;
    let mut total = 0.0f64;
    match grad {
        Some(grad) => {
            grad.set_batch(pred.batch());
            let pairs = pred.as_slice().iter().zip(target);
            for (g, (&x, &t)) in grad.as_mut_slice().iter_mut().zip(pairs) {
                let (l, dl) = term(x, t);
                total += f64::from(l);
                *g = dl * inv;
            }
        }
        None => {
            for (&x, &t) in pred.as_slice().iter().zip(target) {
                total += f64::from(term(x, t).0);
            }
        }
    }
    Ok((total / count as f64) as f32)
}
