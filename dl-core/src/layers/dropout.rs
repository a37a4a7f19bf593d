//! Inverted dropout.

use crate::error::{Error, Result};
use crate::kernels::aligned::AlignedVec;
use crate::layers::{Layer, Mode, no_params};
use crate::tensor::{Act, Shape};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Inverted dropout: in training, each value is zeroed with probability `p` and the kept values
/// are scaled by `1/(1 − p)`, so the expected output equals the input; in evaluation it is the
/// identity.
///
/// - Formula (training): `y = x·m/(1 − p)` with `m ~ Bernoulli(1 − p)` drawn per value.
/// - Shape rule: any shape, unchanged (`[…] → […]`).
/// - Parameters: none (0).
/// - PyTorch: `nn.Dropout(p)`.
/// - Backward: `dx = dy·m/(1 − p)`, with the mask of the last training forward.
///
/// The layer owns its random generator, seeded from the RNG given to [`Dropout::new`], so a
/// model built from a seeded RNG draws the same masks on every run. [`Dropout::hold_mask`] freezes
/// the mask (for gradient checks).
///
/// ```
/// use dl_core::{Act, Dropout, Flat, Layer, Mode};
/// use rand::SeedableRng;
/// let mut d = Dropout::new(0.5, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
/// let x = Act::<Flat<1000>>::from_vec(vec![1.0; 1000]).unwrap();
/// let mut y = Act::default();
/// d.forward(&x, &mut y, Mode::Train);
/// // Every value is dropped (0) or kept and doubled (1/(1 − 0.5)).
/// assert!(y.as_slice().iter().all(|&v| v == 0.0 || v == 2.0));
/// d.forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), x.as_slice());
/// assert!(Dropout::new(1.0, &mut rand::rngs::StdRng::seed_from_u64(0)).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Dropout {
    p: f32,
    rng: StdRng,
    /// `0` or `1/(1 − p)` per value of the last training batch; only grows.
    mask: AlignedVec,
    /// Number of values `mask` holds for the current batch.
    mask_len: usize,
    /// Whether the last forward applied the mask (training) or not (evaluation).
    masked: bool,
    held: bool,
}

impl Dropout {
    /// A dropout layer dropping each value with probability `p ∈ [0, 1)`, its generator seeded
    /// from `rng`.
    ///
    /// `p = 1` is rejected: it would drop everything and scale by infinity.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let err = dl_core::Dropout::new(f32::NAN, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid `Dropout` p: expected a probability in [0, 1), found NaN");
    /// ```
    pub fn new<R: Rng + ?Sized>(p: f32, rng: &mut R) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::config(
                "`Dropout` p",
                format!("expected a probability in [0, 1), found {p}"),
            ));
        }
        Ok(Dropout {
            p,
            rng: StdRng::seed_from_u64(rng.random()),
            mask: AlignedVec::new(),
            mask_len: 0,
            masked: false,
            held: false,
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// While `hold` is true, training forwards reuse the last mask instead of drawing a new one
    /// (a new mask is still drawn when the batch holds a different number of values). Used to
    /// check gradients with finite differences, which need the same function at every call.
    pub fn hold_mask(&mut self, hold: bool) {
        self.held = hold;
    }

    /// Draws a new mask for `len` values.
    fn draw_mask(&mut self, len: usize) {
        self.mask.at_least(len);
        let scale = 1.0 / (1.0 - self.p);
        let p = self.p;
        for m in &mut self.mask[..len] {
            *m = if self.rng.random::<f32>() < p {
                0.0
            } else {
                scale
            };
        }
        self.mask_len = len;
    }
}

no_params!(Dropout);

impl<S: Shape> Layer<S, S> for Dropout {
    fn forward(&mut self, x: &Act<S>, y: &mut Act<S>, mode: Mode) {
        y.set_batch(x.batch());
        let len = x.as_slice().len();
        self.masked = mode == Mode::Train;
        if !self.masked {
            y.as_mut_slice().copy_from_slice(x.as_slice());
            return;
        }
        if !self.held || self.mask_len != len {
            self.draw_mask(len);
        }
        let values = y.as_mut_slice().iter_mut().zip(x.as_slice());
        for ((out, &v), &m) in values.zip(&self.mask[..len]) {
            *out = v * m;
        }
    }

    fn backward(&mut self, x: &Act<S>, _y: &Act<S>, dy: &Act<S>, dx: Option<&mut Act<S>>) {
        let Some(dx) = dx else { return };
        dx.set_batch(x.batch());
        let len = dy.as_slice().len();
        if !self.masked {
            dx.as_mut_slice().copy_from_slice(dy.as_slice());
            return;
        }
        debug_assert_eq!(self.mask_len, len, "backward follows a training forward");
        let grads = dx.as_mut_slice().iter_mut().zip(dy.as_slice());
        for ((d, &g), &m) in grads.zip(&self.mask[..len]) {
            *d = g * m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Chw, Flat};
    use crate::testing::check_layer_gradients_at;

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    fn ones<S: Shape>(batch: usize) -> Act<S> {
        Act::from_vec(vec![1.0; batch * S::SIZE]).unwrap()
    }

    #[test]
    fn mask_drops_about_p_and_scales_the_rest() {
        let mut d = Dropout::new(0.3, &mut rng(1)).unwrap();
        let x = ones::<Flat<1000>>(20);
        let mut y = Act::default();
        d.forward(&x, &mut y, Mode::Train);
        let zeros = y.as_slice().iter().filter(|&&v| v == 0.0).count();
        let frac = zeros as f64 / 20_000.0;
        // 20 000 draws: the standard deviation of the fraction is √(0.3·0.7/20000) ≈ 0.0032.
        assert!((frac - 0.3).abs() < 0.015, "dropped fraction {frac}");
        let scale = 1.0 / 0.7f32;
        assert!(
            y.as_slice().iter().all(|&v| v == 0.0 || v == scale),
            "kept values are scaled by 1/(1 − p)"
        );
        let mean = y.as_slice().iter().map(|&v| v as f64).sum::<f64>() / 20_000.0;
        assert!((mean - 1.0).abs() < 0.03, "mean {mean}");
    }

    #[test]
    fn the_same_seed_gives_the_same_mask_and_a_new_forward_a_new_one() {
        let x = ones::<Flat<64>>(4);
        let (mut y1, mut y2, mut y3) = (Act::default(), Act::default(), Act::default());
        let mut a = Dropout::new(0.5, &mut rng(7)).unwrap();
        let mut b = Dropout::new(0.5, &mut rng(7)).unwrap();
        a.forward(&x, &mut y1, Mode::Train);
        b.forward(&x, &mut y2, Mode::Train);
        assert_eq!(y1.as_slice(), y2.as_slice());
        a.forward(&x, &mut y3, Mode::Train);
        assert_ne!(y1.as_slice(), y3.as_slice());
    }

    #[test]
    fn held_mask_is_reused() {
        let x = ones::<Flat<64>>(2);
        let (mut y1, mut y2) = (Act::default(), Act::default());
        let mut d = Dropout::new(0.5, &mut rng(3)).unwrap();
        d.hold_mask(true);
        d.forward(&x, &mut y1, Mode::Train);
        d.forward(&x, &mut y2, Mode::Train);
        assert_eq!(y1.as_slice(), y2.as_slice());
        d.hold_mask(false);
        d.forward(&x, &mut y2, Mode::Train);
        assert_ne!(y1.as_slice(), y2.as_slice());
    }

    #[test]
    fn eval_is_the_identity_forward_and_backward() {
        let mut d = Dropout::new(0.9, &mut rng(0)).unwrap();
        let x = Act::<Chw<1, 2, 2>>::from_vec(vec![1.0, -2.0, 3.0, -4.0]).unwrap();
        let mut y = Act::default();
        d.forward(&x, &mut y, Mode::Eval);
        assert_eq!(y.as_slice(), x.as_slice());
        let mut dx = Act::default();
        d.backward(&x, &y, &x, Some(&mut dx));
        assert_eq!(dx.as_slice(), x.as_slice());
    }

    #[test]
    fn p_zero_keeps_everything() {
        let mut d = Dropout::new(0.0, &mut rng(0)).unwrap();
        let x = ones::<Flat<100>>(3);
        let mut y = Act::default();
        d.forward(&x, &mut y, Mode::Train);
        assert_eq!(y.as_slice(), x.as_slice());
    }

    #[test]
    fn gradients_match_finite_differences_with_a_held_mask() {
        let mut r = rng(11);
        let mut d = Dropout::new(0.4, &mut r).unwrap();
        d.hold_mask(true);
        let x =
            Act::<Flat<10>>::from_vec((0..30).map(|i| i as f32 / 10.0 - 1.5).collect()).unwrap();
        check_layer_gradients_at(&mut d, &x, Mode::Train, &mut r);
        // The check saw a real mask: some values dropped, some kept.
        assert!(d.mask[..30].contains(&0.0));
        assert!(d.mask[..30].iter().any(|&m| m > 1.0));
    }

    #[test]
    fn invalid_p_is_an_error_naming_it() {
        for (p, shown) in [(1.0, "1"), (f32::NAN, "NaN"), (-0.1, "-0.1"), (1.5, "1.5")] {
            let err = Dropout::new(p, &mut rng(0)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid `Dropout` p: expected a probability in [0, 1), found {shown}")
            );
        }
    }
}
