use dl::prelude::*;

sequential! {
    pub struct Net: [3, 32, 32] -> [10] {
        Conv2D<6, 5>,
        Flatten,
        Dense<10>,
    }
}

fn main() {}
