//! Per-epoch logs and the [`History`] that [`crate::train::Fit::fit`] returns.

use crate::error::{Error, Result};
use std::path::Path;

/// Whether a smaller or a larger value of a monitored quantity is better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MonitorMode {
    /// Larger is better for names ending in `accuracy`, smaller for everything else (Keras `"auto"`).
    #[default]
    Auto,
    /// Smaller is better (losses).
    Min,
    /// Larger is better (accuracies).
    Max,
}

impl MonitorMode {
    /// `Min` or `Max` for the quantity `name` (resolves `Auto`).
    pub fn resolve(self, name: &str) -> MonitorMode {
        match self {
            MonitorMode::Auto if name.ends_with("accuracy") => MonitorMode::Max,
            MonitorMode::Auto => MonitorMode::Min,
            m => m,
        }
    }

    /// Whether `a` is better than `b` by more than `delta` (`delta ≥ 0`); a resolved mode.
    pub(crate) fn better(self, a: f32, b: f32, delta: f32) -> bool {
        match self {
            MonitorMode::Max => a - delta > b,
            _ => a + delta < b,
        }
    }

    /// The worst possible value: the starting point of a search for the best.
    pub(crate) fn worst(self) -> f32 {
        match self {
            MonitorMode::Max => f32::NEG_INFINITY,
            _ => f32::INFINITY,
        }
    }
}

/// The named values at the end of one epoch: `loss`, each metric (`accuracy`, `top5_accuracy`),
/// `val_loss` and `val_<metric>` when there is validation data, and `lr`, the learning rate
/// used in the epoch. What callbacks receive and what [`History`] collects.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    values: Vec<(String, f32)>,
}

impl Logs {
    /// Logs from `(name, value)` pairs.
    pub fn new(values: Vec<(String, f32)>) -> Self {
        Logs { values }
    }

    /// The value logged under `name`.
    pub fn get(&self, name: &str) -> Option<f32> {
        self.values.iter().find(|(n, _)| n == name).map(|v| v.1)
    }

    /// Every `(name, value)`, in the order of [`History::names`].
    pub fn iter(&self) -> impl Iterator<Item = (&str, f32)> {
        self.values.iter().map(|(n, v)| (n.as_str(), *v))
    }

    /// The value of `name`, or an error listing what is logged (for callbacks' `monitor`).
    pub fn require(&self, name: &str, who: &str) -> Result<f32> {
        self.get(name).ok_or_else(|| {
            let have: Vec<&str> = self.values.iter().map(|v| v.0.as_str()).collect();
            let hint = if name.starts_with("val_") {
                "; give `validation_split` or `validation_data`, or monitor a training value"
            } else {
                ""
            };
            Error::config(
                format!("{who} monitor `{name}`"),
                format!("the logs hold {}{hint}", have.join(", ")),
            )
        })
    }
}

/// The loss and metrics of every epoch, for training and validation (Keras `History.history`).
///
/// Columns are named as in [`Logs`]; epochs are numbered from 0 in the API and the CSV (as Keras'
/// `CSVLogger`), from 1 in progress lines.
///
/// ```
/// use dl_core::train::{History, Logs};
/// let mut h = History::default();
/// for (loss, val) in [(0.9, 0.8), (0.5, 0.6), (0.3, 0.7)] {
///     h.push(&Logs::new(vec![("loss".into(), loss), ("val_loss".into(), val)]));
/// }
/// assert_eq!(h.epochs(), 3);
/// assert_eq!(h.get("val_loss"), Some(&[0.8, 0.6, 0.7][..]));
/// assert_eq!(h.best_epoch(), Some(1)); // lowest val_loss
/// assert_eq!(h.to_csv().unwrap(), "epoch,loss,val_loss\n0,0.9,0.8\n1,0.5,0.6\n2,0.3,0.7\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    names: Vec<String>,
    columns: Vec<Vec<f32>>,
}

impl History {
    /// Appends one epoch's logs (the first call fixes the column names).
    pub fn push(&mut self, logs: &Logs) {
        if self.names.is_empty() {
            self.names = logs.values.iter().map(|v| v.0.clone()).collect();
            self.columns = vec![Vec::new(); self.names.len()];
        }
        for (name, col) in self.names.iter().zip(&mut self.columns) {
            col.push(logs.get(name).unwrap_or(f32::NAN));
        }
    }

    /// Number of epochs recorded.
    pub fn epochs(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// The column names (`loss`, `accuracy`, `val_loss`, `val_accuracy`, `lr`, …).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The per-epoch values of `name`.
    pub fn get(&self, name: &str) -> Option<&[f32]> {
        let i = self.names.iter().position(|n| n == name)?;
        Some(&self.columns[i])
    }

    /// The epoch (from 0) with the lowest `val_loss`, or the lowest `loss` without validation.
    pub fn best_epoch(&self) -> Option<usize> {
        let name = if self.get("val_loss").is_some() {
            "val_loss"
        } else {
            "loss"
        };
        self.best_epoch_by(name, MonitorMode::Auto)
    }

    /// The epoch (from 0) with the best value of `name` (the first one on ties; NaN never wins).
    pub fn best_epoch_by(&self, name: &str, mode: MonitorMode) -> Option<usize> {
        let mode = mode.resolve(name);
        let col = self.get(name)?;
        let mut best: Option<(usize, f32)> = None;
        for (i, &v) in col.iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            if best.is_none_or(|(_, b)| mode.better(v, b, 0.0)) {
                best = Some((i, v));
            }
        }
        best.map(|b| b.0)
    }

    /// The history as CSV: a header `epoch,<names>`, then one row per epoch.
    pub fn to_csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |e: csv::Error| Error::config("history CSV", e.to_string());
        let header = std::iter::once("epoch").chain(self.names.iter().map(String::as_str));
        w.write_record(header).map_err(csv_err)?;
        for e in 0..self.epochs() {
            let row =
                std::iter::once(e.to_string()).chain(self.columns.iter().map(|c| c[e].to_string()));
            w.write_record(row).map_err(csv_err)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::config("history CSV", e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| Error::config("history CSV", e.to_string()))
    }

    /// Writes [`History::to_csv`] to `path`.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_csv()?).map_err(|e| Error::io(path, e))
    }
}
