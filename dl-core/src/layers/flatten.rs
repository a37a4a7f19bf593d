//! Flattening a feature map into a feature vector.

use crate::layers::{Layer, Mode, no_params};
use crate::tensor::{Act, Chw, Flat};

/// `Flatten`: reads each `[C, H, W]` sample as `C·H·W` features in row-major (NCHW) order.
///
/// `y[n, (c·H + i)·W + j] = x[n, c, i, j]`
///
/// - Shape rule: `[C, H, W] → [C·H·W]` ([`crate::shape::flat`]); checked at compile time.
/// - Parameters: none.
/// - PyTorch: `nn.Flatten()` (start_dim 1), same element order. Backward copies `dy` back.
///
/// ```
/// use dl_core::{Act, Chw, Flat, Flatten, Layer, Mode};
/// let x = Act::<Chw<2, 1, 2>>::from_vec(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// let mut y = Act::<Flat<4>>::default();
/// Flatten.forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;

no_params!(Flatten);

impl<const C: usize, const H: usize, const W: usize, const F: usize> Layer<Chw<C, H, W>, Flat<F>>
    for Flatten
{
    fn forward(&mut self, x: &Act<Chw<C, H, W>>, y: &mut Act<Flat<F>>, _mode: Mode) {
        const { assert!(F == C * H * W, "Flatten: output size disagrees with C·H·W") };
        y.set_batch(x.batch());
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    fn backward(
        &mut self,
        x: &Act<Chw<C, H, W>>,
        _y: &Act<Flat<F>>,
        dy: &Act<Flat<F>>,
        dx: Option<&mut Act<Chw<C, H, W>>>,
    ) {
        const { assert!(F == C * H * W, "Flatten: output size disagrees with C·H·W") };
        if let Some(dx) = dx {
            debug_assert_eq!(dy.batch(), x.batch());
            dx.set_batch(dy.batch());
            dx.as_mut_slice().copy_from_slice(dy.as_slice());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::Parameters;
    use crate::testing::check_layer_gradients;
    use rand::SeedableRng;

    #[test]
    fn flattening_keeps_nchw_order_per_sample() {
        let x = Act::<Chw<2, 2, 3>>::from_vec((0..24).map(|v| v as f32).collect()).unwrap();
        let mut y = Act::<Flat<12>>::default();
        Flatten.forward(&x, &mut y, Mode::Train);
        assert_eq!(y.batch(), 2);
        assert_eq!(y.sample(1), x.sample(1));
        let mut dx = Act::default();
        Flatten.backward(&x, &y, &y, Some(&mut dx));
        assert_eq!(dx.as_slice(), x.as_slice());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(31);
        check_layer_gradients::<Chw<2, 3, 2>, Flat<12>, _>(&mut Flatten, 2, &mut rng);
    }

    #[test]
    fn has_no_parameters() {
        assert_eq!(Flatten.num_params(), 0);
    }
}
