use dl::prelude::*;
use rand::SeedableRng;

sequential! {
    pub struct Net: [3, 32, 32] -> [10] {
        Flatten,
        Dense<10>,
    }
}

fn main() {
    let mut net = Net::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    let mnist = Act::<Chw<1, 28, 28>>::zeros(4);
    let _ = net.forward(&mnist);
}
