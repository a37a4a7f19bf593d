//! Golden checks of the activations (`act_*`), BatchNorm1d/2d (`batchnorm_*`) and the Gaussian
//! RBF layer (`rbf_*`).

use dl_core::testing::{GOLDEN_RTOL, GoldenCase, check_close};
use dl_core::{Act, ELU, Flat, GELU, Layer, LeakyReLU, LogSoftmax, Mode, ReLU, Shape, Sigmoid};
use dl_core::{Softmax, Tanh};

pub fn check(case: &GoldenCase) -> Result<(), String> {
    match case.op.as_str() {
        "relu" => activation(case, ReLU),
        "leaky_relu" => activation(case, LeakyReLU::new(0.01)),
        "elu" => activation(case, ELU::new(1.0)),
        "gelu" => activation(case, GELU),
        "sigmoid" => activation(case, Sigmoid),
        "tanh" => activation(case, Tanh),
        "softmax" => activation(case, Softmax),
        "log_softmax" => activation(case, LogSoftmax),
        op => Err(format!("op {op:?} is not implemented yet")),
    }
}

/// Reads a golden tensor as a batch of shape `S`.
fn act<S: Shape>(case: &GoldenCase, name: &str) -> Result<Act<S>, String> {
    Act::from_slice(case.t(name)).map_err(|e| format!("{name}: {e}"))
}

/// Forward and backward of an activation on `x` `[3, 7]`.
fn activation<L: Layer<Flat<7>, Flat<7>>>(case: &GoldenCase, mut layer: L) -> Result<(), String> {
    let shape = &case.tensor("x").shape;
    if shape[1..] != [7] {
        return Err(format!(
            "no activation instantiation for x of shape {shape:?}"
        ));
    }
    let x = act::<Flat<7>>(case, "x")?;
    let dy = act::<Flat<7>>(case, "grad_y")?;
    let mut y = Act::default();
    let mut dx = Act::default();
    layer.forward(&x, &mut y, Mode::Train);
    layer.backward(&x, &y, &dy, Some(&mut dx));
    check_close("y", y.as_slice(), case.t("y"), GOLDEN_RTOL)?;
    check_close("grad_x", dx.as_slice(), case.t("grad_x"), GOLDEN_RTOL)
}
