//! Adagrad.

use crate::error::Result;
use crate::optim::{Kind, Optimizer, Slots, non_negative};
use crate::param::Parameters;

/// Adagrad, PyTorch's `torch.optim.Adagrad` rule and defaults (lr_decay 0, weight decay 0,
/// initial accumulator value 0, eps 1e-10). With gradient `g` of parameter `p` at step `t`:
///
/// ```text
/// g ← g + weight_decay·p
/// s ← s + g²                               (s starts at initial_accumulator_value)
/// p ← p − lr/(1 + (t − 1)·lr_decay) · g / (√s + eps)
/// ```
///
/// State: `sum` (s) per parameter.
///
/// ```
/// use dl_core::{Adagrad, Dense, Optimizer};
/// use rand::SeedableRng;
/// let mut d = Dense::<1, 1>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// d.weight.value_mut()[0] = 1.0;
/// d.weight.grad[0] = 3.0;
/// let mut opt = Adagrad::new(0.1);
/// opt.step(&mut d); // s = 9: p = 1 − 0.1·3/3
/// assert!((d.weight.value()[0] - 0.9).abs() < 1e-6);
/// opt.step(&mut d); // s = 18: p = 0.9 − 0.1·3/√18
/// assert!((d.weight.value()[0] - (0.9 - 0.3 / 18f32.sqrt())).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad {
    lr: f32,
    lr_decay: f32,
    weight_decay: f32,
    initial_accumulator_value: f32,
    eps: f32,
    slots: Slots,
}

impl Adagrad {
    /// Adagrad with learning rate `lr` (PyTorch default 1e-2) and PyTorch's other defaults.
    pub fn new(lr: f32) -> Self {
        Adagrad {
            lr,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            slots: Slots::default(),
        }
    }

    /// Learning-rate decay: step `t` uses `lr / (1 + (t − 1)·lr_decay)`.
    pub fn lr_decay(mut self, lr_decay: f32) -> Self {
        self.lr_decay = lr_decay;
        self
    }

    /// L2 weight decay added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Starting value of the squared-gradient sums.
    pub fn initial_accumulator_value(mut self, value: f32) -> Self {
        self.initial_accumulator_value = value;
        self
    }

    /// Term added to the denominator for numerical stability (default 1e-10).
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    fn kinds(&self) -> [Kind; 1] {
        [("sum", self.initial_accumulator_value)]
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self, params: &mut dyn Parameters) {
        let (lr, lr_decay, wd, eps) = (self.lr, self.lr_decay, self.weight_decay, self.eps);
        let kinds = self.kinds();
        self.slots.step(params, &kinds, |t, value, grad, bufs| {
            let clr = lr / (1.0 + (t - 1) as f32 * lr_decay);
            let sum = &mut bufs[0];
            for ((p, &g), s) in value.iter_mut().zip(grad).zip(sum.iter_mut()) {
                let g = g + wd * *p;
                *s += g * g;
                *p -= clr * g / (s.sqrt() + eps);
            }
        });
    }

    fn learning_rate(&self) -> f32 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }

    fn validate(&self) -> Result<()> {
        non_negative("Adagrad", "learning rate", self.lr)?;
        non_negative("Adagrad", "lr_decay", self.lr_decay)?;
        non_negative("Adagrad", "weight decay", self.weight_decay)?;
        non_negative(
            "Adagrad",
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        non_negative("Adagrad", "eps", self.eps)
    }

    fn state(&self) -> Vec<(String, Vec<f32>)> {
        self.slots.export(self.lr, &self.kinds())
    }

    fn load_state(&mut self, params: &dyn Parameters, state: &[(String, Vec<f32>)]) -> Result<()> {
        self.lr = self.slots.import(params, &self.kinds(), state)?;
        Ok(())
    }
}
