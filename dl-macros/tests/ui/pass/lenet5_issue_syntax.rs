//! The declaration from the issue, verbatim, and what the generated struct gives.
use dl::prelude::*;
use rand::SeedableRng;

sequential! {
    /// LeNet-5 for 32×32 colour images.
    #[derive(Clone)]
    pub struct LeNet5: [3, 32, 32] -> [10] {
        conv1: Conv2d<6, 5>,            // optional field name; else PyTorch Sequential index
        ReLU,
        MaxPool2d<2>,                   // stride defaults to the kernel size
        conv2: Conv2d<6 => 16, 5>,      // optional `in =>`: checked against the inferred input
        ReLU,
        MaxPool2d<2, stride = 2>,
        Flatten,
        fc1: Dense<400 => 120, activation = ReLU>,   // Keras-style fused activation
        fc2: Dense<84>,
        ReLU,
        Dropout(0.5),                   // parentheses: run-time hyper-parameters
        fc3: Dense<10>,
    }
}

fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut net = LeNet5::new(&mut rng);
    assert_eq!(LeNet5::INPUT_SHAPE, &[3, 32, 32]);
    assert_eq!(LeNet5::OUTPUT_SHAPE, &[10]);
    assert_eq!(LeNet5::PARAMS, 62_006);
    assert_eq!(<LeNet5 as Model>::NUM_PARAMS, 62_006);
    assert_eq!(net.num_params(), 62_006);
    assert_eq!(net.summary(), LeNet5::SUMMARY);
    assert!(LeNet5::SUMMARY.contains("conv1 (Conv2d<3 => 6, 5>)"));
    assert!(LeNet5::SUMMARY.contains("8 (ReLU)"));
    assert!(LeNet5::SUMMARY.contains("Total params: 62,006"));

    let mut names = Vec::new();
    net.visit(&mut |n, p| names.push(format!("{n} {:?}", p.shape())));
    assert_eq!(
        names,
        [
            "conv1.weight [6, 3, 5, 5]",
            "conv1.bias [6]",
            "conv2.weight [16, 6, 5, 5]",
            "conv2.bias [16]",
            "fc1.weight [120, 400]",
            "fc1.bias [120]",
            "fc2.weight [84, 120]",
            "fc2.bias [84]",
            "fc3.weight [10, 84]",
            "fc3.bias [10]",
        ]
    );

    // `Default` is `new` with `StdRng::seed_from_u64(0)`: the same weights every time.
    let mut default_weights = Vec::new();
    LeNet5::default().visit(&mut |_, p| default_weights.extend_from_slice(p.value()));
    let mut seeded_weights = Vec::new();
    LeNet5::new(&mut rand::rngs::StdRng::seed_from_u64(0))
        .visit(&mut |_, p| seeded_weights.extend_from_slice(p.value()));
    assert_eq!(default_weights, seeded_weights);

    let x = Act::<Chw<3, 32, 32>>::zeros(2);
    let y: &Act<Flat<10>> = net.forward(&x);
    assert_eq!(y.batch(), 2);
    let mut copy = net.clone();
    let logits = copy.forward_train(&x).clone();
    let dx = copy.backward(&x, &logits);
    assert_eq!(dx.batch(), 2);
    copy.backward_params(&x, &logits);
}
