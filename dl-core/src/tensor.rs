//! Batches of samples with a compile-time per-sample shape.
//!
//! A per-sample shape is a type ([`Flat<F>`] for `F` features, [`Chw<C, H, W>`] for a `C`-channel
//! `H×W` image); the batch size is a run-time value. Storage is one contiguous row-major `f32`
//! buffer in PyTorch's layout (`[N, F]` or NCHW), so data maps one-to-one to PyTorch tensors.

use crate::error::{Error, Result};
use crate::kernels::aligned::AlignedVec;
use std::fmt;
use std::marker::PhantomData;

/// A per-sample shape known at compile time.
pub trait Shape: Sized + 'static + Send + Sync {
    /// Number of `f32` values in one sample.
    const SIZE: usize;
    /// The dimensions, outermost first (`[C, H, W]` or `[F]`).
    const DIMS: &'static [usize];
}

/// `F` features: the per-sample shape `[F]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flat<const F: usize>;

/// A `C`-channel `H×W` feature map: the per-sample shape `[C, H, W]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chw<const C: usize, const H: usize, const W: usize>;

impl<const F: usize> Shape for Flat<F> {
    const SIZE: usize = F;
    const DIMS: &'static [usize] = &[F];
}

impl<const C: usize, const H: usize, const W: usize> Shape for Chw<C, H, W> {
    const SIZE: usize = C * H * W;
    const DIMS: &'static [usize] = &[C, H, W];
}

/// Formats a shape's dimensions as `[3, 32, 32]`.
pub struct Dims(pub &'static [usize]);

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

/// Proof that a batch's per-sample shape is the one a model expects.
///
/// Implemented only for `S: SameShape<S>`; feeding a model data of another shape fails to compile
/// with a message naming both shapes.
#[diagnostic::on_unimplemented(
    message = "the model takes samples of shape `{Expected}` but this data holds samples of shape `{Self}`",
    label = "samples of shape `{Self}`, expected `{Expected}`",
    note = "the shape after `:` in `sequential!` is the shape of one input sample; reshape or resize the data, or declare the model for `{Self}`"
)]
pub trait SameShape<Expected: Shape>: Shape {
    /// The batch, seen with the shape the model expects (the identity: the shapes are the same).
    fn cast(x: &Act<Self>) -> &Act<Expected>;
}

impl<S: Shape> SameShape<S> for S {
    fn cast(x: &Act<S>) -> &Act<S> {
        x
    }
}

/// A batch of samples of shape `S` (an activation, a gradient, a data batch).
///
/// ```
/// use dl_core::tensor::{Act, Flat};
/// let x = Act::<Flat<3>>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
/// assert_eq!(x.batch(), 2);
/// assert_eq!(x.sample(1), &[4.0, 5.0, 6.0]);
/// // 7 values are not a whole number of 3-feature samples:
/// let err = Act::<Flat<3>>::from_vec(vec![0.0; 7]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "batch of [3] samples: expected a multiple of 3 values, found 7 values"
/// );
/// ```
pub struct Act<S: Shape> {
    data: AlignedVec,
    batch: usize,
    shape: PhantomData<fn() -> S>,
}

impl<S: Shape> Clone for Act<S> {
    fn clone(&self) -> Self {
        Act {
            data: self.data.clone(),
            batch: self.batch,
            shape: PhantomData,
        }
    }
}

impl<S: Shape> fmt::Debug for Act<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Act")
            .field("batch", &self.batch)
            .field("shape", &Dims(S::DIMS).to_string())
            .field("data", &self.data)
            .finish()
    }
}

impl<S: Shape> Default for Act<S> {
    fn default() -> Self {
        Self::zeros(0)
    }
}

impl<S: Shape> Act<S> {
    /// A batch of `batch` samples, all zero.
    pub fn zeros(batch: usize) -> Self {
        Act {
            data: AlignedVec::zeros(batch * S::SIZE),
            batch,
            shape: PhantomData,
        }
    }

    /// A batch from row-major data; its length must be a multiple of the sample size. The
    /// values are copied into 64-byte aligned storage ([`AlignedVec`]), which the kernels
    /// read and write a line at a time.
    pub fn from_vec(data: Vec<f32>) -> Result<Self> {
        if S::SIZE == 0 || !data.len().is_multiple_of(S::SIZE) {
            return Err(Error::size(
                format!("batch of {} samples", Dims(S::DIMS)),
                format!("a multiple of {} values", S::SIZE),
                format!("{} values", data.len()),
            ));
        }
        let batch = data.len() / S::SIZE;
        Ok(Act {
            data: data.into(),
            batch,
            shape: PhantomData,
        })
    }

    /// A batch copied from a slice (see [`Act::from_vec`]).
    pub fn from_slice(data: &[f32]) -> Result<Self> {
        Self::from_vec(data.to_vec())
    }

    /// Number of samples.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Values in one sample.
    pub const SAMPLE_SIZE: usize = S::SIZE;

    /// Changes the batch size. Allocates only when the buffer never held that many samples;
    /// new values are zero, kept values keep their content.
    pub fn set_batch(&mut self, batch: usize) {
        if batch != self.batch {
            self.data.resize(batch * S::SIZE, 0.0);
            self.batch = batch;
        }
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        &self.data[i * S::SIZE..(i + 1) * S::SIZE]
    }

    /// Sample `i`, mutable.
    pub fn sample_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * S::SIZE..(i + 1) * S::SIZE]
    }

    /// The values as a `Vec` (a copy of the aligned storage), consuming the batch.
    pub fn into_vec(self) -> Vec<f32> {
        self.data.to_vec()
    }

    /// Copies `other` into `self`, resizing the batch (no allocation when capacity suffices).
    pub fn copy_from(&mut self, other: &Act<S>) {
        self.set_batch(other.batch);
        self.data.copy_from_slice(&other.data);
    }

    /// Fills from a slice of whole samples, resizing the batch.
    pub fn fill_from_slice(&mut self, data: &[f32]) -> Result<()> {
        if !data.len().is_multiple_of(S::SIZE) {
            return Err(Error::size(
                format!("batch of {} samples", Dims(S::DIMS)),
                format!("a multiple of {} values", S::SIZE),
                format!("{} values", data.len()),
            ));
        }
        self.set_batch(data.len() / S::SIZE);
        self.data.copy_from_slice(data);
        Ok(())
    }

    /// The same data viewed with another shape of the same size (for `Flatten`).
    pub fn reshape<T: Shape>(self) -> Act<T> {
        const { assert!(S::SIZE == T::SIZE, "reshape must keep the sample size") };
        Act {
            data: self.data,
            batch: self.batch,
            shape: PhantomData,
        }
    }
}
