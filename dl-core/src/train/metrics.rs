//! Classification metrics computed during [`crate::train::Fit::fit`] and
//! [`crate::train::Fit::evaluate`].

use crate::error::{Error, Result};
use crate::tensor::{Act, Shape};

/// A metric reported per epoch next to the loss (Keras `metrics=[...]`).
///
/// Both compare each output row with the sample's class label, so they need a labelled
/// [`crate::data::Dataset`]. A model with one output is read as a binary classifier whose output
/// is a logit: it predicts class 1 when the output is `> 0`.
///
/// ```
/// use dl_core::{train::Metric, Act, Flat};
/// let logits = Act::<Flat<3>>::from_vec(vec![
///     0.1, 0.7, 0.2, // predicts 1; label 1
///     0.5, 0.3, 0.2, // predicts 0; label 2 is ranked third
///     0.2, 0.5, 0.3, // predicts 1; label 2 is ranked second
/// ]).unwrap();
/// let labels = [1, 2, 2];
/// assert_eq!(Metric::Accuracy.correct(&logits, &labels), 1);
/// assert_eq!(Metric::TopK(2).correct(&logits, &labels), 2);
/// assert_eq!(Metric::TopK(2).name(), "top2_accuracy");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Share of samples whose largest output is at the label (Keras `sparse_categorical_accuracy`,
    /// `(logits.argmax(1) == y).float().mean()` in PyTorch); logged as `accuracy`.
    Accuracy,
    /// Share of samples whose label is among the `k` largest outputs (Keras
    /// `sparse_top_k_categorical_accuracy`: outputs tied with the label's count in its favour);
    /// logged as `top{k}_accuracy`.
    TopK(usize),
}

impl Metric {
    /// The name in logs, history columns and progress lines (`accuracy`, `top5_accuracy`).
    pub fn name(&self) -> String {
        match self {
            Metric::Accuracy => "accuracy".to_string(),
            Metric::TopK(k) => format!("top{k}_accuracy"),
        }
    }

    /// Rejects `TopK(0)`.
    pub fn validate(&self) -> Result<()> {
        match self {
            Metric::TopK(0) => Err(Error::config("metric `TopK(0)`", "k must be at least 1")),
            _ => Ok(()),
        }
    }

    /// Number of samples of `pred` counted as correct for `labels` (one per sample).
    pub fn correct<O: Shape>(&self, pred: &Act<O>, labels: &[usize]) -> usize {
        debug_assert_eq!(pred.batch(), labels.len());
        (0..pred.batch())
            .filter(|&i| {
                let (row, label) = (pred.sample(i), labels[i]);
                match *self {
                    Metric::TopK(k) if O::SIZE > 1 => {
                        let at = row[label];
                        row.iter().filter(|&&v| v > at).count() < k
                    }
                    Metric::TopK(k) if k >= 2 => true,
                    _ => argmax(row) == label,
                }
            })
            .count()
    }
}

/// The predicted class of one output row: the index of the largest value (the first on ties,
/// as `torch.argmax`), or for a one-value row (a binary logit) 1 when it is `> 0`.
pub(crate) fn argmax(row: &[f32]) -> usize {
    if let [logit] = row {
        return usize::from(*logit > 0.0);
    }
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Sums of correct counts over the batches of an epoch, one slot per metric (allocated once).
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricCounts {
    correct: Vec<usize>,
    samples: usize,
}

impl MetricCounts {
    /// Zeroed counts for `n` metrics.
    pub(crate) fn new(n: usize) -> Self {
        MetricCounts {
            correct: vec![0; n],
            samples: 0,
        }
    }

    /// Back to zero (no allocation).
    pub(crate) fn reset(&mut self) {
        self.correct.iter_mut().for_each(|c| *c = 0);
        self.samples = 0;
    }

    /// Adds one batch.
    pub(crate) fn add<O: Shape>(&mut self, metrics: &[Metric], pred: &Act<O>, labels: &[usize]) {
        for (c, m) in self.correct.iter_mut().zip(metrics) {
            *c += m.correct(pred, labels);
        }
        self.samples += pred.batch();
    }

    /// The share of correct samples of metric `i` (0 when no sample was seen).
    pub(crate) fn value(&self, i: usize) -> f32 {
        if self.samples == 0 {
            0.0
        } else {
            (self.correct[i] as f64 / self.samples as f64) as f32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Flat;

    #[test]
    fn ties_go_to_the_first_maximum_for_accuracy_and_to_the_label_for_top_k() {
        let x = Act::<Flat<3>>::from_vec(vec![1.0, 1.0, 0.0, 1.0, 1.0, 0.0]).unwrap();
        // argmax of [1, 1, 0] is 0, as torch.argmax.
        assert_eq!(Metric::Accuracy.correct(&x, &[0, 1]), 1);
        // Keras in_top_k: label 1 tied with class 0 is in the top 1.
        assert_eq!(Metric::TopK(1).correct(&x, &[1, 2]), 1);
        assert_eq!(Metric::TopK(3).correct(&x, &[2, 2]), 2);
    }

    #[test]
    fn one_output_is_a_binary_logit_and_top0_is_rejected() {
        let x = Act::<Flat<1>>::from_vec(vec![-0.5, 0.5, 2.0]).unwrap();
        assert_eq!(Metric::Accuracy.correct(&x, &[0, 1, 0]), 2);
        assert_eq!(
            Metric::TopK(0).validate().unwrap_err().to_string(),
            "invalid metric `TopK(0)`: k must be at least 1"
        );
    }

    #[test]
    fn counts_average_over_samples_of_every_batch() {
        let mut c = MetricCounts::new(1);
        let a = Act::<Flat<2>>::from_vec(vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        c.add(&[Metric::Accuracy], &a, &[0, 0]);
        let b = Act::<Flat<2>>::from_vec(vec![1.0, 0.0]).unwrap();
        c.add(&[Metric::Accuracy], &b, &[0]);
        assert_eq!(c.value(0), 2.0 / 3.0);
        c.reset();
        assert_eq!(c.value(0), 0.0);
    }
}
