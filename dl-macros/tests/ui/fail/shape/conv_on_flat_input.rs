use dl::prelude::*;

sequential! {
    pub struct Net: [784] -> [10] {
        Conv2d<6, 5>,
        Flatten,
        Dense<10>,
    }
}

fn main() {}
