//! Radial basis function networks (Broomhead and Lowe, "Multivariable functional interpolation
//! and adaptive networks", Complex Systems 2, 1988; Moody and Darken, "Fast learning in networks
//! of locally-tuned processing units", Neural Computation 1(2), 1989): a layer of Gaussian units
//! `exp(−γ_j·‖x − c_j‖²)` followed by a linear output layer.
//!
//! Two ways to train one:
//! - [`TwoStage`], the classic one of Moody and Darken: place the centres with k-means
//!   ([`kmeans`], seeded k-means++ start), set each width from the spacing of the centres
//!   (`σ_j = s·(distance from c_j to its nearest other centre)`, `γ_j = 1/(2σ_j²)`), then solve the
//!   output layer (weights and bias) by ridge least squares ([`crate::lstsq::ridge`]). No
//!   gradient, no learning rate, one pass.
//! - [`fit_gradient`]: end-to-end gradient descent on centres, widths and output weights with
//!   any loss (e.g. `Mse`) and optimizer, full batch.
//!
//! ```
//! use dl_core::{Act, Flat};
//! use dl_zoo::rbf::{RbfXor, TwoStage};
//! use rand::SeedableRng;
//! # fn main() -> dl_core::Result<()> {
//! let x = Act::<Flat<2>>::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])?;
//! let xor = [0.0, 1.0, 1.0, 0.0];
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let mut net = RbfXor::new(&mut rng);
//! net.fit_two_stage(&TwoStage::default(), &x, &xor, &mut rng)?;
//! let y = net.forward(&x);
//! for (out, want) in y.as_slice().iter().zip(xor) {
//!     assert!((out - want).abs() < 1e-3, "{out} vs {want}");
//! }
//! # Ok(()) }
//! ```
//!
//! The layer tables (`SUMMARY`; a test in `lib.rs` keeps them equal):
//!
//! ```text
//! Model: RbfXor
//! Layer (type)       Output shape  Param #
//! ========================================
//! input              [2]                 0
//! 0 (Rbf<2 => 4>)    [4]                12
//! 1 (Dense<4 => 1>)  [1]                 5
//! ========================================
//! Total params: 17
//! ```
//!
//! ```text
//! Model: RbfSine
//! Layer (type)        Output shape  Param #
//! =========================================
//! input               [1]                 0
//! 0 (Rbf<1 => 16>)    [16]               32
//! 1 (Dense<16 => 1>)  [1]                17
//! =========================================
//! Total params: 49
//! ```
//!
//! ```text
//! Model: RbfIris
//! Layer (type)        Output shape  Param #
//! =========================================
//! input               [4]                 0
//! 0 (Rbf<4 => 12>)    [12]               60
//! 1 (Dense<12 => 3>)  [3]                39
//! =========================================
//! Total params: 99
//! ```

use crate::lstsq;
use dl_core::prelude::*;
use rand::Rng;

sequential! {
    /// An RBF network for XOR: 2 inputs, 4 Gaussian units, 1 linear output (17 parameters).
    ///
    /// PyTorch: `torch.exp(-gamma * torch.cdist(x, centres) ** 2) @ w.T + b`.
    ///
    /// ```
    /// assert_eq!(dl_zoo::rbf::RbfXor::PARAMS, 4 * 2 + 4 + 4 + 1);
    /// ```
    pub struct RbfXor: [2] -> [1] {
        Rbf<4>,
        Dense<1>,
    }

    /// An RBF network for one-dimensional regression (`sin(x)` on [0, 2π]): 1 input, 16
    /// Gaussian units, 1 linear output (49 parameters).
    ///
    /// ```
    /// assert_eq!(dl_zoo::rbf::RbfSine::PARAMS, 16 + 16 + 16 + 1);
    /// ```
    pub struct RbfSine: [1] -> [1] {
        Rbf<16>,
        Dense<1>,
    }

    /// An RBF classifier for iris: 4 (standardised) measurements, 12 Gaussian units, 3 linear
    /// outputs read as class scores (99 parameters); trained on one-hot targets.
    ///
    /// ```
    /// assert_eq!(dl_zoo::rbf::RbfIris::PARAMS, 12 * 4 + 12 + 12 * 3 + 3);
    /// ```
    pub struct RbfIris: [4] -> [3] {
        Rbf<12>,
        Dense<3>,
    }
}

/// k-means (Lloyd's algorithm) with a seeded k-means++ start: `k` centres (row-major, `k × dim`)
/// for the `n = data.len() / dim` points in `data`.
///
/// Iterates until no point changes cluster or `max_iters` passes; a cluster that loses all its
/// points is moved to the point farthest from its centre. Errors when `data` is not a whole
/// number of points, when there are fewer points than centres, or when `k` or `dim` is 0.
///
/// ```
/// use rand::SeedableRng;
/// let pts = [0.0, 0.2, 10.0, 10.2];
/// let mut c = dl_zoo::rbf::kmeans(&pts, 1, 2, 100, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
/// c.sort_by(f32::total_cmp);
/// assert!((c[0] - 0.1).abs() < 1e-6 && (c[1] - 10.1).abs() < 1e-5);
/// ```
pub fn kmeans<R: Rng + ?Sized>(
    data: &[f32],
    dim: usize,
    k: usize,
    max_iters: usize,
    rng: &mut R,
) -> Result<Vec<f32>> {
    if dim == 0 || k == 0 {
        return Err(Error::config(
            "k-means",
            format!("needs at least one centre and one dimension, found k = {k}, dim = {dim}"),
        ));
    }
    if !data.len().is_multiple_of(dim) || data.len() / dim < k {
        return Err(Error::size(
            format!("k-means data for {k} centres"),
            format!("at least {k} points of {dim} values"),
            format!("{} values", data.len()),
        ));
    }
    let n = data.len() / dim;
    let point = |i: usize| &data[i * dim..(i + 1) * dim];
    let dist2 =
        |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum() };

    // k-means++: the first centre uniformly, each next one with probability ∝ D².
    let mut centres = Vec::with_capacity(k * dim);
    centres.extend_from_slice(point(rng.random_range(0..n)));
    let mut nearest: Vec<f32> = (0..n).map(|i| dist2(point(i), &centres[..dim])).collect();
    for _ in 1..k {
        let total: f64 = nearest.iter().map(|&d| d as f64).sum();
        let chosen = if total > 0.0 {
            let mut r = rng.random_range(0.0..total);
            let mut pick = n - 1;
            for (i, &d) in nearest.iter().enumerate() {
                if r < d as f64 {
                    pick = i;
                    break;
                }
                r -= d as f64;
            }
            pick
        } else {
            rng.random_range(0..n)
        };
        let start = centres.len();
        centres.extend_from_slice(point(chosen));
        for (i, d) in nearest.iter_mut().enumerate() {
            *d = d.min(dist2(point(i), &centres[start..]));
        }
    }

    // Lloyd iterations.
    let mut assign = vec![usize::MAX; n];
    let mut sums = vec![0.0f64; k * dim];
    let mut counts = vec![0usize; k];
    for _ in 0..max_iters {
        let mut changed = false;
        for (i, a) in assign.iter_mut().enumerate() {
            let best = (0..k)
                .map(|j| (j, dist2(point(i), &centres[j * dim..(j + 1) * dim])))
                .fold((0, f32::INFINITY), |m, c| if c.1 < m.1 { c } else { m })
                .0;
            if *a != best {
                *a = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        sums.fill(0.0);
        counts.fill(0);
        for (i, &a) in assign.iter().enumerate() {
            counts[a] += 1;
            for (s, &v) in sums[a * dim..(a + 1) * dim].iter_mut().zip(point(i)) {
                *s += v as f64;
            }
        }
        for j in 0..k {
            if counts[j] > 0 {
                for (c, s) in centres[j * dim..(j + 1) * dim]
                    .iter_mut()
                    .zip(&sums[j * dim..(j + 1) * dim])
                {
                    *c = (s / counts[j] as f64) as f32;
                }
            } else {
                // An empty cluster takes the point worst served by its centre.
                let far = (0..n)
                    .map(|i| {
                        let a = assign[i];
                        (i, dist2(point(i), &centres[a * dim..(a + 1) * dim]))
                    })
                    .fold((0, -1.0), |m, c| if c.1 > m.1 { c } else { m })
                    .0;
                centres[j * dim..(j + 1) * dim].copy_from_slice(point(far));
                assign[far] = j;
            }
        }
    }
    Ok(centres)
}

/// The classic two-stage training of an RBF network (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TwoStage {
    /// Lloyd iterations at most.
    pub kmeans_iters: usize,
    /// `s` in `σ_j = s·(distance to the nearest other centre)`.
    pub width_scale: f32,
    /// λ of the output layer's ridge least squares (bias included).
    pub ridge: f64,
}

impl Default for TwoStage {
    /// 100 k-means iterations, `s = 1`, `λ = 1e-8`.
    fn default() -> Self {
        TwoStage {
            kmeans_iters: 100,
            width_scale: 1.0,
            ridge: 1e-8,
        }
    }
}

impl TwoStage {
    /// Trains `rbf` and `out` on inputs `x` and `targets` (`x.batch() × OUT` values, row-major;
    /// one-hot rows for a classifier): centres by k-means, widths from the centre spacing, then
    /// the output weights and bias by ridge least squares on the hidden activations.
    pub fn fit<const IN: usize, const N: usize, const OUT: usize, R: Rng + ?Sized>(
        &self,
        rbf: &mut Rbf<IN, N>,
        out: &mut Dense<N, OUT>,
        x: &Act<Flat<IN>>,
        targets: &[f32],
        rng: &mut R,
    ) -> Result<()> {
        let rows = x.batch();
        if targets.len() != rows * OUT {
            return Err(Error::size(
                "RBF targets",
                format!("{} values ({rows} samples of [{OUT}])", rows * OUT),
                format!("{} values", targets.len()),
            ));
        }
        if !(self.width_scale > 0.0 && self.width_scale.is_finite()) {
            return Err(Error::config(
                "RBF width scale",
                format!("must be positive, found {}", self.width_scale),
            ));
        }
        let centres = kmeans(x.as_slice(), IN, N, self.kmeans_iters, rng)?;
        let gamma = widths(&centres, x.as_slice(), IN, self.width_scale)?;
        *rbf = Rbf::with_centres(centres, gamma)?;

        let mut hidden = Act::<Flat<N>>::default();
        rbf.forward(x, &mut hidden, Mode::Eval);
        let cols = N + 1;
        let mut design = Vec::with_capacity(rows * cols);
        for h in hidden.as_slice().chunks_exact(N) {
            design.extend(h.iter().map(|&v| v as f64));
            design.push(1.0);
        }
        let t: Vec<f64> = targets.iter().map(|&v| v as f64).collect();
        let sol = lstsq::ridge(&design, rows, cols, &t, OUT, self.ridge)?;
        for o in 0..OUT {
            for j in 0..N {
                out.weight.value_mut()[o * N + j] = sol[j * OUT + o] as f32;
            }
            out.bias.value_mut()[o] = sol[N * OUT + o] as f32;
        }
        Ok(())
    }
}

/// `γ_j = 1/(2σ_j²)` with `σ_j = scale·(distance from centre j to its nearest other centre)`; a
/// single centre takes the root-mean-square distance of the data to it.
fn widths(centres: &[f32], data: &[f32], dim: usize, scale: f32) -> Result<Vec<f32>> {
    let k = centres.len() / dim;
    let c = |j: usize| &centres[j * dim..(j + 1) * dim];
    let dist2 =
        |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum() };
    (0..k)
        .map(|j| {
            let d2 = if k == 1 {
                let n = (data.len() / dim).max(1);
                data.chunks_exact(dim).map(|p| dist2(p, c(0))).sum::<f32>() / n as f32
            } else {
                (0..k)
                    .filter(|&i| i != j)
                    .map(|i| dist2(c(i), c(j)))
                    .fold(f32::INFINITY, f32::min)
            };
            let sigma2 = scale * scale * d2;
            if sigma2 > 0.0 && sigma2.is_finite() {
                Ok(1.0 / (2.0 * sigma2))
            } else {
                Err(Error::config(
                    "RBF centres",
                    format!("centre {j} has no spread (coincides with another centre or with all the data); use fewer centres"),
                ))
            }
        })
        .collect()
}

/// End-to-end training: `epochs` full-batch steps of `loss` (regression targets, e.g.
/// `dl_core::loss::Mse`) through every layer, centres and widths included, with `optimizer`.
/// Returns the loss before each step.
pub fn fit_gradient<M, L>(
    model: &mut M,
    x: &Act<M::Input>,
    targets: &[f32],
    loss: &L,
    optimizer: &mut dyn Optimizer,
    epochs: usize,
) -> Result<Vec<f32>>
where
    M: Model,
    L: Loss<M::Output, Target = [f32]>,
{
    let mut grad = Act::<M::Output>::default();
    let mut curve = Vec::with_capacity(epochs);
    for _ in 0..epochs {
        let y = model.forward_train(x);
        let value = loss.loss_and_grad(y, targets, &mut grad)?;
        if !value.is_finite() {
            return Err(Error::config(
                "RBF gradient training",
                format!(
                    "the loss became {value} at step {}; lower the learning rate",
                    curve.len() + 1
                ),
            ));
        }
        curve.push(value);
        model.backward_params(x, &grad);
        optimizer.step(model);
    }
    Ok(curve)
}

macro_rules! two_stage_methods {
    ($($model:ident: $in:literal => $out:literal),*) => {$(
        impl $model {
            /// Two-stage training of the network ([`TwoStage::fit`]).
            pub fn fit_two_stage<R: Rng + ?Sized>(
                &mut self,
                how: &TwoStage,
                x: &Act<Flat<$in>>,
                targets: &[f32],
                rng: &mut R,
            ) -> Result<()> {
                how.fit(&mut self.l0_rbf, &mut self.l1_dense, x, targets, rng)
            }
        }
    )*};
}
two_stage_methods!(RbfXor: 2 => 1, RbfSine: 1 => 1, RbfIris: 4 => 3);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn kmeans_finds_three_separated_blobs_and_is_seed_deterministic() {
        let mut rng = StdRng::seed_from_u64(5);
        let blobs = [(0.0f32, 0.0f32), (5.0, 5.0), (-5.0, 5.0)];
        let mut data = Vec::new();
        for &(cx, cy) in &blobs {
            for _ in 0..30 {
                data.push(cx + rng.random_range(-0.5..0.5));
                data.push(cy + rng.random_range(-0.5..0.5));
            }
        }
        let c = kmeans(&data, 2, 3, 100, &mut StdRng::seed_from_u64(1)).unwrap();
        for &(bx, by) in &blobs {
            let hit = c
                .chunks_exact(2)
                .any(|p| (p[0] - bx).abs() < 0.3 && (p[1] - by).abs() < 0.3);
            assert!(hit, "no centre near ({bx}, {by}): {c:?}");
        }
        assert_eq!(
            c,
            kmeans(&data, 2, 3, 100, &mut StdRng::seed_from_u64(1)).unwrap()
        );
    }

    #[test]
    fn widths_follow_the_nearest_centre_spacing() {
        let g = widths(&[0.0, 1.0, 3.0], &[], 1, 1.0).unwrap();
        // Nearest distances 1, 1, 2 → σ² = 1, 1, 4 → γ = 1/2, 1/2, 1/8.
        assert_eq!(g, [0.5, 0.5, 0.125]);
        let err = widths(&[1.0, 1.0], &[], 1, 1.0).unwrap_err();
        assert!(err.to_string().contains("centre 0 has no spread"), "{err}");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = StdRng::seed_from_u64(0);
        let err = kmeans(&[0.0; 4], 2, 3, 10, &mut rng).unwrap_err();
        assert_eq!(
            err.to_string(),
            "k-means data for 3 centres: expected at least 3 points of 2 values, found 4 values"
        );
        let mut net = RbfXor::new(&mut rng);
        let x = Act::<Flat<2>>::zeros(4);
        let err = net
            .fit_two_stage(&TwoStage::default(), &x, &[0.0; 3], &mut rng)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "RBF targets: expected 4 values (4 samples of [1]), found 3 values"
        );
    }
}
