//! Golden checks of the optimizers (`optim_*`): three steps from `param0` with the given
//! gradients must reproduce PyTorch's parameter after each step.

use dl_core::testing::{GOLDEN_RTOL, GoldenCase, check_close};
use dl_core::{Adagrad, Adam, Optimizer, Param, ParamName, Parameters, RmsProp, Sgd};

/// One trainable tensor, the model the golden optimizer cases update.
struct One(Param);

impl Parameters for One {
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
        f(
            ParamName {
                layer: "",
                name: "param",
            },
            &self.0,
        );
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
        f(
            ParamName {
                layer: "",
                name: "param",
            },
            &mut self.0,
        );
    }
}

/// Config keys each optimizer understands; any other key is an error, not ignored.
const KNOWN: &[(&str, &[&str])] = &[
    (
        "SGD",
        &["lr", "momentum", "dampening", "nesterov", "weight_decay"],
    ),
    ("Adam", &["lr", "betas", "eps", "weight_decay", "amsgrad"]),
    ("AdamW", &["lr", "betas", "eps", "weight_decay", "amsgrad"]),
    (
        "Adagrad",
        &[
            "lr",
            "lr_decay",
            "weight_decay",
            "initial_accumulator_value",
            "eps",
        ],
    ),
    (
        "RMSprop",
        &["lr", "alpha", "eps", "weight_decay", "momentum", "centered"],
    ),
];

pub fn check(case: &GoldenCase) -> Result<(), String> {
    let kind = case.op.trim_start_matches("optimizer:");
    let known = KNOWN
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, keys)| *keys)
        .ok_or_else(|| format!("no optimizer for {kind:?}"))?;
    let config = case.config.as_object().ok_or("config is not an object")?;
    if let Some(key) = config.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("config key {key:?} is not handled for {kind}"));
    }
    let f = |key: &str| config.get(key).and_then(|v| v.as_f64()).map(|v| v as f32);
    let b = |key: &str| config.get(key).and_then(|v| v.as_bool());
    let lr = f("lr").ok_or("no lr")?;
    let mut opt: Box<dyn Optimizer> = match kind {
        "SGD" => {
            let mut o = Sgd::new(lr);
            if let Some(v) = f("momentum") {
                o = o.momentum(v);
            }
            if let Some(v) = f("dampening") {
                o = o.dampening(v);
            }
            if let Some(v) = b("nesterov") {
                o = o.nesterov(v);
            }
            if let Some(v) = f("weight_decay") {
                o = o.weight_decay(v);
            }
            Box::new(o)
        }
        "Adam" | "AdamW" => {
            let mut o = if kind == "Adam" {
                Adam::new(lr)
            } else {
                Adam::adamw(lr)
            };
            if let Some(betas) = config.get("betas").and_then(|v| v.as_array()) {
                let beta = |i: usize| betas.get(i).and_then(|v| v.as_f64()).map(|v| v as f32);
                o = o.betas(beta(0).ok_or("bad betas")?, beta(1).ok_or("bad betas")?);
            }
            if let Some(v) = f("eps") {
                o = o.eps(v);
            }
            if let Some(v) = f("weight_decay") {
                o = o.weight_decay(v);
            }
            if let Some(v) = b("amsgrad") {
                o = o.amsgrad(v);
            }
            Box::new(o)
        }
        "Adagrad" => {
            let mut o = Adagrad::new(lr);
            if let Some(v) = f("lr_decay") {
                o = o.lr_decay(v);
            }
            if let Some(v) = f("weight_decay") {
                o = o.weight_decay(v);
            }
            if let Some(v) = f("initial_accumulator_value") {
                o = o.initial_accumulator_value(v);
            }
            if let Some(v) = f("eps") {
                o = o.eps(v);
            }
            Box::new(o)
        }
        _ => {
            let mut o = RmsProp::new(lr);
            if let Some(v) = f("alpha") {
                o = o.alpha(v);
            }
            if let Some(v) = f("eps") {
                o = o.eps(v);
            }
            if let Some(v) = f("weight_decay") {
                o = o.weight_decay(v);
            }
            if let Some(v) = f("momentum") {
                o = o.momentum(v);
            }
            if let Some(v) = b("centered") {
                o = o.centered(v);
            }
            Box::new(o)
        }
    };
    opt.validate().map_err(|e| e.to_string())?;

    let p0 = case.tensor("param0");
    let mut model = One(Param::trainable(&p0.shape, p0.data.clone()));
    let mut steps = 0;
    for k in 1.. {
        let (Some(grad), Some(want)) = (
            case.tensors.get(&format!("grad_step{k}")),
            case.tensors.get(&format!("param_after_step{k}")),
        ) else {
            break;
        };
        model.0.grad.copy_from_slice(&grad.data);
        opt.step(&mut model);
        check_close(
            &format!("param_after_step{k}"),
            model.0.value(),
            &want.data,
            GOLDEN_RTOL,
        )?;
        steps = k;
    }
    if steps == 0 {
        return Err("no grad_stepK / param_after_stepK pairs".into());
    }
    Ok(())
}
