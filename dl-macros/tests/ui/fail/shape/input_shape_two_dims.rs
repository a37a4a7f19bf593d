use dl::prelude::*;

sequential! {
    pub struct Net: [28, 28] -> [10] {
        Flatten,
        Dense<10>,
    }
}

fn main() {}
