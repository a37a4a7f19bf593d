//! The zoo's CIFAR LeNet-5 loads PyTorch's parameters by state-dict name and reproduces PyTorch's
//! logits (golden file `dl-core/tests/golden/net_lenet5_cifar.json`, or `$DL_GOLDEN_DIR`).

use dl_core::testing::{GOLDEN_RTOL, GoldenCase, check_close, golden_dir};
use dl_core::{Act, Model, Parameters};
use dl_zoo::lenet5::LeNet5Cifar;
use rand::SeedableRng;

#[test]
fn lenet5_cifar_gives_pytorchs_logits_from_pytorchs_parameters() {
    let case = GoldenCase::load(&golden_dir().join("net_lenet5_cifar.json")).expect("golden file");
    let mut net = LeNet5Cifar::new(&mut rand::rngs::StdRng::seed_from_u64(0));

    let mut loaded = 0;
    let mut missing = Vec::new();
    net.visit_mut(&mut |name, p| {
        let key = format!("param.{name}");
        match case.tensors.get(&key) {
            Some(t) => {
                assert_eq!(t.shape, p.shape(), "{key}");
                p.value_mut().copy_from_slice(&t.data);
                loaded += 1;
            }
            None => missing.push(key),
        }
    });
    assert!(missing.is_empty(), "not in the golden file: {missing:?}");
    let in_file = case
        .tensors
        .keys()
        .filter(|k| k.starts_with("param."))
        .count();
    assert_eq!(loaded, in_file, "every PyTorch parameter has a home");
    assert_eq!(loaded, 10);

    let x = Act::<<LeNet5Cifar as Model>::Input>::from_slice(case.t("x")).expect("whole samples");
    let logits = net.forward(&x);
    assert_eq!(logits.batch(), 2);
    check_close("logits", logits.as_slice(), case.t("logits"), GOLDEN_RTOL).unwrap();
}
