//! The order in which an epoch visits a data set, in mini-batches.

use crate::error::{Error, Result};
use rand::Rng;
use rand::seq::SliceRandom;

/// Sample indices of one epoch cut into mini-batches of `batch_size` (the last one may be
/// shorter), optionally shuffled with a caller-supplied seeded RNG (Keras `shuffle=True`,
/// PyTorch `DataLoader(shuffle=True)`, `drop_last=False`).
///
/// Reusing one `BatchOrder` across epochs allocates nothing after construction. Pair it with
/// [`crate::data::Dataset::gather`] to fill a batch buffer:
///
/// ```
/// use dl_core::{data::{BatchOrder, Dataset}, Act, Flat};
/// use rand::SeedableRng;
/// # fn main() -> dl_core::Result<()> {
/// let ds = Dataset::<Flat<1>>::new((0..5).map(|v| v as f32).collect(), vec![0; 5], 1)?;
/// let mut order = BatchOrder::new(ds.len(), 2)?;
/// let (mut x, mut y) = (Act::<Flat<1>>::default(), Vec::new());
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// order.shuffle(&mut rng); // once per epoch
/// let mut seen = Vec::new();
/// for idx in order.batches() {
///     ds.gather(idx, &mut x, &mut y);
///     seen.extend_from_slice(x.as_slice());
/// }
/// assert_eq!(order.num_batches(), 3);
/// seen.sort_by(f32::total_cmp);
/// assert_eq!(seen, [0.0, 1.0, 2.0, 3.0, 4.0]); // every sample exactly once
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct BatchOrder {
    indices: Vec<usize>,
    batch_size: usize,
}

impl BatchOrder {
    /// The indices `0..len` in order, in batches of `batch_size` (which must be positive).
    pub fn new(len: usize, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::config("batch size", "must be at least 1, found 0"));
        }
        Ok(BatchOrder {
            indices: (0..len).collect(),
            batch_size,
        })
    }

    /// Shuffles the order (Fisher–Yates from `rng`); call once per epoch. Successive shuffles
    /// continue from the previous order, so a run is reproducible from the seed.
    pub fn shuffle<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.indices.shuffle(rng);
    }

    /// Reorders the indices with a shuffle of the caller's (for example one that reproduces
    /// another library's generator draw for draw). `permute` must only move the indices around:
    /// each must still appear exactly once.
    pub fn reorder(&mut self, permute: impl FnOnce(&mut [usize])) {
        permute(&mut self.indices);
    }

    /// Restores the order `0..len`.
    pub fn reset(&mut self) {
        self.indices
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = i);
    }

    /// The batches of indices, in order.
    pub fn batches(&self) -> std::slice::Chunks<'_, usize> {
        self.indices.chunks(self.batch_size)
    }

    /// Number of batches (`⌈len / batch_size⌉`).
    pub fn num_batches(&self) -> usize {
        self.indices.len().div_ceil(self.batch_size)
    }

    /// All indices, in the current order.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn batches_cover_every_index_once_with_a_short_last_batch() {
        let mut order = BatchOrder::new(10, 4).expect("order");
        let sizes: Vec<usize> = order.batches().map(<[usize]>::len).collect();
        assert_eq!(sizes, [4, 4, 2]);
        order.shuffle(&mut StdRng::seed_from_u64(1));
        let mut all: Vec<usize> = order.batches().flatten().copied().collect();
        assert_ne!(all, (0..10).collect::<Vec<_>>());
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        order.reset();
        assert_eq!(order.indices(), (0..10).collect::<Vec<_>>().as_slice());
    }

    #[test]
    fn same_seed_same_order_and_zero_batch_size_is_an_error() {
        let shuffled = |seed| {
            let mut o = BatchOrder::new(100, 10).expect("order");
            o.shuffle(&mut StdRng::seed_from_u64(seed));
            o.indices().to_vec()
        };
        assert_eq!(shuffled(7), shuffled(7));
        assert_ne!(shuffled(7), shuffled(8));
        let err = BatchOrder::new(5, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid batch size: must be at least 1, found 0"
        );
    }
}
