//! Golden checks of Dense, Conv2d, MaxPool2d and AvgPool2d.

use dl_core::shape::{self, PAD_SAME, Pad};
use dl_core::testing::{GOLDEN_RTOL, GoldenCase, check_close};
use dl_core::{Act, AvgPool2d, Chw, Conv2d, Dense, Flat, Layer, MaxPool2d, Mode};
use rand::SeedableRng;

pub fn check(case: &GoldenCase) -> Result<(), String> {
    match case.op.as_str() {
        "dense" => match (case.cfg_usize("in"), case.cfg_usize("out")) {
            (7, 5) => dense::<7, 5>(case),
            (64, 10) => dense::<64, 10>(case),
            other => Err(format!("no Dense instantiation for (in, out) = {other:?}")),
        },
        "conv2d" => {
            let (h, w) = match case.tensor("x").shape.as_slice() {
                [_, _, h, w] => (*h, *w),
                other => {
                    return Err(format!(
                        "conv2d: x has shape {other:?}, expected [N, C, H, W]"
                    ));
                }
            };
            let pad = conv_pad(case, h, w)?;
            let key = (
                case.cfg_usize("in_channels"),
                case.cfg_usize("out_channels"),
                case.cfg_usize("kernel"),
                case.cfg_usize("stride"),
                pad,
                h,
                w,
            );
            match key {
                (3, 4, 3, 1, 0, 9, 8) => conv::<3, 4, 3, 1, 0, 9, 8, 7, 6>(case),
                (2, 3, 3, 2, 1, 10, 10) => conv::<2, 3, 3, 2, 1, 10, 10, 5, 5>(case),
                (3, 6, 5, 1, 0, 32, 32) => conv::<3, 6, 5, 1, 0, 32, 32, 28, 28>(case),
                (3, 4, 5, 4, PAD_SAME, 13, 13) => conv::<3, 4, 5, 4, PAD_SAME, 13, 13, 4, 4>(case),
                (2, 3, 3, 1, PAD_SAME, 7, 7) => conv::<2, 3, 3, 1, PAD_SAME, 7, 7, 7, 7>(case),
                other => Err(format!(
                    "no Conv2d instantiation for (in, out, kernel, stride, pad, h, w) = {other:?}"
                )),
            }
        }
        op @ ("maxpool2d" | "avgpool2d") => {
            let (c, h, w) = match case.tensor("x").shape.as_slice() {
                [_, c, h, w] => (*c, *h, *w),
                other => {
                    return Err(format!(
                        "{op}: x has shape {other:?}, expected [N, C, H, W]"
                    ));
                }
            };
            let key = (case.cfg_usize("kernel"), case.cfg_usize("stride"), c, h, w);
            let max = op == "maxpool2d";
            match key {
                (2, 2, 3, 8, 8) if max => {
                    pool::<_, 3, 8, 8, 4, 4>(MaxPool2d::<2, 2>::default(), case)
                }
                (3, 2, 2, 9, 9) if max => {
                    pool::<_, 2, 9, 9, 4, 4>(MaxPool2d::<3, 2>::default(), case)
                }
                (3, 1, 4, 7, 5) if max => {
                    pool::<_, 4, 7, 5, 5, 3>(MaxPool2d::<3, 1>::default(), case)
                }
                (2, 2, 3, 8, 8) => pool::<_, 3, 8, 8, 4, 4>(AvgPool2d::<2, 2>, case),
                (3, 2, 2, 9, 9) => pool::<_, 2, 9, 9, 4, 4>(AvgPool2d::<3, 2>, case),
                (3, 1, 4, 7, 5) => pool::<_, 4, 7, 5, 5, 3>(AvgPool2d::<3, 1>, case),
                other => Err(format!(
                    "no {op} instantiation for (kernel, stride, c, h, w) = {other:?}"
                )),
            }
        }
        op => Err(format!("op {op:?} is not implemented yet")),
    }
}

/// The const-generic padding of a conv2d case on an `h×w` input: an integer, or `"same"` (Keras),
/// whose explicit pad sizes in the config must agree with `shape::pads`.
fn conv_pad(case: &GoldenCase, h: usize, w: usize) -> Result<usize, String> {
    match case.config.get("padding") {
        Some(v) if v.as_u64().is_some() => Ok(case.cfg_usize("padding")),
        Some(v) if v.as_str() == Some("same") => {
            let (k, s) = (case.cfg_usize("kernel"), case.cfg_usize("stride"));
            let ours = (
                shape::pads(h, k, s, Pad::Same),
                shape::pads(w, k, s, Pad::Same),
            );
            let theirs = (
                (case.cfg_usize("pad_top"), case.cfg_usize("pad_bottom")),
                (case.cfg_usize("pad_left"), case.cfg_usize("pad_right")),
            );
            if ours != theirs {
                return Err(format!(
                    "\"same\" padding: shape::pads gives {ours:?}, PyTorch used {theirs:?}"
                ));
            }
            Ok(PAD_SAME)
        }
        other => Err(format!("unknown conv2d padding {other:?}")),
    }
}

fn conv<
    const IC: usize,
    const OC: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    case: &GoldenCase,
) -> Result<(), String> {
    let mut layer = Conv2d::<IC, OC, K, S, P>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    layer.weight.value_mut().copy_from_slice(case.t("weight"));
    layer.bias.value_mut().copy_from_slice(case.t("bias"));
    let x = Act::<Chw<IC, H, W>>::from_slice(case.t("x")).map_err(|e| e.to_string())?;
    let dy = Act::<Chw<OC, OH, OW>>::from_slice(case.t("grad_y")).map_err(|e| e.to_string())?;
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

/// Checks a pooling layer on `[C, H, W] → [C, OH, OW]`.
fn pool<
    L: Layer<Chw<C, H, W>, Chw<C, OH, OW>>,
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    mut layer: L,
    case: &GoldenCase,
) -> Result<(), String> {
    let x = Act::<Chw<C, H, W>>::from_slice(case.t("x")).map_err(|e| e.to_string())?;
    let dy = Act::<Chw<C, OH, OW>>::from_slice(case.t("grad_y")).map_err(|e| e.to_string())?;
    let mut y = Act::default();
    let mut dx = Act::default();
    layer.forward(&x, &mut y, Mode::Train);
    layer.backward(&x, &y, &dy, Some(&mut dx));
    check_close("y", y.as_slice(), case.t("y"), GOLDEN_RTOL)?;
    check_close("grad_x", dx.as_slice(), case.t("grad_x"), GOLDEN_RTOL)
}

fn dense<const I: usize, const O: usize>(case: &GoldenCase) -> Result<(), String> {
    let mut layer = Dense::<I, O>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    layer.weight.value_mut().copy_from_slice(case.t("weight"));
    layer.bias.value_mut().copy_from_slice(case.t("bias"));
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
