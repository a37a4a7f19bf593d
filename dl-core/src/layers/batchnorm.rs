//! Batch normalisation over features ([`BatchNorm1d`]) or channels ([`BatchNorm2d`]): one
//! implementation, the 1d layer being the 2d computation with one pixel per channel.

use crate::kernels::aligned::AlignedVec;
use crate::layers::{Layer, Mode};
use crate::param::{Param, ParamName, Parameters};
use crate::tensor::{Act, Chw, Flat};
use std::ops::Range;

/// Batch normalisation over `C` features or channels; use it through its two names,
/// [`BatchNorm1d`] (`SPATIAL = false`, samples `[C]`) and [`BatchNorm2d`] (`SPATIAL = true`,
/// samples `[C, H, W]`), whose docs give the formula and an example.
///
/// Each channel `c` is normalised over the batch (and, for 2d, over its `H·W` pixels):
/// `y = weight[c]·(x − μ_c)/√(σ²_c + eps) + bias[c]`.
/// - Training: `μ_c`, `σ²_c` are the batch mean and biased variance; the running statistics move
///   toward them, `running = (1 − momentum)·running + momentum·batch`, the running variance taking
///   the unbiased batch variance (PyTorch's rule), and `num_batches_tracked` counts the steps.
///   With a single value per channel (PyTorch refuses such a batch) the variance is 0 and the
///   running variance is left unchanged.
/// - Evaluation: `μ_c`, `σ²_c` are `running_mean[c]`, `running_var[c]`.
/// - Backward after a training forward, with `x̂ = (x − μ)/σ` and `m` values per channel:
///   `d bias = Σ dy`, `d weight = Σ dy·x̂`, `dx = weight/(σ·m)·(m·dy − Σ dy − x̂·Σ dy·x̂)`;
///   after an evaluation forward the statistics are constants: `dx = weight·dy/σ`.
///
/// Parameters, in PyTorch state-dict order: `weight` `[C]` (init 1) and `bias` `[C]` (init 0),
/// trainable; buffers `running_mean` `[C]` (0), `running_var` `[C]` (1), `num_batches_tracked`
/// `[]` (0). Parameter count `2·C`. PyTorch: `nn.BatchNorm1d(C)` / `nn.BatchNorm2d(C)`.
///
/// ```
/// use dl_core::{Act, BatchNorm1d, BatchNorm2d, Chw, Flat, Layer, Mode};
/// // The 1d layer is the 2d computation with one pixel per channel.
/// let data = vec![0.5, -1.0, 2.0, 3.0, 0.0, 1.0];
/// let (mut y1, mut y2) = (Act::<Flat<2>>::default(), Act::<Chw<2, 1, 1>>::default());
/// BatchNorm1d::<2>::new().forward(&Act::from_vec(data.clone()).unwrap(), &mut y1, Mode::Train);
/// BatchNorm2d::<2>::new().forward(&Act::from_vec(data).unwrap(), &mut y2, Mode::Train);
/// assert_eq!(y1.as_slice(), y2.as_slice());
/// assert!(y1.as_slice()[0] < 0.0 && y1.as_slice()[2] > 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct BatchNorm<const C: usize, const SPATIAL: bool> {
    /// Scale `γ`, `[C]`.
    pub weight: Param,
    /// Shift `β`, `[C]`.
    pub bias: Param,
    /// Running mean, `[C]` (buffer).
    pub running_mean: Param,
    /// Running variance, `[C]` (buffer).
    pub running_var: Param,
    /// Number of training forwards (counter).
    pub num_batches_tracked: Param,
    /// Added to the variance before the square root; 1e-5 by default.
    pub eps: f32,
    /// Weight of the batch statistics in the running update; 0.1 by default (PyTorch's convention:
    /// Keras' `momentum` is `1 −` this).
    pub momentum: f32,
    /// `x̂` of the last training batch; only grows.
    xhat: AlignedVec,
    /// `1/√(σ² + eps)` per channel of the last training batch.
    inv_std: Vec<f32>,
    /// Whether the last forward was in training mode (backward then uses the batch statistics).
    last_train: bool,
}

/// Batch normalisation over the features of `[F]` samples.
///
/// `y = weight·(x − μ)/√(σ² + eps) + bias`, per feature, with the batch mean and biased variance
/// in training (updating the running statistics) and the running statistics in evaluation; see
/// [`BatchNorm`] for the update rule and the backward pass.
///
/// - Shape rule: `[F] → [F]`.
/// - Parameters: `weight` `[F]` = 1, `bias` `[F]` = 0; buffers `running_mean` `[F]` = 0,
///   `running_var` `[F]` = 1, `num_batches_tracked` = 0; parameter count `2·F`.
/// - PyTorch: `nn.BatchNorm1d(F)` (eps 1e-5, momentum 0.1), same names and update rule.
///
/// ```
/// use dl_core::{Act, BatchNorm1d, Flat, Layer, Mode};
/// let mut bn = BatchNorm1d::<2>::new();
/// let x = Act::<Flat<2>>::from_vec(vec![1.0, 10.0, 3.0, 10.0]).unwrap();
/// let mut y = Act::default();
/// bn.forward(&x, &mut y, Mode::Train);
/// // Feature 0: mean 2, variance 1 → ±1; feature 1 is constant → 0.
/// let want = [-1.0, 0.0, 1.0, 0.0];
/// assert!(y.as_slice().iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-4));
/// // Running mean moved 10% toward the batch mean; running variance toward the unbiased 2.
/// assert_eq!(bn.running_mean.value(), [0.2, 1.0]);
/// assert!((bn.running_var.value()[0] - 1.1).abs() < 1e-6);
/// assert_eq!(BatchNorm1d::<2>::PARAMS, 4);
/// ```
pub type BatchNorm1d<const F: usize> = BatchNorm<F, false>;

/// Batch normalisation over the channels of `[C, H, W]` samples.
///
/// `y = weight[c]·(x − μ_c)/√(σ²_c + eps) + bias[c]`, the statistics of channel `c` taken over
/// the batch and all `H·W` pixels, with the batch mean and biased variance in training (updating
/// the running statistics) and the running statistics in evaluation; see [`BatchNorm`] for the
/// update rule and the backward pass.
///
/// - Shape rule: `[C, H, W] → [C, H, W]`.
/// - Parameters: `weight` `[C]` = 1, `bias` `[C]` = 0; buffers `running_mean` `[C]` = 0,
///   `running_var` `[C]` = 1, `num_batches_tracked` = 0; parameter count `2·C`.
/// - PyTorch: `nn.BatchNorm2d(C)` (eps 1e-5, momentum 0.1), same names and update rule.
///
/// ```
/// use dl_core::{Act, BatchNorm2d, Chw, Layer, Mode, Parameters};
/// let mut bn = BatchNorm2d::<1>::new();
/// bn.running_mean.value_mut()[0] = 1.0;
/// bn.running_var.value_mut()[0] = 4.0 - 1e-5;
/// let x = Act::<Chw<1, 1, 2>>::from_vec(vec![3.0, 5.0]).unwrap();
/// let mut y = Act::default();
/// bn.forward(&x, &mut y, Mode::Eval); // (x − 1)/2 with the running statistics
/// assert!(y.as_slice().iter().zip([1.0, 2.0]).all(|(g, w)| (g - w).abs() < 1e-6));
/// assert_eq!(bn.num_params(), 2);
/// ```
pub type BatchNorm2d<const C: usize> = BatchNorm<C, true>;

/// The index ranges of channel `c`'s planes (one per sample, `inner` values each) in a batch
/// laid out `[batch, channels, inner]`.
fn channel_planes(
    batch: usize,
    channels: usize,
    inner: usize,
    c: usize,
) -> impl Iterator<Item = Range<usize>> {
    (0..batch).map(move |n| {
        let start = (n * channels + c) * inner;
        start..start + inner
    })
}

impl<const C: usize, const SPATIAL: bool> Default for BatchNorm<C, SPATIAL> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const C: usize, const SPATIAL: bool> BatchNorm<C, SPATIAL> {
    /// Parameter count: `weight` and `bias`.
    pub const PARAMS: usize = crate::shape::batchnorm_params(C);

    /// PyTorch's initial state: weight 1, bias 0, running mean 0, running variance 1, no batches
    /// tracked; eps 1e-5, momentum 0.1.
    pub fn new() -> Self {
        BatchNorm {
            weight: Param::trainable(&[C], vec![1.0; C]),
            bias: Param::trainable(&[C], vec![0.0; C]),
            running_mean: Param::buffer(&[C], vec![0.0; C]),
            running_var: Param::buffer(&[C], vec![1.0; C]),
            num_batches_tracked: Param::counter(),
            eps: 1e-5,
            momentum: 0.1,
            xhat: AlignedVec::new(),
            inv_std: vec![0.0; C],
            last_train: false,
        }
    }

    /// Forward over a batch laid out `[batch, C, inner]` (`inner = H·W`, 1 for features).
    fn forward_planes(&mut self, x: &[f32], y: &mut [f32], batch: usize, inner: usize, mode: Mode) {
        self.last_train = mode == Mode::Train;
        if batch == 0 {
            return;
        }
        let planes = |c| channel_planes(batch, C, inner, c);
        if mode == Mode::Eval {
            for c in 0..C {
                let inv_std = 1.0 / (self.running_var.value()[c] + self.eps).sqrt();
                let (mean, w, b) = (
                    self.running_mean.value()[c],
                    self.weight.value()[c],
                    self.bias.value()[c],
                );
                for p in planes(c) {
                    for (o, &v) in y[p.clone()].iter_mut().zip(&x[p]) {
                        *o = w * (v - mean) * inv_std + b;
                    }
                }
            }
            return;
        }
        let len = batch * C * inner;
        self.xhat.at_least(len);
        let m = (batch * inner) as f64;
        // Written once per pass (each `value_mut` gives a new parameter version).
        let (running_mean, running_var) =
            (self.running_mean.value_mut(), self.running_var.value_mut());
        for c in 0..C {
            // Two passes in f64: the mean, then the variance around it.
            let sum: f64 = planes(c).flat_map(|p| &x[p]).map(|&v| v as f64).sum();
            let mean = sum / m;
            let sq: f64 = planes(c)
                .flat_map(|p| &x[p])
                .map(|&v| (v as f64 - mean).powi(2))
                .sum();
            let var = sq / m;
            let inv_std = 1.0 / (var + self.eps as f64).sqrt();
            self.inv_std[c] = inv_std as f32;
            let (w, b) = (self.weight.value()[c], self.bias.value()[c]);
            for p in planes(c) {
                let values = self.xhat[p.clone()].iter_mut().zip(&mut y[p.clone()]);
                for ((h, o), &v) in values.zip(&x[p]) {
                    *h = ((v as f64 - mean) * inv_std) as f32;
                    *o = w * *h + b;
                }
            }
            let mom = self.momentum;
            let rm = &mut running_mean[c];
            *rm = (1.0 - mom) * *rm + mom * mean as f32;
            if m > 1.0 {
                let rv = &mut running_var[c];
                *rv = (1.0 - mom) * *rv + mom * (sq / (m - 1.0)) as f32;
            }
        }
        self.num_batches_tracked.value_mut()[0] += 1.0;
    }

    /// Backward over a batch laid out `[batch, C, inner]`; see [`BatchNorm`] for the formulas.
    fn backward_planes(
        &mut self,
        x: &[f32],
        dy: &[f32],
        mut dx: Option<&mut [f32]>,
        batch: usize,
        inner: usize,
    ) {
        debug_assert!(
            !self.last_train || self.xhat.len() >= batch * C * inner,
            "backward follows a training forward on the same batch"
        );
        let planes = |c| channel_planes(batch, C, inner, c);
        let m = (batch * inner) as f32;
        for c in 0..C {
            // x̂ as the forward saw it: cached in training, recomputed from the running
            // statistics in evaluation.
            let (inv_std, mean) = if self.last_train {
                (self.inv_std[c], 0.0)
            } else {
                let inv_std = 1.0 / (self.running_var.value()[c] + self.eps).sqrt();
                (inv_std, self.running_mean.value()[c])
            };
            let xhat = |i: usize| {
                if self.last_train {
                    self.xhat[i]
                } else {
                    (x[i] - mean) * inv_std
                }
            };
            let (mut sum_dy, mut sum_dy_xhat) = (0.0f64, 0.0f64);
            for i in planes(c).flatten() {
                sum_dy += dy[i] as f64;
                sum_dy_xhat += (dy[i] * xhat(i)) as f64;
            }
            self.bias.grad[c] = sum_dy as f32;
            self.weight.grad[c] = sum_dy_xhat as f32;
            let Some(dx) = dx.as_deref_mut() else {
                continue;
            };
            let scale = self.weight.value()[c] * inv_std;
            if self.last_train {
                let (mean_dy, mean_dy_xhat) = (sum_dy as f32 / m, sum_dy_xhat as f32 / m);
                for i in planes(c).flatten() {
                    dx[i] = scale * (dy[i] - mean_dy - xhat(i) * mean_dy_xhat);
                }
            } else {
                for i in planes(c).flatten() {
                    dx[i] = scale * dy[i];
                }
            }
        }
    }
}

impl<const C: usize, const SPATIAL: bool> Parameters for BatchNorm<C, SPATIAL> {
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
        let named = [
            ("weight", &self.weight),
            ("bias", &self.bias),
            ("running_mean", &self.running_mean),
            ("running_var", &self.running_var),
            ("num_batches_tracked", &self.num_batches_tracked),
        ];
        for (name, p) in named {
            f(ParamName::local(name), p);
        }
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
        let named = [
            ("weight", &mut self.weight),
            ("bias", &mut self.bias),
            ("running_mean", &mut self.running_mean),
            ("running_var", &mut self.running_var),
            ("num_batches_tracked", &mut self.num_batches_tracked),
        ];
        for (name, p) in named {
            f(ParamName::local(name), p);
        }
    }
}

impl<const F: usize> Layer<Flat<F>, Flat<F>> for BatchNorm1d<F> {
    fn forward(&mut self, x: &Act<Flat<F>>, y: &mut Act<Flat<F>>, mode: Mode) {
        y.set_batch(x.batch());
        self.forward_planes(x.as_slice(), y.as_mut_slice(), x.batch(), 1, mode);
    }

    fn backward(
        &mut self,
        x: &Act<Flat<F>>,
        _y: &Act<Flat<F>>,
        dy: &Act<Flat<F>>,
        dx: Option<&mut Act<Flat<F>>>,
    ) {
        let dx = dx.map(|dx| {
            dx.set_batch(x.batch());
            dx.as_mut_slice()
        });
        self.backward_planes(x.as_slice(), dy.as_slice(), dx, x.batch(), 1);
    }
}

impl<const C: usize, const H: usize, const W: usize> Layer<Chw<C, H, W>, Chw<C, H, W>>
    for BatchNorm2d<C>
{
    fn forward(&mut self, x: &Act<Chw<C, H, W>>, y: &mut Act<Chw<C, H, W>>, mode: Mode) {
        y.set_batch(x.batch());
        self.forward_planes(x.as_slice(), y.as_mut_slice(), x.batch(), H * W, mode);
    }

    fn backward(
        &mut self,
        x: &Act<Chw<C, H, W>>,
        _y: &Act<Chw<C, H, W>>,
        dy: &Act<Chw<C, H, W>>,
        dx: Option<&mut Act<Chw<C, H, W>>>,
    ) {
        let dx = dx.map(|dx| {
            dx.set_batch(x.batch());
            dx.as_mut_slice()
        });
        self.backward_planes(x.as_slice(), dy.as_slice(), dx, x.batch(), H * W);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::ParamKind;
    use crate::testing::{check_layer_gradients, check_layer_gradients_at};
    use rand::{Rng, SeedableRng};

    fn rng(seed: u64) -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(seed)
    }

    /// Non-trivial weight and bias, so gradient checks see them.
    fn randomise<const C: usize, const S: bool>(bn: &mut BatchNorm<C, S>, r: &mut impl Rng) {
        for w in bn.weight.value_mut() {
            *w = r.random_range(0.5..1.5);
        }
        for b in bn.bias.value_mut() {
            *b = r.random_range(-0.5..0.5);
        }
    }

    #[test]
    fn training_forward_normalises_and_updates_running_statistics() {
        let mut bn = BatchNorm1d::<1>::new();
        bn.weight.value_mut()[0] = 2.0;
        bn.bias.value_mut()[0] = 0.5;
        let x = Act::<Flat<1>>::from_vec(vec![1.0, 2.0, 3.0]).unwrap();
        let mut y = Act::default();
        bn.forward(&x, &mut y, Mode::Train);
        // Mean 2, biased variance 2/3.
        let s = 1.0 / (2.0f32 / 3.0 + 1e-5).sqrt();
        let want = [0.5 - 2.0 * s, 0.5, 0.5 + 2.0 * s];
        for (g, w) in y.as_slice().iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
        assert!((bn.running_mean.value()[0] - 0.2).abs() < 1e-7);
        // Unbiased variance 1: 0.9·1 + 0.1·1.
        assert!((bn.running_var.value()[0] - 1.0).abs() < 1e-6);
        assert_eq!(bn.num_batches_tracked.value(), [1.0]);
        bn.forward(&x, &mut y, Mode::Train);
        assert_eq!(bn.num_batches_tracked.value(), [2.0]);
        bn.forward(&x, &mut y, Mode::Eval);
        assert_eq!(bn.num_batches_tracked.value(), [2.0]);
    }

    #[test]
    fn channels_are_normalised_over_batch_and_pixels() {
        let mut bn = BatchNorm2d::<2>::new();
        // Two samples, channel 0 holds 0..4 and 4..8, channel 1 is constant 7.
        let mut data = Vec::new();
        for n in 0..2 {
            data.extend((0..4).map(|i| (n * 4 + i) as f32));
            data.extend([7.0; 4]);
        }
        let x = Act::<Chw<2, 2, 2>>::from_vec(data).unwrap();
        let mut y = Act::default();
        bn.forward(&x, &mut y, Mode::Train);
        let channel = |c: usize| -> Vec<f32> {
            (0..2)
                .flat_map(|n| y.sample(n)[c * 4..(c + 1) * 4].to_vec())
                .collect()
        };
        let c0 = channel(0);
        let mean: f32 = c0.iter().sum::<f32>() / 8.0;
        let var: f32 = c0.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 8.0;
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4,
            "{mean} {var}"
        );
        assert!(channel(1).iter().all(|v| v.abs() < 1e-6));
        assert!((bn.running_mean.value()[0] - 0.35).abs() < 1e-6);
        assert!((bn.running_mean.value()[1] - 0.7).abs() < 1e-6);
        // Channel 1 has zero variance: running variance decays toward it.
        assert!((bn.running_var.value()[1] - 0.9).abs() < 1e-6);
    }

    #[test]
    fn eval_uses_the_running_statistics() {
        let mut bn = BatchNorm1d::<2>::new();
        bn.running_mean.value_mut().copy_from_slice(&[1.0, -1.0]);
        bn.running_var.value_mut().copy_from_slice(&[4.0, 0.25]);
        bn.weight.value_mut().copy_from_slice(&[1.0, 3.0]);
        bn.bias.value_mut().copy_from_slice(&[0.0, 1.0]);
        let x = Act::<Flat<2>>::from_vec(vec![5.0, 0.0]).unwrap();
        let mut y = Act::default();
        bn.forward(&x, &mut y, Mode::Eval);
        let want = [
            4.0 / (4.0f32 + 1e-5).sqrt(),
            3.0 / (0.25f32 + 1e-5).sqrt() + 1.0,
        ];
        for (g, w) in y.as_slice().iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
        assert_eq!(bn.running_mean.value(), [1.0, -1.0]);
    }

    #[test]
    fn gradients_match_finite_differences_in_training() {
        let mut r = rng(12);
        let mut bn1 = BatchNorm1d::<4>::new();
        randomise(&mut bn1, &mut r);
        check_layer_gradients::<Flat<4>, Flat<4>, _>(&mut bn1, 5, &mut r);
        let mut bn2 = BatchNorm2d::<3>::new();
        randomise(&mut bn2, &mut r);
        check_layer_gradients::<Chw<3, 2, 2>, Chw<3, 2, 2>, _>(&mut bn2, 3, &mut r);
    }

    #[test]
    fn gradients_match_finite_differences_in_evaluation() {
        let mut r = rng(13);
        let mut bn = BatchNorm2d::<2>::new();
        randomise(&mut bn, &mut r);
        bn.running_mean.value_mut().copy_from_slice(&[0.3, -0.2]);
        bn.running_var.value_mut().copy_from_slice(&[0.5, 2.0]);
        let x =
            Act::<Chw<2, 1, 3>>::from_vec((0..12).map(|i| i as f32 / 6.0 - 1.0).collect()).unwrap();
        check_layer_gradients_at(&mut bn, &x, Mode::Eval, &mut r);
    }

    #[test]
    fn parameters_follow_the_pytorch_state_dict() {
        let bn = BatchNorm2d::<6>::default();
        let mut seen = Vec::new();
        bn.visit(&mut |name, p| seen.push((name.to_string(), p.shape().to_vec(), p.kind())));
        let want = [
            ("weight", vec![6], ParamKind::Trainable),
            ("bias", vec![6], ParamKind::Trainable),
            ("running_mean", vec![6], ParamKind::Buffer),
            ("running_var", vec![6], ParamKind::Buffer),
            ("num_batches_tracked", vec![], ParamKind::Counter),
        ];
        let want: Vec<_> = want
            .into_iter()
            .map(|(n, s, k)| (n.to_string(), s, k))
            .collect();
        assert_eq!(seen, want);
        assert_eq!(bn.num_params(), 12);
        assert_eq!(BatchNorm2d::<6>::PARAMS, 12);
        assert_eq!(BatchNorm1d::<128>::PARAMS, 256);
    }
}
