//! Callbacks: early stopping restores the best epoch's weights, checkpoints reload to identical
//! predictions, learning-rate schedules follow PyTorch's sequences.

use dl_core::data::{Dataset, Standardizer, csv};
use dl_core::io::safetensors;
use dl_core::loss::CrossEntropy;
use dl_core::optim::{Optimizer, Sgd};
use dl_core::train::{
    Callback, Control, CosineAnnealingLr, EarlyStopping, ExponentialLr, Fit, FitConfig, Logs,
    Metric, ModelCheckpoint, ReduceLrOnPlateau, StepLr, ThresholdMode, Verbosity,
};
use dl_core::{Flat, Parameters, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::cell::RefCell;
use std::rc::Rc;

dl_core::sequential! {
    /// Iris: 4 features, 3 classes.
    pub struct IrisNet: [4] -> [3] {
        Dense<16, activation = ReLU>,
        Dense<3>,
    }
}

/// Iris, shuffled (seed 0) and standardised with the first 120 samples' statistics.
fn iris() -> Dataset<Flat<4>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/iris/iris.csv");
    let ds = csv::load::<4>(path).expect("iris loads");
    let mut order: Vec<usize> = (0..ds.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(0));
    let mut ds = ds.subset(&order);
    Standardizer::fit(&ds.split_at(120).0).apply(&mut ds);
    ds
}

/// Every parameter and buffer value of a model, in visiting order.
fn weights(model: &dyn Parameters) -> Vec<f32> {
    let mut all = Vec::new();
    model.visit(&mut |_, p| all.extend_from_slice(p.value()));
    all
}

/// Records the weights at the end of every epoch.
#[derive(Default)]
struct WeightLog(Vec<Vec<f32>>);

impl Callback for WeightLog {
    fn on_epoch_end(&mut self, _: usize, _: &Logs, ctl: &mut Control<'_>) -> Result<()> {
        self.0.push(weights(ctl.model()));
        Ok(())
    }
}

#[test]
fn early_stopping_stops_after_patience_and_restores_the_best_epoch() -> Result<()> {
    let data = iris();
    let log = Rc::new(RefCell::new(WeightLog::default()));
    let (patience, min_delta) = (2, 0.02);
    let es = Rc::new(RefCell::new(
        EarlyStopping::new()
            .monitor("val_loss")
            .patience(patience)
            .min_delta(min_delta)
            .restore_best_weights(true),
    ));
    let config = FitConfig::new()
        .epochs(200)
        .batch_size(16)
        .validation_split(0.2)
        .verbose(Verbosity::Silent)
        .callback(Box::new(log.clone()))
        .callback(Box::new(es.clone()));
    let mut model = IrisNet::new(&mut StdRng::seed_from_u64(1));
    let history = model.fit(&data, &config, &mut Sgd::new(0.02), CrossEntropy)?;

    let es = es.borrow();
    let (best, stopped) = (
        es.best_epoch().expect("best"),
        es.stopped_epoch().expect("stopped"),
    );
    let val = history.get("val_loss").expect("logged");
    assert_eq!(history.epochs(), stopped + 1, "stopped early: {val:?}");
    assert!(stopped < 199);
    // Keras semantics: `patience` epochs without an improvement of more than `min_delta`.
    assert_eq!(stopped, best + patience);
    assert!(val[best + 1..].iter().all(|&v| v >= val[best] - min_delta));
    // The best epoch is the last that beat the best before it by more than `min_delta`.
    let mut record = (f32::INFINITY, 0);
    for (e, &v) in val.iter().enumerate() {
        if v < record.0 - min_delta {
            record = (v, e);
        }
    }
    assert_eq!(best, record.1);
    // The model holds the best epoch's weights, not the last epoch's.
    let log = log.borrow();
    assert_eq!(weights(&model), log.0[best]);
    assert_ne!(weights(&model), log.0[stopped]);
    Ok(())
}

#[test]
fn early_stopping_without_validation_names_the_missing_monitor() {
    let config = FitConfig::new()
        .verbose(Verbosity::Silent)
        .metrics(&[Metric::Accuracy])
        .callback(Box::new(EarlyStopping::new()));
    let err = IrisNet::new(&mut StdRng::seed_from_u64(1))
        .fit(&iris(), &config, &mut Sgd::new(0.02), CrossEntropy)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid early stopping monitor `val_loss`: the logs hold loss, accuracy, lr; \
         give `validation_split` or `validation_data`, or monitor a training value"
    );
}

#[test]
fn checkpoints_reload_to_bit_identical_predictions() -> Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let every = dir.path().join("epoch-{epoch}.safetensors");
    let best = dir.path().join("best.safetensors");
    let data = iris();
    let (train, test) = data.split_at(120);
    let best_cb = Rc::new(RefCell::new(
        ModelCheckpoint::new(best.to_string_lossy())
            .save_best_only(true)
            .monitor("val_accuracy"),
    ));
    let config = FitConfig::new()
        .epochs(6)
        .batch_size(16)
        .validation_data(&test)
        .metrics(&[Metric::Accuracy])
        .verbose(Verbosity::Silent)
        .callback(Box::new(ModelCheckpoint::new(every.to_string_lossy())))
        .callback(Box::new(best_cb.clone()));
    let mut model = IrisNet::new(&mut StdRng::seed_from_u64(3));
    let history = model.fit(&train, &config, &mut Sgd::new(0.05), CrossEntropy)?;

    for e in 1..=6 {
        assert!(dir.path().join(format!("epoch-{e}.safetensors")).is_file());
    }
    // The last epoch's file gives the trained model's predictions, bit for bit.
    let mut restored = IrisNet::new(&mut StdRng::seed_from_u64(99));
    assert_ne!(weights(&restored), weights(&model));
    safetensors::load(&mut restored, dir.path().join("epoch-6.safetensors"))?;
    let want = model.predict(test.features(), 30)?;
    assert_eq!(restored.predict(test.features(), 30)?, want);

    // Best-only saves exactly at the epochs that beat every earlier val_accuracy.
    let acc = history.get("val_accuracy").expect("logged");
    let mut record = f32::NEG_INFINITY;
    let improved: Vec<usize> = (0..6)
        .filter(|&e| {
            let better = acc[e] > record;
            record = record.max(acc[e]);
            better
        })
        .collect();
    assert_eq!(best_cb.borrow().saved_epochs(), improved);
    let last_best = *improved.last().expect("epoch 0 always improves");
    safetensors::load(&mut restored, &best)?;
    let mut at_best = IrisNet::new(&mut StdRng::seed_from_u64(0));
    safetensors::load(
        &mut at_best,
        dir.path()
            .join(format!("epoch-{}.safetensors", last_best + 1)),
    )?;
    assert_eq!(weights(&restored), weights(&at_best));
    Ok(())
}

/// The learning rate of every epoch of a 10-epoch run with `schedule` from 0.1.
fn rates(schedule: Box<dyn Callback>) -> Result<Vec<f32>> {
    let data = iris().split_at(20).0;
    let config = FitConfig::new()
        .epochs(10)
        .batch_size(20)
        .verbose(Verbosity::Silent)
        .callback(schedule);
    let mut model = IrisNet::new(&mut StdRng::seed_from_u64(0));
    let h = model.fit(&data, &config, &mut Sgd::new(0.1), CrossEntropy)?;
    Ok(h.get("lr").expect("logged").to_vec())
}

/// PyTorch's recursive ("chainable") schedules in f64, as `torch.optim.lr_scheduler` computes
/// them when `scheduler.step()` runs once per epoch: `next(epoch, lr)` gives epoch `epoch`'s rate
/// from the previous epoch's.
fn pytorch(base: f64, next: impl Fn(usize, f64) -> f64) -> Vec<f64> {
    let mut lr = base;
    (0..10)
        .map(|e| {
            if e > 0 {
                lr = next(e, lr);
            }
            lr
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            ((*g as f64) - w).abs() <= 1e-6 * w.abs().max(1e-9),
            "{got:?} vs {want:?}"
        );
    }
}

#[test]
fn epoch_schedules_give_pytorchs_rates() -> Result<()> {
    // StepLR(step_size=3, gamma=0.5): `lr * gamma if epoch % step_size == 0 else lr`.
    let step = pytorch(0.1, |e, lr| if e % 3 == 0 { lr * 0.5 } else { lr });
    assert_close(&rates(Box::new(StepLr::new(3, 0.5)))?, &step);
    // ExponentialLR(gamma=0.8): `lr * gamma`.
    let exp = pytorch(0.1, |_, lr| lr * 0.8);
    assert_close(&rates(Box::new(ExponentialLr::new(0.8)))?, &exp);
    // CosineAnnealingLR(T_max=4, eta_min=0.01), run past T_max (the rate climbs back).
    let (t, min, base) = (4.0, 0.01, 0.1);
    let pi = std::f64::consts::PI;
    let cos = pytorch(base, |e, lr| {
        let e = e as f64;
        if ((e - 1.0 - t) % (2.0 * t)) == 0.0 {
            lr + (base - min) * (1.0 - (pi / t).cos()) / 2.0
        } else {
            (1.0 + (pi * e / t).cos()) / (1.0 + (pi * (e - 1.0) / t).cos()) * (lr - min) + min
        }
    });
    assert_close(
        &rates(Box::new(CosineAnnealingLr::new(4).eta_min(0.01)))?,
        &cos,
    );
    assert!(cos[4] < 0.0101 && cos[8] > 0.099);
    Ok(())
}

#[test]
fn reduce_on_plateau_follows_pytorch_with_cooldown_and_min_lr() -> Result<()> {
    let mut model = IrisNet::new(&mut StdRng::seed_from_u64(0));
    let mut sgd = Sgd::new(0.1);
    let mut run = |plateau: ReduceLrOnPlateau, values: &[f32]| -> Result<Vec<f32>> {
        let mut plateau = plateau;
        sgd.set_learning_rate(0.1);
        let mut ctl = Control::new(&mut model, &mut sgd);
        plateau.on_train_begin(&mut ctl)?;
        let mut lrs = Vec::new();
        for (e, &v) in values.iter().enumerate() {
            plateau.on_epoch_end(e, &Logs::new(vec![("val_loss".into(), v)]), &mut ctl)?;
            lrs.push(ctl.learning_rate());
        }
        Ok(lrs)
    };
    let values = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9];
    // patience 2: the third epoch in a row without improvement (epoch 4) halves the rate;
    // the count restarts, so epoch 7 halves it again.
    let base = ReduceLrOnPlateau::new().factor(0.5).patience(2);
    assert_close(
        &run(base.clone(), &values)?,
        &[0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025],
    );
    // cooldown 1: epoch 5 is not counted, so the second cut moves to epoch 8; min_lr caps it.
    assert_close(
        &run(base.clone().cooldown(1).min_lr(0.03), &values)?,
        &[0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.03],
    );
    // A relative threshold of 20%: 0.9 after 1.0 is not an improvement, 0.7 is; 0.66 and 0.6
    // are not (below 0.56 would be). An absolute threshold of 0.05: all but 0.66 improve.
    let v = [1.0, 0.9, 0.7, 0.66, 0.6];
    let rel = base.clone().patience(1).threshold(0.2, ThresholdMode::Rel);
    assert_close(&run(rel, &v)?, &[0.1, 0.1, 0.1, 0.1, 0.05]);
    let abs = base.patience(1).threshold(0.05, ThresholdMode::Abs);
    assert_close(&run(abs, &v)?, &[0.1, 0.1, 0.1, 0.1, 0.1]);
    let err = run(ReduceLrOnPlateau::new().factor(1.0), &v).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid `ReduceLrOnPlateau` factor: must be in [0, 1), found 1"
    );
    Ok(())
}
