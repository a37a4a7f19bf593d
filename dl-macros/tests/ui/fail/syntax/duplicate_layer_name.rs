use dl::prelude::*;

sequential! {
    pub struct Net: [784] -> [10] {
        fc: Dense<128>,
        ReLU,
        fc: Dense<10>,
    }
}

fn main() {}
