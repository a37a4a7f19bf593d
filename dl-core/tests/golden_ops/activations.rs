//! Golden checks of the activations (`act_*`), BatchNorm1d/2d (`batchnorm_*`) and the Gaussian
//! RBF layer (`rbf_*`).

use dl_core::testing::{GOLDEN_RTOL, GoldenCase, check_close};
use dl_core::{Act, BatchNorm, BatchNorm1d, BatchNorm2d, Chw, ELU, Flat, GELU, Layer, LeakyReLU};
use dl_core::{LogSoftmax, Mode, Rbf, ReLU, Shape, Sigmoid, Softmax, Tanh};

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
        "batchnorm" => match case.tensor("x").shape.as_slice() {
            [_, 5] => batchnorm::<5, false, Flat<5>>(case, BatchNorm1d::new()),
            [_, 3, 5, 5] => batchnorm::<3, true, Chw<3, 5, 5>>(case, BatchNorm2d::new()),
            other => Err(format!(
                "no BatchNorm instantiation for x of shape {other:?}"
            )),
        },
        "rbf" => match (case.cfg_usize("in"), case.cfg_usize("centres")) {
            (3, 5) => rbf::<3, 5>(case),
            (2, 7) => rbf::<2, 7>(case),
            other => Err(format!(
                "no Rbf instantiation for (in, centres) = {other:?}"
            )),
        },
        op => Err(format!(
            "op {op:?} is not an activation, batch norm or RBF op"
        )),
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

/// One training step (y, gradients, running statistics after it), then evaluation on `x_eval`.
fn batchnorm<const C: usize, const SPATIAL: bool, S: Shape>(
    case: &GoldenCase,
    mut bn: BatchNorm<C, SPATIAL>,
) -> Result<(), String>
where
    BatchNorm<C, SPATIAL>: Layer<S, S>,
{
    let eps = case.cfg_f64("eps") as f32;
    let momentum = case.cfg_f64("momentum_pytorch") as f32;
    if (eps, momentum) != (bn.eps, bn.momentum) {
        return Err(format!(
            "(eps, momentum) = {:?}, expected the defaults {:?}",
            (eps, momentum),
            (bn.eps, bn.momentum)
        ));
    }
    bn.weight.value_mut().copy_from_slice(case.t("gamma"));
    bn.bias.value_mut().copy_from_slice(case.t("beta"));
    let x = act::<S>(case, "x")?;
    let dy = act::<S>(case, "grad_y")?;
    let mut y = Act::default();
    let mut dx = Act::default();
    bn.forward(&x, &mut y, Mode::Train);
    bn.backward(&x, &y, &dy, Some(&mut dx));
    check_close("y", y.as_slice(), case.t("y"), GOLDEN_RTOL)?;
    check_close("grad_x", dx.as_slice(), case.t("grad_x"), GOLDEN_RTOL)?;
    check_close(
        "grad_gamma",
        &bn.weight.grad,
        case.t("grad_gamma"),
        GOLDEN_RTOL,
    )?;
    check_close("grad_beta", &bn.bias.grad, case.t("grad_beta"), GOLDEN_RTOL)?;
    check_close(
        "running_mean",
        bn.running_mean.value(),
        case.t("running_mean"),
        GOLDEN_RTOL,
    )?;
    check_close(
        "running_var",
        bn.running_var.value(),
        case.t("running_var"),
        GOLDEN_RTOL,
    )?;
    let x_eval = act::<S>(case, "x_eval")?;
    bn.forward(&x_eval, &mut y, Mode::Eval);
    check_close("y_eval", y.as_slice(), case.t("y_eval"), GOLDEN_RTOL)
}

/// Forward and backward of the Gaussian RBF layer with the case's centres and widths.
fn rbf<const I: usize, const N: usize>(case: &GoldenCase) -> Result<(), String> {
    let mut layer = Rbf::<I, N>::with_centres(case.t("centres").to_vec(), case.t("gamma").to_vec())
        .map_err(|e| e.to_string())?;
    let x = act::<Flat<I>>(case, "x")?;
    let dy = act::<Flat<N>>(case, "grad_y")?;
    let mut y = Act::default();
    let mut dx = Act::default();
    layer.forward(&x, &mut y, Mode::Train);
    layer.backward(&x, &y, &dy, Some(&mut dx));
    check_close("y", y.as_slice(), case.t("y"), GOLDEN_RTOL)?;
    check_close("grad_x", dx.as_slice(), case.t("grad_x"), GOLDEN_RTOL)?;
    check_close(
        "grad_centres",
        &layer.centres.grad,
        case.t("grad_centres"),
        GOLDEN_RTOL,
    )?;
    check_close(
        "grad_gamma",
        &layer.gamma.grad,
        case.t("grad_gamma"),
        GOLDEN_RTOL,
    )
}
