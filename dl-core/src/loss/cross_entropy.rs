//! Cross-entropy from logits and integer class labels.

use crate::error::{Error, Result};
use crate::loss::{Loss, check_not_empty};
use crate::tensor::{Act, Flat};

/// Mean cross-entropy of `C`-class logits against integer labels, with the softmax fused in:
/// `L = (1/N) Σ_n (ln Σ_j exp(x_nj) − x_n,y_n)`.
///
/// - Prediction: raw logits `[N, C]` (no softmax layer before it); target: `N` class ids in `0..C`.
/// - Numerically stable: `ln Σ_j exp(x_j)` is computed as `m + ln Σ_j exp(x_j − m)` with
///   `m = max_j x_j`, so logits of any size neither overflow nor underflow.
/// - Gradient: `∂L/∂x_nj = (softmax(x_n)_j − [j = y_n]) / N`.
/// - Errors: a label count other than `N`, or a label `≥ C` (naming the label, its position and `C`).
/// - PyTorch: `F.cross_entropy(logits, labels)` (`reduction="mean"`); Keras:
///   `SparseCategoricalCrossentropy(from_logits=True)`.
///
/// ```
/// use dl_core::{Act, CrossEntropy, Flat, Loss};
/// // Two classes with equal logits: the loss is ln 2 whatever the label.
/// let logits = Act::<Flat<2>>::from_vec(vec![3.0, 3.0]).unwrap();
/// let mut grad = Act::default();
/// let loss = CrossEntropy.loss_and_grad(&logits, &[1], &mut grad).unwrap();
/// assert!((loss - std::f32::consts::LN_2).abs() < 1e-6);
/// assert_eq!(grad.as_slice(), &[0.5, -0.5]);
/// // A label out of range is an error, not a panic:
/// let err = CrossEntropy.loss(&logits, &[2]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "label 2 at position 0 is out of range: the model has 2 classes"
/// );
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrossEntropy;

/// Checks one label per sample, each below `classes`.
fn check_labels(batch: usize, labels: &[usize], classes: usize) -> Result<()> {
    if labels.len() != batch {
        return Err(Error::size(
            "`CrossEntropy` labels",
            format!("{batch} labels (one per sample)"),
            format!("{} labels", labels.len()),
        ));
    }
    match labels.iter().position(|&l| l >= classes) {
        Some(index) => Err(Error::LabelOutOfRange {
            label: labels[index],
            index,
            classes,
        }),
        None => Ok(()),
    }
}

/// `(m, Σ_j exp(x_j − m))` with `m = max_j x_j`: `ln Σ_j exp(x_j) = m + ln s`.
fn max_and_sum(row: &[f32]) -> (f32, f32) {
    let m = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    (m, row.iter().map(|&v| (v - m).exp()).sum())
}

impl<const C: usize> Loss<Flat<C>> for CrossEntropy {
    type Target = [usize];

    fn loss_and_grad(
        &self,
        pred: &Act<Flat<C>>,
        labels: &[usize],
        grad: &mut Act<Flat<C>>,
    ) -> Result<f32> {
        check_not_empty("CrossEntropy", pred)?;
        check_labels(pred.batch(), labels, C)?;
        let n = pred.batch();
        let inv_n = 1.0 / n as f32;
        grad.set_batch(n);
        let mut total = 0.0f64;
        for (i, &label) in labels.iter().enumerate() {
            let row = pred.sample(i);
            let (m, s) = max_and_sum(row);
            total += f64::from(m + s.ln() - row[label]);
            let scale = inv_n / s;
            let g = grad.sample_mut(i);
            for (g, &x) in g.iter_mut().zip(row) {
                *g = (x - m).exp() * scale;
            }
            g[label] -= inv_n;
        }
        Ok((total / n as f64) as f32)
    }

    fn loss(&self, pred: &Act<Flat<C>>, labels: &[usize]) -> Result<f32> {
        check_not_empty("CrossEntropy", pred)?;
        check_labels(pred.batch(), labels, C)?;
        let total: f64 = labels
            .iter()
            .enumerate()
            .map(|(i, &label)| {
                let row = pred.sample(i);
                let (m, s) = max_and_sum(row);
                f64::from(m + s.ln() - row[label])
            })
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
        // Distinct logits and labels on different columns: a wrong index, sign or 1/N fails.
        let logits = Act::<Flat<4>>::from_vec(vec![
            0.3, -1.2, 2.0, 0.7, //
            -0.5, 0.9, 0.1, -2.2, //
            1.5, 1.4, -0.3, 0.0,
        ])
        .unwrap();
        let labels = [2, 0, 3];
        check_loss_gradients(&logits, |x, g| {
            CrossEntropy.loss_and_grad(x, &labels, g).unwrap()
        });
    }

    #[test]
    fn loss_alone_equals_loss_with_gradient() {
        let logits = Act::<Flat<3>>::from_vec(vec![0.2, -0.4, 1.1, 2.0, 0.5, -1.0]).unwrap();
        let mut grad = Act::default();
        let with = CrossEntropy
            .loss_and_grad(&logits, &[1, 0], &mut grad)
            .unwrap();
        assert_eq!(CrossEntropy.loss(&logits, &[1, 0]).unwrap(), with);
    }

    #[test]
    fn large_logits_are_stable() {
        // ln(1 + e^-1000) = 0 for the right class, 1000 for the wrong one.
        let logits = Act::<Flat<2>>::from_vec(vec![1000.0, 0.0, 1000.0, 0.0]).unwrap();
        let mut grad = Act::default();
        let loss = CrossEntropy
            .loss_and_grad(&logits, &[0, 1], &mut grad)
            .unwrap();
        assert_eq!(loss, 500.0);
        assert!(grad.as_slice().iter().all(|g| g.is_finite()));
    }

    #[test]
    fn bad_labels_are_errors_naming_both_numbers() {
        let logits = Act::<Flat<3>>::zeros(2);
        let err = CrossEntropy.loss(&logits, &[0, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "label 3 at position 1 is out of range: the model has 3 classes"
        );
        let mut grad = Act::default();
        let err = CrossEntropy
            .loss_and_grad(&logits, &[0], &mut grad)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`CrossEntropy` labels: expected 2 labels (one per sample), found 1 labels"
        );
        let err = CrossEntropy
            .loss(&Act::<Flat<3>>::zeros(0), &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`CrossEntropy` prediction: expected at least one sample, found an empty batch"
        );
    }
}
