use dl::prelude::*;

sequential! {
    pub struct Net: [1, 28, 28] -> [10] {
        Conv2d<6, 5, stride = 1, stride = 2>,
        Flatten,
        Dense<10>,
    }
}

fn main() {}
