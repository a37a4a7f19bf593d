use dl::prelude::*;

sequential! {
    pub struct Net: [3, 16, 16] -> [10] {
        Conv2d<8, 3>,
        BatchNorm1d,
        Flatten,
        Dense<10>,
    }
}

fn main() {}
