//! Multi-layer perceptrons (Rumelhart, Hinton and Williams, "Learning representations by
//! back-propagating errors", Nature 323, 1986) in the sizes the tutorials use.
//!
//! The layer tables (`SUMMARY`; a test in `lib.rs` keeps them equal):
//!
//! ```text
//! Model: DigitsMlp
//! Layer (type)          Output shape  Param #
//! ===========================================
//! input                 [64]                0
//! 0 (Dense<64 => 128>)  [128]           8,320
//! 1 (ReLU)              [128]               0
//! 2 (Dense<128 => 10>)  [10]            1,290
//! ===========================================
//! Total params: 9,610
//! ```
//!
//! ```text
//! Model: MnistMlp
//! Layer (type)           Output shape  Param #
//! ============================================
//! input                  [784]               0
//! 0 (Dense<784 => 128>)  [128]         100,480
//! 1 (ReLU)               [128]               0
//! 2 (Dense<128 => 10>)   [10]            1,290
//! ============================================
//! Total params: 101,770
//! ```
//!
//! ```text
//! Model: KerasMnistMlp
//! Layer (type)          Output shape  Param #
//! ===========================================
//! input                 [784]               0
//! 0 (Dense<784 => 64>)  [64]           50,240
//! 1 (ReLU)              [64]                0
//! 2 (Dense<64 => 64>)   [64]            4,160
//! 3 (ReLU)              [64]                0
//! 4 (Dense<64 => 10>)   [10]              650
//! ===========================================
//! Total params: 55,050
//! ```

use crate::numpy_random::RandomState;
use dl_core::data::{BatchOrder, Dataset};
use dl_core::prelude::*;

sequential! {
    /// The scikit-learn digits MLP: 64 inputs (8×8 images), 128 ReLU units, 10 classes
    /// (`MLPClassifier(hidden_layer_sizes=(128,))`).
    ///
    /// PyTorch: `nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))`.
    ///
    /// ```
    /// use dl_core::{Act, Flat, Model};
    /// use dl_zoo::mlp::DigitsMlp;
    /// use rand::SeedableRng;
    /// let mut net = DigitsMlp::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    /// assert_eq!(net.forward(&Act::<Flat<64>>::zeros(3)).batch(), 3);
    /// assert_eq!(DigitsMlp::PARAMS, 9_610);
    /// ```
    pub struct DigitsMlp: [64] -> [10] {
        Dense<128>, ReLU,
        Dense<10>,
    }

    /// The MNIST MLP 784-128-10 with ReLU (PyTorch and scikit-learn tutorials).
    ///
    /// PyTorch: `nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))`.
    ///
    /// ```
    /// use dl_zoo::mlp::MnistMlp;
    /// assert_eq!(MnistMlp::PARAMS, 784 * 128 + 128 + 128 * 10 + 10);
    /// ```
    pub struct MnistMlp: [784] -> [10] {
        Dense<128>, ReLU,
        Dense<10>,
    }

    /// The Keras "getting started" MNIST MLP: 784-64-64-10 with ReLU, trained with Adam.
    ///
    /// Keras: `Sequential([Input((784,)), Dense(64, "relu"), Dense(64, "relu"), Dense(10)])`;
    /// PyTorch: `nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
    /// nn.Linear(64, 10))`.
    ///
    /// ```
    /// use dl_zoo::mlp::KerasMnistMlp;
    /// assert_eq!(KerasMnistMlp::PARAMS, 55_050);
    /// ```
    pub struct KerasMnistMlp: [784] -> [10] {
        Dense<64>, ReLU,
        Dense<64>, ReLU,
        Dense<10>,
    }
}

/// Training that reproduces scikit-learn's `MLPClassifier(solver="sgd")` step for step, so a
/// model trained here matches the scikit-learn tutorials' figures:
///
/// - initialisation ([`SklearnSgd::init`]): every dense weight *and* bias drawn from
///   `U(±√(6/(fan_in + fan_out)))` (Glorot);
/// - each epoch shuffles the training set (unless `shuffle` is off) and walks it in batches of
///   `batch_size`, the last one partial;
/// - both draw from NumPy's generator ([`RandomState`]) in scikit-learn's order, so seed `N`
///   gives the initial weights and the batch order of `MLPClassifier(random_state=N)`;
/// - per batch: mean cross-entropy of the softmax output plus the L2 term
///   `0.5·alpha·Σ‖W‖²/n` (`n` the batch's size; weights only, not biases), so the weight
///   gradient gets `alpha·W/n`; then an SGD step with (Nesterov) momentum — scikit-learn's
///   `v ← μv − lr·g; w ← w + μv − lr·g` is PyTorch's Nesterov rule ([`Sgd`]) at a constant rate;
/// - the epoch's loss is the sample-weighted mean of the batch losses (L2 term included), and
///   training stops when it has not improved on the best by `tol` for more than
///   `n_iter_no_change` consecutive epochs, or after `max_epochs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SklearnSgd {
    /// `learning_rate_init`.
    pub learning_rate: f32,
    /// `momentum`.
    pub momentum: f32,
    /// `nesterovs_momentum`.
    pub nesterov: bool,
    /// `alpha`, the L2 penalty.
    pub alpha: f32,
    /// `batch_size` (scikit-learn uses `min(200, n_samples)`).
    pub batch_size: usize,
    /// `max_iter`: epochs at most.
    pub max_epochs: usize,
    /// `tol`.
    pub tol: f32,
    /// `n_iter_no_change`.
    pub n_iter_no_change: usize,
    /// `shuffle`: reshuffle the training samples before every epoch (otherwise they are visited
    /// in their stored order).
    pub shuffle: bool,
}

impl SklearnSgd {
    /// `MLPClassifier(solver="sgd", learning_rate_init=lr)` with scikit-learn's other defaults:
    /// batch 200, Nesterov momentum 0.9, alpha 1e-4, 200 epochs at most, tol 1e-4, 10 epochs
    /// without change, shuffled every epoch.
    pub fn new(learning_rate: f32) -> Self {
        SklearnSgd {
            learning_rate,
            momentum: 0.9,
            nesterov: true,
            alpha: 1e-4,
            batch_size: 200,
            max_epochs: 200,
            tol: 1e-4,
            n_iter_no_change: 10,
            shuffle: true,
        }
    }

    /// scikit-learn's Glorot initialisation of every 2-D `weight` (`[out, in]`) and of the
    /// `bias` that follows it, with the same bound `√(6/(in + out))`, drawn as `_init_coef`
    /// draws them: `uniform(-b, b, (in, out))` row by row (so input-major, the transpose of our
    /// layout), then `uniform(-b, b, out)`.
    ///
    /// ```
    /// use dl_zoo::{mlp::{DigitsMlp, SklearnSgd}, numpy_random::RandomState};
    /// use dl_core::Parameters;
    /// use rand::SeedableRng;
    /// let mut net = DigitsMlp::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    /// SklearnSgd::init(&mut net, &mut RandomState::new(1));
    /// // MLPClassifier(random_state=1)'s first weight, coefs_[0][0, 0], is
    /// // RandomState(1).uniform(-b, b) with b = sqrt(6 / (64 + 128)).
    /// let b = (6.0f64 / 192.0).sqrt();
    /// let first = RandomState::new(1).uniform(-b, b) as f32;
    /// let mut got = None;
    /// net.visit(&mut |_, p| { got.get_or_insert(p.value()[0]); });
    /// assert_eq!(got, Some(first));
    /// ```
    pub fn init<P: Parameters + ?Sized>(params: &mut P, rs: &mut RandomState) {
        let mut bound = 0.0f64;
        params.visit_mut(&mut |name, p| {
            if !p.is_trainable() {
                return;
            }
            if name.name == "weight" && p.shape().len() == 2 {
                let (fan_out, fan_in) = (p.shape()[0], p.shape()[1]);
                bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
                for i in 0..fan_in {
                    for o in 0..fan_out {
                        p.value_mut()[o * fan_in + i] = rs.uniform(-bound, bound) as f32;
                    }
                }
            } else if name.name == "bias" && bound > 0.0 {
                for v in p.value_mut().iter_mut() {
                    *v = rs.uniform(-bound, bound) as f32;
                }
            }
        });
    }

    /// Trains `model` on `train` (see the type docs); `rs` shuffles (pass the generator that
    /// [`SklearnSgd::init`] drew from, as scikit-learn does). Returns the loss curve and whether
    /// training stopped before `max_epochs`.
    pub fn fit<M: Model<Output = Flat<C>>, const C: usize>(
        &self,
        model: &mut M,
        train: &Dataset<M::Input>,
        rs: &mut RandomState,
        mut on_epoch: impl FnMut(usize, f32),
    ) -> Result<SklearnReport> {
        let batch = self.batch_size.min(train.len()).max(1);
        let mut opt = Sgd::new(self.learning_rate)
            .momentum(self.momentum)
            .nesterov(self.nesterov);
        opt.validate()?;
        let mut order = BatchOrder::new(train.len(), batch)?;
        let (mut x, mut labels) = (Act::<M::Input>::default(), Vec::with_capacity(batch));
        let mut grad = Act::<Flat<C>>::default();
        let (mut best, mut no_change) = (f32::INFINITY, 0);
        let mut losses = Vec::with_capacity(self.max_epochs);
        let mut stopped_early = false;
        for epoch in 1..=self.max_epochs {
            if self.shuffle {
                order.reorder(|idx| rs.shuffle(idx));
            }
            let mut total = 0.0f64;
            for idx in order.batches() {
                train.gather(idx, &mut x, &mut labels);
                let n = idx.len() as f32;
                let ce = CrossEntropy.loss_and_grad(model.forward_train(&x), &labels, &mut grad)?;
                model.backward_params(&x, &grad);
                let mut sum_w2 = 0.0f32;
                let decay = self.alpha / n;
                model.visit_mut(&mut |name, p| {
                    if p.is_trainable() && name.name == "weight" {
                        let (g, w) = p.grad_mut_and_value();
                        for (gi, wi) in g.iter_mut().zip(w) {
                            sum_w2 += wi * wi;
                            *gi += decay * wi;
                        }
                    }
                });
                opt.step(model);
                total += f64::from(ce + 0.5 * self.alpha * sum_w2 / n) * f64::from(n);
            }
            let loss = (total / train.len() as f64) as f32;
            if !loss.is_finite() {
                return Err(Error::config(
                    "training",
                    format!("the loss became {loss} in epoch {epoch}; lower the learning rate"),
                ));
            }
            losses.push(loss);
            on_epoch(epoch, loss);
            no_change = if loss > best - self.tol {
                no_change + 1
            } else {
                0
            };
            best = best.min(loss);
            if no_change > self.n_iter_no_change {
                stopped_early = true;
                break;
            }
        }
        Ok(SklearnReport {
            losses,
            stopped_early,
        })
    }
}

/// What [`SklearnSgd::fit`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct SklearnReport {
    /// The training loss of each epoch (scikit-learn's `loss_curve_`).
    pub losses: Vec<f32>,
    /// Whether the loss stopped improving before the epoch limit.
    pub stopped_early: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parameter_counts() {
        assert_eq!(DigitsMlp::NUM_PARAMS, 64 * 128 + 128 + 128 * 10 + 10);
        assert_eq!(MnistMlp::NUM_PARAMS, 101_770);
        assert_eq!(
            KerasMnistMlp::NUM_PARAMS,
            784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
        );
    }

    /// NumPy 2.4.6, scikit-learn's `_init_coef` for 64-128-10 with `RandomState(0)`:
    /// `W0 = uniform(-b0, b0, (64, 128)); c0 = uniform(-b0, b0, 128); W1 = uniform(-b1, b1,
    /// (128, 10)); c1 = uniform(-b1, b1, 10)`; then `W0[1, 0], W0[0, 1], c0[0], W1[5, 3], c1[9]`
    /// (scikit-learn's `[in, out]` layout is the transpose of ours).
    #[test]
    fn sklearn_init_draws_what_scikit_learn_draws_in_its_layout() {
        let mut net = DigitsMlp::new(&mut rand::rngs::StdRng::seed_from_u64(9));
        SklearnSgd::init(&mut net, &mut RandomState::new(0));
        let got = [
            net.l0_dense.weight.value()[1],
            net.l0_dense.weight.value()[64],
            net.l0_dense.bias.value()[0],
            net.l2_dense.weight.value()[3 * 128 + 5],
            net.l2_dense.bias.value()[9],
        ];
        let want = [
            0.056_629_897_263_857_64,
            0.076_080_930_100_587_11,
            -0.000_936_697_823_821_552_9,
            -0.129_171_159_483_447_32,
            -0.124_808_329_190_488_26,
        ];
        for (g, w) in got.iter().zip(want) {
            assert_eq!(*g, w as f32);
        }
        let (b0, b1) = ((6.0f32 / 192.0).sqrt(), (6.0f32 / 138.0).sqrt());
        let max = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(max(net.l0_dense.weight.value()) <= b0 && max(net.l2_dense.weight.value()) <= b1);
    }

    #[test]
    fn sklearn_training_stops_when_the_loss_stalls() {
        // Separable toy data: the loss falls, then flattens, and training stops early.
        let mut rs = RandomState::new(1);
        let features: Vec<f32> = (0..40 * 64)
            .map(|i| ((i / 64) % 2) as f32 + 0.01 * (i % 7) as f32)
            .collect();
        let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let data = Dataset::<Flat<64>>::new(features, labels, 10).unwrap();
        let mut net = DigitsMlp::new(&mut rand::rngs::StdRng::seed_from_u64(1));
        SklearnSgd::init(&mut net, &mut rs);
        let cfg = SklearnSgd {
            batch_size: 10,
            max_epochs: 500,
            ..SklearnSgd::new(0.01)
        };
        let mut seen = 0;
        let report = cfg.fit(&mut net, &data, &mut rs, |_, _| seen += 1).unwrap();
        assert_eq!(seen, report.losses.len());
        assert!(report.stopped_early, "{} epochs", report.losses.len());
        assert!(report.losses.last().unwrap() < &(0.1 * report.losses[0]));
        assert_eq!(crate::classify::accuracy(&mut net, &data, 16).unwrap(), 1.0);
    }

    #[test]
    fn one_sklearn_step_adds_alpha_w_over_n_to_weight_gradients_only() {
        let features: Vec<f32> = (0..8 * 64).map(|i| ((i * 37) % 11) as f32 / 11.0).collect();
        let data = Dataset::<Flat<64>>::new(features, (0..8).collect(), 10).unwrap();
        let make = || DigitsMlp::new(&mut rand::rngs::StdRng::seed_from_u64(4));
        let (mut net, mut reference) = (make(), make());
        let cfg = SklearnSgd {
            momentum: 0.0,
            nesterov: false,
            alpha: 0.5,
            max_epochs: 1,
            ..SklearnSgd::new(0.1)
        };
        cfg.fit(&mut net, &data, &mut RandomState::new(0), |_, _| ())
            .unwrap();
        // The same step by hand: full batch of n = 8, plain SGD.
        let x = Act::<Flat<64>>::from_slice(data.features()).unwrap();
        let mut g = Act::default();
        CrossEntropy
            .loss_and_grad(reference.forward_train(&x), data.labels(), &mut g)
            .unwrap();
        reference.backward_params(&x, &g);
        let mut want = Vec::new();
        reference.visit(&mut |name, p| {
            let decay = if name.name == "weight" {
                0.5 / 8.0
            } else {
                0.0
            };
            want.extend(
                p.value()
                    .iter()
                    .zip(&p.grad)
                    .map(|(w, g)| w - 0.1 * (g + decay * w)),
            );
        });
        let mut got = Vec::new();
        net.visit(&mut |_, p| got.extend_from_slice(p.value()));
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-5, "value {i}: {a} vs {b}");
        }
    }
}
