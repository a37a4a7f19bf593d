use dl::prelude::*;

sequential! {
    pub struct Net: [64] -> [10] {
        Dense<32>,
        BatchNorm2d,
        Dense<10>,
    }
}

fn main() {}
