//! Rectified linear unit.

use crate::layers::activation::{map, map_backward};
use crate::layers::{Layer, Mode, no_params};
use crate::tensor::{Act, Shape};

/// Rectified linear unit: `y = max(x, 0)`.
///
/// - Shape rule: any shape, unchanged (`[…] → […]`).
/// - Parameters: none (0).
/// - PyTorch: `nn.ReLU()`.
/// - Backward: `dx = dy` where `x > 0`, else 0 (PyTorch's choice at 0).
/// - NaN passes through, as in PyTorch, so a diverged input is not hidden as 0.
///
/// ```
/// use dl_core::{Act, Flat, Layer, Mode, ReLU};
/// let x = Act::<Flat<3>>::from_vec(vec![-2.0, 0.0, 1.5]).unwrap();
/// let mut y = Act::default();
/// ReLU.forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), &[0.0, 0.0, 1.5]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReLU;

no_params!(ReLU);

impl<S: Shape> Layer<S, S> for ReLU {
    fn forward(&mut self, x: &Act<S>, y: &mut Act<S>, _mode: Mode) {
        map(x, y, |v| if v < 0.0 { 0.0 } else { v });
    }

    fn backward(&mut self, x: &Act<S>, y: &Act<S>, dy: &Act<S>, dx: Option<&mut Act<S>>) {
        map_backward(x, y, dy, dx, |x, _| if x > 0.0 { 1.0 } else { 0.0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::activation::away_from_zero;
    use crate::tensor::{Chw, Flat};
    use crate::testing::check_layer_gradients_at;
    use rand::SeedableRng;

    #[test]
    fn forward_clips_negatives_and_backward_masks_them() {
        let x = Act::<Flat<4>>::from_vec(vec![-1.0, 0.0, 0.5, 3.0]).unwrap();
        let mut y = Act::default();
        ReLU.forward(&x, &mut y, Mode::Train);
        assert_eq!(y.as_slice(), &[0.0, 0.0, 0.5, 3.0]);
        let dy = Act::<Flat<4>>::from_vec(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let mut dx = Act::default();
        ReLU.backward(&x, &y, &dy, Some(&mut dx));
        assert_eq!(dx.as_slice(), &[0.0, 0.0, 3.0, 4.0]);
    }

    #[test]
    fn nan_passes_through_like_pytorch() {
        let x = Act::<Flat<2>>::from_vec(vec![f32::NAN, -1.0]).unwrap();
        let mut y = Act::default();
        ReLU.forward(&x, &mut y, Mode::Eval);
        assert!(y.as_slice()[0].is_nan());
        assert_eq!(y.as_slice()[1], 0.0);
    }

    #[test]
    fn gradients_match_finite_differences_away_from_zero() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let x = away_from_zero::<Chw<2, 3, 3>>(2, &mut rng);
        check_layer_gradients_at(&mut ReLU, &x, Mode::Train, &mut rng);
    }
}
