//! Gaussian error linear unit, exact form.

use crate::layers::activation::{map, map_backward};
use crate::layers::{Layer, Mode, no_params};
use crate::tensor::{Act, Shape};
use std::f32::consts::{FRAC_1_SQRT_2, PI};

/// Gaussian error linear unit: `y = x·Φ(x)` with `Φ(x) = (1 + erf(x/√2))/2` the standard normal
/// CDF (the exact form, not the tanh approximation; `erf` from the `libm` crate).
///
/// - Shape rule: any shape, unchanged (`[…] → […]`).
/// - Parameters: none (0).
/// - PyTorch: `nn.GELU()` (`approximate="none"`).
/// - Backward: `dx = dy·(Φ(x) + x·φ(x))`, `φ(x) = e^(−x²/2)/√(2π)`.
///
/// ```
/// use dl_core::{Act, Flat, GELU, Layer, Mode};
/// let x = Act::<Flat<3>>::from_vec(vec![-10.0, 0.0, 1.0]).unwrap();
/// let mut y = Act::default();
/// GELU.forward(&x, &mut y, Mode::Eval);
/// assert!(y.as_slice()[0].abs() < 1e-6);
/// assert_eq!(y.as_slice()[1], 0.0);
/// assert!((y.as_slice()[2] - 0.841_344_7).abs() < 1e-6); // Φ(1)
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GELU;

no_params!(GELU);

/// The standard normal CDF `Φ(x)`.
fn normal_cdf(x: f32) -> f32 {
    0.5 * (1.0 + libm::erff(x * FRAC_1_SQRT_2))
}

impl<S: Shape> Layer<S, S> for GELU {
    fn forward(&mut self, x: &Act<S>, y: &mut Act<S>, _mode: Mode) {
        map(x, y, |v| v * normal_cdf(v));
    }

    fn backward(&mut self, x: &Act<S>, y: &Act<S>, dy: &Act<S>, dx: Option<&mut Act<S>>) {
        let inv_sqrt_2pi = 1.0 / (2.0 * PI).sqrt();
        map_backward(x, y, dy, dx, |x, _| {
            normal_cdf(x) + x * inv_sqrt_2pi * (-0.5 * x * x).exp()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Flat;
    use crate::testing::check_layer_gradients;
    use rand::SeedableRng;

    #[test]
    fn forward_matches_the_normal_cdf() {
        // Φ(−1) = 0.158655254, Φ(2) = 0.977249868.
        let x = Act::<Flat<2>>::from_vec(vec![-1.0, 2.0]).unwrap();
        let mut y = Act::default();
        GELU.forward(&x, &mut y, Mode::Eval);
        let want = [-0.158_655_25, 2.0 * 0.977_249_87];
        for (g, w) in y.as_slice().iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        check_layer_gradients::<Flat<7>, Flat<7>, _>(&mut GELU, 3, &mut rng);
    }
}
