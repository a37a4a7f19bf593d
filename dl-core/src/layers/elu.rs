//! Exponential linear unit.

use crate::layers::activation::{map, map_backward};
use crate::layers::{Layer, Mode, no_params};
use crate::tensor::{Act, Shape};

/// Exponential linear unit: `y = x` for `x > 0`, `y = alpha·(eˣ − 1)` otherwise.
///
/// - Shape rule: any shape, unchanged (`[…] → […]`).
/// - Parameters: none (0); `alpha` is a fixed hyper-parameter, 1.0 by default.
/// - PyTorch: `nn.ELU(alpha=alpha)`.
/// - Backward: `dx = dy` where `x > 0`, else `dy·(y + alpha)` (= `dy·alpha·eˣ`).
///
/// ```
/// use dl_core::{Act, ELU, Flat, Layer, Mode};
/// let x = Act::<Flat<2>>::from_vec(vec![-50.0, 2.0]).unwrap();
/// let mut y = Act::default();
/// ELU::new(0.5).forward(&x, &mut y, Mode::Eval);
/// assert!((y.as_slice()[0] + 0.5).abs() < 1e-6); // saturates at −alpha
/// assert_eq!(y.as_slice()[1], 2.0);
/// assert_eq!(ELU::default().alpha, 1.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ELU {
    /// The saturation value for large negative inputs is `−alpha`.
    pub alpha: f32,
}

impl ELU {
    /// An ELU with the given `alpha`.
    pub fn new(alpha: f32) -> Self {
        ELU { alpha }
    }
}

impl Default for ELU {
    /// Alpha 1.0, PyTorch's default.
    fn default() -> Self {
        ELU::new(1.0)
    }
}

no_params!(ELU);

impl<S: Shape> Layer<S, S> for ELU {
    fn forward(&mut self, x: &Act<S>, y: &mut Act<S>, _mode: Mode) {
        let alpha = self.alpha;
        map(x, y, |v| if v > 0.0 { v } else { alpha * v.exp_m1() });
    }

    fn backward(&mut self, x: &Act<S>, y: &Act<S>, dy: &Act<S>, dx: Option<&mut Act<S>>) {
        let alpha = self.alpha;
        map_backward(x, y, dy, dx, |x, y| if x > 0.0 { 1.0 } else { y + alpha });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::activation::away_from_zero;
    use crate::tensor::Flat;
    use crate::testing::check_layer_gradients_at;
    use rand::SeedableRng;

    #[test]
    fn forward_matches_hand_computed_values() {
        let x = Act::<Flat<3>>::from_vec(vec![-1.0, 0.0, 1.0]).unwrap();
        let mut y = Act::default();
        ELU::new(2.0).forward(&x, &mut y, Mode::Eval);
        let want = [2.0 * ((-1.0f32).exp() - 1.0), 0.0, 1.0];
        for (g, w) in y.as_slice().iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn gradients_match_finite_differences_away_from_zero() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let x = away_from_zero::<Flat<6>>(3, &mut rng);
        check_layer_gradients_at(&mut ELU::new(1.5), &x, Mode::Train, &mut rng);
    }
}
