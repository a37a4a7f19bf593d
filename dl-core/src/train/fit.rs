//! [`Fit`]: `fit`, `evaluate`, `predict` and `predict_classes` for every [`Model`], configured
//! by a [`FitConfig`].

use crate::data::{BatchOrder, Dataset};
use crate::error::{Error, Result};
use crate::layers::Mode;
use crate::loss::{Loss, Penalty};
use crate::model::Model;
use crate::optim::Optimizer;
use crate::param::Parameters;
use crate::tensor::{Act, Dims, Shape};
use crate::train::callbacks::{BatchLogs, Callback, Control};
use crate::train::history::{History, Logs};
use crate::train::metrics::{Metric, MetricCounts, argmax};
use crate::train::progress::{Progress, Verbosity};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::cell::RefCell;

/// How [`Fit::fit`] trains (Keras `model.fit` arguments); built with chained setters.
///
/// Defaults: 1 epoch, batch size 32, shuffled every epoch from seed 0 (Keras shuffles by
/// default; the seed makes runs repeatable), no validation, no metrics, no callbacks, progress
/// [`Verbosity::Auto`]. `S` is the model's input shape (inferred from the `fit` call).
///
/// ```
/// use dl_core::train::{EarlyStopping, FitConfig, Metric, Verbosity};
/// use dl_core::Flat;
/// let config = FitConfig::<Flat<4>>::new()
///     .epochs(50)
///     .batch_size(16)
///     .shuffle(7)
///     .validation_split(0.2)
///     .metrics(&[Metric::Accuracy])
///     .callback(Box::new(EarlyStopping::new().patience(5)))
///     .verbose(Verbosity::Silent);
/// assert_eq!((config.get_epochs(), config.get_batch_size()), (50, 16));
/// ```
pub struct FitConfig<'a, S: Shape> {
    epochs: usize,
    batch_size: usize,
    shuffle: Option<u64>,
    validation_split: Option<f64>,
    validation_data: Option<&'a Dataset<S>>,
    metrics: Vec<Metric>,
    callbacks: RefCell<Vec<Box<dyn Callback + 'a>>>,
    verbosity: Verbosity,
    penalty: Option<Penalty>,
}

impl<S: Shape> Default for FitConfig<'_, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, S: Shape> FitConfig<'a, S> {
    /// The defaults listed on [`FitConfig`].
    pub fn new() -> Self {
        FitConfig {
            epochs: 1,
            batch_size: 32,
            shuffle: Some(0),
            validation_split: None,
            validation_data: None,
            metrics: Vec::new(),
            callbacks: RefCell::new(Vec::new()),
            verbosity: Verbosity::Auto,
            penalty: None,
        }
    }

    /// Number of passes over the training data.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Samples per optimizer step (the last batch of an epoch may be smaller); also the batch
    /// size of validation, `evaluate` and `predict`.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Shuffles the training samples before every epoch with an RNG seeded with `seed`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// Visits the training samples in their stored order every epoch.
    pub fn no_shuffle(mut self) -> Self {
        self.shuffle = None;
        self
    }

    /// Holds out the last `fraction` of the training data (taken before any shuffling, as
    /// Keras) for validation: the first `⌊len·(1 − fraction)⌋` samples train (computed in `f64`
    /// as Keras does, so `0.3` of 10 samples leaves 7 for training).
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = Some(fraction);
        self
    }

    /// Validates on `data` after every epoch.
    pub fn validation_data(mut self, data: &'a Dataset<S>) -> Self {
        self.validation_data = Some(data);
        self
    }

    /// The metrics reported next to the loss, for training and validation.
    pub fn metrics(mut self, metrics: &[Metric]) -> Self {
        self.metrics = metrics.to_vec();
        self
    }

    /// Adds a callback (run in the order added).
    pub fn callback(self, callback: Box<dyn Callback + 'a>) -> Self {
        self.callbacks.borrow_mut().push(callback);
        self
    }

    /// How much progress to print on standard error.
    pub fn verbose(mut self, verbosity: Verbosity) -> Self {
        self.verbosity = verbosity;
        self
    }

    /// Adds an L1/L2 weight penalty ([`Penalty`]) to the loss and its gradient to the weights'
    /// gradients at every step. As in Keras, the logged `loss` and `val_loss` (and
    /// [`Fit::evaluate`]'s loss) include it.
    pub fn penalty(mut self, penalty: Penalty) -> Self {
        self.penalty = Some(penalty);
        self
    }

    /// The number of epochs.
    pub fn get_epochs(&self) -> usize {
        self.epochs
    }

    /// The batch size.
    pub fn get_batch_size(&self) -> usize {
        self.batch_size
    }

    /// The metrics.
    pub fn get_metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// Checks the settings that do not depend on the data.
    fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::config("batch size", "must be at least 1, found 0"));
        }
        if let Some(f) = self.validation_split {
            if !(f > 0.0 && f < 1.0) {
                return Err(Error::config(
                    "validation_split",
                    format!("must be in (0, 1), found {f}"),
                ));
            }
            if self.validation_data.is_some() {
                return Err(Error::config(
                    "validation",
                    "give either validation_split or validation_data, not both",
                ));
            }
        }
        if let Some(p) = &self.penalty {
            p.validate()?;
        }
        self.metrics.iter().try_for_each(Metric::validate)
    }

    /// The penalty of `model`'s current weights (0 without a penalty).
    fn penalty_value(&self, model: &dyn Parameters) -> f32 {
        self.penalty.map_or(0.0, |p| p.value(model))
    }
}

/// A loss target that batches can be gathered into from a [`Dataset`]: `[usize]` (class ids,
/// for [`crate::loss::CrossEntropy`]) or `[f32]` (for `Mse`, `BceWithLogits`, `KlDiv`).
///
/// `[f32]` targets come from a regression data set ([`Dataset::with_targets`], `target_size`
/// values per sample, which must equal the model's output size); a labelled data set gives
/// them too: one-hot rows when the model has one output per class, or the label itself (0 or
/// 1) when the model has a single output (binary classification with `BceWithLogits`).
pub trait Targets {
    /// The reusable batch buffer.
    type Buffer: Default;
    /// Checks once that `data` can give targets for a model with `width` outputs.
    fn check<S: Shape>(data: &Dataset<S>, width: usize) -> Result<()>;
    /// Fills `buf` with the targets of the samples at `indices` (no allocation once `buf` has
    /// held a batch this large).
    fn gather<S: Shape>(data: &Dataset<S>, indices: &[usize], width: usize, buf: &mut Self::Buffer);
    /// The buffer as the loss's target.
    fn view(buf: &Self::Buffer) -> &Self;
}

impl Targets for [usize] {
    type Buffer = Vec<usize>;

    fn check<S: Shape>(data: &Dataset<S>, width: usize) -> Result<()> {
        if !data.is_labelled() {
            return Err(Error::config(
                "loss target",
                "this loss compares with class labels but the data set holds f32 targets",
            ));
        }
        if width > 1 && data.classes() > width {
            return Err(Error::size(
                "classes of the data set",
                format!("at most {width} (the model's outputs)"),
                data.classes(),
            ));
        }
        Ok(())
    }

    fn gather<S: Shape>(data: &Dataset<S>, indices: &[usize], _width: usize, buf: &mut Vec<usize>) {
        buf.clear();
        buf.extend(indices.iter().map(|&i| data.labels()[i]));
    }

    fn view(buf: &Vec<usize>) -> &[usize] {
        buf
    }
}

impl Targets for [f32] {
    type Buffer = Vec<f32>;

    fn check<S: Shape>(data: &Dataset<S>, width: usize) -> Result<()> {
        let ok = if data.is_labelled() {
            width == data.classes() || (width == 1 && data.classes() <= 2)
        } else {
            width == data.target_size()
        };
        if ok {
            return Ok(());
        }
        let found = if data.is_labelled() {
            format!("labels of {} classes", data.classes())
        } else {
            format!("{} targets per sample", data.target_size())
        };
        Err(Error::size(
            "targets of the data set",
            format!("{width} per sample (the model's outputs)"),
            found,
        ))
    }

    fn gather<S: Shape>(data: &Dataset<S>, indices: &[usize], width: usize, buf: &mut Vec<f32>) {
        buf.clear();
        if !data.is_labelled() {
            for &i in indices {
                buf.extend_from_slice(data.target(i));
            }
        } else if width == 1 {
            buf.extend(indices.iter().map(|&i| data.labels()[i] as f32));
        } else {
            buf.resize(indices.len() * width, 0.0);
            for (row, &i) in buf.chunks_exact_mut(width).zip(indices) {
                row[data.labels()[i]] = 1.0;
            }
        }
    }

    fn view(buf: &Vec<f32>) -> &[f32] {
        buf
    }
}

/// The loss and metrics of a model on a data set ([`Fit::evaluate`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean loss over all samples.
    pub loss: f32,
    /// Each metric asked for, with its value.
    pub metrics: Vec<(Metric, f32)>,
}

impl Evaluation {
    /// The value of `metric`, if it was asked for.
    pub fn metric(&self, metric: Metric) -> Option<f32> {
        self.metrics.iter().find(|m| m.0 == metric).map(|m| m.1)
    }

    /// The accuracy, if it was asked for.
    pub fn accuracy(&self) -> Option<f32> {
        self.metric(Metric::Accuracy)
    }
}

/// The batch buffers of a run, allocated once and reused by every batch.
struct Buffers<M: Model, T: Targets + ?Sized> {
    x: Act<M::Input>,
    grad: Act<M::Output>,
    target: T::Buffer,
    labels: Vec<usize>,
    counts: MetricCounts,
}

impl<M: Model, T: Targets + ?Sized> Buffers<M, T> {
    /// Buffers for batches of `batch` samples and `metrics` metrics.
    fn new(batch: usize, metrics: usize) -> Self {
        Buffers {
            x: Act::zeros(batch),
            grad: Act::zeros(batch),
            target: T::Buffer::default(),
            labels: Vec::with_capacity(batch),
            counts: MetricCounts::new(metrics),
        }
    }

    /// Gathers the inputs, targets and (when metrics need them) labels of `indices`.
    fn gather(&mut self, data: &Dataset<M::Input>, indices: &[usize], labels: bool) {
        data.gather_features(indices, &mut self.x);
        T::gather(data, indices, M::Output::SIZE, &mut self.target);
        self.labels.clear();
        if labels {
            self.labels
                .extend(indices.iter().map(|&i| data.labels()[i]));
        }
    }
}

/// Runs `f` on every callback with a fresh [`Control`]; whether one of them asked to stop.
fn each_callback(
    callbacks: &mut [Box<dyn Callback + '_>],
    model: &mut dyn Parameters,
    optimizer: &mut dyn Optimizer,
    mut f: impl FnMut(&mut dyn Callback, &mut Control<'_>) -> Result<()>,
) -> Result<bool> {
    let mut ctl = Control::new(model, optimizer);
    for cb in callbacks.iter_mut() {
        f(cb.as_mut(), &mut ctl)?;
    }
    Ok(ctl.stop_requested())
}

/// Mean loss of `model` in evaluation mode over the samples at `indices`; the metric counts
/// are left in `buf.counts`.
fn evaluate_indices<M, L>(
    model: &mut M,
    data: &Dataset<M::Input>,
    indices: &[usize],
    batch_size: usize,
    loss: &L,
    metrics: &[Metric],
    buf: &mut Buffers<M, L::Target>,
) -> Result<f32>
where
    M: Model,
    L: Loss<M::Output>,
    L::Target: Targets,
{
    buf.counts.reset();
    let mut sum = 0.0f64;
    for idx in indices.chunks(batch_size) {
        buf.gather(data, idx, !metrics.is_empty());
        let pred = model.forward(&buf.x);
        sum += loss.loss(pred, L::Target::view(&buf.target))? as f64 * idx.len() as f64;
        buf.counts.add(metrics, pred, &buf.labels);
    }
    Ok((sum / indices.len().max(1) as f64) as f32)
}

/// Checks that `metrics` can be computed on `data`.
fn check_metrics<S: Shape>(metrics: &[Metric], data: &Dataset<S>) -> Result<()> {
    match metrics.first() {
        Some(m) if !data.is_labelled() => Err(Error::config(
            format!("metric `{}`", m.name()),
            "needs class labels but the data set holds f32 targets",
        )),
        _ => Ok(()),
    }
}

/// Keras-style training for every [`Model`]: `fit`, `evaluate`, `predict`, `predict_classes`.
///
/// One training step is `forward_train` → `loss_and_grad` → `backward_params` →
/// `optimizer.step`; the batch loop allocates nothing once its buffers (sized from the batch
/// size when `fit` starts) and the model's have seen a full batch.
///
/// ```
/// use dl_core::train::{Fit, FitConfig, Metric, Verbosity};
/// use dl_core::{data::Dataset, loss::CrossEntropy, optim::Sgd, Model};
/// dl_core::sequential! {
///     /// A tiny classifier.
///     pub struct Tiny: [2] -> [2] { Dense<8, activation = Tanh>, Dense<2> }
/// }
/// # fn main() -> dl_core::Result<()> {
/// // Two blobs: class 0 around (-1, -1), class 1 around (1, 1).
/// let mut x = Vec::new();
/// let mut y = Vec::new();
/// for i in 0..100 {
///     let c = i % 2;
///     let s = if c == 0 { -1.0 } else { 1.0 };
///     let j = (i as f32 * 0.37).sin() * 0.5;
///     x.extend_from_slice(&[s + j, s - j]);
///     y.push(c);
/// }
/// let data = Dataset::new(x, y, 2)?;
/// let mut model = Tiny::new(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0));
/// let config = FitConfig::new()
///     .epochs(10)
///     .batch_size(10)
///     .validation_split(0.2)
///     .metrics(&[Metric::Accuracy])
///     .verbose(Verbosity::Silent);
/// let history = model.fit(&data, &config, &mut Sgd::new(0.1), CrossEntropy)?;
/// let loss = history.get("loss").unwrap();
/// assert!(loss[9] < loss[0] / 2.0);
/// assert_eq!(history.get("val_accuracy").unwrap()[9], 1.0);
/// let eval = model.evaluate(&data, &config, CrossEntropy)?;
/// assert_eq!(eval.accuracy(), Some(1.0));
/// assert_eq!(model.predict_classes(&[-1.0, -1.0, 1.0, 1.0], 32)?, [0, 1]);
/// # Ok(()) }
/// ```
pub trait Fit: Model {
    /// Trains on `train` as `config` says and returns the per-epoch [`History`].
    ///
    /// The logged training `loss` of an epoch is the mean of its batches' losses weighted by
    /// their sizes, computed as the weights change (Keras' running mean); `val_loss` and the
    /// validation metrics are computed after the epoch in evaluation mode.
    ///
    /// Errors: [`Optimizer::validate`]'s, bad settings (batch size 0, a validation split outside (0, 1), a monitor that is
    /// not logged, …), data that does not fit the loss or model (see [`Targets`]), a NaN or
    /// infinite loss ([`Error::NonFiniteLoss`] naming the epoch and batch), a callback's error.
    fn fit<L, O>(
        &mut self,
        train: &Dataset<Self::Input>,
        config: &FitConfig<'_, Self::Input>,
        optimizer: &mut O,
        loss: L,
    ) -> Result<History>
    where
        L: Loss<Self::Output>,
        L::Target: Targets,
        O: Optimizer,
    {
        config.validate()?;
        optimizer.validate()?;
        let width = Self::Output::SIZE;
        let metrics = &config.metrics;
        let n = train.len();
        let n_train = match config.validation_split {
            Some(f) => (n as f64 * (1.0 - f)) as usize,
            None => n,
        };
        if n_train == 0 {
            return Err(Error::config(
                "training data",
                format!(
                    "no training sample ({n} samples, validation_split {:?})",
                    config.validation_split
                ),
            ));
        }
        let (val_data, val_indices): (Option<&Dataset<Self::Input>>, Vec<usize>) =
            match (config.validation_data, config.validation_split) {
                (Some(v), _) => (Some(v), (0..v.len()).collect()),
                (None, Some(f)) if n_train == n => {
                    return Err(Error::config(
                        "validation_split",
                        format!("{f} of {n} samples leaves no validation sample"),
                    ));
                }
                (None, Some(_)) => (Some(train), (n_train..n).collect()),
                (None, None) => (None, Vec::new()),
            };
        L::Target::check(train, width)?;
        check_metrics(metrics, train)?;
        if let Some(v) = val_data {
            L::Target::check(v, width)?;
            check_metrics(metrics, v)?;
            if v.is_empty() {
                return Err(Error::config("validation_data", "holds no sample"));
            }
        }

        let batch_size = config.batch_size.min(n_train);
        let mut order = BatchOrder::new(n_train, batch_size)?;
        let mut rng = config.shuffle.map(StdRng::seed_from_u64);
        let mut buf = Buffers::<Self, L::Target>::new(batch_size, metrics.len());
        let metric_names: Vec<String> = metrics.iter().map(Metric::name).collect();
        let mut callbacks = config
            .callbacks
            .try_borrow_mut()
            .map_err(|_| Error::config("FitConfig", "its callbacks are in use by another fit"))?;
        let mut progress = Progress::new(config.verbosity, config.epochs);
        let mut history = History::default();

        each_callback(&mut callbacks, self, optimizer, |cb, ctl| {
            cb.on_train_begin(ctl)
        })?;
        for epoch in 0..config.epochs {
            let mut stop = each_callback(&mut callbacks, self, optimizer, |cb, ctl| {
                cb.on_epoch_begin(epoch, ctl)
            })?;
            let lr = optimizer.learning_rate();
            if let Some(rng) = rng.as_mut() {
                order.shuffle(rng);
            }
            progress.epoch_begin(epoch, n_train);
            buf.counts.reset();
            let (mut sum, mut seen) = (0.0f64, 0usize);
            for (b, idx) in order.batches().enumerate() {
                buf.gather(train, idx, !metrics.is_empty());
                let penalty = config.penalty_value(self);
                let pred = self.forward_train(&buf.x);
                let value =
                    loss.loss_and_grad(pred, L::Target::view(&buf.target), &mut buf.grad)?
                        + penalty;
                buf.counts.add(metrics, pred, &buf.labels);
                if !value.is_finite() {
                    return Err(Error::NonFiniteLoss {
                        epoch: epoch + 1,
                        batch: b + 1,
                        value,
                    });
                }
                self.backward_params(&buf.x, &buf.grad);
                if let Some(p) = &config.penalty {
                    p.add_grad(self);
                }
                optimizer.step(self);
                sum += value as f64 * idx.len() as f64;
                seen += idx.len();
                let logs = BatchLogs {
                    batch: b,
                    size: idx.len(),
                    loss: value,
                };
                stop |= each_callback(&mut callbacks, self, optimizer, |cb, ctl| {
                    cb.on_batch_end(epoch, &logs, ctl)
                })?;
                let mean = (sum / seen as f64) as f32;
                progress.batch_end(
                    seen,
                    mean,
                    &mut metric_names
                        .iter()
                        .enumerate()
                        .map(|(i, m)| (m.as_str(), buf.counts.value(i))),
                );
            }

            let mut values = Vec::with_capacity(2 * metrics.len() + 3);
            values.push(("loss".to_string(), (sum / seen as f64) as f32));
            for (i, name) in metric_names.iter().enumerate() {
                values.push((name.clone(), buf.counts.value(i)));
            }
            if let Some(v) = val_data {
                let val_loss = evaluate_indices(
                    self,
                    v,
                    &val_indices,
                    config.batch_size,
                    &loss,
                    metrics,
                    &mut buf,
                )?;
                values.push((
                    "val_loss".to_string(),
                    val_loss + config.penalty_value(self),
                ));
                for (i, name) in metric_names.iter().enumerate() {
                    values.push((format!("val_{name}"), buf.counts.value(i)));
                }
            }
            values.push(("lr".to_string(), lr));
            let logs = Logs::new(values);
            history.push(&logs);
            progress.epoch_end(epoch, &logs, n_train);
            stop |= each_callback(&mut callbacks, self, optimizer, |cb, ctl| {
                cb.on_epoch_end(epoch, &logs, ctl)
            })?;
            if stop {
                break;
            }
        }
        each_callback(&mut callbacks, self, optimizer, |cb, ctl| {
            cb.on_train_end(ctl)
        })?;
        Ok(history)
    }

    /// The mean loss and `config`'s metrics on `data`, in evaluation mode, in batches of
    /// `config`'s batch size (Keras `model.evaluate`).
    fn evaluate<L>(
        &mut self,
        data: &Dataset<Self::Input>,
        config: &FitConfig<'_, Self::Input>,
        loss: L,
    ) -> Result<Evaluation>
    where
        L: Loss<Self::Output>,
        L::Target: Targets,
    {
        config.validate()?;
        if data.is_empty() {
            return Err(Error::config("evaluation data", "holds no sample"));
        }
        L::Target::check(data, Self::Output::SIZE)?;
        check_metrics(&config.metrics, data)?;
        let indices: Vec<usize> = (0..data.len()).collect();
        let mut buf = Buffers::<Self, L::Target>::new(
            config.batch_size.min(data.len()),
            config.metrics.len(),
        );
        let loss = evaluate_indices(
            self,
            data,
            &indices,
            config.batch_size,
            &loss,
            &config.metrics,
            &mut buf,
        )?;
        let metrics = config
            .metrics
            .iter()
            .enumerate()
            .map(|(i, &m)| (m, buf.counts.value(i)))
            .collect();
        Ok(Evaluation {
            loss: loss + config.penalty_value(self),
            metrics,
        })
    }

    /// The outputs for `inputs` (row-major samples of the input shape), in evaluation mode, in
    /// batches of `batch_size`: `len / Input::SIZE` rows of `Output::SIZE` values.
    fn predict(&mut self, inputs: &[f32], batch_size: usize) -> Result<Vec<f32>> {
        let size = Self::Input::SIZE;
        if !inputs.len().is_multiple_of(size) {
            return Err(Error::size(
                format!("inputs of {} samples", Dims(<Self::Input as Shape>::DIMS)),
                format!("a multiple of {size} values"),
                format!("{} values", inputs.len()),
            ));
        }
        if batch_size == 0 {
            return Err(Error::config("batch size", "must be at least 1, found 0"));
        }
        let rows = inputs.len() / size;
        let mut out = Vec::with_capacity(rows * Self::Output::SIZE);
        let mut x = Act::<Self::Input>::zeros(batch_size.min(rows));
        for chunk in inputs.chunks(batch_size * size) {
            x.fill_from_slice(chunk)?;
            out.extend_from_slice(self.forward_mode(&x, Mode::Eval).as_slice());
        }
        Ok(out)
    }

    /// The predicted class of each sample of `inputs`: the index of the largest output (the
    /// first on ties, as `torch.argmax`), or for a one-output model 1 when the output is `> 0`.
    fn predict_classes(&mut self, inputs: &[f32], batch_size: usize) -> Result<Vec<usize>> {
        let out = self.predict(inputs, batch_size)?;
        Ok(out.chunks_exact(Self::Output::SIZE).map(argmax).collect())
    }
}

impl<M: Model> Fit for M {}
