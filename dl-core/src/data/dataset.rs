//! An in-memory labelled data set whose samples have a compile-time shape.

use crate::error::{Error, Result};
use crate::tensor::{Act, Dims, Shape};
use std::marker::PhantomData;

/// Samples of shape `S` held in memory: features row-major (`len × S::SIZE` values, the PyTorch
/// layout) and, for classification ([`Dataset::new`]), one class id per sample in `0..classes`,
/// or, for regression ([`Dataset::with_targets`]), `target_size` `f32` values per sample.
///
/// The shape is part of the type, so a data set of `[1, 28, 28]` images cannot be given to a model
/// declared for `[3, 32, 32]`.
///
/// ```
/// use dl_core::{data::Dataset, Flat};
/// let ds = Dataset::<Flat<2>>::new(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], vec![0, 1, 1], 2).unwrap();
/// assert_eq!(ds.len(), 3);
/// assert_eq!(ds.sample(2), &[4.0, 5.0]);
/// let (train, val) = ds.split_at(2);
/// assert_eq!((train.len(), val.labels()), (2, &[1][..]));
/// let err = Dataset::<Flat<2>>::new(vec![0.0; 4], vec![0, 2], 2).unwrap_err();
/// assert_eq!(err.to_string(), "label 2 at position 1 is out of range: the model has 2 classes");
/// ```
pub struct Dataset<S: Shape> {
    features: Vec<f32>,
    labels: Vec<usize>,
    classes: usize,
    /// Regression targets, `target_size` per sample; empty (and `target_size` 0) for labels.
    targets: Vec<f32>,
    target_size: usize,
    shape: PhantomData<fn() -> S>,
}

impl<S: Shape> Clone for Dataset<S> {
    fn clone(&self) -> Self {
        Dataset {
            features: self.features.clone(),
            labels: self.labels.clone(),
            classes: self.classes,
            targets: self.targets.clone(),
            target_size: self.target_size,
            shape: PhantomData,
        }
    }
}

impl<S: Shape> std::fmt::Debug for Dataset<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("shape", &Dims(S::DIMS).to_string())
            .field("len", &self.len())
            .field("classes", &self.classes)
            .field("target_size", &self.target_size)
            .finish()
    }
}

impl<S: Shape> Dataset<S> {
    /// A data set from row-major features and labels; checks that the counts agree and that every
    /// label is below `classes`.
    pub fn new(features: Vec<f32>, labels: Vec<usize>, classes: usize) -> Result<Self> {
        if features.len() != labels.len() * S::SIZE {
            return Err(Error::size(
                format!("data set of {} samples", Dims(S::DIMS)),
                format!(
                    "{} values for {} labels",
                    labels.len() * S::SIZE,
                    labels.len()
                ),
                format!("{} values", features.len()),
            ));
        }
        if let Some((index, &label)) = labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
            return Err(Error::LabelOutOfRange {
                label,
                index,
                classes,
            });
        }
        Ok(Dataset {
            features,
            labels,
            classes,
            targets: Vec::new(),
            target_size: 0,
            shape: PhantomData,
        })
    }

    /// A regression data set: row-major features and `target_size` `f32` targets per sample
    /// (what [`crate::loss::Loss`]es with an `[f32]` target compare the prediction with). It has
    /// no class labels ([`Dataset::labels`] is empty, [`Dataset::classes`] is 0).
    ///
    /// ```
    /// use dl_core::{data::Dataset, Flat};
    /// let ds = Dataset::<Flat<1>>::with_targets(vec![0.0, 1.0, 2.0], vec![0.0, 2.0, 4.0], 1).unwrap();
    /// assert_eq!((ds.len(), ds.targets(), ds.target_size()), (3, Some(&[0.0, 2.0, 4.0][..]), 1));
    /// let err = Dataset::<Flat<1>>::with_targets(vec![0.0; 3], vec![0.0; 4], 1).unwrap_err();
    /// assert_eq!(err.to_string(), "targets of 3 samples: expected 3 values (1 per sample), found 4 values");
    /// ```
    pub fn with_targets(features: Vec<f32>, targets: Vec<f32>, target_size: usize) -> Result<Self> {
        if !features.len().is_multiple_of(S::SIZE) {
            return Err(Error::size(
                format!("data set of {} samples", Dims(S::DIMS)),
                format!("a multiple of {} values", S::SIZE),
                format!("{} values", features.len()),
            ));
        }
        let len = features.len() / S::SIZE;
        if target_size == 0 || targets.len() != len * target_size {
            return Err(Error::size(
                format!("targets of {len} samples"),
                format!("{} values ({target_size} per sample)", len * target_size),
                format!("{} values", targets.len()),
            ));
        }
        Ok(Dataset {
            features,
            labels: Vec::new(),
            classes: 0,
            targets,
            target_size,
            shape: PhantomData,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.features.len() / S::SIZE
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Whether the samples carry class labels ([`Dataset::new`]) rather than `f32` targets.
    pub fn is_labelled(&self) -> bool {
        self.target_size == 0
    }

    /// The `f32` targets of a regression data set, row-major; `None` for a labelled one.
    pub fn targets(&self) -> Option<&[f32]> {
        (!self.is_labelled()).then_some(&self.targets[..])
    }

    /// Number of `f32` targets per sample; 0 for a labelled data set.
    pub fn target_size(&self) -> usize {
        self.target_size
    }

    /// Number of classes (0 for a regression data set).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// All features, row-major.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// All features, mutable (for normalisation in place).
    pub fn features_mut(&mut self) -> &mut [f32] {
        &mut self.features
    }

    /// All labels.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Sample `i`'s features.
    pub fn sample(&self, i: usize) -> &[f32] {
        &self.features[i * S::SIZE..(i + 1) * S::SIZE]
    }

    /// The same samples viewed with another shape of the same size, e.g. `[1, 28, 28]` images as
    /// flat 784-value vectors for an MLP (a size mismatch is a compile error).
    ///
    /// ```
    /// use dl_core::{data::Dataset, Chw, Flat};
    /// let img = Dataset::<Chw<1, 2, 2>>::new(vec![1.0, 2.0, 3.0, 4.0], vec![0], 1).unwrap();
    /// let flat: Dataset<Flat<4>> = img.reshape();
    /// assert_eq!(flat.sample(0), &[1.0, 2.0, 3.0, 4.0]);
    /// ```
    pub fn reshape<T: Shape>(self) -> Dataset<T> {
        const { assert!(S::SIZE == T::SIZE, "reshape must keep the sample size") };
        Dataset {
            features: self.features,
            labels: self.labels,
            classes: self.classes,
            targets: self.targets,
            target_size: self.target_size,
            shape: PhantomData,
        }
    }

    /// The first `n` samples and the rest (`n` is clamped to the length).
    pub fn split_at(&self, n: usize) -> (Self, Self) {
        let n = n.min(self.len());
        (self.subset_range(0..n), self.subset_range(n..self.len()))
    }

    /// The contiguous samples in `range`.
    fn subset_range(&self, range: std::ops::Range<usize>) -> Self {
        let t = self.target_size;
        Dataset {
            features: self.features[range.start * S::SIZE..range.end * S::SIZE].to_vec(),
            labels: self.labels.get(range.clone()).unwrap_or_default().to_vec(),
            classes: self.classes,
            targets: self.targets[range.start * t..range.end * t].to_vec(),
            target_size: t,
            shape: PhantomData,
        }
    }

    /// The samples at `indices`, in that order (indices must be below `len()`).
    pub fn subset(&self, indices: &[usize]) -> Self {
        let mut features = Vec::with_capacity(indices.len() * S::SIZE);
        let mut targets = Vec::with_capacity(indices.len() * self.target_size);
        for &i in indices {
            features.extend_from_slice(self.sample(i));
            targets.extend_from_slice(self.target(i));
        }
        Dataset {
            features,
            labels: if self.is_labelled() {
                indices.iter().map(|&i| self.labels[i]).collect()
            } else {
                Vec::new()
            },
            classes: self.classes,
            targets,
            target_size: self.target_size,
            shape: PhantomData,
        }
    }

    /// Sample `i`'s `f32` targets (empty for a labelled data set).
    pub fn target(&self, i: usize) -> &[f32] {
        &self.targets[i * self.target_size..(i + 1) * self.target_size]
    }

    /// Copies the samples at `indices` into a batch buffer and their labels into `labels` (left
    /// empty for a regression data set), reusing both buffers' memory (no allocation once they
    /// have held a batch this large).
    pub fn gather(&self, indices: &[usize], batch: &mut Act<S>, labels: &mut Vec<usize>) {
        self.gather_features(indices, batch);
        labels.clear();
        if self.is_labelled() {
            labels.extend(indices.iter().map(|&i| self.labels[i]));
        }
    }

    /// Copies the samples at `indices` into a batch buffer (no allocation once it has held a
    /// batch this large).
    pub fn gather_features(&self, indices: &[usize], batch: &mut Act<S>) {
        batch.set_batch(indices.len());
        for (k, &i) in indices.iter().enumerate() {
            batch.sample_mut(k).copy_from_slice(self.sample(i));
        }
    }
}
