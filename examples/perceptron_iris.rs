//! Rosenblatt's perceptron on iris setosa against versicolor (linearly separable: the rule
//! converges to 100% training accuracy), then on XOR (not separable: it reports that it did not
//! converge within the epoch limit).
//!
//! `cargo run --release --example perceptron_iris -- [--seed N] [--epochs N] [--data DIR]`
//! (`--data`: a folder with `iris.csv`, default `data/iris`; `--epochs`: the epoch limit, 100).
//! Last lines: `train_seconds=`, then `test_accuracy=` (setosa/versicolor rows whose index is a
//! multiple of 5, trained on the others).

mod common;

use common::{Args, Flag};
use dl::data::{Dataset, csv};
use dl::zoo::perceptron::{IrisPerceptron, Perceptron2, PerceptronRule};
use dl::{Flat, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;

fn main() -> Result<()> {
    let args = Args::from_env(&[Flag::Seed, Flag::Epochs, Flag::Data]);
    let dir = args
        .data
        .clone()
        .unwrap_or_else(|| common::project_data("iris"));
    let iris = csv::load::<4>(dir.join("iris.csv"))?;
    // Setosa (0) against versicolor (1); rows whose index is a multiple of 5 are the test set.
    let rows: Vec<usize> = (0..iris.len()).filter(|&i| iris.labels()[i] < 2).collect();
    let split = |test: bool| -> Result<Dataset<Flat<4>>> {
        let idx: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|i| (i % 5 == 0) == test)
            .collect();
        let part = iris.subset(&idx);
        Dataset::new(part.features().to_vec(), part.labels().to_vec(), 2)
    };
    let (train, test) = (split(false)?, split(true)?);
    let rule = PerceptronRule {
        learning_rate: 0.1,
        max_epochs: args.epochs.unwrap_or(100),
    };
    println!(
        "iris setosa vs versicolor: {} training and {} test rows; rule: eta = {}, at most {} epochs",
        train.len(),
        test.len(),
        rule.learning_rate,
        rule.max_epochs
    );

    let mut rng = StdRng::seed_from_u64(args.seed);
    let start = Instant::now();
    let mut p = IrisPerceptron::new(&mut rng);
    let report = p.train(&rule, &train)?;
    let train_time = start.elapsed();
    println!(
        "iris: converged = {} after {} epochs ({} updates); training accuracy {:.4}",
        report.converged,
        report.epochs,
        report.updates,
        p.accuracy(&train)?
    );
    println!(
        "learned w = {:?}, b = {:?}",
        p.l0_dense.weight.value(),
        p.l0_dense.bias.value()
    );

    let xor = Dataset::<Flat<2>>::new(
        vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        vec![0, 1, 1, 0],
        2,
    )?;
    let mut q = Perceptron2::new(&mut rng);
    let r = q.train(&rule, &xor)?;
    println!(
        "xor: converged = {} after {} epochs ({} updates, {} mistakes in the last epoch); accuracy {:.2}{}",
        r.converged,
        r.epochs,
        r.updates,
        r.training_errors,
        q.accuracy(&xor)?,
        if r.converged {
            ""
        } else {
            " -- not linearly separable, as expected"
        }
    );

    common::finish("test_accuracy", p.accuracy(&test)? as f64, train_time);
    Ok(())
}
