//! LeNet-5 for CIFAR-10 (`dl_zoo::lenet5::LeNet5Cifar`, the PyTorch tutorial's layout) trained
//! with `fit` on the CIFAR-10 binary files in `--data DIR` (`data_batch_1.bin` …
//! `data_batch_5.bin`, `test_batch.bin`). Without `--data`, or when the folder lacks the files,
//! it writes a small synthetic set in the same format (`dl_core::data::cifar::write_synthetic_dir`,
//! 500 learnable records per file) to `target/examples/cifar_lenet/synthetic/` and says so, so
//! the whole path runs. SGD lr 0.01 momentum 0.9, batch 32, pixels scaled to [0, 1].
//!
//! `cargo run --release --example cifar_lenet -- [--seed N] [--epochs N] [--data DIR]`
//! Last lines: `train_seconds=`, then `test_accuracy=`.

mod common;

use common::{Args, Flag};
use dl::data::{cifar, normalize};
use dl::prelude::*;
use dl::zoo::lenet5::LeNet5Cifar;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;

fn main() -> Result<()> {
    let args = Args::from_env(&[Flag::Seed, Flag::Epochs, Flag::Data]);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let real = args
        .data
        .clone()
        .filter(|d| d.join(cifar::TEST_FILE).exists());
    let dir = match real {
        Some(dir) => {
            println!("CIFAR-10 from {}", dir.display());
            dir
        }
        None => {
            let dir = common::output_dir("cifar_lenet")?.join("synthetic");
            cifar::write_synthetic_dir(&dir, 500, &mut rng)?;
            println!(
                "no CIFAR-10 files given (--data DIR with data_batch_1..5.bin and test_batch.bin): \
                 training on a SYNTHETIC CIFAR-format set written to {}",
                dir.display()
            );
            dir
        }
    };
    let (mut train, mut test) = cifar::load(&dir)?;
    normalize::scale_to_unit(&mut train);
    normalize::scale_to_unit(&mut test);
    println!(
        "{} training images, {} test images",
        train.len(),
        test.len()
    );

    let mut net = LeNet5Cifar::new(&mut rng);
    let config = FitConfig::new()
        .epochs(args.epochs.unwrap_or(5))
        .batch_size(32)
        .shuffle(args.seed)
        .metrics(&[Metric::Accuracy])
        .verbose(Verbosity::Lines);
    let mut sgd = Sgd::new(0.01).momentum(0.9);
    let start = Instant::now();
    net.fit(&train, &config, &mut sgd, CrossEntropy)?;
    let train_time = start.elapsed();
    let acc = net
        .evaluate(&test, &config, CrossEntropy)?
        .accuracy()
        .ok_or_else(|| Error::config("metrics", "accuracy was asked for"))?;
    common::finish("test_accuracy", acc as f64, train_time);
    Ok(())
}
