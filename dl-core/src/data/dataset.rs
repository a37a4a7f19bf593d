//! An in-memory labelled data set whose samples have a compile-time shape.

use crate::error::{Error, Result};
use crate::tensor::{Act, Dims, Shape};
use std::marker::PhantomData;

/// Labelled samples of shape `S` held in memory: features row-major (`len × S::SIZE` values, the
/// PyTorch layout) and one class id per sample in `0..classes`.
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
    shape: PhantomData<fn() -> S>,
}

impl<S: Shape> Clone for Dataset<S> {
    fn clone(&self) -> Self {
        Dataset {
            features: self.features.clone(),
            labels: self.labels.clone(),
            classes: self.classes,
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
            shape: PhantomData,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of classes.
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
            shape: PhantomData,
        }
    }

    /// The first `n` samples and the rest (`n` is clamped to the length).
    pub fn split_at(&self, n: usize) -> (Self, Self) {
        let n = n.min(self.len());
        let (xa, xb) = self.features.split_at(n * S::SIZE);
        let (ya, yb) = self.labels.split_at(n);
        let part = |x: &[f32], y: &[usize]| Dataset {
            features: x.to_vec(),
            labels: y.to_vec(),
            classes: self.classes,
            shape: PhantomData,
        };
        (part(xa, ya), part(xb, yb))
    }

    /// The samples at `indices`, in that order (indices must be below `len()`).
    pub fn subset(&self, indices: &[usize]) -> Self {
        let mut features = Vec::with_capacity(indices.len() * S::SIZE);
        for &i in indices {
            features.extend_from_slice(self.sample(i));
        }
        Dataset {
            features,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes,
            shape: PhantomData,
        }
    }

    /// Copies the samples at `indices` into a batch buffer and their labels into `labels`, reusing
    /// both buffers' memory (no allocation once they have held a batch this large).
    pub fn gather(&self, indices: &[usize], batch: &mut Act<S>, labels: &mut Vec<usize>) {
        batch.set_batch(indices.len());
        labels.clear();
        for (k, &i) in indices.iter().enumerate() {
            batch.sample_mut(k).copy_from_slice(self.sample(i));
            labels.push(self.labels[i]);
        }
    }
}
