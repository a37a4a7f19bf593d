//! Training the Keras way: [`Fit::fit`], [`Fit::evaluate`], [`Fit::predict`] and
//! [`Fit::predict_classes`] on every [`crate::Model`], configured by a [`FitConfig`], returning a
//! [`History`] that writes CSV and PNG/SVG curves.
//!
//! | Keras | PyTorch | here |
//! | --- | --- | --- |
//! | `model.fit(x, y, epochs, batch_size, validation_split, callbacks)` | a hand-written loop | `model.fit(&data, &FitConfig::new().epochs(..)..., &mut optimizer, loss)` |
//! | `model.evaluate` / `model.predict` | `with torch.no_grad(): model.eval()(x)` | [`Fit::evaluate`] / [`Fit::predict`] |
//! | `EarlyStopping`, `ModelCheckpoint` | — | [`EarlyStopping`], [`ModelCheckpoint`] |
//! | `LearningRateScheduler` | `StepLR`, `ExponentialLR`, `CosineAnnealingLR`, `ReduceLROnPlateau` | [`StepLr`], [`ExponentialLr`], [`CosineAnnealingLr`], [`ReduceLrOnPlateau`] |
//! | `TerminateOnNaN` | — | always on: [`crate::Error::NonFiniteLoss`] |
//! | `CSVLogger`, `history.history` | — | [`History::write_csv`], [`History::get`], [`History::plot`] |
//!
//! Classification uses a labelled [`crate::data::Dataset`] and a loss whose target is class ids
//! (`CrossEntropy`); regression uses [`crate::data::Dataset::with_targets`] and a loss with `f32`
//! targets (`Mse`); see [`Targets`] for how each loss finds its targets.
//!
//! Progress goes to standard error ([`progress`]): a bar on a terminal, one line per epoch
//! otherwise.

mod callbacks;
mod fit;
mod history;
mod metrics;
mod plot;
pub mod progress;
pub mod schedule;

pub use callbacks::{BatchLogs, Callback, Control, EarlyStopping, ModelCheckpoint};
pub use fit::{Evaluation, Fit, FitConfig, Targets};
pub use history::{History, Logs, MonitorMode};
pub use metrics::Metric;
pub use progress::Verbosity;
pub use schedule::{
    CosineAnnealingLr, EpochSchedule, ExponentialLr, ReduceLrOnPlateau, StepLr, ThresholdMode,
};
