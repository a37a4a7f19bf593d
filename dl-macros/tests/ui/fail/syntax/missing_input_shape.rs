use dl::prelude::*;

sequential! {
    pub struct Net {
        Dense<10>,
    }
}

fn main() {}
