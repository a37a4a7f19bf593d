//! Golden checks: optim (to be written).

use dl_core::testing::GoldenCase;

pub fn check(case: &GoldenCase) -> Result<(), String> {
    Err(format!("op {:?} is not implemented yet", case.op))
}
