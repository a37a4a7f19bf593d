//! Prints the layer tables of the zoo's two AlexNets (ImageNet, one tower; CIFAR-10) and runs one
//! forward pass and one training step (forward, cross-entropy, backward, SGD step) of each on
//! random data, with the time of each.
//!
//! `cargo run --release --example alexnet_summary -- [--seed N]`
//! Last lines: `train_seconds=` (the two training steps together).

mod common;

use common::{Args, Flag};
use dl::prelude::*;
use dl::zoo::alexnet::{AlexNet, AlexNetCifar};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// One forward pass and one training step on a random batch; returns the step's time.
fn run<M: Model<Output = Flat<C>>, const C: usize>(
    name: &str,
    batch: usize,
    rng: &mut StdRng,
) -> Result<Duration> {
    let start = Instant::now();
    let mut net = M::new(rng);
    println!(
        "{name}: built in {:.2?} ({} parameters)",
        start.elapsed(),
        M::NUM_PARAMS
    );
    let x: Vec<f32> = (0..batch * <M::Input as Shape>::SIZE)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let x = Act::<M::Input>::from_vec(x)?;
    let labels: Vec<usize> = (0..batch).map(|_| rng.random_range(0..C)).collect();

    let start = Instant::now();
    let logits = net.forward(&x);
    println!(
        "{name}: forward of {batch} samples in {:.3?} (first logit {:.4})",
        start.elapsed(),
        logits.as_slice()[0]
    );

    let mut sgd = Sgd::new(0.01).momentum(0.9);
    let mut grad = Act::default();
    let start = Instant::now();
    let loss = CrossEntropy.loss_and_grad(net.forward_train(&x), &labels, &mut grad)?;
    net.backward_params(&x, &grad);
    sgd.step(&mut net);
    let step = start.elapsed();
    println!("{name}: training step of {batch} samples in {step:.3?} (loss {loss:.4})");
    Ok(step)
}

fn main() -> Result<()> {
    let args = Args::from_env(&[Flag::Seed]);
    let mut rng = StdRng::seed_from_u64(args.seed);
    println!("{}", AlexNet::SUMMARY);
    println!("{}", AlexNetCifar::SUMMARY);
    let a = run::<AlexNet, 1000>("AlexNet (ImageNet)", 2, &mut rng)?;
    let b = run::<AlexNetCifar, 10>("AlexNet (CIFAR-10)", 8, &mut rng)?;
    println!("train_seconds={:.3}", (a + b).as_secs_f64());
    Ok(())
}
