//! Callbacks: code run by [`crate::train::Fit::fit`] at the start and end of training, of each
//! epoch and after each batch; [`EarlyStopping`] and [`ModelCheckpoint`] here, learning-rate
//! schedules in [`crate::train::schedule`].

use crate::error::Result;
use crate::io::safetensors;
use crate::optim::Optimizer;
use crate::param::Parameters;
use crate::train::history::{Logs, MonitorMode};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

/// What a callback may touch during training: the model's parameters, the optimizer's learning
/// rate, and a flag that stops training after the current epoch.
pub struct Control<'a> {
    model: &'a mut dyn Parameters,
    optimizer: &'a mut dyn Optimizer,
    stop: bool,
}

impl<'a> Control<'a> {
    /// A control over `model` and `optimizer` with no stop requested.
    pub fn new(model: &'a mut dyn Parameters, optimizer: &'a mut dyn Optimizer) -> Self {
        Control {
            model,
            optimizer,
            stop: false,
        }
    }

    /// The model's parameters and buffers.
    pub fn model(&self) -> &dyn Parameters {
        self.model
    }

    /// The model's parameters and buffers, mutable (to restore or load weights).
    pub fn model_mut(&mut self) -> &mut dyn Parameters {
        self.model
    }

    /// The optimizer's current learning rate.
    pub fn learning_rate(&self) -> f32 {
        self.optimizer.learning_rate()
    }

    /// Sets the learning rate used from the next optimizer step on.
    pub fn set_learning_rate(&mut self, lr: f32) {
        self.optimizer.set_learning_rate(lr);
    }

    /// Stops training at the end of the current epoch (Keras `model.stop_training = True`).
    pub fn request_stop(&mut self) {
        self.stop = true;
    }

    /// Whether a stop was requested.
    pub fn stop_requested(&self) -> bool {
        self.stop
    }
}

/// What [`Callback::on_batch_end`] learns about the batch just trained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchLogs {
    /// The batch's index in the epoch, from 0.
    pub batch: usize,
    /// Number of samples in the batch.
    pub size: usize,
    /// The batch's loss (penalty included).
    pub loss: f32,
}

/// Code run during [`crate::train::Fit::fit`]. Every method has an empty default; epochs count
/// from 0. An `Err` from a callback ends training with that error.
///
/// A callback is kept in the [`crate::train::FitConfig`], which may serve several `fit` calls:
/// reset any per-run state in [`Callback::on_train_begin`].
///
/// ```
/// use dl_core::train::{Callback, Control, Logs};
/// /// Halves the learning rate after every epoch whose loss is above 1.
/// struct HalveWhileHigh;
/// impl Callback for HalveWhileHigh {
///     fn on_epoch_end(&mut self, _epoch: usize, logs: &Logs, ctl: &mut Control<'_>) -> dl_core::Result<()> {
///         if logs.get("loss").is_some_and(|l| l > 1.0) {
///             ctl.set_learning_rate(ctl.learning_rate() / 2.0);
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Callback {
    /// Before the first epoch.
    fn on_train_begin(&mut self, ctl: &mut Control<'_>) -> Result<()> {
        let _ = ctl;
        Ok(())
    }
    /// Before epoch `epoch`'s first batch (learning-rate schedules set the rate here).
    fn on_epoch_begin(&mut self, epoch: usize, ctl: &mut Control<'_>) -> Result<()> {
        let _ = (epoch, ctl);
        Ok(())
    }
    /// After each optimizer step. Runs in the hot loop: do not allocate here.
    fn on_batch_end(
        &mut self,
        epoch: usize,
        batch: &BatchLogs,
        ctl: &mut Control<'_>,
    ) -> Result<()> {
        let _ = (epoch, batch, ctl);
        Ok(())
    }
    /// After epoch `epoch` and its validation, with its logs.
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, ctl: &mut Control<'_>) -> Result<()> {
        let _ = (epoch, logs, ctl);
        Ok(())
    }
    /// After the last epoch (also after a stop requested by a callback).
    fn on_train_end(&mut self, ctl: &mut Control<'_>) -> Result<()> {
        let _ = ctl;
        Ok(())
    }
}

/// A shared callback: keep an `Rc` clone to read the callback's state after `fit` (for example
/// [`EarlyStopping::best_epoch`]).
///
/// ```
/// use dl_core::train::{EarlyStopping, FitConfig};
/// use std::{cell::RefCell, rc::Rc};
/// let es = Rc::new(RefCell::new(EarlyStopping::new().patience(2)));
/// let config = FitConfig::<dl_core::Flat<2>>::new().callback(Box::new(es.clone()));
/// // … model.fit(&data, &config, …) …
/// assert_eq!(es.borrow().stopped_epoch(), None);
/// # drop(config);
/// ```
impl<C: Callback> Callback for Rc<RefCell<C>> {
    fn on_train_begin(&mut self, ctl: &mut Control<'_>) -> Result<()> {
        self.borrow_mut().on_train_begin(ctl)
    }
    fn on_epoch_begin(&mut self, epoch: usize, ctl: &mut Control<'_>) -> Result<()> {
        self.borrow_mut().on_epoch_begin(epoch, ctl)
    }
    fn on_batch_end(
        &mut self,
        epoch: usize,
        batch: &BatchLogs,
        ctl: &mut Control<'_>,
    ) -> Result<()> {
        self.borrow_mut().on_batch_end(epoch, batch, ctl)
    }
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, ctl: &mut Control<'_>) -> Result<()> {
        self.borrow_mut().on_epoch_end(epoch, logs, ctl)
    }
    fn on_train_end(&mut self, ctl: &mut Control<'_>) -> Result<()> {
        self.borrow_mut().on_train_end(ctl)
    }
}

/// Tracks the best value of a monitored log entry (shared by [`EarlyStopping`],
/// [`ModelCheckpoint`]).
#[derive(Clone, Debug)]
struct Monitor {
    name: String,
    mode: MonitorMode,
    best: f32,
}

impl Monitor {
    fn new(name: &str) -> Self {
        Monitor {
            name: name.to_string(),
            mode: MonitorMode::Auto,
            best: f32::NAN,
        }
    }

    fn reset(&mut self) {
        self.mode = self.mode.resolve(&self.name);
        self.best = self.mode.worst();
    }

    /// Reads the monitored value from `logs`; `Some(value)` if it beats the best by more than
    /// `delta` (and records it as the new best).
    fn improved(&mut self, logs: &Logs, delta: f32, who: &str) -> Result<Option<f32>> {
        let current = logs.require(&self.name, who)?;
        if self.mode.better(current, self.best, delta) {
            self.best = current;
            Ok(Some(current))
        } else {
            Ok(None)
        }
    }
}

/// Stops training when a monitored value has stopped improving (Keras `EarlyStopping`).
///
/// After each epoch, the value of `monitor` (default `val_loss`) improves when it is better
/// than the best so far by more than `min_delta` (smaller for losses, larger for accuracies; see
/// [`MonitorMode`]). Training stops after `max(patience, 1)` epochs in a row without
/// improvement (default patience 0: the first epoch that does not improve), as in Keras. With `restore_best_weights`, the parameters and buffers of the best epoch are copied
/// into a buffer allocated once at the start of training and put back into the model when
/// training ends (Keras 3: also when it ran all its epochs).
///
/// ```
/// use dl_core::train::EarlyStopping;
/// let es = EarlyStopping::new().monitor("val_accuracy").patience(3).min_delta(1e-3).restore_best_weights(true);
/// assert_eq!(es.best_epoch(), None); // before training
/// ```
#[derive(Clone, Debug)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    min_delta: f32,
    restore: bool,
    wait: usize,
    best_epoch: Option<usize>,
    stopped_epoch: Option<usize>,
    best_weights: Vec<f32>,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self::new()
    }
}

impl EarlyStopping {
    /// Monitors `val_loss` with patience 0, `min_delta` 0, no restoring.
    pub fn new() -> Self {
        EarlyStopping {
            monitor: Monitor::new("val_loss"),
            patience: 0,
            min_delta: 0.0,
            restore: false,
            wait: 0,
            best_epoch: None,
            stopped_epoch: None,
            best_weights: Vec::new(),
        }
    }

    /// The log entry to watch (`val_loss`, `loss`, `val_accuracy`, …).
    pub fn monitor(mut self, name: &str) -> Self {
        self.monitor.name = name.to_string();
        self
    }

    /// Whether smaller or larger is better (default: from the name).
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.monitor.mode = mode;
        self
    }

    /// Epochs without improvement after which training stops.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// The smallest change that counts as an improvement (its absolute value is used).
    pub fn min_delta(mut self, min_delta: f32) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Whether to put the best epoch's weights back when training ends.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore = restore;
        self
    }

    /// The epoch (from 0) with the best monitored value in the last run.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The epoch (from 0) after which the last run stopped early.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }
}

/// Copies every parameter and buffer value of `model` into `buf` (sized by the first call).
fn copy_weights(model: &dyn Parameters, buf: &mut Vec<f32>) {
    buf.clear();
    model.visit(&mut |_, p| buf.extend_from_slice(p.value()));
}

/// Copies `buf` (from [`copy_weights`] on the same model) back into `model`.
fn restore_weights(model: &mut dyn Parameters, buf: &[f32]) {
    let mut at = 0;
    model.visit_mut(&mut |_, p| {
        let n = p.value().len();
        p.value_mut().copy_from_slice(&buf[at..at + n]);
        at += n;
    });
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, ctl: &mut Control<'_>) -> Result<()> {
        self.monitor.reset();
        self.wait = 0;
        self.best_epoch = None;
        self.stopped_epoch = None;
        if self.restore {
            // The one allocation of the buffer: the model's size does not change.
            let mut total = 0;
            ctl.model().visit(&mut |_, p| total += p.value().len());
            self.best_weights = Vec::with_capacity(total);
            copy_weights(ctl.model(), &mut self.best_weights);
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, ctl: &mut Control<'_>) -> Result<()> {
        if self
            .monitor
            .improved(logs, self.min_delta, "early stopping")?
            .is_some()
        {
            self.best_epoch = Some(epoch);
            self.wait = 0;
            if self.restore {
                copy_weights(ctl.model(), &mut self.best_weights);
            }
            return Ok(());
        }
        self.wait += 1;
        if self.wait >= self.patience {
            self.stopped_epoch = Some(epoch);
            ctl.request_stop();
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctl: &mut Control<'_>) -> Result<()> {
        if self.restore && self.best_epoch.is_some() {
            restore_weights(ctl.model_mut(), &self.best_weights);
        }
        Ok(())
    }
}

/// Saves the model as a safetensors checkpoint (Keras `ModelCheckpoint`), after every epoch or
/// only when a monitored value improves, with [`safetensors::save`] (atomic: a crash mid-save
/// leaves the previous file intact).
///
/// In the path, `{epoch}` is replaced by the epoch number counted from 1
/// (`"ckpt/epoch-{epoch}.safetensors"`); without it, each save replaces the last.
///
/// ```
/// use dl_core::train::ModelCheckpoint;
/// let best = ModelCheckpoint::new("best.safetensors").save_best_only(true).monitor("val_accuracy");
/// assert_eq!(best.path_for(4), std::path::PathBuf::from("best.safetensors"));
/// let every = ModelCheckpoint::new("ckpt-{epoch}.safetensors");
/// assert_eq!(every.path_for(4), std::path::PathBuf::from("ckpt-5.safetensors"));
/// ```
#[derive(Clone, Debug)]
pub struct ModelCheckpoint {
    path: String,
    monitor: Monitor,
    best_only: bool,
    saved: Vec<usize>,
}

impl ModelCheckpoint {
    /// Saves to `path` after every epoch, monitoring `val_loss` if made best-only.
    pub fn new(path: impl Into<String>) -> Self {
        ModelCheckpoint {
            path: path.into(),
            monitor: Monitor::new("val_loss"),
            best_only: false,
            saved: Vec::new(),
        }
    }

    /// Saves only when the monitored value beats every earlier epoch.
    pub fn save_best_only(mut self, best_only: bool) -> Self {
        self.best_only = best_only;
        self
    }

    /// The log entry that decides "best" (default `val_loss`).
    pub fn monitor(mut self, name: &str) -> Self {
        self.monitor.name = name.to_string();
        self
    }

    /// Whether smaller or larger is better (default: from the name).
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.monitor.mode = mode;
        self
    }

    /// The file written after epoch `epoch` (from 0).
    pub fn path_for(&self, epoch: usize) -> PathBuf {
        PathBuf::from(self.path.replace("{epoch}", &(epoch + 1).to_string()))
    }

    /// The epochs (from 0) saved in the last run.
    pub fn saved_epochs(&self) -> &[usize] {
        &self.saved
    }
}

impl Callback for ModelCheckpoint {
    fn on_train_begin(&mut self, _ctl: &mut Control<'_>) -> Result<()> {
        self.monitor.reset();
        self.saved.clear();
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, ctl: &mut Control<'_>) -> Result<()> {
        let save = if self.best_only {
            self.monitor
                .improved(logs, 0.0, "model checkpoint")?
                .is_some()
        } else {
            true
        };
        if save {
            safetensors::save(ctl.model(), self.path_for(epoch))?;
            self.saved.push(epoch);
        }
        Ok(())
    }
}
