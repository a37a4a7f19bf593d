//! Sign (the perceptron's threshold unit).

use crate::layers::activation::{map, map_backward};
use crate::layers::{Layer, Mode, no_params};
use crate::tensor::{Act, Shape};

/// Sign: `y = +1` for `x ≥ 0`, `y = −1` for `x < 0`.
///
/// At 0 the output is `+1`, the perceptron's convention (Rosenblatt's threshold unit fires when
/// the weighted sum reaches the threshold); this differs from `torch.sign`, which gives 0 there.
///
/// - Shape rule: any shape, unchanged (`[…] → […]`).
/// - Parameters: none (0).
/// - PyTorch: no layer; `torch.where(x >= 0, 1.0, -1.0)`.
/// - Backward: the true derivative, 0 everywhere except at 0 where it does not exist (0 is
///   returned there too). Gradient descent therefore learns nothing through `Sign`: a perceptron
///   is trained with the perceptron rule, not by back-propagation. Use [`crate::Tanh`] for a
///   differentiable squashing function.
///
/// ```
/// use dl_core::{Act, Flat, Layer, Mode, Sign};
/// let x = Act::<Flat<4>>::from_vec(vec![-0.5, -0.0, 0.0, 3.0]).unwrap();
/// let mut y = Act::default();
/// Sign.forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), &[-1.0, 1.0, 1.0, 1.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sign;

no_params!(Sign);

impl<S: Shape> Layer<S, S> for Sign {
    fn forward(&mut self, x: &Act<S>, y: &mut Act<S>, _mode: Mode) {
        map(x, y, |v| if v >= 0.0 { 1.0 } else { -1.0 });
    }

    fn backward(&mut self, x: &Act<S>, y: &Act<S>, dy: &Act<S>, dx: Option<&mut Act<S>>) {
        map_backward(x, y, dy, dx, |_, _| 0.0);
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
    fn forward_thresholds_at_zero_and_backward_is_zero() {
        let x = Act::<Flat<3>>::from_vec(vec![-2.0, 0.0, 0.1]).unwrap();
        let mut y = Act::default();
        Sign.forward(&x, &mut y, Mode::Train);
        assert_eq!(y.as_slice(), &[-1.0, 1.0, 1.0]);
        let dy = Act::<Flat<3>>::from_vec(vec![1.0, 1.0, 1.0]).unwrap();
        let mut dx = Act::default();
        Sign.backward(&x, &y, &dy, Some(&mut dx));
        assert_eq!(dx.as_slice(), &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn gradients_match_finite_differences_away_from_zero() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let x = away_from_zero::<Flat<6>>(3, &mut rng);
        check_layer_gradients_at(&mut Sign, &x, Mode::Train, &mut rng);
    }
}
