//! Data sets typed with their per-sample shape, loaders and augmentation.
//!
//! - [`Dataset`]: labelled samples in memory, typed with their shape (`Dataset<Chw<1, 28, 28>>`
//!   cannot be given to a model declared for `[3, 32, 32]`).
//! - Loaders: [`mnist`] (IDX files, raw or gzip), [`cifar`] (CIFAR-10 binary batches),
//!   [`csv`] (features then label, with or without a header, raw or gzip); in-memory arrays go
//!   through [`Dataset::new`].
//! - [`normalize`]: scale to [0, 1], standardise with statistics fitted on the training split.
//! - [`augment`]: random flips, crops and rotations applied to each batch on the fly.
//! - [`batch`]: the per-epoch (shuffled) order of mini-batches.
//!
//! Every loader reports a bad file as a typed [`crate::Error`] naming the file and what is wrong
//! (missing file, wrong magic number, truncated data, label out of range, counts that disagree, a
//! CSV cell that is not a number with its line and column); none of them panics on bad input.

pub mod augment;
pub mod batch;
pub mod cifar;
pub mod csv;
mod dataset;
pub mod mnist;
pub mod normalize;
mod read;

pub use augment::{Augmentation, ImageAugment};
pub use batch::BatchOrder;
pub use dataset::Dataset;
pub use normalize::Standardizer;
