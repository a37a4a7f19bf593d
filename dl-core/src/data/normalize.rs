//! Normalisation: scaling pixels to [0, 1] and standardising with training-split statistics.
//!
//! Statistics are always computed on the training split only ([`Standardizer::fit`]) and then
//! applied unchanged to the validation and test splits, so no information leaks from them.
//!
//! ```
//! use dl_core::{data::{Dataset, Standardizer, normalize}, Flat};
//! # fn main() -> dl_core::Result<()> {
//! let mut train = Dataset::<Flat<2>>::new(vec![1.0, 10.0, 3.0, 10.0], vec![0, 1], 2)?;
//! let mut test = Dataset::<Flat<2>>::new(vec![5.0, 12.0], vec![0], 2)?;
//! let st = Standardizer::fit(&train);
//! assert_eq!((st.mean(), st.std()), (&[2.0, 10.0][..], &[1.0, 1.0][..])); // 2nd std is 0: kept at 1
//! st.apply(&mut train);
//! st.apply(&mut test);
//! assert_eq!(train.features(), &[-1.0, 0.0, 1.0, 0.0]);
//! assert_eq!(test.features(), &[3.0, 2.0]);
//!
//! let mut pixels = Dataset::<Flat<2>>::new(vec![0.0, 255.0], vec![0], 1)?;
//! normalize::scale_to_unit(&mut pixels);
//! assert_eq!(pixels.features(), &[0.0, 1.0]);
//! # Ok(()) }
//! ```

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::tensor::{Act, Dims, Shape};
use std::marker::PhantomData;

/// Divides every feature by 255: 8-bit pixels to [0, 1] (torchvision's `ToTensor`).
pub fn scale_to_unit<S: Shape>(ds: &mut Dataset<S>) {
    scale(ds, 1.0 / 255.0);
}

/// Multiplies every feature by `factor`.
pub fn scale<S: Shape>(ds: &mut Dataset<S>, factor: f32) {
    ds.features_mut().iter_mut().for_each(|v| *v *= factor);
}

/// Standardisation `x' = (x − mean) / std` with statistics computed on a training split, per
/// feature ([`Standardizer::fit`], scikit-learn's `StandardScaler`) or per channel of an image
/// ([`Standardizer::fit_per_channel`], torchvision's `Normalize`).
///
/// The standard deviation is the population one (divided by `n`, like scikit-learn); a feature
/// that is constant in the training split (std 0, e.g. MNIST's border pixels) keeps std 1, so
/// it is only centred. Statistics are accumulated in `f64`.
///
/// The type is tied to the sample shape `S`, so statistics fitted on one shape cannot be applied
/// to another.
#[derive(Clone, Debug)]
pub struct Standardizer<S: Shape> {
    mean: Vec<f32>,
    std: Vec<f32>,
    /// Consecutive features sharing one statistic (1 per feature, H·W per channel).
    group: usize,
    shape: PhantomData<fn() -> S>,
}

impl<S: Shape> Standardizer<S> {
    /// Per-feature statistics of `train` (one mean and std per value of the sample).
    pub fn fit(train: &Dataset<S>) -> Self {
        Self::fit_groups(train, 1)
    }

    /// Per-channel statistics of `train` (one mean and std per channel, over all pixels of all
    /// images), for samples `[C, H, W]`; for other shapes, the first dimension counts as channels.
    pub fn fit_per_channel(train: &Dataset<S>) -> Self {
        let channels = S::DIMS.first().copied().unwrap_or(1).max(1);
        Self::fit_groups(train, S::SIZE / channels)
    }

    /// Fixed statistics, one per feature (`S::SIZE` values) or one per channel (`S::DIMS[0]`
    /// values), e.g. published dataset statistics. Every std must be positive and finite.
    pub fn with_stats(mean: Vec<f32>, std: Vec<f32>) -> Result<Self> {
        let channels = S::DIMS.first().copied().unwrap_or(1).max(1);
        let group = if mean.len() == S::SIZE {
            1
        } else if mean.len() == channels {
            S::SIZE / channels
        } else {
            return Err(Error::size(
                format!("statistics for {} samples", Dims(S::DIMS)),
                format!(
                    "{} (per feature) or {channels} (per channel) means",
                    S::SIZE
                ),
                format!("{} means", mean.len()),
            ));
        };
        if std.len() != mean.len() {
            return Err(Error::size(
                "standard deviations",
                format!("{} (one per mean)", mean.len()),
                std.len(),
            ));
        }
        if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::config(
                "standard deviation",
                format!("must be positive and finite, found {s}"),
            ));
        }
        Ok(Standardizer {
            mean,
            std,
            group,
            shape: PhantomData,
        })
    }

    fn fit_groups(train: &Dataset<S>, group: usize) -> Self {
        let groups = S::SIZE / group;
        let mut sum = vec![0.0f64; groups];
        let mut sq = vec![0.0f64; groups];
        for i in 0..train.len() {
            for (j, &v) in train.sample(i).iter().enumerate() {
                let g = j / group;
                sum[g] += f64::from(v);
                sq[g] += f64::from(v) * f64::from(v);
            }
        }
        let n = (train.len() * group).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let var = (q / n - m * m).max(0.0);
                let s = var.sqrt();
                // Constant features (up to rounding) are centred only.
                if s <= 1e-7 * m.abs().max(1.0) {
                    1.0
                } else {
                    s as f32
                }
            })
            .collect();
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
            group,
            shape: PhantomData,
        }
    }

    /// The means: one per feature or one per channel.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The standard deviations (1 where the training split was constant).
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// Standardises every sample of `ds` in place.
    pub fn apply(&self, ds: &mut Dataset<S>) {
        self.apply_slice(ds.features_mut());
    }

    /// Standardises every sample of a batch in place.
    pub fn apply_batch(&self, batch: &mut Act<S>) {
        self.apply_slice(batch.as_mut_slice());
    }

    fn apply_slice(&self, values: &mut [f32]) {
        for sample in values.chunks_exact_mut(S::SIZE) {
            for (g, chunk) in sample.chunks_exact_mut(self.group).enumerate() {
                let (m, inv) = (self.mean[g], 1.0 / self.std[g]);
                chunk.iter_mut().for_each(|v| *v = (*v - m) * inv);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Chw, Flat};

    #[test]
    fn fitted_on_train_gives_zero_mean_unit_std_on_train_only() {
        let train_x: Vec<f32> = (0..300)
            .map(|i| ((i * 37) % 101) as f32 * 0.5 + (i % 3) as f32 * 100.0)
            .collect();
        let mut train = Dataset::<Flat<3>>::new(train_x, vec![0; 100], 1).expect("dataset");
        let st = Standardizer::fit(&train);
        st.apply(&mut train);
        for f in 0..3 {
            let col: Vec<f64> = (0..100).map(|i| f64::from(train.sample(i)[f])).collect();
            let mean = col.iter().sum::<f64>() / 100.0;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 100.0;
            assert!(mean.abs() < 1e-5, "feature {f}: mean {mean}");
            assert!((var - 1.0).abs() < 1e-4, "feature {f}: var {var}");
        }
        // The test split uses the training statistics, not its own.
        let mut test =
            Dataset::<Flat<3>>::new(vec![st.mean()[0], 0.0, 0.0], vec![0], 1).expect("dataset");
        st.apply(&mut test);
        assert_eq!(test.sample(0)[0], 0.0);
        assert!(test.sample(0)[1] < -1.0);
    }

    #[test]
    fn per_channel_statistics_pool_every_pixel_of_a_channel() {
        // Two images [2, 1, 2]: channel 0 holds 0, 2, 4, 6; channel 1 holds 10 everywhere.
        let x = vec![0.0, 2.0, 10.0, 10.0, 4.0, 6.0, 10.0, 10.0];
        let mut ds = Dataset::<Chw<2, 1, 2>>::new(x, vec![0, 0], 1).expect("dataset");
        let st = Standardizer::fit_per_channel(&ds);
        assert_eq!(st.mean(), &[3.0, 10.0]);
        assert_eq!(st.std(), &[5.0f32.sqrt(), 1.0]);
        st.apply(&mut ds);
        let s5 = 5.0f32.sqrt();
        let want = [-3.0 / s5, -1.0 / s5, 0.0, 0.0];
        for (g, w) in ds.sample(0).iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        let mut batch = Act::<Chw<2, 1, 2>>::from_vec(vec![3.0, 3.0, 11.0, 9.0]).expect("batch");
        st.apply_batch(&mut batch);
        assert_eq!(batch.as_slice(), &[0.0, 0.0, 1.0, -1.0]);
    }

    #[test]
    fn with_stats_checks_lengths_and_positivity() {
        let ok = Standardizer::<Chw<3, 2, 2>>::with_stats(vec![0.5; 3], vec![0.25; 3])
            .expect("per channel");
        assert_eq!(ok.mean().len(), 3);
        let err =
            Standardizer::<Chw<3, 2, 2>>::with_stats(vec![0.5; 4], vec![0.25; 4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "statistics for [3, 2, 2] samples: expected 12 (per feature) or 3 (per channel) means, found 4 means"
        );
        let err = Standardizer::<Flat<2>>::with_stats(vec![0.0; 2], vec![1.0, 0.0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid standard deviation: must be positive and finite, found 0"
        );
    }

    #[test]
    fn digits_standardised_with_training_statistics_only() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/digits/digits.csv.gz");
        let all = crate::data::csv::load::<64>(path).expect("digits");
        // The README's split: every fifth row is a test row.
        let (test_idx, train_idx): (Vec<usize>, Vec<usize>) =
            (0..all.len()).partition(|i| i % 5 == 0);
        let (mut train, mut test) = (all.subset(&train_idx), all.subset(&test_idx));
        assert_eq!((train.len(), test.len()), (1437, 360));
        let st = Standardizer::fit(&train);
        st.apply(&mut train);
        st.apply(&mut test);
        let mean_of = |ds: &Dataset<Flat<64>>, f: usize| {
            (0..ds.len())
                .map(|i| f64::from(ds.sample(i)[f]))
                .sum::<f64>()
                / ds.len() as f64
        };
        // Feature 0 is always 0 (std kept at 1); the others are centred on train, not on test.
        assert_eq!(st.std()[0], 1.0);
        let worst_train = (0..64)
            .map(|f| mean_of(&train, f).abs())
            .fold(0.0, f64::max);
        let worst_test = (0..64).map(|f| mean_of(&test, f).abs()).fold(0.0, f64::max);
        assert!(worst_train < 1e-5, "{worst_train}");
        assert!(worst_test > 1e-3, "{worst_test}");
    }

    #[test]
    fn mnist_pixels_scale_into_the_unit_interval() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist-10k");
        let (mut train, _) = crate::data::mnist::load_flat(dir).expect("loads");
        scale_to_unit(&mut train);
        let max = train.features().iter().copied().fold(0.0f32, f32::max);
        assert_eq!(max, 1.0);
        assert!(train.features().iter().all(|&v| (0.0..=1.0).contains(&v)));
    }
}
