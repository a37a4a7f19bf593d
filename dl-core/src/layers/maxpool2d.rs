//! 2-D max pooling.

use crate::kernels::{BATCH_PARTS, max_pool, run_batch_parts};
use crate::layers::{Layer, Mode};
use crate::param::{Param, ParamName, Parameters};
use crate::shape::{self, Pad};
use crate::tensor::{Act, Chw};
use std::fmt;

/// 2-D max pooling `MaxPool2d<K, S>`: the maximum of each `K×K` window, windows `S` apart, no
/// padding, floor mode.
///
/// `y[n, c, i, j] = max_{0 ≤ u, v < K} x[n, c, S·i + u, S·j + v]`
///
/// - Shape rule: `[C, H, W] → [C, OH, OW]` with `OH = floor((H − K)/S) + 1`, likewise `OW`
///   ([`shape::window_out`] with no padding); checked at compile time.
/// - Parameters: none.
/// - PyTorch: `nn.MaxPool2d(K, stride=S)`. The gradient of each output goes to the first maximum
///   of its window in row-major scan order, as in PyTorch (a NaN counts as a maximum). Overlapping
///   windows (`S < K`) add their gradients.
/// - A training-mode forward records the position of each maximum for the backward pass; an
///   evaluation-mode forward records nothing.
///
/// ```
/// use dl_core::{Act, Chw, Layer, MaxPool2d, Mode};
/// let mut pool = MaxPool2d::<2, 2>::default();
/// let x = Act::<Chw<1, 2, 4>>::from_vec(vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, -1.0, 7.0]).unwrap();
/// let mut y = Act::<Chw<1, 1, 2>>::default();
/// pool.forward(&x, &mut y, Mode::Train);
/// assert_eq!(y.as_slice(), &[5.0, 7.0]);
/// let dy = Act::<Chw<1, 1, 2>>::from_vec(vec![10.0, 20.0]).unwrap();
/// let mut dx = Act::default();
/// pool.backward(&x, &y, &dy, Some(&mut dx));
/// assert_eq!(dx.as_slice(), &[0.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0]);
/// ```
#[derive(Clone, Default)]
pub struct MaxPool2d<const K: usize, const S: usize> {
    /// For each output value of the last training-mode forward, the index of its maximum in `x`.
    argmax: Vec<usize>,
    /// Whether `argmax` belongs to the last forward.
    argmax_ready: bool,
}

impl<const K: usize, const S: usize> fmt::Debug for MaxPool2d<K, S> {
    /// The configuration; the recorded maxima are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxPool2d")
            .field("kernel", &K)
            .field("stride", &S)
            .finish_non_exhaustive()
    }
}

impl<const K: usize, const S: usize> Parameters for MaxPool2d<K, S> {
    fn visit(&self, _: &mut dyn FnMut(ParamName<'_>, &Param)) {}
    fn visit_mut(&mut self, _: &mut dyn FnMut(ParamName<'_>, &mut Param)) {}
}

impl<
    const K: usize,
    const S: usize,
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
> Layer<Chw<C, H, W>, Chw<C, OH, OW>> for MaxPool2d<K, S>
{
    fn forward(&mut self, x: &Act<Chw<C, H, W>>, y: &mut Act<Chw<C, OH, OW>>, mode: Mode) {
        const {
            assert!(
                OH == shape::window_out_or_max(H, K, S, Pad::Valid)
                    && OW == shape::window_out_or_max(W, K, S, Pad::Valid),
                "MaxPool2d: output size disagrees with the shape rule"
            )
        };
        let n = x.batch();
        y.set_batch(n);
        let train = mode == Mode::Train;
        if train {
            self.argmax.resize(y.as_slice().len(), 0);
        }
        // The samples in BATCH_PARTS fixed parts, one per thread of the pool (no sums: the
        // result is the same at every thread count).
        let (is, os) = (C * H * W, C * OH * OW);
        let chunk = n.div_ceil(BATCH_PARTS).max(1);
        let argmax = train.then_some(&mut self.argmax[..]);
        let parts = x
            .as_slice()
            .chunks(chunk * is)
            .zip(y.as_mut_slice().chunks_mut(chunk * os))
            .zip(
                argmax
                    .into_iter()
                    .flat_map(|a| a.chunks_mut(chunk * os))
                    .map(Some)
                    .chain(std::iter::repeat_with(|| None)),
            )
            .enumerate();
        run_batch_parts(parts, &|(p, ((xs, ys), am))| {
            max_pool::pool::<K, S>(xs, (H, W), (OH, OW), p * chunk * is, Some(ys), am);
        });
        self.argmax_ready = train;
    }

    fn backward(
        &mut self,
        x: &Act<Chw<C, H, W>>,
        _y: &Act<Chw<C, OH, OW>>,
        dy: &Act<Chw<C, OH, OW>>,
        dx: Option<&mut Act<Chw<C, H, W>>>,
    ) {
        const {
            assert!(
                OH == shape::window_out_or_max(H, K, S, Pad::Valid)
                    && OW == shape::window_out_or_max(W, K, S, Pad::Valid),
                "MaxPool2d: output size disagrees with the shape rule"
            )
        };
        let Some(dx) = dx else { return };
        debug_assert_eq!(dy.batch(), x.batch());
        dx.set_batch(x.batch());
        if !self.argmax_ready || self.argmax.len() != dy.as_slice().len() {
            // No training-mode forward recorded the maxima: find them again.
            self.argmax.resize(dy.as_slice().len(), 0);
            let am = Some(&mut self.argmax[..]);
            max_pool::pool::<K, S>(x.as_slice(), (H, W), (OH, OW), 0, None, am);
            self.argmax_ready = true;
        }
        let (argmax, dy) = (&self.argmax[..], dy.as_slice());
        max_pool::unpool::<K, S>(dy, argmax, (H, W), (OH, OW), dx.as_mut_slice());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_layer_gradients_at;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    /// A batch whose values are all distinct (a shuffled ramp), so no window has a tie and the
    /// maxima are at least 0.05 above the runner-up: finite differences stay on one branch.
    fn distinct<const C: usize, const H: usize, const W: usize>(
        n: usize,
        rng: &mut rand::rngs::StdRng,
    ) -> Act<Chw<C, H, W>> {
        let len = n * C * H * W;
        let mut v: Vec<f32> = (0..len).map(|i| i as f32 * 0.05 - 1.0).collect();
        v.shuffle(rng);
        Act::from_vec(v).unwrap()
    }

    #[test]
    fn forward_takes_window_maxima_on_a_non_square_input() {
        // 1×3×4 input, K = 2, S = 1 → 2×3.
        let x = Act::<Chw<1, 3, 4>>::from_vec(vec![
            1.0, 2.0, 3.0, 4.0, //
            8.0, 7.0, 6.0, 5.0, //
            0.0, 9.0, -1.0, -2.0,
        ])
        .unwrap();
        let mut y = Act::<Chw<1, 2, 3>>::default();
        MaxPool2d::<2, 1>::default().forward(&x, &mut y, Mode::Eval);
        assert_eq!(y.as_slice(), &[8.0, 7.0, 6.0, 9.0, 9.0, 6.0]);
    }

    #[test]
    fn the_2x2_stride_2_scan_follows_the_window_rule() {
        // Odd sizes (the last row and column are in no window), many ties and two NaN, against
        // the rule written out: first maximum in row-major order, a NaN wins (the last one).
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut v: Vec<f32> = (0..2 * 5 * 7)
            .map(|_| rng.random_range(0..3) as f32)
            .collect();
        v[8] = f32::NAN;
        v[50] = f32::NAN;
        let x = Act::<Chw<2, 5, 7>>::from_vec(v.clone()).unwrap();
        let mut pool = MaxPool2d::<2, 2>::default();
        let mut y = Act::<Chw<2, 2, 3>>::default();
        pool.forward(&x, &mut y, Mode::Train);
        let dy = Act::<Chw<2, 2, 3>>::from_vec((1..=12).map(|g| g as f32).collect()).unwrap();
        // A reused gradient buffer: every value must be written, none left from before.
        let mut dx = Act::from_vec(vec![f32::NAN; v.len()]).unwrap();
        pool.backward(&x, &y, &dy, Some(&mut dx));
        let mut expect_dx = vec![0.0; v.len()];
        for (o, (&got, &g)) in y.as_slice().iter().zip(dy.as_slice()).enumerate() {
            let (c, i, j) = (o / 6, o / 3 % 2, o % 3);
            let mut at = None::<usize>;
            for (u, w) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let p = c * 35 + (2 * i + u) * 7 + 2 * j + w;
                if at.is_none_or(|a| v[p] > v[a] || v[p].is_nan()) {
                    at = Some(p);
                }
            }
            let at = at.unwrap();
            assert_eq!(got.to_bits(), v[at].to_bits(), "window {o}");
            expect_dx[at] += g;
        }
        assert_eq!(dx.as_slice(), &expect_dx[..]);
    }

    #[test]
    fn ties_send_the_gradient_to_the_first_maximum() {
        let x = Act::<Chw<1, 2, 2>>::from_vec(vec![3.0, 3.0, 3.0, 1.0]).unwrap();
        let mut pool = MaxPool2d::<2, 2>::default();
        let mut y = Act::<Chw<1, 1, 1>>::default();
        pool.forward(&x, &mut y, Mode::Train);
        let dy = Act::<Chw<1, 1, 1>>::from_vec(vec![1.0]).unwrap();
        let mut dx = Act::default();
        pool.backward(&x, &y, &dy, Some(&mut dx));
        assert_eq!(dx.as_slice(), &[1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn overlapping_windows_add_their_gradients() {
        // K = 3, S = 1 on 1×3×4: both windows have their maximum at the centre value 9.
        let x = Act::<Chw<1, 3, 4>>::from_vec(vec![
            0.0, 0.0, 0.0, 0.0, //
            0.0, 0.0, 9.0, 0.0, //
            0.0, 0.0, 0.0, 0.0,
        ])
        .unwrap();
        let mut pool = MaxPool2d::<3, 1>::default();
        let mut y = Act::<Chw<1, 1, 2>>::default();
        pool.forward(&x, &mut y, Mode::Train);
        let dy = Act::<Chw<1, 1, 2>>::from_vec(vec![1.5, 2.0]).unwrap();
        let mut dx = Act::default();
        pool.backward(&x, &y, &dy, Some(&mut dx));
        assert_eq!(dx.as_slice()[6], 3.5);
        assert_eq!(dx.as_slice().iter().sum::<f32>(), 3.5);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let x = distinct::<2, 6, 4>(2, &mut rng);
        check_layer_gradients_at::<_, Chw<2, 3, 2>, _>(
            &mut MaxPool2d::<2, 2>::default(),
            &x,
            Mode::Train,
            &mut rng,
        );
        let x = distinct::<2, 7, 5>(2, &mut rng);
        check_layer_gradients_at::<_, Chw<2, 3, 2>, _>(
            &mut MaxPool2d::<3, 2>::default(),
            &x,
            Mode::Train,
            &mut rng,
        );
        let x = distinct::<3, 5, 4>(1, &mut rng);
        check_layer_gradients_at::<_, Chw<3, 3, 2>, _>(
            &mut MaxPool2d::<3, 1>::default(),
            &x,
            Mode::Train,
            &mut rng,
        );
    }

    #[test]
    fn eval_forward_records_nothing_and_backward_still_works() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let x = distinct::<2, 6, 5>(2, &mut rng);
        let dy = distinct::<2, 2, 2>(2, &mut rng);
        let mut trained = MaxPool2d::<3, 2>::default();
        let mut y = Act::<Chw<2, 2, 2>>::default();
        trained.forward(&x, &mut y, Mode::Train);
        let mut want = Act::default();
        trained.backward(&x, &y, &dy, Some(&mut want));

        let mut pool = MaxPool2d::<3, 2>::default();
        pool.forward(&x, &mut y, Mode::Eval);
        assert!(pool.argmax.is_empty());
        let mut dx = Act::default();
        pool.backward(&x, &y, &dy, Some(&mut dx));
        assert_eq!(dx.as_slice(), want.as_slice());
    }

    #[test]
    fn the_argmax_buffer_is_not_reallocated_in_steady_state() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        let (x4, x2) = (
            distinct::<2, 6, 6>(4, &mut rng),
            distinct::<2, 6, 6>(2, &mut rng),
        );
        let mut pool = MaxPool2d::<2, 2>::default();
        let (mut y, mut dx) = (Act::<Chw<2, 3, 3>>::default(), Act::default());
        pool.forward(&x4, &mut y, Mode::Train);
        let buffer = pool.argmax.as_ptr();
        pool.forward(&x2, &mut y, Mode::Train);
        pool.backward(&x2, &y, &y.clone(), Some(&mut dx));
        pool.forward(&x4, &mut y, Mode::Train);
        assert_eq!(pool.argmax.as_ptr(), buffer);
    }

    #[test]
    fn has_no_parameters() {
        assert_eq!(
            format!("{:?}", MaxPool2d::<3, 2>::default()),
            "MaxPool2d { kernel: 3, stride: 2, .. }"
        );
        assert_eq!(MaxPool2d::<2, 2>::default().num_params(), 0);
    }
}
