//! Gaussian radial basis function layer.

use crate::error::{Error, Result};
use crate::init::uniform;
use crate::kernels::aligned::AlignedVec;
use crate::kernels::gemm::{Trans, gemm};
use crate::layers::{Layer, Mode};
use crate::param::{Param, ParamName, Parameters};
use crate::tensor::{Act, Flat};
use rand::Rng;

/// Gaussian radial basis function layer `Rbf<IN, N>`: `N` centres `c_j` in `IN` dimensions, each
/// with its own width `gamma_j`; `y[n, j] = exp(−gamma_j·‖x[n] − c_j‖²)`.
///
/// - Shape rule: `[IN] → [N]`.
/// - Parameters: `centres` `[N, IN]` and `gamma` `[N]`, both trainable; `N·IN + N` values.
/// - PyTorch: no built-in layer; the golden reference is
///   `torch.exp(-gamma * torch.cdist(x, centres) ** 2)`.
/// - Initialisation ([`Rbf::new`]): centres `U(−1, 1)`, gamma 1 (a unit width for inputs scaled
///   to about `[−1, 1]`). For the classic two-stage training, place the centres with k-means and
///   set the widths with [`Rbf::with_centres`], then train the layers after it.
/// - Backward, with `a[n, j] = dy[n, j]·y[n, j]·gamma_j`:
///   `dx[n] = −2·Σ_j a[n, j]·(x[n] − c_j)`, `d c_j = 2·Σ_n a[n, j]·(x[n] − c_j)`,
///   `d gamma_j = −Σ_n dy[n, j]·y[n, j]·‖x[n] − c_j‖²`.
///
/// The squared distances are summed directly rather than expanded as `‖x‖² + ‖c‖² − 2x·c`
/// through a GEMM: the expansion cancels catastrophically for inputs close to a centre, which is
/// where the output matters most. The backward sums over centres and samples go through GEMM.
///
/// ```
/// use dl_core::{Act, Flat, Layer, Mode, Rbf};
/// let mut rbf = Rbf::<2, 2>::with_centres(vec![0.0, 0.0, 1.0, 1.0], vec![1.0, 2.0]).unwrap();
/// let x = Act::<Flat<2>>::from_vec(vec![1.0, 0.0]).unwrap();
/// let mut y = Act::default();
/// rbf.forward(&x, &mut y, Mode::Eval);
/// // ‖x − c₀‖² = 1, ‖x − c₁‖² = 1: e^(−1) and e^(−2).
/// assert!((y.as_slice()[0] - (-1.0f32).exp()).abs() < 1e-7);
/// assert!((y.as_slice()[1] - (-2.0f32).exp()).abs() < 1e-7);
/// assert_eq!(Rbf::<2, 2>::PARAMS, 6);
/// ```
#[derive(Clone, Debug)]
pub struct Rbf<const IN: usize, const N: usize> {
    /// The centres, `[N, IN]`, one per row.
    pub centres: Param,
    /// The width of each centre, `[N]`: larger is narrower.
    pub gamma: Param,
    /// `a[n, j]` of the last backward (`[batch, N]`); only grows.
    scratch: AlignedVec,
}

impl<const IN: usize, const N: usize> Rbf<IN, N> {
    /// Parameter count.
    pub const PARAMS: usize = crate::shape::rbf_params(IN, N);

    /// Centres drawn from `U(−1, 1)`, every gamma 1.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut centres = vec![0.0; N * IN];
        uniform(&mut centres, 1.0, rng);
        Self::from_parts(centres, vec![1.0; N])
    }

    /// Given centres (`N·IN` values, row-major `[N, IN]`) and widths (`N` values), for example
    /// from k-means.
    ///
    /// ```
    /// let err = dl_core::Rbf::<3, 2>::with_centres(vec![0.0; 5], vec![1.0; 2]).unwrap_err();
    /// assert_eq!(err.to_string(), "`Rbf<3, 2>` centres: expected 6 values ([2, 3]), found 5 values");
    /// ```
    pub fn with_centres(centres: Vec<f32>, gamma: Vec<f32>) -> Result<Self> {
        let check = |what: &str, len: usize, shape: &[usize]| {
            let want: usize = shape.iter().product();
            if len == want {
                return Ok(());
            }
            Err(Error::size(
                format!("`Rbf<{IN}, {N}>` {what}"),
                format!("{want} values ({shape:?})"),
                format!("{len} values"),
            ))
        };
        check("centres", centres.len(), &[N, IN])?;
        check("gamma", gamma.len(), &[N])?;
        Ok(Self::from_parts(centres, gamma))
    }

    fn from_parts(centres: Vec<f32>, gamma: Vec<f32>) -> Self {
        Rbf {
            centres: Param::trainable(&[N, IN], centres),
            gamma: Param::trainable(&[N], gamma),
            scratch: AlignedVec::new(),
        }
    }

    /// `‖x − c_j‖²`, summed in order.
    fn squared_distance(&self, x: &[f32], j: usize) -> f32 {
        let c = &self.centres.value()[j * IN..(j + 1) * IN];
        x.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum()
    }
}

impl<const IN: usize, const N: usize> Parameters for Rbf<IN, N> {
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
        f(ParamName::local("centres"), &self.centres);
        f(ParamName::local("gamma"), &self.gamma);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
        f(ParamName::local("centres"), &mut self.centres);
        f(ParamName::local("gamma"), &mut self.gamma);
    }
}

impl<const IN: usize, const N: usize> Layer<Flat<IN>, Flat<N>> for Rbf<IN, N> {
    fn forward(&mut self, x: &Act<Flat<IN>>, y: &mut Act<Flat<N>>, _mode: Mode) {
        y.set_batch(x.batch());
        for (xn, yn) in x
            .as_slice()
            .chunks_exact(IN)
            .zip(y.as_mut_slice().chunks_exact_mut(N))
        {
            for (j, out) in yn.iter_mut().enumerate() {
                *out = (-self.gamma.value()[j] * self.squared_distance(xn, j)).exp();
            }
        }
    }

    fn backward(
        &mut self,
        x: &Act<Flat<IN>>,
        y: &Act<Flat<N>>,
        dy: &Act<Flat<N>>,
        dx: Option<&mut Act<Flat<IN>>>,
    ) {
        let batch = x.batch();
        debug_assert_eq!(dy.batch(), batch);
        self.scratch.at_least(batch * N);
        // a[n, j] = dy·y·gamma_j, and d gamma_j = −Σ_n dy·y·‖x[n] − c_j‖².
        self.gamma.grad.fill(0.0);
        let rows = x
            .as_slice()
            .chunks_exact(IN)
            .zip(y.as_slice().chunks_exact(N));
        for (n, ((xn, yn), dyn_)) in rows.zip(dy.as_slice().chunks_exact(N)).enumerate() {
            for j in 0..N {
                let e = dyn_[j] * yn[j];
                self.scratch[n * N + j] = e * self.gamma.value()[j];
                self.gamma.grad[j] -= e * self.squared_distance(xn, j);
            }
        }
        let a = &self.scratch[..batch * N];
        // d c_j = 2·(Aᵀ·X)_j − 2·(Σ_n a[n, j])·c_j.
        gemm(
            Trans::T,
            Trans::N,
            N,
            IN,
            batch,
            2.0,
            a,
            N,
            x.as_slice(),
            IN,
            0.0,
            &mut self.centres.grad,
            IN,
        );
        for j in 0..N {
            let col: f32 = a.iter().skip(j).step_by(N).sum();
            let (grad, value) = self.centres.grad_mut_and_value();
            let c = &value[j * IN..(j + 1) * IN];
            for (g, cv) in grad[j * IN..(j + 1) * IN].iter_mut().zip(c) {
                *g -= 2.0 * col * cv;
            }
        }
        // dx[n] = 2·(A·C)[n] − 2·(Σ_j a[n, j])·x[n].
        if let Some(dx) = dx {
            dx.set_batch(batch);
            gemm(
                Trans::N,
                Trans::N,
                batch,
                IN,
                N,
                2.0,
                a,
                N,
                self.centres.value(),
                IN,
                0.0,
                dx.as_mut_slice(),
                IN,
            );
            let rows = dx
                .as_mut_slice()
                .chunks_exact_mut(IN)
                .zip(a.chunks_exact(N));
            for ((dxn, an), xn) in rows.zip(x.as_slice().chunks_exact(IN)) {
                let row: f32 = an.iter().sum();
                for (d, xv) in dxn.iter_mut().zip(xn) {
                    *d -= 2.0 * row * xv;
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
    fn forward_is_one_at_a_centre_and_decays_with_distance() {
        let mut rbf =
            Rbf::<2, 3>::with_centres(vec![0.0, 0.0, 1.0, 2.0, -1.0, 0.0], vec![0.5, 1.0, 3.0])
                .unwrap();
        let x = Act::<Flat<2>>::from_vec(vec![1.0, 2.0]).unwrap();
        let mut y = Act::default();
        rbf.forward(&x, &mut y, Mode::Eval);
        // Distances² 5, 0, 8.
        let want = [(-2.5f32).exp(), 1.0, (-24.0f32).exp()];
        for (g, w) in y.as_slice().iter().zip(want) {
            assert!((g - w).abs() <= 1e-6 * w, "{g} vs {w}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        let mut rbf = Rbf::<3, 4>::new(&mut rng);
        for g in rbf.gamma.value_mut() {
            *g = rng.random_range(0.3..2.0);
        }
        check_layer_gradients::<Flat<3>, Flat<4>, _>(&mut rbf, 5, &mut rng);
    }

    #[test]
    fn new_draws_centres_in_the_unit_box_with_unit_widths() {
        let rbf = Rbf::<4, 50>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
        assert!(rbf.centres.value().iter().all(|c| c.abs() <= 1.0));
        assert!(rbf.centres.value().iter().any(|c| c.abs() > 0.9));
        assert!(rbf.gamma.value().iter().all(|&g| g == 1.0));
        assert_eq!(rbf.num_params(), 250);
        assert_eq!(Rbf::<4, 50>::PARAMS, 250);
    }

    #[test]
    fn wrong_sizes_are_errors_naming_both() {
        let err = Rbf::<2, 3>::with_centres(vec![0.0; 6], vec![1.0; 4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`Rbf<2, 3>` gamma: expected 3 values ([3]), found 4 values"
        );
    }
}
