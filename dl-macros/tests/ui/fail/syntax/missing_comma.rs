use dl::prelude::*;

sequential! {
    pub struct Net: [784] -> [10] {
        Dense<128> ReLU,
        Dense<10>,
    }
}

fn main() {}
