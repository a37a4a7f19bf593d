use dl::prelude::*;

sequential! {
    pub struct Net: [1, 8, 8] -> [10] {
        Rbf<10>,
    }
}

fn main() {}
