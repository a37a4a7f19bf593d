//! Whole networks built with `sequential!`, checked against finite differences.

use dl_core::testing::check_layer_gradients;
use dl_core::{Model, Parameters};
use rand::SeedableRng;

dl_core::sequential! {
    /// A small MLP.
    #[derive(Clone)]
    pub struct Mlp: [6] -> [3] {
        Dense<5>,
        out: Dense<5 => 3>,
    }
}

#[test]
fn mlp_gradients_match_finite_differences() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut m = Mlp::new(&mut rng);
    assert_eq!(m.num_params(), Mlp::PARAMS);
    assert_eq!(Mlp::PARAMS, 6 * 5 + 5 + 5 * 3 + 3);
    let mut names = Vec::new();
    m.visit(&mut |n, _| names.push(n.to_string()));
    assert_eq!(names, ["0.weight", "0.bias", "out.weight", "out.bias"]);
    check_layer_gradients(&mut m, 3, &mut rng);
    println!("{}", m.summary());
}
