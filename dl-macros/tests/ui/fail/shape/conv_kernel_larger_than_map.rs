use dl::prelude::*;

sequential! {
    pub struct Net: [1, 8, 8] -> [10] {
        Conv2d<6, 5>,
        MaxPool2d<2>,
        Conv2d<16, 5>,
        Flatten,
        Dense<10>,
    }
}

fn main() {}
