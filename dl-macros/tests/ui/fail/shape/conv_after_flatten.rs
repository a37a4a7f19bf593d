use dl::prelude::*;

sequential! {
    pub struct Net: [1, 28, 28] -> [10] {
        Flatten,
        Conv2d<6, 5>,
        Dense<10>,
    }
}

fn main() {}
