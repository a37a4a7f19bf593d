use dl::prelude::*;

sequential! {
    pub struct Net: [784] -> [10] {
        Dense<0>,
        Dense<10>,
    }
}

fn main() {}
