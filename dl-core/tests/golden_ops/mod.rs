//! Checkers for the golden cases, one file per area. Each returns `Err` with the first mismatch.
//!
//! Layer shapes are compile-time, so each checker instantiates the layer for the case's
//! configuration from a table of the configurations the golden files use; a configuration
//! missing from the table is an error, not a skip.

mod activations;
mod layers;
mod losses;
mod nets;
mod optim;

use dl_core::testing::GoldenCase;

/// Checks one case against PyTorch.
pub fn check(case: &GoldenCase) -> Result<(), String> {
    let op = case.op.as_str();
    match op {
        "dense" | "conv2d" | "maxpool2d" | "avgpool2d" => layers::check(case),
        "relu" | "leaky_relu" | "elu" | "gelu" | "sigmoid" | "tanh" | "softmax" | "log_softmax"
        | "batchnorm" | "rbf" => activations::check(case),
        "cross_entropy" | "mse" | "bce_with_logits" | "kl_div" | "penalty_l1_l2" => {
            losses::check(case)
        }
        "sequential" => nets::check(case),
        _ if op.starts_with("optimizer:") => optim::check(case),
        _ => Err(format!(
            "unknown op {op:?}: add a checker to dl-core/tests/golden_ops"
        )),
    }
}
