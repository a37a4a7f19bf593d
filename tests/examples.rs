//! The short examples' training, run as tests with their floors, and the examples' shared
//! argument parser. (The RBF and perceptron examples' training is tested in
//! `dl-zoo/tests/convergence.rs` with the same settings.)

#[path = "../examples/common/mod.rs"]
mod common;

use common::{Args, Flag};
use dl::Parameters;
use dl::zoo::classify::accuracy;
use dl::zoo::mlp::{DigitsMlp, SklearnSgd};
use dl::zoo::numpy_random::RandomState;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Relative tolerance on each epoch's loss: we train in `f32`, scikit-learn in `f64` (measured: the
/// curves agree to 1e-6).
const SKLEARN_LOSS_RTOL: f32 = 1e-4;

/// scikit-learn's runs of the `digits_mlp` example's settings with `random_state` 1–5, from
/// `tests/sklearn/digits_mlp_reference.py`: per line the seed, the test accuracy and the loss of
/// each epoch.
const SKLEARN_DIGITS_SEEDS: &str = include_str!("sklearn/digits_mlp_seeds.txt");

/// `digits_mlp --seed N` for N = 1–5, the full 100 epochs (the five seeds run side by side, about
/// a minute in a debug build): NumPy's draws make each run `MLPClassifier(random_state=N)`'s, so
/// every epoch's loss and the test accuracy agree with scikit-learn's, and the median test
/// accuracy meets the tutorial's target of 0.975.
#[test]
fn digits_mlp_seeds_1_to_5_are_scikit_learns_runs_and_reach_the_target() {
    let (train, test) = common::digits_split(&common::project_data("digits")).expect("digits");
    assert_eq!((train.len(), test.len()), (1437, 360));
    let references: Vec<(u32, f32, Vec<f32>)> = SKLEARN_DIGITS_SEEDS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut v = l.split(' ');
            let seed = v.next().and_then(|s| s.parse().ok()).expect("a seed");
            let acc = v.next().and_then(|s| s.parse().ok()).expect("an accuracy");
            (seed, acc, v.map(|s| s.parse().expect("a loss")).collect())
        })
        .collect();
    assert_eq!(references.len(), 5);
    let mut accuracies: Vec<f32> = std::thread::scope(|scope| {
        let runs: Vec<_> = references
            .iter()
            .map(|(seed, want_acc, want_losses)| {
                let (train, test) = (&train, &test);
                scope.spawn(move || {
                    let mut rs = RandomState::new(*seed);
                    let mut net = DigitsMlp::new(&mut StdRng::seed_from_u64(0));
                    SklearnSgd::init(&mut net, &mut rs);
                    let cfg = SklearnSgd {
                        max_epochs: 100,
                        ..SklearnSgd::new(0.01)
                    };
                    let report = cfg
                        .fit(&mut net, train, &mut rs, |_, _| ())
                        .expect("trains");
                    assert_eq!(report.losses.len(), want_losses.len(), "seed {seed}");
                    for (epoch, (got, want)) in report.losses.iter().zip(want_losses).enumerate() {
                        assert!(
                            (got - want).abs() <= SKLEARN_LOSS_RTOL * want,
                            "seed {seed}, epoch {}: loss {got} against scikit-learn's {want}",
                            epoch + 1
                        );
                    }
                    let acc = accuracy(&mut net, test, 256).expect("accuracy");
                    assert!(
                        (acc - want_acc).abs() < 0.5 / 360.0,
                        "seed {seed}: test accuracy {acc} against scikit-learn's {want_acc}"
                    );
                    acc
                })
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("a seed's run passed"))
            .collect()
    });
    accuracies.sort_by(f32::total_cmp);
    assert!(
        accuracies[2] >= 0.975,
        "median test accuracy {accuracies:?}"
    );
}

/// scikit-learn's loss curve and test accuracy from `tests/sklearn/digits_mlp_reference.py`:
/// `MLPClassifier` with the digits example's settings, from a fixed initialisation, unshuffled.
const SKLEARN_DIGITS: &str = include_str!("sklearn/digits_mlp_loss.txt");

/// `SklearnSgd` is `MLPClassifier(solver="sgd")` epoch by epoch: from the reference script's
/// initialisation and without shuffling (the one thing left random), every epoch's loss (L2
/// term included, last partial batch of 37 rows included) and the final test accuracy agree.
#[test]
fn digits_mlp_matches_scikit_learn_epoch_by_epoch() {
    let mut values = SKLEARN_DIGITS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.parse::<f32>().expect("a number"))
        .collect::<Vec<_>>();
    let want_accuracy = values.pop().expect("test accuracy");
    let (train, test) = common::digits_split(&common::project_data("digits")).expect("digits");
    let mut net = DigitsMlp::new(&mut StdRng::seed_from_u64(0));
    // The script's formula: weight (in i, out o) = b·sin(i·fan_out + o + 1), bias o = b·cos(o + 1).
    let mut bound = 0.0f64;
    net.visit_mut(&mut |name, p| {
        if name.name == "weight" {
            let (fan_out, fan_in) = (p.shape()[0], p.shape()[1]);
            bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
            for (k, w) in p.value_mut().iter_mut().enumerate() {
                let (o, i) = (k / fan_in, k % fan_in);
                *w = (bound * ((i * fan_out + o) as f64 + 1.0).sin()) as f32;
            }
        } else {
            for (o, b) in p.value_mut().iter_mut().enumerate() {
                *b = (bound * (o as f64 + 1.0).cos()) as f32;
            }
        }
    });
    let cfg = SklearnSgd {
        max_epochs: values.len(),
        shuffle: false,
        ..SklearnSgd::new(0.01)
    };
    let report = cfg
        .fit(&mut net, &train, &mut RandomState::new(0), |_, _| ())
        .expect("trains");
    assert_eq!(report.losses.len(), values.len());
    for (epoch, (got, want)) in report.losses.iter().zip(&values).enumerate() {
        assert!(
            (got - want).abs() <= SKLEARN_LOSS_RTOL * want,
            "epoch {}: loss {got} against scikit-learn's {want}",
            epoch + 1
        );
    }
    let acc = accuracy(&mut net, &test, 256).expect("accuracy");
    assert!(
        (acc - want_accuracy).abs() < 1.5 / 360.0,
        "test accuracy {acc} against scikit-learn's {want_accuracy}"
    );
}

#[test]
fn arguments_parse_and_unknown_flags_are_rejected() {
    let parse =
        |v: &[&str], accepted: &[Flag]| Args::parse(v.iter().map(|s| s.to_string()), accepted);
    let all = [Flag::Seed, Flag::Epochs, Flag::Data];
    let a = parse(&["--seed", "7", "--epochs=3", "--data", "x/y"], &all).unwrap();
    assert_eq!((a.seed, a.epochs), (7, Some(3)));
    assert_eq!(a.data.as_deref(), Some(std::path::Path::new("x/y")));
    assert_eq!(parse(&[], &all).unwrap().seed, 1);
    assert_eq!(
        parse(&["--data", "d"], &[Flag::Seed]).unwrap_err(),
        "unknown argument `--data`\nusage: [--seed N]"
    );
    assert_eq!(
        parse(&["--seed", "x"], &all).unwrap_err(),
        "`--seed` expects a whole number, found `x`"
    );
    assert_eq!(
        parse(&["--epochs"], &all).unwrap_err(),
        "`--epochs` needs a value (N)\nusage: [--seed N] [--epochs N] [--data DIR]"
    );
    assert_eq!(
        parse(&["--epochs", "0"], &all).unwrap_err(),
        "`--epochs` must be at least 1, found 0"
    );
}
