//! The Keras-style L1/L2 weight penalty.

use crate::error::{Error, Result};
use crate::param::{Param, ParamName, Parameters};

/// A weight penalty `P = l1·Σ|w| + l2·Σw²`, added to the loss, with gradient
/// `∂P/∂w = l1·sign(w) + 2·l2·w` (`sign(0) = 0`).
///
/// It covers the *weights* — the trainable parameters named `weight` with at least two
/// dimensions: Dense `[out, in]` and Conv2d `[out_c, in_c, kh, kw]` kernels. Biases, batch-norm
/// scales and shifts, RBF parameters and buffers are not penalised.
///
/// - Keras: `kernel_regularizer=L1L2(l1, l2)` on every Dense and Conv2D layer (same convention:
///   no ½ on the L2 term).
/// - PyTorch: `l1 * sum(w.abs().sum()) + l2 * sum((w ** 2).sum())` over the weights, added to the
///   loss by hand. (`weight_decay=wd` in an optimizer corresponds to `l2 = wd / 2` on all
///   parameters, biases included.)
///
/// ```
/// use dl_core::{Dense, Parameters, Penalty};
/// use rand::SeedableRng;
/// let mut d = Dense::<2, 1>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// d.weight.value_mut().copy_from_slice(&[3.0, -4.0]);
/// d.bias.value_mut()[0] = 100.0; // not a weight: not penalised
/// let p = Penalty { l1: 0.5, l2: 0.25 };
/// assert_eq!(p.value(&d), 0.5 * 7.0 + 0.25 * 25.0);
/// d.weight.grad.fill(0.0);
/// p.add_grad(&mut d);
/// assert_eq!(d.weight.grad, [0.5 + 1.5, -0.5 - 2.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Penalty {
    /// Factor of `Σ|w|`.
    pub l1: f32,
    /// Factor of `Σw²`.
    pub l2: f32,
}

/// Whether the penalty covers this parameter.
fn is_weight(name: ParamName<'_>, p: &Param) -> bool {
    p.is_trainable() && name.name == "weight" && p.shape().len() >= 2
}

impl Penalty {
    /// Rejects negative or non-finite factors.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [("l1", self.l1), ("l2", self.l2)] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::config(
                    format!("`Penalty` {what}"),
                    format!("expected a finite factor >= 0, found {v}"),
                ));
            }
        }
        Ok(())
    }

    /// The penalty `l1·Σ|w| + l2·Σw²` over the weights of `params` (summed in f64, in visiting order).
    pub fn value(&self, params: &dyn Parameters) -> f32 {
        let (mut abs, mut sq) = (0.0f64, 0.0f64);
        params.visit(&mut |name, p| {
            if is_weight(name, p) {
                for &w in p.value() {
                    abs += f64::from(w.abs());
                    sq += f64::from(w) * f64::from(w);
                }
            }
        });
        (f64::from(self.l1) * abs + f64::from(self.l2) * sq) as f32
    }

    /// Adds `l1·sign(w) + 2·l2·w` to the gradient of every weight (call after `backward`, which
    /// overwrites gradients).
    pub fn add_grad(&self, params: &mut dyn Parameters) {
        let (l1, l2x2) = (self.l1, 2.0 * self.l2);
        params.visit_mut(&mut |name, p| {
            if is_weight(name, p) {
                let (grad, value) = p.grad_mut_and_value();
                for (g, &w) in grad.iter_mut().zip(value) {
                    let sign = if w > 0.0 {
                        1.0
                    } else if w < 0.0 {
                        -1.0
                    } else {
                        0.0
                    };
                    *g += l1 * sign + l2x2 * w;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{BatchNorm1d, Conv2d};
    use rand::SeedableRng;

    #[test]
    fn covers_conv_kernels_but_not_batch_norm_scales() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut conv = Conv2d::<1, 2, 2>::new(&mut rng);
        conv.weight
            .value_mut()
            .copy_from_slice(&[0.5, -0.5, 1.0, 0.0, 2.0, -1.0, 0.25, 0.0]);
        let p = Penalty { l1: 1.0, l2: 0.5 };
        // Σ|w| = 5.25, Σw² = 6.5625.
        assert_eq!(p.value(&conv), 5.25 + 0.5 * 6.5625);
        conv.weight.grad.fill(0.0);
        p.add_grad(&mut conv);
        assert_eq!(
            conv.weight.grad,
            [1.5, -1.5, 2.0, 0.0, 3.0, -2.0, 1.25, 0.0]
        );

        let mut bn = BatchNorm1d::<3>::new();
        assert_eq!(p.value(&bn), 0.0);
        bn.weight.grad.fill(0.0);
        p.add_grad(&mut bn);
        assert_eq!(bn.weight.grad, [0.0; 3]);
    }

    /// Central differences (in f64 on the f32 value) of `value` agree with `add_grad` for weights
    /// away from the kink of |w| at 0.
    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut dense = crate::layers::Dense::<3, 2>::new(&mut rng);
        dense
            .weight
            .value_mut()
            .copy_from_slice(&[0.7, -1.3, 0.4, -0.2, 2.1, -0.9]);
        let p = Penalty { l1: 0.3, l2: 0.8 };
        dense.weight.grad.fill(0.0);
        p.add_grad(&mut dense);
        let analytic = dense.weight.grad.clone();
        let h = 1e-2f32;
        for (i, &g) in analytic.iter().enumerate() {
            let w = dense.weight.value()[i];
            dense.weight.value_mut()[i] = w + h;
            let up = f64::from(p.value(&dense));
            dense.weight.value_mut()[i] = w - h;
            let down = f64::from(p.value(&dense));
            dense.weight.value_mut()[i] = w;
            let numeric = (up - down) / (2.0 * f64::from(h));
            assert!(
                (numeric - f64::from(g)).abs() <= 1e-3 * (1.0 + numeric.abs()),
                "weight {i}: analytic {g}, numeric {numeric}"
            );
        }
        assert_eq!(dense.bias.grad, [0.0; 2], "biases carry no penalty");
    }

    #[test]
    fn negative_factor_is_rejected() {
        let err = Penalty { l1: -0.1, l2: 0.0 }.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `Penalty` l1: expected a finite factor >= 0, found -0.1"
        );
    }
}
