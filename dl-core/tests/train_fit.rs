//! `fit`, `evaluate`, `predict`: learning on iris and a regression, the validation split, the
//! NaN stop, and the no-allocation batch loop.

mod common;

use common::{allocations_so_far, assert_counting_works};
use dl_core::data::{Dataset, Standardizer, csv};
use dl_core::loss::{CrossEntropy, Loss, Mse, Penalty};
use dl_core::optim::Optimizer;
use dl_core::optim::Sgd;
use dl_core::train::{BatchLogs, Callback, Control, Fit, FitConfig, Metric, Verbosity};
use dl_core::{Act, Flat, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::cell::{Cell, RefCell};

dl_core::sequential! {
    /// Iris: 4 features, 3 classes.
    pub struct IrisNet: [4] -> [3] {
        Dense<16, activation = ReLU>,
        Dense<3>,
    }

    /// Iris with tanh.
    pub struct IrisTanh: [4] -> [3] {
        Dense<8, activation = Tanh>,
        Dense<3>,
    }

    /// One input, one output.
    pub struct Reg: [1] -> [1] {
        Dense<16, activation = Tanh>,
        Dense<1>,
    }

    /// Maps an index to one of 40 classes (used to see which samples a loss gets).
    pub struct Wide: [1] -> [40] {
        Dense<40>,
    }
}

/// Iris, shuffled once (seed 0) so that the last 20% holds every class, standardised with the
/// statistics of the first 80% (the training part of `validation_split(0.2)`).
fn iris() -> Dataset<Flat<4>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/iris/iris.csv");
    let ds = csv::load::<4>(path).expect("iris loads");
    let mut order: Vec<usize> = (0..ds.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(0));
    let mut ds = ds.subset(&order);
    let st = Standardizer::fit(&ds.split_at(120).0);
    st.apply(&mut ds);
    ds
}

fn silent<'a, S: dl_core::Shape>() -> FitConfig<'a, S> {
    FitConfig::new().verbose(Verbosity::Silent)
}

#[test]
fn iris_loss_falls_and_accuracy_rises_above_95_percent() -> Result<()> {
    let data = iris();
    let mut model = IrisNet::new(&mut StdRng::seed_from_u64(1));
    let config = silent()
        .epochs(40)
        .batch_size(16)
        .shuffle(3)
        .validation_split(0.2)
        .metrics(&[Metric::Accuracy, Metric::TopK(2)]);
    let mut sgd = Sgd::new(0.05).momentum(0.9);
    let history = model.fit(&data, &config, &mut sgd, CrossEntropy)?;
    assert_eq!(
        history.names(),
        [
            "loss",
            "accuracy",
            "top2_accuracy",
            "val_loss",
            "val_accuracy",
            "val_top2_accuracy",
            "lr"
        ]
    );
    assert_eq!(history.epochs(), 40);
    let col = |n: &str| history.get(n).expect("logged").to_vec();
    let (loss, acc, val_acc) = (col("loss"), col("accuracy"), col("val_accuracy"));
    assert!(loss[39] < loss[0] / 4.0, "loss {loss:?}");
    assert!(acc[0] < 0.9 && acc[39] >= 0.95, "accuracy {acc:?}");
    assert!(val_acc[39] >= 0.95, "val_accuracy {val_acc:?}");
    assert!(col("val_top2_accuracy")[39] >= val_acc[39]);
    assert!(col("lr").iter().all(|&lr| lr == 0.05));

    // The last epoch's validation numbers are `evaluate` on the last 30 samples.
    let (_, val) = data.split_at(120);
    let eval = model.evaluate(&val, &config, CrossEntropy)?;
    assert_eq!(eval.loss, col("val_loss")[39]);
    assert_eq!(eval.accuracy(), Some(val_acc[39]));

    // `predict_classes` agrees with the accuracy; `predict` with the model's forward pass.
    let classes = model.predict_classes(val.features(), 7)?;
    let right = classes
        .iter()
        .zip(val.labels())
        .filter(|(a, b)| a == b)
        .count();
    assert_eq!(right as f32 / 30.0, val_acc[39]);
    let x = Act::<Flat<4>>::from_slice(val.features())?;
    let direct = model.forward(&x).as_slice().to_vec();
    assert_eq!(model.predict(val.features(), 7)?, direct);
    Ok(())
}

/// Cross-entropy that records the labels of every batch it sees, for training and validation.
#[derive(Default)]
struct Recording {
    train: RefCell<Vec<Vec<usize>>>,
    val: RefCell<Vec<usize>>,
}

impl Loss<Flat<40>> for &Recording {
    type Target = [usize];
    fn loss_and_grad(&self, p: &Act<Flat<40>>, y: &[usize], g: &mut Act<Flat<40>>) -> Result<f32> {
        self.train.borrow_mut().push(y.to_vec());
        CrossEntropy.loss_and_grad(p, y, g)
    }
    fn loss(&self, p: &Act<Flat<40>>, y: &[usize]) -> Result<f32> {
        self.val.borrow_mut().extend_from_slice(y);
        CrossEntropy.loss(p, y)
    }
}

#[test]
fn validation_split_holds_out_the_last_fraction_before_shuffling() -> Result<()> {
    // Sample i has label i, so the labels a loss sees name the samples.
    let data = Dataset::<Flat<1>>::new((0..40).map(|i| i as f32).collect(), (0..40).collect(), 40)?;
    let mut model = Wide::new(&mut StdRng::seed_from_u64(0));
    let rec = Recording::default();
    // Keras: int(40 * (1 - 0.3)) = 28 training samples.
    let config = silent()
        .epochs(2)
        .batch_size(8)
        .shuffle(5)
        .validation_split(0.3);
    model.fit(&data, &config, &mut Sgd::new(0.01), &rec)?;
    let train = rec.train.borrow();
    assert_eq!(
        train.iter().map(Vec::len).collect::<Vec<_>>(),
        [8, 8, 8, 4, 8, 8, 8, 4]
    );
    for epoch in train.chunks(4) {
        let mut seen: Vec<usize> = epoch.concat();
        assert_ne!(seen, (0..28).collect::<Vec<_>>(), "shuffled");
        seen.sort_unstable();
        assert_eq!(seen, (0..28).collect::<Vec<_>>());
    }
    assert_ne!(train[..4], train[4..], "a new order every epoch");
    let val: Vec<usize> = (28..40).chain(28..40).collect();
    assert_eq!(*rec.val.borrow(), val);

    // Bad splits are errors.
    let err = |config: &FitConfig<'_, Flat<1>>| {
        Wide::new(&mut StdRng::seed_from_u64(0))
            .fit(&data, config, &mut Sgd::new(0.01), CrossEntropy)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(&silent().validation_split(1.0)),
        "invalid validation_split: must be in (0, 1), found 1"
    );
    // Keras' int(40 * (1 - 0.01)) = 39 keeps one validation sample; 1e-20 keeps none.
    assert_eq!(
        err(&silent().validation_split(1e-20)),
        "invalid validation_split: 0.00000000000000000001 of 40 samples leaves no validation sample"
    );
    assert_eq!(
        err(&silent().batch_size(0)),
        "invalid batch size: must be at least 1, found 0"
    );
    Ok(())
}

/// Cross-entropy that returns NaN on its `n`-th training call (from 1).
struct NanOnCall {
    n: usize,
    calls: Cell<usize>,
}

impl Loss<Flat<3>> for NanOnCall {
    type Target = [usize];
    fn loss_and_grad(&self, p: &Act<Flat<3>>, y: &[usize], g: &mut Act<Flat<3>>) -> Result<f32> {
        self.calls.set(self.calls.get() + 1);
        let l = CrossEntropy.loss_and_grad(p, y, g)?;
        Ok(if self.calls.get() == self.n {
            f32::NAN
        } else {
            l
        })
    }
    fn loss(&self, p: &Act<Flat<3>>, y: &[usize]) -> Result<f32> {
        CrossEntropy.loss(p, y)
    }
}

#[test]
fn a_nan_loss_stops_training_naming_epoch_and_batch() {
    let mut data = iris().split_at(12).0; // 3 batches of 4 per epoch
    let config = silent().epochs(5).batch_size(4).no_shuffle();
    let mut model = IrisNet::new(&mut StdRng::seed_from_u64(0));
    let loss = NanOnCall {
        n: 7,
        calls: Cell::new(0),
    };
    let err = model
        .fit(&data, &config, &mut Sgd::new(0.1), loss)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "training loss is NaN at epoch 3, batch 1: lower the learning rate or check the data"
    );
    // A NaN in the data: sample 9 is in the third batch of the first epoch.
    data.features_mut()[9 * 4 + 2] = f32::NAN;
    let mut model = IrisTanh::new(&mut StdRng::seed_from_u64(0));
    let err = model
        .fit(&data, &config, &mut Sgd::new(0.1), CrossEntropy)
        .unwrap_err();
    assert!(matches!(
        err,
        dl_core::Error::NonFiniteLoss { epoch: 1, batch: 3, value } if value.is_nan()
    ));
}

#[test]
fn regression_with_f32_targets_fits_a_line() -> Result<()> {
    // y = 0.5·x − 0.2 on [-1, 1].
    let x: Vec<f32> = (0..64).map(|i| i as f32 / 31.5 - 1.0).collect();
    let y: Vec<f32> = x.iter().map(|v| 0.5 * v - 0.2).collect();
    let data = Dataset::<Flat<1>>::with_targets(x, y, 1)?;
    let mut model = Reg::new(&mut StdRng::seed_from_u64(2));
    let config = silent().epochs(60).batch_size(8).shuffle(1);
    let history = model.fit(&data, &config, &mut Sgd::new(0.1).momentum(0.9), Mse)?;
    let loss = history.get("loss").expect("logged");
    assert!(loss[59] < 1e-3 && loss[59] < loss[0] / 20.0, "{loss:?}");
    assert_eq!(history.names(), ["loss", "lr"]);
    let pred = model.predict(&[0.0, 0.5], 2)?;
    assert!(
        (pred[0] + 0.2).abs() < 0.05 && (pred[1] - 0.05).abs() < 0.05,
        "{pred:?}"
    );

    // Accuracy needs labels; a label loss needs labels; predict checks the input size.
    let with_acc = silent().metrics(&[Metric::Accuracy]);
    let err = model
        .fit(&data, &with_acc, &mut Sgd::new(0.1), Mse)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid metric `accuracy`: needs class labels but the data set holds f32 targets"
    );
    let mut wide = Wide::new(&mut StdRng::seed_from_u64(0));
    let err = wide
        .fit(&data, &silent(), &mut Sgd::new(0.1), CrossEntropy)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid loss target: this loss compares with class labels but the data set holds f32 targets"
    );
    let four = Dataset::<Flat<4>>::new(vec![0.0; 8], vec![0, 3], 4)?;
    let err = IrisNet::new(&mut StdRng::seed_from_u64(0))
        .fit(&four, &silent(), &mut Sgd::new(0.1), CrossEntropy)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "classes of the data set: expected at most 3 (the model's outputs), found 4"
    );
    let err = IrisNet::new(&mut StdRng::seed_from_u64(0))
        .predict(&[0.0; 5], 2)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "inputs of [4] samples: expected a multiple of 4 values, found 5 values"
    );
    Ok(())
}

#[test]
fn labels_become_one_hot_targets_for_mse() -> Result<()> {
    let data = iris();
    let mut model = IrisNet::new(&mut StdRng::seed_from_u64(4));
    let config = silent()
        .epochs(30)
        .batch_size(16)
        .metrics(&[Metric::Accuracy]);
    let h = model.fit(&data, &config, &mut Sgd::new(0.1).momentum(0.9), Mse)?;
    assert!(h.get("accuracy").expect("logged")[29] >= 0.9);
    Ok(())
}

/// Counts the allocations of the batch loop from the end of the first batch of the first epoch
/// to the end of its last batch.
struct AllocProbe {
    batches: usize,
    start: usize,
    counted: Option<usize>,
}

impl Callback for AllocProbe {
    fn on_batch_end(&mut self, epoch: usize, b: &BatchLogs, _: &mut Control<'_>) -> Result<()> {
        if epoch == 0 && b.batch == 0 {
            self.start = allocations_so_far();
        } else if epoch == 0 && b.batch + 1 == self.batches {
            self.counted = Some(allocations_so_far() - self.start);
        }
        Ok(())
    }
}

/// The steady-state batch loop of `fit` (forward, loss, backward, optimizer step, metrics and
/// callbacks) allocates nothing: batch buffers, targets and metrics reuse memory sized when
/// training starts, and the layers and the GEMM reuse theirs.
#[test]
fn the_steady_state_batch_loop_allocates_nothing() -> Result<()> {
    assert_counting_works();
    let data = iris().split_at(144).0; // 9 batches of 16
    let probe = std::rc::Rc::new(RefCell::new(AllocProbe {
        batches: 9,
        start: 0,
        counted: None,
    }));
    let config = silent()
        .epochs(1)
        .batch_size(16)
        .metrics(&[Metric::Accuracy, Metric::TopK(2)])
        .callback(Box::new(probe.clone()));
    let mut model = IrisNet::new(&mut StdRng::seed_from_u64(0));
    model.fit(
        &data,
        &config,
        &mut Sgd::new(0.05).momentum(0.9),
        CrossEntropy,
    )?;
    assert_eq!(probe.borrow().counted, Some(0));
    Ok(())
}

/// Sum of squares of the weights (not biases) of a model.
fn weight_norm2(model: &dyn dl_core::Parameters) -> f64 {
    let mut sum = 0.0;
    model.visit(&mut |name, p| {
        if name.name == "weight" {
            sum += p.value().iter().map(|&w| f64::from(w * w)).sum::<f64>();
        }
    });
    sum
}

#[test]
fn a_penalty_is_added_to_the_loss_and_shrinks_the_weights() -> Result<()> {
    let data = iris();
    let train = |penalty: Option<Penalty>| -> Result<(IrisNet, dl_core::train::History)> {
        let mut model = IrisNet::new(&mut StdRng::seed_from_u64(1));
        let mut config = silent().epochs(20).batch_size(16).validation_split(0.2);
        if let Some(p) = penalty {
            config = config.penalty(p);
        }
        let h = model.fit(&data, &config, &mut Sgd::new(0.05), CrossEntropy)?;
        Ok((model, h))
    };
    let l2 = Penalty { l1: 0.0, l2: 0.05 };
    let (mut plain, _) = train(None)?;
    let (mut shrunk, h) = train(Some(l2))?;
    let (a, b) = (weight_norm2(&shrunk), weight_norm2(&plain));
    assert!(a < 0.8 * b, "{a} vs {b}");
    // The logged validation loss is cross-entropy plus the penalty of the final weights.
    let (_, val) = data.split_at(120);
    let ce = shrunk
        .evaluate(&val, &silent().batch_size(16), CrossEntropy)?
        .loss;
    let with = shrunk
        .evaluate(&val, &silent().batch_size(16).penalty(l2), CrossEntropy)?
        .loss;
    assert_eq!(with, ce + l2.value(&shrunk));
    assert_eq!(h.get("val_loss").expect("logged")[19], with);
    let plain_loss = plain.evaluate(&val, &silent(), CrossEntropy)?.loss;
    assert!(plain_loss < with, "{plain_loss} vs {with}");

    // With a learning rate of 0 the weights stay put, so the logged training loss is the
    // evaluated loss plus the penalty.
    let frozen = silent().epochs(1).batch_size(16).no_shuffle().penalty(l2);
    let h = shrunk.fit(&data, &frozen, &mut Sgd::new(0.0), CrossEntropy)?;
    let eval = shrunk.evaluate(&data, &frozen, CrossEntropy)?.loss;
    let logged = h.get("loss").expect("logged")[0];
    assert!((logged - eval).abs() <= 1e-6 * eval, "{logged} vs {eval}");
    assert!(l2.value(&shrunk) > 0.01 * eval);

    // Bad optimizer settings and penalties are refused before the first step.
    let err = plain
        .fit(&data, &silent(), &mut Sgd::new(-0.1), CrossEntropy)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("learning rate") && err.contains("-0.1"),
        "{err}"
    );
    let bad = silent().penalty(Penalty { l1: -1.0, l2: 0.0 });
    let err = plain
        .fit(&data, &bad, &mut Sgd::new(0.1), CrossEntropy)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid `Penalty` l1: expected a finite factor >= 0, found -1"
    );
    Ok(())
}

dl_core::sequential! {
    /// The tutorials' MNIST MLP.
    pub struct Mlp784: [784] -> [10] {
        Dense<128, activation = ReLU>,
        Dense<10>,
    }
}

/// The training loop written by hand: in-order batches, forward, loss, backward, step.
fn hand_loop<M: dl_core::Model>(
    model: &mut M,
    data: &Dataset<M::Input>,
    batch_size: usize,
    epochs: usize,
    sgd: &mut Sgd,
) -> Result<()>
where
    CrossEntropy: Loss<M::Output, Target = [usize]>,
{
    let (mut x, mut y) = (Act::<M::Input>::default(), Vec::new());
    let mut grad = Act::<M::Output>::default();
    let indices: Vec<usize> = (0..data.len()).collect();
    for _ in 0..epochs {
        for idx in indices.chunks(batch_size) {
            data.gather(idx, &mut x, &mut y);
            let pred = model.forward_train(&x);
            CrossEntropy.loss_and_grad(pred, &y, &mut grad)?;
            model.backward_params(&x, &grad);
            sgd.step(model);
        }
    }
    Ok(())
}

/// Every parameter value of a model.
fn values(model: &dyn dl_core::Parameters) -> Vec<f32> {
    let mut all = Vec::new();
    model.visit(&mut |_, p| all.extend_from_slice(p.value()));
    all
}

#[test]
fn fit_without_shuffling_equals_the_hand_written_loop_bit_for_bit() -> Result<()> {
    let data = iris();
    let mut a = IrisNet::new(&mut StdRng::seed_from_u64(5));
    let mut b = IrisNet::new(&mut StdRng::seed_from_u64(5));
    let config = silent().epochs(3).batch_size(16).no_shuffle();
    a.fit(
        &data,
        &config,
        &mut Sgd::new(0.05).momentum(0.9),
        CrossEntropy,
    )?;
    hand_loop(&mut b, &data, 16, 3, &mut Sgd::new(0.05).momentum(0.9))?;
    assert_eq!(values(&a), values(&b));
    Ok(())
}

/// Times `fit` against the hand-written loop on the 8,000 MNIST training digits (MLP
/// 784-128-10, batch 100, SGD momentum 0.9, 3 epochs); run with
/// `cargo test --release -p dl-core --test train_fit -- --ignored --nocapture`.
#[test]
#[ignore = "timing: run in release"]
fn fit_overhead_on_mnist() -> Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/mnist-10k");
    let (mut train, _) = dl_core::data::mnist::load_flat(dir)?;
    dl_core::data::normalize::scale_to_unit(&mut train);
    let config = silent().epochs(3).batch_size(100).no_shuffle();
    let (mut best_fit, mut best_hand) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..3 {
        let mut a = Mlp784::new(&mut StdRng::seed_from_u64(0));
        let mut b = Mlp784::new(&mut StdRng::seed_from_u64(0));
        let t = std::time::Instant::now();
        a.fit(
            &train,
            &config,
            &mut Sgd::new(0.01).momentum(0.9),
            CrossEntropy,
        )?;
        best_fit = best_fit.min(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        hand_loop(&mut b, &train, 100, 3, &mut Sgd::new(0.01).momentum(0.9))?;
        best_hand = best_hand.min(t.elapsed().as_secs_f64());
        assert_eq!(values(&a), values(&b));
    }
    let samples = 3.0 * train.len() as f64;
    println!(
        "fit: {best_fit:.3} s ({:.0} samples/s); hand-written loop: {best_hand:.3} s ({:.0} samples/s); ratio {:.3}",
        samples / best_fit,
        samples / best_hand,
        best_fit / best_hand
    );
    Ok(())
}
