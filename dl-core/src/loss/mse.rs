//! Mean squared error.

use crate::error::Result;
use crate::loss::{Loss, elementwise_mean};
use crate::tensor::{Act, Shape};

/// Mean squared error over all elements: `L = (1/M) Σ_i (x_i − t_i)²`, `M = N·size(S)`.
///
/// - Prediction: any per-sample shape `S`; target: `[f32]` of the same length, row-major.
/// - Gradient: `∂L/∂x_i = 2 (x_i − t_i) / M`.
/// - Errors: a target of another length.
/// - PyTorch: `F.mse_loss(pred, target)` (`reduction="mean"`); Keras: `MeanSquaredError`.
///
/// ```
/// use dl_core::{Act, Flat, Loss, Mse};
/// let pred = Act::<Flat<2>>::from_vec(vec![1.0, 2.0]).unwrap();
/// let mut grad = Act::default();
/// let loss = Mse.loss_and_grad(&pred, &[0.0, 2.0], &mut grad).unwrap();
/// assert_eq!(loss, 0.5); // (1² + 0²) / 2
/// assert_eq!(grad.as_slice(), &[1.0, 0.0]); // 2·(1 − 0)/2, 0
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mse;

fn term(x: f32, t: f32) -> (f32, f32) {
    let d = x - t;
    (d * d, 2.0 * d)
}

impl<S: Shape> Loss<S> for Mse {
    type Target = [f32];

    fn loss_and_grad(&self, pred: &Act<S>, target: &[f32], grad: &mut Act<S>) -> Result<f32> {
        elementwise_mean("Mse", pred, target, Some(grad), term)
    }

    fn loss(&self, pred: &Act<S>, target: &[f32]) -> Result<f32> {
        elementwise_mean("Mse", pred, target, None, term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Chw, Flat};
    use crate::testing::check_loss_gradients;

    #[test]
    fn gradient_matches_finite_differences() {
        let pred =
            Act::<Chw<2, 1, 2>>::from_vec(vec![0.5, -1.0, 2.0, 0.1, 0.3, 0.0, -0.7, 1.2]).unwrap();
        let target = [1.0, -0.5, 0.0, 0.4, -0.3, 0.9, -0.7, 2.0];
        check_loss_gradients(&pred, |x, g| Mse.loss_and_grad(x, &target, g).unwrap());
    }

    #[test]
    fn wrong_target_length_is_an_error() {
        let pred = Act::<Flat<3>>::zeros(2);
        let err = Mse.loss(&pred, &[0.0; 5]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`Mse` target: expected 6 values (2 samples of [3]), found 5 values"
        );
    }
}
