//! Hyperbolic tangent.

use crate::layers::activation::{map, map_backward};
use crate::layers::{Layer, Mode, no_params};
use crate::tensor::{Act, Shape};

/// Hyperbolic tangent: `y = tanh(x) = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ)`.
///
/// - Shape rule: any shape, unchanged (`[…] → […]`).
/// - Parameters: none (0).
/// - PyTorch: `nn.Tanh()`.
/// - Backward: `dx = dy·(1 − y²)`, from the output.
///
/// ```
/// use dl_core::{Act, Flat, Layer, Mode, Tanh};
/// let x = Act::<Flat<3>>::from_vec(vec![-50.0, 0.0, 50.0]).unwrap();
/// let mut y = Act::default();
/// Tanh.forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), &[-1.0, 0.0, 1.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

no_params!(Tanh);

impl<S: Shape> Layer<S, S> for Tanh {
    fn forward(&mut self, x: &Act<S>, y: &mut Act<S>, _mode: Mode) {
        map(x, y, f32::tanh);
    }

    fn backward(&mut self, x: &Act<S>, y: &Act<S>, dy: &Act<S>, dx: Option<&mut Act<S>>) {
        map_backward(x, y, dy, dx, |_, y| 1.0 - y * y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Flat;
    use crate::testing::check_layer_gradients;
    use rand::SeedableRng;

    #[test]
    fn forward_matches_hand_computed_values() {
        // tanh(ln 2) = (2 − 1/2)/(2 + 1/2) = 0.6.
        let x = Act::<Flat<2>>::from_vec(vec![2.0f32.ln(), -(2.0f32.ln())]).unwrap();
        let mut y = Act::default();
        Tanh.forward(&x, &mut y, Mode::Eval);
        assert!((y.as_slice()[0] - 0.6).abs() < 1e-6);
        assert!((y.as_slice()[1] + 0.6).abs() < 1e-6);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        check_layer_gradients::<Flat<5>, Flat<5>, _>(&mut Tanh, 4, &mut rng);
    }
}
