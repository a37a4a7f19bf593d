//! The scikit-learn digits tutorial's MLP, trained the way `MLPClassifier(hidden_layer_sizes=(128,),
//! solver="sgd", learning_rate_init=0.01, max_iter=100)` trains it (see
//! `dl_zoo::mlp::SklearnSgd`): 64-128-10 ReLU, Glorot init, batch 200, Nesterov momentum 0.9,
//! L2 alpha 1e-4, at most 100 epochs with scikit-learn's stopping rule. Features are standardised
//! with the training split's statistics; the test rows are those whose index is a multiple of 5.
//!
//! `cargo run --release --example digits_mlp -- [--seed N] [--epochs N] [--data DIR]`
//! (`--data`: a folder with `digits.csv.gz`, default `data/digits`).
//! Last lines: `train_seconds=`, then `test_accuracy=`.

mod common;

use common::{Args, Flag};
use dl::Result;
use dl::zoo::classify::accuracy;
use dl::zoo::mlp::{DigitsMlp, SklearnSgd};
use dl::zoo::numpy_random::RandomState;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;

fn main() -> Result<()> {
    let args = Args::from_env(&[Flag::Seed, Flag::Epochs, Flag::Data]);
    let dir = args
        .data
        .clone()
        .unwrap_or_else(|| common::project_data("digits"));
    let (train, test) = common::digits_split(&dir)?;
    println!(
        "digits: {} training rows, {} test rows, standardised with training statistics",
        train.len(),
        test.len()
    );

    let cfg = SklearnSgd {
        max_epochs: args.epochs.unwrap_or(100),
        ..SklearnSgd::new(0.01)
    };
    // NumPy's generator, drawn in scikit-learn's order: `--seed N` starts from the weights and
    // visits the batches in the order of `MLPClassifier(random_state=N)`.
    let seed = args.numpy_seed()?;
    let mut rs = RandomState::new(seed);
    let mut net = DigitsMlp::new(&mut StdRng::seed_from_u64(args.seed));
    SklearnSgd::init(&mut net, &mut rs);
    let start = Instant::now();
    let report = cfg.fit(&mut net, &train, &mut rs, |epoch, loss| {
        if epoch % 10 == 0 || epoch == 1 {
            println!("epoch {epoch:3}  loss {loss:.5}");
        }
    })?;
    let train_time = start.elapsed();
    println!(
        "{} epochs{}; training accuracy {:.4}",
        report.losses.len(),
        if report.stopped_early {
            " (stopped: the loss improved by less than tol for 10 epochs)"
        } else {
            ""
        },
        accuracy(&mut net, &train, 256)?
    );
    common::finish(
        "test_accuracy",
        accuracy(&mut net, &test, 256)? as f64,
        train_time,
    );
    Ok(())
}
