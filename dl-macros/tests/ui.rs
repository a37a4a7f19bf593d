//! Compile-fail and compile-pass tests of `sequential!`: every diagnostic with its reviewed
//! `.stderr` (categories `shape`, `syntax`, `layer`), and passing declarations covering every
//! layer kind and option.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
