//! A few optimizer steps on a fixed batch reduce the loss: losses, backward passes and
//! optimizers wired together as the training loop will use them.

use dl_core::{Act, Adam, CrossEntropy, Flat, Loss, Optimizer, Penalty, Sgd};
use rand::{Rng, SeedableRng};

dl_core::sequential! {
    /// The MLP 784-128-10 of the golden network case.
    pub struct Mlp: [784] -> [10] {
        Dense<128, activation = ReLU>,
        Dense<10>,
    }
}

const BATCH: usize = 16;
const STEPS: usize = 15;

/// Loss before the first step and after `STEPS` steps of `opt` (with `penalty` added).
fn train(opt: &mut dyn Optimizer, penalty: Penalty) -> (f32, f32) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut model = Mlp::new(&mut rng);
    let x = Act::<Flat<784>>::from_vec(
        (0..BATCH * 784)
            .map(|_| rng.random_range(0.0..1.0))
            .collect(),
    )
    .unwrap();
    let labels: Vec<usize> = (0..BATCH).map(|_| rng.random_range(0..10)).collect();
    opt.validate().unwrap();
    let mut grad = Act::default();
    let objective = |model: &mut Mlp| {
        let logits = model.forward_train(&x);
        CrossEntropy.loss(logits, &labels).unwrap() + penalty.value(model)
    };
    let first = objective(&mut model);
    for _ in 0..STEPS {
        let logits = model.forward_train(&x);
        CrossEntropy
            .loss_and_grad(logits, &labels, &mut grad)
            .unwrap();
        model.backward_params(&x, &grad);
        penalty.add_grad(&mut model);
        opt.step(&mut model);
    }
    (first, objective(&mut model))
}

#[test]
fn sgd_with_cross_entropy_fits_a_fixed_batch() {
    let (first, last) = train(&mut Sgd::new(0.05).momentum(0.9), Penalty::default());
    // Random labels on 16 samples: ln 10 ≈ 2.3 at the start, memorised within a few steps.
    assert!(first > 2.0, "initial loss {first}");
    assert!(last < 0.5 * first, "loss {first} -> {last}");
}

#[test]
fn adamw_with_a_weight_penalty_fits_a_fixed_batch() {
    let penalty = Penalty { l1: 1e-5, l2: 1e-4 };
    let (first, last) = train(&mut Adam::adamw(1e-3), penalty);
    assert!(last < 0.5 * first, "loss {first} -> {last}");
}
