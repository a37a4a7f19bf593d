//! Log-softmax over the feature (or channel) axis.

use crate::layers::activation::{lane_backward, lane_layer, log_softmax_lanes};
use crate::layers::no_params;

/// Log-softmax along PyTorch's `dim=1`: `y_i = x_i − ln Σ_j exp(x_j)`, the sum running over the
/// features of a `[F]` sample, or over the channels at each pixel of a `[C, H, W]` sample.
///
/// Computed as `x_i − m − ln Σ_j exp(x_j − m)` with `m = max_j x_j`, so large inputs neither
/// overflow nor lose the small log-probabilities.
///
/// - Shape rule: `[F] → [F]` and `[C, H, W] → [C, H, W]`.
/// - Parameters: none (0).
/// - PyTorch: `nn.LogSoftmax(dim=1)`.
/// - Backward: `dx_i = dy_i − exp(y_i)·Σ_j dy_j`.
///
/// ```
/// use dl_core::{Act, Flat, Layer, LogSoftmax, Mode};
/// let x = Act::<Flat<2>>::from_vec(vec![500.0, 500.0]).unwrap();
/// let mut y = Act::default();
/// LogSoftmax.forward(&x, &mut y, Mode::Eval);
/// let ln_half = -std::f32::consts::LN_2;
/// assert!(y.as_slice().iter().all(|v| (v - ln_half).abs() < 1e-6));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogSoftmax;

no_params!(LogSoftmax);

fn backward(y: &[f32], dy: &[f32], dx: &mut [f32], lanes: (usize, usize, usize)) {
    lane_backward(y, dy, dx, lanes, |_| 1.0, |y, dy, sum| dy - y.exp() * sum);
}

lane_layer!(LogSoftmax, log_softmax_lanes, backward);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Layer, Mode};
    use crate::tensor::{Act, Chw, Flat};
    use crate::testing::check_layer_gradients;
    use rand::SeedableRng;

    #[test]
    fn forward_matches_hand_computed_values() {
        // x = (0, ln 3): softmax (1/4, 3/4).
        let x = Act::<Flat<2>>::from_vec(vec![0.0, 3.0f32.ln()]).unwrap();
        let mut y = Act::default();
        LogSoftmax.forward(&x, &mut y, Mode::Eval);
        assert!((y.as_slice()[0] - 0.25f32.ln()).abs() < 1e-6);
        assert!((y.as_slice()[1] - 0.75f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(10);
        check_layer_gradients::<Flat<6>, Flat<6>, _>(&mut LogSoftmax, 3, &mut rng);
        check_layer_gradients::<Chw<3, 2, 2>, Chw<3, 2, 2>, _>(&mut LogSoftmax, 2, &mut rng);
    }
}
