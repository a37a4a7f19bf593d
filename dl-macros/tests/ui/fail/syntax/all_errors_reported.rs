use dl::prelude::*;

sequential! {
    // Every error of an invocation is reported, not just the first.
    pub struct Net: [784] -> [10] {
        Dense<0>,
        Relu,
        Dropout(1.5),
    }
}

fn main() {}
