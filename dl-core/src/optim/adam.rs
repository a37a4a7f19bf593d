//! Adam and AdamW.

use crate::error::Result;
use crate::optim::{Kind, Optimizer, Slots, non_negative, unit};
use crate::param::Parameters;

/// Adam (`torch.optim.Adam`) and, built with [`Adam::adamw`], AdamW (`torch.optim.AdamW`), with
/// PyTorch's rules and defaults (betas (0.9, 0.999), eps 1e-8; weight decay 0 for Adam, 0.01 for
/// AdamW). With gradient `g` of parameter `p` at step `t`:
///
/// ```text
/// g ← g + weight_decay·p               (Adam: L2 penalty in the gradient)
/// p ← p·(1 − lr·weight_decay)          (AdamW: decoupled decay, instead of the line above)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// v̂ ← max(v̂, v)                        (AMSGrad only; v̂ replaces v below)
/// p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)
/// ```
///
/// State: `exp_avg` (m), `exp_avg_sq` (v) and, with AMSGrad, `max_exp_avg_sq` per parameter.
///
/// ```
/// use dl_core::{Adam, Dense, Optimizer};
/// use rand::SeedableRng;
/// let mut d = Dense::<1, 1>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// d.weight.value_mut()[0] = 1.0;
/// d.weight.grad[0] = 123.0;
/// // The first Adam step moves each parameter by lr against the gradient's sign, whatever its size.
/// let mut adam = Adam::new(0.01);
/// adam.step(&mut d);
/// assert!((d.weight.value()[0] - 0.99).abs() < 1e-6);
/// let err = Adam::new(0.01).betas(0.9, 1.0).validate().unwrap_err();
/// assert_eq!(err.to_string(), "invalid `Adam` beta2: expected a value in [0, 1), found 1");
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    amsgrad: bool,
    decoupled: bool,
    slots: Slots,
}

const PLAIN: &[Kind] = &[("exp_avg", 0.0), ("exp_avg_sq", 0.0)];
const AMSGRAD: &[Kind] = &[
    ("exp_avg", 0.0),
    ("exp_avg_sq", 0.0),
    ("max_exp_avg_sq", 0.0),
];

impl Adam {
    /// Adam with learning rate `lr` (PyTorch default 1e-3) and PyTorch's other defaults.
    pub fn new(lr: f32) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled: false,
            slots: Slots::default(),
        }
    }

    /// AdamW: Adam with decoupled weight decay (`p ← p·(1 − lr·wd)` before the Adam step),
    /// PyTorch's `torch.optim.AdamW` with its default weight decay 0.01.
    pub fn adamw(lr: f32) -> Self {
        Adam {
            weight_decay: 0.01,
            decoupled: true,
            ..Adam::new(lr)
        }
    }

    /// Decay rates of the first and second moment estimates, each in `[0, 1)`.
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Term added to the denominator for numerical stability (default 1e-8).
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Weight decay: an L2 term in the gradient for Adam, decoupled for AdamW.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// The AMSGrad variant (keeps the running maximum of the second moment).
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    fn name(&self) -> &'static str {
        if self.decoupled { "AdamW" } else { "Adam" }
    }

    fn kinds(&self) -> &'static [Kind] {
        if self.amsgrad { AMSGRAD } else { PLAIN }
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut dyn Parameters) {
        let (lr, b1, b2, eps, wd, decoupled) = (
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            self.decoupled,
        );
        let kinds = self.kinds();
        self.slots.step(params, kinds, |t, value, grad, bufs| {
            let bc1 = 1.0 - f64::from(b1).powf(t as f64);
            let bc2 = 1.0 - f64::from(b2).powf(t as f64);
            let step_size = (f64::from(lr) / bc1) as f32;
            let bc2_sqrt = bc2.sqrt() as f32;
            let (l2, decay) = if decoupled {
                (0.0, 1.0 - lr * wd)
            } else {
                (wd, 1.0)
            };
            let [m, v, rest @ ..] = bufs else {
                unreachable!("invariant: Adam keeps at least two buffers")
            };
            // Updates p, m and v and returns v; `step(p, m, second)` finishes with the second
            // moment estimate (v, or its running maximum). Two loops over zipped slices, one
            // per variant, so neither has a branch or a bounds check per value and both
            // vectorise (the update is memory-bound over ~23 M parameters in AlexNet).
            let moments = |p: &mut f32, g: f32, m: &mut f32, v: &mut f32| {
                let g = g + l2 * *p;
                *p *= decay;
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *v
            };
            let finish = |p: &mut f32, m: f32, second: f32| {
                *p -= step_size * m / (second.sqrt() / bc2_sqrt + eps);
            };
            let values = value
                .iter_mut()
                .zip(grad)
                .zip(m.iter_mut().zip(v.iter_mut()));
            match rest.first_mut() {
                None => {
                    for ((p, &g), (m, v)) in values {
                        let v = moments(p, g, m, v);
                        finish(p, *m, v);
                    }
                }
                Some(vmax) => {
                    for (((p, &g), (m, v)), vmax) in values.zip(vmax.iter_mut()) {
                        let v = moments(p, g, m, v);
                        *vmax = vmax.max(v);
                        finish(p, *m, *vmax);
                    }
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
        let name = self.name();
        non_negative(name, "learning rate", self.lr)?;
        unit(name, "beta1", self.beta1)?;
        unit(name, "beta2", self.beta2)?;
        non_negative(name, "eps", self.eps)?;
        non_negative(name, "weight decay", self.weight_decay)
    }

    fn state(&self) -> Vec<(String, Vec<f32>)> {
        self.slots.export(self.lr, self.kinds())
    }

    fn load_state(&mut self, params: &dyn Parameters, state: &[(String, Vec<f32>)]) -> Result<()> {
        self.lr = self.slots.import(params, self.kinds(), state)?;
        Ok(())
    }
}
