//! RBF networks trained both ways (see `dl_zoo::rbf`): the classic two-stage training (k-means
//! centres, widths from the centre spacing, least-squares output layer) and end-to-end gradient
//! training of centres, widths and weights (Mse + Adam), on XOR, on sin(x) over [0, 2π] and on
//! iris (three classes, one-hot least squares).
//!
//! `cargo run --release --example rbf_xor_sine -- [--seed N] [--epochs N] [--data DIR]`
//! (`--epochs`: gradient steps of the end-to-end mode, default 3000; `--data`: a folder with
//! `iris.csv`, default `data/iris`). Last lines: `train_seconds=` (the two-stage sine fit), then
//! `test_mse=` (two-stage sin(x) at points between the training points).

mod common;

use common::{Args, Flag};
use dl::data::{Standardizer, csv};
use dl::zoo::classify::{argmax, one_hot};
use dl::zoo::rbf::{RbfIris, RbfSine, RbfXor, TwoStage, fit_gradient};
use dl::{Act, Adam, Flat, Mse, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::f32::consts::TAU;
use std::time::Instant;

fn mse(y: &[f32], t: &[f32]) -> f32 {
    y.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / t.len() as f32
}

fn main() -> Result<()> {
    let args = Args::from_env(&[Flag::Seed, Flag::Epochs, Flag::Data]);
    let steps = args.epochs.unwrap_or(3000);
    let mut rng = StdRng::seed_from_u64(args.seed);

    // XOR.
    let x = Act::<Flat<2>>::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])?;
    let t = [0.0, 1.0, 1.0, 0.0];
    let mut xor = RbfXor::new(&mut rng);
    xor.fit_two_stage(&TwoStage::default(), &x, &t, &mut rng)?;
    println!("xor, two-stage:  outputs {:?}", xor.forward(&x).as_slice());
    let mut xor = RbfXor::new(&mut rng);
    let curve = fit_gradient(&mut xor, &x, &t, &Mse, &mut Adam::new(0.05), steps)?;
    println!(
        "xor, end-to-end: outputs {:?} (MSE {:.2e} after {steps} Adam steps)",
        xor.forward(&x).as_slice(),
        curve.last().copied().unwrap_or(f32::NAN)
    );

    // sin(x) on [0, 2π]: 200 training points, tested between them.
    let n = 200;
    let xs: Vec<f32> = (0..n).map(|i| i as f32 * TAU / (n - 1) as f32).collect();
    let ts: Vec<f32> = xs.iter().map(|v| v.sin()).collect();
    let mids: Vec<f32> = (0..n - 1)
        .map(|i| (i as f32 + 0.5) * TAU / (n - 1) as f32)
        .collect();
    let tm: Vec<f32> = mids.iter().map(|v| v.sin()).collect();
    let (x, xm) = (
        Act::<Flat<1>>::from_vec(xs)?,
        Act::<Flat<1>>::from_vec(mids)?,
    );
    let start = Instant::now();
    let mut sine = RbfSine::new(&mut rng);
    sine.fit_two_stage(&TwoStage::default(), &x, &ts, &mut rng)?;
    let sine_time = start.elapsed();
    let train_mse = mse(sine.forward(&x).as_slice(), &ts);
    let test_mse = mse(sine.forward(&xm).as_slice(), &tm);
    println!("sine, two-stage:  train MSE {train_mse:.2e}, test MSE {test_mse:.2e}");
    // End to end: centres start evenly spread over [0, 2π] with widths from their spacing.
    let mut sine_gd = RbfSine::new(&mut rng);
    let k = sine_gd.l0_rbf.gamma.value().len();
    let spacing = TAU / (k - 1) as f32;
    for (j, c) in sine_gd.l0_rbf.centres.value_mut().iter_mut().enumerate() {
        *c = j as f32 * spacing;
    }
    sine_gd
        .l0_rbf
        .gamma
        .value_mut()
        .fill(1.0 / (2.0 * spacing * spacing));
    fit_gradient(&mut sine_gd, &x, &ts, &Mse, &mut Adam::new(0.01), steps)?;
    println!(
        "sine, end-to-end: train MSE {:.2e}, test MSE {:.2e} ({steps} Adam steps)",
        mse(sine_gd.forward(&x).as_slice(), &ts),
        mse(sine_gd.forward(&xm).as_slice(), &tm)
    );

    // Iris, three classes: rows whose index is a multiple of 5 are the test set.
    let dir = args
        .data
        .clone()
        .unwrap_or_else(|| common::project_data("iris"));
    let iris = csv::load::<4>(dir.join("iris.csv"))?;
    let test_rows: Vec<usize> = (0..iris.len()).filter(|i| i % 5 == 0).collect();
    let train_rows: Vec<usize> = (0..iris.len()).filter(|i| i % 5 != 0).collect();
    let (mut train, mut test) = (iris.subset(&train_rows), iris.subset(&test_rows));
    let st = Standardizer::fit(&train);
    st.apply(&mut train);
    st.apply(&mut test);
    let mut net = RbfIris::new(&mut rng);
    let xi = Act::<Flat<4>>::from_slice(train.features())?;
    net.fit_two_stage(
        &TwoStage::default(),
        &xi,
        &one_hot(train.labels(), 3),
        &mut rng,
    )?;
    let pred = argmax(net.forward(&Act::<Flat<4>>::from_slice(test.features())?));
    let right = pred
        .iter()
        .zip(test.labels())
        .filter(|(p, l)| p == l)
        .count();
    println!(
        "iris, two-stage: test accuracy {:.4} ({right}/{})",
        right as f32 / test.len() as f32,
        test.len()
    );

    common::finish("test_mse", test_mse as f64, sine_time);
    Ok(())
}
