use dl::prelude::*;

sequential! {
    pub struct Net: [784] -> [100] {
        Dense<128>,
        ReLU,
        Dense<10>,
    }
}

fn main() {}
