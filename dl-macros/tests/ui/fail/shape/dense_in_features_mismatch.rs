use dl::prelude::*;

sequential! {
    pub struct Net: [784] -> [10] {
        Dense<128>,
        Dense<64 => 10>,
    }
}

fn main() {}
