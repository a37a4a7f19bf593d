//! The zoo's training rules on real data with fixed seeds and explicit floors: the perceptron on
//! iris and XOR, the RBF network (two-stage) on XOR, sin(x) and iris. The same settings as the
//! examples `perceptron_iris` and `rbf_xor_sine`.

use dl_core::data::{Dataset, Standardizer, csv};
use dl_core::{Act, Flat};
use dl_core::{Adam, Mse};
use dl_zoo::classify::{argmax, one_hot};
use dl_zoo::perceptron::{IrisPerceptron, Perceptron2, PerceptronRule};
use dl_zoo::rbf::{RbfIris, RbfSine, RbfXor, TwoStage, fit_gradient};
use rand::SeedableRng;
use rand::rngs::StdRng;

const IRIS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/iris/iris.csv");

fn iris() -> Dataset<Flat<4>> {
    csv::load::<4>(IRIS).expect("data/iris/iris.csv")
}

#[test]
fn perceptron_separates_setosa_from_versicolor_and_gives_up_on_xor() {
    let all = iris();
    let rows: Vec<usize> = (0..all.len()).filter(|&i| all.labels()[i] < 2).collect();
    assert_eq!(rows.len(), 100);
    let two = Dataset::<Flat<4>>::new(
        all.subset(&rows).features().to_vec(),
        all.subset(&rows).labels().to_vec(),
        2,
    )
    .expect("two classes");
    let rule = PerceptronRule {
        learning_rate: 0.1,
        max_epochs: 100,
    };
    for seed in 1..=5 {
        let mut p = IrisPerceptron::new(&mut StdRng::seed_from_u64(seed));
        let report = p.train(&rule, &two).expect("trains");
        assert!(report.converged, "seed {seed}: {report:?}");
        assert!(report.epochs < 100);
        assert_eq!(p.accuracy(&two).expect("accuracy"), 1.0, "seed {seed}");
    }

    let xor = Dataset::<Flat<2>>::new(
        vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        vec![0, 1, 1, 0],
        2,
    )
    .expect("xor");
    let mut p = Perceptron2::new(&mut StdRng::seed_from_u64(1));
    let report = p.train(&rule, &xor).expect("runs");
    assert!(
        !report.converged && report.epochs == 100 && report.training_errors > 0,
        "{report:?}"
    );
}

#[test]
fn rbf_two_stage_solves_xor_exactly() {
    let x = Act::<Flat<2>>::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).expect("x");
    let t = [0.0, 1.0, 1.0, 0.0];
    for seed in 1..=5 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net = RbfXor::new(&mut rng);
        net.fit_two_stage(&TwoStage::default(), &x, &t, &mut rng)
            .expect("fits");
        let y = net.forward(&x);
        for (out, want) in y.as_slice().iter().zip(t) {
            assert_eq!(out.round(), want, "seed {seed}: {:?}", y.as_slice());
            assert!((out - want).abs() < 1e-3, "seed {seed}: {:?}", y.as_slice());
        }
    }
}

#[test]
fn rbf_two_stage_fits_sine_below_1e_3() {
    let n = 200;
    let xs: Vec<f32> = (0..n)
        .map(|i| i as f32 * std::f32::consts::TAU / (n - 1) as f32)
        .collect();
    let t: Vec<f32> = xs.iter().map(|x| x.sin()).collect();
    let x = Act::<Flat<1>>::from_vec(xs).expect("x");
    let mut rng = StdRng::seed_from_u64(1);
    let mut net = RbfSine::new(&mut rng);
    net.fit_two_stage(&TwoStage::default(), &x, &t, &mut rng)
        .expect("fits");
    let mse = |net: &mut RbfSine, x: &Act<Flat<1>>, t: &[f32]| {
        let y = net.forward(x);
        y.as_slice()
            .iter()
            .zip(t)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            / t.len() as f32
    };
    let train_mse = mse(&mut net, &x, &t);
    // Points between the training points.
    let xs: Vec<f32> = (0..n - 1)
        .map(|i| (i as f32 + 0.5) * std::f32::consts::TAU / (n - 1) as f32)
        .collect();
    let t: Vec<f32> = xs.iter().map(|x| x.sin()).collect();
    let test_mse = mse(&mut net, &Act::from_vec(xs).expect("x"), &t);
    eprintln!("sine: train MSE {train_mse:e}, test MSE {test_mse:e}");
    assert!(
        train_mse < 1e-3 && test_mse < 1e-3,
        "{train_mse} {test_mse}"
    );
}

#[test]
fn rbf_two_stage_classifies_iris() {
    let all = iris();
    let test_rows: Vec<usize> = (0..all.len()).filter(|i| i % 5 == 0).collect();
    let train_rows: Vec<usize> = (0..all.len()).filter(|i| i % 5 != 0).collect();
    let (mut train, mut test) = (all.subset(&train_rows), all.subset(&test_rows));
    let st = Standardizer::fit(&train);
    st.apply(&mut train);
    st.apply(&mut test);
    let x = Act::<Flat<4>>::from_slice(train.features()).expect("x");
    let xt = Act::<Flat<4>>::from_slice(test.features()).expect("x");
    let mut accs = Vec::new();
    for seed in 1..=5 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net = RbfIris::new(&mut rng);
        net.fit_two_stage(
            &TwoStage::default(),
            &x,
            &one_hot(train.labels(), 3),
            &mut rng,
        )
        .expect("fits");
        let pred = argmax(net.forward(&xt));
        let right = pred
            .iter()
            .zip(test.labels())
            .filter(|(p, l)| p == l)
            .count();
        accs.push(right as f32 / test.len() as f32);
    }
    eprintln!("iris RBF test accuracy over seeds 1-5: {accs:?}");
    assert!(accs.iter().all(|&a| a >= 0.9), "{accs:?}");
}

#[test]
fn rbf_end_to_end_gradient_training_solves_xor_for_most_seeds_and_fits_sine() {
    let x = Act::<Flat<2>>::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).expect("x");
    let t = [0.0, 1.0, 1.0, 0.0];
    let mut solved = Vec::new();
    for seed in 1..=10 {
        let mut net = RbfXor::new(&mut StdRng::seed_from_u64(seed));
        let curve =
            fit_gradient(&mut net, &x, &t, &Mse, &mut Adam::new(0.05), 3000).expect("trains");
        let y = net.forward(&x);
        let right = y
            .as_slice()
            .iter()
            .zip(t)
            .all(|(out, want)| out.round() == want);
        if right && curve[2999] < 1e-4 * curve[0] {
            solved.push(seed);
        }
    }
    // Gradient descent can settle in a local minimum (seed 3 puts two points under one centre
    // and answers 0.5 for both); the two-stage mode above has no such failure.
    assert!(solved.len() >= 8, "solved only with seeds {solved:?}");

    // Centres start on an even grid over [0, 2π] (widths from the spacing); all trained by Adam.
    let n = 100;
    let xs: Vec<f32> = (0..n)
        .map(|i| i as f32 * std::f32::consts::TAU / (n - 1) as f32)
        .collect();
    let ts: Vec<f32> = xs.iter().map(|x| x.sin()).collect();
    let x = Act::<Flat<1>>::from_vec(xs).expect("x");
    let mut net = RbfSine::new(&mut StdRng::seed_from_u64(1));
    let spacing = std::f32::consts::TAU / 15.0;
    for (j, c) in net.l0_rbf.centres.value_mut().iter_mut().enumerate() {
        *c = j as f32 * spacing;
    }
    net.l0_rbf
        .gamma
        .value_mut()
        .fill(1.0 / (2.0 * spacing * spacing));
    let curve = fit_gradient(&mut net, &x, &ts, &Mse, &mut Adam::new(0.01), 1500).expect("trains");
    eprintln!("sine end to end: MSE {} -> {}", curve[0], curve[1499]);
    assert!(curve[1499] < 1e-3, "{}", curve[1499]);
}
