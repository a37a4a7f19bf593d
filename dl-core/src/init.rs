//! Weight initialisers, all driven by a caller-supplied seeded RNG.
//!
//! `fan_in` and `fan_out` follow PyTorch: for a weight `[out, in, k, k]`, `fan_in = in·k·k` and
//! `fan_out = out·k·k`.

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// How to draw a weight tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// PyTorch's default for `Linear` and `Conv2d` weights: Kaiming-uniform with `a = √5`, which is
    /// `U(-b, b)` with `b = 1/√fan_in`.
    PytorchDefault,
    /// Glorot/Xavier uniform: `U(-b, b)`, `b = √(6 / (fan_in + fan_out))`.
    GlorotUniform,
    /// Glorot/Xavier normal: `N(0, 2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// He (Kaiming) normal for ReLU: `N(0, 2 / fan_in)`.
    HeNormal,
    /// All zeros.
    Zeros,
    /// A constant.
    Constant(f32),
}

impl Init {
    /// Fills `out` for a tensor with the given fans.
    ///
    /// ```
    /// use dl_core::init::Init;
    /// use rand::SeedableRng;
    /// let mut w = vec![0.0; 1000];
    /// Init::PytorchDefault.fill(&mut w, 25, 6, &mut rand::rngs::StdRng::seed_from_u64(1));
    /// assert!(w.iter().all(|v| v.abs() <= 0.2)); // 1/√25
    /// assert!(w.iter().any(|v| v.abs() > 0.18));
    /// ```
    pub fn fill<R: Rng + ?Sized>(
        self,
        out: &mut [f32],
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) {
        let fan_in = fan_in.max(1) as f32;
        let fan_out = fan_out.max(1) as f32;
        match self {
            Init::PytorchDefault => uniform(out, 1.0 / fan_in.sqrt(), rng),
            Init::GlorotUniform => uniform(out, (6.0 / (fan_in + fan_out)).sqrt(), rng),
            Init::GlorotNormal => normal(out, (2.0 / (fan_in + fan_out)).sqrt(), rng),
            Init::HeNormal => normal(out, (2.0 / fan_in).sqrt(), rng),
            Init::Zeros => out.fill(0.0),
            Init::Constant(c) => out.fill(c),
        }
    }
}

/// Fills with `U(-bound, bound)`; PyTorch's default bias initialiser is `bound = 1/√fan_in`.
pub fn uniform<R: Rng + ?Sized>(out: &mut [f32], bound: f32, rng: &mut R) {
    if bound <= 0.0 {
        out.fill(0.0);
        return;
    }
    let dist =
        Uniform::new_inclusive(-bound, bound).expect("invariant: bound is positive and finite");
    for v in out {
        *v = dist.sample(rng);
    }
}

/// Fills with `N(0, std²)`.
pub fn normal<R: Rng + ?Sized>(out: &mut [f32], std: f32, rng: &mut R) {
    let dist = Normal::new(0.0, std).expect("invariant: std is finite and non-negative");
    for v in out {
        *v = dist.sample(rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn moments(v: &[f32]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        (mean, var)
    }

    #[test]
    fn variances_follow_the_formulas() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut w = vec![0.0; 200_000];
        let (fi, fo) = (300, 100);
        let cases = [
            (Init::PytorchDefault, 1.0 / (3.0 * fi as f64)),
            (Init::GlorotUniform, 2.0 / (fi + fo) as f64),
            (Init::GlorotNormal, 2.0 / (fi + fo) as f64),
            (Init::HeNormal, 2.0 / fi as f64),
        ];
        for (init, want) in cases {
            init.fill(&mut w, fi, fo, &mut rng);
            let (mean, var) = moments(&w);
            assert!(mean.abs() < 1e-3, "{init:?} mean {mean}");
            assert!(
                (var / want - 1.0).abs() < 0.02,
                "{init:?} var {var} want {want}"
            );
        }
    }

    #[test]
    fn same_seed_same_weights() {
        let draw = |seed| {
            let mut w = vec![0.0; 16];
            Init::GlorotUniform.fill(&mut w, 4, 4, &mut rand::rngs::StdRng::seed_from_u64(seed));
            w
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }
}
