//! Golden checks of Dense, Conv2d, MaxPool2d and AvgPool2d.

use dl_core::testing::{GOLDEN_RTOL, GoldenCase, check_close};
use dl_core::{Act, Dense, Flat, Layer, Mode};
use rand::SeedableRng;

pub fn check(case: &GoldenCase) -> Result<(), String> {
    match case.op.as_str() {
        "dense" => match (case.cfg_usize("in"), case.cfg_usize("out")) {
            (7, 5) => dense::<7, 5>(case),
            (64, 10) => dense::<64, 10>(case),
            other => Err(format!("no Dense instantiation for (in, out) = {other:?}")),
        },
        op => Err(format!("op {op:?} is not implemented yet")),
    }
}

fn dense<const I: usize, const O: usize>(case: &GoldenCase) -> Result<(), String> {
    let mut layer = Dense::<I, O>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    layer.weight.value.copy_from_slice(case.t("weight"));
    layer.bias.value.copy_from_slice(case.t("bias"));
    let x = Act::<Flat<I>>::from_slice(case.t("x")).map_err(|e| e.to_string())?;
    let dy = Act::<Flat<O>>::from_slice(case.t("grad_y")).map_err(|e| e.to_string())?;
    let mut y = Act::default();
    let mut dx = Act::default();
    layer.forward(&x, &mut y, Mode::Train);
    layer.backward(&x, &y, &dy, Some(&mut dx));
    check_close("y", y.as_slice(), case.t("y"), GOLDEN_RTOL)?;
    check_close("grad_x", dx.as_slice(), case.t("grad_x"), GOLDEN_RTOL)?;
    check_close(
        "grad_weight",
        &layer.weight.grad,
        case.t("grad_weight"),
        GOLDEN_RTOL,
    )?;
    check_close(
        "grad_bias",
        &layer.bias.grad,
        case.t("grad_bias"),
        GOLDEN_RTOL,
    )
}
