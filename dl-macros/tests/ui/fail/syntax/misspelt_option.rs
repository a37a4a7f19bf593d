use dl::prelude::*;

sequential! {
    pub struct Net: [1, 28, 28] -> [10] {
        Conv2d<6, 5>,
        MaxPool2d<2, strde = 2>,
        Flatten,
        Dense<10>,
    }
}

fn main() {}
