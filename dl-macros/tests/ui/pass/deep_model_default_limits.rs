//! A 64-layer model compiles with the default `recursion_limit`: the generated code is flat.
use dl::prelude::*;
use rand::SeedableRng;

sequential! {
    pub struct Deep: [8] -> [8] {
        Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU,
        Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU,
        Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU,
        Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU,
        Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU,
        Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU,
        Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU,
        Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU, Dense<8>, ReLU,
    }
}

fn main() {
    let mut net = Deep::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    assert_eq!(net.num_params(), 32 * (8 * 8 + 8));
    let x = Act::<Flat<8>>::zeros(1);
    assert_eq!(net.forward(&x).batch(), 1);
}
