use dl::prelude::*;

sequential! {
    pub struct Net: [1, 28, 28] -> [10] {
        Conv2d<6, 5, padding = full>,
        Flatten,
        Dense<10>,
    }
}

fn main() {}
