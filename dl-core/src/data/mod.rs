//! Data sets typed with their per-sample shape, loaders and augmentation.

mod dataset;
pub use dataset::Dataset;
