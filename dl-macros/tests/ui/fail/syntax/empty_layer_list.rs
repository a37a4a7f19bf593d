use dl::prelude::*;

sequential! {
    pub struct Net: [784] -> [10] {}
}

fn main() {}
