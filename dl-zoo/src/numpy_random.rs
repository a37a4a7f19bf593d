//! NumPy's legacy `numpy.random.RandomState`, draw for draw: the generator scikit-learn uses for
//! `random_state=N`.
//!
//! With it, [`crate::mlp::SklearnSgd`] run with seed `N` starts from the same weights and visits
//! the batches in the same order as `MLPClassifier(random_state=N)`, so a figure measured here
//! compares run for run with scikit-learn's, not only in distribution.
//!
//! The Mersenne Twister itself comes from `rand_mt` (the reference MT19937 with `init_genrand`
//! seeding, as NumPy seeds it from an integer); this module adds NumPy's way of turning its
//! 32-bit words into doubles and into a shuffle.
//!
//! ```
//! use dl_zoo::numpy_random::RandomState;
//! // numpy.random.RandomState(1).random_sample(2) == [0.417022004702574, 0.7203244934421581]
//! let mut rs = RandomState::new(1);
//! assert_eq!(rs.random_sample(), 0.417022004702574);
//! assert_eq!(rs.random_sample(), 0.7203244934421581);
//! ```

use rand_mt::Mt;

/// `numpy.random.RandomState(seed)`: MT19937 seeded like NumPy seeds it from an integer.
#[derive(Clone, Debug)]
pub struct RandomState {
    mt: Mt,
}

impl RandomState {
    /// `RandomState(seed)`. NumPy takes seeds in `0..2³²`, hence `u32`.
    pub fn new(seed: u32) -> Self {
        RandomState { mt: Mt::new(seed) }
    }

    /// `random_sample()`: a double in `[0, 1)` built from two 32-bit words (27 + 26 bits).
    pub fn random_sample(&mut self) -> f64 {
        let a = f64::from(self.mt.next_u32() >> 5);
        let b = f64::from(self.mt.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `uniform(low, high)`: `low + (high − low)·random_sample()`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// `shuffle(xs)` for a 1-D array: Fisher–Yates from the last element down, each index drawn
    /// in `0..=i` by masking a 32-bit word to the bits of `i` and rejecting values above it.
    ///
    /// Shuffling an order in place composes like scikit-learn's `sample_idx =
    /// shuffle(sample_idx)`: the swaps act on positions, whatever the array holds.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.interval(i);
            xs.swap(i, j);
        }
    }

    /// NumPy's `random_interval(max)`: uniform in `0..=max` by masked rejection.
    fn interval(&mut self, max: usize) -> usize {
        let mask = usize::MAX >> max.leading_zeros();
        if let Ok(max32) = u32::try_from(max) {
            let mask = mask as u32;
            loop {
                let v = self.mt.next_u32() & mask;
                if v <= max32 {
                    return v as usize;
                }
            }
        }
        loop {
            let v = ((u64::from(self.mt.next_u32()) << 32) | u64::from(self.mt.next_u32()))
                as usize
                & mask;
            if v <= max {
                return v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by NumPy 2.4.6:
    /// `RandomState(1).uniform(-0.25, 0.25, (2, 3))`.
    #[test]
    fn uniform_matches_numpy() {
        let want = [
            -0.041489,
            0.11016225,
            -0.24994281,
            -0.09883371,
            -0.17662205,
            -0.2038307,
        ];
        let mut rs = RandomState::new(1);
        for w in want {
            let got = rs.uniform(-0.25, 0.25);
            assert!((got - w).abs() < 1e-8, "got {got}, NumPy {w}");
        }
    }

    /// NumPy 2.4.6: `r = RandomState(7); i = arange(10); r.shuffle(i)` gives the first list;
    /// shuffling `arange(10)` again from the same `r` and indexing `i` with it gives the second
    /// (scikit-learn's epoch-by-epoch `sample_idx = shuffle(sample_idx)`).
    #[test]
    fn shuffle_matches_numpy_and_composes_like_scikit_learn() {
        let mut rs = RandomState::new(7);
        let mut order: Vec<usize> = (0..10).collect();
        rs.shuffle(&mut order);
        assert_eq!(order, [8, 5, 0, 2, 1, 9, 7, 3, 6, 4]);
        rs.shuffle(&mut order);
        assert_eq!(order, [5, 2, 0, 9, 4, 8, 1, 7, 3, 6]);
    }
}
