//! Golden checks of whole networks declared with `sequential!`: parameters loaded by their
//! PyTorch state-dict names through `visit_mut`, one training-mode forward, mean cross-entropy
//! and backward; logits, loss, every parameter gradient and (for batch norm) the running
//! statistics after the step and the evaluation-mode logits must match PyTorch.

use dl_core::testing::{GOLDEN_RTOL, GoldenCase, check_close};
use dl_core::{Act, CrossEntropy, Flat, Loss, Model, Shape};

/// Reference values below this are float64 rounding noise around an exact zero.
const ZERO_IN_EXACT_ARITHMETIC: f32 = 1e-12;
use rand::SeedableRng;

dl_core::sequential! {
    /// `net_lenet5_cifar`: indices 0, 3, 7, 9, 11 carry parameters, as in PyTorch (the fused
    /// activations take positions 8 and 10).
    pub struct LeNet5Cifar: [3, 32, 32] -> [10] {
        Conv2d<6, 5>,
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

    /// `net_mlp_784_128_10`.
    pub struct Mlp784: [784] -> [10] {
        Dense<128>,
        ReLU,
        Dense<10>,
    }

    /// `net_small_bn`.
    pub struct SmallBn: [3, 16, 16] -> [5] {
        Conv2d<4, 3, stride = 2, padding = 1>,
        BatchNorm2d,
        ReLU,
        AvgPool2d<2>,
        Flatten,
        Dense<16>,
        BatchNorm1d,
        Tanh,
        Dense<5>,
    }
}

pub fn check(case: &GoldenCase) -> Result<(), String> {
    match case.case.as_str() {
        "net_lenet5_cifar" => run::<LeNet5Cifar, 10>(case),
        "net_mlp_784_128_10" => run::<Mlp784, 10>(case),
        "net_small_bn" => run::<SmallBn, 5>(case),
        other => Err(format!("no network declared for case {other:?}")),
    }
}

fn run<M: Model<Output = Flat<N>>, const N: usize>(case: &GoldenCase) -> Result<(), String> {
    let mut model = M::new(&mut rand::rngs::StdRng::seed_from_u64(0));

    // Load every trainable parameter by its state-dict name; every `param.*` must be used.
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    model.visit_mut(&mut |name, p| {
        if !p.is_trainable() {
            return;
        }
        let key = format!("param.{name}");
        match case.tensors.get(&key) {
            Some(t) if t.shape == p.shape() => {
                p.value_mut().copy_from_slice(&t.data);
                loaded.push(key);
            }
            Some(t) => errors.push(format!(
                "{key}: PyTorch shape {:?}, model shape {:?}",
                t.shape,
                p.shape()
            )),
            None => errors.push(format!("{key}: not in the golden file")),
        }
    });
    let unused: Vec<&String> = case
        .tensors
        .keys()
        .filter(|k| k.starts_with("param.") && !loaded.contains(k))
        .collect();
    if !unused.is_empty() {
        errors.push(format!("golden parameters not in the model: {unused:?}"));
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }

    let x = Act::<M::Input>::from_slice(case.t("x")).map_err(|e| e.to_string())?;
    let labels: Vec<usize> = case.t("labels").iter().map(|&l| l as usize).collect();
    let logits = model.forward_train(&x).clone();
    check_close("logits", logits.as_slice(), case.t("logits"), GOLDEN_RTOL)?;
    let mut grad = Act::default();
    let loss = CrossEntropy
        .loss_and_grad(&logits, &labels, &mut grad)
        .map_err(|e| e.to_string())?;
    check_close("loss", &[loss], case.t("loss"), GOLDEN_RTOL)?;
    model.backward_params(&x, &grad);

    // Every gradient and every running statistic the golden file has, by name.
    let mut got: Vec<(String, Vec<f32>)> = Vec::new();
    model.visit(&mut |name, p| {
        let (key, values) = if p.is_trainable() {
            (format!("grad.{name}"), &p.grad[..])
        } else {
            (format!("buffer_after.{name}"), p.value())
        };
        if case.tensors.contains_key(&key) {
            got.push((key, values.to_vec()));
        }
    });
    for (key, values) in &got {
        let want = case.t(key);
        if want.iter().all(|w| w.abs() < ZERO_IN_EXACT_ARITHMETIC) {
            // A bias followed by batch norm: its gradient is exactly zero (the normalisation
            // cancels any constant shift) and PyTorch's float64 values are rounding noise of
            // ~1e-17, so a relative comparison means nothing. Ours must be zero up to f32
            // rounding at the scale of the same layer's weight gradient.
            let weight = key.replace(".bias", ".weight");
            let scale = got
                .iter()
                .find(|(k, _)| *k == weight)
                .map_or(1.0, |(_, w)| w.iter().fold(0.0f32, |m, v| m.max(v.abs())));
            if let Some(v) = values.iter().find(|v| v.abs() > GOLDEN_RTOL * scale) {
                return Err(format!(
                    "{key}: {v} should be zero up to rounding (scale {scale})"
                ));
            }
        } else {
            check_close(key, values, want, GOLDEN_RTOL)?;
        }
    }
    let compared = got.len();
    let expected = case
        .tensors
        .keys()
        .filter(|k| k.starts_with("grad.") || k.starts_with("buffer_after."))
        .count();
    if compared != expected {
        return Err(format!(
            "compared {compared} gradients and buffers, the golden file has {expected}"
        ));
    }

    if case.tensors.contains_key("logits_eval") {
        let eval = model.forward(&x);
        check_close(
            "logits_eval",
            eval.as_slice(),
            case.t("logits_eval"),
            GOLDEN_RTOL,
        )?;
    }
    assert_eq!(M::Input::SIZE * labels.len(), case.t("x").len());
    Ok(())
}
