//! Learning-rate schedules as [`Callback`]s, with PyTorch's `torch.optim.lr_scheduler` semantics:
//! the rate of epoch `e` (from 0) is what PyTorch's optimizer holds during epoch `e` when
//! `scheduler.step()` is called once at the end of every epoch.
//!
//! The epoch schedules ([`StepLr`], [`ExponentialLr`], [`CosineAnnealingLr`]) compute the rate in
//! closed form from the base rate (the optimizer's rate when training starts) and set it at the
//! start of each epoch, so they do not compose with each other (use one).
//! [`ReduceLrOnPlateau`] lowers the current rate at the end of an epoch, so it composes with any.

use crate::error::{Error, Result};
use crate::train::callbacks::{Callback, Control};
use crate::train::history::{Logs, MonitorMode};

/// An epoch-indexed schedule: the learning rate of epoch `epoch` (from 0) given the base rate.
pub trait EpochSchedule {
    /// The rate for `epoch`.
    fn lr_at(&self, base: f32, epoch: usize) -> f32;
    /// Rejects unusable settings.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// A [`Callback`] that applies an [`EpochSchedule`]: remembers the base rate when training
/// starts and sets the scheduled rate before every epoch.
macro_rules! epoch_schedule_callback {
    ($t:ty) => {
        impl Callback for $t {
            fn on_train_begin(&mut self, ctl: &mut Control<'_>) -> Result<()> {
                self.validate()?;
                self.base = Some(ctl.learning_rate());
                Ok(())
            }

            fn on_epoch_begin(&mut self, epoch: usize, ctl: &mut Control<'_>) -> Result<()> {
                let base = self.base.unwrap_or(ctl.learning_rate());
                ctl.set_learning_rate(self.lr_at(base, epoch));
                Ok(())
            }
        }
    };
}

/// Multiplies the rate by `gamma` every `step_size` epochs (PyTorch `StepLR`):
/// `lr_e = base · gamma^⌊e / step_size⌋`.
///
/// ```
/// use dl_core::train::{EpochSchedule, StepLr};
/// let s = StepLr::new(2, 0.5);
/// let lrs: Vec<f32> = (0..5).map(|e| s.lr_at(0.1, e)).collect();
/// assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05, 0.025]);
/// ```
#[derive(Clone, Debug)]
pub struct StepLr {
    step_size: usize,
    gamma: f32,
    base: Option<f32>,
}

impl StepLr {
    /// Decays by `gamma` (PyTorch's default 0.1) every `step_size` epochs.
    pub fn new(step_size: usize, gamma: f32) -> Self {
        StepLr {
            step_size,
            gamma,
            base: None,
        }
    }
}

impl EpochSchedule for StepLr {
    fn lr_at(&self, base: f32, epoch: usize) -> f32 {
        let steps = (epoch / self.step_size.max(1)) as i32;
        (base as f64 * (self.gamma as f64).powi(steps)) as f32
    }

    fn validate(&self) -> Result<()> {
        if self.step_size == 0 {
            return Err(Error::config(
                "`StepLr` step_size",
                "must be at least 1, found 0",
            ));
        }
        check_factor("`StepLr` gamma", self.gamma)
    }
}
epoch_schedule_callback!(StepLr);

/// Multiplies the rate by `gamma` every epoch (PyTorch `ExponentialLR`): `lr_e = base · gammaᵉ`.
///
/// ```
/// use dl_core::train::{EpochSchedule, ExponentialLr};
/// let s = ExponentialLr::new(0.5);
/// assert_eq!(s.lr_at(0.8, 3), 0.1);
/// ```
#[derive(Clone, Debug)]
pub struct ExponentialLr {
    gamma: f32,
    base: Option<f32>,
}

impl ExponentialLr {
    /// Decays by `gamma` every epoch.
    pub fn new(gamma: f32) -> Self {
        ExponentialLr { gamma, base: None }
    }
}

impl EpochSchedule for ExponentialLr {
    fn lr_at(&self, base: f32, epoch: usize) -> f32 {
        (base as f64 * (self.gamma as f64).powi(epoch as i32)) as f32
    }

    fn validate(&self) -> Result<()> {
        check_factor("`ExponentialLr` gamma", self.gamma)
    }
}
epoch_schedule_callback!(ExponentialLr);

/// Cosine annealing from the base rate to `eta_min` over `t_max` epochs (PyTorch
/// `CosineAnnealingLR`, no restarts): `lr_e = eta_min + (base − eta_min)·(1 + cos(π·e/t_max))/2`;
/// past `t_max` the cosine goes on (the rate rises again), as in PyTorch.
///
/// ```
/// use dl_core::train::{CosineAnnealingLr, EpochSchedule};
/// let s = CosineAnnealingLr::new(4).eta_min(0.0);
/// assert_eq!(s.lr_at(1.0, 0), 1.0);
/// assert!((s.lr_at(1.0, 2) - 0.5).abs() < 1e-7);
/// assert_eq!(s.lr_at(1.0, 4), 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct CosineAnnealingLr {
    t_max: usize,
    eta_min: f32,
    base: Option<f32>,
}

impl CosineAnnealingLr {
    /// Anneals over `t_max` epochs to `eta_min` 0 (PyTorch's default).
    pub fn new(t_max: usize) -> Self {
        CosineAnnealingLr {
            t_max,
            eta_min: 0.0,
            base: None,
        }
    }

    /// The lowest rate, reached at epoch `t_max`.
    pub fn eta_min(mut self, eta_min: f32) -> Self {
        self.eta_min = eta_min;
        self
    }
}

impl EpochSchedule for CosineAnnealingLr {
    fn lr_at(&self, base: f32, epoch: usize) -> f32 {
        let (base, min) = (base as f64, self.eta_min as f64);
        let t = epoch as f64 / self.t_max.max(1) as f64;
        (min + (base - min) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0) as f32
    }

    fn validate(&self) -> Result<()> {
        if self.t_max == 0 {
            return Err(Error::config(
                "`CosineAnnealingLr` t_max",
                "must be at least 1, found 0",
            ));
        }
        if !(self.eta_min >= 0.0 && self.eta_min.is_finite()) {
            return Err(Error::config(
                "`CosineAnnealingLr` eta_min",
                format!("must be a finite number ≥ 0, found {}", self.eta_min),
            ));
        }
        Ok(())
    }
}
epoch_schedule_callback!(CosineAnnealingLr);

/// A decay factor must be finite and positive.
fn check_factor(what: &str, gamma: f32) -> Result<()> {
    if gamma > 0.0 && gamma.is_finite() {
        Ok(())
    } else {
        Err(Error::config(
            what,
            format!("must be a finite number > 0, found {gamma}"),
        ))
    }
}

/// How [`ReduceLrOnPlateau`] compares a value with the best one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ThresholdMode {
    /// Better by a factor: `a < best·(1 − threshold)` (min) or `a > best·(1 + threshold)` (max).
    #[default]
    Rel,
    /// Better by an amount: `a < best − threshold` (min) or `a > best + threshold` (max).
    Abs,
}

/// Multiplies the rate by `factor` when a monitored value has not improved for more than
/// `patience` epochs (PyTorch `ReduceLROnPlateau`, stepped with the monitored value at the end
/// of each epoch). Defaults as PyTorch: factor 0.1, patience 10, threshold 1e-4 relative,
/// cooldown 0, min_lr 0, eps 1e-8; the monitor defaults to `val_loss`, the mode to the name's
/// ([`MonitorMode::Auto`]).
///
/// ```
/// use dl_core::train::{Callback, Control, Logs, ReduceLrOnPlateau};
/// use dl_core::{Dense, Optimizer, Sgd};
/// use rand::SeedableRng;
/// # fn main() -> dl_core::Result<()> {
/// let mut layer = Dense::<2, 1>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// let mut sgd = Sgd::new(0.1);
/// let mut ctl = Control::new(&mut layer, &mut sgd);
/// let mut plateau = ReduceLrOnPlateau::new().monitor("loss").factor(0.5).patience(1);
/// plateau.on_train_begin(&mut ctl)?;
/// let mut rates = Vec::new();
/// for (epoch, loss) in [1.0, 0.8, 0.8, 0.8, 0.8].into_iter().enumerate() {
///     plateau.on_epoch_end(epoch, &Logs::new(vec![("loss".into(), loss)]), &mut ctl)?;
///     rates.push(ctl.learning_rate());
/// }
/// // The second epoch in a row without improvement halves the rate; the count restarts.
/// assert_eq!(rates, [0.1, 0.1, 0.1, 0.05, 0.05]);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    monitor: String,
    mode: MonitorMode,
    factor: f32,
    patience: usize,
    threshold: f32,
    threshold_mode: ThresholdMode,
    cooldown: usize,
    min_lr: f32,
    eps: f32,
    best: f32,
    bad_epochs: usize,
    cooldown_left: usize,
}

impl Default for ReduceLrOnPlateau {
    fn default() -> Self {
        Self::new()
    }
}

impl ReduceLrOnPlateau {
    /// PyTorch's defaults, monitoring `val_loss`.
    pub fn new() -> Self {
        ReduceLrOnPlateau {
            monitor: "val_loss".to_string(),
            mode: MonitorMode::Auto,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            best: f32::INFINITY,
            bad_epochs: 0,
            cooldown_left: 0,
        }
    }

    /// The log entry to watch.
    pub fn monitor(mut self, name: &str) -> Self {
        self.monitor = name.to_string();
        self
    }

    /// Whether smaller or larger is better.
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.mode = mode;
        self
    }

    /// The factor applied to the rate (must be below 1).
    pub fn factor(mut self, factor: f32) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement tolerated before reducing.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// The improvement threshold and how it is applied.
    pub fn threshold(mut self, threshold: f32, mode: ThresholdMode) -> Self {
        self.threshold = threshold;
        self.threshold_mode = mode;
        self
    }

    /// Epochs to wait after a reduction before counting bad epochs again.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The rate is never reduced below this.
    pub fn min_lr(mut self, min_lr: f32) -> Self {
        self.min_lr = min_lr;
        self
    }

    /// A reduction smaller than this is skipped.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    fn is_better(&self, a: f32) -> bool {
        let (t, best) = (self.threshold, self.best);
        match (self.mode, self.threshold_mode) {
            (MonitorMode::Max, ThresholdMode::Rel) => a > best * (1.0 + t),
            (MonitorMode::Max, ThresholdMode::Abs) => a > best + t,
            (_, ThresholdMode::Rel) => a < best * (1.0 - t),
            (_, ThresholdMode::Abs) => a < best - t,
        }
    }
}

impl Callback for ReduceLrOnPlateau {
    fn on_train_begin(&mut self, _ctl: &mut Control<'_>) -> Result<()> {
        if !(self.factor < 1.0 && self.factor >= 0.0) {
            return Err(Error::config(
                "`ReduceLrOnPlateau` factor",
                format!("must be in [0, 1), found {}", self.factor),
            ));
        }
        self.mode = self.mode.resolve(&self.monitor);
        self.best = self.mode.worst();
        self.bad_epochs = 0;
        self.cooldown_left = 0;
        Ok(())
    }

    fn on_epoch_end(&mut self, _epoch: usize, logs: &Logs, ctl: &mut Control<'_>) -> Result<()> {
        let current = logs.require(&self.monitor, "`ReduceLrOnPlateau`")?;
        if self.is_better(current) {
            self.best = current;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_epochs = 0;
        }
        if self.bad_epochs > self.patience {
            let old = ctl.learning_rate();
            let new = (old * self.factor).max(self.min_lr);
            if old - new > self.eps {
                ctl.set_learning_rate(new);
            }
            self.cooldown_left = self.cooldown;
            self.bad_epochs = 0;
        }
        Ok(())
    }
}
