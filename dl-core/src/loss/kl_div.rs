//! Kullback–Leibler divergence from logits to target probabilities.

use crate::error::{Error, Result};
use crate::loss::{Loss, check_elementwise};
use crate::tensor::{Act, Flat};

/// KL divergence `KL(t ‖ softmax(x))` of `C`-class logits from target distributions, averaged
/// over the batch: `L = (1/N) Σ_n Σ_j t_nj (ln t_nj − log_softmax(x_n)_j)`, with `0 · ln 0 = 0`.
///
/// - Prediction: **logits** `[N, C]` (the log-softmax is fused in, computed stably); target:
///   `[f32]` of `N·C` probabilities, row-major, each row a distribution.
/// - Gradient: `∂L/∂x_nj = (softmax(x_n)_j · Σ_k t_nk − t_nj) / N`.
/// - Errors: a target of another length, or a negative target value.
/// - PyTorch: `F.kl_div(F.log_softmax(logits, 1), target, reduction="batchmean")` (note that
///   PyTorch's `kl_div` takes log-probabilities; this loss takes the logits before them); Keras:
///   `KLDivergence()` on `softmax(logits)`.
///
/// ```
/// use dl_core::{Act, Flat, KlDiv, Loss};
/// // A prediction equal to the target distribution has zero divergence and zero gradient.
/// let logits = Act::<Flat<2>>::from_vec(vec![0.0, 3.0f32.ln()]).unwrap();
/// let mut grad = Act::default();
/// let loss = KlDiv.loss_and_grad(&logits, &[0.25, 0.75], &mut grad).unwrap();
/// assert!(loss.abs() < 1e-6);
/// assert!(grad.as_slice().iter().all(|g| g.abs() < 1e-6));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KlDiv;

/// Checks the target's length and that every value is a probability mass (`≥ 0`).
fn check_target<const C: usize>(pred: &Act<Flat<C>>, target: &[f32]) -> Result<()> {
    check_elementwise("KlDiv", pred, target)?;
    match target.iter().position(|t| t.is_nan() || *t < 0.0) {
        Some(i) => Err(Error::config(
            "`KlDiv` target",
            format!(
                "expected probabilities >= 0, found {} at position {i}",
                target[i]
            ),
        )),
        None => Ok(()),
    }
}

/// One sample: `(Σ_j t_j (ln t_j − log q_j), m, s)` where `log q_j = x_j − m − ln s`.
fn sample(row: &[f32], t: &[f32]) -> (f64, f32, f32) {
    let m = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let s: f32 = row.iter().map(|&v| (v - m).exp()).sum();
    let log_z = m + s.ln();
    let kl = row
        .iter()
        .zip(t)
        .filter(|(_, t)| **t > 0.0)
        .map(|(&x, &t)| f64::from(t * (t.ln() - (x - log_z))))
        .sum();
    (kl, m, s)
}

impl<const C: usize> Loss<Flat<C>> for KlDiv {
    type Target = [f32];

    fn loss_and_grad(
        &self,
        pred: &Act<Flat<C>>,
        target: &[f32],
        grad: &mut Act<Flat<C>>,
    ) -> Result<f32> {
        check_target(pred, target)?;
        let n = pred.batch();
        let inv_n = 1.0 / n as f32;
        grad.set_batch(n);
        let mut total = 0.0f64;
        for (i, t) in target.chunks_exact(C).enumerate() {
            let row = pred.sample(i);
            let (kl, m, s) = sample(row, t);
            total += kl;
            let mass: f32 = t.iter().sum();
            let scale = mass / s;
            for ((g, &x), &t) in grad.sample_mut(i).iter_mut().zip(row).zip(t) {
                *g = ((x - m).exp() * scale - t) * inv_n;
            }
        }
        Ok((total / n as f64) as f32)
    }

    fn loss(&self, pred: &Act<Flat<C>>, target: &[f32]) -> Result<f32> {
        check_target(pred, target)?;
        let total: f64 = target
            .chunks_exact(C)
            .enumerate()
            .map(|(i, t)| sample(pred.sample(i), t).0)
            .sum();
        Ok((total / pred.batch() as f64) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_loss_gradients;

    #[test]
    fn gradient_matches_finite_differences() {
        // Rows with a zero target entry and one whose mass is not 1 (the Σ_k t_k factor).
        let logits = Act::<Flat<3>>::from_vec(vec![0.4, -1.0, 1.3, 2.0, 0.1, -0.6]).unwrap();
        let target = [0.2, 0.0, 0.8, 0.1, 0.5, 0.6];
        check_loss_gradients(&logits, |x, g| KlDiv.loss_and_grad(x, &target, g).unwrap());
    }

    #[test]
    fn negative_target_is_an_error() {
        let logits = Act::<Flat<2>>::zeros(1);
        let err = KlDiv.loss(&logits, &[1.5, -0.5]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `KlDiv` target: expected probabilities >= 0, found -0.5 at position 1"
        );
    }
}
