//! The short examples' training, run as tests with their floors, and the examples' shared
//! argument parser. (The RBF and perceptron examples' training is tested in
//! `dl-zoo/tests/convergence.rs` with the same settings.)

#[path = "../examples/common/mod.rs"]
mod common;

use common::{Args, Flag};
use dl::zoo::classify::accuracy;
use dl::zoo::mlp::{DigitsMlp, SklearnSgd};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// `digits_mlp --seed 1`, the full 100 epochs (about 20 s in a debug build). One seed's floor:
/// the target of the tutorial (median of seeds 1–5 ≥ 0.975) is measured in release mode by the
/// example itself (see the README).
#[test]
fn digits_mlp_seed_1_reaches_its_floor() {
    let (train, test) = common::digits_split(&common::project_data("digits")).expect("digits");
    assert_eq!((train.len(), test.len()), (1437, 360));
    let mut rng = StdRng::seed_from_u64(1);
    let mut net = DigitsMlp::new(&mut rng);
    SklearnSgd::init(&mut net, &mut rng);
    let cfg = SklearnSgd {
        max_epochs: 100,
        ..SklearnSgd::new(0.01)
    };
    let report = cfg
        .fit(&mut net, &train, &mut rng, |_, _| ())
        .expect("trains");
    assert!(report.losses[99] < 0.05, "final loss {}", report.losses[99]);
    let acc = accuracy(&mut net, &test, 256).expect("accuracy");
    assert!(acc >= 0.96, "test accuracy {acc}");
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
