//! Rosenblatt's perceptron (F. Rosenblatt, "The perceptron: a probabilistic model for information
//! storage and organization in the brain", Psychological Review 65(6), 1958): one threshold unit
//! `sign(w·x + b)` trained with the error-correction rule, not gradient descent.
//!
//! The rule: present the samples in order; for a sample `x` with target `t ∈ {−1, +1}` whose
//! prediction `sign(w·x + b)` is wrong, set `w ← w + η·t·x` and `b ← b + η·t`; leave the unit
//! unchanged on a correct one. By the perceptron convergence theorem an epoch without a mistake
//! comes after finitely many updates when the two classes are linearly separable; otherwise (XOR)
//! the rule cycles forever, so training stops at an epoch limit and says it did not converge.
//!
//! `Sign` has a zero derivative, so back-propagation learns nothing through it: that is why the
//! unit is trained by [`PerceptronRule`], which reads and writes the `Dense<F, 1>` layer directly.
//!
//! ```
//! use dl_core::data::Dataset;
//! use dl_core::Flat;
//! use dl_zoo::perceptron::{Perceptron2, PerceptronRule};
//! use rand::SeedableRng;
//! # fn main() -> dl_core::Result<()> {
//! // Logical AND is linearly separable; XOR is not.
//! let x = vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
//! let and = Dataset::<Flat<2>>::new(x.clone(), vec![0, 0, 0, 1], 2)?;
//! let xor = Dataset::<Flat<2>>::new(x, vec![0, 1, 1, 0], 2)?;
//! let rule = PerceptronRule { learning_rate: 1.0, max_epochs: 100 };
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//!
//! let mut p = Perceptron2::new(&mut rng);
//! let report = p.train(&rule, &and)?;
//! assert!(report.converged && report.training_errors == 0);
//! assert_eq!(p.accuracy(&and)?, 1.0);
//!
//! let report = Perceptron2::new(&mut rng).train(&rule, &xor)?;
//! assert!(!report.converged);
//! assert_eq!(report.epochs, 100);
//! assert!(report.training_errors > 0);
//! # Ok(()) }
//! ```
//!
//! The layer tables (`SUMMARY`; a test in `lib.rs` keeps them equal):
//!
//! ```text
//! Model: IrisPerceptron
//! Layer (type)       Output shape  Param #
//! ========================================
//! input              [4]                 0
//! 0 (Dense<4 => 1>)  [1]                 5
//! 1 (Sign)           [1]                 0
//! ========================================
//! Total params: 5
//! ```
//!
//! ```text
//! Model: Perceptron2
//! Layer (type)       Output shape  Param #
//! ========================================
//! input              [2]                 0
//! 0 (Dense<2 => 1>)  [1]                 3
//! 1 (Sign)           [1]                 0
//! ========================================
//! Total params: 3
//! ```

use dl_core::data::Dataset;
use dl_core::prelude::*;

sequential! {
    /// A perceptron on the four iris measurements: `sign(w·x + b)`, 5 parameters.
    ///
    /// PyTorch: `torch.where(nn.Linear(4, 1)(x) >= 0, 1.0, -1.0)`.
    ///
    /// ```
    /// use dl_zoo::perceptron::IrisPerceptron;
    /// assert_eq!(IrisPerceptron::PARAMS, 5);
    /// ```
    pub struct IrisPerceptron: [4] -> [1] {
        Dense<1>,
        Sign,
    }

    /// A perceptron on two inputs (the logic functions AND, OR, XOR): 3 parameters.
    ///
    /// ```
    /// use dl_zoo::perceptron::Perceptron2;
    /// assert_eq!(Perceptron2::PARAMS, 3);
    /// ```
    pub struct Perceptron2: [2] -> [1] {
        Dense<1>,
        Sign,
    }
}

/// Rosenblatt's error-correction rule (see the module docs): the learning rate `η` and the epoch
/// limit after which a non-separable problem is given up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerceptronRule {
    /// `η` in `w ← w + η·t·x` (positive).
    pub learning_rate: f32,
    /// Passes over the data before training stops without converging (at least 1).
    pub max_epochs: usize,
}

/// What a perceptron training run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerceptronReport {
    /// Whether an epoch passed without a mistake (the data are separated).
    pub converged: bool,
    /// Epochs run, the last (error-free, when converged) one included.
    pub epochs: usize,
    /// Weight updates made in total (one per mistake).
    pub updates: usize,
    /// Mistakes in the last epoch (0 when converged).
    pub training_errors: usize,
}

impl PerceptronRule {
    /// Trains `unit` (the `Dense<F, 1>` before the `Sign`) on `data`, whose two classes `0` and
    /// `1` are the targets `−1` and `+1`.
    ///
    /// Errors when the learning rate is not positive and finite, when `max_epochs` is 0, or when
    /// the data set does not have exactly two classes.
    pub fn train<const F: usize>(
        &self,
        unit: &mut Dense<F, 1>,
        data: &Dataset<Flat<F>>,
    ) -> Result<PerceptronReport> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::config(
                "perceptron learning rate",
                format!("must be positive, found {}", self.learning_rate),
            ));
        }
        if self.max_epochs == 0 {
            return Err(Error::config(
                "perceptron epoch limit",
                "must be at least 1, found 0",
            ));
        }
        if data.classes() != 2 {
            return Err(Error::config(
                "perceptron data",
                format!("needs exactly 2 classes, found {}", data.classes()),
            ));
        }
        let mut x = Act::<Flat<F>>::zeros(1);
        let mut y = Act::<Flat<1>>::zeros(1);
        let (mut epochs, mut updates) = (0, 0);
        loop {
            epochs += 1;
            let mut mistakes = 0;
            for (i, &label) in data.labels().iter().enumerate() {
                x.fill_from_slice(data.sample(i))?;
                unit.forward(&x, &mut y, Mode::Eval);
                let predicted = usize::from(y.as_slice()[0] >= 0.0);
                if predicted != label {
                    let step = if label == 1 { 1.0 } else { -1.0 } * self.learning_rate;
                    for (w, xi) in unit.weight.value_mut().iter_mut().zip(data.sample(i)) {
                        *w += step * xi;
                    }
                    unit.bias.value_mut()[0] += step;
                    mistakes += 1;
                }
            }
            updates += mistakes;
            if mistakes == 0 || epochs == self.max_epochs {
                return Ok(PerceptronReport {
                    converged: mistakes == 0,
                    epochs,
                    updates,
                    training_errors: mistakes,
                });
            }
        }
    }
}

/// Fraction of `data` (classes `0`/`1`) that a perceptron model (output `±1`) classifies right.
pub fn accuracy<M: Model<Output = Flat<1>>>(
    model: &mut M,
    data: &Dataset<M::Input>,
) -> Result<f32> {
    let x = Act::<M::Input>::from_slice(data.features())?;
    let y = model.forward(&x);
    let right = y
        .as_slice()
        .iter()
        .zip(data.labels())
        .filter(|&(&out, &label)| (out > 0.0) == (label == 1))
        .count();
    Ok(right as f32 / data.len().max(1) as f32)
}

macro_rules! perceptron_methods {
    ($($model:ident: $f:literal),*) => {$(
        impl $model {
            /// Trains the unit with Rosenblatt's rule ([`PerceptronRule::train`]).
            pub fn train(
                &mut self,
                rule: &PerceptronRule,
                data: &Dataset<Flat<$f>>,
            ) -> Result<PerceptronReport> {
                rule.train(&mut self.l0_dense, data)
            }

            /// Training or test accuracy ([`accuracy`]).
            pub fn accuracy(&mut self, data: &Dataset<Flat<$f>>) -> Result<f32> {
                accuracy(self, data)
            }
        }
    )*};
}
perceptron_methods!(IrisPerceptron: 4, Perceptron2: 2);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rule(max_epochs: usize) -> PerceptronRule {
        PerceptronRule {
            learning_rate: 1.0,
            max_epochs,
        }
    }

    #[test]
    fn updates_only_on_mistakes_as_worked_by_hand() {
        // OR from w = 0, b = 0, η = 0.5. Epoch 1: (0,0)→+1 but t=−1: w=(0,0), b=−0.5;
        // (0,1)→−1 but t=+1: w=(0,0.5), b=0; (1,0)→+1 right; (1,1)→+1 right.
        // Epoch 2: (0,0)→+1 (0 ≥ 0) wrong: b=−0.5; (0,1)→+1 right; (1,0)→−1 wrong: w=(0.5,0.5),
        // b=0; (1,1) right. Epoch 3: (0,0) wrong: b=−0.5; the rest right. Epoch 4: no mistake.
        let data = Dataset::<Flat<2>>::new(
            vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
            vec![0, 1, 1, 1],
            2,
        )
        .unwrap();
        let mut p = Perceptron2::new(&mut rand::rngs::StdRng::seed_from_u64(0));
        p.l0_dense.weight.value_mut().fill(0.0);
        p.l0_dense.bias.value_mut().fill(0.0);
        let r = PerceptronRule {
            learning_rate: 0.5,
            max_epochs: 10,
        };
        let report = p.train(&r, &data).unwrap();
        assert_eq!(
            report,
            PerceptronReport {
                converged: true,
                epochs: 4,
                updates: 5,
                training_errors: 0
            }
        );
        assert_eq!(p.l0_dense.weight.value(), [0.5, 0.5]);
        assert_eq!(p.l0_dense.bias.value(), [-0.5]);
        assert_eq!(p.accuracy(&data).unwrap(), 1.0);
    }

    #[test]
    fn xor_does_not_converge_and_says_so() {
        let data = Dataset::<Flat<2>>::new(
            vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
            vec![0, 1, 1, 0],
            2,
        )
        .unwrap();
        let mut p = Perceptron2::new(&mut rand::rngs::StdRng::seed_from_u64(3));
        let report = p.train(&rule(50), &data).unwrap();
        assert!(!report.converged);
        assert_eq!(report.epochs, 50);
        assert!(report.training_errors >= 1);
        assert!(p.accuracy(&data).unwrap() <= 0.75);
    }

    #[test]
    fn bad_settings_and_data_are_errors() {
        let mut p = Perceptron2::new(&mut rand::rngs::StdRng::seed_from_u64(0));
        let three = Dataset::<Flat<2>>::new(vec![0.0; 6], vec![0, 1, 2], 3).unwrap();
        let err = p.train(&rule(5), &three).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid perceptron data: needs exactly 2 classes, found 3"
        );
        let two = Dataset::<Flat<2>>::new(vec![0.0; 4], vec![0, 1], 2).unwrap();
        let err = p.train(&rule(0), &two).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid perceptron epoch limit: must be at least 1, found 0"
        );
        let bad = PerceptronRule {
            learning_rate: -1.0,
            max_epochs: 5,
        };
        let err = p.train(&bad, &two).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid perceptron learning rate: must be positive, found -1"
        );
    }
}
