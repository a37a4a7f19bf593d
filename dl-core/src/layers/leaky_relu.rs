//! Leaky rectified linear unit.

use crate::layers::activation::{map, map_backward};
use crate::layers::{Layer, Mode, no_params};
use crate::tensor::{Act, Shape};

/// Leaky ReLU: `y = x` for `x > 0`, `y = slope·x` otherwise.
///
/// - Shape rule: any shape, unchanged (`[…] → […]`).
/// - Parameters: none (0); `slope` is a fixed hyper-parameter, 0.01 by default.
/// - PyTorch: `nn.LeakyReLU(negative_slope=slope)`.
/// - Backward: `dx = dy` where `x > 0`, else `slope·dy`.
///
/// ```
/// use dl_core::{Act, Flat, Layer, LeakyReLU, Mode};
/// let x = Act::<Flat<2>>::from_vec(vec![-2.0, 3.0]).unwrap();
/// let mut y = Act::default();
/// LeakyReLU::new(0.1).forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), &[-0.2, 3.0]);
/// assert_eq!(LeakyReLU::default().slope, 0.01);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    /// The slope for negative inputs.
    pub slope: f32,
}

impl LeakyReLU {
    /// A leaky ReLU with the given negative slope.
    pub fn new(slope: f32) -> Self {
        LeakyReLU { slope }
    }
}

impl Default for LeakyReLU {
    /// Slope 0.01, PyTorch's default.
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

no_params!(LeakyReLU);

impl<S: Shape> Layer<S, S> for LeakyReLU {
    fn forward(&mut self, x: &Act<S>, y: &mut Act<S>, _mode: Mode) {
        let slope = self.slope;
        map(x, y, |v| if v > 0.0 { v } else { slope * v });
    }

    fn backward(&mut self, x: &Act<S>, y: &Act<S>, dy: &Act<S>, dx: Option<&mut Act<S>>) {
        let slope = self.slope;
        map_backward(x, y, dy, dx, |x, _| if x > 0.0 { 1.0 } else { slope });
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
    fn forward_scales_negatives_by_the_slope() {
        let x = Act::<Flat<3>>::from_vec(vec![-4.0, 0.0, 2.0]).unwrap();
        let mut y = Act::default();
        LeakyReLU::new(0.25).forward(&x, &mut y, Mode::Eval);
        assert_eq!(y.as_slice(), &[-1.0, 0.0, 2.0]);
    }

    #[test]
    fn gradients_match_finite_differences_away_from_zero() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let x = away_from_zero::<Flat<6>>(3, &mut rng);
        check_layer_gradients_at(&mut LeakyReLU::new(0.2), &x, Mode::Train, &mut rng);
    }
}
