//! Every case in the golden folder (`dl-core/tests/golden`, or `$DL_GOLDEN_DIR`) against our
//! layers, losses, optimizers and networks. An op this test does not know fails it: no silent skips.

mod golden_ops;

use dl_core::testing::{golden_dir, load_golden_dir};

#[test]
fn every_golden_case_matches_pytorch() {
    let dir = golden_dir();
    let cases =
        load_golden_dir(&dir).unwrap_or_else(|e| panic!("cannot read the golden folder: {e}"));
    assert!(!cases.is_empty(), "no golden cases in {}", dir.display());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            golden_ops::check(case)
                .err()
                .map(|e| format!("{} ({}): {e}", case.case, case.op))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
