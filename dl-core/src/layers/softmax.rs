//! Softmax over the feature (or channel) axis.

use crate::layers::activation::{lane_backward, lane_layer, log_softmax_lanes};
use crate::layers::no_params;

/// Softmax along PyTorch's `dim=1`: `y_i = exp(x_i) / Σ_j exp(x_j)`, the sum running over the
/// features of a `[F]` sample, or over the channels at each pixel of a `[C, H, W]` sample.
///
/// Computed as `exp(log_softmax(x))` with the maximum subtracted first, so large inputs do not
/// overflow.
///
/// - Shape rule: `[F] → [F]` and `[C, H, W] → [C, H, W]`.
/// - Parameters: none (0).
/// - PyTorch: `nn.Softmax(dim=1)`.
/// - Backward: `dx_i = y_i·(dy_i − Σ_j y_j·dy_j)`.
///
/// For classification, train on logits with a cross-entropy loss (which includes the softmax)
/// rather than putting `Softmax` before the loss.
///
/// ```
/// use dl_core::{Act, Flat, Layer, Mode, Softmax};
/// let x = Act::<Flat<3>>::from_vec(vec![0.0, 0.0, 2.0f32.ln(), 1000.0, 1000.0, 1000.0]).unwrap();
/// let mut y = Act::default();
/// Softmax.forward(&x, &mut y, Mode::Eval);
/// let want = [0.25, 0.25, 0.5, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0];
/// assert!(y.as_slice().iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softmax;

no_params!(Softmax);

fn forward(x: &[f32], y: &mut [f32], lanes: (usize, usize, usize)) {
    log_softmax_lanes(x, y, lanes);
    for v in y.iter_mut() {
        *v = v.exp();
    }
}

fn backward(y: &[f32], dy: &[f32], dx: &mut [f32], lanes: (usize, usize, usize)) {
    lane_backward(y, dy, dx, lanes, |y| y, |y, dy, dot| y * (dy - dot));
}

lane_layer!(Softmax, forward, backward);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Layer, Mode};
    use crate::tensor::{Act, Chw, Flat};
    use crate::testing::check_layer_gradients;
    use rand::SeedableRng;

    #[test]
    fn channel_softmax_sums_to_one_at_every_pixel() {
        // One sample, 2 channels, 1×2 pixels: pixel 0 sees (0, ln 3), pixel 1 sees (5, 5).
        let x = Act::<Chw<2, 1, 2>>::from_vec(vec![0.0, 5.0, 3.0f32.ln(), 5.0]).unwrap();
        let mut y = Act::default();
        Softmax.forward(&x, &mut y, Mode::Eval);
        let want = [0.25, 0.5, 0.75, 0.5];
        for (g, w) in y.as_slice().iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        check_layer_gradients::<Flat<6>, Flat<6>, _>(&mut Softmax, 3, &mut rng);
        check_layer_gradients::<Chw<3, 2, 2>, Chw<3, 2, 2>, _>(&mut Softmax, 2, &mut rng);
    }
}
