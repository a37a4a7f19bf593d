use dl::prelude::*;

sequential! {
    pub struct Net: [784] -> [10] {
        Dense<128>,
        Dropout(-0.1),
        Dense<10>,
    }
}

fn main() {}
