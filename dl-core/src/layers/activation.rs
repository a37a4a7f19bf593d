//! Shared machinery of the activation layers: the element-wise map and its backward pass, and
//! the lanes (the vectors along PyTorch's `dim=1`) that softmax and log-softmax normalise.
//!
//! Every activation file writes only its formula and derivative; the loops live here once.

use crate::tensor::{Act, Shape};

/// `y[i] = f(x[i])`; sets `y`'s batch size to `x`'s.
pub(super) fn map<S: Shape>(x: &Act<S>, y: &mut Act<S>, f: impl Fn(f32) -> f32) {
    y.set_batch(x.batch());
    for (out, &v) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
        *out = f(v);
    }
}

/// `dx[i] = dy[i] · f'(x[i], y[i])`, the derivative written with whichever of `x` and `y` is
/// convenient; does nothing when `dx` is `None` (activations have no parameters).
pub(super) fn map_backward<S: Shape>(
    x: &Act<S>,
    y: &Act<S>,
    dy: &Act<S>,
    dx: Option<&mut Act<S>>,
    derivative: impl Fn(f32, f32) -> f32,
) {
    let Some(dx) = dx else { return };
    debug_assert_eq!(dy.batch(), x.batch());
    dx.set_batch(x.batch());
    let inputs = x.as_slice().iter().zip(y.as_slice()).zip(dy.as_slice());
    for (d, ((&xv, &yv), &g)) in dx.as_mut_slice().iter_mut().zip(inputs) {
        *d = g * derivative(xv, yv);
    }
}

/// The lanes along axis 1 of a batch laid out as `[batch, axis, inner]` (`inner = 1` for flat
/// features, `H·W` for the channel axis of NCHW): yields each lane's first index; its elements
/// are `start + j·inner` for `j` in `0..axis`.
pub(super) fn lanes(batch: usize, axis: usize, inner: usize) -> impl Iterator<Item = usize> {
    (0..batch).flat_map(move |n| (0..inner).map(move |k| n * axis * inner + k))
}

/// The indices of the lane that starts at `start`.
pub(super) fn lane(start: usize, axis: usize, inner: usize) -> impl Iterator<Item = usize> {
    (0..axis).map(move |j| start + j * inner)
}

/// Writes `(x − max) − ln Σ exp(x − max)` (log-softmax) along every lane into `y`; the caller
/// exponentiates for softmax. Stable for large inputs: the maximum is subtracted first.
pub(super) fn log_softmax_lanes(
    x: &[f32],
    y: &mut [f32],
    (batch, axis, inner): (usize, usize, usize),
) {
    for start in lanes(batch, axis, inner) {
        let max = lane(start, axis, inner).fold(f32::NEG_INFINITY, |m, i| m.max(x[i]));
        let sum: f32 = lane(start, axis, inner).map(|i| (x[i] - max).exp()).sum();
        // (x − max) first: folding ln Σ into the shift would round it to the precision of max.
        let log_sum = sum.ln();
        for i in lane(start, axis, inner) {
            y[i] = (x[i] - max) - log_sum;
        }
    }
}

/// For every lane, `dx[i] = combine(y[i], dy[i], Σ_lane weight(y)·dy)`: softmax passes
/// `weight(y) = y` and `combine = y·(dy − Σ)`, log-softmax `weight = 1` and `combine = dy − exp(y)·Σ`.
pub(super) fn lane_backward(
    y: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    (batch, axis, inner): (usize, usize, usize),
    weight: impl Fn(f32) -> f32,
    combine: impl Fn(f32, f32, f32) -> f32,
) {
    for start in lanes(batch, axis, inner) {
        let dot: f32 = lane(start, axis, inner).map(|i| weight(y[i]) * dy[i]).sum();
        for i in lane(start, axis, inner) {
            dx[i] = combine(y[i], dy[i], dot);
        }
    }
}

/// Implements `Layer<Flat<F>, Flat<F>>` (lanes along the features) and
/// `Layer<Chw<C, H, W>, Chw<C, H, W>>` (lanes along the channels) for a softmax-like layer from
/// two functions `forward(x, y, (batch, axis, inner))` and `backward(y, dy, dx, (batch, axis, inner))`.
macro_rules! lane_layer {
    ($t:ty, $forward:path, $backward:path) => {
        impl<const F: usize> $crate::layers::Layer<$crate::tensor::Flat<F>, $crate::tensor::Flat<F>>
            for $t
        {
            fn forward(
                &mut self,
                x: &$crate::tensor::Act<$crate::tensor::Flat<F>>,
                y: &mut $crate::tensor::Act<$crate::tensor::Flat<F>>,
                _mode: $crate::layers::Mode,
            ) {
                y.set_batch(x.batch());
                $forward(x.as_slice(), y.as_mut_slice(), (x.batch(), F, 1));
            }

            fn backward(
                &mut self,
                x: &$crate::tensor::Act<$crate::tensor::Flat<F>>,
                y: &$crate::tensor::Act<$crate::tensor::Flat<F>>,
                dy: &$crate::tensor::Act<$crate::tensor::Flat<F>>,
                dx: Option<&mut $crate::tensor::Act<$crate::tensor::Flat<F>>>,
            ) {
                if let Some(dx) = dx {
                    dx.set_batch(x.batch());
                    $backward(
                        y.as_slice(),
                        dy.as_slice(),
                        dx.as_mut_slice(),
                        (x.batch(), F, 1),
                    );
                }
            }
        }

        impl<const C: usize, const H: usize, const W: usize>
            $crate::layers::Layer<$crate::tensor::Chw<C, H, W>, $crate::tensor::Chw<C, H, W>>
            for $t
        {
            fn forward(
                &mut self,
                x: &$crate::tensor::Act<$crate::tensor::Chw<C, H, W>>,
                y: &mut $crate::tensor::Act<$crate::tensor::Chw<C, H, W>>,
                _mode: $crate::layers::Mode,
            ) {
                y.set_batch(x.batch());
                $forward(x.as_slice(), y.as_mut_slice(), (x.batch(), C, H * W));
            }

            fn backward(
                &mut self,
                x: &$crate::tensor::Act<$crate::tensor::Chw<C, H, W>>,
                y: &$crate::tensor::Act<$crate::tensor::Chw<C, H, W>>,
                dy: &$crate::tensor::Act<$crate::tensor::Chw<C, H, W>>,
                dx: Option<&mut $crate::tensor::Act<$crate::tensor::Chw<C, H, W>>>,
            ) {
                if let Some(dx) = dx {
                    dx.set_batch(x.batch());
                    $backward(
                        y.as_slice(),
                        dy.as_slice(),
                        dx.as_mut_slice(),
                        (x.batch(), C, H * W),
                    );
                }
            }
        }
    };
}
pub(super) use lane_layer;

/// Random inputs in `±[0.1, 2)`: away from the kinks at 0 of ReLU, LeakyReLU, ELU and Sign, so
/// that central differences with step [`crate::testing::GRAD_EPS`] see a smooth function.
#[cfg(test)]
pub(super) fn away_from_zero<S: Shape>(batch: usize, rng: &mut impl rand::Rng) -> Act<S> {
    let values = (0..batch * S::SIZE)
        .map(|_| {
            let magnitude = rng.random_range(0.1f32..2.0);
            if rng.random::<bool>() {
                magnitude
            } else {
                -magnitude
            }
        })
        .collect();
    Act::from_vec(values).expect("invariant: whole samples")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_and_dropout_have_no_parameters() {
        use crate::layers::{
            Dropout, ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Sign, Softmax, Tanh,
        };
        use crate::param::Parameters;
        use rand::SeedableRng;
        let dropout = Dropout::new(0.5, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
        let counts = [
            ReLU.num_params(),
            LeakyReLU::default().num_params(),
            ELU::default().num_params(),
            GELU.num_params(),
            Sigmoid.num_params(),
            Tanh.num_params(),
            Sign.num_params(),
            Softmax.num_params(),
            LogSoftmax.num_params(),
            dropout.num_params(),
        ];
        assert_eq!(counts, [0; 10]);
        let mut visited = 0;
        ReLU.visit(&mut |_, _| visited += 1);
        assert_eq!(visited, 0);
    }

    #[test]
    fn lanes_of_nchw_run_along_the_channels() {
        // batch 2, 3 channels, 2 positions: lane starts at n·6 + k, step 2.
        let starts: Vec<usize> = lanes(2, 3, 2).collect();
        assert_eq!(starts, [0, 1, 6, 7]);
        let second: Vec<usize> = lane(7, 3, 2).collect();
        assert_eq!(second, [7, 9, 11]);
    }

    #[test]
    fn log_softmax_is_stable_for_large_inputs() {
        let x = [1000.0, 1000.0];
        let mut y = [0.0; 2];
        log_softmax_lanes(&x, &mut y, (1, 2, 1));
        let ln_half = -std::f32::consts::LN_2;
        assert!(y.iter().all(|v| (v - ln_half).abs() < 1e-6), "{y:?}");
    }
}
