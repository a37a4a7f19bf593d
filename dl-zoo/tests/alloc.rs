//! Every zoo model trains and predicts without allocating once warmed up: a steady-state
//! training step (forward, MSE loss and gradient, backward, Adam step) and inference passes
//! allocate nothing after the first step. (`dl-core/tests/alloc.rs` covers cross-entropy and
//! SGD with momentum.)

#[path = "../../dl-core/tests/common/mod.rs"]
mod common;

use common::assert_counting_works;
use dl_core::{Act, Adam, Loss, Model, Mse, Optimizer, SameShape, Shape};
use dl_zoo::alexnet::{AlexNet, AlexNetCifar};
use dl_zoo::lenet5::{LeNet5Cifar, LeNet5Mnist};
use dl_zoo::mlp::{DigitsMlp, KerasMnistMlp, MnistMlp};
use dl_zoo::perceptron::{IrisPerceptron, Perceptron2};
use dl_zoo::rbf::{RbfIris, RbfSine, RbfXor};
use rand::{Rng, SeedableRng};

/// Steady-state allocations `(training, inference)` of a model built from seed 7, trained with
/// MSE and Adam on a random batch of `batch` (see `common::steady_state_allocations`).
fn steady_state_allocations<M: Model>(batch: usize) -> (usize, usize)
where
    M::Input: SameShape<M::Input>,
{
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut model = M::new(&mut rng);
    let random = |n: usize, rng: &mut rand::rngs::StdRng| -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    };
    let x =
        Act::<M::Input>::from_vec(random(batch * M::Input::SIZE, &mut rng)).expect("whole samples");
    let target = random(batch * M::Output::SIZE, &mut rng);
    let mut opt = Adam::new(1e-4);
    let mut grad = Act::default();
    let step = |model: &mut M| {
        let pred = model.forward_train(&x);
        let loss = Mse
            .loss_and_grad(pred, &target, &mut grad)
            .expect("targets match the batch");
        model.backward_params(&x, &grad);
        opt.step(model);
        assert!(loss.is_finite());
    };
    common::steady_state_allocations(&mut model, &x, step)
}

#[test]
fn small_models_allocate_nothing_in_steady_state() {
    assert_counting_works();
    assert_eq!(
        steady_state_allocations::<DigitsMlp>(32),
        (0, 0),
        "DigitsMlp"
    );
    assert_eq!(steady_state_allocations::<MnistMlp>(16), (0, 0), "MnistMlp");
    assert_eq!(
        steady_state_allocations::<KerasMnistMlp>(16),
        (0, 0),
        "KerasMnistMlp"
    );
    assert_eq!(
        steady_state_allocations::<IrisPerceptron>(8),
        (0, 0),
        "IrisPerceptron"
    );
    assert_eq!(
        steady_state_allocations::<Perceptron2>(4),
        (0, 0),
        "Perceptron2"
    );
    assert_eq!(steady_state_allocations::<RbfXor>(4), (0, 0), "RbfXor");
    assert_eq!(steady_state_allocations::<RbfSine>(8), (0, 0), "RbfSine");
    assert_eq!(steady_state_allocations::<RbfIris>(8), (0, 0), "RbfIris");
}

#[test]
fn lenet5_allocates_nothing_in_steady_state() {
    assert_counting_works();
    assert_eq!(
        steady_state_allocations::<LeNet5Mnist>(4),
        (0, 0),
        "LeNet5Mnist"
    );
    assert_eq!(
        steady_state_allocations::<LeNet5Cifar>(4),
        (0, 0),
        "LeNet5Cifar"
    );
}

#[test]
fn alexnet_cifar_allocates_nothing_in_steady_state() {
    assert_counting_works();
    assert_eq!(
        steady_state_allocations::<AlexNetCifar>(2),
        (0, 0),
        "AlexNetCifar"
    );
}

/// AlexNet for ImageNet (62 M parameters) takes minutes in a debug build: run it on purpose with
/// `cargo test --release -p dl-zoo --test alloc -- --ignored`.
#[test]
#[ignore = "minutes in a debug build; run with --release -- --ignored"]
fn alexnet_imagenet_allocates_nothing_in_steady_state() {
    assert_counting_works();
    assert_eq!(steady_state_allocations::<AlexNet>(1), (0, 0), "AlexNet");
}
