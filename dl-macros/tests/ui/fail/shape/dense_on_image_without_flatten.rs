use dl::prelude::*;

sequential! {
    pub struct Net: [3, 32, 32] -> [10] {
        Conv2d<16, 5>,
        MaxPool2d<2>,
        Dense<120>,
        Dense<10>,
    }
}

fn main() {}
