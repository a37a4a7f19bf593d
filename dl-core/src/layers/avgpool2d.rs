//! 2-D average pooling.

use crate::layers::{Layer, Mode};
use crate::param::{Param, ParamName, Parameters};
use crate::shape::{self, Pad};
use crate::tensor::{Act, Chw};

/// 2-D average pooling `AvgPool2d<K, S>`: the mean of each `K×K` window, windows `S` apart, no
/// padding, floor mode.
///
/// `y[n, c, i, j] = (1/K²) · Σ_{0 ≤ u, v < K} x[n, c, S·i + u, S·j + v]`
///
/// - Shape rule: `[C, H, W] → [C, OH, OW]` with `OH = floor((H − K)/S) + 1`, likewise `OW`
///   ([`shape::window_out`] with no padding); checked at compile time.
/// - Parameters: none.
/// - PyTorch: `nn.AvgPool2d(K, stride=S)`. Backward spreads each output gradient evenly, `dy/K²`,
///   over its window; overlapping windows (`S < K`) add up.
///
/// ```
/// use dl_core::{Act, AvgPool2d, Chw, Layer, Mode};
/// let mut pool = AvgPool2d::<2, 2>;
/// let x = Act::<Chw<1, 2, 4>>::from_vec(vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, -1.0, 7.0]).unwrap();
/// let mut y = Act::<Chw<1, 1, 2>>::default();
/// pool.forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), &[3.25, 2.0]);
/// let dy = Act::<Chw<1, 1, 2>>::from_vec(vec![4.0, 8.0]).unwrap();
/// let mut dx = Act::default();
/// pool.backward(&x, &y, &dy, Some(&mut dx));
/// assert_eq!(dx.as_slice(), &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AvgPool2d<const K: usize, const S: usize>;

impl<const K: usize, const S: usize> Parameters for AvgPool2d<K, S> {
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
> Layer<Chw<C, H, W>, Chw<C, OH, OW>> for AvgPool2d<K, S>
{
    fn forward(&mut self, x: &Act<Chw<C, H, W>>, y: &mut Act<Chw<C, OH, OW>>, _mode: Mode) {
        const {
            assert!(
                OH == shape::window_out_or_max(H, K, S, Pad::Valid)
                    && OW == shape::window_out_or_max(W, K, S, Pad::Valid),
                "AvgPool2d: output size disagrees with the shape rule"
            )
        };
        y.set_batch(x.batch());
        let scale = 1.0 / (K * K) as f32;
        for (xp, yp) in x
            .as_slice()
            .chunks_exact(H * W)
            .zip(y.as_mut_slice().chunks_exact_mut(OH * OW))
        {
            for i in 0..OH {
                for j in 0..OW {
                    let mut sum = 0.0;
                    for u in 0..K {
                        let row = (S * i + u) * W + S * j;
                        sum += xp[row..row + K].iter().sum::<f32>();
                    }
                    yp[i * OW + j] = sum * scale;
                }
            }
        }
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
                "AvgPool2d: output size disagrees with the shape rule"
            )
        };
        let Some(dx) = dx else { return };
        debug_assert_eq!(dy.batch(), x.batch());
        dx.set_batch(x.batch());
        let scale = 1.0 / (K * K) as f32;
        for (dxp, dyp) in dx
            .as_mut_slice()
            .chunks_exact_mut(H * W)
            .zip(dy.as_slice().chunks_exact(OH * OW))
        {
            dxp.fill(0.0);
            for i in 0..OH {
                for j in 0..OW {
                    let g = dyp[i * OW + j] * scale;
                    for u in 0..K {
                        let row = (S * i + u) * W + S * j;
                        for d in &mut dxp[row..row + K] {
                            *d += g;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_layer_gradients;
    use rand::SeedableRng;

    #[test]
    fn forward_averages_windows_on_a_non_square_input() {
        // 1×3×4 input, K = 3, S = 1 → 1×2.
        let x = Act::<Chw<1, 3, 4>>::from_vec((0..12).map(|v| v as f32).collect()).unwrap();
        let mut y = Act::<Chw<1, 1, 2>>::default();
        AvgPool2d::<3, 1>.forward(&x, &mut y, Mode::Eval);
        // Window means: centre values 5 and 6.
        assert_eq!(y.as_slice(), &[5.0, 6.0]);
    }

    #[test]
    fn floor_mode_drops_the_leftover_rows_and_columns() {
        // 5×5 input, K = 2, S = 2 → 2×2; the last row and column are never read.
        let mut x = Act::<Chw<1, 5, 5>>::zeros(1);
        for k in 0..5 {
            x.as_mut_slice()[4 * 5 + k] = 100.0;
            x.as_mut_slice()[k * 5 + 4] = 100.0;
        }
        let mut y = Act::<Chw<1, 2, 2>>::default();
        let mut pool = AvgPool2d::<2, 2>;
        pool.forward(&x, &mut y, Mode::Train);
        assert_eq!(y.as_slice(), &[0.0; 4]);
        let dy = Act::<Chw<1, 2, 2>>::from_vec(vec![1.0; 4]).unwrap();
        let mut dx = Act::default();
        pool.backward(&x, &y, &dy, Some(&mut dx));
        assert_eq!(dx.as_slice().iter().sum::<f32>(), 4.0);
        assert_eq!(dx.as_slice()[24], 0.0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        check_layer_gradients::<Chw<2, 6, 4>, Chw<2, 3, 2>, _>(&mut AvgPool2d::<2, 2>, 2, &mut rng);
        check_layer_gradients::<Chw<2, 7, 5>, Chw<2, 3, 2>, _>(&mut AvgPool2d::<3, 2>, 2, &mut rng);
        check_layer_gradients::<Chw<3, 5, 4>, Chw<3, 3, 2>, _>(&mut AvgPool2d::<3, 1>, 1, &mut rng);
    }

    #[test]
    fn has_no_parameters() {
        assert_eq!(AvgPool2d::<2, 2>.num_params(), 0);
    }
}
