//! Whole networks built with `sequential!`, checked against finite differences, plus the
//! run-time properties of the generated code (state-dict names, buffer reuse).

use dl_core::testing::check_layer_gradients;
use dl_core::{Act, Chw, Flat, Layer, Mode, Parameters, Shape};
use rand::{Rng, SeedableRng};

dl_core::sequential! {
    /// Convolution with padding and stride, batch norm over channels, pooling, dropout, dense
    /// layers, batch norm over features and a fused activation: a network that is smooth
    /// everywhere, so finite differences are valid at every point. (Max pooling is piecewise
    /// linear: a finite difference across a tie between two window values is meaningless. Its
    /// gradient through a whole network is checked exactly against PyTorch by the golden
    /// LeNet-5 in `tests/golden_ops/nets.rs`.)
    pub struct Small: [2, 7, 7] -> [3] {
        conv: Conv2d<3, 3, stride = 2, padding = same>,
        BatchNorm2d,
        Tanh,
        AvgPool2d<2>,
        AvgPool2d<2, stride = 1>,
        drop: Dropout(0.3),
        Flatten,
        Dense<5, activation = Tanh>,
        BatchNorm1d,
        Dense<3>,
    }

    /// A small MLP.
    pub struct Mlp: [6] -> [3] {
        Dense<5>,
        out: Dense<5 => 3>,
    }

    /// `ReLU` before `MaxPool2d`, which the generated passes run after the pool: on the model
    /// input, before non-overlapping and overlapping windows, and before an average pool (which
    /// must keep the declared order: ReLU does not commute with a mean).
    pub struct ReluPool: [2, 8, 8] -> [4] {
        ReLU, MaxPool2d<2>,
        conv: Conv2d<3, 3, padding = 1>,
        ReLU, AvgPool2d<2, stride = 1>,
        conv2: Conv2d<4, 1>,
        ReLU, MaxPool2d<2, stride = 1>,
        Flatten,
        out: Dense<4>,
    }

    /// The same network in the declared order: `Dropout(0.0)` (the identity, exactly) between
    /// each `ReLU` and its pool keeps the passes from reordering them.
    pub struct ReluPoolDeclared: [2, 8, 8] -> [4] {
        ReLU, Dropout(0.0), MaxPool2d<2>,
        conv: Conv2d<3, 3, padding = 1>,
        ReLU, Dropout(0.0), AvgPool2d<2, stride = 1>,
        conv2: Conv2d<4, 1>,
        ReLU, Dropout(0.0), MaxPool2d<2, stride = 1>,
        Flatten,
        out: Dense<4>,
    }
}

/// Step of the finite differences below.
const H: f32 = 1e-2;
/// Tolerances of the whole-network check: `|analytic − numeric| ≤ ATOL + RTOL·max(|a|, |n|)`.
const ATOL: f64 = 5e-4;
const RTOL: f64 = 5e-3;

/// Checks every input and trainable-parameter gradient of a whole network against Richardson-
/// extrapolated central differences, `(4·D(h/2) − D(h)) / 3`, whose error is O(h⁴).
///
/// `dl_core::testing::check_layer_gradients` uses plain central differences with a step of
/// 1e-2, whose O(h²) error is a few per cent through a stack of batch norms and tanh (measured:
/// the plain difference converges to the analytic value as h shrinks, 1e-2 → 1e-3), so a whole
/// network needs the extrapolated form to be checked tightly.
fn check_network<I: Shape, O: Shape, L: Layer<I, O>>(net: &mut L, batch: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let x = Act::<I>::from_vec(
        (0..batch * I::SIZE)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
    )
    .unwrap();
    let mut y = Act::<O>::default();
    net.forward(&x, &mut y, Mode::Train);
    let r: Vec<f32> = (0..y.as_slice().len())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let dy = Act::<O>::from_vec(r.clone()).unwrap();
    let mut dx = Act::<I>::default();
    net.backward(&x, &y, &dy, Some(&mut dx));

    let objective = |net: &mut L, x: &Act<I>| {
        let mut y = Act::<O>::default();
        net.forward(x, &mut y, Mode::Train);
        y.as_slice()
            .iter()
            .zip(&r)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum::<f64>()
    };
    let derivative = |f: &mut dyn FnMut(f32) -> f64| {
        let d = |h: f32, f: &mut dyn FnMut(f32) -> f64| (f(h) - f(-h)) / (2.0 * h as f64);
        let (d1, d2) = (d(H, f), d(H / 2.0, f));
        (4.0 * d2 - d1) / 3.0
    };
    let compare = |what: String, analytic: f32, numeric: f64| {
        let a = analytic as f64;
        assert!(
            (a - numeric).abs() <= ATOL + RTOL * a.abs().max(numeric.abs()),
            "{what}: analytic {a:.6} but finite differences give {numeric:.6}"
        );
    };

    let mut xp = x.clone();
    for i in 0..x.as_slice().len() {
        let orig = x.as_slice()[i];
        let numeric = derivative(&mut |h| {
            xp.as_mut_slice()[i] = orig + h;
            let v = objective(net, &xp);
            xp.as_mut_slice()[i] = orig;
            v
        });
        compare(format!("input gradient[{i}]"), dx.as_slice()[i], numeric);
    }

    let mut grads: Vec<(String, Vec<f32>)> = Vec::new();
    net.visit(&mut |name, p| {
        if p.is_trainable() {
            grads.push((name.to_string(), p.grad.to_vec()));
        }
    });
    assert!(!grads.is_empty());
    for (index, (name, grad)) in grads.iter().enumerate() {
        for (e, &g) in grad.iter().enumerate() {
            let numeric = derivative(&mut |h| {
                let nudge = |net: &mut L, delta: f32| {
                    let mut k = 0;
                    net.visit_mut(&mut |_, p| {
                        if p.is_trainable() {
                            if k == index {
                                p.value_mut()[e] += delta;
                            }
                            k += 1;
                        }
                    });
                };
                nudge(net, h);
                let v = objective(net, &x);
                nudge(net, -h);
                v
            });
            compare(format!("gradient of {name}[{e}]"), g, numeric);
        }
    }
}

#[test]
fn conv_batchnorm_pool_dropout_dense_gradients_match_finite_differences() {
    for seed in 0..3 {
        let mut net = Small::new(&mut rand::rngs::StdRng::seed_from_u64(seed));
        // Finite differences need the same function at every call: keep the first dropout mask.
        net.drop.hold_mask(true);
        check_network(&mut net, 4, 100 + seed);
    }
}

#[test]
fn mlp_gradients_match_finite_differences() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut m = Mlp::new(&mut rng);
    assert_eq!(m.num_params(), Mlp::PARAMS);
    assert_eq!(Mlp::PARAMS, 6 * 5 + 5 + 5 * 3 + 3);
    check_layer_gradients(&mut m, 3, &mut rng);
}

#[test]
fn state_dict_names_are_field_names_or_sequential_positions() {
    let net = Small::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    let mut names = Vec::new();
    net.visit(&mut |n, _| names.push(n.to_string()));
    assert_eq!(
        names,
        [
            "conv.weight",
            "conv.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
            "7.weight",
            "7.bias",
            // 8 is the fused Tanh.
            "9.weight",
            "9.bias",
            "9.running_mean",
            "9.running_var",
            "9.num_batches_tracked",
            "10.weight",
            "10.bias",
        ]
    );
}

#[test]
fn buffers_are_reused_across_calls_with_the_same_batch() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut net = Small::new(&mut rng);
    let x = Act::<Chw<2, 7, 7>>::zeros(4);
    let first = net.forward_train(&x).as_slice().as_ptr();
    let dy = Act::<Flat<3>>::zeros(4);
    let dx_first = net.backward(&x, &dy).as_slice().as_ptr();
    let second = net.forward_train(&x).as_slice().as_ptr();
    let dx_second = net.backward(&x, &dy).as_slice().as_ptr();
    assert_eq!(first, second);
    assert_eq!(dx_first, dx_second);
}

#[test]
fn backward_without_input_gradient_gives_the_same_parameter_gradients() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let mut a = Mlp::new(&mut rng);
    let mut b = Mlp::new(&mut rand::rngs::StdRng::seed_from_u64(4));
    let x = Act::<Flat<6>>::from_vec((0..12).map(|i| i as f32 / 6.0 - 1.0).collect()).unwrap();
    let dy = Act::<Flat<3>>::from_vec(vec![1.0, -2.0, 0.5, 0.0, 1.0, -1.0]).unwrap();
    a.forward_train(&x);
    a.backward(&x, &dy);
    b.forward_train(&x);
    b.backward_params(&x, &dy);
    let grads = |m: &Mlp| {
        let mut g = Vec::new();
        m.visit(&mut |_, p| g.extend_from_slice(&p.grad));
        g
    };
    let _ = &mut b;
    assert_eq!(grads(&a), grads(&b));
    assert!(grads(&a).iter().any(|&v| v != 0.0));
}

#[test]
fn relu_run_after_max_pool_gives_the_values_and_gradients_of_the_declared_order() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut net = ReluPool::new(&mut rng);
    let mut declared = ReluPoolDeclared::new(&mut rng);
    declared.conv = net.conv.clone();
    declared.conv2 = net.conv2.clone();
    declared.out = net.out.clone();
    let batch = 3;
    let mut v: Vec<f32> = (0..batch * 2 * 64)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    // Windows of the first pool (rows 0 and 1 of 8 values) with no positive value, with only
    // zeros and negatives, and with a tie of positives.
    for (at, w) in [
        (0, [-0.5, -0.2]),
        (8, [-0.1, -1.0]),
        (2, [0.0, 0.0]),
        (10, [-0.3, 0.0]),
        (4, [0.7, 0.1]),
        (12, [0.7, -0.2]),
    ] {
        v[at..at + 2].copy_from_slice(&w);
    }
    let x = Act::<Chw<2, 8, 8>>::from_vec(v).unwrap();
    let dy = Act::<Flat<4>>::from_vec(
        (0..batch * 4)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
    )
    .unwrap();
    let y = net.forward_train(&x).clone();
    let y_declared = declared.forward_train(&x).clone();
    assert_eq!(y.as_slice(), y_declared.as_slice());
    let dx = net.backward(&x, &dy).clone();
    let dx_declared = declared.backward(&x, &dy).clone();
    assert_eq!(dx.as_slice(), dx_declared.as_slice());
    // The forced windows: no gradient where nothing is positive, one where the maximum is.
    assert_eq!(&dx.as_slice()[0..4], &[0.0; 4]);
    assert_eq!(&dx.as_slice()[8..12], &[0.0; 4]);
    assert!(dx.as_slice()[4] != 0.0);
    assert_eq!([dx.as_slice()[5], dx.as_slice()[12]], [0.0, 0.0]);
    fn grads(m: &impl Parameters) -> Vec<f32> {
        let mut g = Vec::new();
        m.visit(&mut |_, p| g.extend_from_slice(&p.grad));
        g
    }
    let g = grads(&net);
    assert_eq!(g, grads(&declared));
    assert!(g.iter().filter(|&&v| v != 0.0).count() > g.len() / 2);
}
