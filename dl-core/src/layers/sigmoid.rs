//! Logistic sigmoid.

use crate::layers::activation::{map, map_backward};
use crate::layers::{Layer, Mode, no_params};
use crate::tensor::{Act, Shape};

/// Logistic sigmoid: `y = 1 / (1 + e⁻ˣ)`, computed without overflow for large `|x|`.
///
/// - Shape rule: any shape, unchanged (`[…] → […]`).
/// - Parameters: none (0).
/// - PyTorch: `nn.Sigmoid()`.
/// - Backward: `dx = dy·y·(1 − y)`, from the output.
///
/// ```
/// use dl_core::{Act, Flat, Layer, Mode, Sigmoid};
/// let x = Act::<Flat<3>>::from_vec(vec![-1000.0, 0.0, 1000.0]).unwrap();
/// let mut y = Act::default();
/// Sigmoid.forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), &[0.0, 0.5, 1.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

no_params!(Sigmoid);

/// `1 / (1 + e⁻ˣ)`, with the exponential of a non-positive number only.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl<S: Shape> Layer<S, S> for Sigmoid {
    fn forward(&mut self, x: &Act<S>, y: &mut Act<S>, _mode: Mode) {
        map(x, y, sigmoid);
    }

    fn backward(&mut self, x: &Act<S>, y: &Act<S>, dy: &Act<S>, dx: Option<&mut Act<S>>) {
        map_backward(x, y, dy, dx, |_, y| y * (1.0 - y));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Chw, Flat};
    use crate::testing::check_layer_gradients;
    use rand::SeedableRng;

    #[test]
    fn forward_matches_hand_computed_values() {
        let x = Act::<Flat<2>>::from_vec(vec![2.0f32.ln(), -(3.0f32.ln())]).unwrap();
        let mut y = Act::default();
        Sigmoid.forward(&x, &mut y, Mode::Eval);
        // σ(ln 2) = 2/3, σ(−ln 3) = 1/4.
        assert!((y.as_slice()[0] - 2.0 / 3.0).abs() < 1e-6);
        assert!((y.as_slice()[1] - 0.25).abs() < 1e-6);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        check_layer_gradients::<Chw<2, 2, 3>, Chw<2, 2, 3>, _>(&mut Sigmoid, 2, &mut rng);
    }

    #[test]
    fn backward_uses_the_output() {
        let x = Act::<Flat<1>>::from_vec(vec![0.0]).unwrap();
        let mut y = Act::default();
        Sigmoid.forward(&x, &mut y, Mode::Train);
        let dy = Act::<Flat<1>>::from_vec(vec![2.0]).unwrap();
        let mut dx = Act::default();
        Sigmoid.backward(&x, &y, &dy, Some(&mut dx));
        assert_eq!(dx.as_slice(), &[0.5]); // 2 · 0.5 · 0.5
    }
}
