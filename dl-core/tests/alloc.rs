//! A steady-state training step (forward, cross-entropy loss and gradient, backward, SGD with
//! momentum) and an inference pass allocate nothing after the first step, for the MLP
//! 784-128-10 and a LeNet-5-like conv net on 1×28×28.

mod common;

use common::assert_counting_works;
use dl_core::{Act, CrossEntropy, Flat, Loss, Model, Optimizer, SameShape, Sgd};
use rand::{Rng, SeedableRng};

dl_core::sequential! {
    /// The MLP 784-128-10.
    pub struct Mlp: [784] -> [10] {
        Dense<128, activation = ReLU>,
        Dense<10>,
    }

    /// LeNet-5 for 1×28×28 digits (first conv padded by 2).
    pub struct LeNet: [1, 28, 28] -> [10] {
        Conv2d<6, 5, padding = 2>,
        ReLU,
        MaxPool2d<2>,
        Conv2d<16, 5>,
        ReLU,
        MaxPool2d<2>,
        Flatten,
        Dense<120, activation = ReLU>,
        Dense<84, activation = ReLU>,
        Dense<10>,
    }
}

/// Steady-state allocations `(training, inference)` of a model built from seed 7, trained with
/// cross-entropy and SGD with momentum on a random batch of `batch`.
fn steady_state_allocations<M: Model<Output = Flat<10>>>(batch: usize) -> (usize, usize)
where
    M::Input: SameShape<M::Input>,
{
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut model = M::new(&mut rng);
    let size = <M::Input as dl_core::Shape>::SIZE;
    let x = Act::<M::Input>::from_vec(
        (0..batch * size)
            .map(|_| rng.random_range(0.0..1.0))
            .collect(),
    )
    .expect("whole samples");
    let labels: Vec<usize> = (0..batch).map(|_| rng.random_range(0..10)).collect();
    let mut opt = Sgd::new(0.01).momentum(0.9);
    let mut grad = Act::default();
    let step = |model: &mut M| {
        let logits = model.forward_train(&x);
        let loss = CrossEntropy
            .loss_and_grad(logits, &labels, &mut grad)
            .expect("labels match the batch");
        model.backward_params(&x, &grad);
        opt.step(model);
        assert!(loss.is_finite());
    };
    common::steady_state_allocations(&mut model, &x, step)
}

#[test]
fn mlp_training_and_inference_allocate_nothing_in_steady_state() {
    assert_counting_works();
    assert_eq!(steady_state_allocations::<Mlp>(100), (0, 0));
}

#[test]
fn conv_net_training_and_inference_allocate_nothing_in_steady_state() {
    assert_counting_works();
    assert_eq!(steady_state_allocations::<LeNet>(8), (0, 0));
}
