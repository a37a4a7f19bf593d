//! RMSprop.

use crate::error::Result;
use crate::optim::{Kind, Optimizer, Slots, non_negative, unit};
use crate::param::Parameters;

/// RMSprop, PyTorch's `torch.optim.RMSprop` rule and defaults (alpha 0.99, eps 1e-8, weight
/// decay 0, momentum 0, not centered). With gradient `g` of parameter `p`:
///
/// ```text
/// g ← g + weight_decay·p
/// v ← α·v + (1 − α)·g²
/// ḡ ← α·ḡ + (1 − α)·g;  d ← √(v − ḡ²) + eps      (centered)
///                       d ← √v + eps             (otherwise)
/// b ← momentum·b + g/d;  p ← p − lr·b           (momentum > 0)
///                        p ← p − lr·g/d          (otherwise)
/// ```
///
/// State: `square_avg` (v), plus `momentum_buffer` (b) with momentum and `grad_avg` (ḡ) when
/// centered, per parameter.
///
/// ```
/// use dl_core::{Dense, Optimizer, RmsProp};
/// use rand::SeedableRng;
/// let mut d = Dense::<1, 1>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// d.weight.value_mut()[0] = 1.0;
/// d.weight.grad[0] = 2.0;
/// let mut opt = RmsProp::new(0.01);
/// opt.step(&mut d); // v = 0.01·4: p = 1 − 0.01·2/0.2
/// assert!((d.weight.value()[0] - 0.9).abs() < 1e-5);
/// let err = RmsProp::new(0.01).momentum(-0.5).validate().unwrap_err();
/// assert_eq!(err.to_string(), "invalid `RmsProp` momentum: expected a value in [0, 1), found -0.5");
/// ```
#[derive(Clone, Debug)]
pub struct RmsProp {
    lr: f32,
    alpha: f32,
    eps: f32,
    weight_decay: f32,
    momentum: f32,
    centered: bool,
    slots: Slots,
}

const SQ: Kind = ("square_avg", 0.0);
const MOM: Kind = ("momentum_buffer", 0.0);
const AVG: Kind = ("grad_avg", 0.0);

impl RmsProp {
    /// RMSprop with learning rate `lr` (PyTorch default 1e-2) and PyTorch's other defaults.
    pub fn new(lr: f32) -> Self {
        RmsProp {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            slots: Slots::default(),
        }
    }

    /// Smoothing constant of the squared-gradient average, in `[0, 1)` (default 0.99).
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// Term added to the denominator for numerical stability (default 1e-8).
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// L2 weight decay added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Momentum factor in `[0, 1)` (default 0).
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// Centered RMSprop: normalises by an estimate of the gradient's variance.
    pub fn centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }

    fn kinds(&self) -> &'static [Kind] {
        match (self.momentum > 0.0, self.centered) {
            (false, false) => &[SQ],
            (true, false) => &[SQ, MOM],
            (false, true) => &[SQ, AVG],
            (true, true) => &[SQ, MOM, AVG],
        }
    }
}

impl Optimizer for RmsProp {
    fn step(&mut self, params: &mut dyn Parameters) {
        let (lr, alpha, eps, wd, momentum, centered) = (
            self.lr,
            self.alpha,
            self.eps,
            self.weight_decay,
            self.momentum,
            self.centered,
        );
        let kinds = self.kinds();
        self.slots.step(params, kinds, |_, value, grad, bufs| {
            let [sq, rest @ ..] = bufs else {
                unreachable!("invariant: RMSprop keeps square_avg")
            };
            let (mut mom, rest) = match rest {
                [m, rest @ ..] if momentum > 0.0 => (Some(m), rest),
                rest => (None, rest),
            };
            let mut avg = rest.first_mut().filter(|_| centered);
            for (i, (p, &g)) in value.iter_mut().zip(grad).enumerate() {
                let g = g + wd * *p;
                sq[i] = alpha * sq[i] + (1.0 - alpha) * g * g;
                let d = match avg.as_deref_mut() {
                    Some(a) => {
                        a[i] = alpha * a[i] + (1.0 - alpha) * g;
                        (sq[i] - a[i] * a[i]).sqrt() + eps
                    }
                    None => sq[i].sqrt() + eps,
                };
                match mom.as_deref_mut() {
                    Some(b) => {
                        b[i] = momentum * b[i] + g / d;
                        *p -= lr * b[i];
                    }
                    None => *p -= lr * g / d,
                }
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
        non_negative("RmsProp", "learning rate", self.lr)?;
        unit("RmsProp", "alpha", self.alpha)?;
        non_negative("RmsProp", "eps", self.eps)?;
        non_negative("RmsProp", "weight decay", self.weight_decay)?;
        unit("RmsProp", "momentum", self.momentum)
    }

    fn state(&self) -> Vec<(String, Vec<f32>)> {
        self.slots.export(self.lr, self.kinds())
    }

    fn load_state(&mut self, params: &dyn Parameters, state: &[(String, Vec<f32>)]) -> Result<()> {
        self.lr = self.slots.import(params, self.kinds(), state)?;
        Ok(())
    }
}
