use dl::prelude::*;

sequential! {
    pub struct Net: [784] -> [10] {
        Dense<10, stride = 2>,
    }
}

fn main() {}
