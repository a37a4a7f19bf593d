//! Fully connected layer.

use crate::init::{Init, uniform};
use crate::kernels::gemm::{
    Trans, gemm, gemm_packed_weights, pack_weights, packed_len, packed_weights_cols,
};
use crate::layers::{Layer, Mode};
use crate::param::{Derived, Param, ParamName, Parameters};
use crate::tensor::{Act, Flat};
use rand::Rng;
use std::fmt;

/// Fully connected layer `Dense<IN, OUT>`: `y = x·Wᵀ + b`.
///
/// - Shape rule: `[IN] → [OUT]`.
/// - Parameters: `weight` `[OUT, IN]` and `bias` `[OUT]`, `OUT·IN + OUT` values.
/// - PyTorch: `nn.Linear(IN, OUT)`, same names, layout and default initialisation
///   (Kaiming-uniform with a = √5, bias `U(±1/√IN)`).
/// - Backward: `dW = dyᵀ·x`, `db = Σ_batch dy`, `dx = dy·W`; one GEMM each.
/// - Forward in evaluation mode: when the GEMM would pack the weights on every call (small
///   layers: the MLPs, LeNet's Dense layers), the layer keeps them packed while they stay the
///   same ([`Param::version`]) and the batch size needs the same panels; the result is the same
///   to the bit. (Training changes the weights every step: packing them once per step into a
///   buffer of their own measured 13% slower on the MNIST MLP than the GEMM's own packing.)
///
/// ```
/// use dl_core::{Act, Dense, Flat, Layer, Mode};
/// use rand::SeedableRng;
/// let mut d = Dense::<2, 1>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// d.weight.value_mut().copy_from_slice(&[2.0, -1.0]);
/// d.bias.value_mut()[0] = 0.5;
/// let x = Act::<Flat<2>>::from_vec(vec![1.0, 3.0]).unwrap();
/// let mut y = Act::<Flat<1>>::default();
/// d.forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), &[2.0 - 3.0 + 0.5]);
/// ```
#[derive(Clone)]
pub struct Dense<const IN: usize, const OUT: usize> {
    /// `[OUT, IN]`.
    pub weight: Param,
    /// `[OUT]`.
    pub bias: Param,
    /// The weights packed for the forward GEMM ([`pack_weights`]) in evaluation mode, when it
    /// packs them, kept while the weights and the panel width stay the same.
    packed: Derived,
}

impl<const IN: usize, const OUT: usize> fmt::Debug for Dense<IN, OUT> {
    /// The parameters; the packed weights are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dense")
            .field("weight", &self.weight)
            .field("bias", &self.bias)
            .finish_non_exhaustive()
    }
}

impl<const IN: usize, const OUT: usize> Dense<IN, OUT> {
    /// Parameter count.
    pub const PARAMS: usize = crate::shape::dense_params(IN, OUT);

    /// PyTorch's default initialisation.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::with_init(Init::PytorchDefault, rng)
    }

    /// Weights drawn with `init`, bias with PyTorch's default `U(±1/√IN)`.
    pub fn with_init<R: Rng + ?Sized>(init: Init, rng: &mut R) -> Self {
        let mut w = vec![0.0; OUT * IN];
        init.fill(&mut w, IN, OUT, rng);
        let mut b = vec![0.0; OUT];
        uniform(&mut b, 1.0 / (IN as f32).sqrt(), rng);
        Dense {
            weight: Param::trainable(&[OUT, IN], w),
            bias: Param::trainable(&[OUT], b),
            packed: Derived::default(),
        }
    }
}

impl<const IN: usize, const OUT: usize> Parameters for Dense<IN, OUT> {
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
        f(ParamName::local("weight"), &self.weight);
        f(ParamName::local("bias"), &self.bias);
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
        f(ParamName::local("weight"), &mut self.weight);
        f(ParamName::local("bias"), &mut self.bias);
    }
}

impl<const IN: usize, const OUT: usize> Layer<Flat<IN>, Flat<OUT>> for Dense<IN, OUT> {
    fn forward(&mut self, x: &Act<Flat<IN>>, y: &mut Act<Flat<OUT>>, mode: Mode) {
        let n = x.batch();
        y.set_batch(n);
        let out = y.as_mut_slice();
        for row in out.chunks_exact_mut(OUT) {
            row.copy_from_slice(self.bias.value());
        }
        // Training changes the weights after every step: packed once, they would be used once.
        let packed = (mode == Mode::Eval).then(|| packed_weights_cols(n, OUT, IN));
        if let Some(Some(nr)) = packed {
            let len = packed_len(OUT, IN, nr);
            let w = self.packed.get(&self.weight, nr, len, |w, dst| {
                pack_weights(OUT, IN, w, IN, nr, dst)
            });
            gemm_packed_weights(n, OUT, IN, 1.0, x.as_slice(), IN, w, 1.0, out, OUT);
            return;
        }
        gemm(
            Trans::N,
            Trans::T,
            n,
            OUT,
            IN,
            1.0,
            x.as_slice(),
            IN,
            self.weight.value(),
            IN,
            1.0,
            out,
            OUT,
        );
    }

    fn backward(
        &mut self,
        x: &Act<Flat<IN>>,
        _y: &Act<Flat<OUT>>,
        dy: &Act<Flat<OUT>>,
        dx: Option<&mut Act<Flat<IN>>>,
    ) {
        let n = x.batch();
        debug_assert_eq!(dy.batch(), n);
        gemm(
            Trans::T,
            Trans::N,
            OUT,
            IN,
            n,
            1.0,
            dy.as_slice(),
            OUT,
            x.as_slice(),
            IN,
            0.0,
            &mut self.weight.grad,
            IN,
        );
        self.bias.grad.fill(0.0);
        for row in dy.as_slice().chunks_exact(OUT) {
            for (g, d) in self.bias.grad.iter_mut().zip(row) {
                *g += d;
            }
        }
        if let Some(dx) = dx {
            dx.set_batch(n);
            gemm(
                Trans::N,
                Trans::N,
                n,
                IN,
                OUT,
                1.0,
                dy.as_slice(),
                OUT,
                self.weight.value(),
                IN,
                0.0,
                dx.as_mut_slice(),
                IN,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_layer_gradients;
    use rand::SeedableRng;

    #[test]
    fn forward_matches_a_hand_computed_product() {
        let mut d = Dense::<3, 2>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
        d.weight
            .value_mut()
            .copy_from_slice(&[1.0, 2.0, 3.0, -1.0, 0.0, 1.0]);
        d.bias.value_mut().copy_from_slice(&[0.5, -0.5]);
        let x = Act::<Flat<3>>::from_vec(vec![1.0, 1.0, 1.0, 2.0, 0.0, -1.0]).unwrap();
        let mut y = Act::default();
        d.forward(&x, &mut y, Mode::Eval);
        assert_eq!(y.as_slice(), &[6.5, -0.5, -0.5, -3.5]);
    }

    #[test]
    fn packed_weights_follow_the_batch_size_and_every_change_of_the_weights() {
        use rand::Rng;
        // Batches of 3 (dot products), 20 and 40 (the packed weights, kept between calls).
        let rng = &mut rand::rngs::StdRng::seed_from_u64(2);
        let mut d = Dense::<100, 24>::new(rng);
        let check = |d: &mut Dense<100, 24>, n: usize, rng: &mut rand::rngs::StdRng| {
            let x: Vec<f32> = (0..n * 100).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut y = Act::default();
            d.forward(
                &Act::<Flat<100>>::from_slice(&x).unwrap(),
                &mut y,
                Mode::Eval,
            );
            for (s, ys) in y.as_slice().chunks_exact(24).enumerate() {
                for (o, &got) in ys.iter().enumerate() {
                    let w = &d.weight.value()[o * 100..][..100];
                    let dot: f64 = w
                        .iter()
                        .zip(&x[s * 100..])
                        .map(|(&a, &b)| f64::from(a * b))
                        .sum();
                    let want = dot + f64::from(d.bias.value()[o]);
                    assert!(
                        (f64::from(got) - want).abs() < 1e-5,
                        "batch {n}: {got} vs {want}"
                    );
                }
            }
        };
        for n in [20, 3, 40, 20] {
            check(&mut d, n, rng);
        }
        d.weight.value_mut().iter_mut().for_each(|v| *v = -*v);
        check(&mut d, 20, rng);
        d.weight.value_and_grad().0.reverse();
        check(&mut d, 20, rng);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut d = Dense::<5, 4>::new(&mut rng);
        check_layer_gradients::<Flat<5>, Flat<4>, _>(&mut d, 3, &mut rng);
    }

    #[test]
    fn parameter_count_is_out_times_in_plus_out() {
        let d = Dense::<784, 128>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
        assert_eq!(d.num_params(), 100_480);
        assert_eq!(Dense::<784, 128>::PARAMS, 100_480);
    }
}
