//! Binary cross-entropy from logits.

use crate::error::Result;
use crate::loss::{Loss, elementwise_mean};
use crate::tensor::{Act, Shape};

/// Mean binary cross-entropy of logits against targets in `[0, 1]`, sigmoid fused in:
/// `L = (1/M) Σ_i −[t_i ln σ(x_i) + (1 − t_i) ln(1 − σ(x_i))]`, `M = N·size(S)`.
///
/// - Prediction: raw logits of any per-sample shape `S` (no sigmoid before it); target: `[f32]`
///   of the same length (soft labels allowed).
/// - Numerically stable form: `ℓ = max(x, 0) − x·t + ln(1 + exp(−|x|))`, finite for any logit.
/// - Gradient: `∂L/∂x_i = (σ(x_i) − t_i) / M`.
/// - Errors: a target of another length.
/// - PyTorch: `F.binary_cross_entropy_with_logits(logits, target)` (`reduction="mean"`); Keras:
///   `BinaryCrossentropy(from_logits=True)`.
///
/// ```
/// use dl_core::{Act, BceWithLogits, Flat, Loss};
/// let logits = Act::<Flat<2>>::from_vec(vec![0.0, 200.0]).unwrap();
/// let mut grad = Act::default();
/// let loss = BceWithLogits.loss_and_grad(&logits, &[1.0, 1.0], &mut grad).unwrap();
/// // ln 2 for the undecided logit, 0 for the confident right one, averaged:
/// assert!((loss - std::f32::consts::LN_2 / 2.0).abs() < 1e-6);
/// assert_eq!(grad.as_slice(), &[-0.25, 0.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BceWithLogits;

fn term(x: f32, t: f32) -> (f32, f32) {
    let e = (-x.abs()).exp();
    // σ(x) without overflow: 1/(1 + e^−x) for x ≥ 0, e^x/(1 + e^x) otherwise.
    let sigmoid = if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (x.max(0.0) - x * t + e.ln_1p(), sigmoid - t)
}

impl<S: Shape> Loss<S> for BceWithLogits {
    type Target = [f32];

    fn loss_and_grad(&self, pred: &Act<S>, target: &[f32], grad: &mut Act<S>) -> Result<f32> {
        elementwise_mean("BceWithLogits", pred, target, Some(grad), term)
    }

    fn loss(&self, pred: &Act<S>, target: &[f32]) -> Result<f32> {
        elementwise_mean("BceWithLogits", pred, target, None, term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Flat;
    use crate::testing::check_loss_gradients;

    #[test]
    fn gradient_matches_finite_differences() {
        // Both signs of logit, hard and soft targets.
        let pred = Act::<Flat<3>>::from_vec(vec![0.8, -1.5, 0.2, -0.3, 2.1, -0.9]).unwrap();
        let target = [1.0, 0.0, 0.3, 1.0, 0.0, 0.75];
        check_loss_gradients(&pred, |x, g| {
            BceWithLogits.loss_and_grad(x, &target, g).unwrap()
        });
    }

    #[test]
    fn extreme_logits_stay_finite() {
        let pred = Act::<Flat<2>>::from_vec(vec![-200.0, 200.0]).unwrap();
        let loss = BceWithLogits.loss(&pred, &[1.0, 0.0]).unwrap();
        assert_eq!(loss, 200.0);
    }
}
