//! Golden checks of the losses (`loss_*`) and the weight penalty (`penalty_l1_l2`).

use dl_core::testing::{GOLDEN_RTOL, GoldenCase, check_close};
use dl_core::{Act, BceWithLogits, CrossEntropy, Dense, Flat, KlDiv, Loss, Mse, Penalty};
use rand::SeedableRng;

pub fn check(case: &GoldenCase) -> Result<(), String> {
    match case.op.as_str() {
        "cross_entropy" => {
            let labels: Vec<usize> = case.t("labels").iter().map(|&l| l as usize).collect();
            loss(
                case,
                CrossEntropy,
                "logits",
                labels.as_slice(),
                "grad_logits",
            )
        }
        "mse" => loss(case, Mse, "pred", case.t("target"), "grad_pred"),
        "bce_with_logits" => loss(
            case,
            BceWithLogits,
            "logits",
            case.t("target"),
            "grad_logits",
        ),
        "kl_div" => loss(case, KlDiv, "logits", case.t("target_probs"), "grad_logits"),
        "penalty_l1_l2" => penalty(case),
        op => Err(format!("op {op:?} is not a loss")),
    }
}

/// Loss and gradient on a `[N, 4]` prediction, and the loss alone, against PyTorch.
fn loss<L, T>(case: &GoldenCase, loss: L, pred: &str, target: &T, grad: &str) -> Result<(), String>
where
    L: Loss<Flat<4>, Target = T>,
    T: ?Sized,
{
    let shape = &case.tensor(pred).shape;
    if shape[1..] != [4] {
        return Err(format!(
            "no loss instantiation for {pred} of shape {shape:?}"
        ));
    }
    let x = Act::<Flat<4>>::from_slice(case.t(pred)).map_err(|e| e.to_string())?;
    let mut g = Act::default();
    let value = loss
        .loss_and_grad(&x, target, &mut g)
        .map_err(|e| e.to_string())?;
    check_close("loss", &[value], case.t("loss"), GOLDEN_RTOL)?;
    check_close(grad, g.as_slice(), case.t(grad), GOLDEN_RTOL)?;
    let alone = loss.loss(&x, target).map_err(|e| e.to_string())?;
    check_close("loss alone", &[alone], case.t("loss"), GOLDEN_RTOL)
}

/// The penalty on a Dense `[3, 4]` weight; its (non-zero) bias must not contribute.
fn penalty(case: &GoldenCase) -> Result<(), String> {
    let shape = &case.tensor("weight").shape;
    if shape[..] != [3, 4] {
        return Err(format!("no penalty instantiation for weight {shape:?}"));
    }
    let mut dense = Dense::<4, 3>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    dense.weight.value_mut().copy_from_slice(case.t("weight"));
    dense.bias.value_mut().fill(1.0);
    let p = Penalty {
        l1: case.cfg_f64("l1") as f32,
        l2: case.cfg_f64("l2") as f32,
    };
    check_close("value", &[p.value(&dense)], case.t("value"), GOLDEN_RTOL)?;
    // add_grad adds: start from a known gradient and subtract it.
    let before: Vec<f32> = (0..12).map(|i| i as f32 * 0.1 - 0.5).collect();
    dense.weight.grad.copy_from_slice(&before);
    dense.bias.grad.fill(0.25);
    p.add_grad(&mut dense);
    let added: Vec<f32> = dense
        .weight
        .grad
        .iter()
        .zip(&before)
        .map(|(g, b)| g - b)
        .collect();
    check_close("grad_weight", &added, case.t("grad_weight"), GOLDEN_RTOL)?;
    if dense.bias.grad != [0.25; 3] {
        return Err(format!("the bias gradient changed: {:?}", dense.bias.grad));
    }
    Ok(())
}
