//! Every layer kind and every option, in small models.
use dl::prelude::*;
use rand::SeedableRng;

sequential! {
    /// Convolutions with every padding form, stride, `in =>`, fused activations and both pools.
    pub struct Convs: [2, 9, 9] -> [5] {
        Conv2d<2 => 4, 3, padding = same>,
        Conv2d<4, 3, stride = 2, padding = valid>,
        BatchNorm2d,
        Conv2d<4, 3, padding = 1, activation = LeakyReLU(0.2)>,
        BatchNorm2d<4>,
        MaxPool2d<2, stride = 1>,
        Conv2d<3, 1, stride = 1, padding = 0, activation = ELU>,
        AvgPool2d<2>,
        Softmax,
        LogSoftmax,
        Flatten,
        Dense<3 => 8, activation = GELU>,
        BatchNorm1d<8>,
        Dropout(0.25),
        Rbf<8 => 6>,
        Dense<5>,
    }

    /// Every activation, with and without arguments.
    pub struct Acts: [4] -> [4] {
        ReLU,
        LeakyReLU,
        LeakyReLU(0.1),
        LeakyReLU(slope = 0.3),
        ELU,
        ELU(0.5),
        ELU(alpha = 2.0),
        GELU,
        Sigmoid,
        Tanh,
        Softmax,
        LogSoftmax,
        Sign,
        Dropout(p = 0.0),
        BatchNorm1d,
        Rbf<3>,
        Dense<4, activation = Sigmoid>,
        Dense<4, activation = Tanh>,
        Dense<4, activation = Sign>,
    }
}

fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut convs = Convs::new(&mut rng);
    assert_eq!(convs.num_params(), Convs::PARAMS);
    // [2,9,9] -same-> [4,9,9] -s2-> [4,4,4] -p1-> [4,4,4] -pool2/1-> [4,3,3] -k1-> [3,3,3] -avg2-> [3,1,1]
    assert!(Convs::SUMMARY.contains("[3, 1, 1]"), "{}", Convs::SUMMARY);
    assert!(Convs::SUMMARY.contains("Conv2d<2 => 4, 3, padding = same>"));
    assert!(Convs::SUMMARY.contains("Non-trainable buffers: 32"));
    let x = Act::<Chw<2, 9, 9>>::zeros(3);
    let y = convs.forward_train(&x).clone();
    assert_eq!(y.batch(), 3);
    convs.backward_params(&x, &y);

    let mut acts = Acts::new(&mut rng);
    assert_eq!(acts.num_params(), Acts::PARAMS);
    let mut names = Vec::new();
    acts.visit(&mut |n, _| names.push(n.to_string()));
    assert_eq!(
        &names[..4],
        ["14.weight", "14.bias", "14.running_mean", "14.running_var"]
    );
    assert!(names.contains(&"15.centres".to_string()) || names.iter().any(|n| n.starts_with("15.")));
    assert!(names.iter().any(|n| n.starts_with("20.")), "{names:?}");
    let x = Act::<Flat<4>>::from_vec(vec![0.5, -0.5, 1.0, 2.0]).unwrap();
    let y = acts.forward(&x);
    assert_eq!(y.batch(), 1);
}
